//! Checkpoints, log truncation and the window, recovery from durable
//! records, periodic retransmission, and state transfer.
//!
//! State transfer: a replica that sees `f + 1` peers ahead of it (their
//! status reports) and made no progress for a tick, or that a new view
//! starts above its executed sequence number, asks for executed batches.
//! Replies are checked against its own chain digest; a prefix is executed
//! once `f + 1` repliers agree on the chain digest at its end (at least one
//! of them is correct), or once its end matches a chain digest fixed by
//! the new view.

use super::messages::{batch_digest, chain_digest, Batch, PbftMessage, PbftRecord, PreparedEntry};
use super::Pbft;
use crate::core::Ctx;
use crate::types::NodeId;
use std::collections::BTreeMap;

/// Most batches in one state-transfer reply.
const MAX_FETCH: usize = 512;

impl Pbft {
    /// Rebuilds the durable part of the state from records (see
    /// [`PbftRecord`]); volatile parts start empty.
    pub(super) fn replay(&mut self, records: Vec<PbftRecord>) {
        let mut accepts: BTreeMap<(u64, u64), Batch> = BTreeMap::new();
        let mut prepared_in_view: Vec<(u64, u64, u64)> = Vec::new();
        for record in records {
            match record {
                PbftRecord::Accept { view, seq, batch } => {
                    let digest = batch_digest(&batch);
                    let q = self
                        .log
                        .entry(seq)
                        .or_default()
                        .q
                        .entry(digest)
                        .or_insert(view);
                    *q = (*q).max(view);
                    accepts.insert((view, seq), batch);
                }
                PbftRecord::Prepared {
                    view,
                    seq,
                    digest,
                    cert,
                } => {
                    let Some(batch) = accepts.get(&(view, seq)) else {
                        continue;
                    };
                    if batch_digest(batch) != digest {
                        continue;
                    }
                    let slot = self.log.entry(seq).or_default();
                    if slot.p.as_ref().is_none_or(|p| p.view <= view) {
                        slot.p = Some(PreparedEntry {
                            seq,
                            view,
                            digest,
                            batch: batch.clone(),
                            cert,
                        });
                    }
                    prepared_in_view.push((view, seq, digest));
                }
                PbftRecord::Executed { seq, batch } => {
                    if seq == self.ledger.len() as u64 + 1 {
                        self.ledger.push(batch);
                    }
                }
                PbftRecord::Stable { seq } => self.stable = self.stable.max(seq),
                PbftRecord::ViewChangeSent(vc) => {
                    if vc.view > self.view || (vc.view == self.view && !self.active) {
                        self.view = vc.view;
                        self.active = false;
                        self.my_vc = Some(vc);
                    }
                }
                PbftRecord::EnteredView { view } => {
                    if view >= self.view {
                        self.view = view;
                        self.active = true;
                    }
                }
            }
        }
        self.stable = self.stable.min(self.ledger.len() as u64);
        let stable = self.stable;
        self.log.retain(|&s, _| s > stable);
        if !self.active {
            return;
        }
        let (view, id, backup) = (self.view, self.id, self.primary_of(self.view) != self.id);
        for ((v, seq), batch) in accepts {
            if v != view || seq <= stable {
                continue;
            }
            let digest = batch_digest(&batch);
            let slot = self.log.entry(seq).or_default();
            slot.pp = Some((digest, batch));
            if backup {
                slot.prepares.insert(id, digest);
            }
        }
        for (v, seq, digest) in prepared_in_view {
            if v != view {
                continue;
            }
            if let Some(slot) = self.log.get_mut(&seq) {
                if slot.pp.as_ref().is_some_and(|(d, _)| *d == digest) {
                    slot.prepared = true;
                    slot.commits.insert(id, digest);
                }
            }
        }
    }

    /// Re-executes the durable ledger (emitting its applied positions
    /// again) and derives the primary's next sequence number.
    pub(super) fn rebuild_state(&mut self, ctx: &mut Ctx<'_, Self>) {
        let ledger = std::mem::take(&mut self.ledger);
        self.chains.clear();
        self.executed = 0;
        for batch in ledger {
            let seq = self.executed + 1;
            self.execute_batch(ctx, seq, batch, false);
        }
        self.executed_at_tick = self.executed;
        let last_pp = self
            .log
            .iter()
            .rev()
            .find(|(_, s)| s.pp.is_some())
            .map_or(0, |(&seq, _)| seq);
        self.next_seq = self.executed.max(last_pp) + 1;
        let executed = self.executed;
        for (&seq, slot) in &self.log {
            if seq > executed {
                if let Some((_, batch)) = &slot.pp {
                    for r in batch {
                        self.proposed.insert((r.id.client, r.id.seq));
                    }
                }
            }
        }
    }

