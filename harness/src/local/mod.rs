//! The local backend: every node and driver is a process on this machine,
//! talking QUIC over 127.0.0.1.

pub mod cluster;
pub mod process;
