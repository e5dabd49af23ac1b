//! Sweeps: the cartesian product of listed values, substituted into the
//! experiment document before it is parsed into typed structs.
//!
//! An experiment's `sweep:` section maps dotted paths of the document
//! (`protocol`, `nodes`, `workload.arrival.rate`, ...) to lists of values.
//! Every combination yields one document with those values set; each document
//! is then parsed and validated like a hand-written experiment, so a sweep can
//! vary any field and a bad value is reported with its path before anything
//! runs (OpenMessaging Benchmark expands list-valued workload fields the same
//! way).
//!
//! Parameters that must change together are *zipped*: a key listing several
//! paths separated by commas takes a list of tuples, one value per path, and
//! contributes one axis (not a product) to the sweep:
//!
//! ```yaml
//! sweep:
//!   protocol_config.election_timeout_min,protocol_config.election_timeout_max:
//!     - [150ms, 155ms]
//!     - [150ms, 300ms]
//! ```

use serde_yaml::{Mapping, Value};
use thiserror::Error;

/// A problem with the `sweep:` section.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SweepError {
    /// `sweep` is not a mapping of paths to lists.
    #[error("sweep: expected a mapping from field paths to lists of values")]
    NotAMapping,
    /// A sweep key is not a string path.
    #[error("sweep: keys must be field paths like `workload.arrival.rate`")]
    BadKey,
    /// A sweep entry is not a non-empty list.
    #[error("sweep.{path}: expected a non-empty list of values")]
    NotAList {
        /// The offending path.
        path: String,
    },
    /// A path walks through something that is not a mapping.
    #[error("sweep.{path}: `{at}` is not a section of the experiment, so it has no field to set")]
    NotASection {
        /// The sweep path.
        path: String,
        /// Where the walk stopped.
        at: String,
    },
    /// A tuple of a zipped key has the wrong number of values.
    #[error("sweep.{path}: entry {index} must be a list of {expected} values, one per path")]
    BadTuple {
        /// The zipped key.
        path: String,
        /// Which entry (from 1).
        index: usize,
        /// Paths in the key.
        expected: usize,
    },
    /// The product has too many points.
    #[error("sweep: {points} points is more than the limit of {limit}; split the experiment")]
    TooLarge {
        /// Points requested.
        points: usize,
        /// The limit.
        limit: usize,
    },
}

/// Most points one experiment may expand to (a typo guard, not a hard need).
pub const MAX_POINTS: usize = 10_000;

/// One swept parameter and the value it takes at a point.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// Dotted path.
    pub path: String,
    /// The value, as YAML.
    pub value: Value,
}

/// Renders a swept value for a CSV cell or a point label.
pub fn value_label(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        // Compact and comma-free, since labels are joined with commas.
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| format!("{}={}", value_label(k), value_label(v)))
            .collect::<Vec<_>>()
            .join(";"),
        Value::Sequence(items) => format!(
            "[{}]",
            items.iter().map(value_label).collect::<Vec<_>>().join(";")
        ),
        Value::Tagged(t) => value_label(&t.value),
    }
}

/// One axis of a sweep: one path (or several zipped paths) and the values
/// (tuples, one value per path) it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The dotted paths this axis sets.
    pub paths: Vec<String>,
    /// Each entry holds one value per path.
    pub values: Vec<Vec<Value>>,
}

/// Splits `doc` into its base (without `sweep`) and the sweep's axes, in
/// file order.
pub fn take_sweep(doc: &mut Value) -> Result<Vec<Axis>, SweepError> {
    let Some(map) = doc.as_mapping_mut() else {
        return Ok(Vec::new());
    };
    let Some(sweep) = map.remove("sweep") else {
        return Ok(Vec::new());
    };
    let Value::Mapping(entries) = sweep else {
        return Err(SweepError::NotAMapping);
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let Value::String(path) = k else {
            return Err(SweepError::BadKey);
        };
        let Value::Sequence(entries) = v else {
            return Err(SweepError::NotAList { path });
        };
        if entries.is_empty() {
            return Err(SweepError::NotAList { path });
        }
        let paths: Vec<String> = path.split(',').map(|p| p.trim().to_string()).collect();
        if paths.iter().any(String::is_empty) {
            return Err(SweepError::BadKey);
        }
        let values = if paths.len() == 1 {
            entries.into_iter().map(|v| vec![v]).collect()
        } else {
            let mut tuples = Vec::with_capacity(entries.len());
            for (i, entry) in entries.into_iter().enumerate() {
                match entry {
                    Value::Sequence(t) if t.len() == paths.len() => tuples.push(t),
                    _ => {
                        return Err(SweepError::BadTuple {
                            path,
                            index: i + 1,
                            expected: paths.len(),
                        })
                    }
                }
            }
            tuples
        };
        out.push(Axis { paths, values });
    }
    let points = out
        .iter()
        .try_fold(1usize, |acc, axis| acc.checked_mul(axis.values.len()))
        .unwrap_or(usize::MAX);
    if points > MAX_POINTS {
        return Err(SweepError::TooLarge {
            points,
            limit: MAX_POINTS,
        });
    }
    Ok(out)
}

