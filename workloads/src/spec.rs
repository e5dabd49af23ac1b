//! The workload specification, as written in experiment files.
//!
//! Every field, with its default:
//!
//! ```yaml
//! workload:
//!   keys: 1000                 # key space size (YCSB recordcount)
//!   key_choice:                # how each operation picks its key
//!     kind: uniform            # uniform | zipfian | hotspot | conflict | sequential
//!     # zipfian:  theta: 0.99 (0 < theta < 1), scrambled: true
//!     # hotspot:  hot_keys: 0.2 (fraction of keys), hot_ops: 0.8 (fraction of ops)
//!     # conflict: rate: 0.1    (probability an op hits the one shared key;
//!     #                          otherwise a key private to its client)
//!   read_ratio: 0.5            # fraction of operations that are reads
//!   cas_ratio: 0.0             # fraction of writes that are compare-and-set
//!   value_size: 64             # bytes, or {min: 16, max: 256} (uniform)
//!   arrival:
//!     kind: open               # open: arrivals at a rate, independent of replies
//!     rate: 1000               #   ops/s over all clients
//!     process: poisson         #   poisson | constant
//!     # kind: closed           # closed: each client keeps `outstanding` ops in flight
//!     # outstanding: 1
//!   clients: 64                # logical clients (each has one op in flight)
//!   duration: 10s              # whole run, warm-up and cool-down included
//!   warmup: 2s                 # excluded from the summary, kept in time series
//!   cooldown: 1s               # likewise, at the end
//!   request_timeout: 1s        # after this an op counts as a timeout
//!   seed: 1                    # every random choice derives from it
//! ```

use crate::duration::human;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use thiserror::Error;

/// How keys are chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum KeyChoice {
    /// Every key equally likely.
    Uniform,
    /// Zipfian over key ranks (YCSB's generator).
    Zipfian {
        /// Skew, in (0, 1); YCSB uses 0.99.
        #[serde(default = "default_theta")]
        theta: f64,
        /// Spread hot ranks over the key space by hashing (YCSB's
        /// ScrambledZipfian), so the hottest keys are not 0, 1, 2...
        #[serde(default = "yes")]
        scrambled: bool,
    },
    /// `hot_ops` of the operations go to the first `hot_keys` of the keys.
    Hotspot {
        /// Fraction of keys that are hot, in (0, 1].
        hot_keys: f64,
        /// Fraction of operations that hit them, in [0, 1].
        hot_ops: f64,
    },
    /// With probability `rate` an operation hits the one shared hot key;
    /// otherwise a key private to its client (Paxi's and EPaxos' conflict
    /// workload).
    Conflict {
        /// Conflict rate, in [0, 1].
        rate: f64,
    },
    /// Keys in order, wrapping around (each client starts at its own offset).
    Sequential,
}

fn default_theta() -> f64 {
    0.99
}
fn yes() -> bool {
    true
}

/// Value sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ValueSize {
    /// Always this many bytes.
    Fixed(usize),
    /// Uniform in `[min, max]` bytes.
    Uniform {
        /// Smallest.
        min: usize,
        /// Largest.
        max: usize,
    },
}

/// Open-loop arrival processes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Process {
    /// Exponential inter-arrival times.
    Poisson,
    /// Evenly spaced.
    Constant,
}

/// When operations are issued.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Arrival {
    /// Arrivals at `rate` ops/s, scheduled up front and never skipped;
    /// latency counts from the scheduled time.
    Open {
        /// Offered load, ops/s, over all clients.
        rate: f64,
        /// Inter-arrival distribution.
        #[serde(default = "poisson")]
        process: Process,
    },
    /// Each client keeps `outstanding` operations in flight, issuing the next
    /// when one completes (labelled closed-loop in results).
    Closed {
        /// Operations in flight per client.
        #[serde(default = "one")]
        outstanding: u32,
    },
}

fn poisson() -> Process {
    Process::Poisson
}
fn one() -> u32 {
    1
}

