//! Stale reads: a read that returned a version older than the newest write
//! to its key that had been acknowledged before the read was invoked. Every
//! such read is a linearizability violation, but counting them measures how
//! stale a design that gives up linearizability (e.g. follower reads) is.

use protocols::check::{HistoryOp, Outcome};
use protocols::kv::{Command, Key, Response};
use std::collections::BTreeMap;

/// Stale-read counts of one history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StaleReport {
    /// Successful reads.
    pub reads: usize,
    /// Reads that returned a version older than an acknowledged write.
    pub stale: usize,
    /// The largest gap, in versions, between what a stale read returned and
    /// the newest version acknowledged before it was invoked.
    pub max_versions_behind: u64,
}

/// Counts stale reads in `history`. Writes (puts and successful
/// compare-and-sets) count from the moment their acknowledgement returned.
pub fn stale_reads(history: &[HistoryOp]) -> StaleReport {
    // Per key: (return time, version) of acknowledged writes.
    let mut writes: BTreeMap<Key, Vec<(u64, u64)>> = BTreeMap::new();
    for op in history {
        if let (Command::Put { key, .. } | Command::Cas { key, .. }, Outcome::Ok(r)) =
            (&op.command, &op.outcome)
        {
            if let Response::Written { version } = r {
                writes.entry(*key).or_default().push((op.ret.0, *version));
            }
        }
    }
    // Sort by return time and keep a running maximum of the version.
    for w in writes.values_mut() {
        w.sort_unstable();
        let mut newest = 0;
        for entry in w.iter_mut() {
            newest = newest.max(entry.1);
            entry.1 = newest;
        }
    }
    let mut report = StaleReport::default();
    for op in history {
        let (Command::Get { key }, Outcome::Ok(Response::Value { version, .. })) =
            (&op.command, &op.outcome)
        else {
            continue;
        };
        report.reads += 1;
        let Some(w) = writes.get(key) else {
            continue;
        };
        // Writes acknowledged strictly before the read was invoked.
        let before = w.partition_point(|&(ret, _)| ret < op.invoke.0);
        if before == 0 {
            continue;
        }
        let newest = w[before - 1].1;
        if *version < newest {
            report.stale += 1;
            report.max_versions_behind = report.max_versions_behind.max(newest - version);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::kv::Value;
    use protocols::types::Time;

    fn op(command: Command, invoke: u64, ret: u64, outcome: Outcome) -> HistoryOp {
        HistoryOp {
            client: 1,
            command,
            invoke: Time(invoke),
            ret: Time(ret),
            outcome,
        }
    }
    fn put(key: Key, ret: u64, version: u64) -> HistoryOp {
        let command = Command::Put {
            key,
            value: Value::from(vec![b'v']),
        };
        op(
            command,
            ret - 5,
            ret,
            Outcome::Ok(Response::Written { version }),
        )
    }
    fn get(key: Key, invoke: u64, version: u64) -> HistoryOp {
        let value = (version > 0).then(|| Value::from(vec![b'v']));
        op(
            Command::Get { key },
            invoke,
            invoke + 5,
            Outcome::Ok(Response::Value { value, version }),
        )
    }

    #[test]
    fn counts_reads_behind_acknowledged_writes() {
        let h = vec![
            put(1, 10, 1),
            put(1, 20, 2),
            put(1, 30, 3),
            get(1, 5, 0),   // before any write: fresh
            get(1, 25, 2),  // newest acknowledged is 2: fresh
            get(1, 25, 1),  // stale by 1
            get(1, 40, 0),  // stale by 3
            get(1, 28, 3),  // sees a write not yet acknowledged: fine
            get(2, 100, 0), // other key, never written
        ];
        let r = stale_reads(&h);
        assert_eq!(
            r,
            StaleReport {
                reads: 6,
                stale: 2,
                max_versions_behind: 3
            }
        );
    }

    #[test]
    fn unacknowledged_writes_and_failed_reads_do_not_count() {
        let mut h = vec![op(
            Command::Put {
                key: 1,
                value: Value::from(vec![b'x']),
            },
            0,
            0,
            Outcome::Unknown,
        )];
        h.push(get(1, 50, 0));
        h.push(op(Command::Get { key: 1 }, 60, 70, Outcome::Fail));
        assert_eq!(
            stale_reads(&h),
            StaleReport {
                reads: 1,
                stale: 0,
                max_versions_behind: 0
            }
        );
    }
}
