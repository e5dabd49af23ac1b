//! Contention in a recorded history: how often writes to one key overlap
//! (the workload's measured conflict rate), how often reads return
//! siblings (concurrent versions a version-vector store could not order),
//! and how often reads are stale. `experiments/leaderless-contention.yaml`
//! plots the last two against the first.
//!
//! The conflict rate is measured, not derived from the key count: a write
//! conflicts when another write to the same key is in flight during any
//! part of it (their invocation-to-return intervals overlap). A write whose
//! outcome is unknown counts over its recorded interval (up to the
//! client's timeout), since that is when it was in flight as far as the
//! history knows. Writes that certainly failed are left out.

use crate::staleness::observe;
use protocols::check::{HistoryOp, Outcome};
use protocols::kv::{Command, Key, Response};
use std::collections::BTreeMap;

/// Contention measured on one history.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ContentionStats {
    /// Writes that may have taken effect (acknowledged or unknown).
    pub writes: u64,
    /// Of these, writes overlapping another write to the same key.
    pub conflicting_writes: u64,
    /// Reads that returned successfully.
    pub reads: u64,
    /// Of these, reads that returned two or more sibling values.
    pub sibling_reads: u64,
    /// Reads the staleness analysis could match to writes.
    pub judged_reads: u64,
    /// Of these, reads that missed an acknowledged write.
    pub stale_reads: u64,
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl ContentionStats {
    /// Fraction of writes that overlapped another write to their key.
    pub fn conflict_rate(&self) -> Option<f64> {
        rate(self.conflicting_writes, self.writes)
    }

    /// Fraction of successful reads that returned siblings.
    pub fn sibling_rate(&self) -> Option<f64> {
        rate(self.sibling_reads, self.reads)
    }

    /// Fraction of judged reads that were stale.
    pub fn stale_rate(&self) -> Option<f64> {
        rate(self.stale_reads, self.judged_reads)
    }
}

/// The key and in-flight interval `[invoke, ret)` of a write that may have
/// taken effect.
fn write_interval(op: &HistoryOp) -> Option<(Key, u64, u64)> {
    let key = match op.command {
        Command::Put { key, .. } | Command::Cas { key, .. } => key,
        Command::Get { .. } => return None,
    };
    match &op.outcome {
        Outcome::Ok(r) if r.is_write_ack() => Some((key, op.invoke.0, op.ret.0.max(op.invoke.0))),
        Outcome::Unknown => Some((key, op.invoke.0, op.ret.0.max(op.invoke.0))),
        Outcome::Ok(_) | Outcome::Fail => None,
    }
}

/// How many of the intervals overlap at least one other. With intervals
/// sorted by start, interval i overlaps another iff an earlier one ends
/// after i starts, or the next one starts before i ends.
fn count_overlapping(mut intervals: Vec<(u64, u64)>) -> u64 {
    intervals.sort_unstable();
    let mut count = 0;
    let mut furthest_end: Option<u64> = None;
    for (i, &(start, end)) in intervals.iter().enumerate() {
        let overlaps_earlier = furthest_end.is_some_and(|e| e > start);
        let overlaps_next = intervals.get(i + 1).is_some_and(|&(s, _)| s < end);
        if overlaps_earlier || overlaps_next {
            count += 1;
        }
        furthest_end = Some(furthest_end.map_or(end, |e| e.max(end)));
    }
    count
}

