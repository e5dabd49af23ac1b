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
    /// Report the messages and bytes this node has sent.
    Traffic,
}

/// What a replica has sent since its process started: the cost side of a
/// protocol (O(n) against O(n^2) messages per request is measured from
/// these, not claimed). Bytes are whole frames, headers included.
#[derive(Copy, Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Traffic {
    /// Messages to other replicas.
    pub replica_msgs: u64,
    /// Frame bytes to other replicas.
    pub replica_bytes: u64,
    /// Messages to clients (replies).
    pub client_msgs: u64,
    /// Frame bytes to clients.
    pub client_bytes: u64,
}

impl Traffic {
    /// What was sent between two readings of one process's counters; a
    /// process that restarted in between (its counters went back) counts
    /// from its restart.
    pub fn since(self, earlier: Traffic) -> Traffic {
        if self.replica_msgs < earlier.replica_msgs || self.client_msgs < earlier.client_msgs {
            return self;
        }
        Traffic {
            replica_msgs: self.replica_msgs - earlier.replica_msgs,
            replica_bytes: self.replica_bytes.saturating_sub(earlier.replica_bytes),
            client_msgs: self.client_msgs - earlier.client_msgs,
            client_bytes: self.client_bytes.saturating_sub(earlier.client_bytes),
        }
    }

    /// Adds another reading.
    pub fn add(&mut self, other: Traffic) {
        self.replica_msgs += other.replica_msgs;
        self.replica_bytes += other.replica_bytes;
        self.client_msgs += other.client_msgs;
        self.client_bytes += other.client_bytes;
    }
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
    /// Answer to `Traffic`.
    Traffic(Traffic),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(msgs: u64) -> Traffic {
        Traffic {
            replica_msgs: msgs,
            replica_bytes: msgs * 100,
            client_msgs: msgs / 2,
            client_bytes: msgs * 10,
        }
    }

    #[test]
    fn traffic_between_readings_and_after_a_restart() {
        assert_eq!(
            t(30).since(t(10)),
            Traffic {
                replica_msgs: 20,
                replica_bytes: 2000,
                client_msgs: 10,
                client_bytes: 200
            }
        );
        // The process restarted: its counters start again from zero.
        assert_eq!(t(5).since(t(10)), t(5));
        let mut sum = t(1);
        sum.add(t(2));
        assert_eq!(sum.replica_msgs, 3);
        assert_eq!(sum.client_bytes, 30);
    }
}