/// A workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Key space size.
    #[serde(default = "default_keys")]
    pub keys: u64,
    /// Key choice.
    #[serde(default = "default_key_choice")]
    pub key_choice: KeyChoice,
    /// Fraction of reads.
    #[serde(default = "half")]
    pub read_ratio: f64,
    /// Fraction of writes that are compare-and-set.
    #[serde(default)]
    pub cas_ratio: f64,
    /// Value size.
    #[serde(default = "default_value_size")]
    pub value_size: ValueSize,
    /// Arrival process.
    pub arrival: Arrival,
    /// Logical clients.
    #[serde(default = "default_clients")]
    pub clients: u32,
    /// Whole run.
    #[serde(with = "human")]
    pub duration: Duration,
    /// Warm-up excluded from the summary.
    #[serde(with = "human", default = "default_warmup")]
    pub warmup: Duration,
    /// Cool-down excluded from the summary.
    #[serde(with = "human", default = "default_cooldown")]
    pub cooldown: Duration,
    /// Per-operation deadline.
    #[serde(with = "human", default = "default_timeout")]
    pub request_timeout: Duration,
    /// Seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_keys() -> u64 {
    1000
}
fn default_key_choice() -> KeyChoice {
    KeyChoice::Uniform
}
fn half() -> f64 {
    0.5
}
fn default_value_size() -> ValueSize {
    ValueSize::Fixed(64)
}
fn default_clients() -> u32 {
    64
}
fn default_warmup() -> Duration {
    Duration::from_secs(1)
}
fn default_cooldown() -> Duration {
    Duration::from_millis(500)
}
fn default_timeout() -> Duration {
    Duration::from_secs(1)
}
fn default_seed() -> u64 {
    1
}

/// A workload field with an unusable value.
#[derive(Debug, Error, PartialEq)]
#[error("workload.{field}: {reason}")]
pub struct SpecError {
    /// Dotted path of the field inside `workload`.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn bad(field: &'static str, reason: impl Into<String>) -> Result<(), SpecError> {
    Err(SpecError {
        field,
        reason: reason.into(),
    })
}

fn fraction(field: &'static str, v: f64) -> Result<(), SpecError> {
    if !(0.0..=1.0).contains(&v) {
        return bad(field, format!("{v} is not a fraction between 0 and 1"));
    }
    Ok(())
}

