//! The proposer: phase 1 over all open slots, phase 2 per slot with
//! batching and pipelining, heartbeats and retransmission.

use super::{
    Ballot, Batch, MultiPaxos, PaxosMessage, PaxosRecord, PaxosTimer, Proposal, SLOT_WINDOW,
};
use crate::core::{Ctx, NodeEvent, Role};
use crate::types::NodeId;
use std::collections::{BTreeMap, BTreeSet};

impl MultiPaxos {
    /// Leader timeout: campaign with a ballot above anything seen.
    pub(super) fn start_phase1(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role == Role::Leader {
            return;
        }
        let round = self.promised.round.max(self.ballot.round) + 1;
        self.ballot = Ballot {
            round,
            node: self.id,
        };
        self.promised = self.ballot;
        self.persist(
            ctx,
            PaxosRecord::Promised {
                ballot: self.ballot,
            },
        );
        self.role = Role::Candidate;
        self.leader = None;
        self.prepare_from = self.commit + 1;
        self.promises.clear();
        self.reset_leader_timer(ctx);
        if self.config.unsafe_skip_phase1 {
            self.become_leader(ctx);
            return;
        }
        let own = self.accepted_from(self.prepare_from);
        self.promises.insert(self.id, own);
        if self.promises.len() >= self.majority() {
            self.become_leader(ctx);
            return;
        }
        ctx.broadcast(PaxosMessage::Prepare {
            ballot: self.ballot,
            from_slot: self.prepare_from,
        });
    }

    fn accepted_from(&self, from: u64) -> Vec<(u64, Ballot, Batch)> {
        self.accepted
            .range(from.max(1)..)
            .map(|(&s, (b, v))| (s, *b, v.clone()))
            .collect()
    }

    pub(super) fn on_promise(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        accepted: Vec<(u64, Ballot, Batch)>,
    ) {
        if self.role != Role::Candidate || ballot != self.ballot {
            return;
        }
        self.promises.insert(from, accepted);
        if self.promises.len() >= self.majority() {
            self.become_leader(ctx);
        }
    }

    pub(super) fn on_nack(&mut self, ctx: &mut Ctx<'_, Self>, promised: Ballot) {
        if promised > self.ballot && self.role != Role::Follower {
            self.promised = self.promised.max(promised);
            self.step_down(ctx, promised);
        }
    }

    fn become_leader(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::Leader;
        self.leader = Some(self.id);
        ctx.cancel_timer(PaxosTimer::LeaderTimeout);
        ctx.emit(NodeEvent::LeaderElected {
            term: self.ballot.as_term(),
        });
        // Per slot, the value accepted in the highest ballot must be
        // re-proposed; holes become no-ops.
        let limit = self.prepare_from.saturating_add(SLOT_WINDOW);
        let mut adopted: BTreeMap<u64, (Ballot, Batch)> = BTreeMap::new();
        for (slot, ballot, batch) in std::mem::take(&mut self.promises).into_values().flatten() {
            if slot < self.prepare_from || slot > limit {
                continue;
            }
            match adopted.get(&slot) {
                Some((b, _)) if *b >= ballot => {}
                _ => {
                    adopted.insert(slot, (ballot, batch));
                }
            }
        }
        let top = adopted.keys().next_back().copied().unwrap_or(0);
        self.proposals.clear();
        self.next_slot = self.prepare_from;
        while self.next_slot <= top {
            let slot = self.next_slot;
            let batch = match self.chosen.get(&slot) {
                Some(v) => v.clone(),
                None => adopted.remove(&slot).map(|(_, v)| v).unwrap_or_default(),
            };
            self.propose(ctx, slot, batch);
        }
        self.send_heartbeats(ctx);
        ctx.set_timer(PaxosTimer::Heartbeat, self.config.heartbeat_interval);
        self.propose_pending(ctx);
    }

    /// Proposes queued client requests while the pipeline has room.
    pub(super) fn propose_pending(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader {
            return;
        }
        let max_batch = self.config.max_batch.max(1);
        while !self.pending.is_empty()
            && self.proposals.len() < self.config.max_inflight_slots.max(1)
        {
            let n = self.pending.len().min(max_batch);
            let batch: Batch = self.pending.drain(..n).collect();
            let slot = self.next_slot;
            self.propose(ctx, slot, batch);
        }
    }

    /// Phase 2 for one slot: accept locally (persisted), ask everyone.
    fn propose(&mut self, ctx: &mut Ctx<'_, Self>, slot: u64, batch: Batch) {
        self.next_slot = self.next_slot.max(slot + 1);
        self.proposals.insert(
            slot,
            Proposal {
                batch: batch.clone(),
                acks: BTreeSet::new(),
            },
        );
        self.accepted.insert(slot, (self.ballot, batch.clone()));
        let seq = self.persist(
            ctx,
            PaxosRecord::Accepted {
                slot,
                ballot: self.ballot,
                batch: batch.clone(),
            },
        );
        self.own_accepts.push_back((seq, slot));
        ctx.broadcast(PaxosMessage::Accept {
            ballot: self.ballot,
            slot,
            batch,
            commit: self.commit,
        });
    }

    pub(super) fn on_accepted(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        slot: u64,
    ) {
        if self.role != Role::Leader || ballot != self.ballot {
            return;
        }
        self.record_ack(ctx, from, slot);
    }

    /// Counts an acceptance of `slot` in our ballot; chooses it on a majority.
    pub(super) fn record_ack(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, slot: u64) {
        if self.role != Role::Leader {
            return;
        }
        let majority = self.majority();
        let Some(p) = self.proposals.get_mut(&slot) else {
            return;
        };
        p.acks.insert(from);
        if p.acks.len() < majority {
            return;
        }
        if let Some(p) = self.proposals.remove(&slot) {
            self.learn(ctx, slot, p.batch);
        }
        self.propose_pending(ctx);
    }

    fn send_heartbeats(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.broadcast(PaxosMessage::Heartbeat {
            ballot: self.ballot,
            commit: self.commit,
        });
    }

    /// Heartbeat tick: heartbeat, and resend Accepts still waiting for a
    /// majority (their messages may have been lost).
    pub(super) fn on_heartbeat_tick(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader {
            return;
        }
        self.send_heartbeats(ctx);
        let resend: Vec<(u64, Batch, BTreeSet<NodeId>)> = self
            .proposals
            .iter()
            .map(|(&s, p)| (s, p.batch.clone(), p.acks.clone()))
            .collect();
        for (slot, batch, acks) in resend {
            for peer in 0..self.size {
                if peer != self.id && !acks.contains(&peer) {
                    ctx.send(
                        peer,
                        PaxosMessage::Accept {
                            ballot: self.ballot,
                            slot,
                            batch: batch.clone(),
                            commit: self.commit,
                        },
                    );
                }
            }
        }
        ctx.set_timer(PaxosTimer::Heartbeat, self.config.heartbeat_interval);
    }
}
