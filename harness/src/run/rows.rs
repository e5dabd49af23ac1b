//! Turning a point's outcome into result rows.

use super::point::{PointOutcome, TimedEvent};
use crate::experiment::load::Point;
use crate::results::{Row, Table};
use protocols::check::Outcome;
use workloads::recorder::WindowRow;

/// Columns of `summary.csv` before the swept parameters.
const SUMMARY_HEAD: &[&str] = &[
    "experiment",
    "protocol",
    "nodes",
    "durability",
    "auth",
    "backend",
    "simulated",
    "load",
];
/// Columns of `summary.csv` after the swept parameters.
const SUMMARY_TAIL: &[&str] = &[
    "clients",
    "offered_ops_per_s",
    "achieved_ops_per_s",
    "completed",
    "errors",
    "timeouts",
    "p50_us",
    "p90_us",
    "p99_us",
    "p999_us",
    "max_us",
    "mean_us",
    "service_p50_us",
    "service_p99_us",
    "warmup_s",
    "measured_s",
    "issued",
    "backlogged",
    "driver_cpu_percent",
    "replica_msgs_per_op",
    "replica_bytes_per_op",
    "client_msgs_per_op",
];

/// The summary table for a sweep over `swept` parameters.
pub fn summary_table(swept: &[String]) -> Table {
    summary_table_with(swept, SUMMARY_TAIL)
}

/// The time-series table.
pub fn timeseries_table() -> Table {
    let mut cols = vec!["protocol"];
    cols.extend(WindowRow::CSV_HEADER);
    Table::new("timeseries.csv", &cols)
}

/// The events table.
pub fn events_table() -> Table {
    Table::new("events.csv", &["time_ms", "node", "kind", "detail"])
}

/// The history table.
pub fn history_table() -> Table {
    Table::new(
        "history.csv",
        &[
            "client",
            "op",
            "key",
            "value",
            "expected_version",
            "invoke_ns",
            "return_ns",
            "outcome",
            "result_value",
            "result_version",
            "result_siblings",
        ],
    )
}

/// The `point` and `repetition` columns every result table starts with.
pub fn key_cols(point: &Point, repetition: u32) -> Row {
    vec![
        ("point".into(), point.label.clone()),
        ("repetition".into(), repetition.to_string()),
    ]
}

/// The key and fixed leading columns of a `summary.csv` row; `load` is
/// the kind of run (open, closed, trials).
pub fn head_cols(point: &Point, repetition: u32, load: &str) -> Row {
    let e = &point.experiment;
    let simulated = e.trials.as_ref().is_some_and(|t| t.simulate);
    let mut row = key_cols(point, repetition);
    for (k, v) in [
        ("experiment", e.name.clone()),
        ("protocol", e.protocol.to_string()),
        ("nodes", e.nodes.to_string()),
        ("durability", e.durability.to_string()),
        ("auth", e.auth_mode().to_string()),
        (
            "backend",
            if simulated { "sim" } else { point.backend }.into(),
        ),
        ("simulated", simulated.to_string()),
        ("load", load.to_string()),
    ] {
        row.push((k.to_string(), v));
    }
    for (k, v) in &point.params {
        row.push((k.clone(), v.clone()));
    }
    row
}

/// A `summary.csv` table: the fixed head, the `swept` parameters, `tail`.
pub fn summary_table_with(swept: &[String], tail: &[&str]) -> Table {
    let mut cols: Vec<&str> = SUMMARY_HEAD.to_vec();
    cols.extend_from_slice(tail);
    let extra: Vec<String> = swept
        .iter()
        .filter(|s| !SUMMARY_HEAD.contains(&s.as_str()))
        .cloned()
        .collect();
    Table::new("summary.csv", &cols).with_extra(&extra, SUMMARY_HEAD.len())
}

