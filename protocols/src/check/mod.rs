//! Consistency checkers over client-observed histories.
//!
//! The same checker serves the simulator (every seed's history is checked)
//! and `qlab check` on histories recorded by real runs, which is why it lives
//! in this I/O-free crate and `analysis` re-exports it.

pub mod history;
pub mod linearizability;
mod model;
mod wgl;

pub use history::{HistoryOp, Outcome};
pub use linearizability::{
    check_history, check_history_with, CheckLimits, CheckResult, KeyViolation,
};
pub use model::VersionModel;
