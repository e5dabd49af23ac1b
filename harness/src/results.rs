//! The results folder of an experiment: tidy CSV files appended point by
//! point, so an interrupted sweep keeps every finished point and a re-run
//! resumes after the last one.
//!
//! A point's rows go to `timeseries.csv` and `events.csv` first and to
//! `summary.csv` last; `summary.csv` is the record of which points are done.
//! On resume, rows of points missing from `summary.csv` (a run cut off
//! between files) are dropped before anything new is written, so no point is
//! ever counted twice.

use anyhow::{bail, Context};
use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

/// Identifies a measured point: sweep point label and repetition.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PointKey {
    /// The point's label (stable across runs of the same experiment).
    pub point: String,
    /// Repetition number, from 0.
    pub repetition: u32,
}

/// One CSV file with a fixed header.
#[derive(Clone, Debug)]
pub struct Table {
    /// File name inside the results folder.
    pub file: &'static str,
    /// Column names; the first two are always `point` and `repetition`.
    pub columns: Vec<String>,
}

impl Table {
    /// A table whose first columns are `point` and `repetition`.
    pub fn new(file: &'static str, columns: &[&str]) -> Table {
        let mut all = vec!["point".to_string(), "repetition".to_string()];
        all.extend(columns.iter().map(|c| c.to_string()));
        Table { file, columns: all }
    }

    /// Adds columns (e.g. swept parameters) after the fixed first two.
    pub fn with_extra(mut self, extra: &[String], after: usize) -> Table {
        let at = (2 + after).min(self.columns.len());
        for (i, c) in extra.iter().enumerate() {
            if !self.columns.contains(c) {
                self.columns.insert(at + i, c.clone());
            }
        }
        self
    }
}

/// A row: values by column name; missing columns are written empty.
pub type Row = Vec<(String, String)>;

/// An open results folder.
pub struct ResultsDir {
    dir: PathBuf,
    done: BTreeSet<PointKey>,
}

impl ResultsDir {
    /// Opens (creating if needed) `dir`. With `fresh`, an existing folder is
    /// moved aside to `<dir>.old-<n>` rather than deleted, so nothing is lost
    /// by a mistyped flag.
    pub fn open(dir: &Path, fresh: bool) -> anyhow::Result<ResultsDir> {
        if fresh && dir.exists() {
            let mut n = 1;
            let aside = loop {
                let candidate = PathBuf::from(format!("{}.old-{n}", dir.display()));
                if !candidate.exists() {
                    break candidate;
                }
                n += 1;
            };
            fs::rename(dir, &aside)
                .with_context(|| format!("moving old results aside to {}", aside.display()))?;
            eprintln!("previous results moved to {}", aside.display());
        }
        fs::create_dir_all(dir.join("latency"))
            .with_context(|| format!("creating results folder {}", dir.display()))?;
        let mut results = ResultsDir {
            dir: dir.to_path_buf(),
            done: BTreeSet::new(),
        };
        results.done = results.read_keys("summary.csv")?;
        for file in [
            "timeseries.csv",
            "events.csv",
            "history.csv",
            "recovery.csv",
            "trials.csv",
        ] {
            results.drop_unfinished(file)?;
        }
        Ok(results)
    }

    /// Whether a point was finished by an earlier run.
    pub fn is_done(&self, key: &PointKey) -> bool {
        self.done.contains(key)
    }

    /// Points finished so far.
    pub fn done_count(&self) -> usize {
        self.done.len()
    }

    fn read_keys(&self, file: &str) -> anyhow::Result<BTreeSet<PointKey>> {
        let path = self.dir.join(file);
        let mut keys = BTreeSet::new();
        if !path.exists() {
            return Ok(keys);
        }
        let mut reader =
            csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
        for (i, record) in reader.records().enumerate() {
            let record = record.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
            let (Some(point), Some(rep)) = (record.get(0), record.get(1)) else {
                bail!("{}: row {} lacks point/repetition", path.display(), i + 2);
            };
            let repetition = rep.parse().with_context(|| {
                format!("{}: row {}: repetition {rep:?}", path.display(), i + 2)
            })?;
            keys.insert(PointKey {
                point: point.to_string(),
                repetition,
            });
        }
        Ok(keys)
    }

