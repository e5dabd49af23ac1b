//! View change and new view, without signatures (Castro and Liskov, TOCS
//! 2002, section 4.5, with its `P` and `Q` sets), whatever the `auth`
//! mode; with `auth: signatures` every `P` entry also carries its prepared
//! certificate and a view change with an unproven one is dropped.
//!
//! The new primary does not send the pre-prepares of the new view with
//! proofs; it names the view changes it used (sender and digest), and
//! every replica recomputes [`decide`] from its own copies, which came
//! straight from their senders over authenticated channels. The decision:
//!
//! - the starting checkpoint `h` is the highest one that `f + 1` view
//!   changes hold with the same chain digest and that is at or above the
//!   stable checkpoint of a quorum of them (genesis always qualifies);
//! - each `n` in `(h, h + log_window]` up to the highest one mentioned gets
//!   the batch `d` of some prepared entry `(n, d, v)` when
//!   (A1) a quorum of view changes have `stable < n` and no prepared entry
//!   for `n` from a view above `v` or with another digest in view `v`, and
//!   (A2) `f + 1` of them pre-prepared `d` at `n` in view `v` or later;
//!   candidates are tried from the highest view down;
//! - otherwise `n` gets the null batch if (B) a quorum have `stable < n`
//!   and no prepared entry for `n`;
//! - otherwise the decision waits for more view changes.
//!
//! A fake prepared entry from a faulty replica fails A2 (no correct replica
//! pre-prepared it in that view) and blocks A1 only until more view
//! changes arrive. Nothing committed lies above `h + log_window`: a correct
//! replica prepares only inside `(stable, stable + log_window]`, and a
//! quorum of the view changes have `stable <= h`, which leaves fewer than
//! a quorum of correct replicas that could have prepared beyond it.
//!
//! Why the new-view names view changes instead of carrying them, in every
//! mode: MACs are not transferable, so with `auth: none` or `auth: mac` a
//! relayed view change would prove nothing, and each replica must hold
//! its own copy anyway. With signatures the new-view could carry them (as
//! PBFT-PK does); it does not, because the own-copy rule is already
//! sufficient: view changes are retransmitted every tick until the view
//! starts, so a replica that missed one gets it from its sender (a correct
//! sender resends it, and a faulty one that withholds it can only make
//! this replica wait for the next view, which the view-change timer
//! bounds). What signatures add here is that a faulty replica's `P` set
//! cannot claim a batch prepared that did not: its certificate would not
//! check, so the fake entry neither wins nor blocks rule A1.

use super::messages::{
    batch_digest, Batch, PbftMessage, PbftRecord, PrePreparedEntry, ViewChange, GENESIS,
};
use super::{Pbft, PbftTimer};
use crate::core::{Ctx, NodeEvent};
use crate::types::NodeId;
use std::collections::{BTreeMap, BTreeSet};

/// The outcome of a view change: where the new view starts and what it
/// re-proposes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Starting checkpoint.
    pub(crate) h: u64,
    /// Its chain digest.
    pub(crate) h_digest: u64,
    /// Batches (possibly null) for `h + 1 ..`, in order.
    pub(crate) slots: Vec<(u64, Batch)>,
}

struct Summary {
    stable: u64,
    checkpoints: BTreeSet<(u64, u64)>,
    p: BTreeMap<u64, (u64, u64)>,
    q: BTreeMap<u64, BTreeMap<u64, u64>>,
}

fn summarize(vc: &ViewChange) -> Summary {
    let mut p: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for e in &vc.prepared {
        let cur = p.entry(e.seq).or_insert((e.view, e.digest));
        if e.view > cur.0 {
            *cur = (e.view, e.digest);
        }
    }
    let mut q: BTreeMap<u64, BTreeMap<u64, u64>> = BTreeMap::new();
    for &PrePreparedEntry { seq, digest, view } in &vc.preprepared {
        let v = q.entry(seq).or_default().entry(digest).or_insert(view);
        *v = (*v).max(view);
    }
    Summary {
        stable: vc.stable,
        checkpoints: vc.checkpoints.iter().copied().collect(),
        p,
        q,
    }
}

