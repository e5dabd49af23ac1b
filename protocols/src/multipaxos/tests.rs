//! Scenario tests of Multi-Paxos with a tiny deterministic driver: nodes
//! exchange messages through a FIFO queue, persists are durable at once
//! (unless a test holds them back), and a cut node neither sends nor
//! receives.

use super::*;
use crate::core::{Action, ActionOf, NodeEvent};
use crate::kv::{Command, Response};
use crate::types::{RequestId, Time};
use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub(super) struct Net {
    pub(super) nodes: Vec<MultiPaxos>,
    rng: ChaCha8Rng,
    queue: VecDeque<(NodeId, NodeId, PaxosMessage)>,
    pub(super) replies: Vec<ClientReply>,
    pub(super) cut: BTreeSet<NodeId>,
    pub(super) persisted: Vec<Vec<PaxosRecord>>,
    /// Per node, the (index, digest) pairs applied, in order.
    pub(super) applied: Vec<Vec<(u64, u64)>>,
    pub(super) events: Vec<Vec<NodeEvent>>,
    now: Time,
    config: MultiPaxosConfig,
}

impl Net {
    pub(super) fn new(n: u32, config: MultiPaxosConfig) -> Net {
        let cluster = Cluster::new(n);
        Net {
            nodes: (0..n)
                .map(|i| MultiPaxos::recover(i, &cluster, &config, Vec::new()))
                .collect(),
            rng: ChaCha8Rng::seed_from_u64(3),
            queue: VecDeque::new(),
            replies: Vec::new(),
            cut: BTreeSet::new(),
            persisted: vec![Vec::new(); n as usize],
            applied: vec![Vec::new(); n as usize],
            events: vec![Vec::new(); n as usize],
            now: Time::ZERO,
            config,
        }
    }

