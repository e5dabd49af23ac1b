//! A Dynamo-style store (DeCandia et al., "Dynamo: Amazon's Highly
//! Available Key-value Store", SOSP 2007), as a sans-IO core.
//!
//! - **Placement**: a consistent-hashing ring with virtual nodes
//!   ([`ring`]); each key's preference list is the first N distinct members
//!   clockwise from its hash (every member when the cluster has N).
//! - **Any node coordinates**: the node a client asks runs the request,
//!   whether or not it is in the key's preference list.
//! - **Puts**: the coordinator makes the new version's clock from the
//!   client's causal context (the clock it last read for the key) by
//!   raising its own actor's entry, sends the version to the N replicas and
//!   answers [`Response::Stored`] after W durable acknowledgements (itself
//!   included when it is a replica).
//! - **Gets**: the coordinator asks the N replicas and answers
//!   [`Response::Siblings`] after R replies: the values of every version no
//!   other version dominates, and their merged clock as the context for the
//!   client's next put, which then supersedes all of them (that is how a
//!   client resolves siblings).
//! - **Read repair** (on by default): replicas of the preference list that
//!   returned stale or missing versions get the reconciled ones, from the
//!   replies in hand when the get is answered and from late replies within
//!   one more retry period.
//! - **Sloppy quorum and hinted hand-off** (`sloppy_quorum: true`): a
//!   preference-list replica that does not answer within `retry_timeout`
//!   is stood in for by the next member on the ring (walking past the
//!   preference list); the stand-in stores the version durably as a hint
//!   naming the owner, serves it to reads of the key, and every
//!   `handoff_interval` offers its hints to their owners, dropping a hint
//!   once the owner acknowledged it durably.
//! - **Durability**: replicas persist every version (and hint) they accept
//!   before acknowledging. The acknowledgement is emitted after the
//!   `Persist`, so the runtime's send gate holds it until the record is
//!   durable (see [`crate::core`]). Versions are idempotent (a version
//!   covered by a stored one is a no-op), so duplicated, reordered and
//!   retried messages and any prefix of records replay safely.
//!
//! # Clocks and actors
//!
//! Vector-clock actors are coordinator *incarnations*
//! ([`actor_id`]`(node, incarnation)`): every start persists a new
//! incarnation number before the node sends anything, and a coordinator
//! counts its writes per key in memory. So two different writes can never
//! get the same clock, even across crashes, without a persist per write.
//! The total of a clock is the number of writes in its causal past
//! ([`Response::version`]). Two puts with the same context through the same
//! coordinator are ordered by it (the later supersedes the earlier, as in
//! the Dynamo paper's node-based clocks); through different coordinators
//! they become siblings.
//!
//! # Consistency
//!
//! With R + W > N and strict quorums every get sees every put acknowledged
//! before it began ([`DynamoConfig::strongly_consistent`]); it is still not
//! linearizable (siblings, no write-back). R + W <= N or a sloppy quorum
//! trade that for latency and availability. Compare-and-set needs
//! consensus and is rejected ([`ReplyBody::Rejected`]).
//!
//! The simulator holds the store to exactly this
//! ([`Replication::Versioned`]): no linearizability check; every
//! acknowledged put held durably by W owners (one owner, after hand-off,
//! with a sloppy quorum); and no stale read where the configuration is
//! strongly consistent (elsewhere stale reads are counted).

mod client;
mod config;
mod coordinator;
mod hinted;
mod messages;
mod read;
mod replica;
pub mod ring;
mod siblings;
#[cfg(test)]
mod test_pump;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_props;
#[cfg(test)]
mod tests_ring;

pub use client::DynamoClient;
pub use config::{DynamoConfig, DynamoConfigError};
pub use messages::{DynamoMessage, DynamoRecord, DynamoTimer, OpId, Version};
pub use siblings::SiblingSet;

use crate::client::{ClientReply, ClientRequest, ReplyBody};
use crate::core::{
    Cluster, Ctx, NodeStatus, Protocol, RecordedVersion, Replication, Role, VersionedPromises,
};
use crate::kv::{Key, Response};
use crate::types::{ClientId, NodeId, RequestId};
use crate::vclock::VersionVector;
use coordinator::Coordinator;
use hinted::Hints;
use ring::Ring;
use std::collections::BTreeMap;

