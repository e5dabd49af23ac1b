//! `qlab report RESULTS_DIR`: one self-contained `report.html` (figures
//! inlined) from a results folder's CSVs alone.

use analysis::plot::PlotOptions;
use analysis::report::write_report;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `qlab report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A results folder written by `qlab run` (or copied from a testbed).
    pub results: PathBuf,
    /// Latency objective of the scalability figure, ms of p99.
    #[arg(long, default_value_t = 10.0)]
    pub slo_ms: f64,
}

/// Runs `qlab report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    crate::cmd_plot::check_args(&args.results, args.slo_ms)?;
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