    /// Rewrites `file` without rows of points that are not in summary.csv.
    fn drop_unfinished(&self, file: &str) -> anyhow::Result<()> {
        let path = self.dir.join(file);
        if !path.exists() {
            return Ok(());
        }
        let mut reader =
            csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
        let header = reader.headers()?.clone();
        let mut kept = Vec::new();
        let mut dropped = 0usize;
        for record in reader.records() {
            let record = record.with_context(|| format!("reading {}", path.display()))?;
            let key = PointKey {
                point: record.get(0).unwrap_or_default().to_string(),
                repetition: record
                    .get(1)
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(u32::MAX),
            };
            if self.done.contains(&key) {
                kept.push(record);
            } else {
                dropped += 1;
            }
        }
        if dropped == 0 {
            return Ok(());
        }
        let tmp = path.with_extension("csv.tmp");
        {
            let mut w = csv::Writer::from_path(&tmp)?;
            w.write_record(&header)?;
            for r in kept {
                w.write_record(&r)?;
            }
            w.flush()?;
        }
        fs::rename(&tmp, &path).with_context(|| format!("rewriting {}", path.display()))?;
        Ok(())
    }

    /// Appends rows to a table, writing the header if the file is new and
    /// refusing to mix headers if it is not.
    pub fn append(&self, table: &Table, rows: &[Row]) -> anyhow::Result<()> {
        let path = self.dir.join(table.file);
        let exists = path.exists() && fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(false);
        if exists {
            let mut reader = csv::Reader::from_path(&path)?;
            let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
            if header != table.columns {
                bail!(
                    "{} has columns {:?} but this run writes {:?}; use --fresh to start a new results folder",
                    path.display(),
                    header,
                    table.columns
                );
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut w = csv::Writer::from_writer(file);
        if !exists {
            w.write_record(&table.columns)?;
        }
        for row in rows {
            let record: Vec<&str> = table
                .columns
                .iter()
                .map(|c| {
                    row.iter()
                        .find(|(k, _)| k == c)
                        .map(|(_, v)| v.as_str())
                        .unwrap_or("")
                })
                .collect();
            w.write_record(&record)?;
        }
        w.flush()
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Marks a point finished by appending its summary row(s) last.
    pub fn finish_point(
        &mut self,
        key: PointKey,
        summary: &Table,
        rows: &[Row],
    ) -> anyhow::Result<()> {
        self.append(summary, rows)?;
        self.done.insert(key);
        Ok(())
    }

    /// Writes a file under `latency/`.
    pub fn write_latency(&self, name: &str, text: &str) -> anyhow::Result<()> {
        let path = self.dir.join("latency").join(name);
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rowv<const N: usize>(pairs: [(&str, String); N]) -> Row {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("qlab-results-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn resumes_and_drops_rows_of_unfinished_points() {
        let dir = tmpdir("resume");
        let summary = Table::new("summary.csv", &["ops"]);
        let series = Table::new("timeseries.csv", &["t"]);
        let a = PointKey {
            point: "a".into(),
            repetition: 0,
        };
        let b = PointKey {
            point: "b".into(),
            repetition: 0,
        };
        {
            let mut r = ResultsDir::open(&dir, false).unwrap();
            let rows_a = vec![rowv([
                ("point", "a".into()),
                ("repetition", "0".into()),
                ("t", "1".into()),
            ])];
            r.append(&series, &rows_a).unwrap();
            r.finish_point(
                a.clone(),
                &summary,
                &[rowv([
                    ("point", "a".into()),
                    ("repetition", "0".into()),
                    ("ops", "5".into()),
                ])],
            )
            .unwrap();
            // b's time series is written but the run dies before its summary.
            let rows_b = vec![rowv([
                ("point", "b".into()),
                ("repetition", "0".into()),
                ("t", "1".into()),
            ])];
            r.append(&series, &rows_b).unwrap();
        }
        let r = ResultsDir::open(&dir, false).unwrap();
        assert!(r.is_done(&a));
        assert!(!r.is_done(&b));
        let text = fs::read_to_string(dir.join("timeseries.csv")).unwrap();
        assert_eq!(text, "point,repetition,t\na,0,1\n");
        // A different header is refused.
        let other = Table::new("summary.csv", &["latency"]);
        let err = r.append(&other, &[]).unwrap_err();
        assert!(err.to_string().contains("--fresh"), "{err}");
        // --fresh moves the old folder aside.
        let r = ResultsDir::open(&dir, true).unwrap();
        assert_eq!(r.done_count(), 0);
        assert!(PathBuf::from(format!("{}.old-1", dir.display())).exists());
        fs::remove_dir_all(&dir).unwrap();
        fs::remove_dir_all(format!("{}.old-1", dir.display())).unwrap();
    }

    #[test]
    fn extra_columns_go_after_the_fixed_prefix() {
        let t =
            Table::new("summary.csv", &["protocol", "ops"]).with_extra(&["rate".to_string()], 1);
        assert_eq!(
            t.columns,
            vec!["point", "repetition", "protocol", "rate", "ops"]
        );
    }
}
