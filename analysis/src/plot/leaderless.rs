//! Figures of the leaderless experiments: consequences of contention
//! (`conflicts.csv`, written by `qlab conflicts`) and the probability of a
//! consistent read against time since the write (`staleness.csv`, written
//! by `qlab pbs --history`), with the PBS model's prediction beside the
//! measurement when the file carries it.

use super::chart::{LineChart, Marker, Scale, Series};
use super::figures::{short, Figure};
use super::style::indexed;
use crate::table::ResultTable;

/// Column of `staleness.csv` with the model's prediction per bin, when the
/// run's link latency was known.
pub const PREDICTED_COLUMN: &str = "predicted_p_consistent";

fn line(name: String, color: String, marker: Marker, points: Vec<(f64, f64)>) -> Series {
    Series {
        name,
        color_key: color,
        errors: vec![None; points.len()],
        points,
        marker,
        line: true,
    }
}

/// Sibling rate and stale-read rate (percent) against the measured
/// conflict rate (percent), one line per `series` of `conflicts.csv`.
pub fn conflicts(t: &ResultTable) -> Option<Figure> {
    if t.is_empty() || !t.has("conflict_rate") {
        return None;
    }
    let chart = |title: &str, y: &str, column: &str| {
        let series: Vec<Series> = t
            .group_by("series")
            .into_iter()
            .enumerate()
            .map(|(i, (name, rows))| {
                let mut pts: Vec<(f64, f64)> = rows
                    .iter()
                    .filter_map(|r| Some((r.num("conflict_rate")? * 100.0, r.num(column)? * 100.0)))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                line(short(&name), indexed(i), Marker::Circle, pts)
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        LineChart {
            title: title.into(),
            x_label: "writes overlapping another write to their key (%)".into(),
            y_label: y.into(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            series,
            marks: Vec::new(),
        }
    };
    let charts = vec![
        chart(
            "Reads returning siblings against write conflicts",
            "reads with siblings (%)",
            "sibling_rate",
        ),
        chart(
            "Stale reads against write conflicts",
            "stale reads (%)",
            "stale_rate",
        ),
    ];
    if charts.iter().all(|c| c.series.is_empty()) {
        return None;
    }
    Some(Figure::Stack(charts))
}

/// P(consistent read) against time since the last acknowledged write, one
/// measured line per point (circles) and, when present, the PBS model's
/// prediction for it (a plain line of the same colour).
pub fn staleness(t: &ResultTable) -> Option<Figure> {
    if t.is_empty() || !t.has("p_consistent") || !t.has("t_ms") {
        return None;
    }
    let mut series = Vec::new();
    for (i, (point, rows)) in t.group_by("point").into_iter().enumerate() {
        // Repetitions are drawn as one line of bin-wise reads-weighted means.
        let mut bins: Vec<(f64, f64, f64, Option<f64>)> = Vec::new();
        for r in &rows {
            let (Some(x), Some(p)) = (r.num("t_ms"), r.num("p_consistent")) else {
                continue;
            };
            let w = r.num("bin_reads").unwrap_or(1.0).max(0.0);
            let predicted = r.num(PREDICTED_COLUMN);
            match bins.iter_mut().find(|b| b.0 == x) {
                Some(b) => {
                    b.1 += p * w;
                    b.2 += w;
                    b.3 = b.3.or(predicted);
                }
                None => bins.push((x, p * w, w, predicted)),
            }
        }
        bins.sort_by(|a, b| a.0.total_cmp(&b.0));
        let measured: Vec<(f64, f64)> = bins
            .iter()
            .filter(|b| b.2 > 0.0)
            .map(|b| (b.0, b.1 / b.2))
            .collect();
        let predicted: Vec<(f64, f64)> = bins.iter().filter_map(|b| Some((b.0, b.3?))).collect();
        let color = indexed(i);
        let name = short(&point);
        if !measured.is_empty() {
            series.push(line(
                format!("{name} measured"),
                color.clone(),
                Marker::Circle,
                measured,
            ));
        }
        if !predicted.is_empty() {
            series.push(line(
                format!("{name} PBS model"),
                color,
                Marker::None,
                predicted,
            ));
        }
    }
    if series.is_empty() {
        return None;
    }
    Some(Figure::Line(LineChart {
        title: "Probability of a consistent read after a write".into(),
        x_label: "time since the write was acknowledged (ms, bin start)".into(),
        y_label: "P(consistent read)".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Linear,
        series,
        marks: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[&str], rows: &[&[&str]]) -> ResultTable {
        ResultTable {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect(),
        }
    }

    #[test]
    fn conflicts_figure_has_one_line_per_series_sorted_by_conflict_rate() {
        let t = table(
            &[
                "point",
                "series",
                "conflict_rate",
                "sibling_rate",
                "stale_rate",
            ],
            &[
                &["a,workload.keys=2", "a", "0.5", "0.2", "0.1"],
                &["a,workload.keys=100", "a", "0.01", "0.0", "0.0"],
                &["b,workload.keys=2", "b", "0.4", "0.0", ""],
            ],
        );
        let Some(Figure::Stack(charts)) = conflicts(&t) else {
            panic!("no figure")
        };
        assert_eq!(charts.len(), 2);
        assert_eq!(charts[0].series.len(), 2);
        assert_eq!(charts[0].series[0].points, vec![(1.0, 0.0), (50.0, 20.0)]);
        // b has no stale rate: its stale line is left out.
        assert_eq!(charts[1].series.len(), 1);
    }

    #[test]
    fn staleness_figure_weights_repetitions_and_adds_the_model() {
        let t = table(
            &[
                "point",
                "repetition",
                "t_ms",
                "bin_reads",
                "p_consistent",
                PREDICTED_COLUMN,
            ],
            &[
                &["r1", "0", "0", "10", "0.5", "0.6"],
                &["r1", "1", "0", "30", "0.9", "0.6"],
                &["r1", "0", "5", "10", "1", "0.95"],
            ],
        );
        let Some(Figure::Line(c)) = staleness(&t) else {
            panic!("no figure")
        };
        assert_eq!(c.series.len(), 2);
        assert_eq!(c.series[0].points, vec![(0.0, 0.8), (5.0, 1.0)]);
        assert_eq!(c.series[1].points, vec![(0.0, 0.6), (5.0, 0.95)]);
        assert!(staleness(&table(&["point"], &[])).is_none());
    }
}
