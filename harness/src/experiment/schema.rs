//! The typed experiment file. Unknown fields are errors; every field is
//! documented here and in the README.

use super::faults::{self, Fault};
use crate::node::storage::Durability;
use crate::target::Target;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use workloads::duration::human;
use workloads::WorkloadSpec;

/// One experiment point, after sweep values are substituted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Name; results go to `results/<name>/` unless `--out` says otherwise.
    pub name: String,
    /// Free text for the report.
    #[serde(default)]
    pub description: String,
    /// Protocol: one of quorumlab's (raft, multipaxos, unreplicated, abd,
    /// dynamo, pbft), or `etcd` for a real etcd v3 cluster (see
    /// [`crate::etcd`]).
    pub protocol: Target,
    /// Number of replicas.
    #[serde(default = "three")]
    pub nodes: u32,
    /// memory, nosync or fsync (see `Durability`).
    #[serde(default)]
    pub durability: Durability,
    /// Repetitions of every sweep point.
    #[serde(default = "one")]
    pub repetitions: u32,
    /// Time-series window (10 ms or more).
    #[serde(default = "default_window", with = "human")]
    pub timeseries_window: Duration,
    /// Record every operation to `history.csv` for `qlab check`.
    #[serde(default)]
    pub history: bool,
    /// Partitions (and isolations) split the clients too: logical client
    /// `i` lives beside replica `i mod nodes` and, while a partition is
    /// active, reaches only the replicas on that replica's side. Each
    /// side's operations are counted in `availability.csv` (the CAP
    /// experiment). Off: partitions cut replica links only.
    #[serde(default)]
    pub client_partitions: bool,
    /// A delay drawn for every message on every replica-to-replica link,
    /// both ways, from this distribution (the text form of `qlab pbs
    /// --latency`, e.g. `mix:0.982*pareto:xm=1.5ms,alpha=3.8+0.018*exp:rate=0.0217`),
    /// for the whole run and on top of any link fault. Client links are
    /// not shaped.
    #[serde(default)]
    pub link_latency: Option<String>,
    /// How long to wait for the cluster to elect a leader / answer.
    #[serde(default = "default_ready", with = "human")]
    pub ready_timeout: Duration,
    /// Protocol tunables (e.g. Raft's `election_timeout_min: 150ms`); unknown
    /// fields are errors. Defaults are each protocol's own.
    #[serde(default)]
    pub protocol_config: serde_yaml::Value,
    /// The load. Required, except in trial experiments (`trials:`), which
    /// measure elections without client load.
    #[serde(default)]
    pub workload: Option<WorkloadSpec>,
    /// Repeated leader-crash trials instead of a load run (see
    /// [`Trials`]); the Raft paper's election-time figure is one.
    #[serde(default)]
    pub trials: Option<Trials>,
    /// The fault timeline (see `faults.rs`), on the load's clock.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// How recovery is judged (see `recovery.csv`).
    #[serde(default)]
    pub recovery: RecoveryParams,
    /// Numbers a paper published for this experiment; `qlab report` shows
    /// them beside the measured ones.
    #[serde(default)]
    pub published: Vec<Published>,
}

/// One published number: which results it describes, and its value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// Where it was published (paper, section or figure).
    pub source: String,
    /// The summary rows it corresponds to: column = value (all must match).
    #[serde(rename = "where", default)]
    pub at: std::collections::BTreeMap<String, serde_yaml::Value>,
    /// The summary column it is compared with (e.g. `p50_ms`).
    pub metric: String,
    /// The published value, in that column's unit.
    pub value: f64,
    /// How to read it (e.g. "text says: more than 10 s").
    #[serde(default)]
    pub note: String,
}

