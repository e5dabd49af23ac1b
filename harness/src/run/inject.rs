//! Carrying out an experiment's fault timeline on a cluster (of any
//! backend), while the driver runs. Faults and heals are logged as events
//! on the same (Unix-time based) clock as the nodes' own events.
//!
//! Processes are crashed, restarted and paused through the
//! [`ClusterBackend`]. quorumlab nodes are also reached over a control
//! endpoint (their status, for `leader`, and link shaping); a system
//! without one (etcd) names its leader through [`ClusterBackend::leader`]
//! and has no link faults.

use crate::backend::{Cluster, ClusterBackend};
use crate::experiment::faults::{Fault, Target};
use net::{Endpoint, Inbox, PeerIdentity};
use protocols::core::{NodeStatus, Role};
use protocols::wire::{ControlReply, ControlRequest, LinkShape, Traffic, Wire};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// A fault event for `events.csv`: Unix ns, node ("all" for cluster-wide),
/// kind, detail.
pub type FaultEvent = (u128, String, String, String);

/// What a strike resolved to, so the heal undoes exactly that.
#[derive(Clone, Debug)]
enum Undo {
    Restart(u32),
    Resume(u32),
    ClearLinks,
    Nothing,
}

/// Now, in nanoseconds since the Unix epoch (the clock of `events.csv`).
pub fn unix_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// The nodes' control endpoint and its inbox.
type Control<'a, M> = (&'a Endpoint<Wire<M>>, Inbox<Wire<M>>);

/// Runs faults against a cluster.
pub struct Injector<'a, M> {
    cluster: &'a Cluster,
    /// The nodes' control endpoint and its inbox (quorumlab nodes only).
    control: Option<Control<'a, M>>,
    nodes: u32,
    /// Shapes that stay for the whole run (re-applied after every heal).
    baseline: Vec<(u32, LinkShape)>,
    /// Everything injected and healed.
    pub events: Vec<FaultEvent>,
    /// Client-side view of partitions, when they split the clients too.
    reach: Option<workloads::reach::ClientReach>,
    /// When to read the replicas' traffic counters (offsets from start).
    probes: Vec<Duration>,
    /// The counters read at each probe, by node (nodes that did not answer
    /// are missing).
    pub traffic: Vec<BTreeMap<u32, Traffic>>,
}

