//! The normal case: requests, batching, pre-prepare, prepare, commit and
//! execution in sequence order.

use super::messages::{
    batch_digest, chain_digest, pre_prepare_bytes, prepare_bytes, Batch, PbftMessage, PbftRecord,
    PreparedEntry,
};
use super::{Pbft, PbftTimer};
use crate::client::{ClientReply, ClientRequest, ReplyBody};
use crate::core::Ctx;
use crate::kv::request_digest;
use crate::sessions::Admission;
use crate::types::NodeId;

impl Pbft {
    /// A client request, straight from the client or relayed by a backup.
    pub(super) fn on_request(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        request: ClientRequest,
        from_client: bool,
    ) {
        match self.sessions.admit(&request) {
            Admission::Fresh => {}
            Admission::Executed(response) => {
                if from_client {
                    self.reply_client(ctx, request.id, ReplyBody::Done(response));
                }
                return;
            }
            Admission::Stale => return,
        }
        if self.active && self.is_primary() {
            self.arm_vc_timer(ctx, false);
            self.propose(ctx);
            return;
        }
        if from_client && self.active {
            let primary = self.primary_of(self.view);
            self.send(ctx, primary, PbftMessage::Request(request.clone()));
            let body = ReplyBody::Redirect {
                leader: Some(primary),
            };
            self.reply_client(ctx, request.id, body);
        }
        if self.active {
            self.arm_vc_timer(ctx, false);
        }
    }

    /// Answers a client (through the Byzantine filter).
    pub(super) fn reply_client(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        id: crate::types::RequestId,
        body: ReplyBody,
    ) {
        if let Some(body) = self.filter_reply(body) {
            let reply = ClientReply {
                id,
                from: self.id,
                body,
            };
            self.replay_reply(ctx, &reply);
            ctx.reply(id.client, reply);
        }
    }

    /// Primary: assigns waiting requests to new sequence numbers while the
    /// pipeline and the log window allow.
    pub(super) fn propose(&mut self, ctx: &mut Ctx<'_, Self>) {
        if !(self.active && self.is_primary()) {
            return;
        }
        loop {
            self.next_seq = self.next_seq.max(self.stable + 1);
            let inflight = (self.next_seq - 1).saturating_sub(self.executed);
            if inflight >= self.config.max_inflight.max(1) || !self.in_window(self.next_seq) {
                return;
            }
            let batch: Batch = self
                .sessions
                .pending
                .values()
                .filter(|r| !self.proposed.contains(&(r.id.client, r.id.seq)))
                .take(self.config.max_batch.max(1))
                .cloned()
                .collect();
            if batch.is_empty() {
                return;
            }
            for r in &batch {
                self.proposed.insert((r.id.client, r.id.seq));
            }
            let (view, seq) = (self.view, self.next_seq);
            self.next_seq += 1;
            self.accept(ctx, view, seq, batch.clone(), None);
            self.bcast(ctx, PbftMessage::PrePrepare { view, seq, batch });
            self.check_progress(ctx, seq);
        }
    }

    /// Takes `batch` as the pre-prepare of (`view`, `seq`): records it in
    /// `Q`, persists it and (backups) votes prepare. `pp_sig` is the
    /// primary's signature of the pre-prepare, if it came with one (a
    /// primary signs its own).
    pub(super) fn accept(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        view: u64,
        seq: u64,
        batch: Batch,
        pp_sig: Option<Vec<u8>>,
    ) {
        let digest = batch_digest(&batch);
        let backup = self.primary_of(view) != self.id;
        let id = self.id;
        let signing = self.keys.mode() == crate::auth::AuthMode::Signatures;
        let (pp_sig, own_prepare) = match (signing, backup) {
            (false, _) => (None, None),
            (true, false) => (
                Some(self.sign_cached(&pre_prepare_bytes(id, view, seq, digest))),
                None,
            ),
            (true, true) => (
                pp_sig,
                Some(self.sign_cached(&prepare_bytes(id, view, seq, digest))),
            ),
        };
        let slot = self.log.entry(seq).or_default();
        slot.pp = Some((digest, batch.clone()));
        slot.pp_sig = pp_sig;
        let q = slot.q.entry(digest).or_insert(view);
        *q = (*q).max(view);
        if backup {
            slot.prepares.insert(id, digest);
            if let Some(sig) = own_prepare {
                slot.prepare_sigs.insert(id, sig);
            }
        }
        self.persist(ctx, PbftRecord::Accept { view, seq, batch });
        if backup {
            self.bcast(ctx, PbftMessage::Prepare { view, seq, digest });
        }
    }

