//! `qlab cap RESULTS`: the CAP/PACELC table of a run made with
//! `client_partitions: true` and `history: true` (see
//! `experiments/cap-partition.yaml`): per point, how available each side of
//! the partition stayed, whether the history is linearizable, how many
//! reads were stale during the partition and outside it, the latency
//! outside it, and the PACELC class these measurements earn
//! (`analysis::cap`). Writes `RESULTS/cap.csv`.

use crate::cmd_check::version_models;
use analysis::cap::{classify, CapMeasurement, CapThresholds};
use analysis::history::read_history;
use analysis::staleness::observe;
use analysis::table::ResultTable;
use anyhow::{bail, Context};
use clap::Args;
use protocols::check::{check_history_with, CheckLimits, CheckResult, HistoryOp, Outcome};
use std::path::PathBuf;

/// Arguments of `qlab cap`.
#[derive(Args, Debug)]
pub struct CapArgs {
    /// A results folder of a run with `client_partitions: true` and
    /// `history: true`.
    pub results: PathBuf,
    /// A side at or above this availability counts as available (PA).
    #[arg(long, default_value_t = CapArgs::DEFAULT_AVAILABLE)]
    pub available: f64,
    /// A side at or below this availability counts as unavailable (PC).
    #[arg(long, default_value_t = CapArgs::DEFAULT_UNAVAILABLE)]
    pub unavailable: f64,
    /// Linearizability search states per key before a key is undecided.
    #[arg(long, default_value_t = CapArgs::DEFAULT_MAX_STATES)]
    pub max_states: u64,
}

impl CapArgs {
    /// Default of `--available`.
    pub const DEFAULT_AVAILABLE: f64 = 0.9;
    /// Default of `--unavailable`.
    pub const DEFAULT_UNAVAILABLE: f64 = 0.1;
    /// Default of `--max-states`.
    pub const DEFAULT_MAX_STATES: u64 = 2_000_000;

    /// The defaults for the results folder `results`.
    pub fn defaults(results: PathBuf) -> CapArgs {
        CapArgs {
            results,
            available: Self::DEFAULT_AVAILABLE,
            unavailable: Self::DEFAULT_UNAVAILABLE,
            max_states: Self::DEFAULT_MAX_STATES,
        }
    }
}

/// Columns of `cap.csv`.
const COLUMNS: [&str; 17] = [
    "point",
    "repetition",
    "protocol",
    "minority_side",
    "minority_availability",
    "majority_side",
    "majority_availability",
    "linearizable",
    "reads_during",
    "stale_during",
    "reads_else",
    "stale_else",
    "else_p50_ms",
    "else_p99_ms",
    "pacelc",
    "partition_class",
    "because",
];

/// Partition windows of one point, ns on the history's clock.
fn partition_windows(events: &ResultTable, point: &str, repetition: &str) -> Vec<(u64, u64)> {
    let mut windows = Vec::new();
    let mut open: Option<u64> = None;
    let ns = |ms: f64| (ms.max(0.0) * 1e6) as u64;
    for e in events.iter() {
        if e.text("point") != point || e.text("repetition") != repetition {
            continue;
        }
        let Some(t) = e.num("time_ms") else { continue };
        match e.text("kind") {
            "fault_partition" | "fault_isolate" => {
                open.get_or_insert(ns(t));
            }
            "fault_heal" => {
                if let Some(start) = open.take() {
                    windows.push((start, ns(t)));
                }
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        windows.push((start, u64::MAX));
    }
    windows
}

fn within(windows: &[(u64, u64)], t: u64) -> bool {
    windows.iter().any(|&(a, b)| a <= t && t < b)
}

/// Nearest-rank percentile of sorted values.
fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[i])
}

