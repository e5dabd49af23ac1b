//! Result analysis: statistics over repetitions and sweeps, and (re-exported
//! from `protocols`, so the simulator and real-run analysis share it) the
//! linearizability checker.

pub mod compare;
pub mod history;
pub mod plot;
pub mod recovery;
pub mod report;
pub mod stale;
pub mod stats;
pub mod table;

pub use protocols::check;