    /// A pre-prepare (`sig`: the primary's signature, with signatures).
    pub(super) fn on_pre_prepare(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        view: u64,
        seq: u64,
        batch: Batch,
        sig: Option<Vec<u8>>,
    ) {
        if !self.active || view != self.view || from != self.primary_of(view) {
            return;
        }
        if !self.in_window(seq) || batch.len() > self.config.max_batch.max(1) {
            return;
        }
        let accepted = self
            .log
            .get(&seq)
            .and_then(|s| s.pp.as_ref().map(|pp| pp.0));
        match accepted {
            // A conflicting pre-prepare (equivocation) is ignored; a
            // retransmitted one is answered by the periodic resend. A
            // batch taken from the new view waits for the new primary's
            // signed pre-prepare to complete its certificate.
            Some(digest) => {
                if sig.is_none() || digest != batch_digest(&batch) {
                    return;
                }
                if let Some(slot) = self.log.get_mut(&seq).filter(|s| s.pp_sig.is_none()) {
                    slot.pp_sig = sig;
                    self.check_progress(ctx, seq);
                }
            }
            None => {
                if !self.check_batch(&batch) {
                    self.rejected(ctx, from, "pre-prepare with a forged request");
                    return;
                }
                self.accept(ctx, view, seq, batch, sig);
                self.check_progress(ctx, seq);
            }
        }
    }

    /// A prepare (`sig`: the backup's signature, with signatures).
    pub(super) fn on_prepare(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        view: u64,
        seq: u64,
        digest: u64,
        sig: Option<Vec<u8>>,
    ) {
        if !self.active || view != self.view || !self.in_window(seq) {
            return;
        }
        if from == self.primary_of(view) {
            return; // the primary's vote is its pre-prepare
        }
        let slot = self.log.entry(seq).or_default();
        slot.prepares.insert(from, digest);
        match sig {
            Some(sig) => slot.prepare_sigs.insert(from, sig),
            None => slot.prepare_sigs.remove(&from),
        };
        self.check_progress(ctx, seq);
    }

    pub(super) fn on_commit(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        view: u64,
        seq: u64,
        digest: u64,
    ) {
        if !self.active || view != self.view || !self.in_window(seq) {
            return;
        }
        self.log
            .entry(seq)
            .or_default()
            .commits
            .insert(from, digest);
        self.check_progress(ctx, seq);
    }

    /// Moves `seq` to prepared (sending a commit) and committed (executing)
    /// when its votes allow.
    pub(super) fn check_progress(&mut self, ctx: &mut Ctx<'_, Self>, seq: u64) {
        let quorum = self.quorum();
        let (view, id) = (self.view, self.id);
        let Some(slot) = self.log.get(&seq) else {
            return;
        };
        let Some((digest, batch)) = slot.pp.clone() else {
            return;
        };
        // Prepared: the pre-prepare and a quorum less one matching
        // prepares (with signatures, each of them signed).
        let newly_prepared = !slot.prepared
            && slot.prepares.values().filter(|&&d| d == digest).count() + 1 >= quorum
            && self.cert_complete(seq, digest);
        let cert = newly_prepared.then(|| self.make_cert(seq, digest));
        let Some(slot) = self.log.get_mut(&seq) else {
            return;
        };
        let mut send_commit = false;
        if let Some(cert) = cert.clone() {
            slot.prepared = true;
            slot.p = Some(PreparedEntry {
                seq,
                view,
                digest,
                batch,
                cert,
            });
            slot.commits.insert(id, digest);
            send_commit = true;
        }
        if slot.prepared && !slot.committed {
            let commits = slot.commits.values().filter(|&&d| d == digest).count();
            slot.committed = commits >= quorum;
        }
        let committed = slot.committed;
        if send_commit {
            let cert = cert.unwrap_or_default();
            self.persist(
                ctx,
                PbftRecord::Prepared {
                    view,
                    seq,
                    digest,
                    cert,
                },
            );
            self.bcast(ctx, PbftMessage::Commit { view, seq, digest });
        }
        if committed && seq == self.executed + 1 {
            self.execute_ready(ctx);
        }
    }

