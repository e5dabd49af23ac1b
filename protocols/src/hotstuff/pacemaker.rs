//! The pacemaker's bookkeeping: the current view, the view timer's
//! exponential back-off, and the view-synchronisation evidence (timeouts
//! wished by peers, new-view messages collected by a leader). The replica
//! (`replica.rs`) arms timers and sends messages from what this decides.

use super::messages::{HotstuffMessage, HotstuffTimer, LastVote, Qc};
use super::Hotstuff;
use crate::client::ClientRequest;
use crate::core::{Ctx, NodeEvent};
use crate::types::NodeId;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Votes of this many views before the current one are kept: a new-view
/// may repeat a vote from a few failed views back.
const VOTE_MEMORY: u64 = 16;

/// Most doublings of the view timeout (8 times the base).
pub(crate) const MAX_BACKOFF: u32 = 3;

/// A suspected leader's view times out this many times sooner. Suspicion
/// lasts only until the replica hears from the leader, so in practice it
/// sticks to crashed, cut-off or silent replicas, whose views are skipped
/// quickly: a crashed replica among `n` costs a few milliseconds every `n`
/// views instead of a full timeout (and a back-off).
const SUSPECT_DIVISOR: u32 = 16;

#[derive(Clone, Debug)]
pub(crate) struct Pacemaker {
    /// The view this replica is in.
    pub(crate) view: u64,
    base: Duration,
    /// Views that ended without a commit since the last commit.
    backoff: u32,
    /// Per peer, the highest view it asked for in a timeout.
    wishes: BTreeMap<NodeId, u64>,
    /// New-view senders per view this replica leads.
    new_views: BTreeMap<u64, BTreeSet<NodeId>>,
    /// Per leader, how many of its views this replica gave up on without
    /// hearing from it since (see [`Pacemaker::suspected`]).
    suspects: BTreeMap<NodeId, u32>,
}

impl Pacemaker {
    pub(crate) fn new(base: Duration) -> Pacemaker {
        Pacemaker {
            view: 1,
            base,
            backoff: 0,
            wishes: BTreeMap::new(),
            new_views: BTreeMap::new(),
            suspects: BTreeMap::new(),
        }
    }

    /// The timeout of a view led by `leader`: the base doubled per view
    /// without a commit, at most [`MAX_BACKOFF`] times, and divided by
    /// [`SUSPECT_DIVISOR`] if the leader is suspected and no view timed
    /// out since the last commit. Only the first failed view after a
    /// commit is cut short: a replica that hears from nobody (cut off), or a
    /// cluster without a quorum, would otherwise run through views at the
    /// short timeout, far ahead of the replicas that suspect no one, and
    /// those could take longer than the liveness bound to catch up once
    /// healed (a replica follows only `f + 1` timeouts).
    pub(crate) fn timeout(&self, leader: NodeId) -> Duration {
        if self.backoff == 0 && self.suspected(leader) {
            return self.base / SUSPECT_DIVISOR;
        }
        self.base * (1u32 << self.backoff.min(MAX_BACKOFF))
    }

    /// This replica gave up on a view led by `leader`.
    pub(crate) fn suspect(&mut self, leader: NodeId) {
        let n = self.suspects.entry(leader).or_default();
        *n = n.saturating_add(1);
    }

    /// A message came from `leader`: it is up.
    pub(crate) fn trust(&mut self, leader: NodeId) {
        self.suspects.remove(&leader);
    }

    /// Whether `leader` is suspected: this replica gave up on two of its
    /// views without hearing from it in between. One is not enough: a
    /// live leader whose view failed (a lost message, a slow link) would
    /// get a short timeout on its next turn if that comes before its next
    /// message does, and could fail again for that alone.
    pub(crate) fn suspected(&self, leader: NodeId) -> bool {
        self.suspects.get(&leader).is_some_and(|&n| n >= 2)
    }

    /// The view timer fired: the next view, with a longer timeout.
    pub(crate) fn timed_out(&mut self) -> u64 {
        self.backoff = self.backoff.saturating_add(1);
        self.view += 1;
        self.view
    }

    /// A block was committed: back to the base timeout.
    pub(crate) fn progress(&mut self) {
        self.backoff = 0;
    }

    /// Moves to `view` if it is ahead; whether it moved.
    pub(crate) fn advance(&mut self, view: u64) -> bool {
        if view <= self.view {
            return false;
        }
        self.view = view;
        self.new_views.retain(|&v, _| v >= view);
        true
    }

    /// A peer timed out and wants `view`. Returns the highest view above
    /// the current one that `threshold` replicas (this one not counted)
    /// want to be in or beyond: at least one of them is correct, so the
    /// replica should follow.
    pub(crate) fn wish(&mut self, from: NodeId, view: u64, threshold: usize) -> Option<u64> {
        let w = self.wishes.entry(from).or_default();
        *w = (*w).max(view);
        let mut views: Vec<u64> = self.wishes.values().copied().collect();
        views.sort_unstable_by(|a, b| b.cmp(a));
        let target = *views.get(threshold.checked_sub(1)?)?;
        (target > self.view).then_some(target)
    }

