//! How a protocol's replicas hold the data, which decides the simulator's
//! replica-level checks ([`Replication`]), and what a version-vector store
//! promises in a given configuration ([`VersionedPromises`]).

use crate::kv::{Key, Value};
use crate::vclock::VersionVector;

/// How a protocol's replicas hold the data, and so which of the
/// simulator's replica-level checks apply to it. Client-level checks
/// (liveness after the heal, and linearizability of the history for
/// protocols that promise it, [`Protocol::LINEARIZABLE`]) apply to all.
///
/// [`Protocol::LINEARIZABLE`]: crate::core::Protocol::LINEARIZABLE
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Replication {
    /// Every replica applies one totally ordered log (Raft, Multi-Paxos):
    /// no two replicas apply different commands at one index, each applies
    /// indexes in order, the run waits until the replicas converge, and
    /// every acknowledged write must then be applied on every replica.
    Log,
    /// One replica executes everything from its own log (the unreplicated
    /// baseline): apply order is checked, and every acknowledged write must
    /// be applied on at least one replica.
    Single,
    /// No log: each key is a register replicated on majority quorums (ABD).
    /// Index-based checks do not apply (the core reports no `Applied`
    /// positions). Instead every acknowledged write must survive on a
    /// majority: at the end, rebuilt from their durable records alone, a
    /// majority of replicas hold its key at its acknowledged version or a
    /// later one ([`Protocol::held_version`]).
    ///
    /// [`Protocol::held_version`]: crate::core::Protocol::held_version
    Registers,
    /// No log: each key is a set of concurrent versions with version-vector
    /// clocks on its owners (the Dynamo store), acknowledged with
    /// [`Response::Stored`](crate::kv::Response::Stored). The run waits
    /// until every replica is up and [`settled`] (hinted hand-off done);
    /// then, rebuilt from their durable records alone, at least
    /// [`VersionedPromises::durable_owners`] owners of its key must hold
    /// every acknowledged put's clock or a later version
    /// ([`owns_version`]). Reads are judged for staleness against the
    /// versions the replicas recorded ([`recorded_version`]): counted
    /// always, a violation where [`VersionedPromises::fresh_reads`] holds.
    ///
    /// [`settled`]: crate::core::Protocol::settled
    /// [`owns_version`]: crate::core::Protocol::owns_version
    /// [`recorded_version`]: crate::core::Protocol::recorded_version
    Versioned,
}

/// What a [`Replication::Versioned`] store promises in one configuration
/// on one cluster; the simulator holds it to exactly this.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VersionedPromises {
    /// Owners of a key (members of its preference list) that hold every
    /// acknowledged put of it durably once the cluster has healed and
    /// settled: W with strict quorums, 1 with a sloppy quorum (after
    /// hinted hand-off).
    pub durable_owners: usize,
    /// Whether every read sees every put acknowledged before it was
    /// invoked (R + W > N with strict quorums). Where it does not hold,
    /// stale reads are only counted.
    pub fresh_reads: bool,
}

impl Default for VersionedPromises {
    /// The least a store that acknowledges writes can promise: one durable
    /// owner, reads possibly stale.
    fn default() -> Self {
        VersionedPromises {
            durable_owners: 1,
            fresh_reads: false,
        }
    }
}

/// One version a [`Replication::Versioned`] replica recorded durably: its
/// key, the value written and the version's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedVersion {
    /// The key.
    pub key: Key,
    /// The value written.
    pub value: Value,
    /// The version's clock.
    pub clock: VersionVector,
}
