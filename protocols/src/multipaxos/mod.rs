//! Multi-Paxos with a stable leader, as a sans-IO core.
//!
//! The protocol follows Lamport's "Paxos Made Simple" and van Renesse and
//! Altinbuken's "Paxos Made Moderately Complex" (PMMC); where both are
//! silent, Paxi's `paxos` package (a stable leader that runs phase 1 once
//! and then phase 2 per slot). Every replica plays all three roles.
//!
//! - **Leader election.** A replica that hears no heartbeat for a randomized
//!   leader timeout (drawn from `ctx.rng()`) runs phase 1 once for *all*
//!   open slots: `Prepare(ballot, from_slot)`, `from_slot` being the first
//!   slot it does not know chosen. Each acceptor promises and answers with
//!   its commit point and every value it accepted above it. With a majority
//!   of promises the new leader re-proposes, per slot, the value of the
//!   highest ballot it heard, fills holes with no-ops (PMMC's "scout"
//!   adopting pvalues), and fetches the slots a promiser already knew
//!   chosen through catch-up instead of re-proposing them. Randomized
//!   timeouts, acceptors resetting their timeout when they promise, and
//!   stepping down (with a fresh random timeout) on any higher ballot keep
//!   duelling proposers rare.
//! - **Phase 2** runs per slot; a slot holds a batch of up to `max_batch`
//!   client requests and up to `max_inflight_slots` slots are in flight. A
//!   slot is chosen on a majority of `Accepted`; the commit point rides on
//!   the next `Accept` and on heartbeats (Paxi piggybacks it the same way).
//! - **Durability.** Acceptors persist promises and accepted values before
//!   answering (the runtime holds the answer until the record is durable,
//!   see [`crate::core`]); the leader counts its own acceptance only once it
//!   is durable. `recover` replays any prefix of the records.
//! - **Learning.** A learner that accepted a slot's value in the ballot of
//!   the leader announcing the commit point knows it is chosen; for the
//!   others it asks (catch-up, pipelined chunk after chunk), which is also
//!   how a restarted replica rebuilds its state machine. Chosen slots are
//!   executed in slot order; each applied command (and each no-op slot)
//!   gets the next *applied index*, so applied indexes are dense and equal
//!   on all replicas even though slots hold batches.
//! - **Reads** go through the log like writes, which makes them
//!   linearizable without leases (a deposed leader cannot get a read
//!   chosen).
//! - Non-leaders redirect clients to the leader they know.
//!
//! Not implemented: log compaction (acceptors keep every slot), a pre-vote
//! (a replica returning from a partition with a high ballot preempts the
//! leader once, as in PMMC), and reconfiguration.

mod acceptor;
mod ballot;
mod config;
mod leader;
mod learner;
mod messages;
mod phase1;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_props;

pub use ballot::{Ballot, TERM_NODE_SPACE};
pub use config::MultiPaxosConfig;
pub use messages::{Batch, PValue, PaxosMessage, PaxosRecord, PaxosTimer};

use crate::client::leader::{LeaderClient, LeaderClientConfig};
use crate::client::{ClientReply, ClientRequest, ReplyBody};
use crate::core::{Cluster, Ctx, NodeStatus, Protocol, Role, Timing};
use crate::kv::KvStore;
use crate::types::{ClientId, NodeId, Time};
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

/// How far beyond its own commit point a replica looks: it accepts no slot,
/// adopts no promise and follows no commit point further away than this,
/// so a bogus slot number from a peer cannot make it allocate or loop. A
/// replica lagging further behind catches up first.
pub const SLOT_WINDOW: u64 = 1 << 16;

/// Most slots in one `Promise` or `CatchUp` message.
pub const MAX_SLOTS_PER_MESSAGE: usize = 256;

/// Most client requests in one `Promise` or `CatchUp` message (batches make
/// slots large; this keeps messages well below transport frame limits).
pub const MAX_REQUESTS_PER_MESSAGE: usize = 4096;

/// A slot the leader proposed and is waiting on.
#[derive(Clone, Debug)]
struct Proposal {
    batch: Batch,
    acks: BTreeSet<NodeId>,
}

