//! Log replication: AppendEntries, its replies, commitment, heartbeats.

use super::{Entry, Raft, RaftMessage, RaftTimer};
use crate::core::{Ctx, NodeEvent, Role};
use crate::types::NodeId;

impl Raft {
    /// Sends AppendEntries to every follower whose pipeline has room (or to
    /// all, with `heartbeat`).
    pub(super) fn replicate_all(&mut self, ctx: &mut Ctx<'_, Self>, heartbeat: bool) {
        for peer in 0..self.size {
            if peer != self.id {
                self.send_append(ctx, peer, heartbeat);
            }
        }
    }

    /// Sends the next batch to `peer` if its pipeline has room; with `force`
    /// sends at least an empty heartbeat.
    pub(super) fn send_append(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId, force: bool) {
        let last = self.log.last_index();
        let max_inflight = self.config.max_inflight_appends.max(1);
        let batch = self.config.max_entries_per_append.max(1);
        let Some(p) = self.progress.get_mut(peer as usize) else {
            return;
        };
        p.next = p.next.clamp(p.matched + 1, last + 1);
        let has_new = p.next <= last;
        let outstanding = p.next - 1 - p.matched;
        let room = outstanding.div_ceil(batch as u64) < u64::from(max_inflight);
        if !(force || (has_new && room)) {
            return;
        }
        let entries = if room {
            self.log.slice(p.next, batch)
        } else {
            Vec::new()
        };
        let prev_index = p.next - 1;
        let Some(prev_term) = self.log.term_at(prev_index) else {
            return;
        };
        p.next += entries.len() as u64;
        ctx.send(
            peer,
            RaftMessage::AppendEntries {
                term: self.term,
                prev_index,
                prev_term,
                entries,
                commit: self.commit,
                read_round: self.reads.round(),
            },
        );
    }

    /// Heartbeat tick: followers with entries in flight and no progress for
    /// two ticks are resent from their match index (messages were probably
    /// lost), then everyone gets a heartbeat.
    pub(super) fn on_heartbeat(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader {
            return;
        }
        for p in &mut self.progress {
            let outstanding = p.next > p.matched + 1;
            if outstanding && !p.progressed {
                p.stalled_ticks += 1;
                if p.stalled_ticks >= 2 {
                    p.next = p.matched + 1;
                    p.stalled_ticks = 0;
                }
            } else {
                p.stalled_ticks = 0;
            }
            p.progressed = false;
        }
        self.replicate_all(ctx, true);
        ctx.set_timer(RaftTimer::Heartbeat, self.config.heartbeat_interval);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_append(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
        read_round: u64,
    ) {
        let reject = |raft: &Self, conflict_term, conflict_index| RaftMessage::AppendReply {
            term: raft.term,
            success: false,
            match_index: 0,
            conflict_term,
            conflict_index,
            read_round,
        };
        if term < self.term {
            ctx.send(from, reject(self, None, 0));
            return;
        }
        if term > self.term || self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(ctx, term, Some(from));
        }
        self.reset_election_timer(ctx);
        let last = self.log.last_index();
        if prev_index > last {
            ctx.send(from, reject(self, None, last + 1));
            return;
        }
        match self.log.term_at(prev_index) {
            Some(t) if t == prev_term => {}
            Some(t) => {
                let first = self.log.first_index_of_term(t, prev_index);
                ctx.send(from, reject(self, Some(t), first));
                return;
            }
            None => {
                ctx.send(from, reject(self, None, last + 1));
                return;
            }
        }
        // Skip entries we already have; replace from the first mismatch.
        let count = entries.len() as u64;
        let mut first_new = None;
        for (k, e) in entries.iter().enumerate() {
            let index = prev_index + 1 + k as u64;
            if self.log.term_at(index) != Some(e.term) {
                first_new = Some(k);
                break;
            }
        }
        if let Some(k) = first_new {
            let index = prev_index + 1 + k as u64;
            if index <= self.commit {
                // A leader never asks to overwrite committed entries; a
                // message that does is bogus.
                return;
            }
            let rest = entries[k..].to_vec();
            self.persist_append(ctx, index, rest);
        }
        let match_index = prev_index + count;
        let new_commit = leader_commit.min(match_index);
        if new_commit > self.commit {
            self.commit = new_commit;
            self.apply(ctx);
        }
        if !self.caught_up_reported && self.applied >= leader_commit {
            self.caught_up_reported = true;
            ctx.emit(NodeEvent::CaughtUp {
                index: self.applied,
            });
        }
        ctx.send(
            from,
            RaftMessage::AppendReply {
                term: self.term,
                success: true,
                match_index,
                conflict_term: None,
                conflict_index: 0,
                read_round,
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_append_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        success: bool,
        match_index: u64,
        conflict_term: Option<u64>,
        conflict_index: u64,
        read_round: u64,
    ) {
        if term > self.term {
            self.become_follower(ctx, term, None);
            return;
        }
        if self.role != Role::Leader || term != self.term {
            return;
        }
        self.read_acknowledged(ctx, from, read_round);
        let last = self.log.last_index();
        let Some(p) = self.progress.get_mut(from as usize) else {
            return;
        };
        if success {
            let m = match_index.min(last);
            if m > p.matched {
                p.matched = m;
                p.progressed = true;
            }
            p.next = p.next.max(p.matched + 1);
            self.advance_commit(ctx);
        } else {
            // Fast back-off: skip the follower's whole conflicting term.
            let hint = match conflict_term.and_then(|t| self.log.last_index_of_term(t)) {
                Some(i) => i + 1,
                None => conflict_index,
            };
            p.next = hint.clamp(p.matched + 1, last + 1);
            p.progressed = true;
        }
        self.send_append(ctx, from, false);
    }

    /// Commits the highest index replicated (durably) on a majority, if it
    /// belongs to the current term.
    pub(super) fn advance_commit(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader {
            return;
        }
        let mut matched: Vec<u64> = self
            .progress
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if i as u32 == self.id {
                    self.durable_index
                } else {
                    p.matched
                }
            })
            .collect();
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&candidate) = matched.get(self.majority() - 1) else {
            return;
        };
        if candidate > self.commit && self.log.term_at(candidate) == Some(self.term) {
            self.commit = candidate;
            self.apply(ctx);
        }
        self.serve_confirmed_reads(ctx);
    }
}
