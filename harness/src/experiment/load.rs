//! Reading an experiment file into validated sweep points.

use super::schema::Experiment;
use super::sweep::{combinations, set_path, take_sweep, value_label, Assignment};
use anyhow::{anyhow, Context};
use std::path::Path;

/// One point of the sweep: its label, the swept values, the typed
/// experiment.
#[derive(Clone, Debug)]
pub struct Point {
    /// Stable label, e.g. `protocol=raft,workload.arrival.rate=200`.
    pub label: String,
    /// Swept parameters and their values, in sweep order.
    pub params: Vec<(String, String)>,
    /// The experiment at this point.
    pub experiment: Experiment,
    /// The backend that runs it (`local`, `ansible`; the `backend` column).
    pub backend: &'static str,
}

/// A loaded experiment file.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The resolved document (without `sweep`), for provenance.
    pub document: serde_yaml::Value,
    /// The `sweep` the document had, if any.
    pub sweep: Option<serde_yaml::Value>,
    /// The raw file text (hashed for resume checks).
    pub text: String,
    /// Swept parameter paths, in order.
    pub swept: Vec<String>,
    /// Every point.
    pub points: Vec<Point>,
}

/// Parses `text` (from `origin`, for messages) into points, validating every
/// one; the first problem is returned with the point and field it concerns.
pub fn parse_plan(text: &str, origin: &str) -> anyhow::Result<Plan> {
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| anyhow!("{origin}: not valid YAML: {e}"))?;
    if !doc.is_mapping() {
        return Err(anyhow!(
            "{origin}: an experiment file must be a mapping of fields"
        ));
    }
    let sweep = doc.get("sweep").cloned();
    let axes = take_sweep(&mut doc).map_err(|e| anyhow!("{origin}: {e}"))?;
    let swept: Vec<String> = axes.iter().flat_map(|a| a.paths.clone()).collect();
    let mut points = Vec::new();
    for combo in combinations(&axes) {
        let mut point_doc = doc.clone();
        for Assignment { path, value } in &combo {
            set_path(&mut point_doc, path, value.clone()).map_err(|e| anyhow!("{origin}: {e}"))?;
        }
        let params: Vec<(String, String)> = combo
            .iter()
            .map(|a| (a.path.clone(), value_label(&a.value)))
            .collect();
        let label = if params.is_empty() {
            "base".to_string()
        } else {
            params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let at = if params.is_empty() {
            String::new()
        } else {
            format!(" (sweep point {label})")
        };
        let experiment: Experiment = serde_path_to_error::deserialize(point_doc).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                anyhow!("{origin}{at}: {inner}")
            } else {
                anyhow!("{origin}{at}: {path}: {inner}")
            }
        })?;
        experiment
            .validate()
            .map_err(|e| anyhow!("{origin}{at}: {e}"))?;
        points.push(Point {
            label,
            params,
            experiment,
            backend: "local",
        });
    }
    let trial_points = points
        .iter()
        .filter(|p| p.experiment.trials.is_some())
        .count();
    if trial_points != 0 && trial_points != points.len() {
        return Err(anyhow!(
            "{origin}: the sweep mixes trial points and load points; their results have different columns, so split them into two experiments"
        ));
    }
    Ok(Plan {
        document: doc,
        sweep,
        text: text.to_string(),
        swept,
        points,
    })
}

