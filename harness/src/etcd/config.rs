//! What an experiment may ask of etcd.

use crate::experiment::faults::Fault;
use crate::experiment::schema::Experiment;
use crate::node::storage::Durability;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use workloads::duration::human;

/// etcd's tunables in `protocol_config` (unknown fields are errors).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdConfig {
    /// `--heartbeat-interval` (whole milliseconds; etcd's default 100ms).
    #[serde(default = "default_heartbeat", with = "human")]
    pub heartbeat_interval: Duration,
    /// `--election-timeout` (whole milliseconds, at least five heartbeats;
    /// etcd's default 1s).
    #[serde(default = "default_election", with = "human")]
    pub election_timeout: Duration,
}

fn default_heartbeat() -> Duration {
    Duration::from_millis(100)
}
fn default_election() -> Duration {
    Duration::from_secs(1)
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            heartbeat_interval: default_heartbeat(),
            election_timeout: default_election(),
        }
    }
}

impl EtcdConfig {
    /// Parses `protocol_config` (empty: etcd's defaults).
    pub fn parse(value: &serde_yaml::Value) -> Result<EtcdConfig, String> {
        let config: EtcdConfig = if value.is_null() {
            EtcdConfig::default()
        } else {
            serde_path_to_error::deserialize(value.clone()).map_err(|e| {
                let path = e.path().to_string();
                match path.as_str() {
                    "." => format!("protocol_config: {}", e.into_inner()),
                    _ => format!("protocol_config.{path}: {}", e.into_inner()),
                }
            })?
        };
        let ms = |d: Duration| d.as_millis();
        if ms(config.heartbeat_interval) == 0 {
            return Err("protocol_config.heartbeat_interval: etcd needs at least 1ms".into());
        }
        if ms(config.election_timeout) < 5 * ms(config.heartbeat_interval) {
            return Err(format!(
                "protocol_config.election_timeout: etcd needs at least five heartbeat intervals ({}ms)",
                5 * ms(config.heartbeat_interval)
            ));
        }
        Ok(config)
    }
}

/// Checks what etcd can run: always fsync, process faults only, gets and
/// puts only, no client partitions or link shaping, no trials.
pub fn validate(e: &Experiment) -> Result<(), String> {
    EtcdConfig::parse(&e.protocol_config)?;
    if e.durability != Durability::Fsync {
        return Err(format!(
            "durability: etcd always fsyncs its log; {} cannot be had from it, write `durability: fsync`",
            e.durability
        ));
    }
    if e.trials.is_some() {
        return Err(
            "trials: leader-crash trials need quorumlab nodes; for etcd use a load run with a crash fault"
                .into(),
        );
    }
    if e.client_partitions {
        return Err(
            "client_partitions: etcd members cannot be partitioned (no link shaping); remove it"
                .into(),
        );
    }
    if e.link_latency.is_some() {
        return Err("link_latency: etcd's peer links cannot be shaped; remove it".into());
    }
    if e.workload.as_ref().is_some_and(|w| w.cas_ratio > 0.0) {
        return Err(
            "workload.cas_ratio: the etcd driver issues gets and puts only; use cas_ratio: 0"
                .into(),
        );
    }
    for (i, f) in e.faults.iter().enumerate() {
        if !matches!(
            f,
            Fault::Crash { .. } | Fault::Restart { .. } | Fault::Pause { .. } | Fault::Heal { .. }
        ) {
            return Err(format!(
                "faults[{i}]: {} needs link shaping, which etcd members do not have; etcd takes crash, restart, pause and heal",
                f.kind()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_bounds() {
        assert_eq!(
            EtcdConfig::parse(&serde_yaml::Value::Null),
            Ok(EtcdConfig::default())
        );
        let v: serde_yaml::Value =
            serde_yaml::from_str("{heartbeat_interval: 50ms, election_timeout: 300ms}").unwrap();
        let c = EtcdConfig::parse(&v).unwrap();
        assert_eq!(c.election_timeout, Duration::from_millis(300));
        let v: serde_yaml::Value = serde_yaml::from_str("{election_timeout: 200ms}").unwrap();
        assert!(EtcdConfig::parse(&v)
            .unwrap_err()
            .contains("five heartbeat"));
        let v: serde_yaml::Value = serde_yaml::from_str("{heartbeat: 5ms}").unwrap();
        assert!(EtcdConfig::parse(&v).unwrap_err().contains("unknown field"));
    }
}
