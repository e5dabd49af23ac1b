//! Raft's messages, log entries, timers and persist records.

use crate::client::ClientRequest;
use crate::types::NodeId;
use serde::{Deserialize, Serialize};

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// Appended by a new leader so it can commit an entry of its own term
    /// (Raft paper, section 5.4.2 and 8).
    Noop,
    /// A client command (reads too, when they go through the log).
    Command(ClientRequest),
}

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Term of the leader that created it.
    pub term: u64,
    /// What it carries.
    pub payload: Payload,
}

/// Peer messages (Raft paper, figure 2), with the extras of the
/// dissertation: fast back-off hints and ReadIndex round numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftMessage {
    /// A candidate asks for a vote.
    RequestVote {
        /// Candidate's term.
        term: u64,
        /// Index of the candidate's last entry.
        last_log_index: u64,
        /// Term of the candidate's last entry.
        last_log_term: u64,
    },
    /// Answer to RequestVote.
    Vote {
        /// Voter's current term.
        term: u64,
        /// Whether the vote was granted.
        granted: bool,
    },
    /// Replication and heartbeat.
    AppendEntries {
        /// Leader's term.
        term: u64,
        /// Index of the entry before `entries`.
        prev_index: u64,
        /// Term of that entry.
        prev_term: u64,
        /// Entries to append (empty for a heartbeat).
        entries: Vec<Entry>,
        /// Leader's commit index.
        commit: u64,
        /// Latest ReadIndex round the leader has started; echoed back.
        read_round: u64,
    },
    /// Answer to AppendEntries.
    AppendReply {
        /// Follower's current term.
        term: u64,
        /// Whether the entries matched and were appended.
        success: bool,
        /// On success, the index of the last entry now known to match.
        match_index: u64,
        /// On failure, the term of the conflicting entry, if any (fast
        /// back-off, dissertation section 5.3 / etcd's rejection hint).
        conflict_term: Option<u64>,
        /// On failure, the first index of `conflict_term` in the follower's
        /// log, or its last index + 1 if its log is too short.
        conflict_index: u64,
        /// The `read_round` of the AppendEntries being answered.
        read_round: u64,
    },
}

/// Raft's timers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RaftTimer {
    /// Follower/candidate: no leader heard from in time.
    Election,
    /// Leader: send heartbeats (and retransmit).
    Heartbeat,
}

/// What Raft persists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftRecord {
    /// Current term and vote.
    HardState {
        /// Current term.
        term: u64,
        /// Candidate voted for in that term.
        voted_for: Option<NodeId>,
    },
    /// Entries starting at `first_index`; any existing entries at or after
    /// it are replaced.
    Append {
        /// Index of the first entry.
        first_index: u64,
        /// The entries.
        entries: Vec<Entry>,
    },
}