/// This node's own acceptance of a proposal, waiting for its record to be
/// durable before it counts towards the majority.
#[derive(Copy, Clone, Debug)]
struct OwnAccept {
    seq: u64,
    slot: u64,
    ballot: Ballot,
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
    /// Highest ballot heard of (not a promise: never persisted), so the
    /// next campaign outbids it.
    seen: Ballot,
    // Proposer state.
    role: Role,
    ballot: Ballot,
    leader: Option<NodeId>,
    phase1: phase1::Phase1,
    proposals: BTreeMap<u64, Proposal>,
    /// Values phase 1 adopted, re-proposed for slots
    /// `backlog_next..=backlog_top` ahead of new requests.
    backlog: BTreeMap<u64, (Ballot, Batch)>,
    backlog_next: u64,
    backlog_top: u64,
    next_slot: u64,
    pending: VecDeque<ClientRequest>,
    // Learner state.
    chosen: BTreeMap<u64, Batch>,
    commit: u64,
    applied_index: u64,
    kv: KvStore,
    /// Highest commit point heard from a peer.
    known_commit: u64,
    /// Whom to fetch missing chosen values from.
    catch_up_peer: Option<NodeId>,
    caught_up_reported: bool,
    /// When and from which slot catch-up was last requested.
    last_catch_up: Option<(Time, u64)>,
    // Persistence.
    persist_seq: u64,
    own_accepts: VecDeque<OwnAccept>,
}

impl MultiPaxos {
    fn majority(&self) -> usize {
        self.size as usize / 2 + 1
    }

    fn is_peer(&self, from: NodeId) -> bool {
        from < self.size && from != self.id
    }

    /// Notes a ballot heard of, for outbidding it later.
    fn saw(&mut self, ballot: Ballot) {
        self.seen = self.seen.max(ballot);
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
            seen: Ballot::default(),
            role: Role::Follower,
            ballot: Ballot::default(),
            leader: None,
            phase1: phase1::Phase1::default(),
            proposals: BTreeMap::new(),
            backlog: BTreeMap::new(),
            backlog_next: 1,
            backlog_top: 0,
            next_slot: 1,
            pending: VecDeque::new(),
            chosen: BTreeMap::new(),
            commit: 0,
            applied_index: 0,
            kv: KvStore::new(),
            known_commit: 0,
            catch_up_peer: None,
            caught_up_reported: false,
            last_catch_up: None,
            persist_seq: 0,
            own_accepts: VecDeque::new(),
        };
        node.replay(records);
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
            PaxosMessage::Promise {
                ballot,
                from_slot,
                commit,
                accepted,
                covered_to,
            } => self.on_promise(ctx, from, ballot, from_slot, commit, accepted, covered_to),
            PaxosMessage::Nack { promised } => self.on_nack(ctx, promised),
            PaxosMessage::Accept {
                ballot,
                slot,
                batch,
                commit,
            } => {
                if self.on_accept(ctx, from, ballot, slot, batch) {
                    self.learn_commit(ctx, from, ballot, commit);
                }
            }
            PaxosMessage::Accepted { ballot, slot } => self.on_accepted(ctx, from, ballot, slot),
            PaxosMessage::Heartbeat { ballot, commit } => {
                self.on_heartbeat(ctx, from, ballot, commit)
            }
            PaxosMessage::CatchUpRequest { from_slot } => {
                self.on_catch_up_request(ctx, from, from_slot)
            }
            PaxosMessage::CatchUp { chosen, commit } => self.on_catch_up(ctx, from, chosen, commit),
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
        while let Some(&own) = self.own_accepts.front() {
            if own.seq > upto {
                break;
            }
            self.own_accepts.pop_front();
            // An acceptance made under an earlier leadership must not count
            // for a later proposal of the same slot.
            if own.ballot == self.ballot {
                let id = self.id;
                self.record_ack(ctx, id, own.slot);
            }
        }
    }

    /// `term` is the encoded ballot ([`Ballot::as_term`]): the node's own
    /// while it campaigns or leads, the one it promised otherwise.
    /// `commit_index` counts slots; `applied_index` counts applied commands
    /// and no-op slots (a slot holds a batch), as in `Action::Applied`.
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
    fn timing(config: &MultiPaxosConfig) -> Timing {
        Timing {
            heartbeat: Some(config.heartbeat_interval),
            election_timeout: Some((config.leader_timeout_min, config.leader_timeout_max)),
        }
    }
}
