//! The learner: chosen values, execution in slot order, catch-up.

use super::{Ballot, Batch, MultiPaxos, PaxosMessage, SLOT_WINDOW};
use crate::client::{ClientReply, ReplyBody};
use crate::core::{Ctx, NodeEvent, Role};
use crate::kv::{request_digest, ApplyOutcome};
use crate::types::NodeId;

/// Most chosen values sent in one catch-up message.
const CATCH_UP_BATCH: usize = 64;

impl MultiPaxos {
    /// Records that `slot` holds `batch` for good, and executes what it can.
    pub(super) fn learn(&mut self, ctx: &mut Ctx<'_, Self>, slot: u64, batch: Batch) {
        if slot <= self.commit || slot == 0 {
            return;
        }
        self.chosen.entry(slot).or_insert(batch);
        while let Some(batch) = self.chosen.get(&(self.commit + 1)) {
            let batch = batch.clone();
            self.commit += 1;
            self.execute(ctx, batch);
        }
        self.report_caught_up(ctx);
    }

    fn execute(&mut self, ctx: &mut Ctx<'_, Self>, batch: Batch) {
        self.executed = self.commit;
        if batch.is_empty() {
            self.applied_index += 1;
            ctx.applied(self.applied_index, None, 0);
            return;
        }
        for request in batch {
            let outcome = self.kv.apply(request.id, &request.command);
            self.applied_index += 1;
            ctx.applied(
                self.applied_index,
                Some(request.id),
                request_digest(request.id, &request.command),
            );
            if self.role == Role::Leader {
                if let ApplyOutcome::Executed(r) | ApplyOutcome::Duplicate(r) = outcome {
                    ctx.reply(
                        request.id.client,
                        ClientReply {
                            id: request.id,
                            from: self.id,
                            body: ReplyBody::Done(r),
                        },
                    );
                }
            }
        }
    }

    fn report_caught_up(&mut self, ctx: &mut Ctx<'_, Self>) {
        if !self.caught_up_reported
            && self.leader_commit_seen > 0
            && self.commit >= self.leader_commit_seen
        {
            self.caught_up_reported = true;
            ctx.emit(NodeEvent::CaughtUp {
                index: self.applied_index,
            });
        }
    }

    /// The leader of `ballot` says every slot up to `commit` is chosen:
    /// slots we accepted in that ballot are chosen with our value; for the
    /// others we ask.
    pub(super) fn learn_commit(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        commit: u64,
    ) {
        if ballot < self.promised || ballot.node != from {
            return;
        }
        let commit = commit.min(self.commit.saturating_add(SLOT_WINDOW));
        self.leader_commit_seen = self.leader_commit_seen.max(commit);
        if commit > self.commit {
            let known: Vec<(u64, Batch)> = self
                .accepted
                .range(self.commit + 1..=commit)
                .filter(|(_, (b, _))| *b == ballot)
                .map(|(&s, (_, v))| (s, v.clone()))
                .collect();
            for (slot, batch) in known {
                self.learn(ctx, slot, batch);
            }
        }
        if self.commit < commit {
            self.request_catch_up(ctx, from);
        }
        self.report_caught_up(ctx);
    }

    pub(super) fn on_heartbeat(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        commit: u64,
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
        if ballot.node != from {
            return;
        }
        if self.role != Role::Follower && ballot > self.ballot {
            self.step_down(ctx, ballot);
        }
        if self.role == Role::Follower {
            self.leader = Some(from);
            self.reset_leader_timer(ctx);
        }
        self.learn_commit(ctx, from, ballot, commit);
    }

    /// Asks `leader` for missing chosen values, at most once per heartbeat
    /// interval for the same gap (every Accept carries the commit point, and
    /// a lagging learner must not answer each one with a request).
    fn request_catch_up(&mut self, ctx: &mut Ctx<'_, Self>, leader: NodeId) {
        let from_slot = self.commit + 1;
        let now = ctx.now();
        if let Some((at, slot)) = self.last_catch_up {
            if slot == from_slot && now.since(at) < self.config.heartbeat_interval {
                return;
            }
        }
        self.last_catch_up = Some((now, from_slot));
        ctx.send(leader, PaxosMessage::CatchUpRequest { from_slot });
    }

    pub(super) fn on_catch_up_request(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        from_slot: u64,
    ) {
        let from_slot = from_slot.max(1);
        if from_slot > self.commit {
            return;
        }
        let chosen: Vec<(u64, Batch)> = self
            .chosen
            .range(from_slot..=self.commit)
            .take(CATCH_UP_BATCH)
            .map(|(&s, v)| (s, v.clone()))
            .collect();
        if !chosen.is_empty() {
            ctx.send(from, PaxosMessage::CatchUp { chosen });
        }
    }

    pub(super) fn on_catch_up(&mut self, ctx: &mut Ctx<'_, Self>, chosen: Vec<(u64, Batch)>) {
        for (slot, batch) in chosen {
            if slot > self.commit.saturating_add(SLOT_WINDOW) {
                break;
            }
            self.learn(ctx, slot, batch);
        }
    }
}
