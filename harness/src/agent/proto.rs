//! The messages of the agent control channel: the harness (identity
//! `control`) sends requests, the `qlab agent` of a testbed host (identity
//! `agent-N`) answers each with a reply carrying the same id.

use crate::provenance::HostFacts;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// One message on the agent channel.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AgentMsg {
    /// Harness to agent.
    Request {
        /// Chosen by the harness, echoed in the reply.
        id: u64,
        /// What to do.
        body: AgentRequest,
    },
    /// Agent to harness.
    Reply {
        /// The request's id.
        id: u64,
        /// The outcome, or why it failed.
        body: Result<AgentReply, String>,
    },
}

/// What the harness asks an agent to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AgentRequest {
    /// Identify: facts, clock, binary checksum, shaping mode.
    Hello,
    /// Stop every node of this agent and empty the folder of `point`.
    Prepare {
        /// The point's folder name (letters, digits, `.`, `_`, `-`).
        point: String,
    },
    /// Start one replica.
    Start(NodeLaunch),
    /// SIGKILL a replica.
    Crash(u32),
    /// Start a crashed replica again with its original arguments.
    Restart(u32),
    /// Send SIGSTOP or SIGCONT to a replica.
    Signal {
        /// Node id.
        node: u32,
        /// The signal number (only SIGSTOP and SIGCONT are accepted).
        signal: i32,
    },
    /// Which replicas exited on their own.
    Exited,
    /// Stop every replica (SIGTERM, then SIGKILL).
    StopAll,
    /// Start one load driver (`qlab drive`) against the point's replicas.
    Drive(DriverLaunch),
    /// Whether driver `N` of this agent has finished, and how.
    DriverState(u32),
    /// Read `max_bytes` of a file of a point's folder from `offset` (large
    /// files, such as driver dumps, come back in pieces).
    ReadAt {
        /// The point's folder name.
        point: String,
        /// The file name inside it (no path separators).
        file: String,
        /// Where to start.
        offset: u64,
        /// At most this many bytes (capped by the agent).
        max_bytes: u64,
    },
    /// Read a file of a point's folder (node events and logs).
    Fetch {
        /// The point's folder name.
        point: String,
        /// The file name inside it (no path separators).
        file: String,
        /// At most this many bytes, from the end of the file.
        max_bytes: u64,
    },
}

/// How to start one replica on an agent's host.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeLaunch {
    /// The point's folder name.
    pub point: String,
    /// Protocol name.
    pub protocol: String,
    /// Node id.
    pub id: u32,
    /// Every replica's address, in id order.
    pub peers: Vec<SocketAddr>,
    /// Durability mode (`memory`, `nosync`, `fsync`).
    pub durability: String,
    /// Seed of the node's randomness.
    pub seed: u64,
    /// Protocol tunables as YAML.
    pub config: String,
    /// Latency distribution of every replica link (`link_latency`), if the
    /// experiment sets one.
    pub link_latency: Option<String>,
}

/// How to start one load driver on an agent's host.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DriverLaunch {
    /// The point's folder name.
    pub point: String,
    /// Protocol name (its client logic is used).
    pub protocol: String,
    /// Protocol tunables as YAML.
    pub config: String,
    /// The driver's identity (`driver-N`) and client-id base.
    pub driver: u32,
    /// `(k, d)`: share `k` of `d` drivers.
    pub share: (u32, u32),
    /// Every replica's address, in id order.
    pub nodes: Vec<SocketAddr>,
    /// The whole workload, as YAML (every driver gets the same; the share
    /// picks its part).
    pub workload_yaml: String,
    /// Time-series window, ms.
    pub window_ms: u64,
    /// Record every operation.
    pub history: bool,
    /// When to start the load, on the agent's clock (Unix ns).
    pub start_unix_ns: u64,
}

/// How a driver is doing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum DriverState {
    /// Still driving.
    Running,
    /// Exited; its dump is `driver-N.bin` in the point's folder.
    Finished,
    /// Exited with a failure (the tail of its log says why).
    Failed(String),
}

/// An agent's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AgentReply {
    /// Answer to `Hello`.
    Hello(AgentHello),
    /// The request was carried out.
    Done,
    /// Names of replicas that exited on their own (`node-N`).
    Exited(Vec<String>),
    /// A file's content (empty when the file does not exist).
    File(Vec<u8>),
    /// Answer to `DriverState`.
    Driver(DriverState),
}

/// Who an agent is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AgentHello {
    /// The agent's number (its certificate names it too).
    pub agent: u32,
    /// quorumlab version of the agent's binary.
    pub version: String,
    /// SHA-256 of the agent's binary.
    pub binary_sha256: String,
    /// The host's facts, as YAML ([`HostFacts`] skips empty fields, which
    /// postcard cannot carry).
    pub facts_yaml: String,
    /// The agent's wall clock when it answered, in Unix nanoseconds.
    pub unix_ns: u64,
    /// How the host's links are shaped: `netem` (tc), `inprocess` (tc has
    /// no netem: the harness shapes links inside the nodes) or `none`.
    pub shaping: String,
}

impl AgentHello {
    /// The host's facts.
    pub fn facts(&self) -> Result<HostFacts, serde_yaml::Error> {
        serde_yaml::from_str(&self.facts_yaml)
    }
}

/// Whether `name` is a safe single path component (point folders and
/// fetched file names): letters, digits, `.`, `_`, `-`, `=`, `,`, not
/// empty, not `.` or `..`.
pub fn safe_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-=,+".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_reject_paths() {
        assert!(safe_component("protocol=raft,rate=200-r0"));
        assert!(safe_component("node-1.events.csv"));
        for bad in ["", ".", "..", "a/b", "../x", "a b", "x\0"] {
            assert!(!safe_component(bad), "{bad:?}");
        }
    }
}
