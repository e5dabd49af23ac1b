//! Reading `history.csv` back into operations for the checkers, and the
//! text form of a read's sibling set shared with the writer.
//!
//! A get answered with several sibling values (the Dynamo store's
//! `Response::Siblings`) is written with `result_siblings` = the number of
//! values and `result_value` = the values joined by `|`, each with `%` and
//! `|` escaped as `%25` and `%7C` ([`encode_siblings`]). Reading back, a set
//! of two or more values becomes `Response::Siblings` again (its context a
//! one-entry clock with the recorded total, the only part a history keeps);
//! zero or one value reads as an ordinary `Response::Value`, so register
//! checkers judge it like any read. Files written before the column existed
//! read every result as one value, as they always did.

use protocols::check::{HistoryOp, Outcome};
use protocols::kv::{Command, Response, Value};
use protocols::types::Time;
use protocols::vclock::VersionVector;
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

/// A history file that cannot be read.
#[derive(Debug, Error)]
pub enum HistoryError {
    /// I/O or CSV syntax.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: String,
        /// The cause.
        source: csv::Error,
    },
    /// A row with a bad field.
    #[error("{path}: row {row}: {reason}")]
    Row {
        /// The file.
        path: String,
        /// 1-based data row.
        row: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Operations of a history file, grouped by (point, repetition).
pub type Histories = BTreeMap<(String, u32), Vec<HistoryOp>>;

/// Reads `history.csv` (as written by `qlab run` with `history: true`).
pub fn read_history(path: &Path) -> Result<Histories, HistoryError> {
    let p = path.display().to_string();
    let csv_err = |source| HistoryError::Csv {
        path: p.clone(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(csv_err)?;
    let headers = reader.headers().map_err(csv_err)?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let idx: Vec<Option<usize>> = [
        "point",
        "repetition",
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
    ]
    .iter()
    .map(|n| col(n))
    .collect();
    let mut out = Histories::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(csv_err)?;
        let bad = |reason: String| HistoryError::Row {
            path: p.clone(),
            row: i + 1,
            reason,
        };
        let get = |k: usize| idx[k].and_then(|c| rec.get(c)).unwrap_or("");
        let num = |k: usize, name: &str| -> Result<u64, HistoryError> {
            get(k)
                .parse::<u64>()
                .map_err(|_| bad(format!("{name} {:?} is not a number", get(k))))
        };
        let key = num(4, "key")?;
        let value = Value::from(get(5).as_bytes().to_vec());
        let command = match get(3) {
            "get" => Command::Get { key },
            "put" => Command::Put { key, value },
            "cas" => Command::Cas {
                key,
                expected_version: num(6, "expected_version")?,
                value,
            },
            other => return Err(bad(format!("unknown op {other:?}"))),
        };
        let outcome = match (get(9), &command) {
            ("ok", Command::Get { .. }) => {
                let version = num(11, "result_version")?;
                Outcome::Ok(read_response(get(10), get(12), version).map_err(bad)?)
            }
            ("ok", _) => Outcome::Ok(Response::Written {
                version: num(11, "result_version")?,
            }),
            ("cas_failed", _) => Outcome::Ok(Response::CasFailed {
                current_version: num(11, "result_version")?,
            }),
            ("fail", _) => Outcome::Fail,
            ("info", _) => Outcome::Unknown,
            (other, _) => return Err(bad(format!("unknown outcome {other:?}"))),
        };
        let op = HistoryOp {
            client: num(2, "client")?,
            command,
            invoke: Time(num(7, "invoke_ns")?),
            ret: Time(num(8, "return_ns").unwrap_or(0)),
            outcome,
        };
        let rep = get(1)
            .parse::<u32>()
            .map_err(|_| bad("repetition is not a number".into()))?;
        out.entry((get(0).to_string(), rep)).or_default().push(op);
    }
    Ok(out)
}

/// The `result_value` text of a sibling set: the values joined by `|`, each
/// with `%` and `|` escaped (`%25`, `%7C`), bytes that are not UTF-8
/// replaced. `result_siblings` carries the count, which tells an empty set
/// from one empty value.
pub fn encode_siblings(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| {
            String::from_utf8_lossy(v)
                .replace('%', "%25")
                .replace('|', "%7C")
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The values of a sibling set written by [`encode_siblings`], checked
/// against the recorded count.
pub fn decode_siblings(text: &str, count: usize) -> Result<Vec<Value>, String> {
    if count == 0 {
        return match text {
            "" => Ok(Vec::new()),
            _ => Err(format!("no siblings but result_value {text:?}")),
        };
    }
    let parts: Vec<&str> = text.split('|').collect();
    if parts.len() != count {
        return Err(format!(
            "result_siblings says {count} values but result_value has {}",
            parts.len()
        ));
    }
    parts
        .iter()
        .map(|p| unescape(p).map(|s| Value::from(s.into_bytes())))
        .collect()
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3);
        match code {
            Some("25") => out.push('%'),
            Some("7C") | Some("7c") => out.push('|'),
            _ => return Err(format!("bad escape in sibling value {s:?}")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A successful get's response from its `result_value`, `result_siblings`
/// (empty when the read returned one version) and `result_version` cells.
fn read_response(value: &str, siblings: &str, version: u64) -> Result<Response, String> {
    if siblings.is_empty() {
        let value = (version > 0).then(|| Value::from(value.as_bytes().to_vec()));
        return Ok(Response::Value { value, version });
    }
    let count: usize = siblings
        .parse()
        .map_err(|_| format!("result_siblings {siblings:?} is not a number"))?;
    let mut values = decode_siblings(value, count)?;
    if values.len() >= 2 {
        // Only the clock's total was recorded: one entry carries it.
        let context = VersionVector::from_iter([(0, version)]);
        return Ok(Response::Siblings { values, context });
    }
    Ok(Response::Value {
        value: values.pop(),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::from(s.as_bytes().to_vec())
    }

    #[test]
    fn sibling_text_round_trips_awkward_values() {
        for set in [
            vec![],
            vec![v("")],
            vec![v("a"), v("b")],
            vec![v("x|y"), v("100%"), v(""), v("%7C")],
        ] {
            let text = encode_siblings(&set);
            assert_eq!(
                decode_siblings(&text, set.len()),
                Ok(set.clone()),
                "{text:?}"
            );
        }
        assert!(decode_siblings("a|b", 3).is_err());
        assert!(decode_siblings("a%zz", 1).is_err());
        assert!(decode_siblings("a", 0).is_err());
    }

    #[test]
    fn reads_come_back_as_siblings_or_single_values() {
        let two = read_response("c1-1:|c2-1:", "2", 2).unwrap();
        let Response::Siblings { values, context } = &two else {
            panic!("{two:?}");
        };
        assert_eq!(values, &vec![v("c1-1:"), v("c2-1:")]);
        assert_eq!(context.total(), 2);
        assert_eq!(two.version(), 2);
        let one = Response::Value {
            value: Some(v("c1-1:")),
            version: 1,
        };
        assert_eq!(read_response("c1-1:", "1", 1), Ok(one));
        let absent = Response::Value {
            value: None,
            version: 0,
        };
        assert_eq!(read_response("", "0", 0), Ok(absent));
        // Old files: no count, the cell is one value (a `|` included).
        let old = read_response("a|b", "", 2).unwrap();
        assert_eq!(
            old,
            Response::Value {
                value: Some(v("a|b")),
                version: 2
            }
        );
        assert!(read_response("a", "x", 1).is_err());
    }
}