    /// This replica reached checkpoint `seq`: tell the others and count
    /// its own vote.
    pub(super) fn own_checkpoint(&mut self, ctx: &mut Ctx<'_, Self>, seq: u64, digest: u64) {
        self.bcast(ctx, PbftMessage::Checkpoint { seq, digest });
        let id = self.id;
        self.record_checkpoint_vote(ctx, id, seq, digest);
    }

    pub(super) fn on_checkpoint(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        seq: u64,
        digest: u64,
    ) {
        let interval = self.config.checkpoint_interval.max(1);
        if seq <= self.stable || !seq.is_multiple_of(interval) {
            return;
        }
        if seq > self.stable + 4 * self.config.log_window.max(interval) {
            return; // far beyond anything a correct replica reaches
        }
        self.record_checkpoint_vote(ctx, from, seq, digest);
    }

    fn record_checkpoint_vote(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        seq: u64,
        digest: u64,
    ) {
        let votes = self.checkpoint_votes.entry(seq).or_default();
        votes.insert(from, digest);
        let agreeing = votes.values().filter(|&&d| d == digest).count();
        if agreeing > self.f && seq > self.executed {
            self.trusted.insert(seq, digest);
        }
        if agreeing >= self.quorum() && self.checkpoints.get(&seq) == Some(&digest) {
            self.make_stable(ctx, seq);
        }
    }

    /// Checkpoint `seq` is stable: truncate the log and move the window.
    fn make_stable(&mut self, ctx: &mut Ctx<'_, Self>, seq: u64) {
        if seq <= self.stable {
            return;
        }
        self.stable = seq;
        self.persist(ctx, PbftRecord::Stable { seq });
        self.log.retain(|&s, _| s > seq);
        self.checkpoint_votes.retain(|&s, _| s > seq);
        self.checkpoints.retain(|&s, _| s >= seq);
        self.trusted.retain(|&s, _| s > seq);
        self.propose(ctx);
    }

    /// The periodic tick: retransmissions, status, state transfer and
    /// catching up with the others' view.
    pub(super) fn on_tick(&mut self, ctx: &mut Ctx<'_, Self>) {
        let view = self.view;
        self.helped.clear();
        if self.active {
            let primary = self.is_primary();
            // Resend what this replica or a peer in this view still lacks.
            let low = self
                .peer_status
                .values()
                .filter(|&&(v, a, _)| v == view && a)
                .map(|&(_, _, e)| e)
                .chain(std::iter::once(self.executed))
                .min()
                .unwrap_or(self.executed);
            let resend: Vec<(u64, u64, Batch, bool)> = self
                .log
                .iter()
                .filter(|(&seq, _)| seq > low)
                .filter_map(|(&seq, s)| {
                    s.pp.as_ref().map(|(d, b)| (seq, *d, b.clone(), s.prepared))
                })
                .collect();
            for (seq, digest, batch, prepared) in resend {
                if primary {
                    self.bcast(ctx, PbftMessage::PrePrepare { view, seq, batch });
                } else {
                    self.bcast(ctx, PbftMessage::Prepare { view, seq, digest });
                }
                if prepared {
                    self.bcast(ctx, PbftMessage::Commit { view, seq, digest });
                }
            }
            if primary {
                if let Some(nv) = self.sent_new_view.clone() {
                    let behind: Vec<NodeId> = self
                        .peer_status
                        .iter()
                        .filter(|(_, &(v, a, _))| v < view || (v == view && !a))
                        .map(|(&p, _)| p)
                        .collect();
                    for p in behind {
                        self.send(ctx, p, nv.clone());
                    }
                }
                self.propose(ctx);
            } else {
                let to = self.primary_of(view);
                let waiting: Vec<_> = self.sessions.pending.values().cloned().collect();
                for r in waiting {
                    self.send(ctx, to, PbftMessage::Request(r));
                }
            }
        } else if let Some(vc) = self.my_vc.clone().filter(|vc| vc.view == view) {
            self.bcast(ctx, PbftMessage::ViewChange(vc));
        }
        let status = PbftMessage::Status {
            view,
            active: self.active,
            executed: self.executed,
        };
        self.bcast(ctx, status);
        if let Some((&seq, &digest)) = self.checkpoints.iter().next_back() {
            if seq > self.stable {
                self.bcast(ctx, PbftMessage::Checkpoint { seq, digest });
            }
        }
        self.maybe_fetch(ctx);
        self.executed_at_tick = self.executed;
        self.maybe_join_higher_view(ctx);
    }

