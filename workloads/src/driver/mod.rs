//! The load driver: thousands of logical clients multiplexed over one
//! transport: QUIC to quorumlab nodes, each client using its protocol's
//! client logic ([`drive`]), or etcd's gRPC API over HTTP/2
//! ([`drive_etcd`]).
//!
//! Open loop: arrivals come from an [`ArrivalSchedule`](crate::arrival::ArrivalSchedule)
//! of intended times; an arrival that finds every logical client busy
//! waits in a FIFO backlog, and its latency still counts from its intended
//! time, so queueing inside the driver or the system is never hidden.
//! Closed loop: each logical client issues its next operation as soon as
//! the previous one ends (labelled `closed` in results). Every operation
//! ends as ok, error or timeout (after `request_timeout`); none is dropped.
//!
//! The loop (`core`) is the same for every target; a transport only
//! decides where a request goes, what an answer means and when to retry.

mod core;
mod etcd;
mod quic;
mod timers;

use crate::reach::{ClientReach, PartitionSides};
use crate::recorder::Recorder;
use crate::spec::WorkloadSpec;
use net::{Endpoint, Inbox};
use protocols::check::HistoryOp;
use protocols::core::{Cluster, Protocol};
use protocols::wire::Wire;
use std::net::SocketAddr;
use std::time::Duration;

/// Settings of one driver process.
#[derive(Clone, Debug)]
pub struct DriverConfig {
    /// This driver's index (client ids are unique across drivers).
    pub driver: u32,
    /// Time-series window.
    pub window: Duration,
    /// Keep every operation for consistency checking.
    pub record_history: bool,
    /// Partitions that split the clients too (see [`crate::reach`]); `None`
    /// lets every client reach every replica whatever the faults.
    pub reach: Option<ClientReach>,
    /// `(k, d)`: this driver is share `k` of `d` drivers running one
    /// workload together. It runs logical clients `k, k + d, k + 2d, ...`
    /// of the workload's and `1/d` of its open-loop rate. `(0, 1)` alone.
    pub share: (u32, u32),
}

/// What a driver measured.
#[derive(Clone, Debug)]
pub struct DriverOutput {
    /// Latency and counts.
    pub recorder: Recorder,
    /// Every operation, when history recording is on.
    pub history: Vec<HistoryOp>,
    /// Operations issued.
    pub issued: u64,
    /// Arrivals that had to wait for a free logical client.
    pub backlogged: u64,
    /// Driver process CPU time over wall time during the run (1.0 = one
    /// core saturated).
    pub cpu_utilisation: f64,
    /// Wall-clock time (Unix, ns) of the driver's time zero.
    pub start_unix_ns: u128,
    /// Operations issued during partitions, per side (with `reach`).
    pub partition_sides: PartitionSides,
}

/// Runs `spec` against the quorumlab cluster reachable through `endpoint`
/// (already given the nodes' addresses), each logical client using `P`'s
/// client logic, and returns what it measured.
pub async fn drive<P: Protocol>(
    spec: &WorkloadSpec,
    cluster: &Cluster,
    protocol_config: &P::Config,
    endpoint: Endpoint<Wire<P::Message>>,
    inbox: Inbox<Wire<P::Message>>,
    cfg: DriverConfig,
) -> DriverOutput {
    let transport = quic::Quic::<P>::new(
        spec,
        cluster,
        protocol_config,
        endpoint,
        inbox,
        cfg.reach.clone(),
    );
    core::run(spec, cluster.size, transport, cfg).await
}

/// Runs `spec` against the etcd v3 members at `members` (client URLs'
/// addresses, plain HTTP/2), issuing `KV/Range` for gets and `KV/Put` for
/// puts, and returns what it measured. See [`crate::etcd`] for the keys,
/// values, versions and routing. Compare-and-set is not issued (the
/// workload must have `cas_ratio: 0`); `cfg.reach` is ignored.
pub async fn drive_etcd(
    spec: &WorkloadSpec,
    members: &[SocketAddr],
    cfg: DriverConfig,
) -> DriverOutput {
    let size = u32::try_from(members.len()).unwrap_or(u32::MAX);
    let transport = etcd::Etcd::new(members, spec.attempt_timeout);
    core::run(spec, size, transport, cfg).await
}