/// The vector-clock actor of incarnation `incarnation` of node `node`.
pub fn actor_id(node: NodeId, incarnation: u32) -> u64 {
    (u64::from(incarnation) << 32) | u64::from(node)
}

/// One node of the store: replica of the keys whose preference lists
/// include it, coordinator of the requests clients send it, and holder of
/// hints for unreachable owners.
#[derive(Debug)]
pub struct Dynamo {
    id: NodeId,
    size: u32,
    /// The configuration as run on this cluster ([`DynamoConfig::effective`]).
    config: DynamoConfig,
    ring: Ring,
    /// This start's incarnation (persisted in `start`).
    incarnation: u32,
    persist_seq: u64,
    /// The versions this node stores as an owner.
    store: BTreeMap<Key, SiblingSet>,
    hints: Hints,
    coord: Coordinator,
}

impl Dynamo {
    /// This node's vector-clock actor in the current incarnation.
    fn actor(&self) -> u64 {
        actor_id(self.id, self.incarnation)
    }

    fn is_member(&self, node: NodeId) -> bool {
        node < self.size
    }

    fn persist(&mut self, ctx: &mut Ctx<'_, Self>, record: DynamoRecord) {
        self.persist_seq += 1;
        ctx.persist(self.persist_seq, record);
    }

    /// The versions of `key` stored here as an owner.
    pub fn stored(&self, key: Key) -> &[Version] {
        self.store.get(&key).map_or(&[], |s| s.versions())
    }

    /// The versions of `key` held here as hints for `owner`.
    pub fn hinted(&self, owner: NodeId, key: Key) -> &[Version] {
        self.hints.get(owner, key)
    }

    /// Whether this node holds `key` at `clock` or a later version, as an
    /// owner or as a hint. (The simulator's durability check counts owners
    /// only: [`Protocol::owns_version`].)
    pub fn covers(&self, key: Key, clock: &VersionVector) -> bool {
        self.store.get(&key).is_some_and(|s| s.covers(clock))
            || self.hints.for_key(key).any(|v| v.clock.descends(clock))
    }

    /// Requests this node is coordinating (answered gets still collecting
    /// replies for read repair included).
    pub fn in_flight(&self) -> usize {
        self.coord.in_flight()
    }

    /// The preference list of `key` on this cluster's ring.
    pub fn preference_list(&self, key: Key) -> Vec<NodeId> {
        self.ring.preference_list(key, self.config.n)
    }

    /// Number of (owner, key) pairs with hints not yet handed off.
    pub fn pending_hints(&self) -> usize {
        self.hints.len()
    }

    /// Whether `config` gives strongly consistent reads (see
    /// [`DynamoConfig::strongly_consistent`]), as run on `cluster`.
    pub fn strongly_consistent(cluster: &Cluster, config: &DynamoConfig) -> bool {
        config.effective(cluster.size).strongly_consistent()
    }

    fn reply(&self, ctx: &mut Ctx<'_, Self>, to: ClientId, id: RequestId, body: ReplyBody) {
        ctx.reply(
            to,
            ClientReply {
                id,
                from: self.id,
                body,
            },
        );
    }
}

impl Protocol for Dynamo {
    type Message = DynamoMessage;
    type Timer = DynamoTimer;
    type Record = DynamoRecord;
    type Config = DynamoConfig;
    type Client = DynamoClient;
    const NAME: &'static str = "dynamo";
    const REPLICATION: Replication = Replication::Versioned;
    const SUPPORTS_CAS: bool = false;
    /// Concurrent puts leave siblings and gets do not write back.
    const LINEARIZABLE: bool = false;

