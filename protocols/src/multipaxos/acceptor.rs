//! The acceptor: promises and acceptances, persisted before they are sent.

use super::{Ballot, Batch, MultiPaxos, PaxosMessage, PaxosRecord, SLOT_WINDOW};
use crate::core::{Ctx, NodeEvent, Role};
use crate::types::NodeId;

impl MultiPaxos {
    pub(super) fn persist(&mut self, ctx: &mut Ctx<'_, Self>, record: PaxosRecord) -> u64 {
        self.persist_seq += 1;
        ctx.persist(self.persist_seq, record);
        self.persist_seq
    }

    /// A higher ballot exists: stop leading or campaigning.
    pub(super) fn step_down(&mut self, ctx: &mut Ctx<'_, Self>, higher: Ballot) {
        if self.role == Role::Leader {
            ctx.emit(NodeEvent::SteppedDown {
                term: higher.as_term(),
            });
            ctx.cancel_timer(super::PaxosTimer::Heartbeat);
            let waiting: Vec<_> = self
                .pending
                .drain(..)
                .chain(
                    std::mem::take(&mut self.proposals)
                        .into_values()
                        .flat_map(|p| p.batch),
                )
                .collect();
            for request in waiting {
                self.redirect(ctx, &request);
            }
        }
        if self.role != Role::Follower {
            self.role = Role::Follower;
            self.promises.clear();
            self.reset_leader_timer(ctx);
        }
        if higher.node != self.id {
            self.leader = Some(higher.node);
        }
    }

    pub(super) fn on_prepare(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        from_slot: u64,
    ) {
        if ballot < self.promised {
            ctx.send(
                from,
                PaxosMessage::Nack {
                    promised: self.promised,
                },
            );
            return;
        }
        if ballot > self.promised {
            self.promised = ballot;
            self.persist(ctx, PaxosRecord::Promised { ballot });
        }
        if (self.role == Role::Leader || self.role == Role::Candidate) && ballot > self.ballot {
            self.step_down(ctx, ballot);
        }
        self.leader = None;
        self.reset_leader_timer(ctx);
        let accepted = self
            .accepted
            .range(from_slot.max(1)..)
            .map(|(&slot, (b, batch))| (slot, *b, batch.clone()))
            .collect();
        ctx.send(from, PaxosMessage::Promise { ballot, accepted });
    }

    pub(super) fn on_accept(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        slot: u64,
        batch: Batch,
    ) {
        if ballot < self.promised {
            ctx.send(
                from,
                PaxosMessage::Nack {
                    promised: self.promised,
                },
            );
            return;
        }
        if slot == 0 || slot > self.executed.saturating_add(SLOT_WINDOW) {
            return;
        }
        if ballot.node != from {
            // Only a ballot's own proposer may send Accepts in it.
            return;
        }
        if self.role != Role::Follower && ballot > self.ballot {
            self.step_down(ctx, ballot);
        }
        self.promised = ballot;
        self.leader = Some(from);
        self.reset_leader_timer(ctx);
        if self.accepted.get(&slot).map(|(b, _)| *b) != Some(ballot) {
            self.accepted.insert(slot, (ballot, batch.clone()));
            self.persist(
                ctx,
                PaxosRecord::Accepted {
                    slot,
                    ballot,
                    batch,
                },
            );
        }
        ctx.send(from, PaxosMessage::Accepted { ballot, slot });
    }
}
