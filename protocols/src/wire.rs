//! What travels between `qlab` processes: one enum for peer messages,
//! client traffic and the harness' control requests, framed by `net`.

use crate::client::{ClientReply, ClientRequest};
use crate::core::NodeStatus;
use serde::{Deserialize, Serialize};

/// Every message on a quorumlab connection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Wire<M> {
    /// Replica to replica.
    Peer(M),
    /// Driver to replica.
    Request(ClientRequest),
    /// Replica to driver.
    Reply(ClientReply),
    /// Harness to replica.
    Control(ControlRequest),
    /// Replica to harness.
    ControlReply(ControlReply),
}

/// Requests of the harness' control channel.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum ControlRequest {
    /// Report role, leader, term and indexes.
    Status,
    /// Change link shaping on this node's outgoing links.
    Shape(LinkShape),
    /// Exit cleanly.
    Shutdown,
}

/// Link shaping applied by a node to what it sends.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct LinkShape {
    /// Destination replicas this applies to (empty = all).
    pub to: Vec<u32>,
    /// Added one-way delay, microseconds.
    pub delay_us: u64,
    /// Uniform jitter added on top, microseconds.
    pub jitter_us: u64,
    /// Loss probability.
    pub loss: f64,
    /// Drop everything (a partition, in this direction).
    pub blocked: bool,
}

/// Answers on the control channel.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum ControlReply {
    /// Current status.
    Status(NodeStatus),
    /// Done.
    Ok,
    /// Refused, with the reason.
    Error(String),
}
