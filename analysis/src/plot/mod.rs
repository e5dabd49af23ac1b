//! Paper-ready figures from a results folder's CSVs alone (so they work on
//! results copied from a testbed and on old results): SVG for papers, PNG
//! for quick looks and the HTML report. Pure Rust with an embedded font.
//!
//! Which figures are drawn depends on what the results contain:
//! throughput vs latency (load sweeps), latency spectra (`latency/*.hgrm`),
//! scalability (several cluster sizes), time series with faults marked
//! (fault timelines), recovery metrics (`recovery.csv`), CDFs of trials
//! (`trials_cdf.csv`), and for leaderless stores sibling and stale-read
//! rates against conflicts (`conflicts.csv`) and PBS curves, P(consistent
//! read) against time since the write, measured and predicted
//! (`staleness.csv`).

pub mod chart;
pub mod figures;
pub mod leaderless;
pub mod pbs;
pub mod style;

use crate::table::{ResultTable, TableError};
use figures::Figure;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Problems drawing figures.
#[derive(Debug, Error)]
pub enum PlotError {
    /// A result table could not be read.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The output folder could not be made.
    #[error("creating {path}: {source}")]
    Io {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Drawing failed.
    #[error("drawing {file}: {reason}")]
    Draw {
        /// The figure's file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The folder has nothing to plot.
    #[error("{0} holds no results to plot (no summary.csv, trials_cdf.csv or latency/*.hgrm)")]
    Empty(String),
}

/// Choices of `qlab plot`.
#[derive(Clone, Copy, Debug)]
pub struct PlotOptions {
    /// Latency objective of the scalability figure, ms of p99.
    pub slo_ms: f64,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions { slo_ms: 10.0 }
    }
}

/// Pixel size of one chart.
const SIZE: (u32, u32) = (900, 560);

fn draw_into<DB: DrawingBackend>(
    fig: &Figure,
    root: DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match fig {
        Figure::Line(c) => c.draw(&root)?,
        Figure::Bar(c) => c.draw(&root)?,
        Figure::Stack(charts) => {
            let areas = root.split_evenly((charts.len().max(1), 1));
            for (c, a) in charts.iter().zip(areas.iter()) {
                c.draw(a)?;
            }
        }
    }
    root.present().map_err(|e| e.to_string())
}

/// Writes `fig` as `<dir>/<name>.svg` and `.png`; returns both paths.
pub fn save(fig: &Figure, dir: &Path, name: &str) -> Result<Vec<PathBuf>, PlotError> {
    style::ensure_font().map_err(|reason| PlotError::Draw {
        file: name.into(),
        reason,
    })?;
    let size = match fig {
        Figure::Stack(c) => (SIZE.0, SIZE.1 / 2 * c.len().max(1) as u32 + 40),
        _ => SIZE,
    };
    let svg = dir.join(format!("{name}.svg"));
    let png = dir.join(format!("{name}.png"));
    let fail = |file: &Path, reason: String| PlotError::Draw {
        file: file.display().to_string(),
        reason,
    };
    draw_into(fig, SVGBackend::new(&svg, size).into_drawing_area()).map_err(|e| fail(&svg, e))?;
    draw_into(fig, BitMapBackend::new(&png, size).into_drawing_area())
        .map_err(|e| fail(&png, e))?;
    Ok(vec![svg, png])
}

/// Every figure that applies to the results in `dir`, by file stem.
pub fn figures_for(dir: &Path, opts: PlotOptions) -> Result<Vec<(String, Figure)>, PlotError> {
    let summary = ResultTable::read(&dir.join("summary.csv"))?;
    let ts = ResultTable::read(&dir.join("timeseries.csv"))?;
    let events = ResultTable::read(&dir.join("events.csv"))?;
    let rec = ResultTable::read(&dir.join("recovery.csv"))?;
    let cdf = ResultTable::read(&dir.join("trials_cdf.csv"))?;
    let staleness = ResultTable::read(&dir.join("staleness.csv"))?;
    let mut out = Vec::new();
    if let Some(f) = figures::throughput_latency(&summary) {
        out.push(("throughput-latency".to_string(), f));
    }
    out.extend(figures::spectra(dir));
    if let Some(f) = figures::scalability(&summary, opts.slo_ms) {
        out.push(("scalability".to_string(), f));
    }
    out.extend(figures::timeseries(&ts, &events));
    if let Some(f) = figures::recovery(&rec) {
        out.push(("recovery".to_string(), f));
    }
    if let Some(f) = figures::trial_cdf(&cdf) {
        out.push(("trials-cdf".to_string(), f));
    }
    let conflicts = ResultTable::read(&dir.join("conflicts.csv"))?;
    if let Some(f) = leaderless::conflicts(&conflicts) {
        out.push(("conflicts".to_string(), f));
    }
    out.extend(pbs::pbs_curves(&staleness));
    Ok(out)
}

/// Draws every figure that applies into `dir/plots/`; returns the files.
pub fn render_all(dir: &Path, opts: PlotOptions) -> Result<Vec<PathBuf>, PlotError> {
    let figs = figures_for(dir, opts)?;
    if figs.is_empty() {
        return Err(PlotError::Empty(dir.display().to_string()));
    }
    let out = dir.join("plots");
    std::fs::create_dir_all(&out).map_err(|source| PlotError::Io {
        path: out.display().to_string(),
        source,
    })?;
    let mut files = Vec::new();
    for (name, fig) in &figs {
        files.extend(save(fig, &out, name)?);
    }
    Ok(files)
}
