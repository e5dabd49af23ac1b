//! Building each kind of figure from a results folder's CSVs. Every
//! builder returns nothing when the results do not contain what it needs,
//! so `qlab plot` draws exactly the figures that apply.

use super::chart::{BarChart, LineChart, Marker, Scale, Series, VMark};
use super::style::indexed;
use crate::stats::{max_throughput_under_slo, mean_ci95, LoadPoint};
use crate::table::{ResultTable, RowRef};
use std::path::Path;

/// A figure ready to be drawn.
#[derive(Clone, Debug)]
pub enum Figure {
    /// One line chart.
    Line(LineChart),
    /// One bar chart.
    Bar(BarChart),
    /// Line charts stacked vertically, sharing the figure.
    Stack(Vec<LineChart>),
}

/// x, y and the 95% confidence interval of y (with repetitions).
type MeanPoint = (f64, f64, Option<(f64, f64)>);

fn series(name: String, key: String, marker: Marker) -> Series {
    Series {
        name,
        color_key: key,
        points: Vec::new(),
        errors: Vec::new(),
        marker,
        line: true,
    }
}

/// Load rows of `summary.csv` (not trial experiments).
fn load_rows(summary: &ResultTable) -> Vec<RowRef<'_>> {
    summary
        .iter()
        .filter(|r| r.text("load") != "trials" && r.num("achieved_ops_per_s").is_some())
        .collect()
}

/// The label of a row's line: its protocol, plus the node count when the
/// results hold several.
fn line_key(r: &RowRef<'_>, many_sizes: bool) -> String {
    if many_sizes {
        format!("{} n={}", r.text("protocol"), r.text("nodes"))
    } else {
        r.text("protocol").to_string()
    }
}

/// Throughput against p50 and p99 latency, one line pair per protocol;
/// repetitions give means with 95% confidence intervals.
pub fn throughput_latency(summary: &ResultTable) -> Option<Figure> {
    let rows = load_rows(summary);
    if rows.len() < 2 {
        return None;
    }
    let many_sizes = summary.distinct("nodes").len() > 1;
    let mut lines: Vec<(String, Vec<RowRef<'_>>)> = Vec::new();
    for r in rows {
        let key = line_key(&r, many_sizes);
        match lines.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => lines.push((key, vec![r])),
        }
    }
    let mut out = Vec::new();
    for (key, rows) in lines {
        let mut points: Vec<(String, Vec<RowRef<'_>>)> = Vec::new();
        for r in rows {
            let p = r.text("point").to_string();
            match points.iter_mut().find(|(k, _)| *k == p) {
                Some((_, v)) => v.push(r),
                None => points.push((p, vec![r])),
            }
        }
        for (pct, col, marker) in [
            ("p50", "p50_us", Marker::Circle),
            ("p99", "p99_us", Marker::Triangle),
        ] {
            let mut s = series(format!("{key} {pct}"), key.clone(), marker);
            let mut pts: Vec<MeanPoint> = points
                .iter()
                .filter_map(|(_, reps)| {
                    let xs: Vec<f64> = reps
                        .iter()
                        .filter_map(|r| r.num("achieved_ops_per_s"))
                        .collect();
                    let ys: Vec<f64> = reps
                        .iter()
                        .filter_map(|r| r.num(col))
                        .map(|v| v / 1000.0)
                        .collect();
                    let x = mean_ci95(&xs)?;
                    let y = mean_ci95(&ys)?;
                    let bar = (ys.len() > 1).then(|| (y.low(), y.high()));
                    Some((x.mean, y.mean, bar))
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            s.points = pts.iter().map(|p| (p.0, p.1)).collect();
            s.errors = pts.iter().map(|p| p.2).collect();
            out.push(s);
        }
    }
    Some(Figure::Line(LineChart {
        title: "Throughput vs latency".into(),
        x_label: "achieved throughput (ops/s)".into(),
        y_label: "latency (ms, log scale)".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Log,
        series: out,
        marks: Vec::new(),
    }))
}

/// Parses an `.hgrm` percentile distribution into (1/(1-p), value in ms),
/// up to p99.99.
pub fn parse_hgrm(text: &str) -> Vec<(f64, f64)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<f64> = l
                .split_whitespace()
                .map(|t| t.parse::<f64>())
                .collect::<Result<_, _>>()
                .ok()?;
            (f.len() == 4 && f[3].is_finite() && f[3] <= 10_000.0).then(|| (f[3], f[0]))
        })
        .collect()
}

