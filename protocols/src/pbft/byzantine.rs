//! Every message and reply a replica sends passes through here; a correct
//! replica sends it as is, a Byzantine one (test configurations only, see
//! [`ByzantineKind`]) lies on the way out. Keeping the lies at the edge
//! means the faulty replica's own state stays that of a correct one, so it
//! keeps taking part and its lies stay plausible.

use super::config::ByzantineKind;
use super::messages::{
    batch_digest, pre_prepare_bytes, prepare_bytes, Batch, Envelope, PbftMessage, PrePreparedEntry,
    PreparedCert, PreparedEntry, ViewChange,
};
use super::Pbft;
use crate::client::{ClientReply, ClientRequest, ReplyBody};
use crate::core::Ctx;
use crate::kv::{Command, Response, Value};
use crate::types::{NodeId, RequestId};
use rand::Rng;

/// Flips a digest into one no correct replica computed.
const FAKE: u64 = 0xbad0_bad0_bad0_bad0;
/// Old messages a replaying replica remembers.
const REPLAY_MEMORY: usize = 256;

impl Pbft {
    fn peers(&self) -> Vec<NodeId> {
        (0..self.n).filter(|&p| p != self.id).collect()
    }

    /// Seals `msg` for every other replica and broadcasts it.
    fn sealed_bcast(&mut self, ctx: &mut Ctx<'_, Self>, msg: PbftMessage) {
        let sealed = self.seal(None, msg);
        ctx.broadcast(sealed);
    }

    /// Seals `msg` for `to` and sends it.
    fn sealed_send(&mut self, ctx: &mut Ctx<'_, Self>, to: NodeId, msg: PbftMessage) {
        let sealed = self.seal(Some(to), msg);
        ctx.send(to, sealed);
    }

    /// Sends `msg` to every other replica.
    pub(super) fn bcast(&mut self, ctx: &mut Ctx<'_, Self>, msg: PbftMessage) {
        match self.byz {
            None | Some(ByzantineKind::StaleReads) => self.sealed_bcast(ctx, msg),
            Some(ByzantineKind::Silent) => {}
            Some(ByzantineKind::Equivocate) => match msg {
                PbftMessage::PrePrepare { view, seq, batch } => {
                    self.equivocate(ctx, view, seq, batch)
                }
                other => self.sealed_bcast(ctx, other),
            },
            Some(ByzantineKind::ConflictingVotes) => match msg {
                PbftMessage::ViewChange(vc) => {
                    self.sealed_bcast(ctx, PbftMessage::ViewChange(fake_prepared(vc)))
                }
                other => {
                    for p in self.peers() {
                        self.sealed_send(ctx, p, conflicting(p, other.clone()));
                    }
                }
            },
            Some(ByzantineKind::Replay) => {
                let sealed = self.seal(None, msg);
                ctx.broadcast(sealed.clone());
                self.replay_some(ctx, None, sealed);
            }
            Some(ByzantineKind::Forge) => {
                let msg = self.forge(ctx, msg);
                self.sealed_bcast(ctx, msg);
            }
        }
    }

    /// Sends `msg` to replica `to`.
    pub(super) fn send(&mut self, ctx: &mut Ctx<'_, Self>, to: NodeId, msg: PbftMessage) {
        match self.byz {
            None
            | Some(ByzantineKind::Equivocate)
            | Some(ByzantineKind::Forge)
            | Some(ByzantineKind::StaleReads) => self.sealed_send(ctx, to, msg),
            Some(ByzantineKind::Silent) => {}
            Some(ByzantineKind::ConflictingVotes) => {
                self.sealed_send(ctx, to, conflicting(to, msg))
            }
            Some(ByzantineKind::Replay) => {
                let sealed = self.seal(Some(to), msg);
                ctx.send(to, sealed.clone());
                self.replay_some(ctx, Some(to), sealed);
            }
        }
    }

