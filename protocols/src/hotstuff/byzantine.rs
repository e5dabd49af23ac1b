//! Every message and reply a replica sends passes through here; a correct
//! replica sends it as is, a Byzantine one (test configurations only, see
//! [`ByzantineKind`]) lies on the way out. Keeping the lies at the edge
//! means the faulty replica's own state stays that of a correct one, so it
//! keeps taking part and its lies stay plausible.

use super::config::ByzantineKind;
use super::messages::{vote_bytes, Block, BlockHash, HotstuffMessage, Qc, Signed};
use super::Hotstuff;
use crate::client::{ClientRequest, ReplyBody};
use crate::core::Ctx;
use crate::kv::{Command, Response, Value};
use crate::types::{NodeId, RequestId};
use rand::Rng;
use std::collections::BTreeMap;

/// Old messages a replaying replica remembers.
const REPLAY_MEMORY: usize = 256;
/// The client in whose name a forging leader invents a request.
const FORGED_CLIENT: u64 = u64::MAX;

/// What a faulty replica remembers of its lies.
#[derive(Clone, Debug, Default)]
pub(super) struct ByzState {
    /// Messages sent, for replaying.
    sent: Vec<HotstuffMessage>,
    /// Blocks it made up (served to fetches like its real ones).
    blocks: BTreeMap<BlockHash, Block>,
    /// The second block it proposed in a view, to vote for it too.
    fork: Option<(u64, BlockHash)>,
}

impl Hotstuff {
    fn peers(&self) -> Vec<NodeId> {
        (0..self.n).filter(|&p| p != self.id).collect()
    }

    /// Sends `msg` to every other replica.
    pub(super) fn bcast(&mut self, ctx: &mut Ctx<'_, Self>, msg: HotstuffMessage) {
        match (self.byz, msg) {
            (None | Some(ByzantineKind::ConflictingVotes), msg) => ctx.broadcast(msg),
            (Some(ByzantineKind::Silent), _) => {}
            (
                Some(kind @ (ByzantineKind::Equivocate | ByzantineKind::ForgedQc)),
                HotstuffMessage::Propose { block },
            ) => self.split_proposal(ctx, kind, block),
            (Some(ByzantineKind::Equivocate | ByzantineKind::ForgedQc), msg) => ctx.broadcast(msg),
            (Some(ByzantineKind::Replay), msg) => {
                ctx.broadcast(msg.clone());
                self.replay_some(ctx, msg);
            }
        }
    }

    /// Sends `msg` to replica `to`.
    pub(super) fn send(&mut self, ctx: &mut Ctx<'_, Self>, to: NodeId, msg: HotstuffMessage) {
        match (self.byz, &msg) {
            (Some(ByzantineKind::Silent), _) => return,
            (Some(ByzantineKind::Replay), _) => self.replay_some(ctx, msg.clone()),
            (Some(ByzantineKind::Equivocate), HotstuffMessage::Vote { view, .. }) => {
                if let Some((v, fork)) = self.byz_state.fork.filter(|(v, _)| v == view) {
                    let sig = self.qcs.keys().sign(&vote_bytes(v, &fork));
                    ctx.send(
                        to,
                        HotstuffMessage::Vote {
                            view: v,
                            block: fork,
                            sig,
                        },
                    );
                }
            }
            (Some(ByzantineKind::ConflictingVotes), HotstuffMessage::Vote { view, .. }) => {
                let mut fake = [0u8; 32];
                ctx.rng().fill(&mut fake[..]);
                let sig = self.qcs.keys().sign(&vote_bytes(*view, &fake));
                let view = *view;
                ctx.send(
                    to,
                    HotstuffMessage::Vote {
                        view,
                        block: fake,
                        sig,
                    },
                );
            }
            _ => {}
        }
        ctx.send(to, msg);
    }

    /// What a reply to a client becomes on the way out (`None`: dropped).
    pub(super) fn filter_reply(&self, body: ReplyBody) -> Option<ReplyBody> {
        match (self.byz, body) {
            (Some(ByzantineKind::Silent), _) => None,
            (
                Some(ByzantineKind::ConflictingVotes),
                ReplyBody::Done(Response::Value { version, .. }),
            ) => Some(ReplyBody::Done(Response::Value {
                value: Some(Value::from_static(b"forged")),
                version: version + 1,
            })),
            (_, body) => Some(body),
        }
    }

