//! Multi-Paxos tunables.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Tunables of [`super::MultiPaxos`]; defaults mirror Raft's so the two are
/// compared on equal terms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultiPaxosConfig {
    /// Leader heartbeat period (also the retransmission period).
    #[serde(with = "crate::durations")]
    pub heartbeat_interval: Duration,
    /// Lower bound of the randomized leader timeout after which a replica
    /// starts phase 1.
    #[serde(with = "crate::durations")]
    pub leader_timeout_min: Duration,
    /// Upper bound of that timeout.
    #[serde(with = "crate::durations")]
    pub leader_timeout_max: Duration,
    /// Most client requests in one slot.
    pub max_batch: usize,
    /// Most slots proposed but not yet chosen (the pipeline depth).
    pub max_inflight_slots: usize,
    /// Deliberately broken variant: a new leader skips phase 1 and may
    /// overwrite chosen values. Only for proving the simulator's checks.
    #[doc(hidden)]
    #[serde(skip)]
    pub unsafe_skip_phase1: bool,
}

impl Default for MultiPaxosConfig {
    fn default() -> Self {
        MultiPaxosConfig {
            heartbeat_interval: Duration::from_millis(50),
            leader_timeout_min: Duration::from_millis(150),
            leader_timeout_max: Duration::from_millis(300),
            max_batch: 64,
            max_inflight_slots: 8,
            unsafe_skip_phase1: false,
        }
    }
}