/// Latencies (ms, sorted) of successful operations that began and ended
/// outside every partition window.
fn else_latencies(ops: &[HistoryOp], windows: &[(u64, u64)]) -> Vec<f64> {
    let mut v: Vec<f64> = ops
        .iter()
        .filter(|op| matches!(op.outcome, Outcome::Ok(_)))
        .filter(|op| {
            !within(windows, op.invoke.0)
                && !within(windows, op.ret.0)
                && !windows
                    .iter()
                    .any(|&(a, _)| op.invoke.0 < a && a <= op.ret.0)
        })
        .map(|op| op.ret.0.saturating_sub(op.invoke.0) as f64 / 1e6)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

fn side_size(label: &str) -> usize {
    label.split('+').filter(|s| !s.is_empty()).count()
}

/// Runs `qlab cap`.
pub fn run(args: CapArgs) -> anyhow::Result<()> {
    let dir = &args.results;
    let table = |name: &str| -> anyhow::Result<ResultTable> {
        ResultTable::read(&dir.join(name)).with_context(|| format!("reading {name}"))
    };
    let sides = table("availability.csv")?;
    if sides.is_empty() {
        bail!(
            "{} has no availability.csv rows: run the experiment with `client_partitions: true` and a partition fault",
            dir.display()
        );
    }
    let history_path = dir.join("history.csv");
    if !history_path.exists() {
        bail!(
            "{} has no history.csv: run the experiment with `history: true`",
            dir.display()
        );
    }
    let histories = read_history(&history_path)
        .with_context(|| format!("reading {}", history_path.display()))?;
    let events = table("events.csv")?;
    let models = version_models(dir)?;
    let limits = CheckLimits {
        max_states_per_key: args.max_states,
        threads: 0,
    };
    let thresholds = CapThresholds {
        available: args.available,
        unavailable: args.unavailable,
    };
    let out_path = dir.join("cap.csv");
    let mut out = csv::Writer::from_path(&out_path)
        .with_context(|| format!("writing {}", out_path.display()))?;
    out.write_record(COLUMNS)?;
    for ((point, repetition), rows) in group_points(&sides) {
        let mut by_size: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    side_size(r.text("side")),
                    r.text("side"),
                    r.num("availability"),
                )
            })
            .collect();
        by_size.sort_by_key(|(n, _, _)| *n);
        let (Some(minority), Some(majority)) = (by_size.first(), by_size.last()) else {
            continue;
        };
        let protocol = rows.first().map(|r| r.text("protocol")).unwrap_or("");
        let rep: u32 = repetition.parse().unwrap_or(0);
        let empty = Vec::new();
        let ops = histories.get(&(point.clone(), rep)).unwrap_or(&empty);
        let windows = partition_windows(&events, &point, &repetition);
        let model = models.get(&point).copied().unwrap_or_default();
        let linearizable = match check_history_with(ops, limits, model) {
            CheckResult::Linearizable { .. } => Some(true),
            CheckResult::Violation(_) => Some(false),
            CheckResult::Unknown { .. } => None,
        };
        let reads: Vec<_> = observe(ops).into_iter().filter(|r| r.is_judged()).collect();
        let (during, normal): (Vec<_>, Vec<_>) =
            reads.iter().partition(|r| within(&windows, r.invoke_ns));
        let stale = |v: &[&analysis::staleness::ReadObservation]| {
            v.iter().filter(|r| r.is_stale()).count() as u64
        };
        let lat = else_latencies(ops, &windows);
        let m = CapMeasurement {
            minority_availability: minority.2,
            majority_availability: majority.2,
            linearizable,
            reads_during: during.len() as u64,
            stale_during: stale(&during),
            reads_else: normal.len() as u64,
            stale_else: stale(&normal),
            else_p50_ms: nearest_rank(&lat, 0.5),
            else_p99_ms: nearest_rank(&lat, 0.99),
        };
        let class = classify(&m, thresholds);
        let f =
            |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or_default();
        let record = [
            point.clone(),
            repetition.clone(),
            protocol.to_string(),
            minority.1.to_string(),
            f(m.minority_availability, 4),
            majority.1.to_string(),
            f(m.majority_availability, 4),
            linearizable.map(|b| b.to_string()).unwrap_or_default(),
            m.reads_during.to_string(),
            m.stale_during.to_string(),
            m.reads_else.to_string(),
            m.stale_else.to_string(),
            f(m.else_p50_ms, 3),
            f(m.else_p99_ms, 3),
            class.label(),
            class.partition.to_string(),
            class.because.clone(),
        ];
        out.write_record(&record)?;
        println!(
            "{point} ({protocol}): {} — {}",
            class.label(),
            class.because
        );
    }
    out.flush()?;
    println!("wrote {}", out_path.display());
    Ok(())
}

type PointRows<'a> = Vec<((String, String), Vec<analysis::table::RowRef<'a>>)>;

/// Rows of `availability.csv` grouped by (point, repetition), in file order.
fn group_points(t: &ResultTable) -> PointRows<'_> {
    let mut groups: PointRows<'_> = Vec::new();
    for r in t.iter() {
        let key = (
            r.text("point").to_string(),
            r.text("repetition").to_string(),
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, rows)) => rows.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_pair_partitions_with_heals_and_stay_open_without_one() {
        let mut t = ResultTable {
            columns: ["point", "repetition", "time_ms", "node", "kind", "detail"]
                .map(String::from)
                .to_vec(),
            rows: Vec::new(),
        };
        for (p, ms, kind) in [
            ("a", "1000", "fault_partition"),
            ("a", "3000", "fault_heal"),
            ("b", "2000", "fault_isolate"),
            ("a", "4000", "leader_elected"),
        ] {
            t.rows
                .push([p, "0", ms, "all", kind, ""].map(String::from).to_vec());
        }
        assert_eq!(
            partition_windows(&t, "a", "0"),
            vec![(1_000_000_000, 3_000_000_000)]
        );
        assert_eq!(
            partition_windows(&t, "b", "0"),
            vec![(2_000_000_000, u64::MAX)]
        );
        assert!(within(&[(5, 10)], 5) && !within(&[(5, 10)], 10));
        assert_eq!(side_size("0+1"), 2);
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.0));
    }
}
