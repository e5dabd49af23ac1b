//! Raft (Ongaro and Ousterhout, "In Search of an Understandable Consensus
//! Algorithm", USENIX ATC 2014), as a sans-IO core.
//!
//! What is implemented, and where the paper is silent, what was chosen:
//! - randomized election timeouts from a configurable range, reset on
//!   AppendEntries from the current leader and on granting a vote; no
//!   pre-vote (a rejoining partitioned node may disrupt a leader, as in the
//!   paper);
//! - RequestVote with the up-to-date check (last term, then last index);
//! - AppendEntries with the consistency check and fast back-off: a rejecting
//!   follower returns the conflicting term and the first index of it (the
//!   dissertation's optimisation, as etcd/raft does);
//! - pipelined replication (up to `max_inflight_appends` batches in flight
//!   per follower, `next_index` advanced optimistically) and
//!   batching (up to `max_entries_per_append` per message; requests that
//!   arrive while the pipeline is full ride in the next message); a
//!   follower that made no progress for two heartbeats falls back to
//!   resending from its match index;
//! - a new leader appends a no-op and commits only entries of its own term by
//!   counting replicas (section 5.4.2);
//! - term, vote and log changes are persisted before any message that
//!   depends on them (the runtime holds sends until durable), and the leader
//!   counts itself towards a majority only for entries durable locally;
//! - linearizable reads by ReadIndex (dissertation section 6.4): the leader
//!   notes its commit index, confirms it is still leader by a round of
//!   heartbeat acknowledgements from a majority, waits until it has applied
//!   that index and answers from its state machine; reads arriving while a
//!   round is in flight join the next round. `reads_through_log` sends reads
//!   through the log instead;
//! - followers and candidates redirect clients to the leader they know;
//! - a restarted or lagging follower catches up through the normal
//!   back-off and batched AppendEntries, and reports `CaughtUp` once.
//!
//! Not implemented yet: snapshots/log compaction and membership changes.

mod apply;
mod config;
mod election;
mod log;
mod messages;
mod reads;
mod replication;
#[cfg(test)]
mod tests;

pub use config::RaftConfig;
pub use messages::{Entry, Payload, RaftMessage, RaftRecord, RaftTimer};

use crate::client::leader::{LeaderClient, LeaderClientConfig};
use crate::client::{ClientReply, ClientRequest, ReplyBody};
use crate::core::{Cluster, Ctx, NodeStatus, Protocol, Role, Timing};
use crate::kv::KvStore;
use crate::types::{ClientId, NodeId};
use log::Log;
use reads::ReadState;
use std::collections::{BTreeSet, VecDeque};

/// Per-follower replication progress, kept by the leader.
///
/// The pipeline depth is derived, not counted: entries in `matched+1 ..
/// next` are in flight, in batches of `max_entries_per_append`. A counter of
/// messages would leak whenever a message is lost; this cannot.
#[derive(Clone, Debug, Default)]
struct Progress {
    next: u64,
    matched: u64,
    /// Whether `matched` moved (or a rejection was handled) since the last
    /// heartbeat tick.
    progressed: bool,
    /// Consecutive ticks with entries in flight and no progress; at 2 the
    /// leader assumes loss and resends from `matched + 1`.
    stalled_ticks: u32,
}

/// A Raft replica.
#[derive(Debug)]
pub struct Raft {
    id: NodeId,
    size: u32,
    config: RaftConfig,
    term: u64,
    voted_for: Option<NodeId>,
    log: Log,
    role: Role,
    leader: Option<NodeId>,
    votes: BTreeSet<NodeId>,
    commit: u64,
    applied: u64,
    kv: KvStore,
    progress: Vec<Progress>,
    /// First index of the leader's own term (its no-op).
    term_start: u64,
    /// Highest index of this node's log known durable.
    durable_index: u64,
    persist_seq: u64,
    /// (persist seq, last log index it covers) of Append records in flight.
    persist_marks: VecDeque<(u64, u64)>,
    reads: ReadState,
    caught_up_reported: bool,
}

impl Raft {
    fn majority(&self) -> usize {
        self.size as usize / 2 + 1
    }

    fn is_peer(&self, from: NodeId) -> bool {
        from < self.size && from != self.id
    }

    fn persist_hard_state(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.persist_seq += 1;
        let record = RaftRecord::HardState {
            term: self.term,
            voted_for: self.voted_for,
        };
        ctx.persist(self.persist_seq, record);
    }

