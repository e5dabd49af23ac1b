//! Checking a parsed [`WorkloadSpec`], and the errors of parsing and
//! checking. Every error names the field (as a dotted path under
//! `workload`) and what is wrong with it.

use crate::spec::{Arrival, KeyChoice, ValueSize, WorkloadSpec};
use thiserror::Error;

/// Largest value size accepted, in bytes. Replication batches many values
/// into one transport frame (16 MiB), so larger values would not fit.
pub const MAX_VALUE_SIZE: usize = 1 << 20;

/// Most logical clients one workload may have (`clients`, times
/// `outstanding` in closed loop): each keeps per-client state in the driver.
pub const MAX_LOGICAL_CLIENTS: u64 = 1_000_000;

/// A workload field with an unusable value.
#[derive(Clone, Debug, Error, PartialEq)]
#[error("workload.{field}: {reason}")]
pub struct SpecError {
    /// Dotted path of the field inside `workload`, e.g. `arrival.rate`.
    pub field: &'static str,
    /// What is wrong, in words.
    pub reason: String,
}

/// Why a YAML workload was not accepted.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum ParseError {
    /// Not valid YAML, or a field of the wrong type, unknown or missing.
    /// serde_yaml's message names the field and ends with the location.
    #[error("workload: {message}")]
    Yaml {
        /// serde_yaml's message.
        message: String,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// 1-based column of the problem, when known.
        column: Option<usize>,
    },
    /// Well-formed, but a value is out of range.
    #[error(transparent)]
    Invalid(#[from] SpecError),
}

impl ParseError {
    /// Keeps serde_yaml's message and location.
    pub fn from_yaml(e: serde_yaml::Error) -> ParseError {
        let loc = e.location();
        ParseError::Yaml {
            message: e.to_string(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
        }
    }
}

fn bad(field: &'static str, reason: impl Into<String>) -> Result<(), SpecError> {
    Err(SpecError {
        field,
        reason: reason.into(),
    })
}

/// `v` in [0, 1] (NaN is not).
fn fraction(field: &'static str, v: f64) -> Result<(), SpecError> {
    if !(0.0..=1.0).contains(&v) {
        return bad(field, format!("{v} is not a fraction between 0 and 1"));
    }
    Ok(())
}

/// `v` in (0, 1] (NaN is not).
fn positive_fraction(field: &'static str, v: f64) -> Result<(), SpecError> {
    if !(v > 0.0 && v <= 1.0) {
        return bad(
            field,
            format!("{v} must be a fraction above 0 and at most 1"),
        );
    }
    Ok(())
}

fn key_choice(choice: &KeyChoice) -> Result<(), SpecError> {
    match choice {
        KeyChoice::Zipfian { theta, .. } => {
            if *theta == 1.0 {
                return bad(
                    "key_choice.theta",
                    "1 is not supported: YCSB's zipfian generator needs theta strictly \
                     below 1 (its exponent 1/(1-theta) is infinite at 1); use 0.99",
                );
            }
            if !(*theta > 0.0 && *theta < 1.0) {
                return bad(
                    "key_choice.theta",
                    format!("{theta} must be strictly between 0 and 1 (YCSB uses 0.99)"),
                );
            }
        }
        KeyChoice::Hotspot { hot_keys, hot_ops } => {
            positive_fraction("key_choice.hot_keys", *hot_keys)?;
            positive_fraction("key_choice.hot_ops", *hot_ops)?;
        }
        KeyChoice::Conflict { rate } => fraction("key_choice.rate", *rate)?,
        KeyChoice::Uniform | KeyChoice::Sequential => {}
    }
    Ok(())
}

impl WorkloadSpec {
    /// Checks every field; the first problem found is reported with its
    /// field and the reason.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.keys == 0 {
            return bad("keys", "must be at least 1");
        }
        key_choice(&self.key_choice)?;
        fraction("read_ratio", self.read_ratio)?;
        fraction("cas_ratio", self.cas_ratio)?;
        if let ValueSize::Uniform { min, max } = self.value_size {
            if min > max {
                return bad("value_size", format!("min {min} is larger than max {max}"));
            }
        }
        if self.value_size.max() > MAX_VALUE_SIZE {
            return bad(
                "value_size",
                format!(
                    "{} bytes is more than the {MAX_VALUE_SIZE} allowed",
                    self.value_size.max()
                ),
            );
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
        if self.logical_clients() > MAX_LOGICAL_CLIENTS {
            return bad(
                "clients",
                format!(
                    "{} logical clients (clients x outstanding) is more than the \
                     {MAX_LOGICAL_CLIENTS} allowed",
                    self.logical_clients()
                ),
            );
        }
        if self.duration.is_zero() {
            return bad("duration", "must be longer than zero");
        }
        if self.warmup + self.cooldown >= self.duration {
            return bad(
                "warmup",
                format!(
                    "warm-up ({:?}) plus cool-down ({:?}) leave nothing of the {:?} \
                     duration to measure",
                    self.warmup, self.cooldown, self.duration
                ),
            );
        }
        if self.request_timeout.is_zero() {
            return bad("request_timeout", "must be longer than zero");
        }
        if self.attempt_timeout.is_zero() {
            return bad("attempt_timeout", "must be longer than zero");
        }
        Ok(())
    }
}
