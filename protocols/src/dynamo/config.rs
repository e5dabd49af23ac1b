//! The Dynamo store's tunables: replication factor, quorum sizes, sloppy
//! quorum, ring granularity and timeouts.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A configuration the store cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DynamoConfigError {
    /// `n` must be at least 1.
    #[error("n (replicas per key) must be at least 1")]
    NoReplicas,
    /// `r` must be in `1..=n`.
    #[error("r = {r} must be between 1 and n = {n}")]
    ReadQuorum {
        /// The read quorum given.
        r: usize,
        /// The replication factor.
        n: usize,
    },
    /// `w` must be in `1..=n`.
    #[error("w = {w} must be between 1 and n = {n}")]
    WriteQuorum {
        /// The write quorum given.
        w: usize,
        /// The replication factor.
        n: usize,
    },
    /// The ring needs at least one virtual node per member.
    #[error("virtual_nodes must be at least 1")]
    NoVirtualNodes,
    /// A timer period of zero would spin.
    #[error("{field} must be longer than zero")]
    ZeroDuration {
        /// The offending field.
        field: &'static str,
    },
}

/// Tunables of [`super::Dynamo`]. Defaults are the Dynamo paper's common
/// configuration (N, R, W) = (3, 2, 2) with strict quorums and read repair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamoConfig {
    /// Replicas per key (the preference list's length). Capped at the
    /// cluster size at run time.
    pub n: usize,
    /// Replies a get waits for before answering.
    pub r: usize,
    /// Durable acknowledgements a put waits for before answering.
    pub w: usize,
    /// Sloppy quorum: replicas of the preference list that do not answer
    /// within `retry_timeout` are stood in for by the next members on the
    /// ring, which keep the data as a hint for the owner and hand it off
    /// later. Only helps when the cluster has more than `n` members.
    pub sloppy_quorum: bool,
    /// Tokens per member on the consistent-hashing ring.
    pub virtual_nodes: u32,
    /// A coordinator gives up on a request (answers `Unavailable`) after
    /// this long without a quorum.
    #[serde(with = "crate::durations")]
    pub request_timeout: Duration,
    /// Unanswered replica requests are resent (and, with a sloppy quorum,
    /// fallbacks enlisted) after this long, and again every period.
    #[serde(with = "crate::durations")]
    pub retry_timeout: Duration,
    /// After answering a get, send the reconciled versions to replicas that
    /// returned stale ones.
    pub read_repair: bool,
    /// Period of hinted hand-off attempts (sloppy quorum).
    #[serde(with = "crate::durations")]
    pub handoff_interval: Duration,
    /// Most keys in one hand-off message.
    pub handoff_batch: usize,
    /// BROKEN ON PURPOSE: gets answer after R - 1 replies (at least one),
    /// so with R + W = N + 1 a read quorum can miss every replica of an
    /// acknowledged put. Only for proving that the simulator's stale-read
    /// check catches it.
    #[doc(hidden)]
    #[serde(skip)]
    pub unsafe_read_one_short: bool,
    /// BROKEN ON PURPOSE: puts are acknowledged after W - 1 durable
    /// acknowledgements (at least one), so fewer than W owners may hold an
    /// acknowledged put. Only for proving that the simulator's durability
    /// check catches it.
    #[doc(hidden)]
    #[serde(skip)]
    pub unsafe_ack_one_short: bool,
}

impl Default for DynamoConfig {
    fn default() -> Self {
        DynamoConfig {
            n: 3,
            r: 2,
            w: 2,
            sloppy_quorum: false,
            virtual_nodes: 64,
            request_timeout: Duration::from_millis(400),
            retry_timeout: Duration::from_millis(50),
            read_repair: true,
            handoff_interval: Duration::from_millis(100),
            handoff_batch: 64,
            unsafe_read_one_short: false,
            unsafe_ack_one_short: false,
        }
    }
}

impl DynamoConfig {
    /// Checks the quorum sizes and periods.
    pub fn validate(&self) -> Result<(), DynamoConfigError> {
        let n = self.n;
        if n == 0 {
            return Err(DynamoConfigError::NoReplicas);
        }
        if self.r == 0 || self.r > n {
            return Err(DynamoConfigError::ReadQuorum { r: self.r, n });
        }
        if self.w == 0 || self.w > n {
            return Err(DynamoConfigError::WriteQuorum { w: self.w, n });
        }
        if self.virtual_nodes == 0 {
            return Err(DynamoConfigError::NoVirtualNodes);
        }
        for (field, d) in [
            ("request_timeout", self.request_timeout),
            ("retry_timeout", self.retry_timeout),
            ("handoff_interval", self.handoff_interval),
        ] {
            if d.is_zero() {
                return Err(DynamoConfigError::ZeroDuration { field });
            }
        }
        Ok(())
    }

    /// Whether every read quorum intersects every write quorum: R + W > N
    /// with strict quorums. Then a get sees every put acknowledged before
    /// it began (no stale reads). A sloppy quorum breaks the intersection
    /// (the stand-ins are outside the preference list), and so does
    /// R + W <= N. Even when this holds the store is not linearizable:
    /// concurrent puts become siblings and gets do not write back.
    pub fn strongly_consistent(&self) -> bool {
        self.r + self.w > self.n && !self.sloppy_quorum
    }

    /// Replies a get actually waits for: `r`, or one fewer (at least one)
    /// in the deliberately broken variant.
    pub(super) fn read_replies(&self) -> usize {
        if self.unsafe_read_one_short {
            self.r.saturating_sub(1).max(1)
        } else {
            self.r
        }
    }

    /// Durable acknowledgements a put actually waits for: `w`, or one
    /// fewer (at least one) in the deliberately broken variant.
    pub(super) fn write_acks(&self) -> usize {
        if self.unsafe_ack_one_short {
            self.w.saturating_sub(1).max(1)
        } else {
            self.w
        }
    }

    /// The configuration as run on a cluster of `size` members: `n` capped
    /// at the cluster size, `r` and `w` kept within `1..=n`, zero periods
    /// and ring sizes raised to the smallest useful value.
    pub fn effective(&self, size: u32) -> DynamoConfig {
        let n = self.n.clamp(1, (size as usize).max(1));
        let floor = |d: Duration| d.max(Duration::from_millis(1));
        DynamoConfig {
            n,
            r: self.r.clamp(1, n),
            w: self.w.clamp(1, n),
            virtual_nodes: self.virtual_nodes.max(1),
            request_timeout: floor(self.request_timeout),
            retry_timeout: floor(self.retry_timeout),
            handoff_interval: floor(self.handoff_interval),
            handoff_batch: self.handoff_batch.max(1),
            ..self.clone()
        }
    }
}