/// Decides the new view from view changes (see the module docs), or
/// `None` if they do not determine it yet.
pub(crate) fn decide(
    vcs: &BTreeMap<NodeId, ViewChange>,
    f: usize,
    quorum: usize,
    window: u64,
) -> Option<Decision> {
    if vcs.len() < quorum {
        return None;
    }
    let sums: Vec<Summary> = vcs.values().map(summarize).collect();
    let mut candidates: BTreeSet<(u64, u64)> = sums
        .iter()
        .flat_map(|s| s.checkpoints.iter().copied())
        .collect();
    candidates.insert((0, GENESIS));
    let (h, h_digest) = candidates.into_iter().rev().find(|&(seq, d)| {
        let support = sums
            .iter()
            .filter(|s| s.checkpoints.contains(&(seq, d)))
            .count();
        let low = sums.iter().filter(|s| s.stable <= seq).count();
        (seq == 0 || support > f) && low >= quorum
    })?;
    let top = sums
        .iter()
        .flat_map(|s| s.p.keys().chain(s.q.keys()).copied())
        .filter(|&n| n > h && n <= h + window)
        .max()
        .unwrap_or(h);
    let mut slots = Vec::new();
    for n in h + 1..=top {
        let mut cands: Vec<(u64, u64, &Batch)> = vcs
            .values()
            .flat_map(|vc| vc.prepared.iter())
            .filter(|e| e.seq == n && batch_digest(&e.batch) == e.digest)
            .map(|e| (e.view, e.digest, &e.batch))
            .collect();
        cands.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        cands.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        let chosen = cands.into_iter().find(|&(v, d, _)| {
            let a1 = sums
                .iter()
                .filter(|s| {
                    s.stable < n
                        && s.p
                            .get(&n)
                            .is_none_or(|&(v2, d2)| v2 < v || (v2 == v && d2 == d))
                })
                .count();
            let a2 = sums
                .iter()
                .filter(|s| {
                    s.q.get(&n)
                        .and_then(|m| m.get(&d))
                        .is_some_and(|&v2| v2 >= v)
                })
                .count();
            a1 >= quorum && a2 > f
        });
        if let Some((_, _, batch)) = chosen {
            slots.push((n, batch.clone()));
            continue;
        }
        let b = sums
            .iter()
            .filter(|s| s.stable < n && !s.p.contains_key(&n))
            .count();
        if b >= quorum {
            slots.push((n, Vec::new()));
        } else {
            return None;
        }
    }
    Some(Decision { h, h_digest, slots })
}

impl Pbft {
    /// Quorum of view changes (never the broken variant's small one).
    fn vc_quorum(&self) -> usize {
        (self.n as usize + self.f) / 2 + 1
    }

    /// This replica's view change for `view`.
    fn build_view_change(&self, view: u64) -> ViewChange {
        let mut checkpoints: Vec<(u64, u64)> = self
            .checkpoints
            .iter()
            .filter(|(&s, _)| s >= self.stable)
            .map(|(&s, &d)| (s, d))
            .collect();
        if self.stable > 0 && !self.checkpoints.contains_key(&self.stable) {
            if let Some(d) = self.chain_at(self.stable) {
                checkpoints.insert(0, (self.stable, d));
            }
        }
        let mut prepared = Vec::new();
        let mut preprepared = Vec::new();
        for (&seq, slot) in self.log.range(self.stable + 1..) {
            if let Some(p) = &slot.p {
                prepared.push(p.clone());
            }
            for (&digest, &v) in &slot.q {
                preprepared.push(PrePreparedEntry {
                    seq,
                    digest,
                    view: v,
                });
            }
        }
        ViewChange {
            view,
            stable: self.stable,
            checkpoints,
            prepared,
            preprepared,
        }
    }

    /// Leaves the current view for `view`.
    pub(super) fn start_view_change(&mut self, ctx: &mut Ctx<'_, Self>, view: u64) {
        if view <= self.view {
            return;
        }
        self.view = view;
        self.active = false;
        self.vc_backoff = self.vc_backoff.saturating_add(1);
        self.reset_view_state();
        self.sent_new_view = None;
        let vc = self.build_view_change(view);
        self.persist(ctx, PbftRecord::ViewChangeSent(vc.clone()));
        self.my_vc = Some(vc.clone());
        let id = self.id;
        self.store_view_change(id, vc.clone());
        self.bcast(ctx, PbftMessage::ViewChange(vc));
        if self.vc_timer_armed {
            ctx.cancel_timer(PbftTimer::ViewChange);
            self.vc_timer_armed = false;
        }
        self.arm_new_view_timer(ctx);
        ctx.emit(NodeEvent::Note(format!("view change to {view}")));
        self.try_new_view(ctx);
        self.try_pending_new_view(ctx);
    }

