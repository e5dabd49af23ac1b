//! Workloads: what to send and when, and how latency is recorded.
//!
//! The pure parts (no I/O, no clock, randomness only from the workload
//! seed) serve the network driver and a simulator alike:
//!
//! - [`spec`]: the workload specification of experiment files (every field
//!   documented there), parsed with [`WorkloadSpec::from_yaml`] and checked
//!   by [`WorkloadSpec::validate`] ([`validate`]);
//! - [`duration`]: human durations (`"500ms"`, `"30s"`) in YAML;
//! - [`keys`] and [`zipfian`]: key choosers (uniform, zipfian, hotspot,
//!   conflict, sequential);
//! - [`ops`]: per-client command generation with unique written values;
//! - [`arrival`]: open-loop schedules from intended times, and the
//!   dispatcher of arrivals to logical clients;
//! - [`recorder`] and [`hgrm`]: HdrHistogram recording per window and over
//!   the measured interval, summaries, time series and `.hgrm` output;
//! - [`seed`]: independent random streams derived from the one seed;
//! - [`reach`]: partitions that split the clients along with the replicas.
//!
//! [`driver`] is the load driver that puts them to work, over QUIC to
//! quorumlab nodes or over gRPC to etcd ([`etcd`]); [`dump`] carries a
//! driver's measurements between hosts.

pub mod arrival;
pub mod driver;
pub mod dump;
pub mod duration;
pub mod etcd;
pub mod hgrm;
pub mod keys;
pub mod ops;
pub mod reach;
pub mod recorder;
pub mod seed;
pub mod spec;
pub mod validate;
pub mod zipfian;

pub use spec::WorkloadSpec;
