//! The block tree and chained HotStuff's safety rules: the highest
//! certificate (generic QC), the lock, the safeNode predicate and the
//! three-chain commit rule. Pure data, no I/O: every block in the tree had
//! its certificate checked before it was inserted, so the rules can trust
//! the chains they walk.

use super::messages::{Block, BlockHash, Qc, GENESIS};
use std::collections::BTreeMap;

/// What observing a certificate changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Observed {
    /// The lock moved up (persist it).
    pub(crate) locked: bool,
    /// A block that the rule commits (with its uncommitted ancestors).
    pub(crate) commit: Option<BlockHash>,
}

/// The blocks a replica knows, and its certificates.
#[derive(Clone, Debug)]
pub(crate) struct BlockTree {
    blocks: BTreeMap<BlockHash, Block>,
    /// Highest certificate known (the paper's generic QC).
    pub(crate) high_qc: Qc,
    /// The lock: never vote for a block that neither extends it nor
    /// carries a certificate of a later view.
    pub(crate) locked: Qc,
    /// Last committed block, and its height.
    pub(crate) committed: BlockHash,
    pub(crate) committed_height: u64,
    /// The certificate whose chain committed the last committed block.
    pub(crate) commit_qc: Qc,
}

impl BlockTree {
    pub(crate) fn new() -> BlockTree {
        let mut blocks = BTreeMap::new();
        blocks.insert(GENESIS, Block::genesis());
        BlockTree {
            blocks,
            high_qc: Qc::genesis(),
            locked: Qc::genesis(),
            committed: GENESIS,
            committed_height: 0,
            commit_qc: Qc::genesis(),
        }
    }

    pub(crate) fn get(&self, hash: &BlockHash) -> Option<&Block> {
        self.blocks.get(hash)
    }

    pub(crate) fn contains(&self, hash: &BlockHash) -> bool {
        self.blocks.contains_key(hash)
    }

    /// Inserts `block` if its parent is known and the block is well formed
    /// (it carries its parent's certificate, of the parent's view; its
    /// height is the parent's plus one and its view is above the
    /// certificate's). Returns its hash.
    pub(crate) fn insert(&mut self, block: Block) -> Option<BlockHash> {
        let parent = self.blocks.get(&block.parent)?;
        if block.justify.block != block.parent
            || block.height != parent.height + 1
            || block.view <= block.justify.view
            || block.justify.view != parent.view
        {
            return None;
        }
        let hash = block.hash();
        self.blocks.entry(hash).or_insert(block);
        Some(hash)
    }

    /// Whether `desc` is `anc` or one of its descendants.
    pub(crate) fn extends(&self, desc: &BlockHash, anc: &BlockHash) -> bool {
        let Some(target) = self.blocks.get(anc) else {
            return false;
        };
        let mut cur = *desc;
        loop {
            if cur == *anc {
                return true;
            }
            match self.blocks.get(&cur) {
                Some(b) if b.height > target.height => cur = b.parent,
                _ => return false,
            }
        }
    }

    /// The safeNode predicate: vote for `block` only if it extends the
    /// locked block (safety) or carries a certificate of a later view than
    /// the lock (liveness: the lock was on a branch the quorum left).
    pub(crate) fn safe_node(&self, block: &Block) -> bool {
        self.extends(&block.parent, &self.locked.block) || block.justify.view > self.locked.view
    }

    /// The chained update on a certificate `qc` of block `b2` (the paper's
    /// `b''`): `qc` may become the highest certificate; `b2`'s own
    /// certificate (of `b1`) may become the lock; and if `b2`, `b1` and
    /// `b0` (certified by `b1`) were proposed in consecutive views — the
    /// paper's direct-parent test, with views standing in for heights
    /// because no dummy blocks fill failed views — `b0` is committed.
    /// `two_chain` is the deliberately broken variant that commits `b1`.
    pub(crate) fn observe(&mut self, qc: &Qc, two_chain: bool) -> Observed {
        let mut out = Observed::default();
        let Some(b2) = self.blocks.get(&qc.block) else {
            return out;
        };
        if qc.view > self.high_qc.view {
            self.high_qc = qc.clone();
        }
        let lock = b2.justify.clone();
        let (b2_view, b1_hash) = (b2.view, b2.justify.block);
        if lock.view > self.locked.view {
            self.locked = lock;
            out.locked = true;
        }
        let Some(b1) = self.blocks.get(&b1_hash) else {
            return out;
        };
        let target = if two_chain {
            (b2_view == b1.view + 1).then_some(b1_hash)
        } else {
            let b0_hash = b1.justify.block;
            self.blocks
                .get(&b0_hash)
                .filter(|b0| b2_view == b1.view + 1 && b1.view == b0.view + 1)
                .map(|_| b0_hash)
        };
        if let Some(t) = target {
            let height = self.blocks.get(&t).map_or(0, |b| b.height);
            if height > self.committed_height {
                out.commit = Some(t);
                self.commit_qc = qc.clone();
            }
        }
        out
    }

    /// The blocks to execute to commit `target`, oldest first: its
    /// ancestors above the committed height. A correct replica's chain
    /// always passes through its last committed block; if it does not
    /// (possible only in the broken variants, or with forged certificates
    /// and no signatures), the replica follows it anyway, which the
    /// simulator's state-machine-safety check then reports.
    pub(crate) fn chain_to(&self, target: &BlockHash) -> Vec<BlockHash> {
        let mut chain: Vec<BlockHash> = self.above_committed(target).map(|(h, _)| h).collect();
        chain.reverse();
        chain
    }

    /// Records `hash` as the last committed block.
    pub(crate) fn set_committed(&mut self, hash: BlockHash) {
        if let Some(b) = self.blocks.get(&hash) {
            self.committed_height = b.height;
            self.committed = hash;
        }
    }

    /// Blocks strictly above the committed one on the way to `tip`,
    /// newest first (the pipeline not yet committed).
    pub(crate) fn uncommitted(&self, tip: &BlockHash) -> Vec<&Block> {
        self.above_committed(tip).map(|(_, b)| b).collect()
    }

    /// Walks from `tip` down through known parents while above the
    /// committed height, newest first.
    fn above_committed(&self, tip: &BlockHash) -> impl Iterator<Item = (BlockHash, &Block)> {
        let mut cur = *tip;
        std::iter::from_fn(move || {
            let b = self.blocks.get(&cur)?;
            if b.height <= self.committed_height || cur == GENESIS {
                return None;
            }
            let here = cur;
            cur = b.parent;
            Some((here, b))
        })
    }

    /// `hash`'s block and up to `max - 1` of its ancestors, newest first.
    pub(crate) fn ancestry(&self, hash: &BlockHash, max: usize) -> Vec<Block> {
        let mut out = Vec::new();
        let mut cur = *hash;
        while out.len() < max && cur != GENESIS {
            let Some(b) = self.blocks.get(&cur) else {
                break;
            };
            out.push(b.clone());
            cur = b.parent;
        }
        out
    }
}
