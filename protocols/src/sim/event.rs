//! The simulator's events and their order in the queue (split from
//! `world.rs` to keep files small).

use super::faults::FaultKind;
use crate::client::{ClientReply, ClientRequest};
use crate::core::Protocol;
use crate::types::{NodeId, Time};
use std::cmp::Ordering;

/// Something that happens at a point of simulated time.
pub(crate) enum Event<P: Protocol> {
    Deliver {
        to: NodeId,
        from: NodeId,
        msg: P::Message,
    },
    Request {
        node: NodeId,
        request: ClientRequest,
    },
    Reply {
        client: usize,
        reply: ClientReply,
    },
    Timer {
        node: NodeId,
        incarnation: u64,
        timer: P::Timer,
        generation: u64,
    },
    PersistDone {
        node: NodeId,
        incarnation: u64,
        seq: u64,
    },
    ClientStart {
        client: usize,
    },
    ClientResend {
        client: usize,
        seq: u64,
        attempt: u64,
        to: Vec<NodeId>,
    },
    ClientTimeout {
        client: usize,
        seq: u64,
        attempt: u64,
    },
    /// A node's core finished an input and takes the next waiting one
    /// (CPU model only).
    CoreFree {
        node: NodeId,
    },
    Fault(FaultKind),
    RestartAll,
    HealEverything,
    EndCalm,
}

pub(crate) struct Scheduled<P: Protocol> {
    /// When it happens.
    pub(crate) at: Time,
    /// Insertion order, which breaks ties.
    pub(crate) seq: u64,
    /// What happens.
    pub(crate) event: Event<P>,
}

impl<P: Protocol> PartialEq for Scheduled<P> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<P: Protocol> Eq for Scheduled<P> {}
impl<P: Protocol> PartialOrd for Scheduled<P> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<P: Protocol> Ord for Scheduled<P> {
    // Reversed: BinaryHeap is a max-heap and the earliest event goes first;
    // the insertion counter breaks ties deterministically.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}
