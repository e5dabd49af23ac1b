//! Unit tests of the Dynamo store, driving the sans-IO core through the
//! hand-wired [`Net`] of `test_pump` (no simulator).

use super::test_pump::Net;
use super::*;
use crate::client::ClientLogic;
use crate::kv::Command;
use crate::vclock::Causality;
use bytes::Bytes;
use rand::SeedableRng;
use std::time::Duration;

fn values(r: &Response) -> Vec<String> {
    match r {
        Response::Siblings { values, .. } => values
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect(),
        other => panic!("not siblings: {other:?}"),
    }
}

fn context(r: &Response) -> VersionVector {
    match r {
        Response::Siblings { context, .. } | Response::Stored { context } => context.clone(),
        other => panic!("no context: {other:?}"),
    }
}

/// A key whose preference list (on `net`) leaves out `node`.
fn key_without(net: &Net, node: NodeId) -> Key {
    (0..1000)
        .find(|&k| !net.nodes[0].preference_list(k).contains(&node))
        .expect("some key avoids the node")
}

#[test]
fn a_put_is_acknowledged_after_w_durable_acks() {
    let mut net = Net::new(5, DynamoConfig::default());
    let key = key_without(&net, 0);
    let pref = net.nodes[0].preference_list(key);
    let id = net.put(0, key, "a", None);
    assert!(net.answer(id).is_none());
    // One replica's ack is not enough for W = 2.
    net.deliver_only(|_, to| to == pref[0]);
    net.deliver_only(|_, to| to == 0);
    assert!(net.answer(id).is_none(), "answered after one ack");
    // The second replica persists, but its ack waits for the disk.
    net.hold_disk.insert(pref[1]);
    net.deliver_only(|_, to| to == pref[1]);
    let acks_from = |net: &Net, node: NodeId| {
        net.queue
            .iter()
            .filter(|(from, _, m)| *from == node && matches!(m, DynamoMessage::Stored { .. }))
            .count()
    };
    assert_eq!(
        acks_from(&net, pref[1]),
        0,
        "ack before the version is durable"
    );
    net.flush(pref[1]);
    assert_eq!(acks_from(&net, pref[1]), 1);
    net.deliver_only(|_, to| to == 0);
    let clock = context(&net.response(id));
    assert_eq!(clock.get(&actor_id(0, 1)), 1);
    assert_eq!(clock.total(), 1);
    for &r in &pref[..2] {
        assert_eq!(net.nodes[r as usize].stored(key).len(), 1);
    }
}

#[test]
fn concurrent_puts_become_siblings_and_a_put_with_the_context_resolves_them() {
    let mut net = Net::new(3, DynamoConfig::default());
    let (a, b) = (net.put(0, 7, "a", None), net.put(1, 7, "b", None));
    net.deliver_all();
    let (ca, cb) = (context(&net.response(a)), context(&net.response(b)));
    assert_eq!(ca.compare(&cb), Causality::Concurrent);
    let g = net.get(2, 7);
    net.deliver_all();
    let read = net.response(g);
    let mut vs = values(&read);
    vs.sort();
    assert_eq!(vs, vec!["a", "b"]);
    assert_eq!(context(&read), ca.merged(&cb));
    // The client resolves the siblings by writing with the context it read.
    let c = net.put(2, 7, "c", Some(context(&read)));
    net.deliver_all();
    let cc = context(&net.response(c));
    assert!(cc.dominates(&ca) && cc.dominates(&cb));
    let g = net.get(0, 7);
    net.deliver_all();
    let read = net.response(g);
    assert_eq!(values(&read), vec!["c"]);
    assert_eq!(context(&read), cc);
    for node in &net.nodes {
        assert_eq!(node.stored(7).len(), 1, "dominated versions dropped");
    }
}

#[test]
fn a_get_of_an_absent_key_and_puts_through_one_coordinator() {
    let mut net = Net::new(3, DynamoConfig::default());
    let g = net.get(1, 3);
    net.deliver_all();
    assert_eq!(
        net.response(g),
        Response::Siblings {
            values: vec![],
            context: VersionVector::new()
        }
    );
    // Two blind puts through the same coordinator are ordered by it.
    let first = net.put(1, 3, "x", None);
    let second = net.put(1, 3, "y", None);
    net.deliver_all();
    assert!(context(&net.response(second)).dominates(&context(&net.response(first))));
    let g = net.get(2, 3);
    net.deliver_all();
    assert_eq!(values(&net.response(g)), vec!["y"]);
}

