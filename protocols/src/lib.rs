//! Sans-IO protocol cores for quorumlab.
//!
//! Everything in this crate is a pure state machine: events go in
//! ([`Protocol::on_message`], [`Protocol::on_client_request`],
//! [`Protocol::on_timer`], [`Protocol::on_persisted`]) and actions come out
//! through the [`Ctx`]. Time and randomness are handed in by whoever drives
//! the core: the deterministic simulator in [`sim`] for tests and what-if
//! runs, or the real node runtime over QUIC in the `harness` crate.
//!
//! Layout:
//! - [`core`]: the node-side interface every protocol implements;
//! - [`client`]: the client-side interface (where a request goes, when a reply
//!   is final) and the shared client policies;
//! - [`kv`]: the replicated key-value state machine with per-key versions;
//! - [`raft`], [`multipaxos`]: the crash-tolerant protocols;
//! - [`pbft`], [`hotstuff`]: the Byzantine-fault-tolerant protocols, and
//!   [`auth`], their authentication (none, MACs or signatures);
//! - [`abd`]: the leaderless linearizable register over majority quorums;
//! - [`dynamo`]: the Dynamo-style store (N/R/W quorums, version vectors,
//!   siblings, read repair, sloppy quorum with hinted hand-off);
//! - [`unreplicated`]: the one-server baseline (and the simulator's own
//!   test subject);
//! - [`replication`]: how replicas hold the data, which decides the
//!   simulator's replica-level checks;
//! - [`sim`]: the deterministic discrete-event simulator and its checks;
//! - [`check`]: consistency checkers (linearizability) usable on simulated
//!   and real histories;
//! - [`vclock`]: version vectors and the causal order, usable on their own.

pub mod abd;
pub mod auth;
#[doc(hidden)]
pub mod byzantine;
pub mod check;
pub mod client;
pub mod core;
pub mod durations;
pub mod dynamo;
pub mod gate;
pub mod hotstuff;
pub mod kv;
pub mod multipaxos;
pub mod pbft;
pub mod raft;
pub mod registry;
pub mod replication;
mod sessions;
pub mod sim;
pub mod types;
pub mod unreplicated;
pub mod vclock;
pub mod wire;

pub use crate::core::{
    Action, ActionOf, Ctx, NodeEvent, NodeStatus, Protocol, RecordedVersion, Replication, Role,
    Timing, VersionedPromises,
};
pub use crate::types::{ClientId, NodeId, RequestId, Time};
