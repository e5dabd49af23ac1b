//! Workloads: what to send and when, and how latency is recorded.
//!
//! - [`spec`]: the workload specification of experiment files (every field
//!   documented there);
//! - [`keys`]: key choosers (uniform, zipfian, hotspot, conflict, sequential);
//! - [`ops`]: per-client command generation;
//! - [`arrival`]: open-loop schedules from intended times;
//! - [`recorder`]: HdrHistogram recording per window and per interval;
//! - [`driver`]: the load driver over QUIC.

pub mod arrival;
pub mod driver;
pub mod duration;
pub mod keys;
pub mod ops;
pub mod recorder;
pub mod spec;

pub use spec::WorkloadSpec;
