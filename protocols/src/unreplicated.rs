//! The unreplicated baseline: replica 0 executes every command alone, after
//! logging it durably; the other replicas only redirect to it.
//!
//! It is the "no replication" point of comparison that FrankenPaxos also
//! ships (what does replication cost over one server?), and, being trivially
//! correct, it is the protocol the simulator's own tests run on. The hidden
//! knob `unsafe_reply_before_persist` breaks it on purpose, to show that the
//! simulator's durability and linearizability checks catch lost writes.

use crate::client::leader::{LeaderClient, LeaderClientConfig};
use crate::client::{ClientReply, ClientRequest, ReplyBody};
use crate::core::{Cluster, Ctx, NodeStatus, Protocol, Role};
use crate::kv::{request_digest, ApplyOutcome, Command, KvStore, Response};
use crate::types::{ClientId, NodeId, RequestId};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The serving replica.
pub const PRIMARY: NodeId = 0;

/// Tunables of [`Unreplicated`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnreplicatedConfig {
    /// Deliberately broken variant: answer before the command is durable.
    #[doc(hidden)]
    #[serde(skip)]
    pub unsafe_reply_before_persist: bool,
    /// Echo target for benchmarking a load driver (`driver-ceiling.yaml`):
    /// every replica answers each request at once, with no state machine
    /// and no storage (a get finds nothing, a write is "written" at
    /// version 0). Its histories are not linearizable; never a protocol
    /// result.
    pub echo: bool,
}

/// Peer messages: there are none, the type only satisfies the interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoMessage {}

/// Timers: none.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoTimer {}

/// One logged command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedCommand {
    /// The client request.
    pub id: RequestId,
    /// Its command.
    pub command: Command,
}

/// The unreplicated server (on replica 0) or redirector (elsewhere).
#[derive(Debug)]
pub struct Unreplicated {
    id: NodeId,
    config: UnreplicatedConfig,
    kv: KvStore,
    applied: u64,
    next_persist: u64,
    /// Records read back at recovery, re-applied in `start`.
    recovered: Vec<LoggedCommand>,
    /// Logged commands waiting to become durable before they are applied.
    logging: VecDeque<(u64, LoggedCommand)>,
}

impl Unreplicated {
    fn apply(&mut self, ctx: &mut Ctx<'_, Self>, entry: &LoggedCommand) -> Option<ClientReply> {
        let outcome = self.kv.apply(entry.id, &entry.command);
        self.applied += 1;
        ctx.applied(
            self.applied,
            Some(entry.id),
            request_digest(entry.id, &entry.command),
        );
        let response = match outcome {
            ApplyOutcome::Executed(r) | ApplyOutcome::Duplicate(r) => r,
            ApplyOutcome::Stale => return None,
        };
        Some(ClientReply {
            id: entry.id,
            from: self.id,
            body: ReplyBody::Done(response),
        })
    }
}

/// What an echo target answers: the cheapest well-formed final reply.
fn echo_reply(from: NodeId, request: &ClientRequest) -> ClientReply {
    let response = match request.command {
        Command::Get { .. } => Response::Value {
            value: None,
            version: 0,
        },
        Command::Put { .. } | Command::Cas { .. } => Response::Written { version: 0 },
    };
    ClientReply {
        id: request.id,
        from,
        body: ReplyBody::Done(response),
    }
}

impl Protocol for Unreplicated {
    type Message = NoMessage;
    type Timer = NoTimer;
    type Record = LoggedCommand;
    type Config = UnreplicatedConfig;
    type Client = LeaderClient;
    const NAME: &'static str = "unreplicated";
    const REPLICATES_EVERYWHERE: bool = false;

