//! What a simulated run reports: violations of the checks and statistics.

use crate::check::KeyViolation;
use crate::kv::Value;
use crate::types::{NodeId, RequestId, Time};
use crate::vclock::VersionVector;
use std::fmt;

/// A broken guarantee found by one of the simulator's checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two nodes claimed leadership of the same term/ballot/view.
    ElectionSafety {
        /// The term.
        term: u64,
        /// The node that claimed it first.
        first: NodeId,
        /// The node that claimed it again.
        second: NodeId,
        /// When the second claim happened.
        at: Time,
    },
    /// Two nodes applied different commands at the same log index.
    StateMachineSafety {
        /// The index.
        index: u64,
        /// The node that applied it first, and the digest it applied.
        first: (NodeId, u64),
        /// The node that disagreed, and its digest.
        second: (NodeId, u64),
        /// When the disagreement was seen.
        at: Time,
    },
    /// A node applied log positions out of order or with a gap.
    ApplyOrder {
        /// The node.
        node: NodeId,
        /// The index it should have applied next.
        expected: u64,
        /// The index it applied.
        got: u64,
        /// When.
        at: Time,
    },
    /// After the heal and catch-up, a node had not applied an acknowledged
    /// write.
    Durability {
        /// The node.
        node: NodeId,
        /// The acknowledged write it lacks.
        request: RequestId,
    },
    /// An acknowledged write of a quorum-replicated register survives on
    /// fewer replicas' durable state than a quorum.
    QuorumDurability {
        /// The write.
        request: RequestId,
        /// Its key.
        key: u64,
        /// The version it was acknowledged with.
        version: u64,
        /// Replicas whose durable records hold the key at that version or
        /// a later one.
        copies: usize,
        /// The quorum size.
        needed: usize,
    },
    /// An acknowledged put of a version-vector store survives on fewer of
    /// its key's owners' durable state than the configuration promises.
    OwnerDurability {
        /// The put.
        request: RequestId,
        /// Its key.
        key: u64,
        /// The clock it was acknowledged with.
        clock: VersionVector,
        /// Owners whose durable records hold that clock or a later version.
        copies: usize,
        /// Owners promised ([`VersionedPromises::durable_owners`]).
        ///
        /// [`VersionedPromises::durable_owners`]: crate::core::VersionedPromises::durable_owners
        needed: usize,
    },
    /// A read of a store that promises fresh reads returned no version
    /// descending from a put acknowledged before the read was invoked.
    StaleRead {
        /// The read.
        read: RequestId,
        /// The key.
        key: u64,
        /// When the read was invoked.
        invoked: Time,
        /// An acknowledged put it missed (the earliest acknowledged).
        missed: RequestId,
        /// When that put was acknowledged.
        acked: Time,
    },
    /// A read returned a value that no replica ever recorded for its key.
    PhantomRead {
        /// The read.
        read: RequestId,
        /// The key.
        key: u64,
        /// The value nobody wrote.
        value: Value,
    },
    /// A request did not complete within the liveness bound after the heal.
    Liveness {
        /// The request (or, for a stuck final phase, the client's last).
        request: RequestId,
        /// When it was first invoked.
        invoked: Time,
    },
    /// The client-observed history has no linearization.
    Linearizability(Box<KeyViolation>),
    /// The linearizability search ran out of budget on these keys.
    LinearizabilityUnknown {
        /// The keys.
        keys: Vec<u64>,
    },
    /// The run hit the event cap (a livelock, or a protocol that never rests).
    EventBudget {
        /// Events processed.
        events: u64,
    },
    /// A core broke the runtime contract (e.g. persist sequence numbers not
    /// increasing).
    Contract {
        /// The node.
        node: NodeId,
        /// What it did.
        detail: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::ElectionSafety { term, first, second, at } => write!(
                f,
                "election safety: nodes {first} and {second} both leader of term {term} (at {at})"
            ),
            Violation::StateMachineSafety { index, first, second, at } => write!(
                f,
                "state-machine safety: index {index}: node {} applied {:#x}, node {} applied {:#x} (at {at})",
                first.0, first.1, second.0, second.1
            ),
            Violation::ApplyOrder { node, expected, got, at } => write!(
                f,
                "apply order: node {node} applied index {got}, expected {expected} (at {at})"
            ),
            Violation::Durability { node, request } => write!(
                f,
                "durability: node {node} never applied acknowledged write {request}"
            ),
            Violation::QuorumDurability { request, key, version, copies, needed } => write!(
                f,
                "durability: acknowledged write {request} (key {key}, version {version}) is held by {copies} replicas' durable records, fewer than a quorum of {needed}"
            ),
            Violation::OwnerDurability { request, key, clock, copies, needed } => write!(
                f,
                "durability: acknowledged put {request} (key {key}, clock {clock:?}) is held by {copies} owners' durable records, fewer than the {needed} promised"
            ),
            Violation::StaleRead { read, key, invoked, missed, acked } => write!(
                f,
                "stale read: read {read} of key {key} (invoked at {invoked}) returned no version descending from put {missed}, acknowledged at {acked}"
            ),
            Violation::PhantomRead { read, key, value } => write!(
                f,
                "phantom read: read {read} of key {key} returned {value:?}, which no replica recorded"
            ),
            Violation::Liveness { request, invoked } => write!(
                f,
                "liveness: request {request} (invoked at {invoked}) did not complete within the bound after the heal"
            ),
            Violation::Linearizability(v) => write!(f, "linearizability: {v}"),
            Violation::LinearizabilityUnknown { keys } => write!(
                f,
                "linearizability: search budget exhausted on keys {keys:?}"
            ),
            Violation::EventBudget { events } => {
                write!(f, "event budget: stopped after {events} events (livelock?)")
            }
            Violation::Contract { node, detail } => {
                write!(f, "runtime contract: node {node}: {detail}")
            }
        }
    }
}

