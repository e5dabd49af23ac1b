//! `qlab report RESULTS_DIR`: one self-contained `report.html` (figures
//! inlined) from a results folder's CSVs alone. Analyses of recorded
//! histories that the page shows (`conflicts.csv`, `staleness.csv`, and
//! `cap.csv` for partition runs) are written first when missing or out of date.

use analysis::plot::PlotOptions;
use analysis::report::write_report;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `qlab report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A results folder written by `qlab run` (or copied from a testbed).
    pub results: PathBuf,
    /// Latency objective of the scalability figure, ms of p99.
    #[arg(long, default_value_t = 10.0)]
    pub slo_ms: f64,
}

/// Whether `derived` is missing or older than `source` in `dir`.
fn stale_or_missing(dir: &Path, derived: &str, source: &str) -> bool {
    let modified = |name: &str| {
        std::fs::metadata(dir.join(name))
            .and_then(|m| m.modified())
            .ok()
    };
    match (modified(derived), modified(source)) {
        (None, _) => true,
        (Some(d), Some(s)) => d < s,
        (Some(_), None) => false,
    }
}

/// Writes the analyses the report shows but `qlab run` does not write
/// itself, when their inputs exist and their output is missing or older:
/// `conflicts.csv` and `staleness.csv` (with the PBS model beside it where
/// the run had a `link_latency`) from a history, `cap.csv` from a
/// partition run with split clients.
fn derive_analyses(dir: &Path) -> anyhow::Result<()> {
    if !dir.join("history.csv").exists() {
        return Ok(());
    }
    if stale_or_missing(dir, "conflicts.csv", "history.csv") {
        crate::cmd_conflicts::write_conflicts(dir)?;
    }
    if stale_or_missing(dir, "staleness.csv", "history.csv") {
        crate::cmd_pbs::measure_defaults(dir)?;
    }
    let partition_run = analysis::table::ResultTable::read(&dir.join("availability.csv"))
        .map(|t| !t.is_empty())
        .unwrap_or(false);
    if partition_run && stale_or_missing(dir, "cap.csv", "history.csv") {
        crate::cmd_cap::run(crate::cmd_cap::CapArgs::defaults(dir.to_path_buf()))?;
    }
    Ok(())
}

/// Runs `qlab report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    crate::cmd_plot::check_args(&args.results, args.slo_ms)?;
    derive_analyses(&args.results)
        .with_context(|| format!("analysing the histories of {}", args.results.display()))?;
    let path = write_report(
        &args.results,
        PlotOptions {
            slo_ms: args.slo_ms,
        },
    )
    .with_context(|| format!("writing the report of {}", args.results.display()))?;
    println!("{}", path.display());
    Ok(())
}
