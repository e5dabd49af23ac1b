//! HotStuff's tunables, and the hidden knobs that make replicas Byzantine
//! or the protocol deliberately unsafe (for tests of the checks).

use crate::auth::AuthMode;
use crate::types::NodeId;
use serde::{Deserialize, Deserializer, Serialize};
use std::time::Duration;

/// Tunables of [`super::Hotstuff`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HotstuffConfig {
    /// How long a replica that knows of work (a request not yet executed,
    /// or an uncommitted block with requests) waits in a view before it
    /// gives up on the view's leader. Doubles with every view that ends
    /// without a commit, up to 8 times; a sixteenth of it for the first
    /// view after a commit if its leader is suspected (this replica gave
    /// up on two of its views and has not heard from it since). Default
    /// 200 ms.
    #[serde(with = "crate::durations")]
    pub view_timeout: Duration,
    /// Period of status reports (view and highest QC, which also brings
    /// lagging replicas up to date), fetch retries and request forwarding.
    /// Default 50 ms.
    #[serde(with = "crate::durations")]
    pub tick_interval: Duration,
    /// Most requests per block. Default 64.
    pub max_batch: usize,
    /// How votes and quorum certificates are authenticated: `none` (the
    /// default; certificates are lists of voter ids, taken on trust) or
    /// `signatures` (ed25519; every certificate is checked). `mac` is
    /// rejected: MACs cannot be checked by a third replica, so they cannot
    /// make a certificate that the next leader can show to everyone.
    #[serde(deserialize_with = "hotstuff_auth")]
    pub auth: AuthMode,
    /// Seed from which every replica's key is derived (a lab
    /// simplification, see [`crate::auth`]). Default 0.
    pub key_seed: u64,
    /// Test only: make some replicas Byzantine.
    #[doc(hidden)]
    #[serde(skip)]
    pub byzantine: Option<Byzantine>,
    /// Test only, deliberately broken: commit on a two-chain (the block
    /// the lock points at) instead of a three-chain, so an equivocating
    /// leader gets two different blocks committed at one height.
    #[doc(hidden)]
    #[serde(skip)]
    pub unsafe_two_chain: bool,
}

impl Default for HotstuffConfig {
    fn default() -> Self {
        HotstuffConfig {
            view_timeout: Duration::from_millis(200),
            tick_interval: Duration::from_millis(50),
            max_batch: 64,
            auth: AuthMode::None,
            key_seed: 0,
            byzantine: None,
            unsafe_two_chain: false,
        }
    }
}

fn hotstuff_auth<'de, D: Deserializer<'de>>(d: D) -> Result<AuthMode, D::Error> {
    match AuthMode::deserialize(d)? {
        AuthMode::Mac => Err(serde::de::Error::custom(
            "hotstuff does not support auth: mac (a MAC convinces only its receiver, so \
             quorum certificates could not be checked by the replicas they are shown to); \
             use signatures, or none",
        )),
        mode => Ok(mode),
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
    /// As leader, sends its block to a third of its peers and, to the
    /// others, a different block for the same view that forks off below
    /// its highest certified block (extending the locked block, so
    /// correct replicas vote for it), and votes for both.
    Equivocate,
    /// Votes twice in every view: for the block it saw and for a block
    /// that does not exist; answers reads with a wrong value.
    ConflictingVotes,
    /// Re-sends messages it sent before (old views) at random.
    Replay,
    /// As leader, sends its block to a third of its peers and, to the
    /// others, a block on top of a forked chain of three blocks whose
    /// quorum certificates it made up (claiming votes of replicas that
    /// never voted). Without signatures the certificates are believed.
    ForgedQc,
}

impl HotstuffConfig {
    /// How `node` misbehaves, if it is one of the Byzantine replicas.
    pub fn byzantine_kind(&self, node: NodeId) -> Option<ByzantineKind> {
        crate::byzantine::kind_of(self.byzantine.as_ref(), node)
    }
}