/// Measures contention, siblings and staleness on one history.
pub fn measure(history: &[HistoryOp]) -> ContentionStats {
    let mut by_key: BTreeMap<Key, Vec<(u64, u64)>> = BTreeMap::new();
    let mut stats = ContentionStats::default();
    for op in history {
        if let Some((key, a, b)) = write_interval(op) {
            by_key.entry(key).or_default().push((a, b));
            stats.writes += 1;
        }
        if let (Command::Get { .. }, Outcome::Ok(r)) = (&op.command, &op.outcome) {
            stats.reads += 1;
            if matches!(r, Response::Siblings { values, .. } if values.len() >= 2) {
                stats.sibling_reads += 1;
            }
        }
    }
    stats.conflicting_writes = by_key.into_values().map(count_overlapping).sum();
    let observed = observe(history);
    stats.judged_reads = observed.iter().filter(|r| r.is_judged()).count() as u64;
    stats.stale_reads = observed
        .iter()
        .filter(|r| r.is_judged() && r.is_stale())
        .count() as u64;
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::kv::Value;
    use protocols::types::Time;
    use protocols::vclock::VersionVector;

    fn op(client: u64, command: Command, invoke: u64, ret: u64, outcome: Outcome) -> HistoryOp {
        HistoryOp {
            client,
            command,
            invoke: Time(invoke),
            ret: Time(ret),
            outcome,
        }
    }

    fn put(client: u64, key: Key, v: &str, invoke: u64, ret: u64) -> HistoryOp {
        op(
            client,
            Command::Put {
                key,
                value: Value::copy_from_slice(v.as_bytes()),
            },
            invoke,
            ret,
            Outcome::Ok(Response::Stored {
                context: VersionVector::default(),
            }),
        )
    }

    fn get(client: u64, key: Key, values: &[&str], invoke: u64, ret: u64) -> HistoryOp {
        op(
            client,
            Command::Get { key },
            invoke,
            ret,
            Outcome::Ok(Response::Siblings {
                values: values
                    .iter()
                    .map(|v| Value::copy_from_slice(v.as_bytes()))
                    .collect(),
                context: VersionVector::default(),
            }),
        )
    }

    #[test]
    fn overlap_counting_handles_nesting_and_chains() {
        assert_eq!(count_overlapping(vec![]), 0);
        assert_eq!(count_overlapping(vec![(0, 10)]), 0);
        // Touching intervals do not overlap.
        assert_eq!(count_overlapping(vec![(0, 10), (10, 20)]), 0);
        assert_eq!(count_overlapping(vec![(0, 10), (9, 20)]), 2);
        // A long write overlaps a later short one that the previous ended before.
        assert_eq!(count_overlapping(vec![(0, 100), (10, 20), (30, 40)]), 3);
        assert_eq!(count_overlapping(vec![(30, 40), (0, 5), (6, 8)]), 0);
    }

    #[test]
    fn conflicts_are_per_key_and_failed_writes_do_not_count() {
        let mut failed = put(3, 1, "c", 5, 15);
        failed.outcome = Outcome::Fail;
        let mut unknown = put(4, 2, "d", 50, 70);
        unknown.outcome = Outcome::Unknown;
        let h = vec![
            put(1, 1, "a", 0, 10),
            put(2, 2, "b", 5, 15), // other key: no conflict with "a"
            failed,
            put(5, 2, "e", 60, 65), // overlaps the unknown write
        ];
        let mut h = h;
        h.push(unknown);
        let s = measure(&h);
        assert_eq!(s.writes, 4);
        assert_eq!(s.conflicting_writes, 2);
        assert_eq!(s.conflict_rate(), Some(0.5));
    }

    #[test]
    fn sibling_reads_need_two_values() {
        let h = vec![
            put(1, 1, "a", 0, 10),
            put(2, 1, "b", 5, 12),
            get(3, 1, &["a", "b"], 20, 25),
            get(3, 1, &["b"], 30, 35),
            get(3, 1, &[], 40, 45),
        ];
        let s = measure(&h);
        assert_eq!(s.reads, 3);
        assert_eq!(s.sibling_reads, 1);
        assert!((s.sibling_rate().unwrap_or(0.0) - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.conflicting_writes, 2);
    }

    #[test]
    fn stale_reads_are_counted_from_the_staleness_analysis() {
        let h = vec![
            put(1, 1, "a", 0, 10),
            put(1, 1, "b", 20, 30),
            get(2, 1, &["a"], 40, 45), // misses b, acknowledged before it began
            get(2, 1, &["b"], 50, 55),
        ];
        let s = measure(&h);
        assert_eq!(s.judged_reads, 2);
        assert_eq!(s.stale_reads, 1);
        assert_eq!(s.stale_rate(), Some(0.5));
        assert_eq!(s.conflict_rate(), Some(0.0));
    }

    #[test]
    fn empty_history_has_no_rates() {
        let s = measure(&[]);
        assert_eq!(s, ContentionStats::default());
        assert_eq!(s.conflict_rate(), None);
        assert_eq!(s.sibling_rate(), None);
        assert_eq!(s.stale_rate(), None);
    }
}