/// The summary row of a point.
pub fn summary_row(point: &Point, repetition: u32, out: &PointOutcome) -> Row {
    let s = out.driver.recorder.summary();
    let w = &out.spec;
    let (warm, end) = w.measured();
    let mut row = head_cols(point, repetition, w.loop_kind());
    let mut put = |k: &str, v: String| row.push((k.to_string(), v));
    put("clients", w.clients.to_string());
    put(
        "offered_ops_per_s",
        w.offered_rate().map(|r| format!("{r}")).unwrap_or_default(),
    );
    put("achieved_ops_per_s", format!("{:.1}", s.achieved_ops_per_s));
    put("completed", s.completed.to_string());
    put("errors", s.errors.to_string());
    put("timeouts", s.timeouts.to_string());
    put("p50_us", s.p50_us.to_string());
    put("p90_us", s.p90_us.to_string());
    put("p99_us", s.p99_us.to_string());
    put("p999_us", s.p999_us.to_string());
    put("max_us", s.max_us.to_string());
    put("mean_us", format!("{:.1}", s.mean_us));
    put("service_p50_us", s.service_p50_us.to_string());
    put("service_p99_us", s.service_p99_us.to_string());
    put("warmup_s", format!("{}", warm.as_secs_f64()));
    put(
        "measured_s",
        format!("{}", end.saturating_sub(warm).as_secs_f64()),
    );
    put("issued", out.driver.issued.to_string());
    put("backlogged", out.driver.backlogged.to_string());
    put(
        "driver_cpu_percent",
        format!("{:.1}", out.driver.cpu_utilisation * 100.0),
    );
    // Per operation completed in the measured interval, from the
    // replicas' counters read at its two ends; empty when a replica did
    // not answer (crashed or paused at that moment) or nothing completed.
    let per_op = |v: u64| match out.traffic {
        Some(_) if s.completed > 0 => format!("{:.2}", v as f64 / s.completed as f64),
        _ => String::new(),
    };
    let t = out.traffic.unwrap_or_default();
    put("replica_msgs_per_op", per_op(t.replica_msgs));
    put("replica_bytes_per_op", per_op(t.replica_bytes));
    put("client_msgs_per_op", per_op(t.client_msgs));
    row
}

/// Time-series rows of a point.
pub fn timeseries_rows(point: &Point, repetition: u32, out: &PointOutcome) -> Vec<Row> {
    out.driver
        .recorder
        .timeseries()
        .into_iter()
        .map(|w| {
            let mut row = key_cols(point, repetition);
            row.push(("protocol".into(), point.experiment.protocol.to_string()));
            for (k, v) in WindowRow::CSV_HEADER.iter().zip(w.csv_fields()) {
                row.push((k.to_string(), v.to_string()));
            }
            row
        })
        .collect()
}

/// Event rows of a point.
pub fn event_rows(point: &Point, repetition: u32, out: &PointOutcome) -> Vec<Row> {
    event_rows_of(point, repetition, &out.events)
}

/// Event rows of `events`.
pub fn event_rows_of(point: &Point, repetition: u32, events: &[TimedEvent]) -> Vec<Row> {
    events
        .iter()
        .map(|e| {
            let mut row = key_cols(point, repetition);
            row.push(("time_ms".into(), format!("{:.3}", e.time_ms)));
            row.push(("node".into(), e.node.clone()));
            row.push(("kind".into(), e.kind.clone()));
            row.push(("detail".into(), e.detail.clone()));
            row
        })
        .collect()
}

