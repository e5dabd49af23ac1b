//! etcd as a target, end to end through the `qlab` binary: a real three
//! member etcd cluster on loopback, driven over gRPC while its leader is
//! SIGKILLed and restarted; the summary row says `protocol=etcd` with the
//! same columns as a quorumlab protocol's, errors and timeouts stay inside
//! the fault window, and `qlab check` finds the history linearizable.
//!
//! Needs the `etcd` binary (`apt-get install etcd-server`); without it the
//! test prints a skip message and passes, unless `QLAB_REQUIRE_ETCD=1`.

mod common;

use common::{output_text as text, qlab, read_csv, run_experiment, scratch};
use std::collections::BTreeMap;
use std::path::Path;

fn etcd_on_path() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join("etcd").is_file())
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?} in {row:?}", row[col]))
}

fn header(path: &Path) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.headers().unwrap().iter().map(str::to_string).collect()
}

const WORKLOAD: &str = "nodes: 3\ndurability: fsync\nhistory: true\n\
     workload:\n  keys: 20\n  read_ratio: 0.5\n  arrival: {kind: open, rate: 200}\n  clients: 12\n  duration: 6s\n  warmup: 500ms\n  cooldown: 300ms\n  request_timeout: 1s\n\
     faults:\n  - {kind: crash, at: 2s, node: leader, for: 1500ms}\n";

#[test]
fn etcd_runs_with_a_leader_crash_like_any_protocol() {
    if !etcd_on_path() {
        assert!(
            std::env::var("QLAB_REQUIRE_ETCD").as_deref() != Ok("1"),
            "QLAB_REQUIRE_ETCD=1 but `etcd` is not on PATH; apt-get install etcd-server"
        );
        eprintln!("skipping e2e_etcd: `etcd` is not on PATH (apt-get install etcd-server)");
        return;
    }
    let dir = scratch("etcd");
    let file = dir.join("etcd.yaml");
    std::fs::write(
        &file,
        format!(
            "name: etcd\nprotocol: etcd\nprotocol_config: {{heartbeat_interval: 50ms, election_timeout: 500ms}}\n{WORKLOAD}"
        ),
    )
    .unwrap();
    let out = dir.join("results");
    let o = run_experiment(&file, &out, &[]);
    assert!(o.status.success(), "qlab run failed:\n{}", text(&o));

    let summary = read_csv(&out.join("summary.csv"));
    assert_eq!(summary.len(), 1, "{summary:?}");
    let row = &summary[0];
    assert_eq!(row["protocol"], "etcd");
    assert_eq!(row["nodes"], "3");
    assert_eq!(row["durability"], "fsync");
    assert_eq!(row["backend"], "local");
    assert!(num(row, "completed") > 500.0, "{row:?}");
    assert!(num(row, "p50_us") > 0.0, "{row:?}");

    // The leader was found through etcd's status API, crashed and
    // restarted; a new leader was seen after the crash.
    let events = read_csv(&out.join("events.csv"));
    let at = |kind: &str| -> Vec<(f64, String)> {
        events
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| (num(e, "time_ms"), e["node"].clone()))
            .collect()
    };
    let crash = at("fault_crash");
    let restart = at("fault_restart");
    assert_eq!(crash.len(), 1, "{events:?}");
    assert_eq!(restart.len(), 1, "{events:?}");
    assert_eq!(crash[0].1, restart[0].1, "the crashed member is restarted");
    let leaders = at("leader_elected");
    assert_eq!(
        leaders.iter().rfind(|(t, _)| *t < crash[0].0).map(|l| &l.1),
        Some(&crash[0].1),
        "the crashed member led: {events:?}"
    );
    assert!(
        leaders
            .iter()
            .any(|(t, n)| *t > crash[0].0 && *n != crash[0].1),
        "a new leader after the crash: {events:?}"
    );
    let recovery = read_csv(&out.join("recovery.csv"));
    assert_eq!(recovery.len(), 1, "{recovery:?}");
    assert_eq!(recovery[0]["protocol"], "etcd");
    assert!(
        num(&recovery[0], "time_to_leader_ms") < 3000.0,
        "{recovery:?}"
    );

    // No errors or timeouts outside the fault window: an operation sent
    // just before the crash may time out a request timeout later, and the
    // restarted member (etcd 3.4 has no pre-vote by default) may force one
    // more election soon after it is back.
    let (from, to) = (crash[0].0 - 100.0, restart[0].0 + 2000.0);
    for w in read_csv(&out.join("timeseries.csv")) {
        let start = num(&w, "window_start_ms");
        if start + num(&w, "window_ms") < from || start > to {
            assert_eq!(num(&w, "errors") + num(&w, "timeouts"), 0.0, "{w:?}");
        }
    }

    let o = qlab().arg("check").arg(&out).output().unwrap();
    assert!(o.status.success(), "qlab check failed:\n{}", text(&o));
    assert!(text(&o).contains("linearizable"), "{}", text(&o));

    // provenance.yaml names the etcd build that was measured.
    let provenance: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(out.join("provenance.yaml")).unwrap())
            .unwrap();
    let etcd = &provenance["external"][0];
    assert_eq!(etcd["name"].as_str(), Some("etcd"), "{provenance:?}");
    assert!(
        etcd["version"]
            .as_str()
            .is_some_and(|v| v.contains("etcd Version")),
        "{etcd:?}"
    );
    assert_eq!(etcd["sha256"].as_str().map(str::len), Some(64), "{etcd:?}");

    // The same files with the same columns as a quorumlab protocol's.
    let raft_file = dir.join("raft.yaml");
    std::fs::write(
        &raft_file,
        format!("name: raft\nprotocol: raft\n{WORKLOAD}").replace("duration: 6s", "duration: 4s"),
    )
    .unwrap();
    let raft_out = dir.join("raft-results");
    let o = run_experiment(&raft_file, &raft_out, &[]);
    assert!(o.status.success(), "qlab run (raft) failed:\n{}", text(&o));
    for f in [
        "summary.csv",
        "timeseries.csv",
        "events.csv",
        "recovery.csv",
        "history.csv",
    ] {
        assert_eq!(header(&out.join(f)), header(&raft_out.join(f)), "{f}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn etcd_experiments_are_checked_and_a_missing_binary_says_how_to_install() {
    let dir = scratch("etcd-input");
    let run = |name: &str, body: &str, path: &str| {
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, format!("name: {name}\nprotocol: etcd\n{body}")).unwrap();
        qlab()
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(dir.join(name))
            .env("PATH", path)
            .output()
            .unwrap()
    };
    let path = std::env::var("PATH").unwrap_or_default();
    let cases = [
        (
            "memory",
            WORKLOAD.replace("fsync", "memory"),
            "etcd always fsyncs",
        ),
        (
            "partition",
            WORKLOAD.replace(
                "{kind: crash, at: 2s, node: leader, for: 1500ms}",
                "{kind: partition, at: 2s, groups: [[0]]}",
            ),
            "faults[0]: partition needs link shaping",
        ),
        (
            "cas",
            WORKLOAD.replace("read_ratio: 0.5", "read_ratio: 0.5\n  cas_ratio: 0.2"),
            "cas_ratio",
        ),
    ];
    for (name, body, expected) in cases {
        let o = run(name, &body, &path);
        assert!(!o.status.success(), "{name}: {}", text(&o));
        assert!(text(&o).contains(expected), "{name}: {}", text(&o));
    }
    // No etcd on PATH: the error names the package to install.
    let empty = dir.join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let o = run("missing", WORKLOAD, &empty.display().to_string());
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("apt-get install etcd-server"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
