//! Result analysis: statistics over repetitions and sweeps, staleness of
//! recorded histories and the PBS model that predicts it, and (re-exported
//! from `protocols`, so the simulator and real-run analysis share it) the
//! linearizability checker.

pub mod cap;
pub mod compare;
pub mod conflicts;
pub mod history;
pub mod pbs;
pub mod plot;
pub mod recovery;
pub mod report;
pub mod stale;
pub mod staleness;
pub mod stats;
pub mod table;

pub use protocols::check;
