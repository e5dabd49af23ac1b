//! The Dynamo store's versions, peer messages, timers and persist records.

use crate::kv::{Key, Value};
use crate::types::NodeId;
use crate::vclock::VersionVector;
use serde::{Deserialize, Serialize};

/// One version of a key: a value and the clock that places it in the
/// key's causal history. Actors in the clock are coordinator incarnations
/// (see [`super::actor_id`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Causal position of this version.
    pub clock: VersionVector,
    /// The value written.
    pub value: Value,
}

/// Identifies one coordinated request on its coordinator: the coordinator's
/// incarnation in the high 32 bits, a per-incarnation counter below, so
/// late replies to a previous incarnation never match a new request.
pub type OpId = u64;

/// Peer-to-peer messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DynamoMessage {
    /// Coordinator to replica: store `version` of `key` durably, as its
    /// owner, or (with `hint`) on behalf of the owner named there.
    Store {
        /// The coordinator's request.
        op: OpId,
        /// The key.
        key: Key,
        /// The new version.
        version: Version,
        /// The preference-list member this node stands in for (sloppy
        /// quorum), if any.
        hint: Option<NodeId>,
    },
    /// Replica to coordinator: `clock` of `key` (or a version descending
    /// from it) is durable here.
    Stored {
        /// The coordinator's request.
        op: OpId,
        /// The key.
        key: Key,
        /// The clock of the version stored.
        clock: VersionVector,
    },
    /// Coordinator to replica: send your versions of `key`.
    Fetch {
        /// The coordinator's request.
        op: OpId,
        /// The key.
        key: Key,
    },
    /// Replica to coordinator: every version of `key` held here (its own
    /// siblings and any hinted ones).
    Fetched {
        /// The coordinator's request.
        op: OpId,
        /// The key.
        key: Key,
        /// The versions, none dominated by another.
        versions: Vec<Version>,
    },
    /// Read repair: versions a replica returned stale; no answer expected.
    Repair {
        /// The key.
        key: Key,
        /// Versions to merge in.
        versions: Vec<Version>,
    },
    /// Hinted hand-off: versions kept for the recipient while it was
    /// unreachable.
    Handoff {
        /// Per key, the hinted versions.
        entries: Vec<(Key, Vec<Version>)>,
    },
    /// The owner stored the handed-off versions durably: per key, the
    /// clocks now covered, so the holder can drop its hints.
    HandoffAck {
        /// Per key, the clocks stored.
        entries: Vec<(Key, Vec<VersionVector>)>,
    },
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DynamoTimer {
    /// Resend unanswered replica requests of a coordinated request (and
    /// enlist fallbacks), or give up on it at its deadline.
    Retry(OpId),
    /// Periodic hinted hand-off attempt.
    Handoff,
}

/// What a node writes to stable storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DynamoRecord {
    /// The node started incarnation `n` (its coordinator actor id).
    Incarnation(u32),
    /// A version of a key this node stores as owner.
    Stored {
        /// The key.
        key: Key,
        /// The version.
        version: Version,
    },
    /// A version held for `owner` (sloppy quorum), to be handed off.
    Hint {
        /// The preference-list member the version is meant for.
        owner: NodeId,
        /// The key.
        key: Key,
        /// The version.
        version: Version,
    },
    /// `owner` acknowledged these clocks of `key`: the hints they cover
    /// are gone.
    HintDelivered {
        /// The owner.
        owner: NodeId,
        /// The key.
        key: Key,
        /// Clocks the owner stored.
        clocks: Vec<VersionVector>,
    },
}
