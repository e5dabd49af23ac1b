//! Multi-Paxos with a stable leader, as a sans-IO core (after Lamport's
//! "Paxos Made Simple" and van Renesse and Altinbuken's "Paxos Made
//! Moderately Complex").
//!
//! - A replica that hears no heartbeat for a randomized leader timeout runs
//!   phase 1 once for *all* open slots: `Prepare(ballot, from_slot)`; each
//!   acceptor answers with every value it accepted from that slot on. With a
//!   majority of promises, the new leader re-proposes, per slot, the value of
//!   the highest ballot it heard, fills holes with no-ops, and continues.
//!   Randomized timeouts and stepping down on a `Nack` keep duelling
//!   proposers rare.
//! - Phase 2 runs per slot; a slot holds a batch of client requests (up to
//!   `max_batch`), and up to `max_inflight_slots` slots are in flight.
//! - Acceptors persist promises and accepted values before answering (the
//!   runtime holds the answer until the record is durable); the leader
//!   counts its own acceptance once it is durable.
//! - Heartbeats carry the commit point; a learner that accepted a slot's
//!   value in the leader's ballot knows it is chosen, and one that lacks
//!   values asks the leader for them (catch-up), which is also how a
//!   restarted replica rebuilds its state machine.
//! - Reads go through the log like writes, which makes them linearizable.
//! - Non-leaders redirect clients to the leader they know.
//!
//! Not implemented yet: log compaction (acceptors keep every slot).

mod acceptor;
mod config;
mod leader;
mod learner;
mod messages;
#[cfg(test)]
mod tests;

pub use config::MultiPaxosConfig;
pub use messages::{Ballot, Batch, PaxosMessage, PaxosRecord, PaxosTimer};

use crate::client::leader::{LeaderClient, LeaderClientConfig};
use crate::client::{ClientReply, ClientRequest, ReplyBody};
use crate::core::{Cluster, Ctx, NodeStatus, Protocol, Role};
use crate::kv::KvStore;
use crate::types::{ClientId, NodeId, Time};
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

/// Slots further than this beyond what a replica has executed are ignored
/// (a bogus slot number must not make a replica loop or allocate for it).
pub const SLOT_WINDOW: u64 = 1 << 20;

/// A slot the leader proposed and is waiting on.
#[derive(Clone, Debug)]
struct Proposal {
    batch: Batch,
    acks: BTreeSet<NodeId>,
}

/// A Multi-Paxos replica (proposer, acceptor and learner in one).
#[derive(Debug)]
pub struct MultiPaxos {
    id: NodeId,
    size: u32,
    config: MultiPaxosConfig,
    // Acceptor state (persisted).
    promised: Ballot,
    accepted: BTreeMap<u64, (Ballot, Batch)>,
    // Proposer state.
    role: Role,
    ballot: Ballot,
    leader: Option<NodeId>,
    promises: BTreeMap<NodeId, Vec<(u64, Ballot, Batch)>>,
    prepare_from: u64,
    proposals: BTreeMap<u64, Proposal>,
    next_slot: u64,
    pending: VecDeque<ClientRequest>,
    // Learner state.
    chosen: BTreeMap<u64, Batch>,
    commit: u64,
    executed: u64,
    applied_index: u64,
    kv: KvStore,
    leader_commit_seen: u64,
    caught_up_reported: bool,
    /// When and from which slot catch-up was last requested.
    last_catch_up: Option<(Time, u64)>,
    // Persistence.
    persist_seq: u64,
    /// (persist seq, slot) of this node's own acceptances awaiting disk.
    own_accepts: VecDeque<(u64, u64)>,
}

impl MultiPaxos {
    fn majority(&self) -> usize {
        self.size as usize / 2 + 1
    }

    fn is_peer(&self, from: NodeId) -> bool {
        from < self.size && from != self.id
    }

    fn reset_leader_timer(&mut self, ctx: &mut Ctx<'_, Self>) {
        let min = self.config.leader_timeout_min;
        let max = self.config.leader_timeout_max.max(min);
        let lo = u64::try_from(min.as_nanos()).unwrap_or(u64::MAX);
        let hi = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        let t = if hi > lo {
            ctx.rng().gen_range(lo..=hi)
        } else {
            lo
        };
        ctx.set_timer(PaxosTimer::LeaderTimeout, Duration::from_nanos(t));
    }

