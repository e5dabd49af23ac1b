//! Deterministic discrete-event simulator. Work in progress.
