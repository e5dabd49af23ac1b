//! The transport-independent driver loop: arrivals, the backlog, logical
//! clients, deadlines, recording and history. A [`Transport`] carries the
//! requests (quorumlab nodes over QUIC, or etcd over gRPC).

use super::timers::TimerQueue;
use super::{DriverConfig, DriverOutput};
use crate::arrival::ArrivalSchedule;
use crate::ops::OpGenerator;
use crate::reach::PartitionSides;
use crate::recorder::{OpOutcome, Recorder};
use crate::spec::{Arrival, WorkloadSpec};
use protocols::check::{HistoryOp, Outcome};
use protocols::client::ClientRequest;
use protocols::kv::Response;
use protocols::types::{ClientId, NodeId, RequestId, Time};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// What a transport says about an operation in flight.
pub(crate) enum Step {
    /// Nothing to do until an answer or a timer.
    Wait,
    /// The request was sent anew just now: arm a fresh attempt timeout.
    Sent,
    /// Try again after this long (the transport's `resend` is called then).
    RetryAfter(Duration),
    /// The final answer.
    Done(Response),
    /// Ended in an error without effect (rejected, or never sent).
    Rejected,
    /// Ended in an error after the request may have taken effect.
    Failed,
}

/// How one kind of target is reached: where requests go, what an answer
/// means, when to retry. The driver loop owns everything else.
#[allow(async_fn_in_trait)]
pub(crate) trait Transport {
    /// Per-logical-client state.
    type Client;
    /// One incoming answer.
    type Reply;
    /// The state of logical client `index`, whose id is `id`.
    fn client(&mut self, index: usize, id: ClientId) -> Self::Client;
    /// Sends a new request of client `c` (the transport may fill in
    /// protocol fields of `request` first).
    async fn start(
        &mut self,
        c: usize,
        client: &mut Self::Client,
        request: &mut ClientRequest,
    ) -> Step;
    /// The current attempt got no answer within the attempt timeout.
    async fn attempt_timeout(
        &mut self,
        c: usize,
        client: &mut Self::Client,
        request: &ClientRequest,
    ) -> Step;
    /// A `RetryAfter` delay is over: send again.
    async fn resend(
        &mut self,
        c: usize,
        client: &mut Self::Client,
        request: &ClientRequest,
    ) -> Step;
    /// Waits for the next answers (cancel-safe); `None` when no more can
    /// come.
    async fn recv(&mut self) -> Option<Vec<Self::Reply>>;
    /// The request a reply answers.
    fn addressee(reply: &Self::Reply) -> RequestId;
    /// An answer to client `c`'s current request.
    async fn on_reply(
        &mut self,
        c: usize,
        client: &mut Self::Client,
        request: &ClientRequest,
        reply: Self::Reply,
    ) -> Step;
    /// Client `c`'s operation ended (however it ended).
    fn finish(&mut self, client: &mut Self::Client, id: RequestId);
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
    state: C,
    ops: OpGenerator,
    next_seq: u64,
    current: Option<InFlight>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// Resend after a back-off.
    Resend,
    /// The attempt got no answer: ask the transport.
    AttemptTimeout,
    /// The whole operation is out of time.
    Deadline,
}

impl TimerKind {
    /// The timer queue lane of this kind: timers of one kind are armed in
    /// time order (a back-off is the exception), so each kind's lane stays
    /// a FIFO.
    fn lane(self) -> usize {
        self as usize
    }
}

/// A timer's payload: client, its operation's sequence number, attempt.
type Timer = (usize, u64, u32, TimerKind);

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

/// The replica logical client `c` lives beside, for partitions that split
/// the clients too (and for etcd, the member it talks to first).
pub(crate) fn home(c: usize, cluster_size: u32) -> NodeId {
    (c as u64 % u64::from(cluster_size.max(1))) as NodeId
}

struct Driver<T: Transport> {
    spec: WorkloadSpec,
    cfg: DriverConfig,
    transport: T,
    clients: Vec<Logical<T::Client>>,
    id_base: u64,
    timers: TimerQueue<Timer, 3>,
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

impl<T: Transport> Driver<T> {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn client_index(&self, id: ClientId) -> Option<usize> {
        let i = id.checked_sub(self.id_base + 1)?;
        usize::try_from(i).ok().filter(|&i| i < self.clients.len())
    }

    fn home(&self, c: usize) -> NodeId {
        home(c, self.cluster_size)
    }

    fn arm(&mut self, c: usize, at: Instant, attempt: u32, kind: TimerKind) {
        let Some(op) = self.clients[c].current.as_ref() else {
            return;
        };
        self.timers
            .push(kind.lane(), at, (c, op.request.id.seq, attempt, kind));
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
        let home = self.home(c);
        let side = self.cfg.reach.as_ref().and_then(|r| r.side_label(home));
        let client = &mut self.clients[c];
        let step = self
            .transport
            .start(c, &mut client.state, &mut request)
            .await;
        client.current = Some(InFlight {
            request,
            intended,
            sent,
            attempt: 0,
            side,
        });
        self.issued += 1;
        let now = Instant::now();
        self.arm(c, now + self.attempt_timeout, 0, TimerKind::AttemptTimeout);
        let deadline = self.start + intended + self.spec.request_timeout;
        self.arm(c, deadline.max(now), 0, TimerKind::Deadline);
        self.handle_step(c, step);
    }