    /// Forgets the per-view votes and pre-prepares (keeping `P` and `Q`).
    fn reset_view_state(&mut self) {
        for slot in self.log.values_mut() {
            slot.pp = None;
            slot.prepares.clear();
            slot.commits.clear();
            slot.prepared = false;
            slot.committed = false;
        }
        self.proposed.clear();
    }

    /// Keeps the latest view change of each sender.
    fn store_view_change(&mut self, from: NodeId, vc: ViewChange) {
        let newest = self
            .view_changes
            .iter()
            .filter(|(_, m)| m.contains_key(&from))
            .map(|(&v, _)| v)
            .max();
        if newest.is_some_and(|v| v > vc.view) {
            return;
        }
        for m in self.view_changes.values_mut() {
            m.remove(&from);
        }
        self.view_changes.retain(|_, m| !m.is_empty());
        self.view_changes
            .entry(vc.view)
            .or_default()
            .insert(from, vc);
    }

    /// While changing views, the timer for the new view runs only once a
    /// quorum of replicas are changing to this view or a later one (as in
    /// PBFT, where it starts on `2f + 1` view changes): a replica that ran
    /// ahead alone waits for the others instead of running further ahead.
    pub(super) fn arm_new_view_timer(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.active || self.vc_timer_armed {
            return;
        }
        let changing = self
            .view_changes
            .range(self.view..)
            .map(|(_, m)| m.len())
            .sum::<usize>();
        if changing >= self.vc_quorum() {
            self.arm_vc_timer(ctx, true);
        }
    }

    pub(super) fn on_vc_timeout(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.active && self.sessions.pending.is_empty() {
            return;
        }
        let next = self.view + 1;
        self.start_view_change(ctx, next);
    }

    pub(super) fn on_view_change(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, vc: ViewChange) {
        if vc.view < self.view {
            return;
        }
        // With signatures every `P` entry must be proven; one that is not
        // shows the sender faulty, and its whole view change is dropped.
        // A copy already stored was checked (retransmissions cost nothing).
        let known = self
            .view_changes
            .get(&vc.view)
            .and_then(|m| m.get(&from))
            .is_some_and(|mine| *mine == vc);
        if !known && !vc.prepared.iter().all(|e| self.check_cert(e)) {
            self.rejected(ctx, from, "view change with an unproven prepared entry");
            return;
        }
        let view = vc.view;
        if view == self.view && self.active && self.helped.insert(from) {
            // A replica that missed this view's start: help it along.
            if let Some(mine) = self.my_vc.clone().filter(|m| m.view == view) {
                self.send(ctx, from, PbftMessage::ViewChange(mine));
            }
            if let Some(nv) = self.sent_new_view.clone() {
                self.send(ctx, from, nv);
            }
        }
        self.store_view_change(from, vc);
        self.arm_new_view_timer(ctx);
        self.maybe_join_higher_view(ctx);
        self.try_new_view(ctx);
        self.try_pending_new_view(ctx);
    }

    /// Joins a view change once `f + 1` replicas are in views above this
    /// one (their view changes, or their status reports).
    pub(super) fn maybe_join_higher_view(&mut self, ctx: &mut Ctx<'_, Self>) {
        let mut views: BTreeMap<NodeId, u64> = BTreeMap::new();
        for (&v, m) in self.view_changes.range(self.view + 1..) {
            for &sender in m.keys() {
                let e = views.entry(sender).or_insert(v);
                *e = (*e).max(v);
            }
        }
        for (&p, &(v, _, _)) in &self.peer_status {
            if v > self.view {
                let e = views.entry(p).or_insert(v);
                *e = (*e).max(v);
            }
        }
        views.remove(&self.id);
        if views.len() > self.f {
            let mut vs: Vec<u64> = views.into_values().collect();
            vs.sort_unstable_by(|a, b| b.cmp(a));
            // The (f+1)-th highest: at least one correct replica is there.
            let target = vs[self.f];
            self.start_view_change(ctx, target);
        }
    }