    fn recover(
        id: NodeId,
        _cluster: &Cluster,
        config: &Self::Config,
        records: Vec<LoggedCommand>,
    ) -> Self {
        Unreplicated {
            id,
            config: config.clone(),
            kv: KvStore::new(),
            applied: 0,
            next_persist: 1,
            recovered: records,
            logging: VecDeque::new(),
        }
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        for entry in std::mem::take(&mut self.recovered) {
            self.apply(ctx, &entry);
        }
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_, Self>, _from: NodeId, msg: NoMessage) {
        match msg {}
    }

    fn on_client_request(&mut self, ctx: &mut Ctx<'_, Self>, request: ClientRequest) {
        if self.config.echo {
            ctx.reply(request.id.client, echo_reply(self.id, &request));
            return;
        }
        if self.id != PRIMARY {
            let reply = ClientReply {
                id: request.id,
                from: self.id,
                body: ReplyBody::Redirect {
                    leader: Some(PRIMARY),
                },
            };
            ctx.reply(request.id.client, reply);
            return;
        }
        let entry = LoggedCommand {
            id: request.id,
            command: request.command,
        };
        let seq = self.next_persist;
        self.next_persist += 1;
        if self.config.unsafe_reply_before_persist {
            // The reply goes out before the persist is even issued, so a
            // crash can lose an acknowledged write.
            if let Some(reply) = self.apply(ctx, &entry) {
                ctx.reply(request.id.client, reply);
            }
            ctx.persist(seq, entry);
            return;
        }
        // Applied only once durable: a crash must not un-apply anything.
        ctx.persist(seq, entry.clone());
        self.logging.push_back((seq, entry));
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Self>, timer: NoTimer) {
        match timer {}
    }

    fn on_persisted(&mut self, ctx: &mut Ctx<'_, Self>, upto: u64) {
        while self.logging.front().is_some_and(|(s, _)| *s <= upto) {
            if let Some((_, entry)) = self.logging.pop_front() {
                if let Some(reply) = self.apply(ctx, &entry) {
                    ctx.reply(entry.id.client, reply);
                }
            }
        }
    }

    fn status(&self) -> NodeStatus {
        NodeStatus {
            role: if self.id == PRIMARY {
                Role::Leader
            } else {
                Role::Follower
            },
            leader: Some(PRIMARY),
            term: 0,
            commit_index: self.applied,
            applied_index: self.applied,
        }
    }

    fn client(cluster: &Cluster, _config: &Self::Config, _client: ClientId) -> LeaderClient {
        LeaderClient::new(cluster.size, LeaderClientConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Action;
    use crate::types::Time;
    use rand::SeedableRng;

    #[test]
    fn an_echo_replica_answers_at_once_and_stores_nothing() {
        let config = UnreplicatedConfig {
            echo: true,
            ..UnreplicatedConfig::default()
        };
        // Replica 1 too: an echo target never redirects.
        let mut node = Unreplicated::recover(1, &Cluster::new(2), &config, Vec::new());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut out = Vec::new();
        let put = ClientRequest::new(
            RequestId { client: 7, seq: 1 },
            Command::Put {
                key: 3,
                value: b"v".to_vec().into(),
            },
        );
        let get = ClientRequest::new(RequestId { client: 7, seq: 2 }, Command::Get { key: 3 });
        {
            let mut ctx = Ctx::new(Time::ZERO, &mut rng, &mut out);
            node.on_client_request(&mut ctx, put);
            node.on_client_request(&mut ctx, get);
        }
        let replies: Vec<(RequestId, ReplyBody)> = out
            .into_iter()
            .map(|a| match a {
                Action::Reply { reply, .. } => (reply.id, reply.body),
                other => panic!("an echo replica only replies, got {other:?}"),
            })
            .collect();
        assert_eq!(
            replies,
            vec![
                (
                    RequestId { client: 7, seq: 1 },
                    ReplyBody::Done(Response::Written { version: 0 })
                ),
                (
                    RequestId { client: 7, seq: 2 },
                    ReplyBody::Done(Response::Value {
                        value: None,
                        version: 0
                    })
                ),
            ]
        );
        assert_eq!(node.status().applied_index, 0);
    }
}
