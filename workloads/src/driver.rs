//! The load driver: thousands of logical clients multiplexed on one QUIC
//! endpoint, each using its protocol's client logic.
//!
//! Open loop: arrivals come from an [`ArrivalSchedule`] of intended times;
//! an arrival that finds every logical client busy waits in a FIFO backlog,
//! and its latency still counts from its intended time, so queueing inside
//! the driver or the system is never hidden. Closed loop: each logical
//! client issues its next operation as soon as the previous one ends
//! (labelled `closed` in results). Every operation ends as ok, error or
//! timeout (after `request_timeout`); none is dropped.

use crate::arrival::ArrivalSchedule;
use crate::ops::OpGenerator;
use crate::reach::{ClientReach, PartitionSides};
use crate::recorder::{OpOutcome, Recorder};
use crate::spec::{Arrival, WorkloadSpec};
use net::{Endpoint, Inbox, PeerIdentity};
use protocols::check::{HistoryOp, Outcome};
use protocols::client::{ClientLogic, ClientRequest, ClientStep};
use protocols::core::{Cluster, Protocol};
use protocols::kv::{Command, Response};
use protocols::types::{ClientId, NodeId, RequestId, Time};
use protocols::wire::Wire;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// Settings of one driver process.
#[derive(Clone, Debug)]
pub struct DriverConfig {
    /// This driver's index (client ids are unique across drivers).
    pub driver: u32,
    /// Time-series window.
    pub window: Duration,
    /// Keep every operation for consistency checking.
    pub record_history: bool,
    /// Partitions that split the clients too (see [`crate::reach`]); `None`
    /// lets every client reach every replica whatever the faults.
    pub reach: Option<ClientReach>,
    /// `(k, d)`: this driver is share `k` of `d` drivers running one
    /// workload together. It runs logical clients `k, k + d, k + 2d, ...`
    /// of the workload's and `1/d` of its open-loop rate. `(0, 1)` alone.
    pub share: (u32, u32),
}

/// What a driver measured.
#[derive(Clone, Debug)]
pub struct DriverOutput {
    /// Latency and counts.
    pub recorder: Recorder,
    /// Every operation, when history recording is on.
    pub history: Vec<HistoryOp>,
    /// Operations issued.
    pub issued: u64,
    /// Arrivals that had to wait for a free logical client.
    pub backlogged: u64,
    /// Driver process CPU time over wall time during the run (1.0 = one
    /// core saturated).
    pub cpu_utilisation: f64,
    /// Wall-clock time (Unix, ns) of the driver's time zero.
    pub start_unix_ns: u128,
    /// Operations issued during partitions, per side (with `reach`).
    pub partition_sides: PartitionSides,
}

struct InFlight {
    request: ClientRequest,
    intended: Duration,
    sent: Duration,
    attempt: u32,
    /// The client's side of the partition active when it was issued.
    side: Option<String>,
}

struct Logical<C> {
    id: ClientId,
    logic: C,
    ops: OpGenerator,
    next_seq: u64,
    current: Option<InFlight>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// Resend after a back-off.
    Resend,
    /// The attempt got no answer: ask the client logic.
    AttemptTimeout,
    /// The whole operation is out of time.
    Deadline,
}

type Timer = Reverse<(Instant, usize, u64, u32, TimerKind)>;

fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct we pass.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0.0;
    }
    // SAFETY: initialised by the successful call above.
    let u = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

struct Driver<P: Protocol> {
    spec: WorkloadSpec,
    cfg: DriverConfig,
    endpoint: Endpoint<Wire<P::Message>>,
    clients: Vec<Logical<P::Client>>,
    id_base: u64,
    rng: ChaCha8Rng,
    timers: BinaryHeap<Timer>,
    idle: VecDeque<usize>,
    backlog: VecDeque<Duration>,
    start: Instant,
    recorder: Recorder,
    history: Vec<HistoryOp>,
    issued: u64,
    backlogged: u64,
    attempt_timeout: Duration,
    cluster_size: u32,
    sides: PartitionSides,
}

impl<P: Protocol> Driver<P> {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn client_index(&self, id: ClientId) -> Option<usize> {
        let i = id.checked_sub(self.id_base + 1)?;
        usize::try_from(i).ok().filter(|&i| i < self.clients.len())
    }