#[test]
fn read_repair_updates_a_stale_replica() {
    let mut net = Net::new(3, DynamoConfig::default());
    net.down.insert(2);
    let p = net.put(0, 5, "v", None);
    net.deliver_all();
    let clock = context(&net.response(p));
    assert!(net.nodes[2].stored(5).is_empty());
    net.down.clear();
    let g = net.get(0, 5);
    net.deliver_all();
    assert_eq!(values(&net.response(g)), vec!["v"]);
    assert!(net.nodes[2].covers(5, &clock), "stale replica repaired");
    assert_eq!(net.nodes[0].in_flight(), 0);
    assert!(net.durable[2]
        .iter()
        .any(|r| matches!(r, DynamoRecord::Stored { key: 5, .. })));
}

#[test]
fn without_read_repair_the_stale_replica_stays_stale() {
    let config = DynamoConfig {
        read_repair: false,
        ..DynamoConfig::default()
    };
    let mut net = Net::new(3, config);
    net.down.insert(2);
    let p = net.put(0, 5, "v", None);
    net.deliver_all();
    net.response(p);
    net.down.clear();
    let g = net.get(0, 5);
    net.deliver_all();
    assert_eq!(values(&net.response(g)), vec!["v"]);
    assert!(net.nodes[2].stored(5).is_empty());
}

#[test]
fn strict_quorum_fails_when_owners_are_unreachable() {
    let mut net = Net::new(5, DynamoConfig::default());
    let key = key_without(&net, 0);
    let pref = net.nodes[0].preference_list(key);
    net.down.extend([pref[1], pref[2]]);
    let id = net.put(0, key, "v", None);
    net.advance(Duration::from_secs(1));
    assert_eq!(net.answer(id), Some(&ReplyBody::Unavailable));
    assert_eq!(net.nodes[0].in_flight(), 0);
}

#[test]
fn sloppy_quorum_writes_to_stand_ins_that_hand_off_to_the_recovered_owners() {
    let config = DynamoConfig {
        sloppy_quorum: true,
        ..DynamoConfig::default()
    };
    let mut net = Net::new(5, config);
    let key = key_without(&net, 0);
    let walk = ring::Ring::new(0..5, net.config.virtual_nodes).walk(key);
    let (pref, fallbacks) = walk.split_at(3);
    net.down.extend([pref[1], pref[2]]);
    let id = net.put(0, key, "v", None);
    net.advance(Duration::from_millis(60));
    let clock = context(&net.response(id));
    // Both stand-ins hold a hint for the owner they replace.
    let holders: Vec<NodeId> = fallbacks
        .iter()
        .copied()
        .filter(|&f| net.nodes[f as usize].pending_hints() > 0)
        .collect();
    assert_eq!(holders.len(), 2, "{holders:?}");
    for &h in &holders {
        assert!(net.nodes[h as usize].covers(key, &clock));
    }
    // A sloppy read finds the value on the stand-ins while owners are away.
    let g = net.get(0, key);
    net.advance(Duration::from_millis(60));
    assert_eq!(values(&net.response(g)), vec!["v"]);
    // Owners come back; the next hand-off round delivers and clears hints.
    net.down.clear();
    net.advance(Duration::from_millis(250));
    for &owner in &pref[1..] {
        assert!(net.nodes[owner as usize].covers(key, &clock), "{owner}");
        assert!(!net.nodes[owner as usize].stored(key).is_empty());
    }
    for &h in &holders {
        assert_eq!(net.nodes[h as usize].pending_hints(), 0);
        assert!(net.durable[h as usize]
            .iter()
            .any(|r| matches!(r, DynamoRecord::HintDelivered { .. })));
        // A restart does not bring delivered hints back.
        net.restart(h);
        assert_eq!(net.nodes[h as usize].pending_hints(), 0);
    }
}

#[test]
fn recovery_rebuilds_from_any_prefix_of_the_records() {
    let mut net = Net::new(3, DynamoConfig::default());
    let a = net.put(0, 1, "a", None);
    let b = net.put(1, 1, "b", None);
    net.deliver_all();
    let ctx = context(&net.response(a)).merged(&context(&net.response(b)));
    net.put(2, 1, "c", Some(ctx));
    net.put(2, 2, "d", None);
    net.deliver_all();
    let records = net.durable[0].clone();
    let cluster = Cluster::new(3);
    for cut in 0..=records.len() {
        let prefix = records[..cut].to_vec();
        let node = Dynamo::recover(0, &cluster, &net.config, prefix.clone());
        for key in [1, 2] {
            let expected = SiblingSet::from_versions(prefix.iter().filter_map(|r| match r {
                DynamoRecord::Stored { key: k, version } if *k == key => Some(version),
                _ => None,
            }));
            assert_eq!(node.stored(key), expected.versions(), "prefix {cut}");
        }
    }
    let before: Vec<Version> = net.nodes[0].stored(1).to_vec();
    net.restart(0);
    assert_eq!(net.nodes[0].stored(1), &before[..]);
    let g = net.get(0, 1);
    net.deliver_all();
    assert_eq!(values(&net.response(g)), vec!["c"]);
    // The restarted coordinator is a new actor: its clocks never collide
    // with those of its previous incarnation.
    let p = net.put(0, 2, "e", None);
    net.deliver_all();
    assert_eq!(context(&net.response(p)).get(&actor_id(0, 2)), 1);
}

