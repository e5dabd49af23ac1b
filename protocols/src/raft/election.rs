//! Leader election: timeouts, RequestVote, votes, stepping down.

use super::{Entry, Payload, Progress, Raft, RaftMessage, RaftTimer};
use crate::core::{Ctx, NodeEvent, Role};
use crate::types::NodeId;
use rand::Rng;
use std::time::Duration;

impl Raft {
    pub(super) fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, Self>) {
        let min = self.config.election_timeout_min;
        let max = self.config.election_timeout_max.max(min);
        let timeout = if max > min {
            let lo = u64::try_from(min.as_nanos()).unwrap_or(u64::MAX);
            let hi = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(ctx.rng().gen_range(lo..=hi))
        } else {
            min
        };
        ctx.set_timer(RaftTimer::Election, timeout);
    }

    /// Adopts a higher term (or confirms the current one) as a follower.
    pub(super) fn become_follower(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        term: u64,
        leader: Option<NodeId>,
    ) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.persist_hard_state(ctx);
        }
        if self.role == Role::Leader {
            ctx.emit(NodeEvent::SteppedDown { term: self.term });
            ctx.cancel_timer(RaftTimer::Heartbeat);
            self.abandon_reads(ctx);
            self.reset_election_timer(ctx);
        }
        if self.role != Role::Follower {
            self.reset_election_timer(ctx);
        }
        self.role = Role::Follower;
        self.leader = leader;
    }

    pub(super) fn on_election_timeout(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role == Role::Leader {
            return;
        }
        self.term += 1;
        self.role = Role::Candidate;
        self.leader = None;
        self.voted_for = Some(self.id);
        self.votes.clear();
        self.votes.insert(self.id);
        self.persist_hard_state(ctx);
        self.reset_election_timer(ctx);
        if self.votes.len() >= self.majority() {
            self.become_leader(ctx);
            return;
        }
        ctx.broadcast(RaftMessage::RequestVote {
            term: self.term,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        });
    }

    pub(super) fn on_request_vote(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
    ) {
        if term > self.term {
            self.become_follower(ctx, term, None);
        }
        let up_to_date =
            (last_log_term, last_log_index) >= (self.log.last_term(), self.log.last_index());
        let free = self.voted_for.is_none() || self.voted_for == Some(from);
        let granted = term == self.term && self.role == Role::Follower && free && up_to_date;
        if granted && self.voted_for != Some(from) {
            self.voted_for = Some(from);
            self.persist_hard_state(ctx);
        }
        if granted {
            self.reset_election_timer(ctx);
        }
        ctx.send(
            from,
            RaftMessage::Vote {
                term: self.term,
                granted,
            },
        );
    }

    pub(super) fn on_vote(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        granted: bool,
    ) {
        if term > self.term {
            self.become_follower(ctx, term, None);
            return;
        }
        if self.role != Role::Candidate || term != self.term || !granted {
            return;
        }
        self.votes.insert(from);
        if self.votes.len() >= self.majority() {
            self.become_leader(ctx);
        }
    }

    fn become_leader(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::Leader;
        self.leader = Some(self.id);
        ctx.cancel_timer(RaftTimer::Election);
        let next = self.log.last_index() + 1;
        for p in &mut self.progress {
            *p = Progress {
                next,
                ..Progress::default()
            };
        }
        ctx.emit(NodeEvent::LeaderElected { term: self.term });
        // The no-op lets the new leader commit (and so serve reads) without
        // waiting for a client write.
        let noop = Entry {
            term: self.term,
            payload: Payload::Noop,
        };
        self.term_start = next;
        self.persist_append(ctx, next, vec![noop]);
        self.replicate_all(ctx, true);
        ctx.set_timer(RaftTimer::Heartbeat, self.config.heartbeat_interval);
        self.advance_commit(ctx);
    }
}
