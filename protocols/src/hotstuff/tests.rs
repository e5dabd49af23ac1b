//! Unit tests of the safety rules (commit rule, safeNode), certificate
//! checks and the pacemaker's back-off.

use super::messages::{vote_bytes, Block, BlockHash, Qc, Signed, GENESIS};
use super::pacemaker::Pacemaker;
use super::quorum::QcVerifier;
use super::tree::BlockTree;
use crate::auth::{AuthMode, Keyring};
use std::time::Duration;

/// A certificate of `block` in `view` by replicas 0, 1 and 2 (unsigned).
fn qc(view: u64, block: BlockHash) -> Qc {
    let votes = (0..3)
        .map(|signer| Signed {
            signer,
            sig: Vec::new(),
        })
        .collect();
    Qc { view, block, votes }
}

/// Adds a block in `view` on top of `parent` (certified in `parent_view`).
fn child(tree: &mut BlockTree, parent: BlockHash, parent_view: u64, view: u64) -> BlockHash {
    let height = tree.get(&parent).map_or(0, |b| b.height) + 1;
    let block = Block {
        view,
        height,
        parent,
        justify: if parent == GENESIS {
            Qc::genesis()
        } else {
            qc(parent_view, parent)
        },
        batch: Vec::new(),
    };
    tree.insert(block).expect("well formed")
}

#[test]
fn three_consecutive_views_commit_the_first_block() {
    let mut tree = BlockTree::new();
    let b1 = child(&mut tree, GENESIS, 0, 1);
    let b2 = child(&mut tree, b1, 1, 2);
    let b3 = child(&mut tree, b2, 2, 3);
    let out = tree.observe(&qc(3, b3), false);
    assert!(out.locked);
    assert_eq!(tree.locked, qc(2, b2));
    assert_eq!(out.commit, Some(b1));
    assert_eq!(tree.chain_to(&b1), vec![b1]);
    // The broken variant commits one block later in the chain.
    let mut broken = tree.clone();
    assert_eq!(broken.observe(&qc(3, b3), true).commit, Some(b2));
}

#[test]
fn a_gap_in_views_commits_nothing() {
    let mut tree = BlockTree::new();
    let b1 = child(&mut tree, GENESIS, 0, 1);
    let b2 = child(&mut tree, b1, 1, 3);
    let b3 = child(&mut tree, b2, 3, 4);
    let out = tree.observe(&qc(4, b3), false);
    assert_eq!(out.commit, None);
    assert_eq!(tree.high_qc.view, 4);
    // The next consecutive certificate commits b2 and, with it, b1.
    let b4 = child(&mut tree, b3, 4, 5);
    assert_eq!(tree.observe(&qc(5, b4), false).commit, Some(b2));
    assert_eq!(tree.chain_to(&b2), vec![b1, b2]);
}

#[test]
fn safe_node_extends_the_lock_or_carries_a_later_certificate() {
    let mut tree = BlockTree::new();
    let b1 = child(&mut tree, GENESIS, 0, 1);
    let b2 = child(&mut tree, b1, 1, 2);
    let b3 = child(&mut tree, b2, 2, 3);
    tree.observe(&qc(3, b3), false);
    assert_eq!(tree.locked.block, b2);
    let on_b3 = Block {
        view: 4,
        height: 4,
        parent: b3,
        justify: qc(3, b3),
        batch: Vec::new(),
    };
    assert!(tree.safe_node(&on_b3));
    // A fork from b1 (below the lock) with b1's old certificate: unsafe.
    let fork = Block {
        view: 4,
        height: 2,
        parent: b1,
        justify: qc(1, b1),
        batch: Vec::new(),
    };
    assert!(!tree.safe_node(&fork));
    // A conflicting branch certified in a later view than the lock: the
    // quorum moved on, so voting for it is safe (liveness rule).
    let x = child(&mut tree, b1, 1, 5);
    let over_x = Block {
        view: 6,
        height: 3,
        parent: x,
        justify: qc(5, x),
        batch: Vec::new(),
    };
    assert!(tree.safe_node(&over_x));
    // A malformed block (certificate of another block) is refused.
    let bad = Block {
        justify: qc(1, b1),
        ..over_x
    };
    assert_eq!(tree.insert(bad), None);
}