#[test]
fn duplicated_and_reordered_messages_change_nothing() {
    let mut net = Net::new(3, DynamoConfig::default());
    let p = net.put(0, 9, "a", None);
    let q = net.put(1, 9, "b", None);
    // Deliver everything twice, newest first.
    while !net.queue.is_empty() {
        let mut batch: Vec<_> = net.queue.drain(..).collect();
        batch.reverse();
        for (from, to, msg) in batch {
            for _ in 0..2 {
                let m = msg.clone();
                net.step(to, |d, ctx| d.on_message(ctx, from, m));
            }
        }
    }
    net.response(p);
    net.response(q);
    for node in &net.nodes {
        assert_eq!(node.stored(9).len(), 2);
    }
    let stored = net.durable[2]
        .iter()
        .filter(|r| matches!(r, DynamoRecord::Stored { .. }))
        .count();
    assert_eq!(stored, 2, "a duplicate is not persisted again");
}

#[test]
fn compare_and_set_is_rejected_and_retries_are_answered_from_the_session() {
    let mut net = Net::new(3, DynamoConfig::default());
    let cas = Command::Cas {
        key: 1,
        expected_version: 0,
        value: Bytes::from("x"),
    };
    let id = net.request(0, cas, None);
    assert!(matches!(net.answer(id), Some(ReplyBody::Rejected { .. })));
    let p = net.put(0, 1, "v", None);
    net.deliver_all();
    let first = net.response(p);
    let retry = ClientRequest {
        id: p,
        command: Command::Put {
            key: 1,
            value: Bytes::from("v"),
        },
        context: None,
        auth: Vec::new(),
    };
    net.replies.clear();
    net.step(0, |d, ctx| d.on_client_request(ctx, retry));
    assert_eq!(net.response(p), first);
    assert!(net.queue.is_empty(), "a retry does not write again");
}

#[test]
fn config_validation_and_consistency_flag() {
    let default = DynamoConfig::default();
    assert_eq!(default.validate(), Ok(()));
    assert!(default.strongly_consistent());
    let weak = DynamoConfig {
        r: 1,
        w: 1,
        ..DynamoConfig::default()
    };
    assert!(!weak.strongly_consistent());
    let sloppy = DynamoConfig {
        sloppy_quorum: true,
        ..DynamoConfig::default()
    };
    assert!(!sloppy.strongly_consistent());
    let bad = DynamoConfig {
        w: 4,
        ..DynamoConfig::default()
    };
    assert_eq!(
        bad.validate(),
        Err(DynamoConfigError::WriteQuorum { w: 4, n: 3 })
    );
    // On a cluster of 2, N shrinks to 2 and R + W still exceeds it.
    assert!(Dynamo::strongly_consistent(&Cluster::new(2), &default));
    assert_eq!(default.effective(2).n, 2);
}

#[test]
fn the_client_attaches_the_context_it_last_saw() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut client = DynamoClient::new(3, 1);
    let rid = |seq| RequestId { client: 1, seq };
    let mut get = ClientRequest::new(rid(1), Command::Get { key: 4 });
    client.prepare(&mut get);
    let to = client.route(&get, &mut rng);
    let ctx: VersionVector = [(actor_id(0, 1), 2), (actor_id(1, 1), 1)]
        .into_iter()
        .collect();
    let reply = ClientReply {
        id: rid(1),
        from: to[0],
        body: ReplyBody::Done(Response::Siblings {
            values: vec![Bytes::from("a"), Bytes::from("b")],
            context: ctx.clone(),
        }),
    };
    assert!(matches!(
        client.on_reply(&reply, &mut rng),
        crate::client::ClientStep::Final(_)
    ));
    client.finish(rid(1));
    let mut put = ClientRequest::new(
        rid(2),
        Command::Put {
            key: 4,
            value: Bytes::from("c"),
        },
    );
    client.prepare(&mut put);
    assert_eq!(put.context, Some(ctx));
    let mut other = ClientRequest::new(
        rid(3),
        Command::Put {
            key: 5,
            value: Bytes::from("d"),
        },
    );
    client.prepare(&mut other);
    assert_eq!(other.context, None);
}
