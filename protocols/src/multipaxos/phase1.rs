//! Phase 1 (leader election), run once for all open slots.
//!
//! A promise carries at most a bounded chunk of accepted values, so phase 1
//! proceeds in rounds over a *cursor*: every round asks from the cursor on
//! (all in the same ballot; acceptors answer a repeated ballot without a new
//! promise), and once a majority has answered, the cursor moves past the
//! slots that majority covered. Phase 1 is complete when a majority of
//! answers in one round were complete. Slots at or below the highest commit
//! point reported are chosen already and are fetched by catch-up instead.
//! Values reported by more acceptors than a majority are adopted too, which
//! is safe: the highest-ballot value over any superset of a majority of
//! promisers is the one a majority-based choice would make.

use super::{Ballot, Batch, MultiPaxos, PValue, PaxosMessage, PaxosRecord, SLOT_WINDOW};
use crate::core::{Ctx, Role};
use crate::types::NodeId;
use std::collections::BTreeMap;

/// State of a campaign in progress.
#[derive(Clone, Debug, Default)]
pub(super) struct Phase1 {
    /// Slots below are covered by a majority's promises (or chosen).
    pub(super) cursor: u64,
    /// Highest commit point any promiser reported.
    pub(super) base: u64,
    /// The promiser that reported `base`.
    pub(super) source: Option<NodeId>,
    /// Answers in the current round: `None` = complete, `Some(s)` = covered
    /// up to slot `s` only.
    pub(super) replies: BTreeMap<NodeId, Option<u64>>,
    /// Per slot above `base`, the highest-ballot value reported so far.
    pub(super) adopted: BTreeMap<u64, (Ballot, Batch)>,
}

impl Phase1 {
    fn adopt(&mut self, entries: impl IntoIterator<Item = PValue>) {
        for (slot, ballot, batch) in entries {
            if slot <= self.base {
                continue;
            }
            if self.adopted.get(&slot).is_none_or(|(b, _)| *b < ballot) {
                self.adopted.insert(slot, (ballot, batch));
            }
        }
    }

    fn raise_base(&mut self, commit: u64, node: NodeId) {
        if commit > self.base {
            self.base = commit;
            self.source = Some(node);
            // Chosen now: catch-up brings the values.
            self.adopted = self.adopted.split_off(&commit.saturating_add(1));
        }
    }
}

impl MultiPaxos {
    /// Leader timeout: campaign with a ballot above anything seen.
    pub(super) fn start_phase1(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role == Role::Leader {
            return;
        }
        self.saw(self.promised.max(self.ballot));
        self.ballot = Ballot::next_for(self.id, self.seen);
        self.saw(self.ballot);
        // Our own promise, durable before the Prepare leaves (and before
        // any Accept in this ballot can).
        self.promised = self.ballot;
        self.persist(
            ctx,
            PaxosRecord::Promised {
                ballot: self.ballot,
            },
        );
        self.role = Role::Candidate;
        self.leader = None;
        let from = self.commit.saturating_add(1);
        self.phase1 = Phase1 {
            cursor: from,
            base: self.commit,
            ..Phase1::default()
        };
        self.reset_leader_timer(ctx);
        if self.config.unsafe_skip_phase1 {
            // Deliberately broken: lead without learning what a majority
            // accepted, so chosen values can be overwritten.
            self.become_leader(ctx);
            return;
        }
        // Our own acceptor's answer needs no message, so it is complete.
        let own: Vec<PValue> = self
            .accepted
            .range(from..)
            .map(|(&s, (b, v))| (s, *b, v.clone()))
            .collect();
        self.phase1.adopt(own);
        self.next_phase1_round(ctx);
    }

    /// Starts a round of phase 1 at the current cursor.
    fn next_phase1_round(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.phase1.replies.clear();
        self.phase1.replies.insert(self.id, None);
        if self.phase1.replies.len() >= self.majority() {
            self.become_leader(ctx);
            return;
        }
        ctx.broadcast(PaxosMessage::Prepare {
            ballot: self.ballot,
            from_slot: self.phase1.cursor,
        });
    }

    /// Phase 1b received. An answer counts only if it is for the current
    /// round and lies within the window; one from a replica that knows more
    /// chosen slots also starts catch-up from it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_promise(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        from_slot: u64,
        commit: u64,
        accepted: Vec<PValue>,
        covered_to: Option<u64>,
    ) {
        if self.role != Role::Candidate || ballot != self.ballot {
            return;
        }
        self.note_commit(ctx, from, commit);
        if from_slot != self.phase1.cursor || self.phase1.replies.contains_key(&from) {
            return;
        }
        // A replica far ahead of us should lead instead (we catch up from
        // it meanwhile); and no slot far beyond what anyone reported chosen
        // is believed (it would make us propose no-ops up to it).
        let limit = from_slot
            .saturating_sub(1)
            .max(commit)
            .saturating_add(SLOT_WINDOW);
        let end = covered_to.unwrap_or(limit);
        let usable = commit <= self.commit.saturating_add(SLOT_WINDOW)
            && end >= from_slot
            && end <= limit
            && accepted
                .iter()
                .all(|(s, _, _)| *s >= from_slot && *s <= end);
        if !usable {
            return;
        }
        self.phase1.raise_base(commit, from);
        self.phase1.adopt(accepted);
        self.phase1.replies.insert(from, covered_to);
        if self.phase1.replies.len() < self.majority() {
            return;
        }
        let partial = self.phase1.replies.values().flatten().min().copied();
        match partial {
            None => self.become_leader(ctx),
            Some(covered) => {
                self.phase1.cursor = covered
                    .saturating_add(1)
                    .max(self.phase1.base.saturating_add(1));
                self.next_phase1_round(ctx);
            }
        }
    }

    /// Someone promised a higher ballot: give up leading or campaigning.
    pub(super) fn on_nack(&mut self, ctx: &mut Ctx<'_, Self>, promised: Ballot) {
        self.saw(promised);
        if promised > self.ballot && self.role != Role::Follower {
            self.step_down(ctx, promised);
        }
    }
}