    /// The replica client `c` lives beside, for partitions that split the
    /// clients too.
    fn home(&self, c: usize) -> NodeId {
        (c as u64 % u64::from(self.cluster_size.max(1))) as NodeId
    }

    /// Whether client `c` can reach replica `node` now.
    fn reaches(&self, c: usize, node: NodeId) -> bool {
        self.cfg
            .reach
            .as_ref()
            .is_none_or(|r| r.can_reach(self.home(c), node))
    }

    /// Sends client `c`'s request to `targets`. A target across a partition
    /// that splits the clients counts as sent: the message is lost, as any
    /// message across a partition, and the attempt times out.
    async fn send_to(&mut self, c: usize, targets: Vec<NodeId>, request: &ClientRequest) -> bool {
        let mut ok = false;
        let msg = Wire::Request(request.clone());
        for t in targets {
            if t < self.cluster_size && !self.reaches(c, t) {
                ok = true;
                continue;
            }
            if t < self.cluster_size
                && self
                    .endpoint
                    .send(PeerIdentity::Node(t), &msg)
                    .await
                    .is_ok()
            {
                ok = true;
            }
        }
        ok
    }

    /// Starts an operation on idle client `c`, meant to start at `intended`.
    async fn issue(&mut self, c: usize, intended: Duration) {
        let sent = self.elapsed();
        let client = &mut self.clients[c];
        let command = client.ops.next_command();
        let id = RequestId {
            client: client.id,
            seq: client.next_seq,
        };
        client.next_seq += 1;
        let mut request = ClientRequest::new(id, command);
        client.logic.prepare(&mut request);
        let targets = client.logic.route(&request, &mut self.rng);
        let home = self.home(c);
        let side = self.cfg.reach.as_ref().and_then(|r| r.side_label(home));
        let client = &mut self.clients[c];
        client.current = Some(InFlight {
            request: request.clone(),
            intended,
            sent,
            attempt: 0,
            side,
        });
        self.issued += 1;
        let now = Instant::now();
        self.timers.push(Reverse((
            now + self.attempt_timeout,
            c,
            id.seq,
            0,
            TimerKind::AttemptTimeout,
        )));
        let deadline = self.start + intended + self.spec.request_timeout;
        self.timers.push(Reverse((
            deadline.max(now),
            c,
            id.seq,
            0,
            TimerKind::Deadline,
        )));
        if !self.send_to(c, targets, &request).await {
            self.finish(c, OpOutcome::Error, None);
        }
    }