/// Counters of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Events processed.
    pub events: u64,
    /// Replica-to-replica messages handed to the network.
    pub messages_sent: u64,
    /// Their encoded size (postcard, plus the 4-byte frame header of the
    /// real transport), with `SimConfig::count_bytes`; else 0.
    pub bytes_sent: u64,
    /// Client requests sent (one per destination replica, resends too) and
    /// replies sent by replicas: the traffic a protocol moves between the
    /// clients and the replicas rather than among replicas.
    pub client_messages: u64,
    /// Replica-to-replica messages delivered to a running node.
    pub messages_delivered: u64,
    /// Client operations completed.
    pub ops_completed: u64,
    /// Client operations that failed for good (rejected by the protocol).
    pub ops_failed: u64,
    /// Crashes injected.
    pub crashes: u64,
    /// Link faults injected (partitions, cuts, isolations, slow links).
    pub link_faults: u64,
    /// Leader elections observed.
    pub elections: u64,
    /// Reads judged for staleness (version-vector stores only).
    pub reads_judged: u64,
    /// Judged reads that missed a put acknowledged before their invocation
    /// (a violation only where the configuration promises fresh reads).
    pub stale_reads: u64,
    /// Simulated time at the end of the run.
    pub end_time: Time,
}

/// Load figures of a run: the operations invoked and completed (ok) inside
/// the measured window, the fault phase less its first fifth (the warm-up,
/// while clients start and the first leader is chosen).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Measured {
    /// Length of the window.
    pub window: std::time::Duration,
    /// Operations in it.
    pub ops: u64,
    /// Their latencies (invocation to final answer), in nanoseconds.
    pub latencies_ns: Vec<u64>,
}

impl Measured {
    /// Operations per simulated second.
    pub fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.window.as_secs_f64().max(1e-9)
    }
}

/// The outcome of [`super::Simulation::run`].
#[derive(Clone, Debug)]
pub struct SimReport {
    /// The protocol's name.
    pub protocol: &'static str,
    /// The seed that reproduces the run.
    pub seed: u64,
    /// Everything the checks found (empty = the run passed).
    pub violations: Vec<Violation>,
    /// Counters.
    pub stats: SimStats,
    /// Throughput and latency in the measured window.
    pub measured: Measured,
    /// Digest of the event trace: equal seeds give equal digests.
    pub trace_digest: u64,
    /// Full textual trace, when `record_trace` was set.
    pub trace: Vec<String>,
}

impl SimReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} seed {}: {} violation(s); {:?}",
            self.protocol,
            self.seed,
            self.violations.len(),
            self.stats
        )?;
        for v in self.violations.iter().take(10) {
            writeln!(f, "  - {v}")?;
        }
        if self.violations.len() > 10 {
            writeln!(f, "  ... and {} more", self.violations.len() - 10)?;
        }
        Ok(())
    }
}
