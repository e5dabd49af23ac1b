//! Figures of the leaderless contention experiment: sibling and stale-read
//! rates against the measured conflict rate (`conflicts.csv`, written by
//! `qlab conflicts`). The PBS curves of `staleness.csv` are in
//! [`super::pbs`].

use super::chart::{LineChart, Marker, Scale, Series};
use super::figures::{short, Figure};
use super::style::indexed;
use crate::table::ResultTable;

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
}