    /// What a reply to a client becomes on the way out (`None`: dropped).
    pub(super) fn filter_reply(&self, body: ReplyBody) -> Option<ReplyBody> {
        match self.byz {
            None
            | Some(ByzantineKind::Equivocate)
            | Some(ByzantineKind::Replay)
            | Some(ByzantineKind::Forge)
            | Some(ByzantineKind::StaleReads) => Some(body),
            Some(ByzantineKind::Silent) => None,
            Some(ByzantineKind::ConflictingVotes) => Some(match body {
                ReplyBody::Done(Response::Value { version, .. }) => {
                    ReplyBody::Done(Response::Value {
                        value: Some(Value::from_static(b"forged")),
                        version: version + 1,
                    })
                }
                ReplyBody::Done(Response::Written { version }) => {
                    ReplyBody::Done(Response::Written {
                        version: version + 7,
                    })
                }
                other => other,
            }),
        }
    }

    /// A replaying replica remembers `reply` and sends one of its old
    /// replies again (to that reply's client, under that reply's request
    /// id: replies are bound to their request, see `read_only.rs`).
    pub(super) fn replay_reply(&mut self, ctx: &mut Ctx<'_, Self>, reply: &ClientReply) {
        if self.byz != Some(ByzantineKind::Replay) {
            return;
        }
        if self.sent_replies.len() >= REPLAY_MEMORY {
            let i = ctx.rng().gen_range(0..self.sent_replies.len());
            self.sent_replies.swap_remove(i);
        }
        self.sent_replies.push(reply.clone());
        let i = ctx.rng().gen_range(0..self.sent_replies.len());
        let old = self.sent_replies[i].clone();
        ctx.reply(old.id.client, old);
    }

    /// An equivocating primary: the lowest-numbered backup gets `batch`, the
    /// others a different one, and each side gets commit votes for its own.
    fn equivocate(&mut self, ctx: &mut Ctx<'_, Self>, view: u64, seq: u64, batch: Batch) {
        let peers = self.peers();
        let mut alt = batch.clone();
        if alt.len() >= 2 {
            alt.reverse();
        } else {
            alt.clear();
        }
        for (i, p) in peers.into_iter().enumerate() {
            let b = if i == 0 { batch.clone() } else { alt.clone() };
            let digest = batch_digest(&b);
            let pp = PbftMessage::PrePrepare {
                view,
                seq,
                batch: b,
            };
            self.sealed_send(ctx, p, pp);
            self.sealed_send(ctx, p, PbftMessage::Commit { view, seq, digest });
        }
    }

    /// Remembers `sealed` and re-sends an old message to a random peer.
    fn replay_some(&mut self, ctx: &mut Ctx<'_, Self>, to: Option<NodeId>, sealed: Envelope) {
        if self.sent_log.len() >= REPLAY_MEMORY {
            let i = ctx.rng().gen_range(0..self.sent_log.len());
            self.sent_log.swap_remove(i);
        }
        self.sent_log.push((to, sealed));
        let i = ctx.rng().gen_range(0..self.sent_log.len());
        let old = self.sent_log[i].1.clone();
        let peer = ctx.rng().gen_range(0..self.n);
        if peer != self.id {
            ctx.send(peer, old);
        }
    }

    /// The forging replica executed `request`: it makes up the client's
    /// next request (a put of a value nobody wrote to the same key), with
    /// the only authenticator it has in the client's name, the real
    /// request's.
    pub(super) fn forge_after(&mut self, request: &ClientRequest) {
        if self.byz != Some(ByzantineKind::Forge) || self.forged.len() >= REPLAY_MEMORY {
            return;
        }
        self.forged.push(ClientRequest {
            id: RequestId {
                client: request.id.client,
                seq: request.id.seq + 1,
            },
            command: Command::Put {
                key: request.command.key(),
                value: Value::from_static(b"forged"),
            },
            context: None,
            auth: request.auth.clone(),
        });
    }

