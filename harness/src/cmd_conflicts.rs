//! `qlab conflicts RESULTS`: contention against its consequences, per point
//! of a run with `history: true` (see
//! `experiments/leaderless-contention.yaml`): the measured conflict rate
//! (writes overlapping another write to their key), the sibling rate
//! (reads returning concurrent versions) and the stale-read rate
//! (`analysis::conflicts`). Writes `RESULTS/conflicts.csv`, which
//! `qlab report` plots.

use analysis::conflicts::measure;
use analysis::history::read_history;
use anyhow::{bail, Context};
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `qlab conflicts`.
#[derive(Args, Debug)]
pub struct ConflictsArgs {
    /// A results folder of a run with `history: true`.
    pub results: PathBuf,
}

/// Columns of `conflicts.csv`.
pub const COLUMNS: [&str; 12] = [
    "point",
    "repetition",
    "series",
    "writes",
    "conflicting_writes",
    "conflict_rate",
    "reads",
    "sibling_reads",
    "sibling_rate",
    "judged_reads",
    "stale_reads",
    "stale_rate",
];

/// The line a point belongs to in the figure: its label without the
/// workload's parameters (the contention axis), e.g. the protocol and its
/// quorum configuration, with the `protocol=` and `protocol_config=`
/// prefixes dropped for legibility.
pub fn series_of(point: &str) -> String {
    let kept: Vec<&str> = point
        .split(',')
        .map(str::trim)
        .filter(|part| !part.starts_with("workload."))
        .map(|part| {
            part.strip_prefix("protocol=")
                .or_else(|| part.strip_prefix("protocol_config="))
                .unwrap_or(part)
        })
        .filter(|part| !part.is_empty())
        .collect();
    if kept.is_empty() {
        "all".to_string()
    } else {
        kept.join(",")
    }
}

/// Writes `dir/conflicts.csv` from `dir/history.csv`; returns its path.
pub fn write_conflicts(dir: &Path) -> anyhow::Result<PathBuf> {
    let history_path = dir.join("history.csv");
    if !history_path.exists() {
        bail!(
            "{} has no history.csv: run the experiment with `history: true`",
            dir.display()
        );
    }
    let histories = read_history(&history_path)
        .with_context(|| format!("reading {}", history_path.display()))?;
    let out_path = dir.join("conflicts.csv");
    let mut out = csv::Writer::from_path(&out_path)
        .with_context(|| format!("writing {}", out_path.display()))?;
    out.write_record(COLUMNS)?;
    let f = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
    for ((point, repetition), ops) in &histories {
        let s = measure(ops);
        out.write_record([
            point.clone(),
            repetition.to_string(),
            series_of(point),
            s.writes.to_string(),
            s.conflicting_writes.to_string(),
            f(s.conflict_rate()),
            s.reads.to_string(),
            s.sibling_reads.to_string(),
            f(s.sibling_rate()),
            s.judged_reads.to_string(),
            s.stale_reads.to_string(),
            f(s.stale_rate()),
        ])?;
    }
    out.flush()
        .with_context(|| format!("writing {}", out_path.display()))?;
    Ok(out_path)
}

/// Runs `qlab conflicts`.
pub fn run(args: ConflictsArgs) -> anyhow::Result<()> {
    let path = write_conflicts(&args.results)?;
    let table = analysis::table::ResultTable::read(&path)
        .with_context(|| format!("reading back {}", path.display()))?;
    for r in table.iter() {
        println!(
            "{} (rep {}): conflict rate {}, sibling rate {}, stale rate {}",
            r.text("point"),
            r.text("repetition"),
            r.text("conflict_rate"),
            r.text("sibling_rate"),
            r.text("stale_rate"),
        );
    }
    println!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_drops_the_workload_axis() {
        assert_eq!(
            series_of("protocol_config=n=3;r=1;w=1,workload.keys=10"),
            "n=3;r=1;w=1"
        );
        assert_eq!(series_of("workload.keys=10"), "all");
        assert_eq!(
            series_of("protocol=abd,protocol_config=,workload.key_choice.rate=1.0"),
            "abd"
        );
        assert_eq!(
            series_of("protocol=dynamo,protocol_config=n=3;r=2;w=2,workload.keys=5"),
            "dynamo,n=3;r=2;w=2"
        );
    }
}
