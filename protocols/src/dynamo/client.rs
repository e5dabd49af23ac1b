//! The Dynamo store's client: any-coordinator routing plus causal contexts.
//!
//! Routing, retries and back-off are [`AnyNodeClient`]'s, with writes
//! allowed to fail over to another coordinator (a write that then takes
//! effect twice only leaves two versions with the same value, which a get
//! reports once). On top, the client remembers per key the context of the
//! last answer it got (a get's merged clock, or the clock of its own put)
//! and attaches it to its next put of that key, so the put supersedes every
//! version the client has seen: that is how siblings get resolved.

use crate::client::any::{AnyNodeClient, AnyNodeClientConfig};
use crate::client::{ClientLogic, ClientReply, ClientRequest, ClientStep, ReplyBody};
use crate::kv::{Command, Key, Response};
use crate::types::{ClientId, NodeId, RequestId};
use crate::vclock::VersionVector;
use rand::RngCore;
use std::collections::BTreeMap;

/// Client logic for one logical client of the Dynamo store.
#[derive(Clone, Debug)]
pub struct DynamoClient {
    routing: AnyNodeClient,
    /// Causal context per key, from the latest answer seen for it.
    contexts: BTreeMap<Key, VersionVector>,
    /// The request in flight and its key.
    current: Option<(RequestId, Key)>,
}

impl DynamoClient {
    /// Logical client `client` of a cluster of `cluster_size` members.
    pub fn new(cluster_size: u32, client: ClientId) -> DynamoClient {
        let config = AnyNodeClientConfig {
            failover_writes: true,
            ..AnyNodeClientConfig::default()
        };
        DynamoClient {
            routing: AnyNodeClient::new(cluster_size, client, config),
            contexts: BTreeMap::new(),
            current: None,
        }
    }

    /// The context the next put of `key` will carry, if any.
    pub fn context(&self, key: Key) -> Option<&VersionVector> {
        self.contexts.get(&key)
    }
}

impl ClientLogic for DynamoClient {
    fn prepare(&mut self, request: &mut ClientRequest) {
        if let Command::Put { key, .. } = &request.command {
            request.context = self.contexts.get(key).cloned();
        }
    }

    fn route(&mut self, request: &ClientRequest, rng: &mut dyn RngCore) -> Vec<NodeId> {
        self.current = Some((request.id, request.command.key()));
        self.routing.route(request, rng)
    }

    fn on_reply(&mut self, reply: &ClientReply, rng: &mut dyn RngCore) -> ClientStep {
        if let (ReplyBody::Done(response), Some((id, key))) = (&reply.body, self.current) {
            if id == reply.id {
                match response {
                    Response::Siblings { context, .. } | Response::Stored { context } => {
                        // Merge: a stale read must not make the client forget
                        // a newer version it wrote or read itself.
                        self.contexts.entry(key).or_default().merge(context);
                    }
                    _ => {}
                }
            }
        }
        self.routing.on_reply(reply, rng)
    }

    fn on_timeout(&mut self, id: RequestId, rng: &mut dyn RngCore) -> ClientStep {
        self.routing.on_timeout(id, rng)
    }

    fn finish(&mut self, id: RequestId) {
        if self.current.is_some_and(|(c, _)| c == id) {
            self.current = None;
        }
        self.routing.finish(id);
    }
}
