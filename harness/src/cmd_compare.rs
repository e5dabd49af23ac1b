//! `qlab compare`: two runs side by side (per point, repetitions averaged,
//! ratios B/A), or, with `--by protocol`, the points of one run that differ
//! only in the protocol, as ratios against the first protocol.

use analysis::compare::{compare_by, compare_runs, Comparison, SummaryTable};
use anyhow::{bail, Context};
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `qlab compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Results folder (or its `summary.csv`) of run A, the baseline.
    run_a: PathBuf,
    /// Results folder (or its `summary.csv`) of run B; omit with `--by`.
    run_b: Option<PathBuf>,
    /// Compare, within one run, points that differ only in this column
    /// (e.g. `protocol`), against the value of the run's first point.
    #[arg(long)]
    by: Option<String>,
    /// Summary columns to compare, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "achieved_ops_per_s,p50_us,p99_us"
    )]
    metrics: Vec<String>,
    /// Also write the comparison as CSV (point, metric, a, b, ratio).
    #[arg(long)]
    csv: Option<PathBuf>,
}

fn summary_of(run: &Path) -> anyhow::Result<SummaryTable> {
    let path = if run.is_file() {
        run.to_path_buf()
    } else {
        run.join("summary.csv")
    };
    if !path.exists() {
        bail!(
            "{} not found: give a results folder written by `qlab run`",
            path.display()
        );
    }
    SummaryTable::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// Runs `qlab compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let metrics: Vec<String> = args
        .metrics
        .iter()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    if metrics.is_empty() {
        bail!("--metrics names no column");
    }
    let a = summary_of(&args.run_a)?;
    let (comparison, a_name, b_name) = match (&args.by, &args.run_b) {
        (Some(_), Some(_)) => bail!("--by compares points within one run: give one results folder"),
        (None, None) => bail!("give two results folders, or one with --by COLUMN"),
        (None, Some(run_b)) => {
            let b = summary_of(run_b)?;
            let c = compare_runs(&a, &b, &metrics).context("comparing the runs")?;
            (c, "A".to_string(), "B".to_string())
        }
        (Some(column), None) => {
            let c = compare_by(&a, column, &metrics)
                .with_context(|| format!("comparing points by {column}"))?;
            let base = c.baseline.clone().unwrap_or_default();
            (c, format!("{column}={base}"), "point".to_string())
        }
    };
    match (&args.by, &args.run_b) {
        (None, Some(run_b)) => println!("A = {}\nB = {}\n", args.run_a.display(), run_b.display()),
        _ => println!(
            "{}: each point against the same point with {a_name}\n",
            args.run_a.display()
        ),
    }
    print!("{}", render(&comparison, &a_name, &b_name));
    if let Some(path) = &args.csv {
        write_csv(&comparison, path).with_context(|| format!("writing {}", path.display()))?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

/// A number for the terminal: integers plainly, others with two decimals.
fn num(x: f64) -> String {
    if !x.is_finite() {
        "-".to_string()
    } else if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn ratio(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "-".to_string()
    }
}

/// The comparison as an aligned text table plus the unmatched points.
fn render(c: &Comparison, a_name: &str, b_name: &str) -> String {
    let mut cells: Vec<[String; 5]> = vec![[
        "point".into(),
        "metric".into(),
        a_name.to_string(),
        b_name.to_string(),
        format!("{b_name}/{a_name}"),
    ]];
    if a_name.contains('=') {
        cells[0][4] = "ratio".into();
    }
    for r in &c.rows {
        cells.push([
            r.point.clone(),
            r.metric.clone(),
            num(r.a),
            num(r.b),
            ratio(r.ratio),
        ]);
    }
    let mut width = [0usize; 5];
    for row in &cells {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &cells {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {:>w4$}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3],
            w4 = width[4],
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if c.rows.is_empty() {
        out.push_str("(no matching points)\n");
    }
    let unmatched = |out: &mut String, title: &str, points: &[String]| {
        if !points.is_empty() {
            out.push_str(&format!("\n{title}:\n"));
            for p in points {
                out.push_str(&format!("  {p}\n"));
            }
        }
    };
    if c.baseline.is_some() {
        unmatched(&mut out, "points without a baseline partner", &c.only_a);
    } else {
        unmatched(&mut out, "points only in A", &c.only_a);
        unmatched(&mut out, "points only in B", &c.only_b);
    }
    out
}

fn write_csv(c: &Comparison, path: &Path) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["point", "metric", "a", "b", "ratio"])?;
    let cell = |x: f64| {
        if x.is_finite() {
            x.to_string()
        } else {
            String::new()
        }
    };
    for r in &c.rows {
        w.write_record([
            r.point.clone(),
            r.metric.clone(),
            cell(r.a),
            cell(r.b),
            cell(r.ratio),
        ])?;
    }
    w.flush()?;
    Ok(())
}
