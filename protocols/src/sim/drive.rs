//! Client-side handling and fault injection of the simulation (split from
//! `world.rs` to keep files small).

use super::client::Phase;
use super::faults::FaultKind;
use super::world::{Event, Simulation};
use crate::client::{ClientLogic, ClientReply, ClientRequest, ClientStep};
use crate::core::{Protocol, Role};
use crate::types::{NodeId, Time};
use rand::seq::SliceRandom;
use rand::Rng;
use std::time::Duration;

impl<P: Protocol> Simulation<P> {
    pub(crate) fn client_start(&mut self, c: usize) {
        let cfg = self.cfg.clone();
        let now = self.now;
        let Some(client) = self.clients.get_mut(c) else {
            return;
        };
        if client.current.is_some() {
            return;
        }
        let Some(command) = client.next_command(&cfg) else {
            client.phase = Phase::Done;
            if self.clients.iter().all(|c| c.phase == Phase::Done) && self.all_done_at.is_none() {
                self.all_done_at = Some(now);
            }
            return;
        };
        let request = client.begin(command, now);
        let targets = client.logic.route(&request, &mut client.rng);
        for node in targets {
            self.send_request(node, &request);
        }
        let seq = request.id.seq;
        self.schedule(
            now.plus(self.cfg.client_timeout),
            Event::ClientTimeout {
                client: c,
                seq,
                attempt: 0,
            },
        );
    }

    fn send_request(&mut self, node: NodeId, request: &ClientRequest) {
        if !self.cluster.contains(node) {
            return;
        }
        self.stats.client_messages += 1;
        for delay in self.network.client_link() {
            let at = self.now.plus(delay);
            self.schedule(
                at,
                Event::Request {
                    node,
                    request: request.clone(),
                },
            );
        }
    }

    pub(crate) fn client_reply(&mut self, c: usize, reply: ClientReply) {
        let Some(client) = self.clients.get_mut(c) else {
            return;
        };
        match &client.current {
            Some(cur) if cur.request.id == reply.id => {}
            _ => return,
        }
        let step = client.logic.on_reply(&reply, &mut client.rng);
        self.client_step(c, step);
    }

    pub(crate) fn client_timeout(&mut self, c: usize, seq: u64, attempt: u64) {
        let Some(client) = self.clients.get_mut(c) else {
            return;
        };
        let id = match &client.current {
            Some(cur) if cur.request.id.seq == seq && cur.attempt == attempt => cur.request.id,
            _ => return,
        };
        let step = client.logic.on_timeout(id, &mut client.rng);
        match step {
            ClientStep::Wait => {
                let at = self.now.plus(self.cfg.client_timeout);
                self.schedule(
                    at,
                    Event::ClientTimeout {
                        client: c,
                        seq,
                        attempt,
                    },
                );
            }
            other => self.client_step(c, other),
        }
    }

    pub(crate) fn client_resend(&mut self, c: usize, seq: u64, attempt: u64, to: Vec<NodeId>) {
        let Some(client) = self.clients.get(c) else {
            return;
        };
        let request = match &client.current {
            Some(cur) if cur.request.id.seq == seq && cur.attempt == attempt => cur.request.clone(),
            _ => return,
        };
        for node in to {
            self.send_request(node, &request);
        }
        let at = self.now.plus(self.cfg.client_timeout);
        self.schedule(
            at,
            Event::ClientTimeout {
                client: c,
                seq,
                attempt,
            },
        );
    }

