//! Unit tests of the view-change decision.

use super::messages::{batch_digest, PrePreparedEntry, PreparedEntry, ViewChange, GENESIS};
use super::view_change::decide;
use crate::client::ClientRequest;
use crate::kv::Command;
use crate::types::{NodeId, RequestId};
use std::collections::BTreeMap;

fn req(seq: u64) -> ClientRequest {
    ClientRequest::new(RequestId { client: 1, seq }, Command::Get { key: 1 })
}

fn vc(view: u64, prepared: &[(u64, u64, Vec<ClientRequest>)]) -> ViewChange {
    ViewChange {
        view,
        stable: 0,
        checkpoints: Vec::new(),
        prepared: prepared
            .iter()
            .map(|(seq, v, b)| PreparedEntry {
                seq: *seq,
                view: *v,
                digest: batch_digest(b),
                batch: b.clone(),
                cert: Default::default(),
            })
            .collect(),
        preprepared: prepared
            .iter()
            .map(|(seq, v, b)| PrePreparedEntry {
                seq: *seq,
                digest: batch_digest(b),
                view: *v,
            })
            .collect(),
    }
}

fn set(vcs: Vec<(NodeId, ViewChange)>) -> BTreeMap<NodeId, ViewChange> {
    vcs.into_iter().collect()
}

#[test]
fn a_prepared_batch_is_carried_into_the_new_view() {
    let b = vec![req(1)];
    let vcs = set(vec![
        (1, vc(1, &[(1, 0, b.clone())])),
        (2, vc(1, &[(1, 0, b.clone())])),
        (3, vc(1, &[])),
    ]);
    let d = decide(&vcs, 1, 3, 128).expect("decided");
    assert_eq!((d.h, d.h_digest), (0, GENESIS));
    assert_eq!(d.slots, vec![(1, b)]);
}

#[test]
fn a_lone_fake_claim_neither_wins_nor_erases() {
    let b = vec![req(1)];
    let fake: Vec<ClientRequest> = vec![req(2)];
    // Replica 3 claims another batch prepared in a later view; nobody
    // correct pre-prepared it, so A2 fails; with only three view changes
    // the decision must wait rather than pick a null.
    let three = set(vec![
        (1, vc(2, &[(1, 0, b.clone())])),
        (2, vc(2, &[(1, 0, b.clone())])),
        (3, vc(2, &[(1, 1, fake.clone())])),
    ]);
    assert_eq!(decide(&three, 1, 3, 128), None);
    let mut four = three;
    four.insert(0, vc(2, &[]));
    let d = decide(&four, 1, 3, 128).expect("decided with four");
    assert_eq!(d.slots, vec![(1, b)]);
}

#[test]
fn nothing_prepared_gives_null_batches() {
    let b = vec![req(1)];
    let mut only_q = vc(1, &[]);
    only_q.preprepared.push(PrePreparedEntry {
        seq: 2,
        digest: batch_digest(&b),
        view: 0,
    });
    let vcs = set(vec![(0, only_q), (1, vc(1, &[])), (2, vc(1, &[]))]);
    let d = decide(&vcs, 1, 3, 128).expect("decided");
    assert_eq!(d.slots, vec![(1, vec![]), (2, vec![])]);
}

#[test]
fn every_authentication_mode_is_read_from_the_configuration() {
    use super::config::PbftConfig;
    use crate::auth::AuthMode;
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;
    let read = |auth: &'static str| {
        let fields = vec![("auth", auth)].into_iter();
        PbftConfig::deserialize(MapDeserializer::<_, Error>::new(fields))
    };
    assert_eq!(PbftConfig::default().auth, AuthMode::None);
    for (name, mode) in [
        ("none", AuthMode::None),
        ("mac", AuthMode::Mac),
        ("signatures", AuthMode::Signatures),
    ] {
        assert_eq!(read(name).expect(name).auth, mode);
    }
    assert!(read("rsa").is_err());
}
