//! What a replica's actions do in the simulated world: messages onto the
//! network (with loss, duplication and latency), replies to clients,
//! timers, persistence through the simulated disk, and node events.

use super::node::Outbound;
use super::report::Violation;
use super::world::{Event, Simulation};
use crate::core::{Action, ActionOf, NodeEvent, Protocol, Replication};
use crate::types::NodeId;
use rand::Rng;

impl<P: Protocol> Simulation<P> {
    pub(super) fn carry_out(&mut self, node: NodeId, action: ActionOf<P>) {
        let now = self.now;
        // Byzantine replicas (test configurations) are not judged by the
        // replica-level checks: their applies and elections are not reported.
        let judged = !P::is_faulty(&self.proto_cfg, node);
        match action {
            Action::Send { to, msg } => self.outbound(node, Outbound::Send { to, msg }),
            Action::Broadcast { msg } => self.outbound(node, Outbound::Broadcast { msg }),
            Action::Reply { to, reply } => self.outbound(node, Outbound::Reply { to, reply }),
            Action::SetTimer { timer, after } => {
                let host = &mut self.nodes[node as usize];
                host.timer_generation += 1;
                let generation = host.timer_generation;
                let incarnation = host.incarnation;
                host.timers.insert(timer.clone(), generation);
                self.schedule(
                    now.plus(after),
                    Event::Timer {
                        node,
                        incarnation,
                        timer,
                        generation,
                    },
                );
            }
            Action::CancelTimer { timer } => {
                self.nodes[node as usize].timers.remove(&timer);
            }
            Action::Persist { seq, record } => {
                let (lo, hi) = self.cfg.disk_latency;
                let latency = if hi > lo {
                    self.disk_rng.gen_range(lo..=hi)
                } else {
                    lo
                };
                let host = &mut self.nodes[node as usize];
                if let Err(e) = host.gate.persist_issued(seq) {
                    let detail = e.to_string();
                    self.checker
                        .violations
                        .push(Violation::Contract { node, detail });
                    return;
                }
                host.pending.push_back((seq, record));
                let done = now.plus(latency).max(host.last_persist_done);
                host.last_persist_done = done;
                let incarnation = host.incarnation;
                self.schedule(
                    done,
                    Event::PersistDone {
                        node,
                        incarnation,
                        seq,
                    },
                );
            }
            Action::Emit(event) => {
                if let (NodeEvent::LeaderElected { term }, true) = (event, judged) {
                    self.checker.leader_elected(node, term, now);
                }
            }
            Action::Applied {
                index,
                request,
                digest,
            } => {
                // Registers and version-vector stores have no log
                // positions to compare.
                if judged && matches!(P::REPLICATION, Replication::Log | Replication::Single) {
                    self.checker.applied(node, index, request, digest, now);
                }
            }
        }
    }

    pub(super) fn outbound(&mut self, node: NodeId, out: Outbound<P::Message>) {
        if let Some(out) = self.nodes[node as usize].gate.submit(out) {
            self.dispatch(node, out);
        }
    }

    pub(super) fn persist_done(&mut self, node: NodeId, incarnation: u64, seq: u64) {
        let Some(host) = self.nodes.get_mut(node as usize) else {
            return;
        };
        if host.incarnation != incarnation {
            return;
        }
        let Some(release) = host.gate.durable(seq) else {
            return;
        };
        while host.pending.front().is_some_and(|(s, _)| *s <= seq) {
            if let Some((_, record)) = host.pending.pop_front() {
                host.durable.push(record);
            }
        }
        for out in release {
            self.dispatch(node, out);
        }
        self.step_node(node, |core, ctx| core.on_persisted(ctx, seq));
    }

    pub(super) fn dispatch(&mut self, from: NodeId, out: Outbound<P::Message>) {
        match out {
            Outbound::Send { to, msg } => self.send_to_node(from, to, msg),
            Outbound::Broadcast { msg } => {
                for to in self.cluster.nodes() {
                    if to != from {
                        self.send_to_node(from, to, msg.clone());
                    }
                }
            }
            Outbound::Reply { to, reply } => {
                let Some(client) = usize::try_from(to).ok().and_then(|c| c.checked_sub(1)) else {
                    return;
                };
                if client >= self.clients.len() {
                    return;
                }
                self.stats.client_messages += 1;
                for delay in self.network.client_link() {
                    let at = self.now.plus(delay);
                    self.schedule(
                        at,
                        Event::Reply {
                            client,
                            reply: reply.clone(),
                        },
                    );
                }
            }
        }
    }

    pub(super) fn send_to_node(&mut self, from: NodeId, to: NodeId, msg: P::Message) {
        if !self.cluster.contains(to) {
            return;
        }
        self.stats.messages_sent += 1;
        if self.cfg.count_bytes {
            let size = postcard::to_allocvec(&msg).map_or(0, |v| v.len());
            self.stats.bytes_sent += size as u64 + 4;
        }
        let delays = self.network.node_to_node(from, to);
        let copies = delays.len();
        let mut msg = Some(msg);
        for (i, delay) in delays.into_iter().enumerate() {
            let m = if i + 1 == copies {
                msg.take()
            } else {
                msg.clone()
            };
            if let Some(m) = m {
                self.schedule(self.now.plus(delay), Event::Deliver { to, from, msg: m });
            }
        }
    }
}
