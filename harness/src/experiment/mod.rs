//! Experiment files: typed, validated, expanded into sweep points.

pub mod faults;
pub mod load;
pub mod schema;
pub mod sweep;