    /// Executes committed batches in sequence order.
    pub(super) fn execute_ready(&mut self, ctx: &mut Ctx<'_, Self>) {
        let before = self.executed;
        loop {
            let seq = self.executed + 1;
            let Some(slot) = self.log.get(&seq) else {
                break;
            };
            if !slot.committed {
                break;
            }
            let Some((_, batch)) = slot.pp.clone() else {
                break;
            };
            self.execute_batch(ctx, seq, batch, true);
        }
        if self.executed > before {
            self.after_progress(ctx);
        }
    }

    /// Progress was made: reset the view-change back-off and timer, and
    /// let the primary fill the pipeline again. Every replica, the primary
    /// too, runs the timer while it knows of requests not yet executed: a
    /// primary whose quorum went elsewhere asks for a view change itself.
    pub(super) fn after_progress(&mut self, ctx: &mut Ctx<'_, Self>) {
        if !self.active {
            return;
        }
        self.vc_backoff = 0;
        if self.sessions.pending.is_empty() {
            if self.vc_timer_armed {
                ctx.cancel_timer(PbftTimer::ViewChange);
                self.vc_timer_armed = false;
            }
        } else {
            self.arm_vc_timer(ctx, true);
        }
        self.propose(ctx);
    }

    /// Executes `batch` at `seq` (the next sequence number). `live` is false
    /// while a recovering replica re-executes its durable ledger: nothing is
    /// persisted or sent then.
    pub(super) fn execute_batch(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        seq: u64,
        batch: Batch,
        live: bool,
    ) {
        if seq != self.executed + 1 {
            return;
        }
        if live {
            self.persist(
                ctx,
                PbftRecord::Executed {
                    seq,
                    batch: batch.clone(),
                },
            );
        }
        if batch.is_empty() {
            self.applied += 1;
            ctx.applied(self.applied, None, 0);
        }
        for r in &batch {
            self.applied += 1;
            let outcome = self.sessions.apply(&mut self.kv, r);
            ctx.applied(self.applied, Some(r.id), request_digest(r.id, &r.command));
            self.proposed.remove(&(r.id.client, r.id.seq));
            if live {
                self.forge_after(r);
                if let Some(response) = outcome.response() {
                    let body = ReplyBody::Done(response.clone());
                    self.reply_client(ctx, r.id, body);
                }
            }
        }
        let prev = self.chain_at(self.executed).unwrap_or_default();
        let chain = chain_digest(prev, seq, batch_digest(&batch));
        self.ledger.push(batch);
        self.chains.push(chain);
        self.executed = seq;
        self.fetched.clear();
        let interval = self.config.checkpoint_interval.max(1);
        if seq.is_multiple_of(interval) && seq >= self.stable {
            self.checkpoints.insert(seq, chain);
            if live {
                self.own_checkpoint(ctx, seq, chain);
            }
        }
    }

    /// Arms the view-change timer (`restart`: even if it runs already).
    pub(super) fn arm_vc_timer(&mut self, ctx: &mut Ctx<'_, Self>, restart: bool) {
        if restart || !self.vc_timer_armed {
            ctx.set_timer(PbftTimer::ViewChange, self.vc_timeout());
            self.vc_timer_armed = true;
        }
    }
}
