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

/// Splits `doc` into its base (without `sweep`) and the sweep's paths and
/// value lists, in file order.
pub fn take_sweep(doc: &mut Value) -> Result<Vec<(String, Vec<Value>)>, SweepError> {
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
        match v {
            Value::Sequence(values) if !values.is_empty() => out.push((path, values)),
            _ => return Err(SweepError::NotAList { path }),
        }
    }
    let points = out
        .iter()
        .try_fold(1usize, |acc, (_, vs)| acc.checked_mul(vs.len()))
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
pub fn combinations(axes: &[(String, Vec<Value>)]) -> Vec<Vec<Assignment>> {
    let mut out: Vec<Vec<Assignment>> = vec![Vec::new()];
    for (path, values) in axes {
        let mut next = Vec::with_capacity(out.len() * values.len());
        for prefix in &out {
            for v in values {
                let mut p = prefix.clone();
                p.push(Assignment {
                    path: path.clone(),
                    value: v.clone(),
                });
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
