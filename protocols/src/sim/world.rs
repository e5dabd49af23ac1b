//! The simulation itself: the event queue, the replicas and the run loop.

use super::checks::Checker;
use super::client::{Phase, SimClient};
use super::config::SimConfig;
use super::faults;
use super::network::Network;
use super::node::NodeHost;
use super::report::{SimReport, SimStats, Violation};
use crate::check::{HistoryOp, Outcome};
use crate::core::{ActionOf, Cluster, Ctx, NodeStatus, Protocol, Replication};
use crate::kv::{Command, Response};
use crate::types::{NodeId, RequestId, Time};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BinaryHeap;

pub(crate) use super::event::{Event, Scheduled};

/// A deterministic simulated cluster running protocol `P`.
pub struct Simulation<P: Protocol> {
    pub(crate) cfg: SimConfig,
    pub(crate) proto_cfg: P::Config,
    pub(crate) cluster: Cluster,
    pub(crate) now: Time,
    queue: BinaryHeap<Scheduled<P>>,
    queue_seq: u64,
    pub(crate) nodes: Vec<NodeHost<P>>,
    pub(crate) clients: Vec<SimClient<P::Client>>,
    pub(crate) network: Network,
    pub(crate) checker: Checker,
    pub(crate) history: Vec<(RequestId, HistoryOp)>,
    pub(crate) fault_rng: ChaCha8Rng,
    pub(crate) disk_rng: ChaCha8Rng,
    pub(crate) stats: SimStats,
    pub(crate) trace_digest: u64,
    pub(crate) trace: Vec<String>,
    scratch: Vec<ActionOf<P>>,
    pub(crate) heal_time: Option<Time>,
    pub(crate) all_done_at: Option<Time>,
}

fn derive(seed: u64, stream: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ stream)
}

impl<P: Protocol> Simulation<P> {
    /// Builds the cluster, starts every replica at time zero and schedules
    /// the clients, the faults and the heal. A protocol without
    /// compare-and-set gets a workload without it (`cas_ratio` 0).
    pub fn new(mut cfg: SimConfig, proto_cfg: P::Config) -> Simulation<P> {
        if !P::SUPPORTS_CAS {
            cfg.cas_ratio = 0.0;
        }
        let seed = cfg.seed;
        let cluster = Cluster::new(cfg.nodes.max(1));
        let nodes = (0..cluster.size)
            .map(|n| NodeHost::new(derive(seed, 1_000 + u64::from(n))))
            .collect();
        let clients = (0..cfg.clients)
            .map(|i| {
                let id = u64::from(i) + 1;
                SimClient::new(
                    id,
                    P::client(&cluster, &proto_cfg, id),
                    derive(seed, 100_000 + id),
                )
            })
            .collect();
        let mut fault_rng = derive(seed, 3);
        let schedule = faults::schedule(&cfg, &mut fault_rng);
        let mut sim = Simulation {
            network: Network::new(cfg.network.clone(), cluster.size, derive(seed, 2)),
            checker: Checker::new(cluster.size),
            cfg,
            proto_cfg,
            cluster,
            now: Time::ZERO,
            queue: BinaryHeap::new(),
            queue_seq: 0,
            nodes,
            clients,
            history: Vec::new(),
            fault_rng,
            disk_rng: derive(seed, 4),
            stats: SimStats::default(),
            trace_digest: 0xcbf2_9ce4_8422_2325,
            trace: Vec::new(),
            scratch: Vec::new(),
            heal_time: None,
            all_done_at: None,
        };
        sim.checker.faulty = sim
            .cluster
            .nodes()
            .map(|n| P::is_faulty(&sim.proto_cfg, n))
            .collect();
        for n in sim.cluster.nodes() {
            sim.restart(n);
        }
        for c in 0..sim.clients.len() {
            let start = Time(sim.clients[c].rng.gen_range(0..5_000_000));
            sim.schedule(start, Event::ClientStart { client: c });
        }
        for (at, kind) in schedule {
            sim.schedule(at, Event::Fault(kind));
        }
        let heal = Time::ZERO.plus(sim.cfg.fault_phase);
        sim.schedule(heal, Event::HealEverything);
        sim.schedule(heal.plus(sim.cfg.calm_phase), Event::EndCalm);
        sim
    }

