//! The node-side, sans-IO interface that every protocol core implements.
//!
//! A core is driven by four kinds of input (peer message, client request,
//! timer fired, storage persisted up to a point) and answers only by pushing
//! [`Action`]s into the [`Ctx`] it is handed. It never sleeps, never reads a
//! clock and never draws randomness of its own: `ctx.now()` and `ctx.rng()`
//! are the only sources, which makes every simulator run reproducible from its
//! seed and lets the same code run over QUIC.
//!
//! # Durability contract
//!
//! A core that must not send something before a record is on stable storage
//! (Raft's term/vote/log, Paxos' promises and accepts) emits
//! [`Action::Persist`] *before* the dependent sends. Runtimes guarantee:
//!
//! 1. persist records are made durable in the order they were emitted, and
//!    [`Protocol::on_persisted`] reports the highest durable sequence number;
//! 2. every `Send`, `Broadcast` and `Reply` emitted after a `Persist` (in the
//!    same step or any later one) is held back until that persist is durable.
//!
//! Rule 2 is the one etcd/raft states for its `Ready` messages; it means a core
//! can write "persist, then send" and be correct without tracking which sends
//! depend on what. A crash loses every record that was not yet durable, and
//! the core is rebuilt from the durable ones by [`Protocol::recover`].

use crate::check::VersionModel;
use crate::client::{ClientLogic, ClientReply, ClientRequest};
use crate::kv::Key;
pub use crate::replication::{RecordedVersion, Replication, VersionedPromises};
use crate::types::{ClientId, NodeId, RequestId, Time};
use crate::vclock::VersionVector;
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::hash::Hash;
use std::time::Duration;

/// The membership of a cluster: replica ids are `0..size`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// Number of replicas.
    pub size: u32,
}

impl Cluster {
    /// A cluster of `size` replicas with ids `0..size`.
    pub fn new(size: u32) -> Cluster {
        Cluster { size }
    }

    /// All replica ids, in order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> + Clone {
        0..self.size
    }

    /// Whether `id` names a member (cores ignore messages from strangers).
    pub fn contains(&self, id: NodeId) -> bool {
        id < self.size
    }

    /// Size of a majority quorum, `floor(n/2) + 1`.
    pub fn majority(&self) -> usize {
        self.size as usize / 2 + 1
    }

    /// Byzantine fault threshold `f` for `n = 3f + 1` (rounded down).
    pub fn byzantine_f(&self) -> usize {
        (self.size as usize).saturating_sub(1) / 3
    }
}

/// What a node currently believes about itself, for the harness' status
/// endpoint, leader-targeted faults and the simulator's safety checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node's role.
    pub role: Role,
    /// The leader/primary this node follows, if it knows one.
    pub leader: Option<NodeId>,
    /// Term (Raft), ballot round (Paxos) or view (BFT); 0 for leaderless.
    pub term: u64,
    /// Highest log index known committed (0 if none or not log-based).
    pub commit_index: u64,
    /// Highest log index applied to the state machine.
    pub applied_index: u64,
}

/// A node's role, across protocol families.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Leader, primary or stable proposer.
    Leader,
    /// Campaigning for leadership (Raft candidate, Paxos phase 1 in progress).
    Candidate,
    /// Follower, backup or plain acceptor.
    Follower,
    /// Symmetric replica of a leaderless protocol.
    Replica,
}

/// Something a node reports for the experiment's timeline (`events.csv`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeEvent {
    /// This node became leader of `term` (Raft term, Paxos ballot round,
    /// BFT view).
    LeaderElected {
        /// The term, ballot round or view.
        term: u64,
    },
    /// This node stopped being leader (it saw a higher term or lost its lease).
    SteppedDown {
        /// The term it moved to.
        term: u64,
    },
    /// The node has applied everything the cluster had committed when it
    /// (re)joined: it is caught up after a restart or a partition.
    CaughtUp {
        /// Applied index at that moment.
        index: u64,
    },
    /// Free-form, for protocol-specific milestones (view change started, ...).
    Note(String),
}

/// One output of a core. Generic over the protocol's message, timer and
/// persist-record types; use [`ActionOf`] to name it for a protocol.
#[derive(Clone, Debug, PartialEq)]
pub enum Action<M, T, R> {
    /// Send `msg` to replica `to` (best effort: the network may lose it).
    Send {
        /// Destination replica.
        to: NodeId,
        /// The message.
        msg: M,
    },
    /// Send `msg` to every other replica of the cluster.
    Broadcast {
        /// The message.
        msg: M,
    },
    /// Answer a client (or redirect it).
    Reply {
        /// The logical client.
        to: ClientId,
        /// The answer.
        reply: ClientReply,
    },
    /// Fire `timer` after `after`; replaces a pending timer equal to it.
    SetTimer {
        /// Which timer (protocol-defined).
        timer: T,
        /// Delay from now.
        after: Duration,
    },
    /// Cancel a pending timer equal to `timer`, if any.
    CancelTimer {
        /// Which timer.
        timer: T,
    },
    /// Make `record` durable. `seq` increases by one per persist within one
    /// incarnation of the core, starting at 1 after `recover`. See the module
    /// docs for what the runtime holds back until it is durable.
    Persist {
        /// Per-incarnation sequence number.
        seq: u64,
        /// The record.
        record: R,
    },
    /// Report an event for the timeline.
    Emit(NodeEvent),
    /// The state machine applied the command at log position `index`. Used by
    /// the simulator's state-machine-safety check (no two nodes apply
    /// different commands at one index) and by runtimes for progress; `digest`
    /// identifies the command (0 for no-ops).
    Applied {
        /// Log index / sequence number.
        index: u64,
        /// The client request applied, if it was one.
        request: Option<RequestId>,
        /// Deterministic digest of what was applied.
        digest: u64,
    },
}