/// History rows of a point.
pub fn history_rows(point: &Point, repetition: u32, out: &PointOutcome) -> Vec<Row> {
    use protocols::kv::{Command, Response};
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    out.driver
        .history
        .iter()
        .map(|op| {
            let mut row = key_cols(point, repetition);
            let (kind, value, expected) = match &op.command {
                Command::Get { .. } => ("get", String::new(), String::new()),
                Command::Put { value, .. } => ("put", text(value), String::new()),
                Command::Cas {
                    value,
                    expected_version,
                    ..
                } => ("cas", text(value), expected_version.to_string()),
            };
            let mut siblings = String::new();
            let (outcome, rv, rver) = match &op.outcome {
                Outcome::Ok(Response::Value { value, version }) => (
                    "ok",
                    value.as_ref().map(|v| text(v)).unwrap_or_default(),
                    version.to_string(),
                ),
                Outcome::Ok(Response::Written { version }) => {
                    ("ok", String::new(), version.to_string())
                }
                Outcome::Ok(Response::CasFailed { current_version }) => {
                    ("cas_failed", String::new(), current_version.to_string())
                }
                // Version vectors: the sibling values (escaped, joined by
                // `|`) and their count, and the clock's total (writes in
                // its causal past) as the version.
                Outcome::Ok(Response::Siblings { values, context }) => {
                    siblings = values.len().to_string();
                    (
                        "ok",
                        analysis::history::encode_siblings(values),
                        context.total().to_string(),
                    )
                }
                Outcome::Ok(Response::Stored { context }) => {
                    ("ok", String::new(), context.total().to_string())
                }
                Outcome::Fail => ("fail", String::new(), String::new()),
                Outcome::Unknown => ("info", String::new(), String::new()),
            };
            for (k, v) in [
                ("client", op.client.to_string()),
                ("op", kind.to_string()),
                ("key", op.command.key().to_string()),
                ("value", value),
                ("expected_version", expected),
                ("invoke_ns", op.invoke.as_nanos().to_string()),
                ("return_ns", op.ret.as_nanos().to_string()),
                ("outcome", outcome.to_string()),
                ("result_value", rv),
                ("result_version", rver),
                ("result_siblings", siblings),
            ] {
                row.push((k.to_string(), v));
            }
            row
        })
        .collect()
}

/// The recovery table: one row per injected fault.
pub fn recovery_table() -> Table {
    Table::new(
        "recovery.csv",
        &[
            "protocol",
            "fault",
            "fault_node",
            "fault_ms",
            "time_to_leader_ms",
            "unavailable_ms",
            "recovery_ms",
            "baseline_ops_per_s",
            "errors",
            "timeouts",
        ],
    )
}

/// Recovery rows of a point: one per fault that was injected.
pub fn recovery_rows(point: &Point, repetition: u32, out: &PointOutcome) -> Vec<Row> {
    use analysis::recovery::{recovery, Window};
    let e = &point.experiment;
    let windows: Vec<Window> = out
        .driver
        .recorder
        .timeseries()
        .into_iter()
        .map(|w| Window {
            start_ms: w.start_ms as f64,
            len_ms: w.window_ms as f64,
            completed: w.completed,
            errors: w.errors,
            timeouts: w.timeouts,
        })
        .collect();
    let elections: Vec<f64> = out
        .events
        .iter()
        .filter(|ev| ev.kind == "leader_elected")
        .map(|ev| ev.time_ms)
        .collect();
    let striking = [
        "fault_crash",
        "fault_pause",
        "fault_partition",
        "fault_isolate",
        "fault_cut",
        "fault_delay",
    ];
    let window_s = e.timeseries_window.as_secs_f64();
    out.events
        .iter()
        .filter(|ev| striking.contains(&ev.kind.as_str()))
        .map(|ev| {
            let r = recovery(
                &windows,
                ev.time_ms,
                &elections,
                out.spec.warmup.as_millis() as f64,
                e.recovery.threshold,
                e.recovery.sustain.as_secs_f64() * 1000.0,
            );
            let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
            let mut row = key_cols(point, repetition);
            for (k, v) in [
                ("protocol", e.protocol.to_string()),
                ("fault", ev.kind.trim_start_matches("fault_").to_string()),
                ("fault_node", ev.node.clone()),
                ("fault_ms", format!("{:.1}", ev.time_ms)),
                ("time_to_leader_ms", opt(r.time_to_leader_ms)),
                ("unavailable_ms", format!("{:.1}", r.unavailable_ms)),
                ("recovery_ms", opt(r.recovery_ms)),
                (
                    "baseline_ops_per_s",
                    format!("{:.1}", r.baseline_per_window / window_s.max(1e-9)),
                ),
                ("errors", r.errors.to_string()),
                ("timeouts", r.timeouts.to_string()),
            ] {
                row.push((k.to_string(), v));
            }
            row
        })
        .collect()
}
