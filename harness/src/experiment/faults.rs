//! The fault timeline of an experiment: what goes wrong, when, for how long.
//!
//! ```yaml
//! faults:
//!   - {kind: crash, at: 3s, node: leader, for: 2s}   # SIGKILL; restarted after 2s
//!   - {kind: restart, at: 8s, node: 1}               # restart a crashed node
//!   - {kind: pause, at: 4s, node: 2, for: 1s}        # SIGSTOP, then SIGCONT
//!   - {kind: partition, at: 5s, groups: [[0], [1, 2]], for: 2s}
//!   - {kind: isolate, at: 5s, node: leader, for: 2s} # cut a node off from all others
//!   - {kind: cut, at: 5s, from: 0, to: 1, for: 1s}   # one direction only
//!   - {kind: delay, at: 5s, delay: 20ms, jitter: 5ms, loss: 0.01, for: 2s}  # all links
//!   - {kind: heal, at: 9s}                           # clear every link fault, resume paused nodes
//! ```
//!
//! `node` is a replica id or `leader`, resolved when the fault strikes from
//! the nodes' own status. `for` (optional) heals the fault after that long.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use workloads::duration::{human, human_opt};

/// A node named in a fault: an id or the current leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Target {
    /// Replica id.
    Id(u32),
    /// `leader`: whoever leads when the fault strikes.
    Named(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Id(n) => write!(f, "{n}"),
            Target::Named(s) => f.write_str(s),
        }
    }
}

/// One entry of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// SIGKILL a node; with `for`, restart it after that long.
    Crash {
        /// When, from the start of the load.
        #[serde(with = "human")]
        at: Duration,
        /// Which node.
        node: Target,
        /// Restart after this long.
        #[serde(default, rename = "for", with = "human_opt")]
        duration: Option<Duration>,
    },
    /// Restart a node crashed earlier (its state comes back from its log).
    Restart {
        /// When.
        #[serde(with = "human")]
        at: Duration,
        /// Which node (an id).
        node: u32,
    },
    /// SIGSTOP a node; with `for`, SIGCONT it after that long.
    Pause {
        /// When.
        #[serde(with = "human")]
        at: Duration,
        /// Which node.
        node: Target,
        /// Resume after this long.
        #[serde(default, rename = "for", with = "human_opt")]
        duration: Option<Duration>,
    },
    /// Cut every link between groups, both ways (nodes not listed form one
    /// more group).
    Partition {
        /// When.
        #[serde(with = "human")]
        at: Duration,
        /// The groups.
        groups: Vec<Vec<u32>>,
        /// Heal after this long.
        #[serde(default, rename = "for", with = "human_opt")]
        duration: Option<Duration>,
    },
    /// Cut one node off from every other node.
    Isolate {
        /// When.
        #[serde(with = "human")]
        at: Duration,
        /// Which node.
        node: Target,
        /// Heal after this long.
        #[serde(default, rename = "for", with = "human_opt")]
        duration: Option<Duration>,
    },
    /// Cut the link from `from` to `to` only.
    Cut {
        /// When.
        #[serde(with = "human")]
        at: Duration,
        /// Sender side.
        from: Target,
        /// Receiver side.
        to: Target,
        /// Heal after this long.
        #[serde(default, rename = "for", with = "human_opt")]
        duration: Option<Duration>,
    },
    /// Add delay, jitter and loss to every replica-to-replica link.
    Delay {
        /// When.
        #[serde(with = "human")]
        at: Duration,
        /// Added one-way delay.
        #[serde(default, with = "human")]
        delay: Duration,
        /// Uniform jitter on top.
        #[serde(default, with = "human")]
        jitter: Duration,
        /// Loss probability.
        #[serde(default)]
        loss: f64,
        /// Heal after this long.
        #[serde(default, rename = "for", with = "human_opt")]
        duration: Option<Duration>,
    },
    /// Clear every link fault and resume paused nodes.
    Heal {
        /// When.
        #[serde(with = "human")]
        at: Duration,
    },
}

impl Fault {
    /// When it strikes.
    pub fn at(&self) -> Duration {
        match self {
            Fault::Crash { at, .. }
            | Fault::Restart { at, .. }
            | Fault::Pause { at, .. }
            | Fault::Partition { at, .. }
            | Fault::Isolate { at, .. }
            | Fault::Cut { at, .. }
            | Fault::Delay { at, .. }
            | Fault::Heal { at } => *at,
        }
    }

    /// How long until it heals by itself, if it does.
    pub fn duration(&self) -> Option<Duration> {
        match self {
            Fault::Crash { duration, .. }
            | Fault::Pause { duration, .. }
            | Fault::Partition { duration, .. }
            | Fault::Isolate { duration, .. }
            | Fault::Cut { duration, .. }
            | Fault::Delay { duration, .. } => *duration,
            Fault::Restart { .. } | Fault::Heal { .. } => None,
        }
    }

    /// The kind, as written in files and `events.csv`.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Crash { .. } => "crash",
            Fault::Restart { .. } => "restart",
            Fault::Pause { .. } => "pause",
            Fault::Partition { .. } => "partition",
            Fault::Isolate { .. } => "isolate",
            Fault::Cut { .. } => "cut",
            Fault::Delay { .. } => "delay",
            Fault::Heal { .. } => "heal",
        }
    }
}

fn check_target(i: usize, field: &str, t: &Target, nodes: u32) -> Result<(), String> {
    match t {
        Target::Id(n) if *n >= nodes => Err(format!(
            "faults[{i}].{field}: node {n} does not exist (the cluster has nodes 0..{})",
            nodes.saturating_sub(1)
        )),
        Target::Named(s) if s != "leader" => Err(format!(
            "faults[{i}].{field}: {s:?} is not a node; write a node id or `leader`"
        )),
        _ => Ok(()),
    }
}