    pub(super) fn on_status(
        &mut self,
        _ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        view: u64,
        active: bool,
        executed: u64,
    ) {
        self.peer_status.insert(from, (view, active, executed));
    }

    /// Asks for executed batches if `f + 1` peers are ahead and nothing
    /// moved since the last tick, or a trusted chain digest lies ahead.
    fn maybe_fetch(&mut self, ctx: &mut Ctx<'_, Self>) {
        let ahead: Vec<NodeId> = self
            .peer_status
            .iter()
            .filter(|(_, &(_, _, e))| e > self.executed)
            .map(|(&p, _)| p)
            .collect();
        let stuck = self.executed == self.executed_at_tick;
        let trusted_ahead = self.trusted.keys().any(|&s| s > self.executed);
        if (ahead.len() > self.f && stuck) || trusted_ahead {
            let from = self.executed + 1;
            for p in ahead {
                self.send(ctx, p, PbftMessage::Fetch { from });
            }
            if trusted_ahead {
                self.bcast(ctx, PbftMessage::Fetch { from });
            }
        }
    }

    pub(super) fn on_fetch(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, first: u64) {
        if first == 0 || first > self.executed {
            return;
        }
        let lo = (first - 1) as usize;
        let hi = (self.executed as usize).min(lo + MAX_FETCH);
        let batches = self.ledger.get(lo..hi).map(<[Batch]>::to_vec);
        let digests = self.chains.get(lo..hi).map(<[u64]>::to_vec);
        if let (Some(batches), Some(digests)) = (batches, digests) {
            let reply = PbftMessage::FetchReply {
                from: first,
                batches,
                digests,
            };
            self.send(ctx, from, reply);
        }
    }

    pub(super) fn on_fetch_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        first: u64,
        batches: Vec<Batch>,
        digests: Vec<u64>,
    ) {
        if first != self.executed + 1 || batches.len() != digests.len() {
            return;
        }
        let Some(mut prev) = self.chain_at(self.executed) else {
            return;
        };
        let mut verified = 0;
        for (i, (batch, &claimed)) in batches.iter().zip(&digests).enumerate() {
            let chain = chain_digest(prev, first + i as u64, batch_digest(batch));
            if chain != claimed {
                break;
            }
            prev = chain;
            verified = i + 1;
        }
        if verified == 0 {
            return;
        }
        let mut batches = batches;
        let mut digests = digests;
        batches.truncate(verified);
        digests.truncate(verified);
        self.fetched.insert(from, (batches, digests));
        self.apply_fetched(ctx);
    }

    /// Executes the longest fetched prefix that `f + 1` repliers agree on
    /// or that ends at a trusted chain digest.
    fn apply_fetched(&mut self, ctx: &mut Ctx<'_, Self>) {
        let first = self.executed + 1;
        let mut best: Option<(usize, NodeId)> = None;
        for (&sender, (_, digests)) in &self.fetched {
            for i in (0..digests.len()).rev() {
                let d = digests[i];
                let agree = self
                    .fetched
                    .values()
                    .filter(|(_, ds)| ds.get(i) == Some(&d))
                    .count();
                let trusted = self.trusted.get(&(first + i as u64)) == Some(&d);
                if agree > self.f || trusted {
                    if best.is_none_or(|(len, _)| i + 1 > len) {
                        best = Some((i + 1, sender));
                    }
                    break;
                }
            }
        }
        let Some((len, sender)) = best else {
            return;
        };
        let Some((batches, _)) = self.fetched.remove(&sender) else {
            return;
        };
        for batch in batches.into_iter().take(len) {
            let seq = self.executed + 1;
            self.execute_batch(ctx, seq, batch, true);
        }
        self.fetched.clear();
        self.execute_ready(ctx);
        self.after_progress(ctx);
    }
}