impl WorkloadSpec {
    /// Checks every field; the first problem is reported with its field.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.keys == 0 {
            return bad("keys", "must be at least 1");
        }
        match &self.key_choice {
            KeyChoice::Zipfian { theta, .. } => {
                if !(*theta > 0.0 && *theta < 1.0) {
                    return bad(
                        "key_choice.theta",
                        format!("{theta} must be strictly between 0 and 1"),
                    );
                }
            }
            KeyChoice::Hotspot { hot_keys, hot_ops } => {
                if !(*hot_keys > 0.0 && *hot_keys <= 1.0) {
                    return bad(
                        "key_choice.hot_keys",
                        format!("{hot_keys} must be in (0, 1]"),
                    );
                }
                fraction("key_choice.hot_ops", *hot_ops)?;
            }
            KeyChoice::Conflict { rate } => fraction("key_choice.rate", *rate)?,
            KeyChoice::Uniform | KeyChoice::Sequential => {}
        }
        fraction("read_ratio", self.read_ratio)?;
        fraction("cas_ratio", self.cas_ratio)?;
        if let ValueSize::Uniform { min, max } = self.value_size {
            if min > max {
                return bad("value_size", format!("min {min} is larger than max {max}"));
            }
        }
        match &self.arrival {
            Arrival::Open { rate, .. } => {
                if !rate.is_finite() || *rate <= 0.0 {
                    return bad(
                        "arrival.rate",
                        format!("{rate} ops/s must be a positive number"),
                    );
                }
            }
            Arrival::Closed { outstanding } => {
                if *outstanding == 0 {
                    return bad("arrival.outstanding", "must be at least 1");
                }
            }
        }
        if self.clients == 0 {
            return bad("clients", "must be at least 1");
        }
        if self.duration.is_zero() {
            return bad("duration", "must be longer than zero");
        }
        if self.warmup + self.cooldown >= self.duration {
            return bad(
                "warmup",
                format!(
                    "warm-up ({:?}) plus cool-down ({:?}) leave nothing of the {:?} duration to measure",
                    self.warmup, self.cooldown, self.duration
                ),
            );
        }
        if self.request_timeout.is_zero() {
            return bad("request_timeout", "must be longer than zero");
        }
        Ok(())
    }

    /// The measured interval `[warmup, duration - cooldown)`.
    pub fn measured(&self) -> (Duration, Duration) {
        (self.warmup, self.duration.saturating_sub(self.cooldown))
    }

    /// Offered load in ops/s (open loop), if any.
    pub fn offered_rate(&self) -> Option<f64> {
        match self.arrival {
            Arrival::Open { rate, .. } => Some(rate),
            Arrival::Closed { .. } => None,
        }
    }

    /// `open` or `closed`, for result rows.
    pub fn loop_kind(&self) -> &'static str {
        match self.arrival {
            Arrival::Open { .. } => "open",
            Arrival::Closed { .. } => "closed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> Result<WorkloadSpec, String> {
        let spec: WorkloadSpec = serde_yaml::from_str(y).map_err(|e| e.to_string())?;
        spec.validate().map_err(|e| e.to_string())?;
        Ok(spec)
    }

    #[test]
    fn a_full_spec_parses_with_defaults() {
        let s = parse("arrival: {kind: open, rate: 500}\nduration: 10s\nkey_choice: {kind: zipfian}\nvalue_size: {min: 8, max: 16}\n")
            .unwrap();
        assert_eq!(s.keys, 1000);
        assert_eq!(
            s.key_choice,
            KeyChoice::Zipfian {
                theta: 0.99,
                scrambled: true
            }
        );
        assert_eq!(
            s.arrival,
            Arrival::Open {
                rate: 500.0,
                process: Process::Poisson
            }
        );
        assert_eq!(s.duration, Duration::from_secs(10));
        assert_eq!(s.value_size, ValueSize::Uniform { min: 8, max: 16 });
        assert_eq!(s.offered_rate(), Some(500.0));
    }

    #[test]
    fn bad_specs_name_the_field() {
        let cases = [
            ("arrival: {kind: open, rate: 5}\nduration: 10s\nrat: 3\n", "unknown field `rat`"),
            ("arrival: {kind: open, rate: -5}\nduration: 10s\n", "workload.arrival.rate"),
            ("arrival: {kind: open, rate: 5}\nduration: 2s\nwarmup: 3s\n", "workload.warmup"),
            ("arrival: {kind: open, rate: 5}\nduration: 10s\nclients: 0\n", "workload.clients"),
            ("arrival: {kind: open, rate: 5}\nduration: ten seconds\n", "is not a duration"),
            ("arrival: {kind: open, rate: 5}\nduration: 10s\nread_ratio: 1.5\n", "workload.read_ratio"),
            ("arrival: {kind: open, rate: 5}\nduration: 10s\nkey_choice: {kind: zipfian, theta: 1.0}\n", "theta"),
            ("arrival: {kind: open, rate: 5}\nduration: 10s\nkey_choice: {kind: conflict, rate: 2}\n", "key_choice.rate"),
            ("arrival: {kind: closed, outstanding: 0}\nduration: 10s\n", "arrival.outstanding"),
            ("arrival: {kind: open, rate: 5, burst: 3}\nduration: 10s\n", "unknown field `burst`"),
        ];
        for (yaml, expected) in cases {
            let err = parse(yaml).unwrap_err();
            assert!(err.contains(expected), "{yaml:?}: {err}");
        }
    }
}