    pub(crate) fn schedule(&mut self, at: Time, event: Event<P>) {
        self.queue_seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.queue_seq,
            event,
        });
    }

    /// The current simulated time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// The status of a running node (`None` while it is crashed).
    pub fn status(&self, node: NodeId) -> Option<NodeStatus> {
        self.nodes.get(node as usize)?.core.as_ref().map(P::status)
    }

    /// Direct access to a running node's core (for scripted tests).
    pub fn core(&self, node: NodeId) -> Option<&P> {
        self.nodes.get(node as usize)?.core.as_ref()
    }

    /// The client-observed history so far.
    pub fn history(&self) -> Vec<HistoryOp> {
        self.history.iter().map(|(_, op)| op.clone()).collect()
    }

    /// Violations found so far by the continuous checks.
    pub fn violations(&self) -> &[Violation] {
        &self.checker.violations
    }

    /// Crashes a node now: its core and everything not durable are lost.
    pub fn crash(&mut self, node: NodeId) {
        if let Some(host) = self.nodes.get_mut(node as usize) {
            if host.is_up() {
                host.crash();
                self.checker.crashed(node);
                self.stats.crashes += 1;
            }
        }
    }

    /// Restarts a crashed node from its durable records.
    pub fn restart(&mut self, node: NodeId) {
        let Some(host) = self.nodes.get_mut(node as usize) else {
            return;
        };
        if host.is_up() {
            return;
        }
        host.core = Some(P::recover(
            node,
            &self.cluster,
            &self.proto_cfg,
            host.durable.clone(),
        ));
        self.step_node(node, |core, ctx| core.start(ctx));
    }

    /// Cuts every link between different groups, both ways.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        self.stats.link_faults += 1;
        self.network.partition(groups);
    }

    /// Cuts the link from `from` to `to` only.
    pub fn cut(&mut self, from: NodeId, to: NodeId) {
        self.stats.link_faults += 1;
        self.network.cut(from, to);
    }

    /// Heals every link fault.
    pub fn heal(&mut self) {
        self.network.heal();
    }

    /// Processes every event up to and including time `until`.
    pub fn run_until(&mut self, until: Time) {
        while self.queue.peek().is_some_and(|s| s.at <= until) {
            if !self.step_event() {
                break;
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs the whole scenario (faults, heal, calm phase, final reads,
    /// settling) and judges it.
    pub fn run(mut self) -> SimReport {
        let heal_at = Time::ZERO.plus(self.cfg.fault_phase);
        let deadline = heal_at.plus(self.cfg.liveness_bound);
        loop {
            if let Some(done) = self.all_done_at {
                if self.now >= done.plus(self.cfg.settle) && self.replicas_converged() {
                    break;
                }
            }
            if self.now > deadline {
                break;
            }
            if self.stats.events >= self.cfg.max_events {
                let events = self.stats.events;
                self.checker
                    .violations
                    .push(Violation::EventBudget { events });
                break;
            }
            if !self.step_event() {
                break;
            }
        }
        self.finish()
    }

    /// Whether every replica is up and has applied as far as the others
    /// (log replication), or is up and settled (version-vector stores:
    /// hinted hand-off done); trivially true for the other protocols.
    fn replicas_converged(&self) -> bool {
        match P::REPLICATION {
            Replication::Log => {}
            Replication::Versioned => {
                return self
                    .cluster
                    .nodes()
                    .all(|n| self.core(n).is_some_and(P::settled));
            }
            Replication::Single | Replication::Registers => return true,
        }
        let applied: Vec<Option<u64>> = self
            .cluster
            .nodes()
            .filter(|&n| !P::is_faulty(&self.proto_cfg, n))
            .map(|n| self.status(n).map(|s| s.applied_index))
            .collect();
        applied
            .iter()
            .all(|a| a.is_some() && Some(a) == applied.first())
    }

    /// Pops and handles one event; false when the queue is empty.
    fn step_event(&mut self) -> bool {
        let Some(Scheduled { at, event, .. }) = self.queue.pop() else {
            return false;
        };
        self.now = self.now.max(at);
        self.stats.events += 1;
        self.trace(&event);
        self.handle(event);
        true
    }

    fn handle(&mut self, event: Event<P>) {
        // With a CPU model, an input for a busy node waits its turn.
        if let Some(event) = self.admit(event) {
            self.handle_now(event);
        }
    }

    fn handle_now(&mut self, event: Event<P>) {
        match event {
            Event::CoreFree { node } => {
                if let Some(input) = self.next_input(node) {
                    self.handle_now(input);
                }
                self.wake_if_waiting(node);
            }
            Event::Deliver { to, from, msg } => {
                if self.nodes.get(to as usize).is_some_and(NodeHost::is_up) {
                    self.stats.messages_delivered += 1;
                    self.step_node(to, |core, ctx| core.on_message(ctx, from, msg));
                }
            }
            Event::Request { node, request } => {
                self.step_node(node, |core, ctx| core.on_client_request(ctx, request));
            }
            Event::Reply { client, reply } => self.client_reply(client, reply),
            Event::Timer {
                node,
                incarnation,
                timer,
                generation,
            } => {
                let Some(host) = self.nodes.get_mut(node as usize) else {
                    return;
                };
                if host.incarnation == incarnation && host.timers.get(&timer) == Some(&generation) {
                    host.timers.remove(&timer);
                    self.step_node(node, |core, ctx| core.on_timer(ctx, timer));
                }
            }
            Event::PersistDone {
                node,
                incarnation,
                seq,
            } => self.persist_done(node, incarnation, seq),
            Event::ClientStart { client } => self.client_start(client),
            Event::ClientResend {
                client,
                seq,
                attempt,
                to,
            } => self.client_resend(client, seq, attempt, to),
            Event::ClientTimeout {
                client,
                seq,
                attempt,
            } => self.client_timeout(client, seq, attempt),
            Event::Fault(kind) => self.inject(kind),
            Event::RestartAll => {
                for n in self.cluster.nodes() {
                    self.restart(n);
                }
            }
            Event::HealEverything => {
                self.heal_time = Some(self.now);
                self.network.heal();
                for n in self.cluster.nodes() {
                    self.restart(n);
                }
            }
            Event::EndCalm => {
                let count = self.clients.len() as u64;
                for (i, client) in self.clients.iter_mut().enumerate() {
                    if client.phase == Phase::Random {
                        let keys = (0..self.cfg.keys)
                            .filter(|k| k % count == i as u64)
                            .collect();
                        client.phase = Phase::FinalReads(keys);
                    }
                }
            }
        }
    }

    /// Runs one input through a node's core and carries out its actions.
    pub(crate) fn step_node(&mut self, node: NodeId, f: impl FnOnce(&mut P, &mut Ctx<'_, P>)) {
        let mut actions = std::mem::take(&mut self.scratch);
        let now = self.now;
        let Some(host) = self.nodes.get_mut(node as usize) else {
            self.scratch = actions;
            return;
        };
        let Some(core) = host.core.as_mut() else {
            self.scratch = actions;
            return;
        };
        {
            let mut ctx = Ctx::new(now, &mut host.rng, &mut actions);
            f(core, &mut ctx);
        }
        // With a CPU model the sends, timers and persists start when the
        // core is done with this input.
        let done = self.charge_cpu(node, &actions);
        let now = std::mem::replace(&mut self.now, done);
        for action in actions.drain(..) {
            self.carry_out(node, action);
        }
        self.now = now;
        self.scratch = actions;
    }
    /// Folds the event into the trace digest (and the text trace if asked).
    fn trace(&mut self, event: &Event<P>) {
        let (kind, a, b) = match event {
            Event::Deliver { to, from, .. } => (1, u64::from(*from), u64::from(*to)),
            Event::Request { node, request } => (2, u64::from(*node), request.id.client),
            Event::Reply { client, reply } => (3, *client as u64, reply.id.seq),
            Event::Timer {
                node, generation, ..
            } => (4, u64::from(*node), *generation),
            Event::PersistDone { node, seq, .. } => (5, u64::from(*node), *seq),
            Event::ClientStart { client } => (6, *client as u64, 0),
            Event::ClientResend { client, seq, .. } => (7, *client as u64, *seq),
            Event::ClientTimeout { client, seq, .. } => (8, *client as u64, *seq),
            Event::Fault(k) => (9, *k as u64, 0),
            Event::RestartAll => (10, 0, 0),
            Event::HealEverything => (11, 0, 0),
            Event::EndCalm => (12, 0, 0),
            Event::CoreFree { node } => (13, u64::from(*node), 0),
        };
        for x in [self.now.0, kind, a, b] {
            self.trace_digest = (self.trace_digest ^ x).wrapping_mul(0x0000_0100_0000_01b3);
            self.trace_digest = self.trace_digest.rotate_left(17);
        }
        if self.cfg.record_trace {
            let detail = match event {
                Event::Deliver { msg, .. } => format!("{msg:?}"),
                Event::Request { request, .. } => format!("{request:?}"),
                Event::Reply { reply, .. } => format!("{reply:?}"),
                Event::Timer { timer, .. } => format!("{timer:?}"),
                _ => String::new(),
            };
            self.trace
                .push(format!("{} k{kind} {a} {b} {detail}", self.now.0));
        }
    }

    /// Records a completed operation.
    pub(crate) fn record(
        &mut self,
        id: RequestId,
        command: Command,
        invoke: Time,
        response: Response,
    ) {
        self.stats.ops_completed += 1;
        self.history.push((
            id,
            HistoryOp {
                client: id.client,
                command,
                invoke,
                ret: self.now,
                outcome: Outcome::Ok(response),
            },
        ));
    }
}
