//! Multi-Paxos with a stable leader. Work in progress.
