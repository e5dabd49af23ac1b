//! Linearizable reads by ReadIndex (Raft dissertation, section 6.4).
//!
//! A read is answered once (1) the leader has committed an entry of its own
//! term, (2) a majority acknowledged a heartbeat round started after the
//! read arrived, proving no newer leader existed at that point, and (3) the
//! state machine has applied the commit index noted when the round started.

use super::Raft;
use crate::client::{ClientReply, ClientRequest, ReplyBody};
use crate::core::{Ctx, Role};
use crate::types::NodeId;
use std::collections::BTreeSet;

/// A heartbeat round confirming leadership for a group of reads.
#[derive(Debug)]
struct Round {
    number: u64,
    read_index: u64,
    acks: BTreeSet<NodeId>,
    reads: Vec<ClientRequest>,
}

/// ReadIndex bookkeeping of a leader.
#[derive(Debug, Default)]
pub(super) struct ReadState {
    last_round: u64,
    /// The round awaiting acknowledgements, if any.
    in_flight: Option<Round>,
    /// Reads that arrived while a round was in flight, or before the leader
    /// committed in its term.
    queued: Vec<ClientRequest>,
    /// Confirmed reads waiting for the state machine to catch up.
    confirmed: Vec<(u64, ClientRequest)>,
}

impl ReadState {
    /// The latest round number (carried by every AppendEntries).
    pub(super) fn round(&self) -> u64 {
        self.last_round
    }
}

impl Raft {
    pub(super) fn read_index(&mut self, ctx: &mut Ctx<'_, Self>, request: ClientRequest) {
        self.reads.queued.push(request);
        self.start_read_round(ctx);
    }

    fn start_read_round(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.reads.in_flight.is_some() || self.reads.queued.is_empty() {
            return;
        }
        if self.commit < self.term_start {
            // Not yet committed in this term: our commit index may lag.
            return;
        }
        self.reads.last_round += 1;
        let mut acks = BTreeSet::new();
        acks.insert(self.id);
        self.reads.in_flight = Some(Round {
            number: self.reads.last_round,
            read_index: self.commit,
            acks,
            reads: std::mem::take(&mut self.reads.queued),
        });
        if self.majority() == 1 {
            self.read_acknowledged(ctx, self.id, self.reads.last_round);
        } else {
            self.replicate_all(ctx, true);
        }
    }

    /// A follower answered an AppendEntries of round `round` in our term.
    pub(super) fn read_acknowledged(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, round: u64) {
        let majority = self.majority();
        let Some(r) = self.reads.in_flight.as_mut() else {
            return;
        };
        if round < r.number {
            return;
        }
        r.acks.insert(from);
        if r.acks.len() < majority {
            return;
        }
        if let Some(done) = self.reads.in_flight.take() {
            let index = done.read_index;
            self.reads
                .confirmed
                .extend(done.reads.into_iter().map(|q| (index, q)));
        }
        self.serve_applied_reads(ctx);
        self.start_read_round(ctx);
    }

    /// Called when the commit index moves: queued reads may now start.
    pub(super) fn serve_confirmed_reads(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.start_read_round(ctx);
        self.serve_applied_reads(ctx);
    }

    /// Answers confirmed reads whose read index has been applied.
    pub(super) fn serve_applied_reads(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader || self.reads.confirmed.is_empty() {
            return;
        }
        let applied = self.applied;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reads.confirmed)
            .into_iter()
            .partition(|(index, _)| *index <= applied);
        self.reads.confirmed = waiting;
        for (_, request) in ready {
            let response = self.kv.read(request.command.key());
            ctx.reply(
                request.id.client,
                ClientReply {
                    id: request.id,
                    from: self.id,
                    body: ReplyBody::Done(response),
                },
            );
        }
    }

    /// Leadership lost: tell waiting readers to look elsewhere.
    pub(super) fn abandon_reads(&mut self, ctx: &mut Ctx<'_, Self>) {
        let mut all: Vec<ClientRequest> = std::mem::take(&mut self.reads.queued);
        if let Some(r) = self.reads.in_flight.take() {
            all.extend(r.reads);
        }
        all.extend(
            std::mem::take(&mut self.reads.confirmed)
                .into_iter()
                .map(|(_, q)| q),
        );
        for request in all {
            ctx.reply(
                request.id.client,
                ClientReply {
                    id: request.id,
                    from: self.id,
                    body: ReplyBody::Redirect { leader: None },
                },
            );
        }
    }
}
