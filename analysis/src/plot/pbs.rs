//! The PBS figure of a point: P(consistent read) against the time since the
//! last acknowledged write, measured (`staleness.csv`, written by `qlab pbs
//! --history`) and predicted by the WARS model for the same reads.

use super::chart::{LineChart, Marker, Scale, Series};
use super::figures::{sanitize, Figure};
use super::style::indexed;
use crate::table::{ResultTable, RowRef};
use std::collections::BTreeMap;

/// One bin summed over repetitions.
#[derive(Default)]
struct Bin {
    t_hi: Option<f64>,
    reads: f64,
    consistent: f64,
    model_sum: f64,
    model_reads: f64,
    model_at_t: Option<f64>,
}

fn bins(rows: &[RowRef<'_>]) -> BTreeMap<u64, (f64, Bin)> {
    let mut out: BTreeMap<u64, (f64, Bin)> = BTreeMap::new();
    for r in rows {
        let (Some(t), Some(n)) = (r.num("t_ms"), r.num("bin_reads")) else {
            continue;
        };
        let (_, b) = out.entry(t.to_bits()).or_insert((t, Bin::default()));
        b.t_hi = r.num("t_hi_ms");
        b.reads += n;
        b.consistent += n * r.num("p_consistent").unwrap_or(0.0);
        if let Some(m) = r.num("model_p_consistent") {
            b.model_sum += n * m;
            b.model_reads += n;
        }
        b.model_at_t = b.model_at_t.or(r.num("model_p_at_t_ms"));
    }
    out
}

/// Where a bin is drawn: its middle, or its lower edge for the open last
/// bin.
fn x_of(t: f64, b: &Bin) -> f64 {
    b.t_hi.map_or(t, |hi| (t + hi) / 2.0)
}

fn line(name: &str, i: usize, marker: Marker, line: bool) -> Series {
    Series {
        name: name.into(),
        color_key: indexed(i),
        points: Vec::new(),
        errors: Vec::new(),
        marker,
        line,
    }
}

/// `label`, cut to `max` characters with an ellipsis (a title must fit).
fn clipped(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        return label.to_string();
    }
    let head: String = label.chars().take(max.saturating_sub(3)).collect();
    format!("{head}...")
}

/// One figure per point of `staleness.csv` (repetitions pooled): measured
/// P(consistent) per bin with a 95% interval, the model averaged over the
/// bin's reads, and the model at the bins' edges.
pub fn pbs_curves(staleness: &ResultTable) -> Vec<(String, Figure)> {
    let mut out = Vec::new();
    for (point, rows) in staleness.group_by("point") {
        let bins = bins(&rows);
        let mut measured = line("measured (95% interval)", 0, Marker::Circle, true);
        let mut model = line("predicted for the same reads", 1, Marker::Triangle, true);
        let mut curve = line("predicted at t", 2, Marker::None, true);
        for (t, b) in bins.values() {
            let x = x_of(*t, b);
            if b.reads > 0.0 {
                let p = b.consistent / b.reads;
                let half = 1.96 * (p * (1.0 - p) / b.reads).sqrt();
                measured.points.push((x, p));
                measured
                    .errors
                    .push(Some(((p - half).max(0.0), (p + half).min(1.0))));
            }
            if b.model_reads > 0.0 {
                model.points.push((x, b.model_sum / b.model_reads));
                model.errors.push(None);
            }
            if let Some(m) = b.model_at_t {
                curve.points.push((*t, m));
                curve.errors.push(None);
            }
        }
        // A point that was never stale and has no model to compare with
        // (a linearizable protocol) would be a flat line at 1: no figure.
        let never_stale = measured.points.iter().all(|p| p.1 >= 1.0);
        if measured.points.is_empty() || (never_stale && model.points.is_empty()) {
            continue;
        }
        let series = [measured, model, curve]
            .into_iter()
            .filter(|s| !s.points.is_empty())
            .collect();
        let chart = LineChart {
            title: format!("P(consistent read), {}", clipped(&point, 60)),
            x_label: "time since the last acknowledged write (ms)".into(),
            y_label: "P(consistent read)".into(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            series,
            marks: Vec::new(),
        };
        out.push((format!("pbs-{}", sanitize(&point)), Figure::Line(chart)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[[&str; 5]]) -> ResultTable {
        ResultTable {
            columns: ["point", "t_ms", "t_hi_ms", "bin_reads", "p_consistent"]
                .iter()
                .map(|c| c.to_string())
                .collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect(),
        }
    }

    #[test]
    fn flat_lines_without_a_model_get_no_figure() {
        let t = table(&[
            ["raft", "0", "1", "50", "1"],
            ["raft", "1", "2", "50", "1"],
            ["dynamo", "0", "1", "40", "0.5"],
            ["dynamo", "1", "2", "60", "1"],
        ]);
        let figs = pbs_curves(&t);
        assert_eq!(figs.len(), 1, "only the point that was ever stale");
        assert_eq!(figs[0].0, "pbs-dynamo");
        let Figure::Line(c) = &figs[0].1 else {
            panic!("a line chart")
        };
        assert_eq!(c.series[0].points, vec![(0.5, 0.5), (1.5, 1.0)]);
    }
}
