//! Result analysis. The linearizability checker lives in
//! [`protocols::check`] so that the simulator and real-run analysis share it;
//! it is re-exported here.

pub use protocols::check;
