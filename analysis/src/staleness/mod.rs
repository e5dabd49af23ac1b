//! Staleness measured from a recorded history, in the terms of
//! Probabilistically Bounded Staleness (Bailis et al., VLDB 2012).
//!
//! Per key, the acknowledged writes (puts and successful compare-and-sets
//! that returned `ok`) are numbered in the order of their acknowledgement
//! (return) time, PBS's commit order: write #1 is the first acknowledged,
//! and write #0 is the key's initial, absent value. Every successful read is
//! matched to the write whose value it returned (workload values are unique
//! per write), and compared with the writes acknowledged before the read was
//! invoked:
//!
//! - **k-staleness**: the number of acknowledged writes the read missed,
//!   i.e. writes acknowledged before the read's invocation that were
//!   themselves invoked after the returned write had been acknowledged (so
//!   they follow it in every real-time-respecting order). A write that
//!   overlapped the returned one is not counted: either order is legitimate,
//!   and counting it would call correct reads of a linearizable store stale.
//!   With writes that never overlap this is exactly "how many versions
//!   behind the latest acknowledged write" in commit order.
//! - **stale**: k >= 1. A read that returns a write acknowledged after the
//!   read was invoked (a concurrent write) is fresh.
//! - **t-visibility** (stale reads only): how long before the read's
//!   invocation the oldest missed write had been acknowledged, i.e. the
//!   longest a write stayed invisible to this read.
//! - **time since the last acknowledgement**: the read's invocation minus
//!   the acknowledgement of the latest write acknowledged before it; the
//!   x axis of PBS's "probability of a consistent read t after commit".
//!
//! Writes whose outcome is unknown (timed out) may have taken effect at any
//! time after their invocation: they are never counted as missed (they never
//! make a read stale), and a read that returns an unknown write's value is
//! credited with that write and counted fresh (the write may be the newest),
//! so stale counts are lower bounds. Failed writes and failed
//! compare-and-sets wrote nothing. A read that returns a value no write of
//! its key wrote is counted as unmatched and left out of the statistics (the
//! linearizability checker reports it). If a value was written more than
//! once, the read is credited with the candidate that makes it freshest.
//!
//! A read answered with several siblings (the Dynamo store) has read every
//! one of them: a write is missed only if it was missed beside each value
//! returned, so the read's k is that of its freshest value, and the read is
//! fresh iff one of its values is (an unmatched sibling is ignored when
//! another value matches).

mod summary;
#[cfg(test)]
mod tests;

pub use summary::{summarize, ConsistencyBin, StalenessSummary, DEFAULT_BINS_MS};

use protocols::check::{HistoryOp, Outcome};
use protocols::kv::{Command, Key, Response, Value};
use std::cmp::Reverse;
use std::collections::BTreeMap;

/// Which write a read returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    /// The key's initial (absent) value: write #0.
    Initial,
    /// Acknowledged write number `n` (1-based, in acknowledgement order).
    Acked(usize),
    /// A write whose outcome is unknown (timed out, connection lost).
    Unknown,
    /// A value no write of the key wrote.
    Unmatched,
}

/// What one successful read saw, compared with the key's acknowledged writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadObservation {
    /// The key read.
    pub key: Key,
    /// When the read was invoked (ns, the history's clock).
    pub invoke_ns: u64,
    /// The write it returned (the freshest one, for several candidates).
    pub returned: Returned,
    /// Number of the latest write acknowledged before the invocation (0 if
    /// none was).
    pub latest_acked: usize,
    /// Acknowledged writes missed (0 for fresh reads and unmatched reads).
    pub k: u64,
    /// Invocation minus the acknowledgement of write `latest_acked` (None
    /// if no write had been acknowledged).
    pub since_latest_ack_ns: Option<u64>,
    /// For stale reads: invocation minus the acknowledgement of the oldest
    /// missed write.
    pub t_visibility_ns: Option<u64>,
}

impl ReadObservation {
    /// Whether the read missed at least one acknowledged write.
    pub fn is_stale(&self) -> bool {
        self.k > 0
    }

    /// Whether the read could be matched to a write (counted in statistics).
    pub fn is_judged(&self) -> bool {
        self.returned != Returned::Unmatched
    }
}

/// The values a successful read returned (`None` = absent), or `None` if
/// `response` is not a read's. This is the one place that knows the read
/// response shapes: a response carrying several values (the Dynamo store's
/// siblings) lists them all, and the read is credited with the freshest.
pub fn read_values(response: &Response) -> Option<Vec<Option<&Value>>> {
    match response {
        Response::Value { value, .. } => Some(vec![value.as_ref()]),
        Response::Siblings { values, .. } if values.is_empty() => Some(vec![None]),
        Response::Siblings { values, .. } => Some(values.iter().map(Some).collect()),
        _ => None,
    }
}

/// An acknowledged write: invocation and acknowledgement (ns).
#[derive(Clone, Copy, Debug)]
struct Acked {
    invoke: u64,
    ret: u64,
}

/// One key's writes.
#[derive(Debug, Default)]
struct KeyWrites {
    /// Acknowledged writes sorted by acknowledgement time.
    acked: Vec<Acked>,
    /// Value -> what wrote it (the number in `acked`, 1-based, or Unknown).
    by_value: BTreeMap<Value, Vec<Returned>>,
}

