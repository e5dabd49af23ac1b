//! ABD end to end through the `qlab` binary: a short experiment on a local
//! cluster of three real processes over QUIC, with and without the read
//! fast path; the summary has a row per point without errors, `qlab check`
//! finds the recorded histories linearizable (reading ABD's versions as
//! ordered tags, as it learns from `summary.csv`), and a doctored history is
//! still caught.

mod common;

use common::{qlab, read_csv, run_experiment, scratch};
use std::path::Path;
use std::process::Output;

fn check(dir: &Path) -> Output {
    qlab().arg("check").arg(dir).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn abd_runs_over_quic_and_its_history_is_linearizable() {
    let dir = scratch("abd");
    let file = dir.join("abd.yaml");
    std::fs::write(
        &file,
        "name: abd\nprotocol: abd\nnodes: 3\nhistory: true\n\
         workload:\n  keys: 4\n  arrival: {kind: open, rate: 300}\n  clients: 12\n  duration: 3s\n  warmup: 500ms\n  cooldown: 300ms\n\
         sweep:\n  protocol_config.read_fast_path: [true, false]\n",
    )
    .unwrap();
    let out = dir.join("results");
    let o = run_experiment(&file, &out, &[]);
    assert!(o.status.success(), "qlab run failed:\n{}", text(&o));

    let summary = read_csv(&out.join("summary.csv"));
    assert_eq!(summary.len(), 2, "{summary:?}");
    for row in &summary {
        let f = |k: &str| {
            row[k]
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{k}={:?}", row[k]))
        };
        assert_eq!(row["protocol"], "abd");
        assert!(f("completed") > 300.0, "{row:?}");
        assert_eq!(f("errors"), 0.0, "{row:?}");
        assert_eq!(f("timeouts"), 0.0, "{row:?}");
        let achieved = f("achieved_ops_per_s");
        assert!((210.0..=345.0).contains(&achieved), "{row:?}");
        assert!(f("p50_us") > 0.0 && f("p50_us") <= f("p99_us"), "{row:?}");
    }

    let o = check(&out);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("all 2 histories are linearizable"), "{t}");
    assert!(
        t.contains("linearizable (versions read as ordered tags)"),
        "{t}"
    );
    assert!(t.contains(" 0 stale reads"), "{t}");
    assert!(t.contains("4 keys"), "{t}");

    // A read of a value nobody wrote is caught under ABD's version model.
    let bad = dir.join("doctored");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(out.join("summary.csv"), bad.join("summary.csv")).unwrap();
    let mut r = csv::Reader::from_path(out.join("history.csv")).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    let row = rows
        .iter_mut()
        .find(|r| {
            r[col("op")] == "get" && r[col("outcome")] == "ok" && r[col("result_version")] != "0"
        })
        .expect("no successful read of a written key");
    row[col("result_value")] = "doctored-never-written".into();
    let mut w = csv::Writer::from_path(bad.join("history.csv")).unwrap();
    w.write_record(&headers).unwrap();
    for row in &rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();
    let o = check(&bad);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("NOT LINEARIZABLE"), "{t}");
    assert!(t.contains("doctored-never-written"), "{t}");
    let _ = std::fs::remove_dir_all(&dir);
}