    /// Blocks to answer a fetch with: from the tree, and for a faulty
    /// replica also from the blocks it made up.
    pub(super) fn serve_fetch(&self, hash: &BlockHash, max: usize) -> Vec<Block> {
        if self.byz_state.blocks.is_empty() {
            return self.tree.ancestry(hash, max);
        }
        let mut out = Vec::new();
        let mut cur = *hash;
        while out.len() < max {
            let Some(b) = self
                .byz_state
                .blocks
                .get(&cur)
                .or_else(|| self.tree.get(&cur))
            else {
                break;
            };
            if b.height == 0 {
                break;
            }
            out.push(b.clone());
            cur = b.parent;
        }
        out
    }

    /// A lying leader: a third of its peers get `block`, the others a
    /// different block for the same view.
    fn split_proposal(&mut self, ctx: &mut Ctx<'_, Self>, kind: ByzantineKind, block: Block) {
        let alt = match kind {
            ByzantineKind::Equivocate => self.fork_block(&block),
            _ => self.forged_chain(&block),
        };
        let Some(alt) = alt else {
            ctx.broadcast(HotstuffMessage::Propose { block });
            return;
        };
        let peers = self.peers();
        let first = (peers.len() / 3).max(1);
        for (i, p) in peers.into_iter().enumerate() {
            let b = if i < first {
                block.clone()
            } else {
                alt.clone()
            };
            ctx.send(p, HotstuffMessage::Propose { block: b });
        }
    }

    /// The same requests on a fork that leaves the two newest certified
    /// blocks out: it extends the block the correct replicas are locked
    /// on, so they vote for it, and it drops the block a two-chain rule
    /// would have committed.
    fn fork_block(&mut self, block: &Block) -> Option<Block> {
        let b2 = self.tree.get(&block.justify.block)?;
        let b1 = self.tree.get(&b2.justify.block)?;
        let lock = b1.justify.clone();
        let base = self.tree.get(&lock.block)?;
        let fork = Block {
            view: block.view,
            height: base.height + 1,
            parent: lock.block,
            justify: lock,
            batch: block.batch.clone(),
        };
        let hash = fork.hash();
        self.byz_state.fork = Some((block.view, hash));
        self.byz_state.blocks.insert(hash, fork.clone());
        Some(fork)
    }

    /// A certificate claiming votes of the first `quorum` replicas for
    /// `block` in `view`; only this replica's own signature is real.
    fn forge_qc(&self, view: u64, block: BlockHash) -> Qc {
        let sig = self.qcs.keys().sign(&vote_bytes(view, &block));
        let votes = (0..self.quorum() as NodeId)
            .map(|signer| Signed {
                signer,
                sig: if signer == self.id {
                    sig.clone()
                } else {
                    vec![0xab; sig.len()]
                },
            })
            .collect();
        Qc { view, block, votes }
    }

    /// A fork below the last block the others just committed: three made-up
    /// blocks in the three views before this one, each "certified" by a
    /// forged certificate, the first holding a request nobody sent, and on
    /// top a block with `block`'s requests. A replica that believes the
    /// certificates commits the first made-up block.
    fn forged_chain(&mut self, block: &Block) -> Option<Block> {
        let view = block.view;
        let b3 = self.tree.get(&block.justify.block)?;
        let b2 = self.tree.get(&b3.justify.block)?;
        let b1 = self.tree.get(&b2.justify.block)?;
        let base_qc = b1.justify.clone();
        let base = self.tree.get(&base_qc.block)?;
        if base.view + 4 > view {
            return None;
        }
        let forged = ClientRequest::new(
            RequestId {
                client: FORGED_CLIENT,
                seq: view,
            },
            Command::Put {
                key: 0,
                value: Value::from_static(b"forged"),
            },
        );
        let mut parent = (base_qc, base.height);
        for (i, v) in (view - 3..=view).enumerate() {
            let b = Block {
                view: v,
                height: parent.1 + 1,
                parent: parent.0.block,
                justify: parent.0,
                batch: match i {
                    0 => vec![forged.clone()],
                    3 => block.batch.clone(),
                    _ => Vec::new(),
                },
            };
            let hash = b.hash();
            self.byz_state.blocks.insert(hash, b.clone());
            if v == view {
                return Some(b);
            }
            parent = (self.forge_qc(v, hash), b.height);
        }
        None
    }

    /// Remembers `msg` and re-sends an old message to a random peer.
    fn replay_some(&mut self, ctx: &mut Ctx<'_, Self>, msg: HotstuffMessage) {
        if self.byz_state.sent.len() >= REPLAY_MEMORY {
            let i = ctx.rng().gen_range(0..self.byz_state.sent.len());
            self.byz_state.sent.swap_remove(i);
        }
        self.byz_state.sent.push(msg);
        let i = ctx.rng().gen_range(0..self.byz_state.sent.len());
        let old = self.byz_state.sent[i].clone();
        let peer = ctx.rng().gen_range(0..self.n);
        if peer != self.id {
            ctx.send(peer, old);
        }
    }
}