    fn redirect(&self, ctx: &mut Ctx<'_, Self>, request: &ClientRequest) {
        let leader = self.leader.filter(|&l| l != self.id);
        ctx.reply(
            request.id.client,
            ClientReply {
                id: request.id,
                from: self.id,
                body: ReplyBody::Redirect { leader },
            },
        );
    }
}

impl Protocol for MultiPaxos {
    type Message = PaxosMessage;
    type Timer = PaxosTimer;
    type Record = PaxosRecord;
    type Config = MultiPaxosConfig;
    type Client = LeaderClient;
    const NAME: &'static str = "multipaxos";

    fn recover(
        id: NodeId,
        cluster: &Cluster,
        config: &MultiPaxosConfig,
        records: Vec<PaxosRecord>,
    ) -> Self {
        let mut node = MultiPaxos {
            id,
            size: cluster.size.max(1),
            config: config.clone(),
            promised: Ballot::default(),
            accepted: BTreeMap::new(),
            role: Role::Follower,
            ballot: Ballot::default(),
            leader: None,
            promises: BTreeMap::new(),
            prepare_from: 1,
            proposals: BTreeMap::new(),
            next_slot: 1,
            pending: VecDeque::new(),
            chosen: BTreeMap::new(),
            commit: 0,
            executed: 0,
            applied_index: 0,
            kv: KvStore::new(),
            leader_commit_seen: 0,
            caught_up_reported: false,
            last_catch_up: None,
            persist_seq: 0,
            own_accepts: VecDeque::new(),
        };
        for record in records {
            match record {
                PaxosRecord::Promised { ballot } => node.promised = node.promised.max(ballot),
                PaxosRecord::Accepted {
                    slot,
                    ballot,
                    batch,
                } => {
                    node.promised = node.promised.max(ballot);
                    node.accepted.insert(slot, (ballot, batch));
                }
            }
        }
        node
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.reset_leader_timer(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: PaxosMessage) {
        if !self.is_peer(from) {
            return;
        }
        match msg {
            PaxosMessage::Prepare { ballot, from_slot } => {
                self.on_prepare(ctx, from, ballot, from_slot)
            }
            PaxosMessage::Promise { ballot, accepted } => {
                self.on_promise(ctx, from, ballot, accepted)
            }
            PaxosMessage::Nack { promised } => self.on_nack(ctx, promised),
            PaxosMessage::Accept {
                ballot,
                slot,
                batch,
                commit,
            } => {
                self.on_accept(ctx, from, ballot, slot, batch);
                self.learn_commit(ctx, from, ballot, commit);
            }
            PaxosMessage::Accepted { ballot, slot } => self.on_accepted(ctx, from, ballot, slot),
            PaxosMessage::Heartbeat { ballot, commit } => {
                self.on_heartbeat(ctx, from, ballot, commit)
            }
            PaxosMessage::CatchUpRequest { from_slot } => {
                self.on_catch_up_request(ctx, from, from_slot)
            }
            PaxosMessage::CatchUp { chosen } => self.on_catch_up(ctx, chosen),
        }
    }

    fn on_client_request(&mut self, ctx: &mut Ctx<'_, Self>, request: ClientRequest) {
        if self.role != Role::Leader {
            self.redirect(ctx, &request);
            return;
        }
        self.pending.push_back(request);
        self.propose_pending(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: PaxosTimer) {
        match timer {
            PaxosTimer::LeaderTimeout => self.start_phase1(ctx),
            PaxosTimer::Heartbeat => self.on_heartbeat_tick(ctx),
        }
    }

    fn on_persisted(&mut self, ctx: &mut Ctx<'_, Self>, upto: u64) {
        while let Some(&(seq, slot)) = self.own_accepts.front() {
            if seq > upto {
                break;
            }
            self.own_accepts.pop_front();
            let id = self.id;
            self.record_ack(ctx, id, slot);
        }
    }

    fn status(&self) -> NodeStatus {
        NodeStatus {
            role: self.role,
            leader: self.leader,
            term: if self.role == Role::Follower {
                self.promised.as_term()
            } else {
                self.ballot.as_term()
            },
            commit_index: self.commit,
            applied_index: self.applied_index,
        }
    }

    fn client(cluster: &Cluster, _config: &MultiPaxosConfig, _client: ClientId) -> LeaderClient {
        LeaderClient::new(cluster.size, LeaderClientConfig::default())
    }
}
