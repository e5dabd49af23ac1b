//! Linearizability checking of key-value histories, partitioned per key.
//!
//! Every [`Command`](crate::kv::Command) touches exactly one key and keys are
//! independent registers, so a history is linearizable iff each key's
//! sub-history is (the locality property of Herlihy and Wing). Checking keys
//! separately turns one exponential search into many small ones, which is
//! what keeps Porcupine fast on long histories; keys are checked on several
//! threads. Each key is searched with the Wing-Gong-Lowe algorithm (see
//! [`super::wgl`]) under a state budget: when the budget runs out the answer
//! is `Unknown` rather than running out of memory.

use super::history::{HistoryOp, Outcome};
use super::model::VersionModel;
use super::wgl::{search, SearchOutcome};
use crate::kv::Key;
use std::collections::BTreeMap;
use std::fmt;

/// Bounds on the search.
#[derive(Clone, Copy, Debug)]
pub struct CheckLimits {
    /// Maximum search states explored per key before answering `Unknown`.
    pub max_states_per_key: u64,
    /// Worker threads (0 = available parallelism).
    pub threads: usize,
}

impl Default for CheckLimits {
    fn default() -> Self {
        CheckLimits {
            max_states_per_key: 5_000_000,
            threads: 0,
        }
    }
}

/// A key whose sub-history has no linearization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyViolation {
    /// The key.
    pub key: Key,
    /// The key's operations (definite and unknown), in invocation order.
    pub ops: Vec<HistoryOp>,
    /// Indexes into `ops` of the longest linearizable prefix the search found,
    /// in linearization order: where it stops is where the history breaks.
    pub longest_linearized: Vec<usize>,
}

/// The verdict on a whole history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// Every key's sub-history is linearizable.
    Linearizable {
        /// Keys checked.
        keys: usize,
        /// Operations checked (failed ones excluded).
        ops: usize,
    },
    /// At least one key is not; the first few offenders, by key.
    Violation(Vec<KeyViolation>),
    /// No violation found, but these keys exceeded the search budget.
    Unknown {
        /// Keys whose search was cut off.
        keys: Vec<Key>,
    },
}

impl CheckResult {
    /// Whether the history was proven linearizable.
    pub fn is_linearizable(&self) -> bool {
        matches!(self, CheckResult::Linearizable { .. })
    }
}

impl fmt::Display for KeyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "key {}: no linearization of {} operations; longest linearizable prefix has {}:",
            self.key,
            self.ops.len(),
            self.longest_linearized.len()
        )?;
        for (i, op) in self.ops.iter().enumerate() {
            let mark = if self.longest_linearized.contains(&i) {
                " "
            } else {
                "!"
            };
            writeln!(
                f,
                "  {mark} [{i}] client {} {:?} invoke {} return {} -> {:?}",
                op.client, op.command, op.invoke, op.ret, op.outcome
            )?;
        }
        Ok(())
    }
}

/// Checks a history for linearizability against the KV model, with
/// versions that count writes ([`VersionModel::Counted`]).
pub fn check_history(history: &[HistoryOp], limits: CheckLimits) -> CheckResult {
    check_history_with(history, limits, VersionModel::Counted)
}

