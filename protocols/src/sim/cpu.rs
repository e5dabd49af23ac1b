//! An optional CPU model for the simulator: each replica is one core that
//! handles one input (message, request, timer, persist completion) at a
//! time, and each input costs time in proportion to what the replica sends
//! in answer. Without it the simulator measures only message delays, so a
//! protocol that sends n^2 messages looks as fast as one that sends n; with
//! it, simulated throughput saturates where the busiest replica's core
//! does, which is what the BFT scalability comparison needs beyond the
//! cluster sizes that fit on a real machine.
//!
//! The costs are a model, not a measurement: they are charged per input,
//! per message sent and per KiB sent, so signatures show up only through
//! the bytes they add (their verification time is not modelled).

use super::world::{Event, Simulation};
use crate::core::{Action, ActionOf, Protocol};
use crate::types::{NodeId, Time};
use std::time::Duration;

/// What a replica's core spends on each input it handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuModel {
    /// Fixed cost of handling one input.
    pub per_input: Duration,
    /// Cost of each message sent to a replica or a client (a broadcast
    /// costs one per receiver).
    pub per_message: Duration,
    /// Cost per KiB of replica messages sent (their postcard encoding);
    /// zero skips the encoding.
    pub per_kib: Duration,
}

impl<P: Protocol> Simulation<P> {
    /// With a CPU model, queues an input for a node whose core is busy
    /// (or that has inputs waiting) and returns `None`; otherwise returns
    /// the event to be handled now. A node's waiting inputs are handled in
    /// arrival order, one [`Event::CoreFree`] at a time, so an overloaded
    /// node costs one event per input, not one per input per wait.
    pub(super) fn admit(&mut self, event: Event<P>) -> Option<Event<P>> {
        if self.cfg.cpu.is_none() {
            return Some(event);
        }
        let node = match &event {
            Event::Deliver { to, .. } => *to,
            Event::Request { node, .. }
            | Event::Timer { node, .. }
            | Event::PersistDone { node, .. } => *node,
            _ => return Some(event),
        };
        let now = self.now;
        let Some(host) = self.nodes.get_mut(node as usize) else {
            return Some(event);
        };
        if host.busy_until <= now && host.inbox.is_empty() {
            return Some(event);
        }
        host.inbox.push_back(event);
        if !host.wake_scheduled {
            host.wake_scheduled = true;
            let at = host.busy_until.max(now);
            self.schedule(at, Event::CoreFree { node });
        }
        None
    }

    /// The next waiting input of `node`, now that its core is free; the
    /// wake-up for the one after it is scheduled once this one is charged.
    pub(super) fn next_input(&mut self, node: NodeId) -> Option<Event<P>> {
        let host = self.nodes.get_mut(node as usize)?;
        host.wake_scheduled = false;
        host.inbox.pop_front()
    }

    /// Schedules the next wake-up of `node` if inputs are still waiting.
    pub(super) fn wake_if_waiting(&mut self, node: NodeId) {
        let Some(host) = self.nodes.get_mut(node as usize) else {
            return;
        };
        if !host.inbox.is_empty() && !host.wake_scheduled {
            host.wake_scheduled = true;
            let at = host.busy_until.max(self.now);
            self.schedule(at, Event::CoreFree { node });
        }
    }

    /// Charges `node`'s core for handling one input that produced
    /// `actions`, and returns when it is done (when its sends leave).
    pub(super) fn charge_cpu(&mut self, node: NodeId, actions: &[ActionOf<P>]) -> Time {
        let Some(cpu) = self.cfg.cpu else {
            return self.now;
        };
        let peers = self.cluster.size.saturating_sub(1);
        let mut cost = cpu.per_input;
        for action in actions {
            let (copies, msg) = match action {
                Action::Send { msg, .. } => (1, Some(msg)),
                Action::Broadcast { msg } => (peers, Some(msg)),
                Action::Reply { .. } => (1, None),
                _ => continue,
            };
            cost += cpu.per_message * copies;
            if let (Some(msg), false) = (msg, cpu.per_kib.is_zero()) {
                let bytes = postcard::to_allocvec(msg).map_or(0, |v| v.len()) as f64;
                cost += cpu.per_kib.mul_f64(bytes * f64::from(copies) / 1024.0);
            }
        }
        let done = self.now.plus(cost);
        if let Some(host) = self.nodes.get_mut(node as usize) {
            host.busy_until = done;
        }
        done
    }
}
