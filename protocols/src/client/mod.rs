//! The client-side interface: where a request goes, when a reply is final,
//! and what a redirect or a timeout does.
//!
//! Client logic is protocol logic, so it is sans-IO like the cores: the driver
//! (real or simulated) owns sockets and clocks and asks a [`ClientLogic`] what
//! to do. One `ClientLogic` value serves one logical client, which has at most
//! one request outstanding at a time (many logical clients share a connection
//! in the real driver). Three shapes cover the protocol family:
//!
//! - leader-based (Raft, Multi-Paxos): [`leader::LeaderClient`] sends to the
//!   believed leader and follows redirects;
//! - Byzantine (PBFT, HotStuff): send to all replicas, final on `f + 1`
//!   matching replies (a reply tally keyed by the response);
//! - leaderless (ABD, Dynamo): send to any coordinator, final on its one
//!   reply: [`any::AnyNodeClient`].

pub mod any;
pub mod leader;

use crate::kv::{Command, Response};
use crate::types::{NodeId, RequestId};
use crate::vclock::VersionVector;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A request from a logical client to a replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRequest {
    /// Unique id; retries reuse it so replicas can deduplicate.
    pub id: RequestId,
    /// What to execute.
    pub command: Command,
    /// Causal context for stores with version vectors (the Dynamo store):
    /// the clock the client last read for the key, which its put is meant
    /// to supersede. `None` everywhere else. Filled in by
    /// [`ClientLogic::prepare`].
    pub context: Option<VersionVector>,
    /// The client's authenticator of the request (PBFT with
    /// authentication, see [`crate::auth::ClientKeys`]): MACs for each
    /// replica or a signature; empty everywhere else. Filled in by
    /// [`ClientLogic::prepare`].
    #[serde(default)]
    pub auth: Vec<u8>,
}

impl ClientRequest {
    /// A request without causal context.
    pub fn new(id: RequestId, command: Command) -> ClientRequest {
        ClientRequest {
            id,
            command,
            context: None,
            auth: Vec::new(),
        }
    }
}

/// A replica's answer to a [`ClientRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientReply {
    /// The request answered.
    pub id: RequestId,
    /// The replica answering.
    pub from: NodeId,
    /// The answer.
    pub body: ReplyBody,
}

/// The content of a reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplyBody {
    /// The command was executed (or served) with this response.
    Done(Response),
    /// This replica is not the one to ask; `leader` is its best guess.
    Redirect {
        /// The leader the replica believes in, if any.
        leader: Option<NodeId>,
    },
    /// The replica cannot serve now (e.g. no quorum reachable); try later.
    Unavailable,
    /// The protocol will never execute this command (e.g. compare-and-set
    /// on ABD): the request failed without effect; retrying is pointless.
    Rejected {
        /// Why, for people reading logs.
        reason: String,
    },
}

/// What the driver should do after consulting the client logic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientStep {
    /// The request is complete with this response.
    Final(Response),
    /// The request failed for good without taking effect (drivers count it
    /// as an error and record it as failed in histories).
    Failed {
        /// Why.
        reason: String,
    },
    /// Keep waiting for more replies (or the timeout).
    Wait,
    /// Send the request again, to these replicas, after `after`.
    Resend {
        /// Destinations.
        to: Vec<NodeId>,
        /// Back-off before resending.
        after: Duration,
    },
}

/// Per-logical-client protocol logic used by drivers.
pub trait ClientLogic: Send + 'static {
    /// Called once on every new request before it is routed and sent: lets
    /// the logic add protocol-specific fields (the Dynamo client attaches
    /// the causal context it last read for the key). Retries resend the
    /// prepared request. The default changes nothing.
    fn prepare(&mut self, request: &mut ClientRequest) {
        let _ = request;
    }

    /// Where the first attempt of a new request goes.
    fn route(&mut self, request: &ClientRequest, rng: &mut dyn RngCore) -> Vec<NodeId>;

    /// A reply to the outstanding request arrived (drivers drop replies to
    /// requests that are no longer outstanding before calling this).
    fn on_reply(&mut self, reply: &ClientReply, rng: &mut dyn RngCore) -> ClientStep;

    /// The per-attempt timeout of request `id` fired without a final reply.
    fn on_timeout(&mut self, id: RequestId, rng: &mut dyn RngCore) -> ClientStep;

    /// The request is over (final, or abandoned by the driver); forget it.
    fn finish(&mut self, id: RequestId);
}