/// A trial experiment: crash the leader, time how long the cluster is
/// without one, restart the crashed node, wait until everyone follows the
/// new leader again, repeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trials {
    /// Trials per point and repetition.
    pub count: u32,
    /// The crash comes at a uniformly random moment within this window after
    /// the settle time; default: the protocol's heartbeat interval, so the
    /// crash falls at a random point of the leader's heartbeat cycle.
    #[serde(default, with = "workloads::duration::human_opt")]
    pub crash_within: Option<Duration>,
    /// Quiet time after the cluster is whole again, before the next crash.
    #[serde(default = "default_settle", with = "human")]
    pub settle: Duration,
    /// A trial with no new leader after this long is recorded as
    /// `no_leader` (censored at this time), and the next trial starts.
    #[serde(default = "default_give_up", with = "human")]
    pub give_up: Duration,
    /// One-way delay added to every replica-to-replica link for the whole
    /// run (the Raft paper's broadcast time of ~15 ms is ~7.5 ms each way).
    #[serde(default, with = "human")]
    pub link_delay: Duration,
    /// Uniform jitter on top of `link_delay`.
    #[serde(default, with = "human")]
    pub link_jitter: Duration,
    /// Seed of the crash times (varied per repetition).
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Independent clusters that share the point's trials, run at the same
    /// time (trial `i` runs on cluster `i mod clusters`). A trial spends
    /// most of its time waiting on timers, so a few clusters side by side
    /// cut the wall time of a long run; each cluster is `nodes` processes.
    #[serde(default = "one_u32")]
    pub clusters: u32,
    /// Run the trials in the deterministic simulator instead of on
    /// processes: `link_delay` and `link_jitter` become every link's
    /// latency, `durability: fsync` a 0.15-0.3 ms disk, and there is no CPU
    /// noise. Summary rows say `backend: sim`.
    #[serde(default)]
    pub simulate: bool,
}

fn default_settle() -> Duration {
    Duration::from_millis(300)
}
fn default_give_up() -> Duration {
    Duration::from_secs(10)
}
fn one_u64() -> u64 {
    1
}
fn one_u32() -> u32 {
    1
}

/// Parameters of the recovery metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryParams {
    /// Throughput counts as recovered at this fraction of its pre-fault
    /// median.
    #[serde(default = "ninety")]
    pub threshold: f64,
    /// ... held for this long.
    #[serde(default = "second", with = "human")]
    pub sustain: Duration,
}

impl Default for RecoveryParams {
    fn default() -> Self {
        RecoveryParams {
            threshold: ninety(),
            sustain: second(),
        }
    }
}

fn ninety() -> f64 {
    0.9
}
fn second() -> Duration {
    Duration::from_secs(1)
}

fn three() -> u32 {
    3
}
fn one() -> u32 {
    1
}
fn default_window() -> Duration {
    Duration::from_millis(100)
}
fn default_ready() -> Duration {
    Duration::from_secs(10)
}

/// Protocol tunables given as YAML text on a command line (`--config`);
/// empty text means the defaults.
pub fn protocol_config_text<P: protocols::Protocol>(text: &str) -> anyhow::Result<P::Config> {
    if text.trim().is_empty() {
        return Ok(P::Config::default());
    }
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| anyhow::anyhow!("--config is not YAML: {e}"))?;
    protocol_config::<P>(&value).map_err(anyhow::Error::msg)
}

/// Parses a `protocol_config` section as the chosen protocol's config.
pub fn protocol_config<P: protocols::Protocol>(
    value: &serde_yaml::Value,
) -> Result<P::Config, String> {
    if value.is_null() {
        return Ok(P::Config::default());
    }
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("protocol_config: {}", e.into_inner())
        } else {
            format!("protocol_config.{path}: {}", e.into_inner())
        }
    })
}

struct CheckConfig<'a>(&'a serde_yaml::Value);

impl protocols::registry::ProtocolVisitor for CheckConfig<'_> {
    type Output = Result<(), String>;
    fn visit<P: protocols::Protocol>(self) -> Result<(), String> {
        protocol_config::<P>(self.0).map(|_| ())
    }
}

struct SupportsCas;

impl protocols::registry::ProtocolVisitor for SupportsCas {
    type Output = bool;
    fn visit<P: protocols::Protocol>(self) -> bool {
        P::SUPPORTS_CAS
    }
}

struct AuthOf<'a>(&'a serde_yaml::Value);

impl protocols::registry::ProtocolVisitor for AuthOf<'_> {
    type Output = Result<protocols::auth::AuthMode, String>;
    fn visit<P: protocols::Protocol>(self) -> Self::Output {
        protocol_config::<P>(self.0).map(|c| P::auth(&c))
    }
}

struct HeartbeatOf<'a>(&'a serde_yaml::Value);

impl protocols::registry::ProtocolVisitor for HeartbeatOf<'_> {
    type Output = Result<Option<Duration>, String>;
    fn visit<P: protocols::Protocol>(self) -> Self::Output {
        protocol_config::<P>(self.0).map(|c| P::timing(&c).heartbeat)
    }
}