/// The latency percentile spectrum of every point (HdrHistogram's plot),
/// in figures of at most eight lines.
pub fn spectra(dir: &Path) -> Vec<(String, Figure)> {
    let Ok(entries) = std::fs::read_dir(dir.join("latency")) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "hgrm"))
        .collect();
    files.sort();
    let mut lines = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let pts = parse_hgrm(&text);
        if pts.len() < 2 {
            continue;
        }
        let name = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = name
            .split(['_', ','])
            .find_map(|p| p.strip_prefix("protocol="))
            .map(str::to_string);
        let i = lines.len();
        let mut s = series(
            short(&name),
            key.unwrap_or_else(|| indexed(i)),
            Marker::None,
        );
        s.points = pts;
        lines.push(s);
    }
    lines
        .chunks(8)
        .enumerate()
        .map(|(i, chunk)| {
            let mut chunk = chunk.to_vec();
            // Protocol colours only when each protocol has one line here;
            // several points of one protocol must be told apart.
            let mut keys: Vec<&String> = chunk.iter().map(|s| &s.color_key).collect();
            keys.sort();
            keys.dedup();
            if keys.len() < chunk.len() {
                for (j, s) in chunk.iter_mut().enumerate() {
                    s.color_key = indexed(j);
                }
            }
            (
                format!("latency-spectrum-{}", i + 1),
                Figure::Line(LineChart {
                    title: "Latency by percentile".into(),
                    x_label: "percentile".into(),
                    y_label: "latency (ms, log scale)".into(),
                    x_scale: Scale::Percentile,
                    y_scale: Scale::Log,
                    series: chunk,
                    marks: Vec::new(),
                }),
            )
        })
        .collect()
}

