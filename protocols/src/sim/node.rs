//! A simulated replica: its core (absent while crashed), its stable storage,
//! its timers and the sends held back until their persists are durable.

use crate::client::ClientReply;
use crate::core::Protocol;
use crate::gate::SendGate;
use crate::types::{ClientId, NodeId, Time};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, VecDeque};

/// A send waiting for the node's persists to become durable.
pub(crate) enum Outbound<M> {
    Send { to: NodeId, msg: M },
    Broadcast { msg: M },
    Reply { to: ClientId, reply: ClientReply },
}

pub(crate) struct NodeHost<P: Protocol> {
    pub(crate) core: Option<P>,
    /// Bumped at every crash so that timers and persist completions of a
    /// previous life are ignored.
    pub(crate) incarnation: u64,
    /// Records that reached stable storage, across incarnations.
    pub(crate) durable: Vec<P::Record>,
    /// Records issued but not yet durable (lost on crash).
    pub(crate) pending: VecDeque<(u64, P::Record)>,
    /// When the last issued persist completes (completions stay in order).
    pub(crate) last_persist_done: Time,
    /// Sends held until the persists before them are durable.
    pub(crate) gate: SendGate<Outbound<P::Message>>,
    /// Pending timers and the generation that may fire them.
    pub(crate) timers: BTreeMap<P::Timer, u64>,
    pub(crate) timer_generation: u64,
    pub(crate) rng: ChaCha8Rng,
    /// With a CPU model, when the core finishes its current input.
    pub(crate) busy_until: Time,
    /// With a CPU model, inputs that arrived while the core was busy.
    pub(crate) inbox: VecDeque<super::world::Event<P>>,
    /// Whether a [`super::world::Event::CoreFree`] is pending.
    pub(crate) wake_scheduled: bool,
}

impl<P: Protocol> NodeHost<P> {
    pub(crate) fn new(rng: ChaCha8Rng) -> NodeHost<P> {
        NodeHost {
            core: None,
            incarnation: 0,
            durable: Vec::new(),
            pending: VecDeque::new(),
            last_persist_done: Time::ZERO,
            gate: SendGate::new(),
            timers: BTreeMap::new(),
            timer_generation: 0,
            rng,
            busy_until: Time::ZERO,
            inbox: VecDeque::new(),
            wake_scheduled: false,
        }
    }

    /// Loses everything volatile, as SIGKILL would.
    pub(crate) fn crash(&mut self) {
        self.core = None;
        self.incarnation += 1;
        self.pending.clear();
        self.gate.reset();
        self.timers.clear();
        // Inputs waiting for the core are lost with it, as a socket's
        // buffer would be.
        self.inbox.clear();
    }

    pub(crate) fn is_up(&self) -> bool {
        self.core.is_some()
    }
}