/// Reads and parses an experiment file.
pub fn load_plan(path: &Path) -> anyhow::Result<Plan> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_plan(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "name: t\nprotocol: raft\nworkload:\n  arrival: {kind: open, rate: 100}\n  duration: 3s\n";

    fn err(text: &str) -> String {
        format!("{:#}", parse_plan(text, "exp.yaml").unwrap_err())
    }

    #[test]
    fn a_sweep_expands_into_typed_points() {
        let text = format!(
            "{GOOD}sweep:\n  protocol: [raft, multipaxos]\n  workload.arrival.rate: [10, 20]\n"
        );
        let plan = parse_plan(&text, "exp.yaml").unwrap();
        assert_eq!(plan.points.len(), 4);
        assert_eq!(
            plan.points[1].label,
            "protocol=raft,workload.arrival.rate=20"
        );
        assert_eq!(
            plan.points[3]
                .experiment
                .workload
                .as_ref()
                .and_then(|w| w.offered_rate()),
            Some(20.0)
        );
        assert_eq!(plan.swept, vec!["protocol", "workload.arrival.rate"]);
    }

    #[test]
    fn bad_files_name_the_field_and_the_reason() {
        let cases = [
            (format!("{GOOD}nodez: 3\n"), "unknown field `nodez`"),
            (
                GOOD.replace("raft", "zab"),
                "protocol: unknown variant `zab`",
            ),
            (format!("{GOOD}nodes: 0\n"), "nodes: must be at least 1"),
            (
                GOOD.replace("rate: 100", "rate: -5"),
                "workload.arrival.rate",
            ),
            (format!("{GOOD}  warmup: 5s\n"), "workload.warmup"),
            (
                format!("{GOOD}sweep:\n  nodes: [3, 0]\n"),
                "sweep point nodes=0",
            ),
            (
                GOOD.replace("duration: 3s", "duration: soon"),
                "workload.duration",
            ),
            ("name: t\nworkload: [1]\n".to_string(), "exp.yaml"),
            (":\n  - [".to_string(), "not valid YAML"),
            (
                format!("{GOOD}protocol_config: {{election_timeout_min: soon}}\n"),
                "protocol_config.election_timeout_min",
            ),
            (
                format!("{GOOD}protocol_config: {{heartbeat: 5ms}}\n"),
                "protocol_config.heartbeat: unknown field `heartbeat`",
            ),
            (
                format!("{}  cas_ratio: 0.1\n", GOOD.replace("raft", "abd")),
                "workload.cas_ratio: abd cannot execute compare-and-set",
            ),
            (
                format!("{GOOD}  cas_ratio: 0.1\nsweep:\n  protocol: [raft, abd]\n"),
                "cas_ratio: abd cannot",
            ),
        ];
        for (text, expected) in cases {
            let e = err(&text);
            assert!(e.contains(expected), "{text:?}\n=> {e}");
        }
    }

    #[test]
    fn abd_takes_its_own_config_and_no_compare_and_set() {
        let text = format!(
            "{}protocol_config: {{retry_interval: 20ms, read_fast_path: false}}\n",
            GOOD.replace("raft", "abd")
        );
        let plan = parse_plan(&text, "exp.yaml").unwrap();
        assert_eq!(plan.points[0].experiment.protocol.name(), "abd");
        let e = err(&format!(
            "{}protocol_config: {{heartbeat_interval: 5ms}}\n",
            GOOD.replace("raft", "abd")
        ));
        assert!(e.contains("unknown field `heartbeat_interval`"), "{e}");
    }

    #[test]
    fn bad_trial_sections_are_rejected_with_the_field() {
        const TRIALS: &str =
            "name: t\nprotocol: raft\nnodes: 5\ndurability: nosync\ntrials:\n  count: 4\n";
        assert!(parse_plan(TRIALS, "exp.yaml").is_ok());
        let cases = [
            (
                format!("{TRIALS}  clusters: 0\n"),
                "trials.clusters: 0 is out of range",
            ),
            (
                format!("{TRIALS}  clusters: 17\n"),
                "trials.clusters: 17 is out of range",
            ),
            (TRIALS.replace("count: 4", "count: 0"), "trials.count"),
            (
                TRIALS.replace("nodes: 5", "nodes: 2"),
                "use 3 or more nodes",
            ),
            (TRIALS.replace("nosync", "memory"), "durability"),
        ];
        for (text, expected) in cases {
            let e = err(&text);
            assert!(e.contains(expected), "{text:?}\n=> {e}");
        }
    }
}
