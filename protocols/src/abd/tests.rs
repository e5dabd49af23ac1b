//! Unit tests of ABD with a tiny deterministic driver that enforces the
//! persist-before-send rule with the real [`SendGate`], and a property test
//! that random input never panics.

use super::*;
use crate::client::{ClientReply, ReplyBody};
use crate::core::{Action, ActionOf};
use crate::gate::SendGate;
use crate::kv::{Command, Response};
use crate::types::{RequestId, Time};
use bytes::Bytes;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

enum Out {
    Send(NodeId, AbdMessage),
    Broadcast(AbdMessage),
    Reply(ClientReply),
}

/// Messages are queued and delivered when a test asks; persists become
/// durable at once unless `manual_flush` holds them.
struct Net {
    nodes: Vec<Abd>,
    gates: Vec<SendGate<Out>>,
    pending: Vec<Vec<AbdRecord>>,
    durable: Vec<Vec<AbdRecord>>,
    last_issued: Vec<u64>,
    queue: VecDeque<(NodeId, NodeId, AbdMessage)>,
    replies: Vec<ClientReply>,
    cut: BTreeSet<NodeId>,
    manual_flush: BTreeSet<NodeId>,
    timers: Vec<(NodeId, AbdTimer)>,
    rng: ChaCha8Rng,
    config: AbdConfig,
}

impl Net {
    fn new(n: u32) -> Net {
        Net::with_config(n, AbdConfig::default())
    }

    fn with_config(n: u32, config: AbdConfig) -> Net {
        let mut net = Net {
            nodes: Vec::new(),
            gates: (0..n).map(|_| SendGate::new()).collect(),
            pending: vec![Vec::new(); n as usize],
            durable: vec![Vec::new(); n as usize],
            last_issued: vec![0; n as usize],
            queue: VecDeque::new(),
            replies: Vec::new(),
            cut: BTreeSet::new(),
            manual_flush: BTreeSet::new(),
            timers: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(7),
            config,
        };
        let cluster = Cluster::new(n);
        for i in 0..n {
            net.nodes
                .push(Abd::recover(i, &cluster, &net.config, Vec::new()));
            net.step(i, |a, ctx| a.start(ctx));
        }
        net
    }

    fn size(&self) -> u32 {
        self.nodes.len() as u32
    }

