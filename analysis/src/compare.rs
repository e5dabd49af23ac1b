//! Comparing `summary.csv` tables: run against run (matched by point label,
//! repetitions averaged) and, within one run, points that differ only in one
//! column (e.g. `protocol`), as ratios against a baseline.

use crate::stats::mean_ci95;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use thiserror::Error;

/// A summary table that cannot be read or compared.
#[derive(Debug, Error)]
pub enum CompareError {
    /// I/O or CSV syntax.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: String,
        /// The cause.
        source: csv::Error,
    },
    /// A column the comparison needs is absent.
    #[error("{table}: no column {column:?} (columns: {available})")]
    MissingColumn {
        /// The table.
        table: String,
        /// The missing column.
        column: String,
        /// The columns present, comma-separated.
        available: String,
    },
    /// `--by` found nothing to compare.
    #[error("{table}: every point has the same {column}; nothing to compare")]
    NothingToPair {
        /// The table.
        table: String,
        /// The column points should differ in.
        column: String,
    },
}

/// A CSV table held as text: a header and rows.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryTable {
    /// Where it came from (for messages).
    pub name: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns` (short rows are padded with "").
    pub rows: Vec<Vec<String>>,
}

impl SummaryTable {
    /// Reads a table from a CSV file.
    pub fn read(path: &Path) -> Result<Self, CompareError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| CompareError::Csv {
            path: name.clone(),
            source: csv::Error::from(e),
        })?;
        Self::from_reader(&name, file)
    }

    /// Reads a table from CSV text; `name` labels errors.
    pub fn from_reader<R: Read>(name: &str, reader: R) -> Result<Self, CompareError> {
        let csv_err = |source| CompareError::Csv {
            path: name.to_string(),
            source,
        };
        let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let columns: Vec<String> = r
            .headers()
            .map_err(csv_err)?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        for rec in r.records() {
            let rec = rec.map_err(csv_err)?;
            let mut row: Vec<String> = rec.iter().map(str::to_string).collect();
            row.resize(columns.len(), String::new());
            rows.push(row);
        }
        Ok(SummaryTable {
            name: name.to_string(),
            columns,
            rows,
        })
    }

    /// The index of `column`, or a [`CompareError::MissingColumn`].
    pub fn column(&self, column: &str) -> Result<usize, CompareError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| CompareError::MissingColumn {
                table: self.name.clone(),
                column: column.to_string(),
                available: self.columns.join(","),
            })
    }

    /// Per-point means of `metrics` over repetitions, points in order of
    /// first appearance. Non-numeric cells are ignored; a metric with no
    /// numeric cell for a point is NaN.
    pub fn point_means(&self, metrics: &[String]) -> Result<Vec<PointMeans>, CompareError> {
        let point = self.column("point")?;
        let idx: Vec<usize> = metrics
            .iter()
            .map(|m| self.column(m))
            .collect::<Result<_, _>>()?;
        let mut order: Vec<String> = Vec::new();
        let mut samples: BTreeMap<String, (usize, Vec<Vec<f64>>)> = BTreeMap::new();
        for (r, row) in self.rows.iter().enumerate() {
            let label = &row[point];
            let entry = samples.entry(label.clone()).or_insert_with(|| {
                order.push(label.clone());
                (r, vec![Vec::new(); metrics.len()])
            });
            for (m, &c) in idx.iter().enumerate() {
                entry.1[m].push(row[c].trim().parse::<f64>().unwrap_or(f64::NAN));
            }
        }
        Ok(order
            .into_iter()
            .filter_map(|label| {
                let (first_row, cols) = samples.remove(&label)?;
                let repetitions = cols.first().map_or(0, Vec::len);
                let values = cols
                    .iter()
                    .map(|xs| mean_ci95(xs).map_or(f64::NAN, |m| m.mean))
                    .collect();
                Some(PointMeans {
                    point: label,
                    first_row,
                    repetitions,
                    values,
                })
            })
            .collect())
    }
}

/// One point's metrics, averaged over its repetitions.
#[derive(Clone, Debug, PartialEq)]
pub struct PointMeans {
    /// The point label.
    pub point: String,
    /// Index of the point's first row in the table.
    pub first_row: usize,
    /// How many rows (repetitions) were averaged.
    pub repetitions: usize,
    /// Means, in the order of the requested metrics.
    pub values: Vec<f64>,
}

/// One metric of one point in both sides of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRow {
    /// The point label (for `--by`, the label of the compared point).
    pub point: String,
    /// The metric (column name).
    pub metric: String,
    /// Value in A (the baseline).
    pub a: f64,
    /// Value in B.
    pub b: f64,
    /// `b / a` (NaN or infinite when `a` is 0 or either is missing).
    pub ratio: f64,
}

/// The result of a comparison.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    /// Matched rows, metric-major within each point, points in A's order.
    pub rows: Vec<MetricRow>,
    /// Points found only in A (for `--by`: points with no baseline partner).
    pub only_a: Vec<String>,
    /// Points found only in B (for `--by`: always empty).
    pub only_b: Vec<String>,
    /// For `--by`: the baseline value of the column (e.g. `raft`).
    pub baseline: Option<String>,
}

fn metric_rows(point: &str, metrics: &[String], a: &[f64], b: &[f64]) -> Vec<MetricRow> {
    metrics
        .iter()
        .zip(a.iter().zip(b))
        .map(|(m, (&a, &b))| MetricRow {
            point: point.to_string(),
            metric: m.clone(),
            a,
            b,
            ratio: b / a,
        })
        .collect()
}

/// Compares two runs point by point: each point's mean over repetitions in
/// `b` against the same point's mean in `a`.
pub fn compare_runs(
    a: &SummaryTable,
    b: &SummaryTable,
    metrics: &[String],
) -> Result<Comparison, CompareError> {
    let ma = a.point_means(metrics)?;
    let mb = b.point_means(metrics)?;
    let by_label: BTreeMap<&str, &PointMeans> = mb.iter().map(|p| (p.point.as_str(), p)).collect();
    let mut out = Comparison::default();
    for pa in &ma {
        match by_label.get(pa.point.as_str()) {
            Some(pb) => out
                .rows
                .extend(metric_rows(&pa.point, metrics, &pa.values, &pb.values)),
            None => out.only_a.push(pa.point.clone()),
        }
    }
    let in_a: Vec<&str> = ma.iter().map(|p| p.point.as_str()).collect();
    out.only_b = mb
        .iter()
        .filter(|p| !in_a.contains(&p.point.as_str()))
        .map(|p| p.point.clone())
        .collect();
    Ok(out)
}

/// The label with its `column=...` component removed: the key under which
/// points that differ only in `column` meet.
pub fn label_without(label: &str, column: &str) -> String {
    label
        .split(',')
        .filter(|part| part.split_once('=').map(|(k, _)| k) != Some(column))
        .collect::<Vec<_>>()
        .join(",")
}

/// Within one run, pairs points that differ only in `column` (e.g.
/// `protocol`) and compares each against the point with the baseline value
/// of `column`: the value of the table's first row.
pub fn compare_by(
    table: &SummaryTable,
    column: &str,
    metrics: &[String],
) -> Result<Comparison, CompareError> {
    let col = table.column(column)?;
    let means = table.point_means(metrics)?;
    let value_of = |p: &PointMeans| table.rows[p.first_row][col].clone();
    let baseline = match means.first() {
        Some(p) => value_of(p),
        None => return Ok(Comparison::default()),
    };
    if means.iter().all(|p| value_of(p) == baseline) {
        return Err(CompareError::NothingToPair {
            table: table.name.clone(),
            column: column.to_string(),
        });
    }
    let mut base: BTreeMap<String, &PointMeans> = BTreeMap::new();
    for p in means.iter().filter(|p| value_of(p) == baseline) {
        base.entry(label_without(&p.point, column)).or_insert(p);
    }
    let mut out = Comparison {
        baseline: Some(baseline.clone()),
        ..Comparison::default()
    };
    for p in means.iter().filter(|p| value_of(p) != baseline) {
        match base.get(&label_without(&p.point, column)) {
            Some(b) => out
                .rows
                .extend(metric_rows(&p.point, metrics, &b.values, &p.values)),
            None => out.only_a.push(p.point.clone()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> SummaryTable {
        SummaryTable::from_reader("t", text.as_bytes()).unwrap()
    }
    fn metrics(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn runs_are_matched_by_point_and_repetitions_averaged() {
        let a = table(
            "point,repetition,protocol,achieved_ops_per_s,p99_us\n\
             rate=100,0,raft,100,1000\nrate=100,1,raft,300,3000\n\
             rate=200,0,raft,200,2000\nold,0,raft,1,1\n",
        );
        let b = table(
            "point,repetition,protocol,achieved_ops_per_s,p99_us\n\
             rate=200,0,raft,300,1000\nrate=100,0,raft,100,4000\nnew,0,raft,5,5\n",
        );
        let c = compare_runs(&a, &b, &metrics(&["achieved_ops_per_s", "p99_us"])).unwrap();
        assert_eq!(c.rows.len(), 4);
        let r = &c.rows[0];
        assert_eq!(
            (r.point.as_str(), r.metric.as_str()),
            ("rate=100", "achieved_ops_per_s")
        );
        assert_eq!((r.a, r.b, r.ratio), (200.0, 100.0, 0.5));
        assert_eq!(
            (c.rows[1].a, c.rows[1].b, c.rows[1].ratio),
            (2000.0, 4000.0, 2.0)
        );
        assert_eq!(c.rows[2].point, "rate=200");
        assert_eq!(c.rows[2].ratio, 1.5);
        assert_eq!(c.rows[3].ratio, 0.5);
        assert_eq!(c.only_a, vec!["old".to_string()]);
        assert_eq!(c.only_b, vec!["new".to_string()]);
    }

    #[test]
    fn missing_metric_and_non_numeric_cells() {
        let a = table("point,repetition,x\np,0,\np,1,4\n");
        let err = compare_runs(&a, &a, &metrics(&["y"])).unwrap_err();
        assert!(err.to_string().contains("no column \"y\""), "{err}");
        let c = compare_runs(&a, &a, &metrics(&["x"])).unwrap();
        assert_eq!((c.rows[0].a, c.rows[0].ratio), (4.0, 1.0));
        let zero = table("point,repetition,x\np,0,0\n");
        assert!(
            compare_runs(&zero, &zero, &metrics(&["x"])).unwrap().rows[0]
                .ratio
                .is_nan()
        );
    }

    #[test]
    fn by_protocol_pairs_points_differing_only_in_protocol() {
        let t = table(
            "point,repetition,protocol,workload.arrival.rate,p50_us\n\
             \"protocol=raft,workload.arrival.rate=100\",0,raft,100,10\n\
             \"protocol=raft,workload.arrival.rate=100\",1,raft,100,30\n\
             \"protocol=raft,workload.arrival.rate=200\",0,raft,200,40\n\
             \"protocol=multipaxos,workload.arrival.rate=100\",0,multipaxos,100,30\n\
             \"protocol=multipaxos,workload.arrival.rate=200\",0,multipaxos,200,20\n\
             \"protocol=multipaxos,workload.arrival.rate=300\",0,multipaxos,300,20\n",
        );
        let c = compare_by(&t, "protocol", &metrics(&["p50_us"])).unwrap();
        assert_eq!(c.baseline.as_deref(), Some("raft"));
        assert_eq!(c.rows.len(), 2);
        assert_eq!(
            c.rows[0].point,
            "protocol=multipaxos,workload.arrival.rate=100"
        );
        assert_eq!(
            (c.rows[0].a, c.rows[0].b, c.rows[0].ratio),
            (20.0, 30.0, 1.5)
        );
        assert_eq!(
            (c.rows[1].a, c.rows[1].b, c.rows[1].ratio),
            (40.0, 20.0, 0.5)
        );
        assert_eq!(
            c.only_a,
            vec!["protocol=multipaxos,workload.arrival.rate=300".to_string()]
        );
    }

    #[test]
    fn by_a_column_that_never_varies_is_an_error() {
        let t = table("point,repetition,protocol,x\nbase,0,raft,1\n");
        let err = compare_by(&t, "protocol", &metrics(&["x"])).unwrap_err();
        assert!(matches!(err, CompareError::NothingToPair { .. }), "{err}");
        assert_eq!(label_without("protocol=raft,a=1", "protocol"), "a=1");
        assert_eq!(
            label_without("a=1,protocol=raft,b=x=y", "protocol"),
            "a=1,b=x=y"
        );
    }
}