    /// Ends client `c`'s operation and gives the client its next one.
    /// `maybe_applied` records an error as of unknown effect in the history.
    fn finish(
        &mut self,
        c: usize,
        outcome: OpOutcome,
        response: Option<Response>,
        maybe_applied: bool,
    ) {
        let now = self.elapsed();
        let Some(op) = self.clients[c].current.take() else {
            return;
        };
        let client = &mut self.clients[c];
        self.transport.finish(&mut client.state, op.request.id);
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
                    // Rejections and failures to send had no effect.
                    (OpOutcome::Error, _) if !maybe_applied => Outcome::Fail,
                    _ => Outcome::Unknown,
                },
            });
        }
        self.idle.push_back(c);
    }

    /// Acts on what the transport said about client `c`'s operation.
    fn handle_step(&mut self, c: usize, step: Step) {
        let retry = |d: &mut Self, after: Option<Duration>| {
            let Some(op) = d.clients[c].current.as_mut() else {
                return;
            };
            op.attempt += 1;
            let attempt = op.attempt;
            let now = Instant::now();
            match after {
                None => d.arm(
                    c,
                    now + d.attempt_timeout,
                    attempt,
                    TimerKind::AttemptTimeout,
                ),
                Some(after) => d.arm(c, now + after, attempt, TimerKind::Resend),
            }
        };
        match step {
            Step::Wait => {}
            Step::Sent => retry(self, None),
            Step::RetryAfter(after) => retry(self, Some(after)),
            Step::Done(response) => self.finish(c, OpOutcome::Ok, Some(response), false),
            Step::Rejected => self.finish(c, OpOutcome::Error, None, false),
            Step::Failed => self.finish(c, OpOutcome::Error, None, true),
        }
    }

    async fn on_timer(&mut self, c: usize, seq: u64, attempt: u32, kind: TimerKind) {
        let matches = self.clients[c].current.as_ref().is_some_and(|op| {
            op.request.id.seq == seq && (kind == TimerKind::Deadline || op.attempt == attempt)
        });
        if !matches {
            return;
        }
        let client = &mut self.clients[c];
        let Some(op) = client.current.as_ref() else {
            return;
        };
        let step = match kind {
            TimerKind::Deadline => {
                self.finish(c, OpOutcome::Timeout, None, true);
                return;
            }
            TimerKind::Resend => {
                self.transport
                    .resend(c, &mut client.state, &op.request)
                    .await
            }
            TimerKind::AttemptTimeout => {
                self.transport
                    .attempt_timeout(c, &mut client.state, &op.request)
                    .await
            }
        };
        self.handle_step(c, step);
    }

    async fn on_reply(&mut self, reply: T::Reply) {
        let id = T::addressee(&reply);
        let Some(c) = self.client_index(id.client) else {
            return;
        };
        let client = &mut self.clients[c];
        let Some(op) = client.current.as_ref().filter(|op| op.request.id == id) else {
            return;
        };
        let step = self
            .transport
            .on_reply(c, &mut client.state, &op.request, reply)
            .await;
        self.handle_step(c, step);
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

/// Runs `spec` through `transport` against a cluster of `cluster_size`
/// replicas, and returns what it measured.
pub(crate) async fn run<T: Transport>(
    spec: &WorkloadSpec,
    cluster_size: u32,
    mut transport: T,
    cfg: DriverConfig,
) -> DriverOutput {
    let logical = spec.logical_clients();
    let (share, shares) = (u64::from(cfg.share.0), u64::from(cfg.share.1.max(1)));
    let id_base = u64::from(cfg.driver) * 10_000_000;
    let slots = (share..logical).step_by(shares as usize);
    let clients: Vec<Logical<T::Client>> =
        OpGenerator::for_slots(spec, slots, logical, |i| id_base + (i - share) / shares + 1)
            .into_iter()
            .enumerate()
            .map(|(i, ops)| {
                let id = id_base + i as u64 + 1;
                Logical {
                    id,
                    state: transport.client(i, id),
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
    let start_unix_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let cpu_start = cpu_seconds();
    let mut d = Driver::<T> {
        recorder: Recorder::new(cfg.window, spec.measured()),
        spec: spec.clone(),
        transport,
        idle: (0..clients.len()).collect(),
        clients,
        id_base,
        timers: TimerQueue::new(),
        backlog: VecDeque::new(),
        start: Instant::now(),
        history: Vec::new(),
        issued: 0,
        backlogged: 0,
        attempt_timeout: spec.attempt_timeout,
        cluster_size,
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
        let next_timer = d.timers.peek_time();
        let arrival_at = next_arrival
            .filter(|t| *t < spec.duration)
            .map(|t| d.start + t);
        let wake = [next_timer, arrival_at, Some(hard_stop)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(hard_stop);
        tokio::select! {
            batch = d.transport.recv() => {
                let Some(batch) = batch else { break };
                for reply in batch {
                    d.on_reply(reply).await;
                }
            }
            () = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                while let Some((_, (c, seq, attempt, kind))) = d.timers.pop_due(now) {
                    d.on_timer(c, seq, attempt, kind).await;
                }
            }
        }
    }
    // Whatever is still outstanding at the hard stop timed out.
    for c in 0..d.clients.len() {
        if d.clients[c].current.is_some() {
            d.finish(c, OpOutcome::Timeout, None, true);
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