impl Experiment {
    /// How long a trial waits before its crash at most: `crash_within`, or
    /// the protocol's heartbeat interval.
    pub fn crash_window(&self, t: &Trials) -> Result<Duration, String> {
        match t.crash_within {
            Some(d) => Ok(d),
            None => self
                .heartbeat()?
                .ok_or_else(|| "trials.crash_within: required for this protocol".to_string()),
        }
    }

    /// How the replicas authenticate their messages (the `auth` column):
    /// the protocol's `auth` knob, `none` for protocols without one and
    /// for external targets.
    pub fn auth_mode(&self) -> protocols::auth::AuthMode {
        self.protocol
            .native()
            .and_then(|k| k.visit(AuthOf(&self.protocol_config)).ok())
            .unwrap_or_default()
    }

    /// The protocol's heartbeat interval, if it has one (etcd: none here).
    fn heartbeat(&self) -> Result<Option<Duration>, String> {
        match self.protocol.native() {
            Some(k) => k.visit(HeartbeatOf(&self.protocol_config)),
            None => Ok(None),
        }
    }

    /// Checks what serde cannot: ranges and relations between fields.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name: must not be empty".into());
        }
        if self.name.contains('/') || self.name.contains("..") {
            return Err(format!("name: {:?} must be a plain folder name", self.name));
        }
        if self.nodes == 0 {
            return Err("nodes: must be at least 1".into());
        }
        if self.nodes > 64 {
            return Err(format!(
                "nodes: {} replicas on one machine is more than the local backend supports (64); use `qlab sim` for scale",
                self.nodes
            ));
        }
        if self.repetitions == 0 {
            return Err("repetitions: must be at least 1".into());
        }
        if self.timeseries_window < Duration::from_millis(10) {
            return Err("timeseries_window: must be at least 10ms".into());
        }
        if !(self.recovery.threshold > 0.0 && self.recovery.threshold <= 1.0) {
            return Err("recovery.threshold: must be in (0, 1]".into());
        }
        match self.protocol {
            Target::Native(k) => k.visit(CheckConfig(&self.protocol_config))?,
            Target::Etcd => crate::etcd::config::validate(self)?,
        }
        if let Some(spec) = &self.link_latency {
            latency::Latency::parse(spec).map_err(|e| format!("link_latency: {e}"))?;
        }
        match (&self.workload, &self.trials) {
            (Some(w), None) => {
                w.validate().map_err(|e| e.to_string())?;
                let cas = self.protocol.native().is_some_and(|k| k.visit(SupportsCas));
                if w.cas_ratio > 0.0 && !cas {
                    return Err(format!(
                        "workload.cas_ratio: {} cannot execute compare-and-set (it needs consensus); use cas_ratio: 0 for it",
                        self.protocol
                    ));
                }
                faults::validate(&self.faults, self.nodes, w.duration)
            }
            (None, Some(t)) => self.validate_trials(t),
            (Some(_), Some(_)) => Err(
                "trials: a trial experiment runs no client load; remove `workload` (or `trials`)"
                    .into(),
            ),
            (None, None) => Err("workload: required (the load to drive)".into()),
        }
    }

    fn validate_trials(&self, t: &Trials) -> Result<(), String> {
        if t.count == 0 {
            return Err("trials.count: must be at least 1".into());
        }
        if t.clusters == 0 || t.clusters > 16 {
            return Err(format!(
                "trials.clusters: {} is out of range; use 1 to 16 clusters side by side",
                t.clusters
            ));
        }
        if self.nodes < 3 {
            return Err(format!(
                "trials: crashing the leader of {} replica(s) leaves no majority; use 3 or more nodes",
                self.nodes
            ));
        }
        if !self.faults.is_empty() {
            return Err("faults: a trial experiment makes its own crashes; remove `faults`".into());
        }
        if self.durability == Durability::Memory {
            return Err(
                "durability: trials restart crashed leaders, which must keep their term and vote; use nosync or fsync"
                    .into(),
            );
        }
        if t.give_up < Duration::from_millis(10) {
            return Err("trials.give_up: must be at least 10ms".into());
        }
        if t.crash_within.is_none() && self.heartbeat()?.is_none() {
            return Err(format!(
                "trials.crash_within: {} has no heartbeat interval to default to; set it",
                self.protocol
            ));
        }
        Ok(())
    }
}