impl<'a, M> Injector<'a, M>
where
    M: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    /// An injector for `nodes` replicas reachable through `control`.
    /// The cluster's baseline shapes (see [`ClusterBackend::baseline`])
    /// are applied at once.
    pub fn new(
        cluster: &'a Cluster,
        control: &'a Endpoint<Wire<M>>,
        inbox: Inbox<Wire<M>>,
        nodes: u32,
    ) -> Self {
        let injector = Injector {
            cluster,
            control: Some((control, inbox)),
            nodes,
            baseline: cluster.baseline(),
            events: Vec::new(),
            reach: None,
            probes: Vec::new(),
            traffic: Vec::new(),
        };
        injector.apply_baseline();
        injector
    }

    /// An injector for `nodes` replicas that have no control endpoint
    /// (etcd members): process faults only, the leader from the backend.
    pub fn without_control(cluster: &'a Cluster, nodes: u32) -> Self {
        Injector {
            cluster,
            control: None,
            nodes,
            baseline: Vec::new(),
            events: Vec::new(),
            reach: None,
            probes: Vec::new(),
            traffic: Vec::new(),
        }
    }

    fn apply_baseline(&self) {
        for (n, shape) in &self.baseline {
            self.shape(*n, shape.clone());
        }
    }

    /// Makes partitions split the driver's clients too (see
    /// `workloads::reach`): the injector keeps `reach` up to date.
    pub fn with_client_reach(mut self, reach: workloads::reach::ClientReach) -> Self {
        self.reach = Some(reach);
        self
    }

    /// Reads every replica's traffic counters at `times` (offsets from the
    /// start given to [`Injector::run`]) into [`Injector::traffic`].
    pub fn with_traffic_probes(mut self, times: &[Duration]) -> Self {
        self.probes = times.to_vec();
        self
    }

    /// What the replicas sent between the first and the last probe, summed
    /// (`None` unless both probes were answered by every replica).
    pub fn traffic_between_probes(&self) -> Option<Traffic> {
        let (first, last) = (self.traffic.first()?, self.traffic.last()?);
        if self.traffic.len() < 2
            || first.len() as u32 != self.nodes
            || last.len() as u32 != self.nodes
        {
            return None;
        }
        let mut sum = Traffic::default();
        for (n, end) in last {
            sum.add(end.since(first.get(n).copied().unwrap_or_default()));
        }
        Some(sum)
    }

    fn log(&mut self, node: String, kind: &str, detail: String) {
        self.events
            .push((unix_ns(), node, kind.to_string(), detail));
    }

    /// Asks every node `request` and keeps the answers that `pick` takes,
    /// from the nodes that answer within `wait` (crashed or paused nodes
    /// never do); nothing without a control endpoint.
    async fn ask<T>(
        &mut self,
        request: ControlRequest,
        wait: Duration,
        pick: impl Fn(ControlReply) -> Option<T>,
    ) -> BTreeMap<u32, T> {
        let mut answers = BTreeMap::new();
        let nodes = self.nodes;
        let Some((control, inbox)) = self.control.as_mut() else {
            return answers;
        };
        while inbox.try_recv().is_ok() {}
        for n in 0..nodes {
            let _ = control.try_send(PeerIdentity::Node(n), &Wire::Control(request.clone()));
        }
        let until = Instant::now() + wait;
        while (answers.len() as u32) < nodes {
            let Ok(Some((from, msg))) = tokio::time::timeout_at(until, inbox.recv()).await else {
                break;
            };
            if let (PeerIdentity::Node(n), Wire::ControlReply(reply)) = (from, msg) {
                if let Some(t) = pick(reply) {
                    answers.insert(n, t);
                }
            }
        }
        answers
    }

    /// The status of every node that answers within `wait`.
    pub async fn statuses(&mut self, wait: Duration) -> BTreeMap<u32, NodeStatus> {
        self.ask(ControlRequest::Status, wait, |r| match r {
            ControlReply::Status(s) => Some(s),
            _ => None,
        })
        .await
    }

    /// The traffic counters of every node that answers within `wait`.
    async fn read_traffic(&mut self, wait: Duration) -> BTreeMap<u32, Traffic> {
        self.ask(ControlRequest::Traffic, wait, |r| match r {
            ControlReply::Traffic(t) => Some(t),
            _ => None,
        })
        .await
    }

    /// The current leader, from the nodes' status (highest term wins), or
    /// without a control endpoint from the backend.
    /// Asks up to four times (a loaded machine can delay a status reply
    /// past one 150 ms round), so a fault is not skipped for a slow answer.
    async fn leader(&mut self) -> Option<u32> {
        if self.control.is_none() {
            for _ in 0..4 {
                if let Some(n) = self.cluster.leader().await {
                    return Some(n);
                }
            }
            return None;
        }
        for _ in 0..4 {
            let found = self
                .statuses(Duration::from_millis(150))
                .await
                .into_iter()
                .filter(|(_, s)| s.role == Role::Leader)
                .max_by_key(|(_, s)| s.term)
                .map(|(n, _)| n);
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// SIGKILLs node `n` and logs it with `detail`.
    pub async fn crash(&mut self, n: u32, detail: String) {
        match self.cluster.crash(n).await {
            Ok(()) => self.log(n.to_string(), "fault_crash", detail),
            Err(e) => self.log(n.to_string(), "fault_skipped", format!("crash: {e:#}")),
        }
    }

    /// Restarts node `n` (from its write-ahead log) and logs it.
    pub async fn restart(&mut self, n: u32) -> anyhow::Result<()> {
        let result = self.cluster.restart(n).await;
        match &result {
            Ok(()) => {
                if let Some((control, _)) = &self.control {
                    control.reconnect(PeerIdentity::Node(n));
                }
                // A new process starts unshaped: give it its baseline back
                // (queued until the control link reconnects).
                for (m, shape) in &self.baseline {
                    if *m == n {
                        self.shape(n, shape.clone());
                    }
                }
                self.log(n.to_string(), "fault_restart", String::new());
            }
            Err(e) => self.log(n.to_string(), "fault_skipped", format!("restart: {e}")),
        }
        result
    }

    /// Adds `delay` plus uniform `jitter` to every outgoing link of `node`
    /// (not logged: a setting, not a fault).
    pub fn delay_links_of(&self, node: u32, delay: Duration, jitter: Duration) {
        self.shape(
            node,
            LinkShape {
                delay_us: delay.as_micros() as u64,
                jitter_us: jitter.as_micros() as u64,
                ..LinkShape::default()
            },
        );
    }

    async fn resolve(&mut self, t: &Target) -> Option<u32> {
        match t {
            Target::Id(n) => Some(*n),
            Target::Named(_) => self.leader().await,
        }
    }

    fn shape(&self, node: u32, shape: LinkShape) {
        let Some((control, _)) = &self.control else {
            return;
        };
        let _ = control.try_send(
            PeerIdentity::Node(node),
            &Wire::Control(ControlRequest::Shape(shape)),
        );
    }

    fn clear_links(&self) {
        if let Some(reach) = &self.reach {
            reach.heal();
        }
        for n in 0..self.nodes {
            self.shape(n, LinkShape::default());
        }
        self.apply_baseline();
    }

    fn partition(&self, groups: &[Vec<u32>]) {
        if let Some(reach) = &self.reach {
            reach.partition(groups, self.nodes);
        }
        let group_of = |n: u32| groups.iter().position(|g| g.contains(&n));
        for n in 0..self.nodes {
            let others: Vec<u32> = (0..self.nodes)
                .filter(|&m| m != n && group_of(m) != group_of(n))
                .collect();
            if !others.is_empty() {
                self.shape(
                    n,
                    LinkShape {
                        to: others,
                        blocked: true,
                        ..LinkShape::default()
                    },
                );
            }
        }
    }

    async fn strike(&mut self, fault: &Fault) -> Undo {
        let kind = fault.kind();
        match fault {
            Fault::Crash { node, .. } => {
                let Some(n) = self.resolve(node).await else {
                    self.log(
                        "all".into(),
                        "fault_skipped",
                        format!("{kind}: no leader to target"),
                    );
                    return Undo::Nothing;
                };
                self.crash(n, format!("SIGKILL ({node})")).await;
                Undo::Restart(n)
            }
            Fault::Restart { node, .. } => {
                let _ = self.restart(*node).await;
                Undo::Nothing
            }
            Fault::Pause { node, .. } => {
                let Some(n) = self.resolve(node).await else {
                    self.log(
                        "all".into(),
                        "fault_skipped",
                        format!("{kind}: no leader to target"),
                    );
                    return Undo::Nothing;
                };
                let _ = self.cluster.signal(n, libc::SIGSTOP).await;
                self.log(n.to_string(), "fault_pause", format!("SIGSTOP ({node})"));
                Undo::Resume(n)
            }
            Fault::Partition { groups, .. } => {
                self.partition(groups);
                self.log(
                    "all".into(),
                    "fault_partition",
                    format!("{groups:?}").replace(',', ";"),
                );
                Undo::ClearLinks
            }
            Fault::Isolate { node, .. } => {
                let Some(n) = self.resolve(node).await else {
                    self.log(
                        "all".into(),
                        "fault_skipped",
                        format!("{kind}: no leader to target"),
                    );
                    return Undo::Nothing;
                };
                let rest: Vec<u32> = (0..self.nodes).filter(|&m| m != n).collect();
                self.partition(&[vec![n], rest]);
                self.log(n.to_string(), "fault_isolate", format!("{node}"));
                Undo::ClearLinks
            }
            Fault::Cut { from, to, .. } => {
                let (Some(a), Some(b)) = (self.resolve(from).await, self.resolve(to).await) else {
                    self.log(
                        "all".into(),
                        "fault_skipped",
                        format!("{kind}: no leader to target"),
                    );
                    return Undo::Nothing;
                };
                self.shape(
                    a,
                    LinkShape {
                        to: vec![b],
                        blocked: true,
                        ..LinkShape::default()
                    },
                );
                self.log(a.to_string(), "fault_cut", format!("{a} -> {b}"));
                Undo::ClearLinks
            }
            Fault::Delay {
                delay,
                jitter,
                loss,
                ..
            } => {
                for n in 0..self.nodes {
                    self.shape(
                        n,
                        LinkShape {
                            delay_us: delay.as_micros() as u64,
                            jitter_us: jitter.as_micros() as u64,
                            loss: *loss,
                            ..LinkShape::default()
                        },
                    );
                }
                self.log(
                    "all".into(),
                    "fault_delay",
                    format!("delay {delay:?} jitter {jitter:?} loss {loss}"),
                );
                Undo::ClearLinks
            }
            Fault::Heal { .. } => {
                self.heal_all().await;
                Undo::Nothing
            }
        }
    }

    async fn heal_all(&mut self) {
        self.clear_links();
        for n in 0..self.nodes {
            let _ = self.cluster.signal(n, libc::SIGCONT).await;
        }
        self.log(
            "all".into(),
            "fault_heal",
            "links cleared, paused nodes resumed".into(),
        );
    }

    async fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Restart(n) => {
                let _ = self.restart(n).await;
            }
            Undo::Resume(n) => {
                let _ = self.cluster.signal(n, libc::SIGCONT).await;
                self.log(n.to_string(), "fault_resume", "SIGCONT".into());
            }
            Undo::ClearLinks => {
                self.clear_links();
                self.log("all".into(), "fault_heal", "links cleared".into());
            }
            Undo::Nothing => {}
        }
    }

    /// Plays `faults` on the clock that started at `start`.
    pub async fn run(&mut self, faults: &[Fault], start: Instant) {
        enum Step {
            Strike(usize),
            Undo(Undo),
            Probe,
        }
        let mut queue: BinaryHeap<Reverse<(Duration, usize)>> = BinaryHeap::new();
        let mut steps: BTreeMap<usize, Step> = BTreeMap::new();
        for (i, f) in faults.iter().enumerate() {
            steps.insert(i, Step::Strike(i));
            queue.push(Reverse((f.at(), i)));
        }
        let mut next_id = faults.len();
        for &at in &self.probes {
            steps.insert(next_id, Step::Probe);
            queue.push(Reverse((at, next_id)));
            next_id += 1;
        }
        while let Some(Reverse((at, id))) = queue.pop() {
            tokio::time::sleep_until(start + at).await;
            match steps.remove(&id) {
                Some(Step::Strike(i)) => {
                    let undo = self.strike(&faults[i]).await;
                    if let Some(d) = faults[i].duration() {
                        steps.insert(next_id, Step::Undo(undo));
                        queue.push(Reverse((at + d, next_id)));
                        next_id += 1;
                    }
                }
                Some(Step::Undo(u)) => self.undo(u).await,
                Some(Step::Probe) => {
                    let t = self.read_traffic(Duration::from_millis(500)).await;
                    self.traffic.push(t);
                }
                None => {}
            }
        }
    }
}
