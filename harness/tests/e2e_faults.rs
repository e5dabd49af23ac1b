//! Faults through the `qlab` binary: the leader is SIGKILLed under load and
//! restarted from its fsynced write-ahead log; a new leader takes over,
//! operations resume, the restarted node catches up, recovery metrics are
//! written and the recorded history stays linearizable.

mod common;

use common::{read_csv, run_experiment, scratch};
use protocols::check::{check_history, CheckLimits};

#[test]
fn leader_crash_and_restart_with_fsync() {
    let dir = scratch("faults");
    let file = dir.join("crash.yaml");
    std::fs::write(
        &file,
        "name: crash\nprotocol: raft\nnodes: 3\ndurability: fsync\nhistory: true\n\
         workload:\n  keys: 30\n  arrival: {kind: open, rate: 200}\n  clients: 16\n  duration: 7s\n  warmup: 1s\n  cooldown: 500ms\n\
         faults:\n  - {kind: crash, at: 2500ms, node: leader, for: 1500ms}\n\
         sweep:\n  protocol: [raft, multipaxos]\n",
    )
    .unwrap();
    let out = dir.join("results");
    let o = run_experiment(&file, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let recovery = read_csv(&out.join("recovery.csv"));
    assert_eq!(recovery.len(), 2, "{recovery:?}");
    for r in &recovery {
        let f = |k: &str| {
            r[k].parse::<f64>()
                .unwrap_or_else(|_| panic!("{k} = {:?} in {r:?}", r[k]))
        };
        assert_eq!(r["fault"], "crash");
        // Resolving `leader` takes a status round of up to 150 ms, and up
        // to four rounds on a loaded machine.
        assert!(f("fault_ms") > 2400.0 && f("fault_ms") < 3300.0, "{r:?}");
        assert!(
            f("time_to_leader_ms") > 0.0 && f("time_to_leader_ms") < 2000.0,
            "{r:?}"
        );
        assert!(f("unavailable_ms") < 2000.0, "{r:?}");
        assert!(f("recovery_ms") < 3000.0, "{r:?}");
        assert!(f("baseline_ops_per_s") > 150.0, "{r:?}");
    }
    let events = read_csv(&out.join("events.csv"));
    for p in ["protocol=raft", "protocol=multipaxos"] {
        let of = |kind: &str| {
            events
                .iter()
                .filter(|e| e["point"] == p && e["kind"] == kind)
                .cloned()
                .collect::<Vec<_>>()
        };
        let crash = &of("fault_crash")[0];
        let restart = &of("fault_restart")[0];
        assert_eq!(
            crash["node"], restart["node"],
            "the crashed leader is the one restarted"
        );
        let t =
            |e: &std::collections::BTreeMap<String, String>| e["time_ms"].parse::<f64>().unwrap();
        assert!(
            of("leader_elected")
                .iter()
                .any(|e| t(e) > t(crash) && e["node"] != crash["node"]),
            "{p}: no new leader after the crash"
        );
        // Caught up as a follower, or (Multi-Paxos, no stickiness yet)
        // won a new ballot, which adopts every chosen value in phase 1.
        assert!(
            of("caught_up")
                .iter()
                .chain(of("leader_elected").iter())
                .any(|e| t(e) > t(restart) && e["node"] == restart["node"]),
            "{p}: the restarted node never caught up"
        );
        assert!(
            of("node_started")
                .iter()
                .any(|e| t(e) > t(restart) && e["node"] == restart["node"]),
            "{p}: no node_started after the restart: {:?}",
            events
                .iter()
                .filter(|e| e["point"] == p)
                .map(|e| format!("{} {} {}", e["time_ms"], e["node"], e["kind"]))
                .collect::<Vec<_>>()
        );
    }
    let summary = read_csv(&out.join("summary.csv"));
    for row in &summary {
        assert_eq!(row["durability"], "fsync");
        assert!(
            row["achieved_ops_per_s"].parse::<f64>().unwrap() > 150.0,
            "{row:?}"
        );
    }
    let histories = analysis::history::read_history(&out.join("history.csv")).unwrap();
    for ((point, _), ops) in histories {
        let verdict = check_history(&ops, CheckLimits::default());
        assert!(verdict.is_linearizable(), "{point}: {verdict:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn isolating_the_leader_keeps_the_majority_committing_and_the_history_linearizable() {
    let dir = scratch("isolate");
    let file = dir.join("isolate.yaml");
    std::fs::write(
        &file,
        "name: isolate\nprotocol: raft\nnodes: 3\nhistory: true\n\
         workload:\n  keys: 20\n  arrival: {kind: open, rate: 150}\n  clients: 16\n  duration: 7s\n  warmup: 1s\n  cooldown: 500ms\n  request_timeout: 3s\n\
         faults:\n  - {kind: isolate, at: 2s, node: leader, for: 2s}\n",
    )
    .unwrap();
    let out = dir.join("results");
    let o = run_experiment(&file, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let events = read_csv(&out.join("events.csv"));
    let t = |e: &std::collections::BTreeMap<String, String>| e["time_ms"].parse::<f64>().unwrap();
    let isolate = events
        .iter()
        .find(|e| e["kind"] == "fault_isolate")
        .expect("no isolation event");
    let heal = events
        .iter()
        .find(|e| e["kind"] == "fault_heal")
        .expect("no heal event");
    let old = &isolate["node"];
    assert!(
        events.iter().any(|e| e["kind"] == "leader_elected"
            && &e["node"] != old
            && t(e) > t(isolate)
            && t(e) < t(heal)),
        "the majority side elected no leader during the isolation"
    );
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "stepped_down" && &e["node"] == old && t(e) > t(isolate)),
        "the old leader never stepped down"
    );
    // The majority kept committing while the old leader was cut off.
    let series = read_csv(&out.join("timeseries.csv"));
    let during: u64 = series
        .iter()
        .filter(|w| {
            let s: f64 = w["window_start_ms"].parse().unwrap();
            s > t(isolate) + 1000.0 && s < t(heal)
        })
        .map(|w| w["completed"].parse::<u64>().unwrap())
        .sum();
    assert!(
        during > 50,
        "only {during} operations completed during the isolation"
    );
    let histories = analysis::history::read_history(&out.join("history.csv")).unwrap();
    for ((point, _), ops) in histories {
        let verdict = check_history(&ops, CheckLimits::default());
        assert!(verdict.is_linearizable(), "{point}: {verdict:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
