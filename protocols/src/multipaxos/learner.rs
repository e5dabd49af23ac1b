//! The learner: chosen values, execution in slot order, catch-up.

use super::{
    Ballot, Batch, MultiPaxos, PaxosMessage, MAX_REQUESTS_PER_MESSAGE, MAX_SLOTS_PER_MESSAGE,
    SLOT_WINDOW,
};
use crate::client::{ClientReply, ReplyBody};
use crate::core::{Ctx, NodeEvent, Role};
use crate::kv::request_digest;
use crate::types::NodeId;

impl MultiPaxos {
    /// Records that `slot` holds `batch` for good, and executes what it can.
    /// Callers bound `slot` (peers' slot numbers are checked against the
    /// window before they get here).
    pub(super) fn learn(&mut self, ctx: &mut Ctx<'_, Self>, slot: u64, batch: Batch) {
        if slot <= self.commit {
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

    /// Applies one chosen slot. Every command, and every no-op slot, gets
    /// the next applied index, so applied indexes are dense and identical on
    /// every replica although a slot holds a batch.
    fn execute(&mut self, ctx: &mut Ctx<'_, Self>, batch: Batch) {
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
            // Only the leader answers; a client that asked a replica which
            // has since been deposed retries and gets the cached answer.
            if self.role == Role::Leader {
                if let Some(r) = outcome.response() {
                    ctx.reply(
                        request.id.client,
                        ClientReply {
                            id: request.id,
                            from: self.id,
                            body: ReplyBody::Done(r.clone()),
                        },
                    );
                }
            }
        }
    }

    fn report_caught_up(&mut self, ctx: &mut Ctx<'_, Self>) {
        if !self.caught_up_reported && self.known_commit > 0 && self.commit >= self.known_commit {
            self.caught_up_reported = true;
            ctx.emit(NodeEvent::CaughtUp {
                index: self.applied_index,
            });
        }
    }

    /// Peer `from` knows every slot up to `commit` chosen: remember how far
    /// there is to go, and fetch what we lack from it. (Only a target: an
    /// absurd `commit` allocates nothing, catch-up requests stay rate
    /// limited, and values are only taken within the window.)
    pub(super) fn note_commit(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, commit: u64) {
        if commit > self.known_commit {
            self.known_commit = commit;
            self.catch_up_peer = Some(from);
        }
        if commit > self.commit {
            self.request_catch_up(ctx, from);
        }
        self.report_caught_up(ctx);
    }

    /// The leader of `ballot` says every slot up to `commit` is chosen.
    /// A slot we accepted in that very ballot holds the value the leader
    /// proposed, which is the chosen one (one proposer per ballot, one value
    /// per slot and ballot); the others are fetched.
    pub(super) fn learn_commit(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        commit: u64,
    ) {
        let upto = commit.min(self.commit.saturating_add(SLOT_WINDOW));
        if upto > self.commit {
            let known: Vec<(u64, Batch)> = self
                .accepted
                .range(self.commit + 1..=upto)
                .filter(|(_, (b, _))| *b == ballot)
                .map(|(&s, (_, v))| (s, v.clone()))
                .collect();
            for (slot, batch) in known {
                self.learn(ctx, slot, batch);
            }
        }
        self.note_commit(ctx, from, commit);
    }

    /// A heartbeat: the sender leads `ballot` and has chosen up to `commit`.
    pub(super) fn on_heartbeat(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        commit: u64,
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
        if self.role != Role::Follower && ballot > self.ballot {
            self.step_down(ctx, ballot);
        }
        if self.role == Role::Follower {
            self.leader = Some(from);
            self.reset_leader_timer(ctx);
        }
        self.learn_commit(ctx, from, ballot, commit);
    }

    /// Asks `peer` for missing chosen values, at most once per heartbeat
    /// interval for the same gap (every Accept carries the commit point, and
    /// a lagging learner must not answer each one with a request). A reply
    /// that makes progress triggers the next request at once.
    fn request_catch_up(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        let from_slot = self.commit + 1;
        let now = ctx.now();
        if let Some((at, slot)) = self.last_catch_up {
            if slot == from_slot && now.since(at) < self.config.heartbeat_interval {
                return;
            }
        }
        self.last_catch_up = Some((now, from_slot));
        ctx.send(peer, PaxosMessage::CatchUpRequest { from_slot });
    }

    /// Leader tick: a leader that lacks chosen slots (phase 1 found them
    /// chosen elsewhere) keeps asking, moving to the next peer when the
    /// last one did not help.
    pub(super) fn retry_catch_up(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.commit >= self.known_commit {
            return;
        }
        let stuck = self
            .last_catch_up
            .is_some_and(|(_, slot)| slot == self.commit + 1);
        let mut peer = self.catch_up_peer.unwrap_or(self.id);
        if stuck || peer == self.id {
            peer = (peer + 1) % self.size;
            if peer == self.id {
                peer = (peer + 1) % self.size;
            }
        }
        if peer == self.id {
            return;
        }
        self.catch_up_peer = Some(peer);
        self.request_catch_up(ctx, peer);
    }

    /// Serves chosen values from `from_slot` on, bounded per message.
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
        let mut chosen: Vec<(u64, Batch)> = Vec::new();
        let mut requests = 0;
        for (&slot, batch) in self.chosen.range(from_slot..=self.commit) {
            if chosen.len() >= MAX_SLOTS_PER_MESSAGE
                || (!chosen.is_empty() && requests + batch.len() > MAX_REQUESTS_PER_MESSAGE)
            {
                break;
            }
            requests += batch.len();
            chosen.push((slot, batch.clone()));
        }
        ctx.send(
            from,
            PaxosMessage::CatchUp {
                chosen,
                commit: self.commit,
            },
        );
    }

    /// Chosen values arrived; ask for the next chunk right away if more
    /// are missing.
    pub(super) fn on_catch_up(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        chosen: Vec<(u64, Batch)>,
        commit: u64,
    ) {
        for (slot, batch) in chosen {
            if slot > self.commit.saturating_add(SLOT_WINDOW) {
                break;
            }
            self.learn(ctx, slot, batch);
        }
        self.note_commit(ctx, from, commit);
    }
}