    /// Ends client `c`'s operation and gives the client its next one.
    fn finish(&mut self, c: usize, outcome: OpOutcome, response: Option<Response>) {
        let now = self.elapsed();
        let Some(op) = self.clients[c].current.take() else {
            return;
        };
        self.clients[c].logic.finish(op.request.id);
        self.recorder.record(op.intended, op.sent, now, outcome);
        if let Some(label) = &op.side {
            let home = self.home(c);
            let still = self
                .cfg
                .reach
                .as_ref()
                .and_then(|r| r.side_label(home))
                .as_ref()
                == Some(label);
            let counts = self.sides.entry(label.clone()).or_default();
            counts.issued += 1;
            match outcome {
                OpOutcome::Ok if still => counts.ok += 1,
                OpOutcome::Ok => counts.after_heal += 1,
                OpOutcome::Error => counts.errors += 1,
                OpOutcome::Timeout => counts.timeouts += 1,
            }
        }
        if let Some(r) = &response {
            self.clients[c]
                .ops
                .observe_version(op.request.command.key(), r.version());
        }
        if self.cfg.record_history {
            let nanos = |d: Duration| Time(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            self.history.push(HistoryOp {
                client: op.request.id.client,
                command: op.request.command,
                invoke: nanos(op.sent),
                ret: nanos(now),
                outcome: match (outcome, response) {
                    (OpOutcome::Ok, Some(r)) => Outcome::Ok(r),
                    // Errors are failures to send at all, or rejections:
                    // either way the operation had no effect.
                    (OpOutcome::Error, _) => Outcome::Fail,
                    _ => Outcome::Unknown,
                },
            });
        }
        self.idle.push_back(c);
    }

    async fn handle_step(&mut self, c: usize, step: ClientStep) {
        match step {
            ClientStep::Wait => {}
            ClientStep::Final(response) => self.finish(c, OpOutcome::Ok, Some(response)),
            // Rejected without effect: an error, and `fail` in the history.
            ClientStep::Failed { .. } => self.finish(c, OpOutcome::Error, None),
            ClientStep::Resend { to, after } => {
                let Some(op) = self.clients[c].current.as_mut() else {
                    return;
                };
                op.attempt += 1;
                let (seq, attempt) = (op.request.id.seq, op.attempt);
                let request = op.request.clone();
                let now = Instant::now();
                if after.is_zero() {
                    self.send_to(c, to, &request).await;
                    self.timers.push(Reverse((
                        now + self.attempt_timeout,
                        c,
                        seq,
                        attempt,
                        TimerKind::AttemptTimeout,
                    )));
                } else {
                    // Remember where to resend: ask the logic again then.
                    self.timers
                        .push(Reverse((now + after, c, seq, attempt, TimerKind::Resend)));
                    let _ = to;
                }
            }
        }
    }

    async fn on_timer(&mut self, c: usize, seq: u64, attempt: u32, kind: TimerKind) {
        let matches = self.clients[c].current.as_ref().is_some_and(|op| {
            op.request.id.seq == seq && (kind == TimerKind::Deadline || op.attempt == attempt)
        });
        if !matches {
            return;
        }
        match kind {
            TimerKind::Deadline => self.finish(c, OpOutcome::Timeout, None),
            TimerKind::AttemptTimeout | TimerKind::Resend => {
                let Some(id) = self.clients[c].current.as_ref().map(|op| op.request.id) else {
                    return;
                };
                let client = &mut self.clients[c];
                let step = if kind == TimerKind::Resend {
                    let targets = client.logic.route(
                        &client
                            .current
                            .as_ref()
                            .map(|o| o.request.clone())
                            .unwrap_or(ClientRequest {
                                id,
                                command: Command::Get { key: 0 },
                                context: None,
                            }),
                        &mut self.rng,
                    );
                    ClientStep::Resend {
                        to: targets,
                        after: Duration::ZERO,
                    }
                } else {
                    client.logic.on_timeout(id, &mut self.rng)
                };
                self.handle_step(c, step).await;
            }
        }
    }

    /// Gives idle clients the arrivals that are due (open loop) or their
    /// next operation (closed loop).
    async fn feed(&mut self, closed: bool) {
        let now = self.elapsed();
        if now >= self.spec.duration {
            self.backlog.clear();
            return;
        }
        while let Some(c) = self.idle.pop_front() {
            if closed {
                self.issue(c, now).await;
            } else if let Some(intended) = self.backlog.pop_front() {
                self.issue(c, intended).await;
            } else {
                self.idle.push_front(c);
                break;
            }
        }
    }
}

/// Runs `spec` against the cluster reachable through `endpoint` (already
/// given the nodes' addresses), and returns what it measured.
pub async fn drive<P: Protocol>(
    spec: &WorkloadSpec,
    cluster: &Cluster,
    protocol_config: &P::Config,
    endpoint: Endpoint<Wire<P::Message>>,
    mut inbox: Inbox<Wire<P::Message>>,
    cfg: DriverConfig,
) -> DriverOutput {
    let logical = spec.logical_clients();
    let (share, shares) = (u64::from(cfg.share.0), u64::from(cfg.share.1.max(1)));
    let id_base = u64::from(cfg.driver) * 10_000_000;
    let slots = (share..logical).step_by(shares as usize);
    let clients: Vec<Logical<P::Client>> =
        OpGenerator::for_slots(spec, slots, logical, |i| id_base + (i - share) / shares + 1)
            .into_iter()
            .enumerate()
            .map(|(i, ops)| {
                let id = id_base + i as u64 + 1;
                Logical {
                    id,
                    logic: P::client(cluster, protocol_config, id),
                    ops,
                    next_seq: 1,
                    current: None,
                }
            })
            .collect();
    let closed = matches!(spec.arrival, Arrival::Closed { .. });
    let mut schedule = match spec.arrival {
        Arrival::Open { rate, process } => Some(ArrivalSchedule::new(
            rate / shares as f64,
            process,
            spec.seed ^ u64::from(cfg.driver),
        )),
        Arrival::Closed { .. } => None,
    };
    let attempt_timeout = spec.attempt_timeout;
    let start_unix_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let cpu_start = cpu_seconds();
    let mut d = Driver::<P> {
        recorder: Recorder::new(cfg.window, spec.measured()),
        spec: spec.clone(),
        endpoint,
        idle: (0..clients.len()).collect(),
        clients,
        id_base,
        rng: ChaCha8Rng::seed_from_u64(spec.seed ^ 0xd71e),
        timers: BinaryHeap::new(),
        backlog: VecDeque::new(),
        start: Instant::now(),
        history: Vec::new(),
        issued: 0,
        backlogged: 0,
        attempt_timeout,
        cluster_size: cluster.size,
        cfg,
        sides: PartitionSides::new(),
    };
    let mut next_arrival = schedule.as_mut().and_then(Iterator::next);
    let hard_stop = d.start + spec.duration + spec.request_timeout + Duration::from_millis(100);
    loop {
        // Arrivals due by now go to idle clients or the backlog, in order.
        let now = d.elapsed();
        while let Some(t) = next_arrival {
            if t > now || t >= spec.duration {
                break;
            }
            if d.idle.is_empty() {
                d.backlogged += 1;
            }
            d.backlog.push_back(t);
            next_arrival = schedule.as_mut().and_then(Iterator::next);
        }
        d.feed(closed).await;
        let outstanding = d.clients.iter().any(|c| c.current.is_some());
        if (now >= spec.duration && !outstanding) || Instant::now() >= hard_stop {
            break;
        }
        let next_timer = d.timers.peek().map(|Reverse((at, ..))| *at);
        let arrival_at = next_arrival
            .filter(|t| *t < spec.duration)
            .map(|t| d.start + t);
        let wake = [next_timer, arrival_at, Some(hard_stop)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(hard_stop);
        tokio::select! {
            msg = inbox.recv() => {
                let Some((from, wire)) = msg else { break };
                let mut batch = vec![(from, wire)];
                while batch.len() < 256 {
                    match inbox.try_recv() {
                        Ok(m) => batch.push(m),
                        Err(_) => break,
                    }
                }
                for (_, wire) in batch {
                    if let Wire::Reply(reply) = wire {
                        let Some(c) = d.client_index(reply.id.client) else { continue };
                        // A reply from across a client partition is lost.
                        if !d.reaches(c, reply.from) {
                            continue;
                        }
                        let current = d.clients[c].current.as_ref().map(|op| op.request.id);
                        if current != Some(reply.id) {
                            continue;
                        }
                        let step = d.clients[c].logic.on_reply(&reply, &mut d.rng);
                        d.handle_step(c, step).await;
                    }
                }
            }
            () = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                while let Some(Reverse((at, c, seq, attempt, kind))) = d.timers.peek().copied() {
                    if at > now {
                        break;
                    }
                    d.timers.pop();
                    d.on_timer(c, seq, attempt, kind).await;
                }
            }
        }
    }
    // Whatever is still outstanding at the hard stop timed out.
    for c in 0..d.clients.len() {
        if d.clients[c].current.is_some() {
            d.finish(c, OpOutcome::Timeout, None);
        }
    }
    let wall = d.start.elapsed().as_secs_f64().max(1e-9);
    // A side's clients are those living beside its replicas (the label
    // lists them), whether or not they issued anything in the partition.
    let homes: Vec<NodeId> = (0..d.clients.len()).map(|c| d.home(c)).collect();
    for (label, counts) in &mut d.sides {
        let members: Vec<NodeId> = label.split('+').filter_map(|n| n.parse().ok()).collect();
        counts.clients = homes.iter().filter(|h| members.contains(h)).count() as u64;
    }
    DriverOutput {
        partition_sides: d.sides,
        cpu_utilisation: (cpu_seconds() - cpu_start) / wall,
        recorder: d.recorder,
        history: d.history,
        issued: d.issued,
        backlogged: d.backlogged,
        start_unix_ns,
    }
}
