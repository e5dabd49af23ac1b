//! PBFT's messages, timers, durable records and digests.
//!
//! Digests are 64-bit FNV-1a: deterministic and cheap, enough to tell
//! batches apart in the simulator, but not collision resistant (with
//! authentication on, what is MACed or signed is the message with its
//! digests, so a digest collision would carry over to them).
//!
//! Every replica-to-replica message travels in an [`Envelope`] with its
//! [`Auth`]: nothing (`auth: none`; the transport's mutual TLS makes the
//! *sender* trustworthy, nothing more), a MAC or an authenticator vector
//! (`auth: mac`), or the sender's signature (`auth: signatures`), always
//! over [`signed_bytes`], which bind the sender, the view and the sequence
//! number along with the content.

use crate::client::ClientRequest;
use crate::kv::request_digest;
use crate::types::NodeId;
use serde::{Deserialize, Serialize};

/// The requests ordered at one sequence number. An empty batch is the null
/// request a new primary uses to fill gaps.
pub type Batch = Vec<ClientRequest>;

/// Digest of the chain before the first sequence number (the genesis).
pub const GENESIS: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over 64-bit words.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(GENESIS)
    }
    pub(crate) fn u64(mut self, v: u64) -> Fnv {
        for b in v.to_le_bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }
    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// Digest of a batch (its requests' ids and commands, in order).
pub fn batch_digest(batch: &[ClientRequest]) -> u64 {
    batch
        .iter()
        .fold(Fnv::new().u64(batch.len() as u64), |h, r| {
            h.u64(request_digest(r.id, &r.command))
        })
        .finish()
}

/// The chain digest after executing the batch with digest `digest` at `seq`
/// on top of the chain digest `prev`: replicas that executed the same
/// batches in the same order have the same chain digest, so it stands for
/// the state in checkpoints and in state transfer.
pub fn chain_digest(prev: u64, seq: u64, digest: u64) -> u64 {
    Fnv::new().u64(prev).u64(seq).u64(digest).finish()
}

/// A prepared certificate in signed form (`auth: signatures`, PBFT-PK):
/// the primary's signature of its pre-prepare and `2f` backups' signatures
/// of their prepares, all for the same (view, sequence number, digest).
/// Empty in the other modes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedCert {
    /// The primary's signature over [`pre_prepare_bytes`].
    pub pre_prepare: Vec<u8>,
    /// Backups' signatures over [`prepare_bytes`], by backup.
    pub prepares: Vec<(NodeId, Vec<u8>)>,
}

/// A request prepared at a replica: the `P` set of Castro and Liskov's
/// view change without signatures (TOCS 2002, section 4.5), with its
/// signed certificate when signatures are on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedEntry {
    /// Sequence number.
    pub seq: u64,
    /// Highest view in which it prepared here.
    pub view: u64,
    /// Its digest.
    pub digest: u64,
    /// The batch itself (a new primary re-proposes it).
    pub batch: Batch,
    /// The proof that it prepared (`auth: signatures` only).
    pub cert: PreparedCert,
}

/// A request pre-prepared at a replica: the `Q` set (per sequence number
/// and digest, the latest view in which it was pre-prepared).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrePreparedEntry {
    /// Sequence number.
    pub seq: u64,
    /// Digest.
    pub digest: u64,
    /// Latest view in which this digest was pre-prepared at `seq`.
    pub view: u64,
}

/// A replica's vote to move to `view`, with what it knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewChange {
    /// The view asked for.
    pub view: u64,
    /// The sender's stable checkpoint.
    pub stable: u64,
    /// The sender's own checkpoints at or above `stable`: (seq, chain digest).
    pub checkpoints: Vec<(u64, u64)>,
    /// The `P` set above `stable`.
    pub prepared: Vec<PreparedEntry>,
    /// The `Q` set above `stable`.
    pub preprepared: Vec<PrePreparedEntry>,
}

impl ViewChange {
    /// Digest of the whole message; a new-view names the view changes it
    /// was computed from by sender and digest.
    pub fn digest(&self) -> u64 {
        let mut h = Fnv::new().u64(self.view).u64(self.stable);
        h = h.u64(self.checkpoints.len() as u64);
        for (s, d) in &self.checkpoints {
            h = h.u64(*s).u64(*d);
        }
        h = h.u64(self.prepared.len() as u64);
        for p in &self.prepared {
            h = h
                .u64(p.seq)
                .u64(p.view)
                .u64(p.digest)
                .u64(batch_digest(&p.batch));
        }
        h = h.u64(self.preprepared.len() as u64);
        for q in &self.preprepared {
            h = h.u64(q.seq).u64(q.digest).u64(q.view);
        }
        h.finish()
    }
}

