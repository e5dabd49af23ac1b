//! Raft's tunables.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Tunables of [`super::Raft`]. Defaults follow the Raft paper (election
/// timeouts of 150-300 ms, heartbeats well below the minimum timeout) and
/// etcd/raft's flow control (bounded in-flight appends, bounded batch size).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RaftConfig {
    /// Lower bound of the randomized election timeout.
    #[serde(with = "crate::durations")]
    pub election_timeout_min: Duration,
    /// Upper bound of the randomized election timeout.
    #[serde(with = "crate::durations")]
    pub election_timeout_max: Duration,
    /// Leader heartbeat period (also the retransmission period).
    #[serde(with = "crate::durations")]
    pub heartbeat_interval: Duration,
    /// Most entries in one AppendEntries message (the batch limit).
    pub max_entries_per_append: usize,
    /// Most AppendEntries per follower sent but not yet answered (the
    /// pipeline depth).
    pub max_inflight_appends: u32,
    /// Serve reads by appending them to the log instead of ReadIndex.
    pub reads_through_log: bool,
    /// Deliberately broken variant: the leader commits entries as soon as it
    /// has appended them, without a majority. Only for proving that the
    /// simulator's checks catch unsafe protocols.
    #[doc(hidden)]
    #[serde(skip)]
    pub unsafe_commit_without_majority: bool,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            election_timeout_min: Duration::from_millis(150),
            election_timeout_max: Duration::from_millis(300),
            heartbeat_interval: Duration::from_millis(50),
            max_entries_per_append: 64,
            max_inflight_appends: 4,
            reads_through_log: false,
            unsafe_commit_without_majority: false,
        }
    }
}
