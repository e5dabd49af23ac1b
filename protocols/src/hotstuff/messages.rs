//! HotStuff's blocks, quorum certificates, messages, timers and durable
//! records.
//!
//! Block hashes are SHA-256 over the block's view, height, parent, the
//! certificate it carries (view and block) and its requests, so a block
//! fetched from anyone can be checked against the hash that named it.

use crate::client::ClientRequest;
use crate::kv::Command;
use crate::types::NodeId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A block's name: SHA-256 of its contents.
pub type BlockHash = [u8; 32];

/// The name of the genesis block (every chain starts there).
pub const GENESIS: BlockHash = [0; 32];

/// One voter's part of a certificate: who, and (with signatures) its
/// signature of the vote. Empty signature without signatures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// The voter.
    pub signer: NodeId,
    /// Its signature of [`vote_bytes`] (empty without signatures).
    pub sig: Vec<u8>,
}

/// A quorum certificate: `2f + 1` distinct replicas voted for `block` in
/// `view`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qc {
    /// The view of the votes (the certified block's view).
    pub view: u64,
    /// The certified block.
    pub block: BlockHash,
    /// The votes.
    pub votes: Vec<Signed>,
}

impl Qc {
    /// The certificate of the genesis block (view 0, no votes), which
    /// every replica accepts.
    pub fn genesis() -> Qc {
        Qc {
            view: 0,
            block: GENESIS,
            votes: Vec::new(),
        }
    }

    /// Whether this is the genesis certificate.
    pub fn is_genesis(&self) -> bool {
        self.view == 0 && self.block == GENESIS && self.votes.is_empty()
    }
}

/// What a vote signs: a domain tag, the view and the block.
pub fn vote_bytes(view: u64, block: &BlockHash) -> Vec<u8> {
    let mut v = b"quorumlab-hotstuff-vote".to_vec();
    v.extend_from_slice(&view.to_le_bytes());
    v.extend_from_slice(block);
    v
}

/// A block of the chain: a batch of requests proposed in `view` on top of
/// `parent`, carrying the certificate of its parent (`justify.block ==
/// parent`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The view it was proposed in.
    pub view: u64,
    /// Distance from genesis (genesis is 0).
    pub height: u64,
    /// The parent block.
    pub parent: BlockHash,
    /// The parent's certificate.
    pub justify: Qc,
    /// The requests, in execution order (may be empty).
    pub batch: Vec<ClientRequest>,
}

impl Block {
    /// The genesis block (stored under [`GENESIS`], not its hash).
    pub fn genesis() -> Block {
        Block {
            view: 0,
            height: 0,
            parent: GENESIS,
            justify: Qc::genesis(),
            batch: Vec::new(),
        }
    }

    /// The block's hash.
    pub fn hash(&self) -> BlockHash {
        let mut h = Sha256::new();
        h.update(b"quorumlab-hotstuff-block");
        h.update(self.view.to_le_bytes());
        h.update(self.height.to_le_bytes());
        h.update(self.parent);
        h.update(self.justify.view.to_le_bytes());
        h.update(self.justify.block);
        h.update((self.batch.len() as u64).to_le_bytes());
        for r in &self.batch {
            h.update(r.id.client.to_le_bytes());
            h.update(r.id.seq.to_le_bytes());
            match &r.command {
                Command::Get { key } => {
                    h.update([1]);
                    h.update(key.to_le_bytes());
                }
                Command::Put { key, value } => {
                    h.update([2]);
                    h.update(key.to_le_bytes());
                    h.update((value.len() as u64).to_le_bytes());
                    h.update(value);
                }
                Command::Cas {
                    key,
                    expected_version,
                    value,
                } => {
                    h.update([3]);
                    h.update(key.to_le_bytes());
                    h.update(expected_version.to_le_bytes());
                    h.update((value.len() as u64).to_le_bytes());
                    h.update(value);
                }
            }
        }
        h.finalize().into()
    }
}

/// A replica's latest vote, repeated in its new-view messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastVote {
    /// View.
    pub view: u64,
    /// The block voted for.
    pub block: BlockHash,
    /// Signature of [`vote_bytes`] (empty without signatures).
    pub sig: Vec<u8>,
}

/// Replica-to-replica messages. The sender is the authenticated peer the
/// message arrived from; no message names its own sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HotstuffMessage {
    /// A client request forwarded to the leader.
    Request(ClientRequest),
    /// The leader of `block.view` proposes `block`.
    Propose {
        /// The block.
        block: Block,
    },
    /// The sender votes for `block` in `view` (sent to the leader of
    /// `view + 1`, which aggregates the votes into a certificate).
    Vote {
        /// View.
        view: u64,
        /// The block voted for.
        block: BlockHash,
        /// Signature of [`vote_bytes`] (empty without signatures).
        sig: Vec<u8>,
    },
    /// The sender gave up on the view before `view` and enters `view`;
    /// sent to its leader with the sender's highest certificate and its
    /// latest vote, so that the votes a silent leader should have turned
    /// into a certificate can still form it.
    NewView {
        /// The view entered.
        view: u64,
        /// The sender's highest certificate.
        high_qc: Qc,
        /// The sender's latest vote, if it remembers one.
        vote: Option<LastVote>,
    },
    /// Broadcast with a `NewView`: the sender timed out and wants `view`.
    /// `f + 1` of them for views above a replica's own make it follow.
    Timeout {
        /// The view wanted.
        view: u64,
    },
    /// Periodic report: the sender's view and highest certificate
    /// (synchronises views and brings lagging replicas up to date).
    Status {
        /// The sender's view.
        view: u64,
        /// Its highest certificate.
        high_qc: Qc,
        /// The certificate that made it commit its last committed block
        /// (proof for a replica that missed it).
        commit_qc: Qc,
    },
    /// Asks for the block named `block` (and its ancestors).
    Fetch {
        /// The missing block.
        block: BlockHash,
    },
    /// A block and some of its ancestors, newest first; each block is
    /// the parent of the one before it.
    Blocks {
        /// The blocks.
        blocks: Vec<Block>,
    },
}

/// HotStuff's timers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HotstuffTimer {
    /// Periodic status report, fetch retries and request forwarding.
    Tick,
    /// The pacemaker's view timer.
    View,
}

/// Durable records: everything a replica's safety depends on is persisted
/// before the replica acts on it, so a replica that crashes and recovers
/// never contradicts what it said before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HotstuffRecord {
    /// A block entered the replica's tree (its certificate checked).
    Block(Block),
    /// About to vote (or propose) in `view`: never vote again at or below.
    Voted {
        /// The view.
        view: u64,
    },
    /// The locked certificate moved up.
    Locked(Qc),
    /// The block was committed (with all its ancestors); about to execute.
    Committed {
        /// The block.
        block: BlockHash,
    },
}
