//! etcd as a target of the same experiments: `protocol: etcd` starts a real
//! etcd v3 cluster (the `etcd` binary, v3.4 from Debian's `etcd-server`) on
//! loopback, drives it with the same driver over etcd's gRPC API (see
//! `workloads::etcd`), plays the same fault timeline on its members'
//! processes, and writes the same result rows.
//!
//! - [`config`]: `protocol_config` for etcd (heartbeat and election
//!   timeout), and the checks that keep an experiment to what etcd can do
//!   (`durability: fsync` only, process faults only, no compare-and-set);
//! - [`cluster`]: the members' processes, their readiness and leader, via
//!   `Maintenance/Status`;
//! - [`point`]: one load point against etcd, with a leader watcher that
//!   puts `leader_elected` events on the timeline.

pub mod cluster;
pub mod config;
pub mod point;
