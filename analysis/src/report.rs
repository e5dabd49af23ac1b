//! `report.html`: one self-contained page per results folder (figures are
//! inlined as PNG data, nothing is fetched from the network): the
//! experiment and its provenance, the summary table, every figure, the
//! recovery metrics, and published numbers beside ours for reproductions.

use crate::plot::{figures_for, save, PlotError, PlotOptions};
use crate::stats::{saturation_point, LoadPoint};
use crate::table::{ResultTable, RowRef};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Columns of `summary.csv` shown in the page's main table (the full table
/// follows, folded).
const KEY_COLUMNS: &[&str] = &[
    "protocol",
    "nodes",
    "durability",
    "auth",
    "load",
    "offered_ops_per_s",
    "achieved_ops_per_s",
    "p50_us",
    "p99_us",
    "p999_us",
    "errors",
    "timeouts",
    "driver_cpu_percent",
    "replica_msgs_per_op",
    "replica_bytes_per_op",
    "election_timeout_ms",
    "trials",
    "no_leader",
    "p50_ms",
    "mean_ms",
    "p99_ms",
    "max_ms",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Standard base64 (RFC 4648) of `data`, for `data:` URLs.
pub fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn table_html(t: &ResultTable, columns: &[&str]) -> String {
    let cols: Vec<&str> = if columns.is_empty() {
        t.columns.iter().map(String::as_str).collect()
    } else {
        std::iter::once("point")
            .chain(columns.iter().copied().filter(|c| t.has(c)))
            .collect()
    };
    let mut h = String::from("<div class=\"wide\"><table><thead><tr>");
    for c in &cols {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr></thead><tbody>");
    for r in t.iter() {
        h.push_str("<tr>");
        for c in &cols {
            let _ = write!(h, "<td>{}</td>", escape(r.text(c)));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    h
}

/// The measured value a published number is compared with: the mean of
/// `metric` over summary rows whose columns match every `k=v` of `at`.
fn measured(summary: &ResultTable, at: &str, metric: &str) -> Option<f64> {
    let conds: Vec<(&str, &str)> = at
        .split(';')
        .filter(|c| !c.trim().is_empty())
        .filter_map(|c| c.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let matching: Vec<RowRef<'_>> = summary
        .iter()
        .filter(|r| conds.iter().all(|(k, v)| r.text(k) == *v))
        .collect();
    let vals: Vec<f64> = matching.iter().filter_map(|r| r.num(metric)).collect();
    (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
}

fn published_html(published: &ResultTable, summary: &ResultTable) -> String {
    let mut h = String::from(
        "<table><thead><tr><th>where</th><th>metric</th><th>published</th><th>measured here</th><th>ratio</th><th>source</th><th>note</th></tr></thead><tbody>",
    );
    for r in published.iter() {
        let at = r.text("where");
        let metric = r.text("metric");
        let ours = measured(summary, at, metric);
        let theirs = r.num("value");
        let fmt = |v: Option<f64>| match v {
            Some(x) if x.is_finite() => format!("{x:.1}"),
            Some(_) => "inf".into(),
            None => "—".into(),
        };
        let ratio = match (ours, theirs) {
            (Some(a), Some(b)) if b != 0.0 && a.is_finite() => format!("{:.2}", a / b),
            _ => "—".into(),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{ratio}</td><td>{}</td><td>{}</td></tr>",
            escape(at),
            escape(metric),
            fmt(theirs),
            fmt(ours),
            escape(r.text("source")),
            escape(r.text("note"))
        );
    }
    h.push_str("</tbody></table>");
    h
}

/// Saturation point per protocol and cluster size: the highest offered
/// load still achieved within 5% with p99 under the SLO.
fn saturation_html(summary: &ResultTable, slo_ms: f64) -> Option<String> {
    let mut groups: Vec<(String, String)> = Vec::new();
    for r in summary
        .iter()
        .filter(|r| r.num("offered_ops_per_s").is_some())
    {
        let k = (r.text("protocol").to_string(), r.text("nodes").to_string());
        if !groups.contains(&k) {
            groups.push(k);
        }
    }
    if groups.is_empty() {
        return None;
    }
    let mut h = format!(
        "<p>Highest offered load whose achieved throughput stays within 5% of it and whose p99 stays under {slo_ms} ms (per repetition row).</p><table><thead><tr><th>protocol</th><th>nodes</th><th>saturation offered ops/s</th><th>achieved ops/s</th><th>p99 us</th></tr></thead><tbody>"
    );
    for (protocol, nodes) in groups {
        let pts: Vec<LoadPoint> = summary
            .iter()
            .filter(|r| r.text("protocol") == protocol && r.text("nodes") == nodes)
            .filter_map(|r| {
                Some(LoadPoint {
                    offered: r.num("offered_ops_per_s")?,
                    achieved: r.num("achieved_ops_per_s")?,
                    p99_us: r.num("p99_us")?,
                })
            })
            .collect();
        let cells = match saturation_point(&pts, 0.05, slo_ms * 1000.0) {
            Some(p) => format!(
                "<td>{:.0}</td><td>{:.1}</td><td>{:.0}</td>",
                p.offered, p.achieved, p.p99_us
            ),
            None => "<td>none qualifies</td><td></td><td></td>".to_string(),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td>{cells}</tr>",
            escape(&protocol),
            escape(&nodes)
        );
    }
    h.push_str("</tbody></table>");
    Some(h)
}

/// Columns of `staleness.csv` that hold per point (its other columns are
/// per time bin).
const STALENESS_COLUMNS: &[&str] = &[
    "repetition",
    "reads",
    "judged_reads",
    "unmatched_reads",
    "stale_reads",
    "stale_read_rate",
    "mean_k",
    "max_k",
    "t_visibility_max_ms",
];

/// The CAP/PACELC table (`cap.csv`), contention (`conflicts.csv`) and
/// staleness per point (`staleness.csv`), for the files a run has.
fn leaderless_html(dir: &Path) -> Result<String, PlotError> {
    let cap = ResultTable::read(&dir.join("cap.csv"))?;
    let conflicts = ResultTable::read(&dir.join("conflicts.csv"))?;
    let staleness = ResultTable::read(&dir.join("staleness.csv"))?;
    let mut h = String::new();
    if !cap.is_empty() {
        h.push_str("<h2>CAP and PACELC, measured</h2><p>Per point: the fraction of operations answered on each side while the partition lasted, whether the history is linearizable, stale reads during the partition and outside it, latency outside it, and the class these measurements earn (<code>qlab cap</code>; the rules are in the README).</p>");
        h.push_str(&table_html(&cap, &[]));
    }
    if !conflicts.is_empty() {
        h.push_str("<h2>Contention</h2><p>Writes overlapping another write to their key (measured conflict rate), reads returning siblings, and stale reads (<code>qlab conflicts</code>).</p>");
        h.push_str(&table_html(&conflicts, &[]));
    }
    if !staleness.is_empty() {
        // One row per (point, repetition): the per-point columns repeat on
        // every time bin.
        let mut seen = std::collections::BTreeSet::new();
        let per_point = ResultTable {
            columns: staleness.columns.clone(),
            rows: staleness
                .rows
                .iter()
                .zip(staleness.iter())
                .filter(|(_, r)| {
                    seen.insert((
                        r.text("point").to_string(),
                        r.text("repetition").to_string(),
                    ))
                })
                .map(|(row, _)| row.clone())
                .collect(),
        };
        h.push_str("<h2>Staleness</h2><p>Stale reads, k-staleness and t-visibility per point (<code>qlab pbs --history</code>); the figure above plots P(consistent read) against time since the write.</p>");
        h.push_str(&table_html(&per_point, STALENESS_COLUMNS));
    }
    Ok(h)
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1100px}\
table{border-collapse:collapse;font-size:12px;margin:1em 0}\
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}\
th{background:#f2f2f2}td:first-child{text-align:left}\
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}\
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}\
.wide{overflow-x:auto;max-width:100%}";

/// After loading, the page counts its images and marks broken ones, so a
/// headless browser (CI) can tell from the DOM that every figure rendered.
const CHECK_SCRIPT: &str = "<script>window.addEventListener('load',function(){\
var imgs=document.images,bad=0;for(var i=0;i<imgs.length;i++){\
if(!imgs[i].complete||imgs[i].naturalWidth===0){bad++;}}\
document.body.setAttribute('data-images',imgs.length);\
document.body.setAttribute('data-broken-images',bad);});</script>";

/// Writes `dir/report.html` (drawing the figures into `dir/plots/` on the
/// way); returns its path.
pub fn write_report(dir: &Path, opts: PlotOptions) -> Result<PathBuf, PlotError> {
    let summary = ResultTable::read(&dir.join("summary.csv"))?;
    let recovery = ResultTable::read(&dir.join("recovery.csv"))?;
    let published = ResultTable::read(&dir.join("published.csv"))?;
    let provenance = std::fs::read_to_string(dir.join("provenance.yaml")).unwrap_or_default();
    let name = summary
        .iter()
        .next()
        .map(|r| r.text("experiment").to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|source| PlotError::Io {
        path: plots.display().to_string(),
        source,
    })?;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>quorumlab: {0}</title><style>{STYLE}</style>{CHECK_SCRIPT}</head><body><h1>Experiment {0}</h1>",
        escape(&name)
    );
    h.push_str("<h2>Summary</h2>");
    if summary.is_empty() {
        h.push_str("<p>No finished points.</p>");
    } else {
        h.push_str(&table_html(&summary, KEY_COLUMNS));
        let _ = write!(
            h,
            "<details><summary>All columns</summary>{}</details>",
            table_html(&summary, &[])
        );
    }
    if let Some(w) = driver_warning(&summary) {
        h.push_str(&w);
    }
    if let Some(sat) = saturation_html(&summary, opts.slo_ms) {
        h.push_str("<h2>Saturation</h2>");
        h.push_str(&sat);
    }
    if !published.is_empty() {
        h.push_str("<h2>Published numbers and ours</h2>");
        h.push_str(&published_html(&published, &summary));
    }
    h.push_str("<h2>Figures</h2>");
    let figs = figures_for(dir, opts)?;
    if figs.is_empty() {
        h.push_str("<p>Nothing to plot.</p>");
    }
    for (stem, fig) in &figs {
        let files = save(fig, &plots, stem)?;
        let png = files
            .iter()
            .find(|f| f.extension().is_some_and(|e| e == "png"));
        if let Some(png) = png {
            let bytes = std::fs::read(png).map_err(|source| PlotError::Io {
                path: png.display().to_string(),
                source,
            })?;
            let _ = write!(
                h,
                "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0} (SVG: plots/{0}.svg)</figcaption></figure>",
                escape(stem),
                base64(&bytes)
            );
        }
    }
    if !recovery.is_empty() {
        h.push_str("<h2>Recovery</h2>");
        h.push_str(&table_html(&recovery, &[]));
    }
    h.push_str(&leaderless_html(dir)?);
    h.push_str("<h2>Provenance</h2>");
    let _ = write!(h, "<pre>{}</pre>", escape(&provenance));
    h.push_str("</body></html>\n");
    let path = dir.join("report.html");
    std::fs::write(&path, h).map_err(|source| PlotError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(path)
}

/// Above this share of one core, a driver may be what limits a point.
const DRIVER_BUSY_PERCENT: f64 = 90.0;

/// A warning naming the points whose driver was (nearly) saturated: there
/// the measured throughput and latency may be the driver's, not the
/// system's.
fn driver_warning(summary: &ResultTable) -> Option<String> {
    let busy: Vec<String> = summary
        .iter()
        .filter_map(|r| {
            let cpu = r.num("driver_cpu_percent")?;
            (cpu >= DRIVER_BUSY_PERCENT).then(|| format!("{} ({cpu:.0}%)", r.text("point")))
        })
        .collect();
    if busy.is_empty() {
        return None;
    }
    Some(format!(
        "<p><strong>Warning:</strong> the load driver used at least {DRIVER_BUSY_PERCENT:.0}% of a core at {}: there it may be the bottleneck, not the system under test. Add driver hosts (the inventory's <code>drivers</code> group) or lower the load.</p>",
        escape(&busy.join(", "))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saturated_driver_is_named() {
        let table = |cpu: &str| ResultTable {
            columns: vec!["point".into(), "driver_cpu_percent".into()],
            rows: vec![
                vec!["rate=100".into(), "12.5".into()],
                vec!["rate=9000".into(), cpu.into()],
            ],
        };
        let w = driver_warning(&table("97.0")).unwrap();
        assert!(
            w.contains("rate=9000 (97%)") && !w.contains("rate=100"),
            "{w}"
        );
        assert!(driver_warning(&table("80")).is_none());
        assert!(driver_warning(&ResultTable::default()).is_none());
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
    }
}
