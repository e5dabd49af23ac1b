//! Partitions that split the clients too (`client_partitions: true`, the
//! CAP experiment's setting), through the `qlab` binary: during a 2|3 split
//! of a Raft cluster, clients beside the majority keep being served and
//! clients beside the minority are not; `availability.csv` says so per side
//! and the history stays linearizable.

mod common;

use common::{read_csv, run_experiment, scratch};
use protocols::check::{check_history, CheckLimits};

#[test]
fn a_partition_splits_the_clients_and_each_side_is_counted() {
    let dir = scratch("client-partition");
    let file = dir.join("split.yaml");
    std::fs::write(
        &file,
        "name: split\nprotocol: raft\nnodes: 5\ndurability: nosync\nhistory: true\nclient_partitions: true\n\
         workload:\n  keys: 20\n  arrival: {kind: open, rate: 300}\n  clients: 20\n  duration: 7s\n  warmup: 500ms\n  request_timeout: 800ms\n\
         faults:\n  - {kind: partition, at: 2s, groups: [[0, 1]], for: 3s}\n",
    )
    .unwrap();
    let out = dir.join("results");
    let o = run_experiment(&file, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let sides = read_csv(&out.join("availability.csv"));
    assert_eq!(sides.len(), 2, "{sides:?}");
    let side = |label: &str| {
        sides
            .iter()
            .find(|r| r["side"] == label)
            .unwrap_or_else(|| panic!("no side {label}: {sides:?}"))
    };
    let num = |r: &std::collections::BTreeMap<String, String>, k: &str| -> f64 {
        r[k].parse().unwrap_or_else(|_| panic!("{k} in {r:?}"))
    };
    let (minority, majority) = (side("0+1"), side("2+3+4"));
    // 20 clients over 5 replicas: 8 live beside 0 and 1, 12 beside 2-4;
    // about 900 operations arrive in the 3 s split, most taken by
    // majority clients, since minority clients are stuck waiting.
    assert_eq!(minority["clients"], "8", "{minority:?}");
    assert_eq!(majority["clients"], "12", "{majority:?}");
    assert!(num(majority, "issued") > 300.0, "{majority:?}");
    // Minority clients wait out their request timeouts, one operation in
    // flight each, so they issue few.
    assert!(num(minority, "issued") >= 8.0, "{minority:?}");
    // The majority elects a leader if it lost it and keeps serving; the
    // minority can neither commit nor confirm a read.
    assert!(num(majority, "availability") > 0.7, "{majority:?}");
    assert!(num(minority, "availability") < 0.05, "{minority:?}");
    for r in [minority, majority] {
        assert_eq!(
            num(r, "issued"),
            num(r, "ok") + num(r, "after_heal") + num(r, "errors") + num(r, "timeouts"),
            "every operation is counted once: {r:?}"
        );
    }

    // `qlab cap` turns the same results into the PACELC class: Raft
    // refuses on the minority side, serves no stale read, and so is PC/EC.
    let o = common::qlab().arg("cap").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cap = read_csv(&out.join("cap.csv"));
    assert_eq!(cap.len(), 1, "{cap:?}");
    assert_eq!(cap[0]["pacelc"], "PC/EC", "{cap:?}");
    assert_eq!(cap[0]["minority_side"], "0+1", "{cap:?}");
    assert_eq!(cap[0]["linearizable"], "true", "{cap:?}");
    assert_eq!(cap[0]["stale_during"], "0", "{cap:?}");
    assert!(num(&cap[0], "reads_else") > 100.0, "{cap:?}");
    assert!(num(&cap[0], "else_p50_ms") > 0.0, "{cap:?}");

    let histories = analysis::history::read_history(&out.join("history.csv")).unwrap();
    for ((point, _), ops) in histories {
        let verdict = check_history(&ops, CheckLimits::default());
        assert!(verdict.is_linearizable(), "{point}: {verdict:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