    /// Primary of the view being changed to: announce the new view once the
    /// view changes at hand decide it.
    fn try_new_view(&mut self, ctx: &mut Ctx<'_, Self>) {
        let view = self.view;
        if self.active || self.primary_of(view) != self.id {
            return;
        }
        let Some(vcs) = self.view_changes.get(&view) else {
            return;
        };
        if !vcs.contains_key(&self.id) {
            return;
        }
        let Some(decision) = decide(vcs, self.f, self.vc_quorum(), self.config.log_window) else {
            return;
        };
        let proofs: Vec<(NodeId, u64)> = vcs.iter().map(|(&j, vc)| (j, vc.digest())).collect();
        let msg = PbftMessage::NewView { view, proofs };
        self.sent_new_view = Some(msg.clone());
        self.bcast(ctx, msg);
        self.enter_view(ctx, view, decision);
    }

    pub(super) fn on_new_view(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        view: u64,
        proofs: Vec<(NodeId, u64)>,
    ) {
        if from != self.primary_of(view) || view < self.view || (view == self.view && self.active) {
            return;
        }
        let senders: BTreeSet<NodeId> = proofs.iter().map(|(j, _)| *j).collect();
        if senders.len() != proofs.len() || senders.len() < self.vc_quorum() {
            return;
        }
        if senders.iter().any(|&j| j >= self.n) {
            return;
        }
        self.pending_new_view = Some((view, proofs));
        self.try_pending_new_view(ctx);
    }

    /// Checks a received new-view against this replica's own copies of the
    /// view changes it names, and enters the view if they decide it.
    fn try_pending_new_view(&mut self, ctx: &mut Ctx<'_, Self>) {
        let Some((view, proofs)) = self.pending_new_view.clone() else {
            return;
        };
        if view < self.view || (view == self.view && self.active) {
            self.pending_new_view = None;
            return;
        }
        let Some(have) = self.view_changes.get(&view) else {
            return;
        };
        let mut used = BTreeMap::new();
        for (j, digest) in &proofs {
            match have.get(j) {
                Some(vc) if vc.digest() == *digest => {
                    used.insert(*j, vc.clone());
                }
                _ => return, // missing (wait) or different (equivocation)
            }
        }
        let Some(decision) = decide(&used, self.f, self.vc_quorum(), self.config.log_window) else {
            return;
        };
        self.pending_new_view = None;
        self.enter_view(ctx, view, decision);
    }

    /// Starts `view` with `decision`.
    fn enter_view(&mut self, ctx: &mut Ctx<'_, Self>, view: u64, decision: Decision) {
        if view > self.view || !self.active {
            self.reset_view_state();
        }
        self.view = view;
        self.active = true;
        self.persist(ctx, PbftRecord::EnteredView { view });
        self.view_changes.retain(|&v, _| v >= view);
        if self.vc_timer_armed {
            ctx.cancel_timer(PbftTimer::ViewChange);
            self.vc_timer_armed = false;
        }
        if decision.h > self.executed {
            self.trusted.insert(decision.h, decision.h_digest);
            let from = self.executed + 1;
            self.bcast(ctx, PbftMessage::Fetch { from });
        }
        let last = decision.slots.last().map_or(decision.h, |(s, _)| *s);
        self.next_seq = last.max(decision.h).max(self.executed) + 1;
        let signed_primary =
            self.is_primary() && self.keys.mode() == crate::auth::AuthMode::Signatures;
        for (seq, batch) in decision.slots {
            if seq <= self.stable {
                continue;
            }
            if seq > self.executed {
                for r in &batch {
                    self.proposed.insert((r.id.client, r.id.seq));
                }
            }
            self.accept(ctx, view, seq, batch.clone(), None);
            if signed_primary {
                // Backups took the batch from the new view; the signed
                // pre-prepare completes their certificates.
                self.bcast(ctx, PbftMessage::PrePrepare { view, seq, batch });
            }
        }
        if self.is_primary() {
            ctx.emit(NodeEvent::LeaderElected { term: view });
        }
        if !self.sessions.pending.is_empty() {
            self.arm_vc_timer(ctx, true);
        }
        let seqs: Vec<u64> = self.log.keys().copied().collect();
        for seq in seqs {
            self.check_progress(ctx, seq);
        }
        self.propose(ctx);
    }
}
