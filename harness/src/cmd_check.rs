//! `qlab check`: checks the histories a run recorded (`history: true`) for
//! linearizability, prints a minimal violating sub-history for each broken
//! key, and counts stale reads per point.

use analysis::check::{
    check_history_with, CheckLimits, CheckResult, HistoryOp, Outcome, VersionModel,
};
use analysis::history::read_history;
use analysis::stale::stale_reads;
use anyhow::{bail, Context};
use clap::Args;
use protocols::kv::{Command, Response, Value};
use protocols::registry::{ProtocolKind, ProtocolVisitor};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Arguments of `qlab check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Results folder written by `qlab run` with `history: true`.
    results: PathBuf,
    /// Check only this point (its label, as in `summary.csv`).
    #[arg(long)]
    point: Option<String>,
    /// Search states per key before a key is declared undecided.
    #[arg(long, default_value_t = 5_000_000)]
    max_states: u64,
}

/// Runs `qlab check`; fails when any history is not linearizable or could
/// not be decided within the search budget.
pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let path = args.results.join("history.csv");
    if !path.exists() {
        bail!(
            "{} has no history.csv: run the experiment with `history: true`",
            args.results.display()
        );
    }
    let histories = read_history(&path).with_context(|| format!("reading {}", path.display()))?;
    let selected: Vec<_> = histories
        .iter()
        .filter(|((point, _), _)| {
            args.point.is_none() || args.point.as_deref() == Some(point.as_str())
        })
        .collect();
    if selected.is_empty() {
        let points: BTreeSet<&str> = histories.keys().map(|(p, _)| p.as_str()).collect();
        match &args.point {
            Some(p) => bail!(
                "{}: no history for point {p:?} (points: {})",
                path.display(),
                points.into_iter().collect::<Vec<_>>().join(" ")
            ),
            None => bail!("{}: no operations recorded", path.display()),
        }
    }
    let limits = CheckLimits {
        max_states_per_key: args.max_states,
        threads: 0,
    };
    let models = version_models(&args.results)?;
    let (mut broken, mut undecided) = (0usize, 0usize);
    for ((point, repetition), ops) in &selected {
        let keys: BTreeSet<u64> = ops.iter().map(|op| op.command.key()).collect();
        let stale = stale_reads(ops);
        let model = models.get(point).copied().unwrap_or_default();
        let verdict = check_history_with(ops, limits, model);
        let versions = match model {
            VersionModel::Counted => "",
            VersionModel::Ordered => " (versions read as ordered tags)",
        };
        let text = match &verdict {
            CheckResult::Linearizable { .. } => format!("linearizable{versions}"),
            CheckResult::Violation(v) => {
                format!("NOT LINEARIZABLE ({} keys){versions}", v.len())
            }
            CheckResult::Unknown { keys } => {
                format!("UNDECIDED (search budget exhausted on keys {keys:?}; raise --max-states)")
            }
        };
        println!(
            "{point} rep {repetition}: {} ops, {} keys, {} reads, {} stale reads (max {} versions behind): {text}",
            ops.len(),
            keys.len(),
            stale.reads,
            stale.stale,
            stale.max_versions_behind,
        );
        match verdict {
            CheckResult::Linearizable { .. } => {}
            CheckResult::Unknown { .. } => undecided += 1,
            CheckResult::Violation(violations) => {
                broken += 1;
                let start = ops.iter().map(|op| op.invoke.0).min().unwrap_or(0);
                let single = CheckLimits {
                    threads: 1,
                    ..limits
                };
                for v in &violations {
                    let minimal = minimize(&v.ops, single, model);
                    println!(
                        "  key {}: minimal violating sub-history ({} of the key's {} ops; times from the history start):",
                        v.key,
                        minimal.len(),
                        v.ops.len()
                    );
                    for op in &minimal {
                        println!("    {}", describe(op, start));
                    }
                }
            }
        }
    }
    let total = selected.len();
    if broken > 0 || undecided > 0 {
        bail!("{broken} of {total} histories are not linearizable, {undecided} undecided");
    }
    println!("all {total} histories are linearizable");
    Ok(())
}

struct VersionsOf;

impl ProtocolVisitor for VersionsOf {
    type Output = VersionModel;
    fn visit<P: protocols::Protocol>(self) -> VersionModel {
        P::VERSIONS
    }
}

/// How each point's versions are to be read, from the protocol named in
/// its `summary.csv` rows: ABD's versions are tags, ordered but not counts
/// of writes. Points without a summary row (or no `summary.csv` at all)
/// are read strictly, as write counts.
pub(crate) fn version_models(results: &Path) -> anyhow::Result<BTreeMap<String, VersionModel>> {
    let path = results.join("summary.csv");
    let mut models = BTreeMap::new();
    if !path.exists() {
        return Ok(models);
    }
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("reading {}", path.display()))?
        .clone();
    let (Some(point), Some(protocol)) = (
        headers.iter().position(|h| h == "point"),
        headers.iter().position(|h| h == "protocol"),
    ) else {
        return Ok(models);
    };
    for row in reader.records() {
        let row = row.with_context(|| format!("reading {}", path.display()))?;
        let (Some(label), Some(name)) = (row.get(point), row.get(protocol)) else {
            continue;
        };
        if let Ok(kind) = name.parse::<ProtocolKind>() {
            models.insert(label.to_string(), kind.visit(VersionsOf));
        }
    }
    Ok(models)
}

fn fails(ops: &[HistoryOp], limits: CheckLimits, model: VersionModel) -> bool {
    matches!(
        check_history_with(ops, limits, model),
        CheckResult::Violation(_)
    )
}

/// Whether `op` leaves the register unchanged (so dropping it from a
/// linearizable history keeps the history linearizable).
fn read_only(op: &HistoryOp) -> bool {
    matches!(op.command, Command::Get { .. })
        || matches!(
            op.outcome,
            Outcome::Fail | Outcome::Ok(Response::CasFailed { .. })
        )
}

/// The history as observed at time `t` (ns): operations invoked by then;
/// reads still pending are dropped and writes still pending become unknown.
fn observed_at(ops: &[HistoryOp], t: u64) -> Vec<HistoryOp> {
    ops.iter()
        .filter(|op| op.invoke.0 <= t)
        .filter_map(|op| {
            let pending = op.outcome != Outcome::Unknown && op.ret.0 > t;
            match (pending, read_only(op)) {
                (false, _) => Some(op.clone()),
                (true, true) => None,
                (true, false) => Some(HistoryOp {
                    outcome: Outcome::Unknown,
                    ..op.clone()
                }),
            }
        })
        .collect()
}

/// Shrinks a failing one-key history without inventing failures. The model
/// numbers versions, so dropping an acknowledged write would break every
/// later version; instead the history is cut at the earliest moment it is
/// already broken (a prefix of a linearizable history is linearizable), and
/// then read-only operations are dropped one at a time while the remainder
/// still fails. What is left is the writes that set up the state plus the
/// reads that contradict it, none of which can be dropped on its own.
pub fn minimize(ops: &[HistoryOp], limits: CheckLimits, model: VersionModel) -> Vec<HistoryOp> {
    if !fails(ops, limits, model) {
        return ops.to_vec();
    }
    let mut times: Vec<u64> = ops.iter().flat_map(|op| [op.invoke.0, op.ret.0]).collect();
    times.sort_unstable();
    times.dedup();
    // Failing is monotone in the cut time: binary search the earliest.
    let (mut lo, mut hi) = (0usize, times.len().saturating_sub(1));
    let mut cur = ops.to_vec();
    while lo < hi {
        let mid = (lo + hi) / 2;
        let candidate = observed_at(ops, times[mid]);
        if fails(&candidate, limits, model) {
            hi = mid;
            cur = candidate;
        } else {
            lo = mid + 1;
        }
    }
    if let Some(&t) = times.get(hi) {
        let candidate = observed_at(ops, t);
        if fails(&candidate, limits, model) {
            cur = candidate;
        }
    }
    loop {
        let mut changed = false;
        let mut i = 0;
        while i < cur.len() {
            if read_only(&cur[i]) {
                let mut candidate = cur.clone();
                candidate.remove(i);
                if fails(&candidate, limits, model) {
                    cur = candidate;
                    changed = true;
                    continue;
                }
            }
            i += 1;
        }
        if !changed {
            return cur;
        }
    }
}

fn text(v: &Value) -> String {
    format!("{:?}", String::from_utf8_lossy(v))
}

fn ms(ns: u64, start: u64) -> String {
    format!("{:.3}ms", ns.saturating_sub(start) as f64 / 1e6)
}

/// One operation on one line, times relative to `start` (ns).
fn describe(op: &HistoryOp, start: u64) -> String {
    let what = match &op.command {
        Command::Get { key } => format!("get key {key}"),
        Command::Put { key, value } => format!("put key {key} = {}", text(value)),
        Command::Cas {
            key,
            expected_version,
            value,
        } => format!(
            "cas key {key} if version {expected_version} = {}",
            text(value)
        ),
    };
    let (ret, result) = match &op.outcome {
        Outcome::Ok(Response::Value { value, version }) => (
            ms(op.ret.0, start),
            match value {
                Some(v) => format!("ok {} (version {version})", text(v)),
                None => format!("ok absent (version {version})"),
            },
        ),
        Outcome::Ok(Response::Written { version }) => {
            (ms(op.ret.0, start), format!("ok version {version}"))
        }
        Outcome::Ok(Response::CasFailed { current_version }) => (
            ms(op.ret.0, start),
            format!("cas failed (version {current_version})"),
        ),
        Outcome::Ok(Response::Siblings { values, context }) => (
            ms(op.ret.0, start),
            match values.len() {
                0 => format!("ok absent (context {context})"),
                _ => format!(
                    "ok {} (context {context})",
                    values.iter().map(text).collect::<Vec<_>>().join(" | ")
                ),
            },
        ),
        Outcome::Ok(Response::Stored { context }) => {
            (ms(op.ret.0, start), format!("ok clock {context}"))
        }
        Outcome::Fail => (ms(op.ret.0, start), "fail".to_string()),
        Outcome::Unknown => ("?".to_string(), "unknown (timed out)".to_string()),
    };
    format!(
        "client {:<4} [{} .. {}] {what} -> {result}",
        op.client,
        ms(op.invoke.0, start),
        ret
    )
}
