//! Experiment files: typed, validated, expanded into sweep points.

pub mod sweep;
