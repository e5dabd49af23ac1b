//! Messages, timers and persist records of Multi-Paxos.

use super::ballot::Ballot;
use crate::client::ClientRequest;
use serde::{Deserialize, Serialize};

/// The value of one slot: a batch of client requests (empty = no-op).
pub type Batch = Vec<ClientRequest>;

/// One accepted value as reported in a promise: `(slot, ballot, value)`
/// (a "pvalue" in "Paxos Made Moderately Complex").
pub type PValue = (u64, Ballot, Batch);

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
    /// Phase 1b: the acceptor promised `ballot` for every slot.
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// The `from_slot` of the Prepare answered (phase 1 runs in rounds).
        from_slot: u64,
        /// The acceptor's own commit point: every slot up to it is chosen
        /// and the acceptor can serve it through catch-up, so its accepted
        /// values at or below it are left out.
        commit: u64,
        /// Values accepted from `max(from_slot, commit + 1)` on, in slot
        /// order.
        accepted: Vec<PValue>,
        /// `None` if `accepted` is everything; `Some(s)` if the message size
        /// bound cut it after slot `s` (the proposer asks again from there).
        covered_to: Option<u64>,
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
        /// The leader's commit point (every slot up to it is chosen),
        /// piggybacked so followers learn without a separate message.
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
        /// The sender's commit point, so the learner knows how far to go.
        commit: u64,
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

/// What an acceptor persists. Replaying any prefix of the records written
/// rebuilds a state at least as strong as what was promised or accepted in
/// messages that left the node (they were held until the records were
/// durable).
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
