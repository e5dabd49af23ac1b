//! Result analysis: statistics over repetitions and sweeps, and (re-exported
//! from `protocols`, so the simulator and real-run analysis share it) the
//! linearizability checker.

pub mod history;
pub mod recovery;
pub mod stats;

pub use protocols::check;