    /// The forging replica's lies on the way out: forged requests ride on
    /// its pre-prepares (as primary) or go to the primary as relayed
    /// requests; its view changes claim a prepared null batch with a
    /// certificate it made up.
    fn forge(&mut self, ctx: &mut Ctx<'_, Self>, msg: PbftMessage) -> PbftMessage {
        match msg {
            PbftMessage::PrePrepare {
                view,
                seq,
                mut batch,
            } => {
                let room = self.config.max_batch.max(1).saturating_sub(batch.len());
                let take = room.min(self.forged.len());
                batch.extend(self.forged.drain(..take));
                PbftMessage::PrePrepare { view, seq, batch }
            }
            PbftMessage::ViewChange(vc) => {
                let mut vc = fake_prepared(vc);
                if let Some(fake) = vc.prepared.last_mut() {
                    fake.cert = self.forged_cert(fake);
                }
                PbftMessage::ViewChange(vc)
            }
            other => {
                if self.active && !self.is_primary() {
                    let primary = self.primary_of(self.view);
                    for r in std::mem::take(&mut self.forged) {
                        self.sealed_send(ctx, primary, PbftMessage::Request(r));
                    }
                }
                other
            }
        }
    }

    /// A prepared certificate of the right shape for `e`, every signature
    /// made with this replica's own key (the only one it has): valid only
    /// where it signs in its own name.
    fn forged_cert(&self, e: &PreparedEntry) -> PreparedCert {
        let primary = self.primary_of(e.view);
        let pp = pre_prepare_bytes(primary, e.view, e.seq, e.digest);
        let prepares = (0..self.n)
            .filter(|&b| b != primary)
            .take(self.quorum().saturating_sub(1))
            .map(|b| {
                (
                    b,
                    self.keys.sign(&prepare_bytes(b, e.view, e.seq, e.digest)),
                )
            })
            .collect();
        PreparedCert {
            pre_prepare: self.keys.sign(&pp),
            prepares,
        }
    }

    /// The forging replica passes some votes it received on to another
    /// replica, as if they were its own.
    pub(super) fn pass_on(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, envelope: &Envelope) {
        if self.byz != Some(ByzantineKind::Forge) {
            return;
        }
        if !matches!(
            envelope.msg,
            PbftMessage::Prepare { .. } | PbftMessage::Commit { .. }
        ) {
            return;
        }
        if ctx.rng().gen_range(0..4) == 0 {
            let to = ctx.rng().gen_range(0..self.n);
            if to != self.id && to != from {
                ctx.send(to, envelope.clone());
            }
        }
    }
}

/// Votes for a digest nobody proposed to odd-numbered peers.
fn conflicting(to: NodeId, msg: PbftMessage) -> PbftMessage {
    if to.is_multiple_of(2) {
        return msg;
    }
    match msg {
        PbftMessage::Prepare { view, seq, digest } => PbftMessage::Prepare {
            view,
            seq,
            digest: digest ^ FAKE,
        },
        PbftMessage::Commit { view, seq, digest } => PbftMessage::Commit {
            view,
            seq,
            digest: digest ^ FAKE,
        },
        other => other,
    }
}

/// Claims that the null batch prepared (and pre-prepared) in the previous
/// view at the lowest sequence number above the stable checkpoint, trying
/// to erase whatever was committed there.
fn fake_prepared(mut vc: ViewChange) -> ViewChange {
    let seq = vc
        .prepared
        .iter()
        .map(|p| p.seq)
        .min()
        .unwrap_or(vc.stable + 1);
    let view = vc.view.saturating_sub(1);
    let digest = batch_digest(&[]);
    vc.prepared.retain(|p| p.seq != seq);
    vc.prepared.push(PreparedEntry {
        seq,
        view,
        digest,
        batch: Vec::new(),
        cert: PreparedCert::default(),
    });
    vc.preprepared.push(PrePreparedEntry { seq, digest, view });
    vc
}