/// Replica-to-replica messages. The sender is the authenticated peer the
/// message arrived from; no message names its own sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PbftMessage {
    /// A client request relayed by a backup to the primary.
    Request(ClientRequest),
    /// The primary assigns `batch` to `seq` in `view`.
    PrePrepare {
        /// View.
        view: u64,
        /// Sequence number.
        seq: u64,
        /// The requests.
        batch: Batch,
    },
    /// A backup accepted the pre-prepare of `digest` at (`view`, `seq`).
    Prepare {
        /// View.
        view: u64,
        /// Sequence number.
        seq: u64,
        /// Batch digest.
        digest: u64,
    },
    /// The sender has `digest` prepared at (`view`, `seq`).
    Commit {
        /// View.
        view: u64,
        /// Sequence number.
        seq: u64,
        /// Batch digest.
        digest: u64,
    },
    /// The sender executed up to `seq` with chain digest `digest`.
    Checkpoint {
        /// Sequence number (a multiple of the checkpoint interval).
        seq: u64,
        /// Chain digest after it.
        digest: u64,
    },
    /// A vote for a new view.
    ViewChange(ViewChange),
    /// The primary of `view` starts it from these view changes (sender,
    /// digest); every replica recomputes the outcome from its own copies.
    NewView {
        /// The new view.
        view: u64,
        /// The view changes used, by sender and digest.
        proofs: Vec<(NodeId, u64)>,
    },
    /// Periodic progress report (drives state transfer and view catch-up).
    Status {
        /// The sender's view.
        view: u64,
        /// Whether it is active in that view (not changing views).
        active: bool,
        /// Highest sequence number it executed.
        executed: u64,
    },
    /// Asks for executed batches from `from` on (state transfer).
    Fetch {
        /// First sequence number wanted.
        from: u64,
    },
    /// Executed batches `from..from + batches.len()`, with the chain
    /// digest after each.
    FetchReply {
        /// Sequence number of the first batch.
        from: u64,
        /// The batches.
        batches: Vec<Batch>,
        /// Chain digest after each batch.
        digests: Vec<u64>,
    },
}

/// How an [`Envelope`] is authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Auth {
    /// Nothing beyond the transport (`auth: none`).
    None,
    /// One HMAC-SHA256 tag for the one receiver (`auth: mac`, sent to one).
    Mac(Vec<u8>),
    /// One tag per other replica in id order (`auth: mac`, broadcast).
    Authenticator(Vec<u8>),
    /// The sender's ed25519 signature (`auth: signatures`).
    Signature(Vec<u8>),
}

/// What travels between replicas: a message and its authentication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The message.
    pub msg: PbftMessage,
    /// Its MAC(s) or signature over [`signed_bytes`].
    pub auth: Auth,
}

fn bytes_of(label: &[u8], words: &[u64]) -> Vec<u8> {
    let mut out = b"quorumlab-pbft/".to_vec();
    out.extend_from_slice(label);
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

/// What a primary signs for its pre-prepare of `digest` at (`view`,
/// `seq`); a prepared certificate reuses the signature.
pub fn pre_prepare_bytes(primary: NodeId, view: u64, seq: u64, digest: u64) -> Vec<u8> {
    bytes_of(b"pre-prepare", &[primary.into(), view, seq, digest])
}

/// What a backup signs for its prepare of `digest` at (`view`, `seq`).
pub fn prepare_bytes(backup: NodeId, view: u64, seq: u64, digest: u64) -> Vec<u8> {
    bytes_of(b"prepare", &[backup.into(), view, seq, digest])
}

/// The bytes authenticated for `msg` sent by `sender`. Pre-prepares and
/// prepares use the forms certificates are made of; everything else is
/// its full encoding after a label and the sender, and carries its own
/// view or sequence number, so an old message or one relayed from another
/// replica does not pass for a new one of the relayer's.
pub fn signed_bytes(sender: NodeId, msg: &PbftMessage) -> Vec<u8> {
    match msg {
        PbftMessage::PrePrepare { view, seq, batch } => {
            pre_prepare_bytes(sender, *view, *seq, batch_digest(batch))
        }
        PbftMessage::Prepare { view, seq, digest } => prepare_bytes(sender, *view, *seq, *digest),
        other => {
            let mut out = bytes_of(b"message", &[sender.into()]);
            // Encoding into memory cannot fail; were it to, every message
            // of the kind would share the label-only bytes, which still
            // bind the sender.
            out.extend_from_slice(&postcard::to_allocvec(other).unwrap_or_default());
            out
        }
    }
}

/// PBFT's timers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PbftTimer {
    /// Periodic retransmission and status report.
    Tick,
    /// A request waited too long (or a new view did not come): change views.
    ViewChange,
}

/// Durable records. Everything a replica sends that others may count on
/// is persisted first, so a replica that crashes and recovers never
/// contradicts what it said before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PbftRecord {
    /// Accepted the pre-prepare of `batch` at (`view`, `seq`).
    Accept {
        /// View.
        view: u64,
        /// Sequence number.
        seq: u64,
        /// The batch.
        batch: Batch,
    },
    /// Prepared `digest` at (`view`, `seq`) (about to send a commit).
    Prepared {
        /// View.
        view: u64,
        /// Sequence number.
        seq: u64,
        /// Digest.
        digest: u64,
        /// The signed certificate (`auth: signatures`; else empty).
        cert: PreparedCert,
    },
    /// Executed `batch` at `seq`.
    Executed {
        /// Sequence number.
        seq: u64,
        /// The batch.
        batch: Batch,
    },
    /// A checkpoint became stable.
    Stable {
        /// Sequence number.
        seq: u64,
    },
    /// Sent this view change (resent unchanged after a restart).
    ViewChangeSent(ViewChange),
    /// Entered `view` through a new-view.
    EnteredView {
        /// The view.
        view: u64,
    },
}
