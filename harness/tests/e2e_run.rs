//! End to end through the `qlab` binary: a tiny experiment on a local
//! cluster of real processes over QUIC, checked from its CSV files.

mod common;

use common::{read_csv, run_experiment, scratch};
use protocols::check::{check_history, CheckLimits};

#[test]
fn tiny_experiment_writes_sane_results_for_both_protocols() {
    let dir = scratch("tiny");
    let file = dir.join("tiny.yaml");
    std::fs::write(
        &file,
        "name: tiny\nprotocol: raft\nnodes: 3\nhistory: true\ntimeseries_window: 50ms\n\
         workload:\n  keys: 20\n  arrival: {kind: open, rate: 200}\n  clients: 16\n  duration: 3s\n  warmup: 1s\n  cooldown: 500ms\n\
         sweep:\n  protocol: [raft, multipaxos]\n",
    )
    .unwrap();
    let out = dir.join("results");
    let o = run_experiment(&file, &out, &[]);
    assert!(
        o.status.success(),
        "qlab run failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let summary = read_csv(&out.join("summary.csv"));
    assert_eq!(summary.len(), 2, "{summary:?}");
    let protocols: Vec<&str> = summary.iter().map(|r| r["protocol"].as_str()).collect();
    assert_eq!(protocols, vec!["raft", "multipaxos"]);
    for row in &summary {
        let f = |k: &str| {
            row[k]
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{k}={:?}", row[k]))
        };
        let offered = f("offered_ops_per_s");
        let achieved = f("achieved_ops_per_s");
        assert!(
            achieved <= offered * 1.15 && achieved >= offered * 0.7,
            "{row:?}"
        );
        assert!(
            f("p50_us") > 0.0 && f("p50_us") <= f("p99_us") && f("p99_us") <= f("max_us"),
            "{row:?}"
        );
        assert_eq!(f("errors"), 0.0, "{row:?}");
        assert_eq!(f("timeouts"), 0.0, "{row:?}");
        assert_eq!(row["durability"], "memory");
        assert_eq!(
            row["auth"], "none",
            "crash-tolerant protocols have no auth knob"
        );
        assert_eq!(row["simulated"], "false");
        assert_eq!(row["load"], "open");
    }
    let series = read_csv(&out.join("timeseries.csv"));
    assert!(
        series.len() >= 2 * 50,
        "3 s in 50 ms windows per protocol: {}",
        series.len()
    );
    let events = read_csv(&out.join("events.csv"));
    for p in ["protocol=raft", "protocol=multipaxos"] {
        assert!(
            events
                .iter()
                .any(|e| e["point"] == p && e["kind"] == "leader_elected"),
            "no leader election recorded for {p}"
        );
    }
    for p in ["protocol=raft-r0.hgrm", "protocol=multipaxos-r0.hgrm"] {
        let text = std::fs::read_to_string(out.join("latency").join(p)).unwrap();
        assert!(text.contains("Total count"), "{p}");
    }
    let prov = std::fs::read_to_string(out.join("provenance.yaml")).unwrap();
    for key in [
        "binary_sha256",
        "cpu_model",
        "kernel",
        "experiment_sha256",
        "command_line",
    ] {
        assert!(prov.contains(key), "provenance lacks {key}");
    }
    // The recorded histories are linearizable.
    let histories = analysis::history::read_history(&out.join("history.csv")).unwrap();
    assert_eq!(histories.len(), 2);
    for ((point, _), ops) in histories {
        assert!(ops.len() > 300, "{point}: {} ops", ops.len());
        let verdict = check_history(&ops, CheckLimits::default());
        assert!(verdict.is_linearizable(), "{point}: {verdict:?}");
    }
    // Running again resumes: nothing is redone.
    let again = run_experiment(&file, &out, &[]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("resuming: 2 point(s)"));
    assert_eq!(read_csv(&out.join("summary.csv")).len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