/// The action type of protocol `P`.
pub type ActionOf<P> =
    Action<<P as Protocol>::Message, <P as Protocol>::Timer, <P as Protocol>::Record>;

/// What a core receives with every input: the current time, a random source
/// and the list its actions go to.
pub struct Ctx<'a, P: Protocol> {
    now: Time,
    rng: &'a mut dyn RngCore,
    out: &'a mut Vec<ActionOf<P>>,
}

impl<'a, P: Protocol> Ctx<'a, P> {
    /// A context for one step of a core.
    pub fn new(now: Time, rng: &'a mut dyn RngCore, out: &'a mut Vec<ActionOf<P>>) -> Self {
        Ctx { now, rng, out }
    }

    /// The current time on the driver's monotonic clock.
    pub fn now(&self) -> Time {
        self.now
    }

    /// The only randomness a core may use.
    pub fn rng(&mut self) -> &mut dyn RngCore {
        self.rng
    }

    /// Queues a point-to-point message.
    pub fn send(&mut self, to: NodeId, msg: P::Message) {
        self.out.push(Action::Send { to, msg });
    }

    /// Queues a message to every other replica.
    pub fn broadcast(&mut self, msg: P::Message) {
        self.out.push(Action::Broadcast { msg });
    }

    /// Queues an answer to a client.
    pub fn reply(&mut self, to: ClientId, reply: ClientReply) {
        self.out.push(Action::Reply { to, reply });
    }

    /// Arms (or re-arms) a timer.
    pub fn set_timer(&mut self, timer: P::Timer, after: Duration) {
        self.out.push(Action::SetTimer { timer, after });
    }

    /// Disarms a timer.
    pub fn cancel_timer(&mut self, timer: P::Timer) {
        self.out.push(Action::CancelTimer { timer });
    }

    /// Asks for a record to be made durable.
    pub fn persist(&mut self, seq: u64, record: P::Record) {
        self.out.push(Action::Persist { seq, record });
    }

    /// Reports a timeline event.
    pub fn emit(&mut self, event: NodeEvent) {
        self.out.push(Action::Emit(event));
    }

    /// Reports that a log position was applied to the state machine.
    pub fn applied(&mut self, index: u64, request: Option<RequestId>, digest: u64) {
        self.out.push(Action::Applied {
            index,
            request,
            digest,
        });
    }
}

/// A replication protocol's node-side core.
///
/// Implementations must never panic on any input: messages may come from
/// unknown senders, carry stale or future terms, out-of-range indexes, or be
/// duplicated and reordered. Such input is ignored or answered safely.
pub trait Protocol: Sized {
    /// Peer-to-peer messages (serialized by `net` with postcard).
    type Message: Clone + Debug + Serialize + DeserializeOwned + Send + 'static;
    /// Timer identities; equal timers replace each other.
    type Timer: Clone + Debug + Eq + Ord + Hash + Send + 'static;
    /// Records written through [`Action::Persist`] and replayed by `recover`.
    type Record: Clone + Debug + Serialize + DeserializeOwned + Send + 'static;
    /// Tunables (timeouts, batch sizes), with documented defaults; read from
    /// an experiment's `protocol_config` (unknown fields rejected).
    type Config: Clone + Debug + Default + Send + Serialize + DeserializeOwned + 'static;
    /// The client-side logic that pairs with this core.
    type Client: ClientLogic;

    /// Short lowercase name used in experiment files and result rows.
    const NAME: &'static str;

    /// Whether every replica applies every command (log replication). The
    /// simulator's durability check then demands every acknowledged write on
    /// every replica after catch-up; otherwise on at least one. Only read
    /// through the default of [`Protocol::REPLICATION`].
    const REPLICATES_EVERYWHERE: bool = true;

    /// How replicas hold the data, which decides the simulator's
    /// replica-level checks (see [`Replication`]). Log-based protocols keep
    /// the default, derived from [`Protocol::REPLICATES_EVERYWHERE`].
    const REPLICATION: Replication = if Self::REPLICATES_EVERYWHERE {
        Replication::Log
    } else {
        Replication::Single
    };