    fn client_step(&mut self, c: usize, step: ClientStep) {
        let now = self.now;
        let client = &mut self.clients[c];
        match step {
            ClientStep::Wait => {}
            ClientStep::Resend { to, after } => {
                let Some(cur) = client.current.as_mut() else {
                    return;
                };
                cur.attempt += 1;
                let (seq, attempt) = (cur.request.id.seq, cur.attempt);
                self.schedule(
                    now.plus(after),
                    Event::ClientResend {
                        client: c,
                        seq,
                        attempt,
                        to,
                    },
                );
            }
            ClientStep::Failed { .. } => {
                let Some(cur) = client.current.take() else {
                    return;
                };
                client.logic.finish(cur.request.id);
                self.record_failed(cur.request.id, cur.request.command, cur.invoke);
                self.schedule(now, Event::ClientStart { client: c });
            }
            ClientStep::Final(response) => {
                let Some(cur) = client.current.take() else {
                    return;
                };
                client.logic.finish(cur.request.id);
                client.observe(&cur.request.command, &response);
                let think = self.cfg.think_time_max;
                let pause = if think.is_zero() {
                    Duration::ZERO
                } else {
                    client.rng.gen_range(Duration::ZERO..=think)
                };
                self.record(cur.request.id, cur.request.command, cur.invoke, response);
                self.schedule(now.plus(pause), Event::ClientStart { client: c });
            }
        }
    }

    fn up_nodes(&self) -> Vec<NodeId> {
        self.cluster
            .nodes()
            .filter(|&n| self.nodes[n as usize].is_up())
            .collect()
    }

    fn two_distinct(&mut self) -> Option<(NodeId, NodeId)> {
        let n = self.cluster.size;
        if n < 2 {
            return None;
        }
        let a = self.fault_rng.gen_range(0..n);
        let b = (a + self.fault_rng.gen_range(1..n)) % n;
        Some((a, b))
    }

    /// Strikes a fault, resolving its target from the current state.
    pub(crate) fn inject(&mut self, kind: FaultKind) {
        let n = self.cluster.size;
        match kind {
            FaultKind::Crash => {
                let up = self.up_nodes();
                let down = n as usize - up.len();
                let max = self
                    .cfg
                    .faults
                    .max_crashed
                    .map_or((n as usize - 1) / 2, |m| m as usize);
                if down < max {
                    if let Some(&victim) = up.choose(&mut self.fault_rng) {
                        self.crash(victim);
                    }
                }
            }
            FaultKind::Restart => {
                let down: Vec<NodeId> = self
                    .cluster
                    .nodes()
                    .filter(|&n| !self.nodes[n as usize].is_up())
                    .collect();
                if let Some(&node) = down.choose(&mut self.fault_rng) {
                    self.restart(node);
                }
            }
            FaultKind::Partition => {
                let mut all: Vec<NodeId> = self.cluster.nodes().collect();
                all.shuffle(&mut self.fault_rng);
                if n >= 2 {
                    let cut = self.fault_rng.gen_range(1..n as usize);
                    let (a, b) = all.split_at(cut);
                    self.partition(&[a.to_vec(), b.to_vec()]);
                }
            }
            FaultKind::OneWay => {
                if let Some((a, b)) = self.two_distinct() {
                    self.cut(a, b);
                }
            }
            FaultKind::IsolateLeader => {
                let leader = self
                    .cluster
                    .nodes()
                    .filter_map(|n| self.status(n).map(|s| (n, s)))
                    .filter(|(_, s)| s.role == Role::Leader)
                    .max_by_key(|(_, s)| s.term)
                    .map(|(n, _)| n);
                let target = leader.unwrap_or_else(|| self.fault_rng.gen_range(0..n));
                let rest: Vec<NodeId> = self.cluster.nodes().filter(|&x| x != target).collect();
                self.partition(&[vec![target], rest]);
            }
            FaultKind::SlowLink => {
                if let Some((a, b)) = self.two_distinct() {
                    let factor = self.fault_rng.gen_range(10.0..50.0);
                    self.stats.link_faults += 1;
                    self.network.slow(a, b, factor);
                }
            }
            FaultKind::Heal => self.heal(),
            FaultKind::CrashAll => {
                for node in self.up_nodes() {
                    self.crash(node);
                }
                let back = Duration::from_millis(self.fault_rng.gen_range(50..1_000));
                let at: Time = self.now.plus(back);
                self.schedule(at, Event::RestartAll);
            }
        }
    }
}
