//! `qlab node`: hosts a protocol core over the network.

pub mod cli;
pub mod host;
pub mod storage;
pub mod timers;
pub mod wal;
