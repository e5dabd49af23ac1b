//! The leader: phase 2 per slot with batching and pipelining, the
//! re-proposals phase 1 left, heartbeats and retransmission.

use super::{
    Ballot, Batch, MultiPaxos, PaxosMessage, PaxosRecord, PaxosTimer, Proposal, SLOT_WINDOW,
};
use crate::core::{Ctx, NodeEvent, Role};
use crate::types::NodeId;
use std::collections::BTreeSet;

impl MultiPaxos {
    /// Phase 1 done (PMMC's "adopted"): queue, per open slot above the
    /// highest reported commit point, the value of the highest ballot
    /// reported, and no-ops for the holes; they are re-proposed through the
    /// pipeline ahead of new client requests. Slots up to that commit point
    /// are chosen already and come by catch-up.
    pub(super) fn become_leader(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::Leader;
        self.leader = Some(self.id);
        ctx.cancel_timer(PaxosTimer::LeaderTimeout);
        ctx.emit(NodeEvent::LeaderElected {
            term: self.ballot.as_term(),
        });
        let phase1 = std::mem::take(&mut self.phase1);
        let base = phase1.base.max(self.commit);
        // Bounded by the checks in `on_promise`; holes are never allocated.
        let top = phase1
            .adopted
            .keys()
            .next_back()
            .copied()
            .unwrap_or(base)
            .max(base);
        self.proposals.clear();
        self.backlog = phase1.adopted;
        self.backlog_next = base.saturating_add(1);
        self.backlog_top = top;
        self.next_slot = top.saturating_add(1);
        if let Some(source) = phase1.source {
            let commit = phase1.base;
            self.note_commit(ctx, source, commit);
        }
        self.send_heartbeats(ctx);
        ctx.set_timer(PaxosTimer::Heartbeat, self.config.heartbeat_interval);
        self.propose_pending(ctx);
    }

    /// Proposes, while the pipeline has room, the slots phase 1 left to
    /// re-propose and then queued client requests.
    pub(super) fn propose_pending(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader {
            return;
        }
        let max_batch = self.config.max_batch.max(1);
        let inflight = self.config.max_inflight_slots.max(1);
        while self.proposals.len() < inflight {
            if self.backlog_next <= self.backlog_top {
                let slot = self.backlog_next;
                if slot >= self.backlog_top {
                    // Done (written so that a top of u64::MAX ends too).
                    self.backlog_next = 1;
                    self.backlog_top = 0;
                } else {
                    self.backlog_next = slot + 1;
                }
                let adopted = self.backlog.remove(&slot).map(|(_, v)| v);
                if slot <= self.commit {
                    continue;
                }
                let batch = match self.chosen.get(&slot) {
                    Some(v) => v.clone(),
                    None => adopted.unwrap_or_default(),
                };
                self.propose(ctx, slot, batch);
                continue;
            }
            if self.pending.is_empty() || self.next_slot > self.commit.saturating_add(SLOT_WINDOW) {
                break;
            }
            let n = self.pending.len().min(max_batch);
            let batch: Batch = self.pending.drain(..n).collect();
            let slot = self.next_slot;
            self.propose(ctx, slot, batch);
        }
    }

    /// Phase 2a for one slot: accept locally (persisted), ask everyone.
    fn propose(&mut self, ctx: &mut Ctx<'_, Self>, slot: u64, batch: Batch) {
        self.next_slot = self.next_slot.max(slot.saturating_add(1));
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
        self.own_accepts.push_back(super::OwnAccept {
            seq,
            slot,
            ballot: self.ballot,
        });
        ctx.broadcast(PaxosMessage::Accept {
            ballot: self.ballot,
            slot,
            batch,
            commit: self.commit,
        });
    }

    /// Phase 2b received.
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

    /// Heartbeat tick: heartbeat, resend Accepts still waiting for a
    /// majority (their messages may have been lost), and keep fetching
    /// chosen slots this leader lacks.
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
        self.retry_catch_up(ctx);
        ctx.set_timer(PaxosTimer::Heartbeat, self.config.heartbeat_interval);
    }
}
