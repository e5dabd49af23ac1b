//! Every message and reply a replica sends passes through here; a correct
//! replica sends it as is, a Byzantine one (test configurations only, see
//! [`ByzantineKind`]) lies on the way out. Keeping the lies at the edge
//! means the faulty replica's own state stays that of a correct one, so it
//! keeps taking part and its lies stay plausible.

use super::config::ByzantineKind;
use super::messages::{
    batch_digest, Batch, PbftMessage, PrePreparedEntry, PreparedEntry, ViewChange,
};
use super::Pbft;
use crate::client::{ClientReply, ReplyBody};
use crate::core::Ctx;
use crate::kv::{Response, Value};
use crate::types::NodeId;
use rand::Rng;

/// Flips a digest into one no correct replica computed.
const FAKE: u64 = 0xbad0_bad0_bad0_bad0;
/// Old messages a replaying replica remembers.
const REPLAY_MEMORY: usize = 256;

impl Pbft {
    fn peers(&self) -> Vec<NodeId> {
        (0..self.n).filter(|&p| p != self.id).collect()
    }

    /// Sends `msg` to every other replica.
    pub(super) fn bcast(&mut self, ctx: &mut Ctx<'_, Self>, msg: PbftMessage) {
        match self.byz {
            None | Some(ByzantineKind::StaleReads) => ctx.broadcast(msg),
            Some(ByzantineKind::Silent) => {}
            Some(ByzantineKind::Equivocate) => match msg {
                PbftMessage::PrePrepare { view, seq, batch } => {
                    self.equivocate(ctx, view, seq, batch)
                }
                other => ctx.broadcast(other),
            },
            Some(ByzantineKind::ConflictingVotes) => match msg {
                PbftMessage::ViewChange(vc) => {
                    ctx.broadcast(PbftMessage::ViewChange(fake_prepared(vc)))
                }
                other => {
                    for p in self.peers() {
                        ctx.send(p, conflicting(p, other.clone()));
                    }
                }
            },
            Some(ByzantineKind::Replay) => {
                ctx.broadcast(msg.clone());
                self.replay_some(ctx, None, msg);
            }
        }
    }

    /// Sends `msg` to replica `to`.
    pub(super) fn send(&mut self, ctx: &mut Ctx<'_, Self>, to: NodeId, msg: PbftMessage) {
        match self.byz {
            None | Some(ByzantineKind::Equivocate) | Some(ByzantineKind::StaleReads) => {
                ctx.send(to, msg)
            }
            Some(ByzantineKind::Silent) => {}
            Some(ByzantineKind::ConflictingVotes) => ctx.send(to, conflicting(to, msg)),
            Some(ByzantineKind::Replay) => {
                ctx.send(to, msg.clone());
                self.replay_some(ctx, Some(to), msg);
            }
        }
    }

    /// What a reply to a client becomes on the way out (`None`: dropped).
    pub(super) fn filter_reply(&self, body: ReplyBody) -> Option<ReplyBody> {
        match self.byz {
            None
            | Some(ByzantineKind::Equivocate)
            | Some(ByzantineKind::Replay)
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
            ctx.send(
                p,
                PbftMessage::PrePrepare {
                    view,
                    seq,
                    batch: b,
                },
            );
            ctx.send(p, PbftMessage::Commit { view, seq, digest });
        }
    }

    /// Remembers `msg` and re-sends an old message to a random peer.
    fn replay_some(&mut self, ctx: &mut Ctx<'_, Self>, to: Option<NodeId>, msg: PbftMessage) {
        if self.sent_log.len() >= REPLAY_MEMORY {
            let i = ctx.rng().gen_range(0..self.sent_log.len());
            self.sent_log.swap_remove(i);
        }
        self.sent_log.push((to, msg));
        let i = ctx.rng().gen_range(0..self.sent_log.len());
        let old = self.sent_log[i].1.clone();
        let peer = ctx.rng().gen_range(0..self.n);
        if peer != self.id {
            ctx.send(peer, old);
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
    });
    vc.preprepared.push(PrePreparedEntry { seq, digest, view });
    vc
}