    #[allow(clippy::type_complexity)]
    fn step(
        &mut self,
        node: NodeId,
        f: Box<dyn FnOnce(&mut MultiPaxos, &mut Ctx<'_, MultiPaxos>) + '_>,
    ) {
        let mut out: Vec<ActionOf<MultiPaxos>> = Vec::new();
        {
            let mut ctx = Ctx::new(self.now, &mut self.rng, &mut out);
            f(&mut self.nodes[node as usize], &mut ctx);
        }
        let mut last_seq = None;
        for a in out {
            match a {
                Action::Send { to, msg } => self.queue.push_back((node, to, msg)),
                Action::Broadcast { msg } => {
                    for to in 0..self.nodes.len() as u32 {
                        if to != node {
                            self.queue.push_back((node, to, msg.clone()));
                        }
                    }
                }
                Action::Reply { reply, .. } => self.replies.push(reply),
                Action::Persist { seq, record } => {
                    self.persisted[node as usize].push(record);
                    last_seq = Some(seq);
                }
                Action::Applied { index, digest, .. } => {
                    self.applied[node as usize].push((index, digest))
                }
                Action::Emit(e) => self.events[node as usize].push(e),
                Action::SetTimer { .. } | Action::CancelTimer { .. } => {}
            }
        }
        if let Some(seq) = last_seq {
            self.step(node, Box::new(move |p, ctx| p.on_persisted(ctx, seq)));
        }
    }

    pub(super) fn deliver_all(&mut self) {
        let mut budget = 200_000;
        while let Some((from, to, msg)) = self.queue.pop_front() {
            budget -= 1;
            assert!(budget > 0, "message storm");
            if self.cut.contains(&from) || self.cut.contains(&to) {
                continue;
            }
            self.step(to, Box::new(move |p, ctx| p.on_message(ctx, from, msg)));
        }
    }

    pub(super) fn campaign(&mut self, node: NodeId) {
        self.step(
            node,
            Box::new(|p, ctx| p.on_timer(ctx, PaxosTimer::LeaderTimeout)),
        );
        self.deliver_all();
    }

    pub(super) fn tick(&mut self, node: NodeId) {
        self.now = self.now.plus(Duration::from_millis(100));
        self.step(
            node,
            Box::new(|p, ctx| p.on_timer(ctx, PaxosTimer::Heartbeat)),
        );
        self.deliver_all();
    }

    pub(super) fn request(&mut self, node: NodeId, seq: u64, command: Command) {
        let request = ClientRequest {
            id: RequestId { client: 1, seq },
            command,
            context: None,
            auth: Vec::new(),
        };
        self.step(
            node,
            Box::new(move |p, ctx| p.on_client_request(ctx, request)),
        );
        self.deliver_all();
    }

    /// Crashes `node` and rebuilds it from its persisted records.
    pub(super) fn restart(&mut self, node: NodeId) {
        let records = self.persisted[node as usize].clone();
        self.nodes[node as usize] = MultiPaxos::recover(
            node,
            &Cluster::new(self.nodes.len() as u32),
            &self.config,
            records,
        );
        self.applied[node as usize].clear();
        self.events[node as usize].clear();
        self.step(node, Box::new(|p, ctx| p.start(ctx)));
    }

    pub(super) fn leaders(&self) -> Vec<NodeId> {
        (0..self.nodes.len() as u32)
            .filter(|&i| self.nodes[i as usize].status().role == Role::Leader)
            .collect()
    }
}

pub(super) fn put(key: u64, v: &'static str) -> Command {
    Command::Put {
        key,
        value: Bytes::from(v),
    }
}

fn value(v: &'static str, version: u64) -> Response {
    Response::Value {
        value: Some(Bytes::from(v)),
        version,
    }
}

#[test]
fn a_leader_emerges_and_a_put_is_applied_everywhere() {
    let mut net = Net::new(3, MultiPaxosConfig::default());
    net.campaign(0);
    assert_eq!(net.leaders(), vec![0]);
    let term = net.nodes[0].status().term;
    assert!(net.events[0].contains(&NodeEvent::LeaderElected { term }));
    net.request(0, 1, put(4, "x"));
    assert_eq!(
        net.replies.last().map(|r| r.body.clone()),
        Some(ReplyBody::Done(Response::Written { version: 1 }))
    );
    net.tick(0);
    for (i, p) in net.nodes.iter().enumerate() {
        assert_eq!(p.kv.read(4), value("x", 1));
        assert_eq!(net.applied[i], net.applied[0]);
        assert_eq!(p.status().leader, Some(0));
    }
    assert_eq!(net.applied[0].len(), 1);
    assert_eq!(net.applied[0][0].0, 1);
}

#[test]
fn a_batch_fills_one_slot_and_applied_indexes_stay_dense() {
    let mut net = Net::new(3, MultiPaxosConfig::default());
    net.campaign(0);
    // Queue three requests while the pipeline is full (no deliveries), so
    // they share a slot.
    let inflight = net.nodes[0].config.max_inflight_slots as u64;
    for seq in 1..=inflight + 3 {
        let request = ClientRequest {
            id: RequestId { client: 1, seq },
            command: put(seq, "b"),
            context: None,
            auth: Vec::new(),
        };
        net.step(0, Box::new(move |p, ctx| p.on_client_request(ctx, request)));
    }
    net.deliver_all();
    net.tick(0);
    let n = inflight + 3;
    assert_eq!(
        net.nodes[0].commit,
        inflight + 1,
        "one slot holds the batch"
    );
    for i in 0..3 {
        let indexes: Vec<u64> = net.applied[i].iter().map(|a| a.0).collect();
        assert_eq!(indexes, (1..=n).collect::<Vec<_>>());
        assert_eq!(net.applied[i], net.applied[0]);
        assert_eq!(net.nodes[i].status().applied_index, n);
    }
}

#[test]
fn followers_redirect_to_the_leader() {
    let mut net = Net::new(3, MultiPaxosConfig::default());
    net.campaign(2);
    net.tick(2);
    net.request(1, 1, put(1, "a"));
    assert_eq!(net.replies[0].body, ReplyBody::Redirect { leader: Some(2) });
    assert_eq!(net.nodes[1].status().role, Role::Follower);
}

#[test]
fn a_new_leader_adopts_values_accepted_under_the_old_ballot() {
    let mut net = Net::new(3, MultiPaxosConfig::default());
    net.campaign(0);
    // Node 0's Accept reaches node 1 only; node 0 then dies before anyone
    // learns the slot is chosen.
    net.cut.insert(2);
    net.request(0, 1, put(7, "survivor"));
    net.queue.clear();
    net.cut.clear();
    net.cut.insert(0);
    net.campaign(2);
    assert_eq!(net.nodes[2].status().role, Role::Leader);
    assert!(net.nodes[2].status().term > net.nodes[0].status().term);
    net.tick(2);
    net.tick(2);
    // Node 2 never saw the value itself, yet re-proposed it from node 1's
    // promise.
    assert_eq!(net.nodes[2].kv.read(7), value("survivor", 1));
    // The old leader hears of the new ballot and steps down.
    net.cut.clear();
    net.tick(2);
    net.step(0, Box::new(|p, ctx| p.on_timer(ctx, PaxosTimer::Heartbeat)));
    net.deliver_all();
    assert_eq!(net.leaders(), vec![2]);
    assert!(net.events[0]
        .iter()
        .any(|e| matches!(e, NodeEvent::SteppedDown { .. })));
}

#[test]
fn a_lagging_replica_catches_up_in_chunks() {
    let config = MultiPaxosConfig {
        max_batch: 1,
        ..MultiPaxosConfig::default()
    };
    let mut net = Net::new(3, config);
    net.campaign(0);
    net.cut.insert(2);
    let slots = MAX_SLOTS_PER_MESSAGE as u64 * 2 + 10;
    for s in 1..=slots {
        net.request(0, s, put(s % 7, "v"));
    }
    net.cut.clear();
    net.tick(0);
    assert_eq!(net.nodes[2].commit, net.nodes[0].commit);
    assert_eq!(net.nodes[2].kv.read(3), net.nodes[0].kv.read(3));
    assert_eq!(net.applied[2], net.applied[0]);
    assert!(net.events[2]
        .iter()
        .any(|e| matches!(e, NodeEvent::CaughtUp { .. })));
}

#[test]
fn acceptor_state_is_rebuilt_from_every_prefix_of_its_records() {
    let mut net = Net::new(3, MultiPaxosConfig::default());
    net.campaign(0);
    for s in 1..=5 {
        net.request(0, s, put(2, "p"));
    }
    let records = net.persisted[1].clone();
    let restarted = MultiPaxos::recover(
        1,
        &Cluster::new(3),
        &MultiPaxosConfig::default(),
        records.clone(),
    );
    assert_eq!(restarted.promised, net.nodes[1].promised);
    assert_eq!(restarted.accepted, net.nodes[1].accepted);
    let mut last = Ballot::default();
    for k in 0..=records.len() {
        let p = MultiPaxos::recover(
            1,
            &Cluster::new(3),
            &MultiPaxosConfig::default(),
            records[..k].to_vec(),
        );
        assert!(p.promised >= last);
        last = p.promised;
        assert!(p.accepted.len() <= k);
    }
}

#[test]
fn a_restarted_replica_replays_the_log_and_reports_caught_up() {
    let mut net = Net::new(3, MultiPaxosConfig::default());
    net.campaign(0);
    for s in 1..=6 {
        net.request(0, s, put(s, "r"));
    }
    net.tick(0);
    let before = net.applied[1].clone();
    net.restart(1);
    assert_eq!(net.nodes[1].status().applied_index, 0);
    net.tick(0);
    assert_eq!(net.applied[1], before, "re-applied from index 1");
    assert_eq!(
        net.events[1],
        vec![NodeEvent::CaughtUp {
            index: before.len() as u64
        }]
    );
}

#[test]
fn a_lagging_candidate_fetches_chosen_slots_instead_of_reproposing() {
    let mut net = Net::new(3, MultiPaxosConfig::default());
    net.campaign(0);
    net.cut.insert(2);
    for s in 1..=20 {
        net.request(0, s, put(s, "old"));
    }
    // Node 0 goes away; node 2 (which saw nothing) takes over with node 1.
    net.cut.clear();
    net.cut.insert(0);
    net.queue.clear();
    net.campaign(2);
    assert_eq!(net.leaders(), vec![0, 2]);
    let two = &net.nodes[2];
    assert_eq!(two.commit, 20, "caught up from node 1");
    assert_eq!(two.kv.read(1), value("old", 1));
    // Node 1 knew slots 1..=19 chosen; only slot 20, whose commit it had
    // not heard yet, was re-proposed.
    let reproposed: Vec<u64> = net.persisted[2]
        .iter()
        .filter_map(|r| match r {
            PaxosRecord::Accepted { slot, .. } => Some(*slot),
            PaxosRecord::Promised { .. } => None,
        })
        .collect();
    assert_eq!(reproposed, vec![20]);
    net.request(2, 21, put(21, "new"));
    net.tick(2);
    assert_eq!(net.nodes[1].kv.read(21), value("new", 1));
    assert_eq!(net.applied[2], net.applied[1]);
}

#[test]
fn a_full_restart_runs_phase_1_in_rounds_over_a_long_log() {
    let config = MultiPaxosConfig {
        max_batch: 1,
        ..MultiPaxosConfig::default()
    };
    let mut net = Net::new(3, config);
    net.campaign(0);
    let slots = MAX_SLOTS_PER_MESSAGE as u64 * 3;
    for s in 1..=slots {
        net.request(0, s, put(s % 5, "log"));
    }
    let before = net.applied[0].clone();
    for n in 0..3 {
        net.restart(n);
    }
    // Every replica restarted with commit 0 and the whole log accepted:
    // promises are cut into chunks, phase 1 needs several rounds.
    net.campaign(1);
    assert_eq!(net.leaders(), vec![1]);
    net.tick(1);
    net.tick(1);
    for n in 0..3 {
        assert_eq!(net.applied[n], before, "node {n}");
    }
}

#[test]
fn an_acceptance_from_an_earlier_leadership_does_not_count() {
    let cluster = Cluster::new(3);
    let config = MultiPaxosConfig::default();
    let mut p = MultiPaxos::recover(0, &cluster, &config, Vec::new());
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut out: Vec<ActionOf<MultiPaxos>> = Vec::new();
    let mut ctx = Ctx::new(Time::ZERO, &mut rng, &mut out);
    p.on_timer(&mut ctx, PaxosTimer::LeaderTimeout);
    let b1 = p.ballot;
    let promise = |ballot| PaxosMessage::Promise {
        ballot,
        from_slot: 1,
        commit: 0,
        accepted: Vec::new(),
        covered_to: None,
    };
    p.on_message(&mut ctx, 1, promise(b1));
    assert_eq!(p.role, Role::Leader);
    p.on_client_request(
        &mut ctx,
        ClientRequest {
            id: RequestId { client: 1, seq: 1 },
            command: put(1, "x"),
            context: None,
            auth: Vec::new(),
        },
    );
    let old_seq = p.persist_seq;
    // Deposed before its own acceptance is durable, then elected again.
    let b2 = Ballot { round: 9, node: 1 };
    p.on_message(
        &mut ctx,
        1,
        PaxosMessage::Prepare {
            ballot: b2,
            from_slot: 1,
        },
    );
    assert_eq!(p.role, Role::Follower);
    p.on_timer(&mut ctx, PaxosTimer::LeaderTimeout);
    let b3 = p.ballot;
    p.on_message(&mut ctx, 2, promise(b3));
    assert_eq!(p.role, Role::Leader);
    assert!(p.proposals.contains_key(&1), "slot 1 re-proposed");
    p.on_message(
        &mut ctx,
        2,
        PaxosMessage::Accepted {
            ballot: b3,
            slot: 1,
        },
    );
    p.on_persisted(&mut ctx, old_seq);
    assert_eq!(p.commit, 0, "the b1 acceptance must not count for b3");
    let upto = p.persist_seq;
    p.on_persisted(&mut ctx, upto);
    assert_eq!(p.commit, 1);
}

#[test]
fn a_promise_is_durable_before_it_is_sent_even_after_a_nack() {
    let mut p = MultiPaxos::recover(0, &Cluster::new(3), &MultiPaxosConfig::default(), vec![]);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut out: Vec<ActionOf<MultiPaxos>> = Vec::new();
    let mut ctx = Ctx::new(Time::ZERO, &mut rng, &mut out);
    p.on_timer(&mut ctx, PaxosTimer::LeaderTimeout);
    let high = Ballot { round: 5, node: 1 };
    p.on_message(&mut ctx, 2, PaxosMessage::Nack { promised: high });
    out.clear();
    let mut ctx = Ctx::new(Time::ZERO, &mut rng, &mut out);
    p.on_message(
        &mut ctx,
        1,
        PaxosMessage::Prepare {
            ballot: high,
            from_slot: 1,
        },
    );
    let persist = out.iter().position(|a| {
        matches!(a, Action::Persist { record: PaxosRecord::Promised { ballot }, .. } if *ballot == high)
    });
    let promise = out.iter().position(|a| {
        matches!(
            a,
            Action::Send {
                msg: PaxosMessage::Promise { .. },
                ..
            }
        )
    });
    assert!(persist.is_some() && persist < promise, "{out:?}");
}

#[test]
fn absurd_slot_numbers_allocate_nothing() {
    let mut net = Net::new(3, MultiPaxosConfig::default());
    net.campaign(0);
    let b = net.nodes[0].ballot;
    for slot in [u64::MAX, u64::MAX / 2, SLOT_WINDOW + 1] {
        let msg = PaxosMessage::Accept {
            ballot: b,
            slot,
            batch: Vec::new(),
            commit: u64::MAX,
        };
        net.step(1, Box::new(move |p, ctx| p.on_message(ctx, 0, msg)));
        let msg = PaxosMessage::CatchUp {
            chosen: vec![(slot, Vec::new())],
            commit: slot,
        };
        net.step(1, Box::new(move |p, ctx| p.on_message(ctx, 0, msg)));
    }
    let one = &net.nodes[1];
    assert!(one.accepted.is_empty() && one.chosen.is_empty());
    assert_eq!(one.commit, 0);
}