    fn recover(
        id: NodeId,
        cluster: &Cluster,
        config: &DynamoConfig,
        records: Vec<DynamoRecord>,
    ) -> Self {
        let size = cluster.size.max(1);
        let config = config.effective(size);
        let mut node = Dynamo {
            id,
            size,
            ring: Ring::new(cluster.nodes(), config.virtual_nodes),
            config,
            incarnation: 0,
            persist_seq: 0,
            store: BTreeMap::new(),
            hints: Hints::default(),
            coord: Coordinator::default(),
        };
        for record in records {
            match record {
                DynamoRecord::Incarnation(n) => node.incarnation = node.incarnation.max(n),
                DynamoRecord::Stored { key, version } => {
                    node.store.entry(key).or_default().insert(version);
                }
                DynamoRecord::Hint {
                    owner,
                    key,
                    version,
                } => {
                    node.hints.insert(owner, key, version);
                }
                DynamoRecord::HintDelivered { owner, key, clocks } => {
                    node.hints.remove_covered(owner, key, &clocks);
                }
            }
        }
        node
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        // A fresh actor for this incarnation; everything sent from now on
        // waits until it is durable, so no clock of it escapes a crash
        // that would let the next start reuse it.
        self.incarnation = self.incarnation.saturating_add(1);
        self.coord = Coordinator::new(self.incarnation);
        self.persist(ctx, DynamoRecord::Incarnation(self.incarnation));
        ctx.set_timer(DynamoTimer::Handoff, self.config.handoff_interval);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: DynamoMessage) {
        if !self.is_member(from) {
            return;
        }
        match msg {
            DynamoMessage::Store {
                op,
                key,
                version,
                hint,
            } => self.on_store(ctx, from, op, key, version, hint),
            DynamoMessage::Stored { op, key, clock } => self.on_stored(ctx, from, op, key, clock),
            DynamoMessage::Fetch { op, key } => self.on_fetch(ctx, from, op, key),
            DynamoMessage::Fetched { op, key, versions } => {
                self.on_fetched(ctx, from, op, key, versions)
            }
            DynamoMessage::Repair { key, versions } => {
                for version in versions {
                    self.accept(ctx, key, version);
                }
            }
            DynamoMessage::Handoff { entries } => self.on_handoff(ctx, from, entries),
            DynamoMessage::HandoffAck { entries } => self.on_handoff_ack(ctx, from, entries),
        }
    }

    fn on_client_request(&mut self, ctx: &mut Ctx<'_, Self>, request: ClientRequest) {
        self.coordinate(ctx, request);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: DynamoTimer) {
        match timer {
            DynamoTimer::Retry(op) => self.on_retry(ctx, op),
            DynamoTimer::Handoff => {
                self.handoff_tick(ctx);
                ctx.set_timer(DynamoTimer::Handoff, self.config.handoff_interval);
            }
        }
    }

    fn on_persisted(&mut self, _ctx: &mut Ctx<'_, Self>, _upto: u64) {
        // Acknowledgements are emitted after their persist and held by the
        // runtime's send gate; nothing waits here.
    }

    fn status(&self) -> NodeStatus {
        NodeStatus {
            role: Role::Replica,
            leader: None,
            term: 0,
            commit_index: 0,
            applied_index: 0,
        }
    }

    fn client(cluster: &Cluster, _config: &DynamoConfig, client: ClientId) -> DynamoClient {
        DynamoClient::new(cluster.size, client)
    }

    fn owns_version(&self, key: Key, clock: &VersionVector) -> bool {
        self.preference_list(key).contains(&self.id)
            && self.store.get(&key).is_some_and(|s| s.covers(clock))
    }

    fn recorded_version(record: &DynamoRecord) -> Option<RecordedVersion> {
        match record {
            DynamoRecord::Stored { key, version } | DynamoRecord::Hint { key, version, .. } => {
                Some(RecordedVersion {
                    key: *key,
                    value: version.value.clone(),
                    clock: version.clock.clone(),
                })
            }
            DynamoRecord::Incarnation(_) | DynamoRecord::HintDelivered { .. } => None,
        }
    }

    /// W owners with strict quorums; with a sloppy quorum a put may be
    /// acknowledged by stand-ins alone, so one owner, after hand-off.
    /// Fresh reads where [`DynamoConfig::strongly_consistent`] holds.
    fn versioned_promises(cluster: &Cluster, config: &DynamoConfig) -> VersionedPromises {
        let config = config.effective(cluster.size);
        VersionedPromises {
            durable_owners: if config.sloppy_quorum { 1 } else { config.w },
            fresh_reads: config.strongly_consistent(),
        }
    }

    /// Settled once every hint has been handed off.
    fn settled(&self) -> bool {
        self.pending_hints() == 0
    }
}

/// Shorthand for the answer to a get.
fn siblings_response(set: &SiblingSet) -> Response {
    Response::Siblings {
        values: set.values(),
        context: set.context(),
    }
}