/// Shortens a point label for a legend: drops path prefixes of swept keys.
pub fn short(label: &str) -> String {
    label
        .split([',', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => format!("{}={v}", k.rsplit('.').next().unwrap_or(k)),
            None => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Highest throughput with p99 under `slo_ms` against cluster size, one
/// line per protocol; only when the results hold several sizes.
pub fn scalability(summary: &ResultTable, slo_ms: f64) -> Option<Figure> {
    let rows = load_rows(summary);
    let sizes = summary.distinct("nodes");
    if sizes.len() < 2 {
        return None;
    }
    let mut out = Vec::new();
    for (protocol, _) in summary.group_by("protocol") {
        let mut s = series(protocol.clone(), protocol.clone(), Marker::Circle);
        for n in &sizes {
            let pts: Vec<LoadPoint> = rows
                .iter()
                .filter(|r| r.text("protocol") == protocol && r.text("nodes") == n)
                .filter_map(|r| {
                    Some(LoadPoint {
                        offered: r.num("offered_ops_per_s").unwrap_or(0.0),
                        achieved: r.num("achieved_ops_per_s")?,
                        p99_us: r.num("p99_us")?,
                    })
                })
                .collect();
            if let (Ok(x), Some(y)) = (
                n.parse::<f64>(),
                max_throughput_under_slo(&pts, slo_ms * 1000.0),
            ) {
                s.points.push((x, y));
                s.errors.push(None);
            }
        }
        if !s.points.is_empty() {
            out.push(s);
        }
    }
    (!out.is_empty()).then(|| {
        Figure::Line(LineChart {
            title: format!("Scalability: max throughput with p99 under {slo_ms} ms"),
            x_label: "replicas".into(),
            y_label: "throughput (ops/s)".into(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            series: out,
            marks: Vec::new(),
        })
    })
}

/// Throughput and p99 over time for every point with injected faults, with
/// faults, heals and leader elections marked.
pub fn timeseries(ts: &ResultTable, events: &ResultTable) -> Vec<(String, Figure)> {
    let mut out = Vec::new();
    for (point, rows) in ts.group_by("point") {
        let evs: Vec<RowRef<'_>> = events
            .iter()
            .filter(|e| {
                e.text("point") == point && e.text("repetition") == rows[0].text("repetition")
            })
            .collect();
        if !evs.iter().any(|e| e.text("kind").starts_with("fault_")) {
            continue;
        }
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|r| r.text("repetition") == evs[0].text("repetition"))
            .collect();
        let protocol = rows[0].text("protocol").to_string();
        let mut thr = series("throughput".into(), protocol.clone(), Marker::None);
        let mut p99 = series("p99".into(), protocol.clone(), Marker::None);
        for r in &rows {
            let (Some(t), Some(w), Some(c)) = (
                r.num("window_start_ms"),
                r.num("window_ms"),
                r.num("completed"),
            ) else {
                continue;
            };
            thr.points.push((t / 1000.0, c * 1000.0 / w.max(1e-9)));
            if let Some(p) = r.num("p99_us").filter(|_| c > 0.0) {
                p99.points.push((t / 1000.0, p / 1000.0));
            }
        }
        thr.errors = vec![None; thr.points.len()];
        p99.errors = vec![None; p99.points.len()];
        let marks: Vec<VMark> = evs
            .iter()
            .filter_map(|e| {
                let kind = e.text("kind");
                let key =
                    if kind == "fault_heal" || kind == "fault_restart" || kind == "fault_resume" {
                        "heal"
                    } else if kind.starts_with("fault_") {
                        "fault"
                    } else if kind == "leader_elected" {
                        "leader"
                    } else {
                        return None;
                    };
                let label = if key == "leader" {
                    format!("L{}", e.text("node"))
                } else {
                    kind.trim_start_matches("fault_").to_string()
                };
                Some(VMark {
                    x: e.num("time_ms")? / 1000.0,
                    label,
                    color_key: key.into(),
                })
            })
            .filter(|m| m.x >= 0.0)
            .collect();
        let chart = |title: String, y: &str, s: Series, scale: Scale| LineChart {
            title,
            x_label: "time since load start (s)".into(),
            y_label: y.into(),
            x_scale: Scale::Linear,
            y_scale: scale,
            series: vec![s],
            marks: marks.clone(),
        };
        out.push((
            format!("timeseries-{}", sanitize(&point)),
            Figure::Stack(vec![
                chart(
                    format!("{} — throughput", short(&point)),
                    "throughput (ops/s)",
                    thr,
                    Scale::Linear,
                ),
                chart(
                    "p99 latency per window".into(),
                    "p99 (ms, log scale)",
                    p99,
                    Scale::Log,
                ),
            ]),
        ));
    }
    out
}

/// Recovery metrics per fault and protocol (means over repetitions).
pub fn recovery(rec: &ResultTable) -> Option<Figure> {
    if rec.is_empty() {
        return None;
    }
    let metrics = [
        ("time_to_leader_ms", "time to leader"),
        ("unavailable_ms", "unavailable"),
        ("recovery_ms", "recovered"),
    ];
    let mut groups = Vec::new();
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rec.iter() {
        let k = (r.text("protocol").to_string(), r.text("fault").to_string());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let several_faults = keys
        .iter()
        .map(|k| &k.1)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    for (protocol, fault) in keys {
        let rows: Vec<_> = rec
            .iter()
            .filter(|r| r.text("protocol") == protocol && r.text("fault") == fault)
            .collect();
        let values = metrics
            .iter()
            .map(|(col, _)| {
                let v: Vec<f64> = rows.iter().filter_map(|r| r.num(col)).collect();
                mean_ci95(&v).map(|m| m.mean)
            })
            .collect();
        let (name, key) = if several_faults {
            (format!("{protocol} {fault}"), format!("{protocol} {fault}"))
        } else {
            (protocol.clone(), protocol.clone())
        };
        groups.push((name, key, values));
    }
    Some(Figure::Bar(BarChart {
        title: "Recovery after faults".into(),
        y_label: "time (ms)".into(),
        categories: metrics.iter().map(|m| m.1.to_string()).collect(),
        groups,
    }))
}

/// CDFs of per-trial measurements (`trials_cdf.csv`), one line per range.
pub fn trial_cdf(cdf: &ResultTable) -> Option<Figure> {
    if cdf.is_empty() {
        return None;
    }
    let by = if cdf.has("election_timeout_ms")
        && cdf
            .distinct("election_timeout_ms")
            .iter()
            .all(|v| !v.is_empty())
    {
        "election_timeout_ms"
    } else {
        "point"
    };
    let mut out = Vec::new();
    for (i, (range, rows)) in cdf.group_by(by).into_iter().enumerate() {
        // Consecutive palette colours: hashed ones can collide between lines.
        let mut s = series(format!("{range} ms"), indexed(i), Marker::None);
        s.points = rows
            .iter()
            .filter_map(|r| {
                Some((
                    r.num("time_without_leader_ms")?,
                    r.num("cumulative_fraction")? * 100.0,
                ))
            })
            .collect();
        s.errors = vec![None; s.points.len()];
        out.push(s);
    }
    let (lo, hi) = out
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|v| *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    Some(Figure::Line(LineChart {
        title: "Time without leader after a leader crash".into(),
        x_label: if hi / lo > 30.0 {
            "time without leader (ms, log scale)"
        } else {
            "time without leader (ms)"
        }
        .into(),
        y_label: "cumulative percent of trials".into(),
        x_scale: if hi / lo > 30.0 {
            Scale::Log
        } else {
            Scale::Linear
        },
        y_scale: Scale::Linear,
        series: out,
        marks: Vec::new(),
    }))
}

/// A file-name-safe version of a point label.
pub fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '=' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
