//! Ballots, messages, timers and persist records of Multi-Paxos.

use crate::client::ClientRequest;
use crate::types::NodeId;
use serde::{Deserialize, Serialize};

/// A ballot: totally ordered by round, then proposer id, so two proposers
/// never share one.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Ballot {
    /// Round number.
    pub round: u64,
    /// The proposer.
    pub node: NodeId,
}

impl Ballot {
    /// A single number unique per ballot, reported as the "term" in status
    /// and `LeaderElected` events: `round * 65536 + node`.
    pub fn as_term(self) -> u64 {
        self.round
            .saturating_mul(65_536)
            .saturating_add(u64::from(self.node))
    }
}

/// The value of one slot: a batch of client requests (empty = no-op).
pub type Batch = Vec<ClientRequest>;

/// Peer messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaxosMessage {
    /// Phase 1a, for every slot from `from_slot` on.
    Prepare {
        /// The proposer's ballot.
        ballot: Ballot,
        /// First slot the proposer does not know chosen.
        from_slot: u64,
    },
    /// Phase 1b.
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// Everything accepted at or after the requested slot.
        accepted: Vec<(u64, Ballot, Batch)>,
    },
    /// A higher ballot was promised: the sender must stop.
    Nack {
        /// The ballot the acceptor promised.
        promised: Ballot,
    },
    /// Phase 2a.
    Accept {
        /// The leader's ballot.
        ballot: Ballot,
        /// The slot.
        slot: u64,
        /// The value.
        batch: Batch,
        /// Every slot up to this one is chosen.
        commit: u64,
    },
    /// Phase 2b.
    Accepted {
        /// The ballot accepted.
        ballot: Ballot,
        /// The slot.
        slot: u64,
    },
    /// Leader liveness and commit point.
    Heartbeat {
        /// The leader's ballot.
        ballot: Ballot,
        /// Every slot up to this one is chosen.
        commit: u64,
    },
    /// A lagging learner asks for chosen values.
    CatchUpRequest {
        /// First slot it lacks.
        from_slot: u64,
    },
    /// Chosen values for a lagging learner.
    CatchUp {
        /// (slot, value) pairs, in slot order.
        chosen: Vec<(u64, Batch)>,
    },
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PaxosTimer {
    /// No word from a leader for too long: run phase 1.
    LeaderTimeout,
    /// Leader: heartbeat and retransmit.
    Heartbeat,
}

/// What an acceptor persists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaxosRecord {
    /// A promise.
    Promised {
        /// The ballot.
        ballot: Ballot,
    },
    /// An accepted value (implies a promise of at least `ballot`).
    Accepted {
        /// The slot.
        slot: u64,
        /// The ballot.
        ballot: Ballot,
        /// The value.
        batch: Batch,
    },
}
