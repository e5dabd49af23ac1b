//! The acceptor: promises and acceptances, persisted before they are sent,
//! and their replay on recovery.

use super::{
    Ballot, Batch, MultiPaxos, PValue, PaxosMessage, PaxosRecord, PaxosTimer,
    MAX_REQUESTS_PER_MESSAGE, MAX_SLOTS_PER_MESSAGE, SLOT_WINDOW,
};
use crate::core::{Ctx, NodeEvent, Role};
use crate::types::NodeId;

impl MultiPaxos {
    /// Rebuilds the acceptor from persisted records. Any prefix of the
    /// records ever written is fine: a record is a promise or acceptance
    /// whose dependent messages only left once it (and all before it) was
    /// durable, so a lost suffix was never relied on by anyone.
    pub(super) fn replay(&mut self, records: Vec<PaxosRecord>) {
        for record in records {
            match record {
                PaxosRecord::Promised { ballot } => self.promised = self.promised.max(ballot),
                PaxosRecord::Accepted {
                    slot,
                    ballot,
                    batch,
                } => {
                    self.promised = self.promised.max(ballot);
                    // Records are written in order and a slot's ballot only
                    // grows, but keep the highest defensively.
                    if self.accepted.get(&slot).is_none_or(|(b, _)| *b <= ballot) {
                        self.accepted.insert(slot, (ballot, batch));
                    }
                }
            }
        }
        // The next ballot this node campaigns with must exceed every ballot
        // it ever used or promised.
        self.seen = self.promised;
    }

    /// Emits a persist record; returns its sequence number.
    pub(super) fn persist(&mut self, ctx: &mut Ctx<'_, Self>, record: PaxosRecord) -> u64 {
        self.persist_seq += 1;
        ctx.persist(self.persist_seq, record);
        self.persist_seq
    }

    /// A higher ballot exists: stop leading or campaigning. Requests waiting
    /// at a deposed leader are redirected (a request already proposed may
    /// still be chosen by the next leader; the key-value store's sessions
    /// make its retry harmless).
    pub(super) fn step_down(&mut self, ctx: &mut Ctx<'_, Self>, higher: Ballot) {
        self.saw(higher);
        if self.role == Role::Leader {
            ctx.emit(NodeEvent::SteppedDown {
                term: higher.as_term(),
            });
            ctx.cancel_timer(PaxosTimer::Heartbeat);
            let waiting: Vec<_> = self
                .pending
                .drain(..)
                .chain(
                    std::mem::take(&mut self.proposals)
                        .into_values()
                        .flat_map(|p| p.batch),
                )
                .collect();
            self.leader = Some(higher.node).filter(|&n| n != self.id);
            for request in waiting {
                self.redirect(ctx, &request);
            }
        }
        self.backlog.clear();
        self.backlog_next = 1;
        self.backlog_top = 0;
        if self.role != Role::Follower {
            self.role = Role::Follower;
            self.phase1 = super::phase1::Phase1::default();
            self.reset_leader_timer(ctx);
        }
    }

    /// Phase 1b. Promises `ballot` for every slot and reports accepted
    /// values above the requester's `from_slot` and above this acceptor's
    /// own commit point (the requester fetches chosen slots by catch-up).
    pub(super) fn on_prepare(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        from_slot: u64,
    ) {
        self.saw(ballot);
        if ballot.node != from {
            return;
        }
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
        if self.role != Role::Follower {
            // Our own ballot is below `ballot`: we promised it ourselves.
            self.step_down(ctx, ballot);
        }
        self.leader = None;
        self.reset_leader_timer(ctx);
        let start = from_slot.max(self.commit.saturating_add(1)).max(1);
        let (accepted, covered_to) = self.accepted_from(start);
        ctx.send(
            from,
            PaxosMessage::Promise {
                ballot,
                from_slot,
                commit: self.commit,
                accepted,
                covered_to,
            },
        );
    }

    /// Accepted values from `start` on, bounded in slots and requests, and
    /// the last slot covered if some were left out.
    fn accepted_from(&self, start: u64) -> (Vec<PValue>, Option<u64>) {
        let mut out: Vec<PValue> = Vec::new();
        let mut requests = 0;
        for (&slot, (b, batch)) in self.accepted.range(start..) {
            if out.len() >= MAX_SLOTS_PER_MESSAGE
                || (!out.is_empty() && requests + batch.len() > MAX_REQUESTS_PER_MESSAGE)
            {
                let last = out.last().map_or(start, |(s, _, _)| *s);
                return (out, Some(last));
            }
            requests += batch.len();
            out.push((slot, *b, batch.clone()));
        }
        (out, None)
    }

    /// Phase 2b. Returns whether the Accept came from a leader this node
    /// follows (so its piggybacked commit point may be used).
    pub(super) fn on_accept(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        slot: u64,
        batch: Batch,
    ) -> bool {
        self.saw(ballot);
        if ballot.node != from {
            // Only a ballot's own proposer may send Accepts in it.
            return false;
        }
        if ballot < self.promised {
            ctx.send(
                from,
                PaxosMessage::Nack {
                    promised: self.promised,
                },
            );
            return false;
        }
        if self.role != Role::Follower {
            // `ballot >= promised >= our ballot`, and it is not ours.
            self.step_down(ctx, ballot);
        }
        self.leader = Some(from);
        self.reset_leader_timer(ctx);
        if slot == 0 || slot > self.commit.saturating_add(SLOT_WINDOW) {
            // Too far ahead to hold: catch up first (the leader resends).
            return true;
        }
        if self.accepted.get(&slot).map(|(b, _)| *b) != Some(ballot) {
            // The promise is raised only together with a record that
            // implies it: a promise held only in memory could be repeated
            // to a duplicated Prepare without ever being durable.
            self.promised = ballot;
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
        // Held by the runtime until the record above (or, for a duplicate,
        // the earlier one) is durable.
        ctx.send(from, PaxosMessage::Accepted { ballot, slot });
        true
    }
}