/// All combinations, first path varying slowest (so a sweep over
/// `protocol` then `rate` runs every rate of one protocol together).
pub fn combinations(axes: &[Axis]) -> Vec<Vec<Assignment>> {
    let mut out: Vec<Vec<Assignment>> = vec![Vec::new()];
    for axis in axes {
        let mut next = Vec::with_capacity(out.len() * axis.values.len());
        for prefix in &out {
            for tuple in &axis.values {
                let mut p = prefix.clone();
                for (path, value) in axis.paths.iter().zip(tuple) {
                    p.push(Assignment {
                        path: path.clone(),
                        value: value.clone(),
                    });
                }
                next.push(p);
            }
        }
        out = next;
    }
    out
}

/// Sets `path` in `doc` to `value`, creating intermediate sections.
pub fn set_path(doc: &mut Value, path: &str, value: Value) -> Result<(), SweepError> {
    let mut cur = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let here = parts[..=i].join(".");
        let Value::Mapping(map) = cur else {
            return Err(SweepError::NotASection {
                path: path.to_string(),
                at: parts[..i].join("."),
            });
        };
        if i + 1 == parts.len() {
            map.insert(Value::String((*part).to_string()), value);
            return Ok(());
        }
        let key = Value::String((*part).to_string());
        if !map.contains_key(&key) {
            map.insert(key.clone(), Value::Mapping(Mapping::new()));
        }
        cur = map.get_mut(&key).ok_or_else(|| SweepError::NotASection {
            path: path.to_string(),
            at: here.clone(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml::from_str(s).unwrap()
    }

    #[test]
    fn expands_the_cartesian_product_in_file_order() {
        let mut doc =
            yaml("a: 1\nsweep:\n  protocol: [raft, multipaxos]\n  workload.rate: [1, 2, 3]\n");
        let axes = take_sweep(&mut doc).unwrap();
        assert!(doc.get("sweep").is_none());
        let combos = combinations(&axes);
        assert_eq!(combos.len(), 6);
        let labels: Vec<String> = combos
            .iter()
            .map(|c| {
                c.iter()
                    .map(|a| value_label(&a.value))
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        assert_eq!(labels[0], "raft/1");
        assert_eq!(labels[2], "raft/3");
        assert_eq!(labels[3], "multipaxos/1");
    }

    #[test]
    fn sets_nested_paths_and_rejects_walking_through_scalars() {
        let mut doc = yaml("workload:\n  arrival:\n    rate: 5\nnodes: 3\n");
        set_path(&mut doc, "workload.arrival.rate", Value::from(7)).unwrap();
        assert_eq!(doc["workload"]["arrival"]["rate"], Value::from(7));
        set_path(&mut doc, "faults.extra", Value::from(1)).unwrap();
        assert_eq!(doc["faults"]["extra"], Value::from(1));
        let err = set_path(&mut doc, "nodes.x", Value::from(1)).unwrap_err();
        assert!(
            err.to_string().contains("`nodes` is not a section"),
            "{err}"
        );
    }

    #[test]
    fn zipped_paths_move_together() {
        let mut doc = yaml("sweep:\n  a,b.c: [[1, x], [2, y]]\n  d: [true, false]\n");
        let axes = take_sweep(&mut doc).unwrap();
        assert_eq!(axes[0].paths, vec!["a".to_string(), "b.c".to_string()]);
        let combos = combinations(&axes);
        assert_eq!(combos.len(), 4, "2 tuples x 2 values, not 2 x 2 x 2");
        let first: Vec<(String, String)> = combos[0]
            .iter()
            .map(|a| (a.path.clone(), value_label(&a.value)))
            .collect();
        assert_eq!(
            first,
            vec![
                ("a".into(), "1".into()),
                ("b.c".into(), "x".into()),
                ("d".into(), "true".into())
            ]
        );
        let mut bad = yaml("sweep:\n  a,b: [[1, 2], [3]]\n");
        assert_eq!(
            take_sweep(&mut bad),
            Err(SweepError::BadTuple {
                path: "a,b".into(),
                index: 2,
                expected: 2
            })
        );
    }

    #[test]
    fn bad_sweeps_are_named() {
        let mut doc = yaml("sweep:\n  nodes: 3\n");
        assert_eq!(
            take_sweep(&mut doc),
            Err(SweepError::NotAList {
                path: "nodes".into()
            })
        );
        let mut doc = yaml("sweep: [1, 2]\n");
        assert_eq!(take_sweep(&mut doc), Err(SweepError::NotAMapping));
        let mut doc = yaml("sweep:\n  a: []\n");
        assert!(take_sweep(&mut doc).is_err());
        let mut big = String::from("sweep:\n");
        for i in 0..5 {
            big.push_str(&format!("  p{i}: [1,2,3,4,5,6,7,8,9,10]\n"));
        }
        let mut doc = yaml(&big);
        assert!(matches!(
            take_sweep(&mut doc),
            Err(SweepError::TooLarge { .. })
        ));
    }
}
