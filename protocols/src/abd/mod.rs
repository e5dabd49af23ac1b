//! ABD (Attiya, Bar-Noy and Dolev, "Sharing memory robustly in
//! message-passing systems", JACM 1995): a linearizable read/write register
//! over majority quorums, without a leader and without a log.
//!
//! Every key is its own register. Every replica is both a *replica* (it
//! holds a `(tag, value)` per key, durably; see [`replica`]) and a
//! *coordinator* for the client requests it receives (see
//! [`coordinator`]): a get queries a majority and writes the highest
//! `(tag, value)` back to a majority before answering; a put queries a
//! majority for the highest tag and stores its value under the next tag.
//! Tags are `(seq, coordinator id)`, totally ordered, so concurrent writes
//! are ordered by tag and every read returns at least the tag of every write
//! that finished before it began.
//!
//! Versions in responses are the tag's `seq`. They do not count writes
//! (concurrent writes can share a `seq`; a write whose coordinator crashed
//! may use one up), but they never decrease along the linearization, which
//! is what [`VersionModel::Ordered`] lets the checker rely on.
//!
//! Compare-and-set needs consensus, which ABD does not have: it is rejected
//! with [`ReplyBody::Rejected`](crate::client::ReplyBody::Rejected), the
//! driver counts it as an error, and experiments with `cas_ratio > 0` are
//! refused for this protocol. Clients use [`AnyNodeClient`].

mod config;
mod coordinator;
mod messages;
mod replica;
#[cfg(test)]
mod tests;

pub use config::AbdConfig;
pub use messages::{AbdMessage, AbdRecord, AbdTimer, OpId, Tag};

use crate::check::VersionModel;
use crate::client::any::{AnyNodeClient, AnyNodeClientConfig};
use crate::client::ClientRequest;
use crate::core::{Cluster, Ctx, NodeStatus, Protocol, Replication, Role};
use crate::kv::Key;
use crate::types::{ClientId, NodeId};
use coordinator::{Operation, Session};
use replica::Registers;
use std::collections::{BTreeMap, VecDeque};

/// One ABD replica and coordinator.
#[derive(Debug)]
pub struct Abd {
    id: NodeId,
    cluster: Cluster,
    config: AbdConfig,
    registers: Registers,
    /// Random per incarnation (drawn in `start`), part of every [`OpId`].
    epoch: u64,
    next_op: u64,
    ops: BTreeMap<u64, Operation>,
    sessions: BTreeMap<ClientId, Session>,
    /// Own stores waiting to be durable: (persist sequence number, op).
    local_acks: VecDeque<(u64, u64)>,
}

impl Abd {
    /// Operations this node is coordinating right now.
    pub fn operations_in_flight(&self) -> usize {
        self.ops.len()
    }

    /// Keys this replica holds a value for.
    pub fn keys_held(&self) -> usize {
        self.registers.len()
    }

    /// The tag this replica holds for `key` (zero if none).
    pub fn tag_of(&self, key: Key) -> Tag {
        self.registers.tag(key)
    }
}

impl Protocol for Abd {
    type Message = AbdMessage;
    type Timer = AbdTimer;
    type Record = AbdRecord;
    type Config = AbdConfig;
    type Client = AnyNodeClient;
    const NAME: &'static str = "abd";
    const REPLICATION: Replication = Replication::Registers;
    const SUPPORTS_CAS: bool = false;
    const VERSIONS: VersionModel = VersionModel::Ordered;

    fn recover(id: NodeId, cluster: &Cluster, config: &AbdConfig, records: Vec<AbdRecord>) -> Abd {
        Abd {
            id,
            cluster: cluster.clone(),
            config: config.clone(),
            registers: Registers::recover(records),
            epoch: 0,
            next_op: 1,
            ops: BTreeMap::new(),
            sessions: BTreeMap::new(),
            local_acks: VecDeque::new(),
        }
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.epoch = ctx.rng().next_u64();
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: AbdMessage) {
        if !self.cluster.contains(from) || from == self.id {
            return;
        }
        match msg {
            AbdMessage::Query { op, key } => {
                let (tag, value) = self.registers.read(key);
                ctx.send(from, AbdMessage::QueryReply { op, tag, value });
            }
            AbdMessage::Store {
                op,
                key,
                tag,
                value,
            } => {
                // The ack follows any persist, so the send gate releases it
                // only once what this replica holds is durable.
                self.registers.store(ctx, key, tag, value);
                ctx.send(from, AbdMessage::StoreAck { op });
            }
            AbdMessage::QueryReply { op, tag, value } => {
                self.query_reply(ctx, from, op, tag, value);
            }
            AbdMessage::StoreAck { op } => self.store_ack(ctx, from, op),
        }
    }

    fn on_client_request(&mut self, ctx: &mut Ctx<'_, Self>, request: ClientRequest) {
        self.client_request(ctx, request);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: AbdTimer) {
        match timer {
            AbdTimer::Retry(n) => self.retry(ctx, n),
        }
    }

    fn on_persisted(&mut self, ctx: &mut Ctx<'_, Self>, upto: u64) {
        self.registers.persisted(upto);
        self.local_acks(ctx, upto);
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

    fn client(cluster: &Cluster, config: &AbdConfig, client: ClientId) -> AnyNodeClient {
        let client_config = AnyNodeClientConfig {
            failover_writes: config.unsafe_failover_writes,
            ..AnyNodeClientConfig::default()
        };
        AnyNodeClient::new(cluster.size, client, client_config)
    }

    fn held_version(&self, key: Key) -> Option<u64> {
        Some(self.registers.tag(key).seq)
    }
}
