//! The Byzantine fault tolerant protocols end to end through the `qlab`
//! binary: PBFT (PBFT-PK: signed messages and client requests, prepared
//! certificates in view changes) and chained HotStuff (with ed25519
//! signatures and quorum certificates of signatures) as four real
//! processes over QUIC, with the
//! primary / current leader SIGKILLed for three seconds. Operations must
//! keep completing while it is down (it was replaced), the history must be
//! linearizable, and every row must carry the replicas' messages and bytes
//! per operation.

mod common;

use common::{output_text as text, qlab, read_csv, run_experiment, scratch};
use std::collections::BTreeMap;

type Row = BTreeMap<String, String>;

fn num(row: &Row, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?} in {row:?}", row[col]))
}

#[test]
fn pbft_and_hotstuff_replace_a_crashed_leader_over_quic() {
    let dir = scratch("bft");
    let file = dir.join("bft.yaml");
    std::fs::write(
        &file,
        "name: bft\nprotocol: pbft\nnodes: 4\ndurability: nosync\nhistory: true\n\
         workload:\n  keys: 50\n  arrival: {kind: open, rate: 150}\n  clients: 16\n  duration: 8s\n  warmup: 500ms\n  cooldown: 500ms\n  request_timeout: 3s\n\
         faults:\n  - {kind: crash, at: 2s, node: leader, for: 3s}\n\
         sweep:\n  protocol,protocol_config:\n    - [pbft, {auth: signatures}]\n    - [hotstuff, {auth: signatures}]\n",
    )
    .unwrap();
    let out = dir.join("results");
    let o = run_experiment(&file, &out, &[]);
    assert!(o.status.success(), "qlab run failed:\n{}", text(&o));

    let summary = read_csv(&out.join("summary.csv"));
    assert_eq!(summary.len(), 2, "{summary:?}");
    for row in &summary {
        assert!(num(row, "completed") > 500.0, "{row:?}");
        assert_eq!(num(row, "errors"), 0.0, "{row:?}");
        // Replicas report what they sent; BFT needs several messages per
        // operation (PBFT's all-to-all phases, HotStuff's votes).
        assert!(num(row, "replica_msgs_per_op") > 2.0, "{row:?}");
        assert!(num(row, "replica_bytes_per_op") > 100.0, "{row:?}");
    }
    for protocol in ["pbft", "hotstuff"] {
        let row = summary.iter().find(|r| r["protocol"] == protocol).unwrap();
        assert!(row["point"].contains("auth=signatures"), "{row:?}");
        // The results say which authentication mode each row ran with.
        assert_eq!(row["auth"], "signatures", "{row:?}");
    }

    // While the crashed replica is down (2 s to 5 s), operations complete.
    let series = read_csv(&out.join("timeseries.csv"));
    for protocol in ["pbft", "hotstuff"] {
        let during: f64 = series
            .iter()
            .filter(|r| r["protocol"] == protocol)
            .filter(|r| (3_000.0..4_800.0).contains(&num(r, "window_start_ms")))
            .map(|r| num(r, "completed"))
            .sum();
        assert!(
            during > 50.0,
            "{protocol}: {during} completions while the leader was down"
        );
    }

    let events = read_csv(&out.join("events.csv"));
    for protocol in ["pbft", "hotstuff"] {
        let mine: Vec<&Row> = events
            .iter()
            .filter(|e| e["point"].contains(protocol))
            .collect();
        let crash = mine
            .iter()
            .find(|e| e["kind"] == "fault_crash")
            .unwrap_or_else(|| panic!("{protocol}: no crash in {mine:?}"));
        let replaced = mine.iter().any(|e| {
            e["kind"] == "leader_elected"
                && e["node"] != crash["node"]
                && num(e, "time_ms") > num(crash, "time_ms")
        });
        assert!(
            replaced,
            "{protocol}: nobody else led after the crash of {}",
            crash["node"]
        );
    }

    let check = qlab().arg("check").arg(&out).output().unwrap();
    assert!(check.status.success(), "qlab check:\n{}", text(&check));
    let _ = std::fs::remove_dir_all(&dir);
}