/// Checks a timeline against the cluster size and the run's length.
pub fn validate(faults: &[Fault], nodes: u32, run: Duration) -> Result<(), String> {
    let mut crashed_by_id: Vec<u32> = Vec::new();
    let mut order: Vec<&Fault> = faults.iter().collect();
    order.sort_by_key(|f| f.at());
    for f in &order {
        let i = faults.iter().position(|g| std::ptr::eq(g, *f)).unwrap_or(0);
        if f.at() >= run {
            return Err(format!(
                "faults[{i}].at: {:?} is not before the end of the run ({run:?})",
                f.at()
            ));
        }
        if let Some(d) = f.duration() {
            if d.is_zero() {
                return Err(format!("faults[{i}].for: must be longer than zero"));
            }
            if f.at() + d > run {
                return Err(format!(
                    "faults[{i}].for: the {} would heal at {:?}, after the run ends ({run:?})",
                    f.kind(),
                    f.at() + d
                ));
            }
        }
        match f {
            Fault::Crash { node, duration, .. } => {
                check_target(i, "node", node, nodes)?;
                if let (Target::Id(n), None) = (node, duration) {
                    crashed_by_id.push(*n);
                }
            }
            Fault::Restart { node, .. } => {
                if *node >= nodes {
                    check_target(i, "node", &Target::Id(*node), nodes)?;
                }
                let any_leader_crash = order.iter().any(|g| {
                    matches!(
                        g,
                        Fault::Crash {
                            node: Target::Named(_),
                            duration: None,
                            ..
                        }
                    ) && g.at() < f.at()
                });
                match crashed_by_id.iter().position(|c| c == node) {
                    Some(p) => {
                        crashed_by_id.remove(p);
                    }
                    None if any_leader_crash => {}
                    None => {
                        return Err(format!(
                            "faults[{i}]: restart of node {node}, which no earlier fault crashed"
                        ))
                    }
                }
            }
            Fault::Pause { node, .. } | Fault::Isolate { node, .. } => {
                check_target(i, "node", node, nodes)?
            }
            Fault::Cut { from, to, .. } => {
                check_target(i, "from", from, nodes)?;
                check_target(i, "to", to, nodes)?;
            }
            Fault::Partition { groups, .. } => {
                for g in groups {
                    for n in g {
                        check_target(i, "groups", &Target::Id(*n), nodes)?;
                    }
                }
                if groups.len() < 2 && groups.iter().map(Vec::len).sum::<usize>() as u32 >= nodes {
                    return Err(format!(
                        "faults[{i}].groups: a partition needs at least two groups"
                    ));
                }
            }
            Fault::Delay { loss, .. } => {
                if !(0.0..=1.0).contains(loss) {
                    return Err(format!("faults[{i}].loss: {loss} is not a probability"));
                }
            }
            Fault::Heal { .. } => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> Result<Vec<Fault>, String> {
        let f: Vec<Fault> = serde_yaml::from_str(y).map_err(|e| e.to_string())?;
        validate(&f, 3, Duration::from_secs(10))?;
        Ok(f)
    }

    #[test]
    fn every_kind_parses() {
        let f = parse(
            "- {kind: crash, at: 3s, node: leader, for: 2s}\n- {kind: crash, at: 1s, node: 2}\n- {kind: restart, at: 8s, node: 2}\n\
             - {kind: pause, at: 4s, node: 1, for: 1s}\n- {kind: partition, at: 5s, groups: [[0], [1, 2]], for: 2s}\n\
             - {kind: isolate, at: 5s, node: leader, for: 2s}\n- {kind: cut, at: 5s, from: 0, to: 1, for: 1s}\n\
             - {kind: delay, at: 5s, delay: 20ms, jitter: 5ms, loss: 0.01, for: 2s}\n- {kind: heal, at: 9s}\n",
        )
        .unwrap();
        assert_eq!(f.len(), 9);
        assert_eq!(f[0].duration(), Some(Duration::from_secs(2)));
        assert_eq!(f[7].kind(), "delay");
    }

    #[test]
    fn bad_timelines_are_rejected_with_the_reason() {
        let cases = [
            (
                "- {kind: crash, at: 3s, node: 7}\n",
                "node 7 does not exist",
            ),
            (
                "- {kind: crash, at: 3s, node: boss}\n",
                "write a node id or `leader`",
            ),
            (
                "- {kind: crash, at: 12s, node: 1}\n",
                "not before the end of the run",
            ),
            (
                "- {kind: pause, at: 8s, node: 1, for: 5s}\n",
                "after the run ends",
            ),
            (
                "- {kind: restart, at: 3s, node: 1}\n",
                "which no earlier fault crashed",
            ),
            (
                "- {kind: crash, at: 5s, node: 1}\n- {kind: restart, at: 3s, node: 1}\n",
                "which no earlier fault crashed",
            ),
            (
                "- {kind: pause, at: 3s, node: 1, for: 0s}\n",
                "longer than zero",
            ),
            ("- {kind: delay, at: 3s, loss: 2}\n", "not a probability"),
            ("- {kind: explode, at: 3s}\n", "unknown variant `explode`"),
            ("- {kind: heal, at: 3s, node: 1}\n", "unknown field `node`"),
        ];
        for (y, expected) in cases {
            let e = parse(y).unwrap_err();
            assert!(e.contains(expected), "{y}: {e}");
        }
    }
}
