//! The sequential specification the linearizability search checks each key
//! against: a register with a version, under one of two readings of what a
//! version means.

use super::history::{HistoryOp, Outcome};
use crate::kv::{Command, Response, Value};
use serde::{Deserialize, Serialize};

/// What the versions in a protocol's responses promise, and so how strictly
/// the checker may read them.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VersionModel {
    /// Versions count the successful writes of the key: the n-th write in
    /// the linearization returns version n, and a read returns the count of
    /// writes before it. True of every protocol that applies one log to a
    /// [`KvStore`](crate::kv::KvStore) (Raft, Multi-Paxos, the baseline).
    #[default]
    Counted,
    /// Versions are ordered but not counted: along the linearization, the
    /// versions that writes return never decrease, and a read returns the
    /// version of the write it reads (0 before the first write). True of
    /// protocols that order writes by timestamps or tags, such as ABD, whose
    /// version is the tag's sequence number: concurrent writes may share
    /// one, and a write that never completed may have used up another.
    Ordered,
}

/// The state of one key during the search.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Register {
    value: Option<Value>,
    /// The version, exact or (when `exact` is false) a lower bound.
    version: u64,
    /// False after a write whose version is unknown (its client never heard
    /// back); a later read pins it again. Always true under `Counted`.
    exact: bool,
}

impl Default for Register {
    fn default() -> Self {
        Register {
            value: None,
            version: 0,
            exact: true,
        }
    }
}

/// Applies `op` to `state`; `None` if the recorded response is impossible.
pub(crate) fn step(model: VersionModel, state: &Register, op: &HistoryOp) -> Option<Register> {
    match model {
        VersionModel::Counted => step_counted(state, op),
        VersionModel::Ordered => step_ordered(state, op),
    }
}

fn step_counted(state: &Register, op: &HistoryOp) -> Option<Register> {
    let write = |value: &Value| Register {
        value: Some(value.clone()),
        version: state.version + 1,
        exact: true,
    };
    let (next, expected) = match &op.command {
        Command::Get { .. } => (
            state.clone(),
            Response::Value {
                value: state.value.clone(),
                version: state.version,
            },
        ),
        Command::Put { value, .. } => {
            let next = write(value);
            let version = next.version;
            (next, Response::Written { version })
        }
        Command::Cas {
            expected_version,
            value,
            ..
        } => {
            if state.version == *expected_version {
                let next = write(value);
                let version = next.version;
                (next, Response::Written { version })
            } else {
                (
                    state.clone(),
                    Response::CasFailed {
                        current_version: state.version,
                    },
                )
            }
        }
    };
    match &op.outcome {
        Outcome::Ok(actual) if *actual == expected => Some(next),
        Outcome::Ok(_) => None,
        Outcome::Unknown => Some(next),
        // Failed operations are filtered out before the search.
        Outcome::Fail => Some(state.clone()),
    }
}

/// Whether a version `v` the history reports is consistent with `state`.
fn matches(state: &Register, v: u64) -> bool {
    if state.exact {
        v == state.version
    } else {
        v >= state.version
    }
}

fn step_ordered(state: &Register, op: &HistoryOp) -> Option<Register> {
    let pinned = |version: u64| Register {
        version,
        exact: true,
        ..state.clone()
    };
    match (&op.command, &op.outcome) {
        (_, Outcome::Fail) => Some(state.clone()),
        (Command::Get { .. }, Outcome::Unknown) => Some(state.clone()),
        (Command::Get { .. }, Outcome::Ok(Response::Value { value, version })) => {
            (*value == state.value && matches(state, *version)).then(|| pinned(*version))
        }
        (Command::Put { value, .. }, Outcome::Ok(Response::Written { version })) => {
            (*version >= state.version).then(|| Register {
                value: Some(value.clone()),
                version: *version,
                exact: true,
            })
        }
        (Command::Put { value, .. }, Outcome::Unknown) => Some(Register {
            value: Some(value.clone()),
            version: state.version,
            exact: false,
        }),
        (
            Command::Cas {
                expected_version,
                value,
                ..
            },
            outcome,
        ) => {
            let can_succeed = matches(state, *expected_version);
            match outcome {
                Outcome::Ok(Response::Written { version }) => {
                    (can_succeed && *version >= *expected_version).then(|| Register {
                        value: Some(value.clone()),
                        version: *version,
                        exact: true,
                    })
                }
                Outcome::Ok(Response::CasFailed { current_version }) => {
                    (*current_version != *expected_version && matches(state, *current_version))
                        .then(|| pinned(*current_version))
                }
                // An unknown compare-and-set that did not take effect is the
                // same as one never linearized, which the search also tries.
                Outcome::Unknown if can_succeed => Some(Register {
                    value: Some(value.clone()),
                    version: state.version.max(*expected_version),
                    exact: false,
                }),
                Outcome::Unknown => Some(state.clone()),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Time;
    use bytes::Bytes;

    fn op(command: Command, outcome: Outcome) -> HistoryOp {
        HistoryOp {
            client: 1,
            command,
            invoke: Time(0),
            ret: Time(1),
            outcome,
        }
    }
    fn put(v: &'static str, outcome: Outcome) -> HistoryOp {
        op(
            Command::Put {
                key: 1,
                value: Bytes::from(v),
            },
            outcome,
        )
    }
    fn get(v: Option<&'static str>, version: u64) -> HistoryOp {
        op(
            Command::Get { key: 1 },
            Outcome::Ok(Response::Value {
                value: v.map(Bytes::from),
                version,
            }),
        )
    }
    fn written(version: u64) -> Outcome {
        Outcome::Ok(Response::Written { version })
    }

    #[test]
    fn ordered_versions_may_repeat_but_not_go_back() {
        let m = VersionModel::Ordered;
        let s0 = Register::default();
        let s1 = step(m, &s0, &put("a", written(1))).unwrap();
        // A concurrent write with the same sequence number is ordered after.
        let s2 = step(m, &s1, &put("b", written(1))).unwrap();
        assert!(step(m, &s2, &put("c", written(0))).is_none());
        assert!(step(m, &s2, &get(Some("b"), 1)).is_some());
        assert!(step(m, &s2, &get(Some("b"), 2)).is_none());
        assert!(step(m, &s2, &get(Some("a"), 1)).is_none());
        // Counted would have demanded version 2 of the second write.
        assert!(step(VersionModel::Counted, &s1, &put("b", written(1))).is_none());
    }

    #[test]
    fn an_unknown_write_leaves_its_version_open_until_a_read_pins_it() {
        let m = VersionModel::Ordered;
        let s1 = step(m, &Register::default(), &put("a", written(3))).unwrap();
        let s2 = step(m, &s1, &put("b", Outcome::Unknown)).unwrap();
        assert!(step(m, &s2, &get(Some("b"), 2)).is_none());
        let s3 = step(m, &s2, &get(Some("b"), 7)).unwrap();
        assert!(step(m, &s3, &get(Some("b"), 8)).is_none());
        assert!(step(m, &s3, &get(Some("b"), 7)).is_some());
    }
}