    /// Replaces the log from `first_index` on and persists the change.
    fn persist_append(&mut self, ctx: &mut Ctx<'_, Self>, first_index: u64, entries: Vec<Entry>) {
        if !self.log.splice(first_index, entries.clone()) {
            return;
        }
        // Entries from `first_index` on were replaced: nothing persisted
        // earlier vouches for them any more.
        self.durable_index = self.durable_index.min(first_index - 1);
        for mark in self.persist_marks.iter_mut() {
            mark.1 = mark.1.min(first_index - 1);
        }
        self.persist_seq += 1;
        self.persist_marks
            .push_back((self.persist_seq, self.log.last_index()));
        ctx.persist(
            self.persist_seq,
            RaftRecord::Append {
                first_index,
                entries,
            },
        );
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

impl Protocol for Raft {
    type Message = RaftMessage;
    type Timer = RaftTimer;
    type Record = RaftRecord;
    type Config = RaftConfig;
    type Client = LeaderClient;
    const NAME: &'static str = "raft";

    fn recover(
        id: NodeId,
        cluster: &Cluster,
        config: &RaftConfig,
        records: Vec<RaftRecord>,
    ) -> Self {
        let mut raft = Raft {
            id,
            size: cluster.size.max(1),
            config: config.clone(),
            term: 0,
            voted_for: None,
            log: Log::default(),
            role: Role::Follower,
            leader: None,
            votes: BTreeSet::new(),
            commit: 0,
            applied: 0,
            kv: KvStore::new(),
            progress: vec![Progress::default(); cluster.size.max(1) as usize],
            term_start: 0,
            durable_index: 0,
            persist_seq: 0,
            persist_marks: VecDeque::new(),
            reads: ReadState::default(),
            caught_up_reported: false,
        };
        for record in records {
            match record {
                RaftRecord::HardState { term, voted_for } => {
                    if term >= raft.term {
                        raft.term = term;
                        raft.voted_for = voted_for;
                    }
                }
                RaftRecord::Append {
                    first_index,
                    entries,
                } => {
                    raft.log.splice(first_index, entries);
                }
            }
        }
        raft.durable_index = raft.log.last_index();
        raft
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.reset_election_timer(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: RaftMessage) {
        if !self.is_peer(from) {
            return;
        }
        match msg {
            RaftMessage::RequestVote {
                term,
                last_log_index,
                last_log_term,
            } => self.on_request_vote(ctx, from, term, last_log_index, last_log_term),
            RaftMessage::Vote { term, granted } => self.on_vote(ctx, from, term, granted),
            RaftMessage::AppendEntries {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
                read_round,
            } => self.on_append(
                ctx, from, term, prev_index, prev_term, entries, commit, read_round,
            ),
            RaftMessage::AppendReply {
                term,
                success,
                match_index,
                conflict_term,
                conflict_index,
                read_round,
            } => self.on_append_reply(
                ctx,
                from,
                term,
                success,
                match_index,
                conflict_term,
                conflict_index,
                read_round,
            ),
        }
    }

    fn on_client_request(&mut self, ctx: &mut Ctx<'_, Self>, request: ClientRequest) {
        if self.role != Role::Leader {
            self.redirect(ctx, &request);
            return;
        }
        if request.command.is_read() && !self.config.reads_through_log {
            self.read_index(ctx, request);
            return;
        }
        let entry = Entry {
            term: self.term,
            payload: Payload::Command(request),
        };
        let index = self.log.last_index() + 1;
        self.persist_append(ctx, index, vec![entry]);
        if self.config.unsafe_commit_without_majority {
            self.commit = self.log.last_index();
            self.apply(ctx);
        }
        self.replicate_all(ctx, false);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: RaftTimer) {
        match timer {
            RaftTimer::Election => self.on_election_timeout(ctx),
            RaftTimer::Heartbeat => self.on_heartbeat(ctx),
        }
    }

    fn on_persisted(&mut self, ctx: &mut Ctx<'_, Self>, upto: u64) {
        while let Some(&(seq, last)) = self.persist_marks.front() {
            if seq > upto {
                break;
            }
            self.persist_marks.pop_front();
            self.durable_index = self.durable_index.max(last.min(self.log.last_index()));
        }
        if self.role == Role::Leader {
            self.advance_commit(ctx);
        }
    }

    fn status(&self) -> NodeStatus {
        NodeStatus {
            role: self.role,
            leader: self.leader,
            term: self.term,
            commit_index: self.commit,
            applied_index: self.applied,
        }
    }

    fn client(cluster: &Cluster, _config: &RaftConfig, _client: ClientId) -> LeaderClient {
        LeaderClient::new(cluster.size, LeaderClientConfig::default())
    }
    fn timing(config: &RaftConfig) -> Timing {
        Timing {
            heartbeat: Some(config.heartbeat_interval),
            election_timeout: Some((config.election_timeout_min, config.election_timeout_max)),
        }
    }
}
