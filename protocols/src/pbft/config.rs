//! PBFT's tunables, and the hidden knobs that make replicas Byzantine or
//! the protocol deliberately unsafe (for tests of the checks).

use crate::auth::AuthMode;
use crate::types::NodeId;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Tunables of [`super::Pbft`]. The paper's shape (a log window a few
/// checkpoint intervals wide), scaled down for small experiments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PbftConfig {
    /// How long a backup waits for a request it knows of to execute (or,
    /// during a view change, for the new view) before it moves to the next
    /// view. Doubles with every view change that brings no progress, up to
    /// 16 times. Default 300 ms.
    #[serde(with = "crate::durations")]
    pub view_change_timeout: Duration,
    /// Period of retransmissions (pre-prepares, votes, view changes) and
    /// of status reports. Default 50 ms.
    #[serde(with = "crate::durations")]
    pub retransmit_interval: Duration,
    /// Most requests per batch (per sequence number). Default 64.
    pub max_batch: usize,
    /// Most sequence numbers the primary has pre-prepared but not yet
    /// executed; requests arriving meanwhile wait and form the next batch.
    /// Default 4.
    pub max_inflight: u64,
    /// A checkpoint every this many sequence numbers. Default 32.
    pub checkpoint_interval: u64,
    /// Log window: sequence numbers are accepted only in
    /// `(stable, stable + log_window]`. Default 128.
    pub log_window: u64,
    /// How replicas authenticate what they say (see the module docs of
    /// [`super`] for what each mode defends against): `none` (the default;
    /// the transport authenticates senders, client requests are taken on
    /// trust), `mac` (Castro and Liskov's MAC variant: every message
    /// carries a MAC, or an authenticator of one MAC per receiver when
    /// broadcast, and clients authenticate their requests to every
    /// replica) or `signatures` (PBFT-PK: ed25519 signatures on every
    /// message and request, and view changes prove what prepared).
    pub auth: AuthMode,
    /// Seed from which every replica's and client's key is derived (a lab
    /// simplification, see [`crate::auth`]). Default 0.
    pub key_seed: u64,
    /// The read-only optimisation (Castro and Liskov, TOCS 2002, section
    /// 5.1.3; see `read_only.rs`): clients send reads to every replica,
    /// which answer at once from their executed state, and accept `2f + 1`
    /// matching answers, falling back to an ordered read on a mismatch or a
    /// timeout. It also makes clients wait for `2f + 1` matching answers to
    /// every ordered request (not `f + 1`), which linearizability needs.
    /// Default false.
    pub read_only: bool,
    /// Test only: make some replicas Byzantine.
    #[doc(hidden)]
    #[serde(skip)]
    pub byzantine: Option<Byzantine>,
    /// Test only, deliberately broken: prepare and commit with `f + 1`
    /// votes instead of `2f + 1`, so an equivocating primary gets two
    /// different batches committed at one sequence number.
    #[doc(hidden)]
    #[serde(skip)]
    pub unsafe_small_quorum: bool,
    /// Test only, deliberately broken: with `read_only`, clients keep the
    /// plain PBFT rule of `f + 1` matching answers for reads and writes, so
    /// a read can be answered by replicas that missed a completed write.
    #[doc(hidden)]
    #[serde(skip)]
    pub unsafe_read_only_f_plus_one: bool,
    /// Test only, deliberately broken: with `read_only`, reads need
    /// `2f + 1` matching answers but writes only `f + 1`, so a write can
    /// complete at replicas a later read's quorum meets only in a faulty one.
    #[doc(hidden)]
    #[serde(skip)]
    pub unsafe_read_only_writes_f_plus_one: bool,
}

impl Default for PbftConfig {
    fn default() -> Self {
        PbftConfig {
            view_change_timeout: Duration::from_millis(300),
            retransmit_interval: Duration::from_millis(50),
            max_batch: 64,
            max_inflight: 4,
            checkpoint_interval: 32,
            log_window: 128,
            auth: AuthMode::None,
            key_seed: 0,
            read_only: false,
            byzantine: None,
            unsafe_small_quorum: false,
            unsafe_read_only_f_plus_one: false,
            unsafe_read_only_writes_f_plus_one: false,
        }
    }
}

/// Which replicas misbehave, and how.
pub type Byzantine = crate::byzantine::Faulty<ByzantineKind>;

/// The misbehaviours a faulty replica can show. A faulty replica runs the
/// correct protocol on its own state and lies only in what it sends.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ByzantineKind {
    /// Sends nothing at all (to replicas or clients).
    Silent,
    /// As primary, sends one batch to one backup and a different one (the
    /// batch reversed, or the null batch) to the others, and votes commit
    /// for each group's batch.
    Equivocate,
    /// Sends prepares and commits for a wrong digest to half of its peers,
    /// claims a fake prepared null request in its view changes, and
    /// answers reads with a wrong value.
    ConflictingVotes,
    /// Re-sends messages it sent before (old views, old sequence numbers)
    /// at random, and old client replies.
    Replay,
    /// Forges what authentication must reject: after executing a client's
    /// request it makes up the client's next one (a put of a value nobody
    /// wrote, carrying the authenticator of the real request) and relays it
    /// to the primary, or as primary adds it to its pre-prepares; claims a
    /// null batch prepared in its view changes, with a certificate made of
    /// its own signature and signatures copied from other entries; and
    /// passes on votes it received from other replicas as its own.
    Forge,
    /// Answers read-only requests with the key's value before its latest
    /// executed write (what a correct replica that lags by that write
    /// answers, so the two agree on an old value); correct otherwise.
    StaleReads,
}

impl PbftConfig {
    /// How `node` misbehaves, if it is one of the Byzantine replicas.
    pub fn byzantine_kind(&self, node: NodeId) -> Option<ByzantineKind> {
        crate::byzantine::kind_of(self.byzantine.as_ref(), node)
    }
}
