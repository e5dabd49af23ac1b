//! The workload specification, as written in experiment files under
//! `workload:` (or alone in the file given to `qlab drive`).
//!
//! Every field, with its default (fields without a default are required):
//!
//! ```yaml
//! workload:
//!   keys: 1000                 # key space size (YCSB's recordcount)
//!   key_choice:                # how each operation picks its key
//!     kind: zipfian            # uniform | zipfian | hotspot | conflict | sequential
//!     theta: 0.99              # zipfian skew, 0 < theta < 1 (default 0.99)
//!     scrambled: true          # spread hot ranks over the key space (default true)
//!     # kind: hotspot, hot_keys: 0.2, hot_ops: 0.8
//!     #   (hot_keys = fraction of keys that are hot, hot_ops = fraction of
//!     #    ops that go to them; hot_fraction_of_keys / hot_fraction_of_ops
//!     #    are accepted as longer names)
//!     # kind: conflict, rate: 0.1
//!     #   (probability that an op hits the one shared key; otherwise it hits
//!     #    a key private to its client)
//!     # kind: uniform | kind: sequential
//!   read_ratio: 0.5            # fraction of operations that are reads (default 0.5)
//!   cas_ratio: 0.0             # fraction of writes that are compare-and-set (default 0)
//!   value_size: 64             # bytes (default 64), or {min: 16, max: 256}, uniform
//!   arrival:                   # required
//!     kind: open               # open (alias open_loop): arrivals at a rate,
//!     rate: 1000               #   independent of replies; ops/s over all clients
//!     process: poisson         #   poisson | constant (default poisson)
//!     # kind: closed           # closed (alias closed_loop): each client keeps
//!     # outstanding: 1         #   this many ops in flight (alias
//!     #                        #   outstanding_per_client; default 1)
//!   clients: 64                # logical clients (default 64)
//!   duration: 10s              # required: the whole run, warm-up and cool-down included
//!   warmup: 1s                 # excluded from the summary, kept in time series (default 1s)
//!   cooldown: 500ms            # likewise, at the end (default 500ms)
//!   request_timeout: 1s        # after this an op counts as a timeout (default 1s)
//!   attempt_timeout: 100ms     # an unanswered attempt is retried, as the
//!                              #   protocol's client logic says (default 100ms)
//!   seed: 1                    # every random choice derives from it (default 1)
//! ```
//!
//! Durations are written as in [`crate::duration`] (`"500ms"`, `"30s"`,
//! `"2m"`). Unknown fields are errors, so a typo never silently falls back
//! to a default. Parse with [`WorkloadSpec::from_yaml`], which also runs
//! [`WorkloadSpec::validate`].

pub use crate::validate::{ParseError, SpecError, MAX_LOGICAL_CLIENTS, MAX_VALUE_SIZE};

use crate::duration::human;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// How each operation picks its key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum KeyChoice {
    /// Every key equally likely.
    Uniform,
    /// Zipfian over key ranks, with YCSB's generator (Gray et al.): rank `r`
    /// has probability proportional to `1 / (r + 1)^theta`.
    Zipfian {
        /// Skew, strictly between 0 and 1; YCSB's default is 0.99.
        #[serde(default = "default_theta")]
        theta: f64,
        /// Spread hot ranks over the key space with a fixed permutation
        /// (like YCSB's ScrambledZipfian), so the hottest keys are not
        /// 0, 1, 2, ... and do not sit next to each other.
        #[serde(default = "yes")]
        scrambled: bool,
    },
    /// A fraction `hot_ops` of the operations go to the first `hot_keys`
    /// fraction of the keys (uniformly among them), the rest uniformly to
    /// the other keys (YCSB's hotspot distribution).
    Hotspot {
        /// Fraction of the keys that are hot, in (0, 1].
        #[serde(alias = "hot_fraction_of_keys")]
        hot_keys: f64,
        /// Fraction of the operations that hit hot keys, in (0, 1].
        #[serde(alias = "hot_fraction_of_ops")]
        hot_ops: f64,
    },
    /// With probability `rate` an operation hits the one shared hot key
    /// (key 0); otherwise a key private to its logical client, so two
    /// clients conflict only on the hot key (the conflict workload of Paxi
    /// and EPaxos).
    Conflict {
        /// Conflict rate, in [0, 1].
        rate: f64,
    },
    /// Keys in order, wrapping around; each logical client starts at its
    /// own offset so that clients do not walk in lock-step.
    Sequential,
}

fn default_theta() -> f64 {
    0.99
}
fn yes() -> bool {
    true
}

/// Value sizes of writes, in bytes: a number (`64`) or `{min, max}`.
///
/// A written value never gets shorter than the tag that makes it unique
/// (`c<client>-<seq>:`, see [`crate::ops`]); sizes below that are rounded up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ValueSize {
    /// Always this many bytes.
    Fixed(usize),
    /// Uniformly distributed in `[min, max]` bytes.
    Uniform {
        /// Smallest size.
        min: usize,
        /// Largest size.
        max: usize,
    },
}

impl ValueSize {
    /// The largest size this can produce.
    pub fn max(&self) -> usize {
        match *self {
            ValueSize::Fixed(n) => n,
            ValueSize::Uniform { max, .. } => max,
        }
    }
}

/// Inter-arrival distribution of open-loop load.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Process {
    /// Exponential inter-arrival times (a Poisson process): independent
    /// users, bursts included.
    Poisson,
    /// Evenly spaced arrivals, `1 / rate` apart.
    Constant,
}

