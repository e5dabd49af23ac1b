//! The replica's normal case: requests, proposals, votes, certificates,
//! commits and execution.

use super::messages::{
    vote_bytes, Block, BlockHash, HotstuffMessage, HotstuffRecord, LastVote, Qc,
};
use super::Hotstuff;
use crate::client::{ClientReply, ClientRequest, ReplyBody};
use crate::core::{Ctx, NodeEvent};
use crate::kv::request_digest;
use crate::sessions::Admission;
use crate::types::{NodeId, RequestId};
use std::collections::BTreeSet;

/// Most proposals (or certificates) kept while their blocks are fetched.
const MAX_WAITING: usize = 64;

impl Hotstuff {
    /// A client request, straight from the client or forwarded by a peer.
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
        let leader = self.leader_of(self.pace.view);
        if leader != self.id && from_client {
            if self.pace.suspected(leader) {
                // The leader is probably down: only this replica would know
                // of the request and run a view timer, and one timeout does
                // not move the others. Everyone will, and will forward it.
                self.bcast(ctx, HotstuffMessage::Request(request));
            } else {
                self.send(ctx, leader, HotstuffMessage::Request(request));
            }
        }
        self.arm_view_timer(ctx, false);
        self.try_propose(ctx);
    }

    /// Answers a client (through the Byzantine filter).
    pub(super) fn reply_client(&mut self, ctx: &mut Ctx<'_, Self>, id: RequestId, body: ReplyBody) {
        if let Some(body) = self.filter_reply(body) {
            let reply = ClientReply {
                id,
                from: self.id,
                body,
            };
            ctx.reply(id.client, reply);
        }
    }

    /// Whether there is anything to drive forward: a request not yet
    /// executed, or an uncommitted block with requests.
    pub(super) fn has_work(&self) -> bool {
        !self.sessions.pending.is_empty()
            || self
                .tree
                .uncommitted(&self.tree.high_qc.block)
                .iter()
                .any(|b| !b.batch.is_empty())
    }

    /// Requests already in the uncommitted blocks below `tip`.
    pub(super) fn in_pipeline(&self, tip: &BlockHash) -> BTreeSet<RequestId> {
        self.tree
            .uncommitted(tip)
            .iter()
            .flat_map(|b| b.batch.iter().map(|r| r.id))
            .collect()
    }

    /// Leader of the current view: proposes once it holds the previous
    /// view's certificate (or `2f + 1` new-views) and has work.
    pub(super) fn try_propose(&mut self, ctx: &mut Ctx<'_, Self>) {
        let view = self.pace.view;
        if self.leader_of(view) != self.id || self.voted_view >= view || !self.has_work() {
            return;
        }
        let high = self.tree.high_qc.clone();
        let after_view_change = high.view + 1 != view;
        if after_view_change && self.pace.new_views_for(view) < self.quorum() {
            return;
        }
        let Some(parent) = self.tree.get(&high.block) else {
            return;
        };
        let height = parent.height + 1;
        let proposed = self.in_pipeline(&high.block);
        let batch: Vec<ClientRequest> = self
            .sessions
            .pending
            .values()
            .filter(|r| !proposed.contains(&r.id))
            .take(self.config.max_batch.max(1))
            .cloned()
            .collect();
        let block = Block {
            view,
            height,
            parent: high.block,
            justify: high,
            batch,
        };
        if after_view_change {
            ctx.emit(NodeEvent::LeaderElected { term: view });
        }
        self.process_proposal(ctx, block.clone());
        self.last_proposal = Some(block.clone());
        self.bcast(ctx, HotstuffMessage::Propose { block });
    }

    pub(super) fn on_propose(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, block: Block) {
        if from != self.leader_of(block.view)
            || block.batch.len() > self.config.max_batch.max(1)
            || block.justify.block != block.parent
            || !self.qcs.check(&block.justify)
        {
            return;
        }
        if !self.tree.contains(&block.parent) {
            let parent = block.parent;
            let known = self.waiting.iter().any(|(_, b)| *b == block);
            if !known && self.waiting.len() < MAX_WAITING {
                self.waiting.push((from, block));
            }
            self.fetch(ctx, parent, from);
            return;
        }
        self.process_proposal(ctx, block);
    }

    /// A proposal whose parent is known (its certificate checked): add it
    /// to the tree, vote if safeNode allows, move to the next view.
    pub(super) fn process_proposal(&mut self, ctx: &mut Ctx<'_, Self>, block: Block) {
        let view = block.view;
        let Some(hash) = self.insert_block(ctx, block.clone()) else {
            return;
        };
        if view > self.voted_view && self.tree.safe_node(&block) {
            self.voted_view = view;
            self.persist(ctx, HotstuffRecord::Voted { view });
            let sig = self.qcs.keys().sign(&vote_bytes(view, &hash));
            self.last_vote = Some(LastVote {
                view,
                block: hash,
                sig: sig.clone(),
            });
            let next = self.leader_of(view + 1);
            if next == self.id {
                self.on_vote(ctx, self.id, view, hash, sig);
            } else {
                self.send(
                    ctx,
                    next,
                    HotstuffMessage::Vote {
                        view,
                        block: hash,
                        sig,
                    },
                );
            }
            self.enter_view(ctx, view + 1, false);
        } else {
            self.enter_view(ctx, view, false);
        }
    }

    /// Adds a block whose certificate was checked and whose parent is
    /// known to the tree (persisting it), and runs the chained update on
    /// its certificate. `None` if the block is malformed.
    pub(super) fn insert_block(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        block: Block,
    ) -> Option<BlockHash> {
        let hash = block.hash();
        self.missing.remove(&hash);
        if self.tree.contains(&hash) {
            return Some(hash);
        }
        let justify = block.justify.clone();
        self.tree.insert(block.clone())?;
        self.persist(ctx, HotstuffRecord::Block(block));
        self.observe(ctx, &justify);
        Some(hash)
    }

    /// The chained update on a checked certificate whose block is known.
    fn observe(&mut self, ctx: &mut Ctx<'_, Self>, qc: &Qc) {
        let out = self.tree.observe(qc, self.config.unsafe_two_chain);
        if out.locked {
            let lock = self.tree.locked.clone();
            self.persist(ctx, HotstuffRecord::Locked(lock));
        }
        if let Some(target) = out.commit {
            self.commit(ctx, target);
        }
    }

    pub(super) fn on_vote(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        view: u64,
        block: BlockHash,
        sig: Vec<u8>,
    ) {
        if self.leader_of(view + 1) != self.id || view + 1 < self.pace.view {
            return;
        }
        self.collect_vote(ctx, from, view, block, sig);
    }

    /// Counts a vote (sent to this replica as the next leader, or repeated
    /// in a new-view) and acts on the certificate it completes.
    pub(super) fn collect_vote(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        view: u64,
        block: BlockHash,
        sig: Vec<u8>,
    ) {
        if !self.votes.wants(view, &block, from) || !self.qcs.check_vote(from, view, &block, &sig) {
            return;
        }
        let quorum = self.quorum();
        if let Some(qc) = self.votes.add(view, block, from, sig, quorum) {
            self.qcs.formed(&qc);
            self.on_qc(ctx, qc, from);
            if self.voted_view <= view {
                // Nothing to propose: let the others learn the certificate
                // (and commit what it commits) now rather than at the tick.
                self.report_status(ctx);
            }
        }
    }

    /// A certificate from anywhere: check it, fetch its block if missing,
    /// run the chained update and move to the view after it.
    pub(super) fn on_qc(&mut self, ctx: &mut Ctx<'_, Self>, qc: Qc, from: NodeId) {
        if !self.qcs.check(&qc) {
            return;
        }
        if !self.tree.contains(&qc.block) {
            let block = qc.block;
            if !self.waiting_qcs.contains(&qc) && self.waiting_qcs.len() < MAX_WAITING {
                self.waiting_qcs.push(qc);
            }
            self.fetch(ctx, block, from);
            return;
        }
        self.observe(ctx, &qc);
        self.enter_view(ctx, qc.view + 1, false);
        self.try_propose(ctx);
    }

    /// Commits `target` and its uncommitted ancestors, in order.
    fn commit(&mut self, ctx: &mut Ctx<'_, Self>, target: BlockHash) {
        let chain = self.tree.chain_to(&target);
        if chain.is_empty() {
            return;
        }
        self.persist(ctx, HotstuffRecord::Committed { block: target });
        for hash in chain {
            if let Some(block) = self.tree.get(&hash).cloned() {
                self.execute(ctx, &block, true);
                self.tree.set_committed(hash);
            }
        }
        self.pace.progress();
        self.arm_view_timer(ctx, true);
    }

    /// Executes a committed block. `live` is false while a recovering
    /// replica re-executes its durable chain: nothing is sent then.
    pub(super) fn execute(&mut self, ctx: &mut Ctx<'_, Self>, block: &Block, live: bool) {
        if block.batch.is_empty() {
            self.applied += 1;
            ctx.applied(self.applied, None, 0);
        }
        for r in &block.batch {
            self.applied += 1;
            let outcome = self.sessions.apply(&mut self.kv, r);
            ctx.applied(self.applied, Some(r.id), request_digest(r.id, &r.command));
            if live {
                if let Some(response) = outcome.response() {
                    let body = ReplyBody::Done(response.clone());
                    self.reply_client(ctx, r.id, body);
                }
            }
        }
    }
}