/// Checks a history for linearizability against the KV model, reading its
/// versions as `model` says the protocol that produced it promises.
pub fn check_history_with(
    history: &[HistoryOp],
    limits: CheckLimits,
    model: VersionModel,
) -> CheckResult {
    let mut per_key: BTreeMap<Key, Vec<HistoryOp>> = BTreeMap::new();
    let mut total = 0;
    for op in history {
        if op.outcome == Outcome::Fail {
            continue;
        }
        total += 1;
        per_key
            .entry(op.command.key())
            .or_default()
            .push(op.clone());
    }
    let keys: Vec<(Key, Vec<HistoryOp>)> = per_key.into_iter().collect();
    let key_count = keys.len();
    let threads = if limits.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        limits.threads
    }
    .clamp(1, key_count.max(1));

    let results: Vec<(Key, Vec<HistoryOp>, SearchOutcome)> = if threads == 1 {
        keys.into_iter()
            .map(|(k, ops)| {
                let r = search(&ops, limits.max_states_per_key, model);
                (k, ops, r)
            })
            .collect()
    } else {
        let chunks: Vec<Vec<(Key, Vec<HistoryOp>)>> = {
            let mut chunks: Vec<Vec<_>> = (0..threads).map(|_| Vec::new()).collect();
            for (i, item) in keys.into_iter().enumerate() {
                chunks[i % threads].push(item);
            }
            chunks
        };
        let mut out = Vec::new();
        std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    s.spawn(move || {
                        chunk
                            .into_iter()
                            .map(|(k, ops)| {
                                let r = search(&ops, limits.max_states_per_key, model);
                                (k, ops, r)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                match h.join() {
                    Ok(v) => out.extend(v),
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
        });
        out.sort_by_key(|(k, _, _)| *k);
        out
    };

    let mut violations = Vec::new();
    let mut unknown = Vec::new();
    for (key, mut ops, outcome) in results {
        match outcome {
            SearchOutcome::Linearizable => {}
            SearchOutcome::Exhausted => unknown.push(key),
            SearchOutcome::Violation { longest } => {
                // `search` sorted nothing in place; present ops by invocation.
                let mut order: Vec<usize> = (0..ops.len()).collect();
                order.sort_by_key(|&i| (ops[i].invoke, i));
                let position: BTreeMap<usize, usize> = order
                    .iter()
                    .enumerate()
                    .map(|(new, &old)| (old, new))
                    .collect();
                let longest_linearized = longest
                    .into_iter()
                    .filter_map(|old| position.get(&old).copied())
                    .collect();
                let sorted: Vec<HistoryOp> = order.iter().map(|&i| ops[i].clone()).collect();
                ops = sorted;
                violations.push(KeyViolation {
                    key,
                    ops,
                    longest_linearized,
                });
            }
        }
    }
    if !violations.is_empty() {
        CheckResult::Violation(violations)
    } else if !unknown.is_empty() {
        CheckResult::Unknown { keys: unknown }
    } else {
        CheckResult::Linearizable {
            keys: key_count,
            ops: total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{Command, Response};
    use crate::types::Time;
    use bytes::Bytes;

    fn op(client: u64, command: Command, invoke: u64, ret: u64, outcome: Outcome) -> HistoryOp {
        HistoryOp {
            client,
            command,
            invoke: Time(invoke),
            ret: Time(ret),
            outcome,
        }
    }
    fn put(key: u64, v: &'static str) -> Command {
        Command::Put {
            key,
            value: Bytes::from(v),
        }
    }
    fn get(key: u64) -> Command {
        Command::Get { key }
    }
    fn val(v: Option<&'static str>, version: u64) -> Outcome {
        Outcome::Ok(Response::Value {
            value: v.map(Bytes::from),
            version,
        })
    }
    fn written(version: u64) -> Outcome {
        Outcome::Ok(Response::Written { version })
    }
    fn check(h: &[HistoryOp]) -> CheckResult {
        check_history(h, CheckLimits::default())
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let h = vec![
            op(1, put(1, "a"), 0, 10, written(1)),
            op(2, get(1), 20, 30, val(Some("a"), 1)),
            op(1, put(1, "b"), 40, 50, written(2)),
            op(2, get(1), 60, 70, val(Some("b"), 2)),
        ];
        assert_eq!(check(&h), CheckResult::Linearizable { keys: 1, ops: 4 });
    }

    #[test]
    fn stale_read_after_completed_write_is_a_violation() {
        let h = vec![
            op(1, put(1, "a"), 0, 10, written(1)),
            op(1, put(1, "b"), 20, 30, written(2)),
            op(2, get(1), 40, 50, val(Some("a"), 1)),
        ];
        match check(&h) {
            CheckResult::Violation(v) => {
                assert_eq!(v.len(), 1);
                assert_eq!(v[0].key, 1);
                assert_eq!(v[0].longest_linearized.len(), 2);
                assert!(v[0].to_string().contains("no linearization"));
            }
            other => panic!("expected violation, got {other:?}"),
        }
    }

    #[test]
    fn concurrent_operations_may_take_either_order() {
        // The read overlaps both writes and sees the first; a linearization
        // exists (put a, read, put b).
        let h = vec![
            op(1, put(1, "a"), 0, 100, written(1)),
            op(2, put(1, "b"), 10, 100, written(2)),
            op(3, get(1), 5, 100, val(Some("a"), 1)),
        ];
        assert!(check(&h).is_linearizable());
        // But two reads cannot see the writes in opposite orders when the
        // second read starts after the first one returned.
        let h = vec![
            op(1, put(1, "a"), 0, 100, written(1)),
            op(2, put(1, "b"), 0, 100, written(1)),
            op(3, get(1), 10, 20, val(Some("a"), 1)),
            op(4, get(1), 30, 40, val(Some("b"), 1)),
        ];
        assert!(!check(&h).is_linearizable());
    }

    #[test]
    fn unknown_writes_may_or_may_not_take_effect() {
        let lost = vec![
            op(1, put(1, "a"), 0, 0, Outcome::Unknown),
            op(2, get(1), 50, 60, val(None, 0)),
        ];
        assert!(check(&lost).is_linearizable());
        let took = vec![
            op(1, put(1, "a"), 0, 0, Outcome::Unknown),
            op(2, get(1), 50, 60, val(Some("a"), 1)),
        ];
        assert!(check(&took).is_linearizable());
        // A read before the unknown write was invoked cannot see it.
        let early = vec![
            op(2, get(1), 0, 10, val(Some("a"), 1)),
            op(1, put(1, "a"), 20, 0, Outcome::Unknown),
        ];
        assert!(!check(&early).is_linearizable());
    }

    #[test]
    fn failed_operations_are_ignored_and_cas_is_modelled() {
        let cas = |exp, v: &'static str| Command::Cas {
            key: 3,
            expected_version: exp,
            value: Bytes::from(v),
        };
        let h = vec![
            op(1, put(3, "x"), 0, 10, Outcome::Fail),
            op(1, cas(0, "a"), 20, 30, written(1)),
            op(
                2,
                cas(0, "b"),
                40,
                50,
                Outcome::Ok(Response::CasFailed { current_version: 1 }),
            ),
            op(2, get(3), 60, 70, val(Some("a"), 1)),
        ];
        assert_eq!(check(&h), CheckResult::Linearizable { keys: 1, ops: 3 });
        let bad = vec![
            op(1, cas(0, "a"), 20, 30, written(1)),
            op(2, cas(0, "b"), 40, 50, written(2)),
        ];
        assert!(!check(&bad).is_linearizable());
    }

    #[test]
    fn keys_are_checked_independently_and_in_parallel() {
        let mut h = Vec::new();
        for key in 0..16u64 {
            for i in 0..20u64 {
                let t = i * 100;
                h.push(op(key, put(key, "v"), t, t + 50, written(i + 1)));
                h.push(op(
                    100 + key,
                    get(key),
                    t + 60,
                    t + 90,
                    val(Some("v"), i + 1),
                ));
            }
        }
        let limits = CheckLimits {
            threads: 4,
            ..CheckLimits::default()
        };
        assert_eq!(
            check_history(&h, limits),
            CheckResult::Linearizable { keys: 16, ops: 640 }
        );
        // Break one key only.
        h.push(op(999, get(5), 5_000, 5_010, val(None, 0)));
        match check_history(&h, limits) {
            CheckResult::Violation(v) => {
                assert_eq!(v.iter().map(|k| k.key).collect::<Vec<_>>(), vec![5])
            }
            other => panic!("expected violation on key 5, got {other:?}"),
        }
    }

    #[test]
    fn budget_exhaustion_answers_unknown() {
        // Many fully concurrent writes and a read that sees none of the
        // values: the search must explore many orders before giving up.
        let mut h = Vec::new();
        for c in 0..12u64 {
            h.push(op(c, put(1, "w"), 0, 1_000, Outcome::Unknown));
        }
        h.push(op(50, get(1), 0, 1_000, val(Some("zzz"), 99)));
        let limits = CheckLimits {
            max_states_per_key: 50,
            threads: 1,
        };
        assert_eq!(
            check_history(&h, limits),
            CheckResult::Unknown { keys: vec![1] }
        );
    }
}
