//! Recovery from durable records, catch-up (fetching missing blocks by
//! hash, with their ancestors) and the periodic tick.
//!
//! A fetched chain is accepted only from a hash this replica asked for,
//! link by link through parent hashes, and each block's certificate is
//! checked before it enters the tree; so blocks may come from anyone,
//! a faulty replica included.

use super::messages::{Block, BlockHash, HotstuffMessage, HotstuffRecord};
use super::Hotstuff;
use crate::core::Ctx;
use crate::types::NodeId;
use rand::Rng;

/// Most blocks in one fetch reply.
const MAX_FETCH: usize = 64;
/// Most fetched blocks held while their ancestors are missing.
const MAX_ORPHANS: usize = 4_096;
/// Missing blocks asked for again per tick.
const REFETCH_PER_TICK: usize = 4;

/// Clusters of at least this many replicas gossip their status reports.
const STATUS_GOSSIP_FROM: u32 = 16;
/// Random peers a status report goes to on most ticks.
const STATUS_GOSSIP_FANOUT: u32 = 2;
/// Every this many ticks the status report goes to every replica.
const STATUS_BROADCAST_EVERY: u64 = 8;

impl Hotstuff {
    /// Rebuilds the durable part of the state from records; volatile parts
    /// start empty. Blocks were persisted after their parents, so they
    /// re-enter the tree in order.
    pub(super) fn replay(&mut self, records: Vec<HotstuffRecord>) {
        for record in records {
            match record {
                HotstuffRecord::Block(block) => {
                    let justify = block.justify.clone();
                    if self.tree.insert(block).is_some() {
                        self.tree.observe(&justify, self.config.unsafe_two_chain);
                    }
                }
                HotstuffRecord::Voted { view } => self.voted_view = self.voted_view.max(view),
                HotstuffRecord::Locked(qc) => {
                    if qc.view > self.tree.locked.view && self.tree.contains(&qc.block) {
                        self.tree.locked = qc;
                    }
                }
                HotstuffRecord::Committed { block } => {
                    if self.tree.contains(&block) {
                        self.recovered_commit = Some(block);
                    }
                }
            }
        }
        let view = (self.voted_view + 1).max(self.tree.high_qc.view + 1);
        self.pace.advance(view);
    }

    /// Re-executes the durable committed chain (emitting its applied
    /// positions again).
    pub(super) fn rebuild(&mut self, ctx: &mut Ctx<'_, Self>) {
        let Some(target) = self.recovered_commit.take() else {
            return;
        };
        for hash in self.tree.chain_to(&target) {
            if let Some(block) = self.tree.get(&hash).cloned() {
                self.execute(ctx, &block, false);
                self.tree.set_committed(hash);
            }
        }
    }

    /// Asks `from` for a missing block.
    pub(super) fn fetch(&mut self, ctx: &mut Ctx<'_, Self>, block: BlockHash, from: NodeId) {
        if self.tree.contains(&block) {
            return;
        }
        self.missing.insert(block);
        if self.is_peer(from) {
            self.send(ctx, from, HotstuffMessage::Fetch { block });
        }
    }

    pub(super) fn on_fetch(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, block: BlockHash) {
        let blocks = self.serve_fetch(&block, MAX_FETCH);
        if !blocks.is_empty() {
            self.send(ctx, from, HotstuffMessage::Blocks { blocks });
        }
    }

    /// Blocks arrived (newest first): keep the chain that starts at a
    /// block this replica asked for, then adopt what now connects.
    pub(super) fn on_blocks(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, blocks: Vec<Block>) {
        let mut expect: Option<BlockHash> = None;
        for block in blocks {
            let hash = block.hash();
            if !(self.missing.contains(&hash) || expect == Some(hash)) {
                break;
            }
            expect = Some(block.parent);
            if self.tree.contains(&hash) || self.orphans.contains_key(&hash) {
                continue;
            }
            if self.orphans.len() >= MAX_ORPHANS || !self.qcs.check(&block.justify) {
                break;
            }
            self.missing.remove(&hash);
            self.orphans.insert(hash, block);
        }
        self.adopt_orphans(ctx, from);
    }

