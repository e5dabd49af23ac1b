//! `qlab plot RESULTS_DIR`: draw every figure that applies to a results
//! folder into `RESULTS_DIR/plots/` (SVG and PNG), from its CSVs alone.

use analysis::plot::{render_all, PlotOptions};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `qlab plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// A results folder written by `qlab run` (or copied from a testbed).
    pub results: PathBuf,
    /// Latency objective of the scalability figure: p99 at most this many
    /// milliseconds.
    #[arg(long, default_value_t = 10.0)]
    pub slo_ms: f64,
}

/// Checks the arguments `qlab plot` and `qlab report` share.
pub fn check_args(results: &std::path::Path, slo_ms: f64) -> anyhow::Result<()> {
    anyhow::ensure!(
        slo_ms > 0.0 && slo_ms.is_finite(),
        "--slo-ms must be a positive number of milliseconds"
    );
    anyhow::ensure!(
        results.is_dir(),
        "{} is not a results folder",
        results.display()
    );
    Ok(())
}

/// Runs `qlab plot`.
pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    check_args(&args.results, args.slo_ms)?;
    let files = render_all(
        &args.results,
        PlotOptions {
            slo_ms: args.slo_ms,
        },
    )
    .with_context(|| format!("plotting {}", args.results.display()))?;
    for f in &files {
        println!("{}", f.display());
    }
    Ok(())
}