/// When operations are issued.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Arrival {
    /// Open loop: arrivals at `rate` ops/s over all clients, scheduled up
    /// front from intended times and never skipped; latency counts from the
    /// intended time (see [`crate::arrival`]).
    #[serde(alias = "open_loop")]
    Open {
        /// Offered load, ops/s, over all logical clients together.
        rate: f64,
        /// Inter-arrival distribution.
        #[serde(default = "poisson")]
        process: Process,
    },
    /// Closed loop: each logical client keeps `outstanding` operations in
    /// flight, issuing the next as soon as one ends. Throughput then
    /// depends on latency, so results are labelled `closed`.
    #[serde(alias = "closed_loop")]
    Closed {
        /// Operations in flight per client, at least 1.
        #[serde(default = "one", alias = "outstanding_per_client")]
        outstanding: u32,
    },
}

fn poisson() -> Process {
    Process::Poisson
}
fn one() -> u32 {
    1
}

/// A workload: what operations, on which keys, at what pace, for how long.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Key space size (YCSB's recordcount): keys are `0..keys`, except that
    /// the conflict workload extends the space when it has fewer keys than
    /// clients need for private keys. At least 1. Default 1000.
    #[serde(default = "default_keys")]
    pub keys: u64,
    /// How each operation picks its key. Default uniform.
    #[serde(default = "default_key_choice")]
    pub key_choice: KeyChoice,
    /// Fraction of operations that are reads, in [0, 1]. Default 0.5.
    #[serde(default = "half")]
    pub read_ratio: f64,
    /// Fraction of writes that are compare-and-set rather than plain puts,
    /// in [0, 1]. A CAS expects the version its client last saw for the key
    /// (0 if none). Default 0.
    #[serde(default)]
    pub cas_ratio: f64,
    /// Bytes per written value. Default 64.
    #[serde(default = "default_value_size")]
    pub value_size: ValueSize,
    /// Open or closed loop. Required.
    pub arrival: Arrival,
    /// Logical clients: each has at most one operation in flight (closed
    /// loop: `outstanding` of them). At least 1. Default 64.
    #[serde(default = "default_clients")]
    pub clients: u32,
    /// The whole run, warm-up and cool-down included. Required.
    #[serde(with = "human")]
    pub duration: Duration,
    /// Start of the run left out of the summary (still in the time series),
    /// while caches, connections and leaders settle. Default 1s.
    #[serde(with = "human", default = "default_warmup")]
    pub warmup: Duration,
    /// End of the run left out of the summary (still in the time series),
    /// while the last operations drain. Default 500ms.
    #[serde(with = "human", default = "default_cooldown")]
    pub cooldown: Duration,
    /// An operation without a final answer this long after its intended
    /// start counts as a timeout. Default 1s.
    #[serde(with = "human", default = "default_timeout")]
    pub request_timeout: Duration,
    /// How long one attempt of an operation waits for an answer before the
    /// protocol's client logic is asked what to do (retry, elsewhere or
    /// not); the operation as a whole still ends at `request_timeout`.
    /// Default 100ms.
    #[serde(with = "human", default = "default_attempt_timeout")]
    pub attempt_timeout: Duration,
    /// Seed of every random choice (keys, values, arrivals): the same seed
    /// gives the same operations at the same intended times. Default 1.
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
fn default_attempt_timeout() -> Duration {
    Duration::from_millis(100)
}
fn default_seed() -> u64 {
    1
}

impl WorkloadSpec {
    /// Parses a workload from YAML (the mapping that sits under `workload:`
    /// in an experiment file) and validates it. Syntax and type errors keep
    /// serde_yaml's line and column.
    pub fn from_yaml(text: &str) -> Result<WorkloadSpec, ParseError> {
        let spec: WorkloadSpec = serde_yaml::from_str(text).map_err(ParseError::from_yaml)?;
        spec.validate()?;
        Ok(spec)
    }

    /// The measured interval `[warmup, duration - cooldown)`, as offsets
    /// from the start of the run.
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

    /// Logical clients with one operation in flight each: `clients` in open
    /// loop, `clients * outstanding` in closed loop.
    pub fn logical_clients(&self) -> u64 {
        match self.arrival {
            Arrival::Open { .. } => u64::from(self.clients),
            Arrival::Closed { outstanding } => u64::from(self.clients) * u64::from(outstanding),
        }
    }
}

struct ValueSizeVisitor;

impl<'de> Visitor<'de> for ValueSizeVisitor {
    type Value = ValueSize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number of bytes or {min: BYTES, max: BYTES}")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueSize, E> {
        usize::try_from(v)
            .map(ValueSize::Fixed)
            .map_err(|_| E::custom(format!("{v} bytes is too large")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ValueSize, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!(
                "{v} is negative; a value size is a number of bytes"
            ))),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ValueSize, A::Error> {
        let (mut min, mut max) = (None, None);
        while let Some(k) = map.next_key::<String>()? {
            match k.as_str() {
                "min" if min.is_none() => min = Some(map.next_value::<usize>()?),
                "max" if max.is_none() => max = Some(map.next_value::<usize>()?),
                "min" | "max" => return Err(de::Error::duplicate_field("min/max")),
                other => return Err(de::Error::unknown_field(other, &["min", "max"])),
            }
        }
        match (min, max) {
            (Some(min), Some(max)) => Ok(ValueSize::Uniform { min, max }),
            (None, _) => Err(de::Error::missing_field("min")),
            (_, None) => Err(de::Error::missing_field("max")),
        }
    }
}

impl<'de> Deserialize<'de> for ValueSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ValueSize, D::Error> {
        d.deserialize_any(ValueSizeVisitor)
    }
}