/// The written value of a write command, if `op` may have written it.
fn written(op: &HistoryOp) -> Option<(Key, &Value, bool)> {
    let (key, value) = match &op.command {
        Command::Put { key, value } | Command::Cas { key, value, .. } => (*key, value),
        Command::Get { .. } => return None,
    };
    match &op.outcome {
        Outcome::Ok(r) if r.is_write_ack() => Some((key, value, true)),
        Outcome::Unknown => Some((key, value, false)),
        Outcome::Ok(_) | Outcome::Fail => None,
    }
}

fn index_writes(history: &[HistoryOp]) -> BTreeMap<Key, KeyWrites> {
    // Acknowledged writes per key with their values, sorted by return time
    // (ties by invocation, then history order: stable and deterministic).
    let mut acked: BTreeMap<Key, Vec<(Acked, &Value)>> = BTreeMap::new();
    let mut keys: BTreeMap<Key, KeyWrites> = BTreeMap::new();
    for op in history {
        match written(op) {
            Some((key, value, true)) => {
                let w = Acked {
                    invoke: op.invoke.as_nanos(),
                    ret: op.ret.as_nanos(),
                };
                acked.entry(key).or_default().push((w, value));
            }
            Some((key, value, false)) => {
                let kw = keys.entry(key).or_default();
                kw.by_value
                    .entry(value.clone())
                    .or_default()
                    .push(Returned::Unknown);
            }
            None => {}
        }
    }
    for (key, mut ws) in acked {
        ws.sort_by_key(|(w, _)| (w.ret, w.invoke));
        let kw = keys.entry(key).or_default();
        for (i, (w, value)) in ws.into_iter().enumerate() {
            kw.acked.push(w);
            kw.by_value
                .entry(value.clone())
                .or_default()
                .push(Returned::Acked(i + 1));
        }
    }
    keys
}

/// k and t-visibility of a read invoked at `invoke` that returned `returned`,
/// with `latest` writes acknowledged before it.
fn judge(kw: &KeyWrites, returned: Returned, latest: usize, invoke: u64) -> (u64, Option<u64>) {
    let after = match returned {
        Returned::Unknown | Returned::Unmatched => return (0, None),
        // Every write follows the initial value.
        Returned::Initial => {
            let first = kw.acked.first().filter(|_| latest > 0);
            return (latest as u64, first.map(|w| invoke - w.ret));
        }
        Returned::Acked(n) => n,
    };
    let returned_ack = kw.acked[after - 1].ret;
    // Writes acknowledged after the returned one and before the read; they
    // are in acknowledgement order, so the first counted is the oldest.
    let mut k = 0;
    let mut oldest = None;
    for w in kw.acked.get(after..latest).unwrap_or(&[]) {
        if w.invoke > returned_ack {
            k += 1;
            oldest.get_or_insert(invoke - w.ret);
        }
    }
    (k, oldest)
}

/// Orders candidates by acknowledgement: the initial value first, unknown
/// writes (possibly the newest) last.
fn ack_rank(c: Returned) -> usize {
    match c {
        Returned::Initial | Returned::Unmatched => 0,
        Returned::Acked(n) => n,
        Returned::Unknown => usize::MAX,
    }
}

/// Every successful read of `history` with what it returned and how stale it
/// was (see the module documentation for the definitions), in history order.
pub fn observe(history: &[HistoryOp]) -> Vec<ReadObservation> {
    let keys = index_writes(history);
    let empty = KeyWrites::default();
    let mut out = Vec::new();
    for op in history {
        let (Command::Get { key }, Outcome::Ok(response)) = (&op.command, &op.outcome) else {
            continue;
        };
        let Some(values) = read_values(response) else {
            continue;
        };
        let kw = keys.get(key).unwrap_or(&empty);
        let invoke = op.invoke.as_nanos();
        let latest = kw.acked.partition_point(|w| w.ret < invoke);
        let candidates = values.into_iter().flat_map(|v| match v {
            None => vec![Returned::Initial],
            Some(v) => kw
                .by_value
                .get(v)
                .cloned()
                .unwrap_or_else(|| vec![Returned::Unmatched]),
        });
        // The freshest candidate: fewest missed writes; among equals prefer
        // a matched write over an unmatched value, then the later
        // acknowledged. A sibling set was read whole, so a write counts as
        // missed only if the read missed it beside every value it returned:
        // the missed writes of an older value include those of a newer one,
        // so that is the freshest value's count.
        let (returned, (k, t_vis)) = candidates
            .map(|c| (c, judge(kw, c, latest, invoke)))
            .min_by_key(|(c, (k, _))| (*c == Returned::Unmatched, *k, Reverse(ack_rank(*c))))
            .unwrap_or((Returned::Unmatched, (0, None)));
        out.push(ReadObservation {
            key: *key,
            invoke_ns: invoke,
            returned,
            latest_acked: latest,
            k,
            since_latest_ack_ns: latest.checked_sub(1).map(|i| invoke - kw.acked[i].ret),
            t_visibility_ns: t_vis,
        });
    }
    out
}