    fn step(&mut self, node: NodeId, f: impl FnOnce(&mut Abd, &mut Ctx<'_, Abd>)) {
        let mut out: Vec<ActionOf<Abd>> = Vec::new();
        {
            let mut ctx = Ctx::new(Time::ZERO, &mut self.rng, &mut out);
            f(&mut self.nodes[node as usize], &mut ctx);
        }
        let i = node as usize;
        for a in out {
            let o = match a {
                Action::Send { to, msg } => Out::Send(to, msg),
                Action::Broadcast { msg } => Out::Broadcast(msg),
                Action::Reply { reply, .. } => Out::Reply(reply),
                Action::Persist { seq, record } => {
                    self.gates[i].persist_issued(seq).expect("persist order");
                    self.pending[i].push(record);
                    self.last_issued[i] = seq;
                    continue;
                }
                Action::SetTimer { timer, .. } => {
                    self.timers.push((node, timer));
                    continue;
                }
                _ => continue,
            };
            if let Some(o) = self.gates[i].submit(o) {
                self.dispatch(node, o);
            }
        }
        if !self.manual_flush.contains(&node) && !self.pending[i].is_empty() {
            self.flush(node);
        }
    }

    fn dispatch(&mut self, from: NodeId, o: Out) {
        match o {
            Out::Send(to, msg) => self.queue.push_back((from, to, msg)),
            Out::Broadcast(msg) => {
                for to in 0..self.size() {
                    if to != from {
                        self.queue.push_back((from, to, msg.clone()));
                    }
                }
            }
            Out::Reply(r) => self.replies.push(r),
        }
    }

    /// Makes everything `node` persisted durable.
    fn flush(&mut self, node: NodeId) {
        let i = node as usize;
        let upto = self.last_issued[i];
        let records = std::mem::take(&mut self.pending[i]);
        self.durable[i].extend(records);
        if let Some(released) = self.gates[i].durable(upto) {
            for o in released {
                self.dispatch(node, o);
            }
            self.step(node, |a, ctx| a.on_persisted(ctx, upto));
        }
    }

    /// Loses `node`'s volatile state and restarts it from durable records.
    fn crash_restart(&mut self, node: NodeId) {
        let i = node as usize;
        self.pending[i].clear();
        self.gates[i].reset();
        self.last_issued[i] = 0;
        self.queue.retain(|(from, _, _)| *from != node);
        let cluster = Cluster::new(self.size());
        self.nodes[i] = Abd::recover(node, &cluster, &self.config, self.durable[i].clone());
        self.step(node, |a, ctx| a.start(ctx));
    }

    fn deliver_all(&mut self) {
        self.deliver_except(|_, _, _| false);
    }

    /// Delivers everything queued (and what that sends) except the
    /// messages `lost` picks and those across the cut.
    fn deliver_except(&mut self, lost: impl Fn(NodeId, NodeId, &AbdMessage) -> bool) {
        let mut budget = 100_000;
        while let Some((from, to, msg)) = self.queue.pop_front() {
            budget -= 1;
            assert!(budget > 0, "message storm");
            if self.cut.contains(&from) || self.cut.contains(&to) || lost(from, to, &msg) {
                continue;
            }
            self.step(to, |a, ctx| a.on_message(ctx, from, msg));
        }
    }

    fn request(&mut self, node: NodeId, client: u64, seq: u64, command: Command) {
        let request = ClientRequest {
            id: RequestId { client, seq },
            command,
            context: None,
            auth: Vec::new(),
        };
        self.step(node, |a, ctx| a.on_client_request(ctx, request));
    }

    fn fire_retries(&mut self, node: NodeId) {
        let timers: Vec<AbdTimer> = self
            .timers
            .iter()
            .filter(|(n, _)| *n == node)
            .map(|(_, t)| t.clone())
            .collect();
        self.timers.retain(|(n, _)| *n != node);
        for t in timers {
            self.step(node, |a, ctx| a.on_timer(ctx, t));
        }
    }

    fn last_reply(&self) -> Option<&ReplyBody> {
        self.replies.last().map(|r| &r.body)
    }
}

fn put(key: u64, v: &'static str) -> Command {
    Command::Put {
        key,
        value: Bytes::from(v),
    }
}

fn get(key: u64) -> Command {
    Command::Get { key }
}

fn value(v: &'static str, version: u64) -> ReplyBody {
    ReplyBody::Done(Response::Value {
        value: Some(Bytes::from(v)),
        version,
    })
}

#[test]
fn writes_and_reads_through_different_coordinators() {
    let mut net = Net::new(3);
    net.request(0, 1, 1, get(5));
    net.deliver_all();
    assert_eq!(
        net.last_reply(),
        Some(&ReplyBody::Done(Response::Value {
            value: None,
            version: 0
        }))
    );
    net.request(0, 1, 2, put(5, "a"));
    net.deliver_all();
    assert_eq!(
        net.last_reply(),
        Some(&ReplyBody::Done(Response::Written { version: 1 }))
    );
    net.request(2, 2, 1, get(5));
    net.deliver_all();
    assert_eq!(net.last_reply(), Some(&value("a", 1)));
    net.request(1, 2, 2, put(5, "b"));
    net.deliver_all();
    assert_eq!(
        net.last_reply(),
        Some(&ReplyBody::Done(Response::Written { version: 2 }))
    );
    assert_eq!(net.nodes[0].tag_of(5), Tag { seq: 2, node: 1 });
    assert_eq!(net.nodes[0].held_version(5), Some(2));
    assert_eq!(net.nodes[0].held_version(6), Some(0));
    assert!(net.nodes.iter().all(|n| n.operations_in_flight() == 0));
}

#[test]
fn compare_and_set_is_rejected() {
    let mut net = Net::new(3);
    let cas = Command::Cas {
        key: 1,
        expected_version: 0,
        value: Bytes::from("x"),
    };
    net.request(1, 1, 1, cas);
    assert!(matches!(
        net.last_reply(),
        Some(ReplyBody::Rejected { reason }) if reason.contains("compare-and-set")
    ));
    assert!(net.queue.is_empty());
    assert_eq!(net.nodes[1].operations_in_flight(), 0);
}

#[test]
fn a_store_is_acknowledged_only_once_durable() {
    let mut net = Net::new(3);
    net.cut.insert(2);
    net.manual_flush.insert(1);
    net.request(0, 1, 1, put(1, "a"));
    net.deliver_all();
    // Node 1 stored the value but it is not durable: no ack, no reply.
    assert!(net.replies.is_empty());
    assert_eq!(net.nodes[0].operations_in_flight(), 1);
    net.flush(1);
    net.deliver_all();
    assert_eq!(
        net.last_reply(),
        Some(&ReplyBody::Done(Response::Written { version: 1 }))
    );
}

#[test]
fn retries_are_deduplicated_and_answered_from_the_session() {
    let mut net = Net::new(3);
    net.request(0, 9, 1, put(1, "a"));
    net.request(0, 9, 1, put(1, "a"));
    assert_eq!(net.nodes[0].operations_in_flight(), 1);
    net.deliver_all();
    assert_eq!(net.replies.len(), 1);
    net.request(0, 9, 1, put(1, "a"));
    assert_eq!(net.replies.len(), 2);
    assert_eq!(net.replies[0], net.replies[1]);
    assert!(net.queue.is_empty(), "a finished request is not re-run");
    // An older request of the same client is ignored.
    net.request(0, 9, 2, get(1));
    net.deliver_all();
    net.request(0, 9, 1, put(1, "zzz"));
    net.deliver_all();
    assert_eq!(net.replies.len(), 3);
    assert_eq!(net.nodes[1].tag_of(1).seq, 1);
}

#[test]
fn lost_messages_are_resent_on_the_retry_timer() {
    let mut net = Net::new(3);
    net.request(0, 1, 1, put(1, "a"));
    net.queue.clear();
    // The query goes again; its stores are lost.
    net.fire_retries(0);
    net.deliver_except(|_, _, m| matches!(m, AbdMessage::Store { .. }));
    assert!(net.replies.is_empty());
    assert_eq!(net.nodes[0].operations_in_flight(), 1);
    net.fire_retries(0);
    net.deliver_all();
    assert_eq!(
        net.last_reply(),
        Some(&ReplyBody::Done(Response::Written { version: 1 }))
    );
}

#[test]
fn a_read_writes_back_a_partly_stored_value() {
    let mut net = Net::new(5);
    // A write's stores reach only its coordinator and node 1.
    net.request(0, 1, 1, put(7, "a"));
    net.deliver_except(|_, to, m| to >= 2 && matches!(m, AbdMessage::Store { .. }));
    assert!(net.replies.is_empty());
    // Node 0 goes away; a read at node 1 sees the value and writes it back.
    net.cut.clear();
    net.cut.insert(0);
    net.request(1, 2, 1, get(7));
    net.deliver_all();
    assert_eq!(net.last_reply(), Some(&value("a", 1)));
    let holders = (1..5).filter(|&n| net.nodes[n].tag_of(7).seq == 1).count();
    assert!(holders >= 3, "written back to a majority: {holders}");
}

#[test]
fn fast_path_reads_skip_the_write_back_only_when_a_majority_holds_the_value() {
    let mut net = Net::new(3);
    net.request(0, 1, 1, put(1, "a"));
    net.deliver_all();
    let sent_before = net.replies.len();
    net.request(1, 2, 1, get(1));
    // Query to two peers, nothing else: the replies complete the read.
    assert_eq!(net.queue.len(), 2);
    net.deliver_all();
    assert_eq!(net.replies.len(), sent_before + 1);
    assert!(net.queue.is_empty());
    // Without the fast path the read always writes back.
    let config = AbdConfig {
        read_fast_path: false,
        ..AbdConfig::default()
    };
    let mut net = Net::with_config(3, config);
    net.request(0, 1, 1, put(1, "a"));
    net.deliver_all();
    net.request(1, 2, 1, get(1));
    let (from, to, msg) = net.queue.pop_front().unwrap();
    net.step(to, |a, ctx| a.on_message(ctx, from, msg));
    // Node 0's reply arrives: quorum of {1, 0}; a store follows.
    let (from, to, msg) = net.queue.pop_back().unwrap();
    assert!(matches!(msg, AbdMessage::QueryReply { .. }));
    net.step(to, |a, ctx| a.on_message(ctx, from, msg));
    assert!(net
        .queue
        .iter()
        .any(|(_, _, m)| matches!(m, AbdMessage::Store { .. })));
}

#[test]
fn a_restarted_coordinator_ignores_replies_of_its_former_life_and_tags_higher() {
    let mut net = Net::new(3);
    net.request(0, 1, 1, put(1, "a"));
    net.deliver_all();
    // A write whose query replies are still in flight when node 0 crashes.
    net.request(0, 1, 2, put(1, "b"));
    let in_flight: Vec<_> = net.queue.drain(..).collect();
    net.crash_restart(0);
    for (from, to, msg) in in_flight {
        net.step(to, |a, ctx| a.on_message(ctx, from, msg));
    }
    let stale: Vec<_> = net.queue.drain(..).collect();
    assert!(!stale.is_empty());
    for (from, to, msg) in stale {
        net.step(to, |a, ctx| a.on_message(ctx, from, msg));
    }
    assert!(net.queue.is_empty(), "stale replies start nothing");
    assert_eq!(net.nodes[0].tag_of(1), Tag { seq: 1, node: 0 });
    // The retry after the restart runs afresh.
    net.request(0, 1, 2, put(1, "b"));
    net.deliver_all();
    assert_eq!(
        net.last_reply(),
        Some(&ReplyBody::Done(Response::Written { version: 2 }))
    );
}

#[test]
fn a_write_retried_after_its_coordinator_crashed_keeps_its_tag() {
    let mut net = Net::new(3);
    // The write is tagged (1, n0) and stored on node 0 alone.
    net.request(0, 1, 1, put(1, "a"));
    net.deliver_except(|_, _, m| matches!(m, AbdMessage::Store { .. }));
    net.crash_restart(0);
    // A later write goes through node 1 and sees the first one.
    net.request(1, 2, 1, put(1, "b"));
    net.deliver_all();
    assert_eq!(
        net.last_reply(),
        Some(&ReplyBody::Done(Response::Written { version: 2 }))
    );
    // The retry finishes the first write under its tag: it stays older.
    net.request(0, 1, 1, put(1, "a"));
    net.deliver_all();
    assert_eq!(
        net.last_reply(),
        Some(&ReplyBody::Done(Response::Written { version: 1 }))
    );
    net.request(2, 3, 1, get(1));
    net.deliver_all();
    assert_eq!(net.last_reply(), Some(&value("b", 2)));
}

#[test]
fn concurrent_writes_through_one_coordinator_get_distinct_tags() {
    let mut net = Net::new(3);
    net.request(0, 1, 1, put(1, "a"));
    net.request(0, 2, 1, put(1, "b"));
    net.deliver_all();
    let versions: Vec<_> = net.replies.iter().map(|r| r.body.clone()).collect();
    assert_eq!(
        versions,
        vec![
            ReplyBody::Done(Response::Written { version: 1 }),
            ReplyBody::Done(Response::Written { version: 2 }),
        ]
    );
    net.request(1, 3, 1, get(1));
    net.deliver_all();
    assert_eq!(net.last_reply(), Some(&value("b", 2)));
}

#[test]
fn a_single_replica_cluster_works_alone() {
    let mut net = Net::new(1);
    net.request(0, 1, 1, put(1, "a"));
    net.request(0, 1, 2, get(1));
    assert_eq!(net.last_reply(), Some(&value("a", 1)));
}

#[test]
fn skipping_the_write_back_is_possible_only_in_the_unsafe_variant() {
    let config = AbdConfig {
        unsafe_skip_write_back: true,
        read_fast_path: false,
        ..AbdConfig::default()
    };
    let mut net = Net::with_config(3, config);
    net.request(0, 1, 1, put(1, "a"));
    net.deliver_except(|_, _, m| matches!(m, AbdMessage::Store { .. }));
    // The value is on node 0 only; a read there returns it and stores nothing.
    net.request(0, 2, 1, get(1));
    net.deliver_all();
    assert_eq!(net.last_reply(), Some(&value("a", 1)));
    assert_eq!(net.nodes[1].tag_of(1), Tag::ZERO);
}

fn arb_message() -> impl Strategy<Value = AbdMessage> {
    let op = (any::<u64>(), 0u64..4).prop_map(|(epoch, n)| OpId { epoch, n });
    let tag = (0u64..4, 0u32..6).prop_map(|(seq, node)| Tag { seq, node });
    prop_oneof![
        (op.clone(), 0u64..3).prop_map(|(op, key)| AbdMessage::Query { op, key }),
        (op.clone(), tag.clone(), any::<bool>()).prop_map(|(op, tag, some)| {
            AbdMessage::QueryReply {
                op,
                tag,
                value: some.then(|| Bytes::from("v")),
            }
        }),
        (op.clone(), 0u64..3, tag).prop_map(|(op, key, tag)| AbdMessage::Store {
            op,
            key,
            tag,
            value: Bytes::from("w"),
        }),
        op.prop_map(|op| AbdMessage::StoreAck { op }),
    ]
}

proptest! {
    #[test]
    fn random_input_never_panics(
        input in proptest::collection::vec((0u32..8, arb_message(), 0u8..4), 0..60)
    ) {
        let mut net = Net::new(3);
        for (i, (from, msg, extra)) in input.into_iter().enumerate() {
            let to = i as u32 % 3;
            net.step(to, |a, ctx| a.on_message(ctx, from, msg));
            match extra {
                0 => net.request(to, 1 + u64::from(from), i as u64, get(1)),
                1 => net.request(to, 1, i as u64, put(1, "p")),
                2 => net.fire_retries(to),
                _ => {}
            }
        }
        net.deliver_all();
    }
}
