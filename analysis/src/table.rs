//! Reading result CSVs generically: by column name, with numbers parsed on
//! demand, so plots and reports work on any results folder (old ones, ones
//! copied from a testbed) without knowing every column in advance.

use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

/// Problems reading a result table.
#[derive(Debug, Error)]
pub enum TableError {
    /// The file could not be read or is not valid CSV.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: String,
        /// Why.
        source: csv::Error,
    },
}

/// One CSV file: a header and rows of strings.
#[derive(Clone, Debug, Default)]
pub struct ResultTable {
    /// Column names, in file order.
    pub columns: Vec<String>,
    /// Rows, each with one cell per column.
    pub rows: Vec<Vec<String>>,
}

/// One row with access by column name.
#[derive(Clone, Copy, Debug)]
pub struct RowRef<'a> {
    table: &'a ResultTable,
    cells: &'a [String],
}

impl<'a> RowRef<'a> {
    /// The cell of `column`, if the table has it.
    pub fn get(&self, column: &str) -> Option<&'a str> {
        let i = self.table.columns.iter().position(|c| c == column)?;
        self.cells.get(i).map(String::as_str)
    }

    /// The cell of `column` as a number (`inf` allowed), if it parses.
    pub fn num(&self, column: &str) -> Option<f64> {
        self.get(column)?.trim().parse::<f64>().ok()
    }

    /// The cell of `column`, or the empty string.
    pub fn text(&self, column: &str) -> &'a str {
        self.get(column).unwrap_or("")
    }
}

impl ResultTable {
    /// Reads `path`; a missing file is an empty table (not every run writes
    /// every file).
    pub fn read(path: &Path) -> Result<ResultTable, TableError> {
        if !path.exists() {
            return Ok(ResultTable::default());
        }
        let err = |source| TableError::Csv {
            path: path.display().to_string(),
            source,
        };
        let mut reader = csv::Reader::from_path(path).map_err(err)?;
        let columns = reader
            .headers()
            .map_err(err)?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            rows.push(record.map_err(err)?.iter().map(str::to_string).collect());
        }
        Ok(ResultTable { columns, rows })
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether the table has `column`.
    pub fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c == column)
    }

    /// The rows.
    pub fn iter(&self) -> impl Iterator<Item = RowRef<'_>> {
        self.rows
            .iter()
            .map(move |cells| RowRef { table: self, cells })
    }

    /// Rows grouped by the value of `column`, groups in first-seen order.
    pub fn group_by(&self, column: &str) -> Vec<(String, Vec<RowRef<'_>>)> {
        let mut order: Vec<String> = Vec::new();
        let mut groups: BTreeMap<String, Vec<RowRef<'_>>> = BTreeMap::new();
        for r in self.iter() {
            let k = r.text(column).to_string();
            if !groups.contains_key(&k) {
                order.push(k.clone());
            }
            groups.entry(k).or_default().push(r);
        }
        order
            .into_iter()
            .map(|k| {
                let rows = groups.remove(&k).unwrap_or_default();
                (k, rows)
            })
            .collect()
    }

    /// Distinct values of `column`, in first-seen order.
    pub fn distinct(&self, column: &str) -> Vec<String> {
        self.group_by(column).into_iter().map(|(k, _)| k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_by_name_and_groups_in_order() {
        let dir = std::env::temp_dir().join(format!("qlab-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.csv");
        std::fs::write(&p, "point,protocol,x\na,raft,1.5\nb,paxos,inf\nc,raft,\n").unwrap();
        let t = ResultTable::read(&p).unwrap();
        assert_eq!(t.rows.len(), 3);
        let g = t.group_by("protocol");
        assert_eq!(g[0].0, "raft");
        assert_eq!(g[0].1.len(), 2);
        assert_eq!(g[1].1[0].num("x"), Some(f64::INFINITY));
        assert_eq!(g[0].1[1].num("x"), None);
        assert!(ResultTable::read(&dir.join("missing.csv"))
            .unwrap()
            .is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
