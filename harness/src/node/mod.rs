//! `qlab node`: hosts a protocol core over the network.

pub mod wal;