    /// Moves fetched blocks whose parents are known into the tree (lowest
    /// first), asks for the parents still missing, and resumes the
    /// proposals and certificates that waited for them.
    fn adopt_orphans(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId) {
        let mut ready: Vec<(u64, BlockHash)> =
            self.orphans.iter().map(|(h, b)| (b.height, *h)).collect();
        ready.sort_unstable();
        for (_, hash) in ready {
            let parent_known = self
                .orphans
                .get(&hash)
                .is_some_and(|b| self.tree.contains(&b.parent));
            if parent_known {
                if let Some(block) = self.orphans.remove(&hash) {
                    self.insert_block(ctx, block);
                }
            }
        }
        let gaps: Vec<BlockHash> = self
            .orphans
            .values()
            .map(|b| b.parent)
            .filter(|p| !self.orphans.contains_key(p) && !self.tree.contains(p))
            .collect();
        for gap in gaps {
            self.fetch(ctx, gap, from);
        }
        let waiting = std::mem::take(&mut self.waiting);
        for (from, block) in waiting {
            if self.tree.contains(&block.parent) {
                self.process_proposal(ctx, block);
            } else {
                self.waiting.push((from, block));
            }
        }
        let qcs = std::mem::take(&mut self.waiting_qcs);
        for qc in qcs {
            if self.tree.contains(&qc.block) {
                self.on_qc(ctx, qc, self.id);
            } else {
                self.waiting_qcs.push(qc);
            }
        }
    }

    /// Reports this replica's view and highest certificates. Up to
    /// [`STATUS_GOSSIP_FROM`] replicas, to every replica on every tick; in
    /// larger clusters, to every replica once every
    /// [`STATUS_BROADCAST_EVERY`] ticks and otherwise to
    /// [`STATUS_GOSSIP_FANOUT`] random peers. Broadcasting every tick makes
    /// the background traffic n^2 per tick, which dominated the messages per
    /// operation from n = 49 on; gossip keeps it near linear while a lagging
    /// replica still hears a recent certificate within a few ticks. Small
    /// clusters keep the broadcast: with one replica of four crashed, gossip
    /// slowed the recovery of the three-chain measurably.
    pub(super) fn report_status(&mut self, ctx: &mut Ctx<'_, Self>) {
        let status = HotstuffMessage::Status {
            view: self.pace.view,
            high_qc: self.tree.high_qc.clone(),
            commit_qc: self.tree.commit_qc.clone(),
        };
        self.status_ticks = self.status_ticks.wrapping_add(1);
        if self.n < STATUS_GOSSIP_FROM || self.status_ticks.is_multiple_of(STATUS_BROADCAST_EVERY) {
            self.bcast(ctx, status);
            return;
        }
        let mut sent = 0;
        while sent < STATUS_GOSSIP_FANOUT {
            let peer = ctx.rng().gen_range(0..self.n);
            if self.is_peer(peer) {
                self.send(ctx, peer, status.clone());
                sent += 1;
            }
        }
    }

    /// The periodic tick: status report, fetch retries, forwarding of
    /// waiting requests, and the view timer if work appeared.
    pub(super) fn on_tick(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.report_status(ctx);
        let missing: Vec<BlockHash> = self
            .missing
            .iter()
            .filter(|h| !self.tree.contains(h))
            .take(REFETCH_PER_TICK)
            .copied()
            .collect();
        self.missing.retain(|h| !self.tree.contains(h));
        for block in missing {
            let peer = ctx.rng().gen_range(0..self.n);
            if self.is_peer(peer) {
                self.send(ctx, peer, HotstuffMessage::Fetch { block });
            }
        }
        self.forward_pending(ctx);
        self.retransmit(ctx);
        self.arm_view_timer(ctx, false);
    }

    /// Votes, proposals and new-views are not acknowledged: resend the
    /// latest ones while no certificate of their view (or a later one) is
    /// known.
    fn retransmit(&mut self, ctx: &mut Ctx<'_, Self>) {
        let high = self.tree.high_qc.view;
        if self.pace.view > high + 1 && self.has_work() {
            self.send_new_view(ctx, self.pace.view);
        }
        if let Some(block) = self.last_proposal.clone().filter(|b| b.view > high) {
            self.bcast(ctx, HotstuffMessage::Propose { block });
        }
        if let Some(v) = self.last_vote.clone().filter(|v| v.view > high) {
            let to = self.leader_of(v.view + 1);
            if to != self.id {
                let msg = HotstuffMessage::Vote {
                    view: v.view,
                    block: v.block,
                    sig: v.sig,
                };
                self.send(ctx, to, msg);
            }
        }
    }
}