fn signed_qc(view: u64, block: BlockHash, signers: &[u32]) -> Qc {
    let votes = signers
        .iter()
        .map(|&signer| Signed {
            signer,
            sig: Keyring::new(AuthMode::Signatures, 9, 4, signer).sign(&vote_bytes(view, &block)),
        })
        .collect();
    Qc { view, block, votes }
}

#[test]
fn certificates_are_checked() {
    let keys = Keyring::new(AuthMode::Signatures, 9, 4, 3);
    let block = [7u8; 32];
    let good = signed_qc(5, block, &[0, 1, 2]);
    assert!(QcVerifier::new(keys.clone(), 4, 3).check(&good));
    let v = || QcVerifier::new(keys.clone(), 4, 3);
    // Too few signers.
    assert!(!v().check(&signed_qc(5, block, &[0, 1])));
    // A signer twice.
    let mut dup = good.clone();
    dup.votes[2] = dup.votes[1].clone();
    assert!(!v().check(&dup));
    // A bad signature (replica 2's vote for another view).
    let mut forged = good.clone();
    forged.votes[2] = signed_qc(4, block, &[2]).votes[0].clone();
    assert!(!v().check(&forged));
    // A signer outside the cluster.
    assert!(!v().check(&signed_qc(5, block, &[0, 1, 7])));
    // A certificate for another block than the one signed.
    let moved = Qc {
        block: [8u8; 32],
        ..good.clone()
    };
    assert!(!v().check(&moved));
    // Only the genesis certificate may have view 0.
    assert!(v().check(&Qc::genesis()));
    assert!(!v().check(&Qc {
        view: 0,
        ..good.clone()
    }));
    // Without signatures the list of voters is trusted, but still counted.
    let trusting = || QcVerifier::new(Keyring::new(AuthMode::None, 9, 4, 3), 4, 3);
    assert!(trusting().check(&forged));
    assert!(!trusting().check(&dup));
}

#[test]
fn the_view_timeout_backs_off_exponentially_and_resets_on_progress() {
    let base = Duration::from_millis(100);
    let mut p = Pacemaker::new(base);
    assert_eq!(p.timeout(0), base);
    assert_eq!(p.timed_out(), 2);
    assert_eq!(p.timeout(0), base * 2);
    p.timed_out();
    assert_eq!(p.timeout(0), base * 4);
    for _ in 0..10 {
        p.timed_out();
    }
    assert_eq!(p.timeout(0), base * 8, "capped");
    p.progress();
    assert_eq!(p.timeout(0), base);
    // A leader this replica gave up on twice gets a sixteenth, until
    // heard from.
    p.suspect(1);
    assert_eq!(p.timeout(1), base);
    p.suspect(1);
    assert_eq!((p.timeout(1), p.timeout(2)), (base / 16, base));
    p.trust(1);
    assert_eq!(p.timeout(1), base);
    // Only after a commit: with a back-off it waits as long as the rest.
    p.suspect(1);
    p.suspect(1);
    p.timed_out();
    assert_eq!(p.timeout(1), base * 2);
    p.progress();
    // f + 1 = 2 timeouts for later views move the replica up to the
    // highest view both want.
    let view = p.view;
    assert_eq!(p.wish(1, view + 5, 2), None);
    assert_eq!(p.wish(2, view + 3, 2), Some(view + 3));
    assert!(p.advance(view + 3));
    assert!(!p.advance(view + 1));
}

#[test]
fn mac_authentication_is_refused_in_the_configuration() {
    use super::config::HotstuffConfig;
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;
    let read = |auth: &'static str| {
        let fields = vec![("auth", auth)].into_iter();
        HotstuffConfig::deserialize(MapDeserializer::<_, Error>::new(fields))
    };
    let signed = read("signatures").expect("signatures are accepted");
    assert_eq!(signed.auth, AuthMode::Signatures);
    let err = read("mac").expect_err("mac is refused").to_string();
    assert!(err.contains("does not support auth: mac"), "{err}");
}
