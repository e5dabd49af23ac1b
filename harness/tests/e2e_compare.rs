//! `qlab compare` through the binary on hand-written results folders with
//! known ratios: run against run, and protocol against protocol.

mod common;

use common::{qlab, read_csv, scratch};
use std::path::Path;
use std::process::Output;

const HEAD: &str = "point,repetition,experiment,protocol,nodes,durability,backend,simulated,load,workload.arrival.rate,achieved_ops_per_s,p50_us,p99_us\n";

fn write_summary(dir: &Path, rows: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = HEAD.to_string();
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(dir.join("summary.csv"), text).unwrap();
}

fn row(protocol: &str, rate: u32, rep: u32, ops: f64, p50: f64, p99: f64) -> String {
    format!(
        "\"protocol={protocol},workload.arrival.rate={rate}\",{rep},x,{protocol},3,none,local,false,open,{rate},{ops},{p50},{p99}"
    )
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn compare_two_runs_and_protocols() {
    let dir = scratch("compare");
    let a = dir.join("a");
    let b = dir.join("b");
    write_summary(
        &a,
        &[
            &row("raft", 100, 0, 100.0, 1000.0, 5000.0),
            &row("raft", 100, 1, 100.0, 3000.0, 5000.0),
            &row("raft", 200, 0, 200.0, 2000.0, 8000.0),
            &row("multipaxos", 100, 0, 100.0, 1000.0, 4000.0),
            &row("multipaxos", 200, 0, 180.0, 4000.0, 6000.0),
        ],
    );
    write_summary(
        &b,
        &[
            &row("raft", 100, 0, 100.0, 1000.0, 10000.0),
            &row("raft", 200, 0, 150.0, 1000.0, 8000.0),
            &row("raft", 300, 0, 250.0, 1000.0, 8000.0),
        ],
    );

    let csv = dir.join("cmp.csv");
    let o = qlab()
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .arg("--csv")
        .arg(&csv)
        .output()
        .unwrap();
    let text = stdout(&o);
    assert!(text.contains("B/A"), "{text}");
    assert!(text.contains("points only in A"), "{text}");
    assert!(
        text.contains("protocol=multipaxos,workload.arrival.rate=200"),
        "{text}"
    );
    assert!(text.contains("points only in B"), "{text}");
    assert!(
        text.contains("protocol=raft,workload.arrival.rate=300"),
        "{text}"
    );
    let rows = read_csv(&csv);
    assert_eq!(rows.len(), 6, "{rows:?}");
    let get = |point: &str, metric: &str| {
        let r = rows
            .iter()
            .find(|r| r["point"] == point && r["metric"] == metric)
            .unwrap_or_else(|| panic!("no {point} {metric} in {rows:?}"));
        let f = |k: &str| r[k].parse::<f64>().unwrap();
        (f("a"), f("b"), f("ratio"))
    };
    // Repetitions are averaged: A's p50 at rate 100 is (1000 + 3000) / 2.
    assert_eq!(
        get("protocol=raft,workload.arrival.rate=100", "p50_us"),
        (2000.0, 1000.0, 0.5)
    );
    assert_eq!(
        get("protocol=raft,workload.arrival.rate=100", "p99_us"),
        (5000.0, 10000.0, 2.0)
    );
    assert_eq!(
        get(
            "protocol=raft,workload.arrival.rate=200",
            "achieved_ops_per_s"
        ),
        (200.0, 150.0, 0.75)
    );
    assert!(text.contains("0.750"), "{text}");

    // Protocol against protocol within run A, one metric.
    let csv = dir.join("by.csv");
    let o = qlab()
        .args(["compare", "--by", "protocol", "--metrics", "p50_us"])
        .arg(&a)
        .arg("--csv")
        .arg(&csv)
        .output()
        .unwrap();
    let text = stdout(&o);
    assert!(text.contains("protocol=raft"), "{text}");
    let rows = read_csv(&csv);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[0]["point"],
        "protocol=multipaxos,workload.arrival.rate=100"
    );
    assert_eq!(rows[0]["a"], "2000");
    assert_eq!(rows[0]["ratio"], "0.5");
    assert_eq!(rows[1]["ratio"], "2");

    // Errors: an unknown metric, a folder without summary.csv.
    let o = qlab()
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .args(["--metrics", "nope"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no column \"nope\""));
    let o = qlab()
        .arg("compare")
        .arg(&a)
        .arg(dir.join("missing"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("summary.csv not found"));
    let _ = std::fs::remove_dir_all(&dir);
}
