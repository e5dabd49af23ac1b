//! Reading `history.csv` back into operations for the checkers.

use protocols::check::{HistoryOp, Outcome};
use protocols::kv::{Command, Response, Value};
use protocols::types::Time;
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
                let value = (version > 0).then(|| Value::from(get(10).as_bytes().to_vec()));
                Outcome::Ok(Response::Value { value, version })
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