    /// Whether the protocol executes compare-and-set. One that cannot (ABD:
    /// conditional writes need consensus) answers it with
    /// [`ReplyBody::Rejected`](crate::client::ReplyBody::Rejected);
    /// experiments with `cas_ratio > 0` are refused for it, and the
    /// simulator gives it no compare-and-set.
    const SUPPORTS_CAS: bool = true;

    /// What the versions in this protocol's responses promise; the
    /// linearizability checker reads histories of it accordingly.
    const VERSIONS: VersionModel = VersionModel::Counted;

    /// Whether client histories of this protocol must be linearizable (the
    /// simulator runs the linearizability checker only then). A store whose
    /// reads may return siblings (the Dynamo store) is not.
    const LINEARIZABLE: bool = true;

    /// Builds a node from the records that survived on stable storage (empty
    /// on first boot). Must tolerate any prefix of a previously written
    /// record sequence.
    fn recover(
        id: NodeId,
        cluster: &Cluster,
        config: &Self::Config,
        records: Vec<Self::Record>,
    ) -> Self;

    /// Called once after `recover`, before any other input: arm timers.
    fn start(&mut self, ctx: &mut Ctx<'_, Self>);

    /// A message from replica `from` arrived.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Self::Message);

    /// A client request arrived at this node.
    fn on_client_request(&mut self, ctx: &mut Ctx<'_, Self>, request: ClientRequest);

    /// A timer set earlier fired (and was not replaced or cancelled).
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer);

    /// Every persist with `seq <= upto` is now durable.
    fn on_persisted(&mut self, ctx: &mut Ctx<'_, Self>, upto: u64);

    /// What the node believes about itself right now.
    fn status(&self) -> NodeStatus;

    /// The client-side logic for one logical client of this protocol.
    fn client(cluster: &Cluster, config: &Self::Config, client: ClientId) -> Self::Client;

    /// For [`Replication::Registers`] protocols: the version of `key` this
    /// replica holds (0 if none), numbered like the versions of its client
    /// responses. The simulator asks it of replicas rebuilt by `recover`
    /// from their durable records only. `None`: no per-key registers.
    fn held_version(&self, key: Key) -> Option<u64> {
        let _ = key;
        None
    }

    /// For [`Replication::Versioned`] protocols: whether this replica, as
    /// an owner of `key` (a member of its preference list, not a stand-in
    /// holding a hint), holds `key` at `clock` or at a version descending
    /// from it. The simulator asks it of replicas rebuilt by `recover` from
    /// their durable records only.
    fn owns_version(&self, key: Key, clock: &VersionVector) -> bool {
        let _ = (key, clock);
        false
    }

    /// For [`Replication::Versioned`] protocols: the version a durable
    /// record holds, if it holds one. Every version a replica ever sends is
    /// durable first, so the records of all replicas together name every
    /// version a read can return; the simulator's stale-read check reads
    /// the clocks of returned values from them.
    fn recorded_version(record: &Self::Record) -> Option<RecordedVersion> {
        let _ = record;
        None
    }

    /// What a [`Replication::Versioned`] protocol promises in `config` on
    /// `cluster` (durable owners per acknowledged put, fresh reads).
    fn versioned_promises(cluster: &Cluster, config: &Self::Config) -> VersionedPromises {
        let _ = (cluster, config);
        VersionedPromises::default()
    }

    /// Whether this replica has no background work left that the end-of-run
    /// checks depend on (the Dynamo store: hints not yet handed off). The
    /// simulator waits, within the liveness bound, until every replica of
    /// a [`Replication::Versioned`] protocol is up and settled.
    fn settled(&self) -> bool {
        true
    }

    /// Whether `node` is configured to be faulty (Byzantine) in `config`:
    /// a test-only knob of the Byzantine protocols. The simulator's
    /// replica-level checks (election safety, state-machine safety, apply
    /// order, durability, convergence) judge only the other replicas;
    /// client-level checks are unchanged.
    fn is_faulty(config: &Self::Config, node: NodeId) -> bool {
        let _ = (config, node);
        false
    }

    /// The timing knobs of `config` that experiments reason about (crash a
    /// leader within its heartbeat cycle, label election-timeout ranges).
    /// Protocols without leaders keep the default: none.
    fn timing(config: &Self::Config) -> Timing {
        let _ = config;
        Timing::default()
    }

    /// How replicas authenticate what they say to each other under
    /// `config` (a column of `summary.csv`). Protocols without an
    /// authentication knob rely on the transport alone: none.
    fn auth(config: &Self::Config) -> crate::auth::AuthMode {
        let _ = config;
        crate::auth::AuthMode::None
    }
}

/// Leader-related timing of a protocol configuration.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// Period of the leader's heartbeats.
    pub heartbeat: Option<Duration>,
    /// Range from which election (or leader-suspicion) timeouts are drawn.
    pub election_timeout: Option<(Duration, Duration)>,
}