    /// A new-view for `view` (which this replica leads) from `from`;
    /// returns how many distinct senders it has for that view.
    pub(crate) fn new_view(&mut self, from: NodeId, view: u64) -> usize {
        let set = self.new_views.entry(view).or_default();
        set.insert(from);
        set.len()
    }

    /// How many new-views this replica holds for `view`.
    pub(crate) fn new_views_for(&self, view: u64) -> usize {
        self.new_views.get(&view).map_or(0, BTreeSet::len)
    }
}

impl Hotstuff {
    /// Moves to `view` if it is ahead of the current one. `sync`: the move
    /// is a view change (this replica timed out, or follows `f + 1` that
    /// did): tell the new leader this replica's highest certificate and
    /// echo the timeout so every correct replica follows.
    pub(super) fn enter_view(&mut self, ctx: &mut Ctx<'_, Self>, view: u64, sync: bool) {
        if !self.pace.advance(view) {
            return;
        }
        self.votes.prune(view.saturating_sub(VOTE_MEMORY));
        if sync {
            self.send_new_view(ctx, view);
        } else if self.leader_of(view) == self.id {
            // A leader knows its own highest certificate.
            self.pace.new_view(self.id, view);
        }
        self.forward_pending(ctx);
        self.arm_view_timer(ctx, true);
        self.try_propose(ctx);
    }

    pub(super) fn send_new_view(&mut self, ctx: &mut Ctx<'_, Self>, view: u64) {
        let leader = self.leader_of(view);
        let high_qc = self.tree.high_qc.clone();
        if leader == self.id {
            self.pace.new_view(self.id, view);
            if let Some(v) = self.last_vote.clone() {
                self.collect_vote(ctx, self.id, v.view, v.block, v.sig);
            }
        } else {
            let vote = self.last_vote.clone();
            let msg = HotstuffMessage::NewView {
                view,
                high_qc,
                vote,
            };
            self.send(ctx, leader, msg);
        }
        self.bcast(ctx, HotstuffMessage::Timeout { view });
    }

    /// The view timer fired: give up on the view if there is work.
    pub(super) fn on_view_timeout(&mut self, ctx: &mut Ctx<'_, Self>) {
        if !self.has_work() {
            return;
        }
        self.pace.suspect(self.leader_of(self.pace.view));
        let view = self.pace.timed_out();
        ctx.emit(NodeEvent::Note(format!("view {} timed out", view - 1)));
        self.votes.prune(view.saturating_sub(VOTE_MEMORY));
        self.send_new_view(ctx, view);
        self.forward_pending(ctx);
        self.arm_view_timer(ctx, true);
        self.try_propose(ctx);
    }

    /// A peer timed out and wants `view`: follow `f + 1` of them.
    pub(super) fn on_timeout_wish(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, view: u64) {
        if let Some(target) = self.pace.wish(from, view, self.f + 1) {
            self.enter_view(ctx, target, true);
        }
    }

    /// A new-view for `view`, sent to this replica as its leader.
    pub(super) fn on_new_view(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        view: u64,
        high_qc: Qc,
        vote: Option<LastVote>,
    ) {
        if self.leader_of(view) != self.id || view < self.pace.view {
            return;
        }
        self.on_qc(ctx, high_qc, from);
        if let Some(v) = vote.filter(|v| v.view < view) {
            self.collect_vote(ctx, from, v.view, v.block, v.sig);
        }
        let count = self.pace.new_view(from, view);
        if count >= self.quorum() && self.pace.view < view {
            self.enter_view(ctx, view, false);
        }
        self.try_propose(ctx);
    }

    /// Arms the view timer while there is work (`restart`: even if it
    /// runs already), and disarms it when there is none.
    pub(super) fn arm_view_timer(&mut self, ctx: &mut Ctx<'_, Self>, restart: bool) {
        if self.has_work() {
            if restart || !self.view_timer_armed {
                let timeout = self.pace.timeout(self.leader_of(self.pace.view));
                ctx.set_timer(HotstuffTimer::View, timeout);
                self.view_timer_armed = true;
            }
        } else if self.view_timer_armed {
            ctx.cancel_timer(HotstuffTimer::View);
            self.view_timer_armed = false;
        }
    }

    /// Sends the requests this replica knows and no uncommitted block
    /// holds yet to the current leader.
    pub(super) fn forward_pending(&mut self, ctx: &mut Ctx<'_, Self>) {
        let leader = self.leader_of(self.pace.view);
        if leader == self.id || self.sessions.pending.is_empty() {
            return;
        }
        let proposed = self.in_pipeline(&self.tree.high_qc.block);
        let waiting: Vec<ClientRequest> = self
            .sessions
            .pending
            .values()
            .filter(|r| !proposed.contains(&r.id))
            .cloned()
            .collect();
        for r in waiting {
            self.send(ctx, leader, HotstuffMessage::Request(r));
        }
    }
}
