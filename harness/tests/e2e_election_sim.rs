//! Trial experiments in the deterministic simulator (`trials.simulate:
//! true`) through the `qlab` binary: the same rows as on processes,
//! `backend: sim` in the summary, and the same seed gives the same trials.

mod common;

use common::{read_csv, run_experiment, scratch};

const EXPERIMENT: &str = "\
name: election-sim-test
protocol: raft
nodes: 5
durability: fsync
trials:
  count: 25
  settle: 100ms
  give_up: 10s
  link_delay: 7ms
  link_jitter: 1ms
  seed: 3
  simulate: true
sweep:
  protocol_config.election_timeout_min,protocol_config.election_timeout_max,protocol_config.heartbeat_interval:
    - [150ms, 300ms, 75ms]
    - [12ms, 24ms, 6ms]
";

#[test]
fn simulated_trials_write_the_usual_rows_and_repeat_exactly() {
    let dir = scratch("election-sim");
    let file = dir.join("e.yaml");
    std::fs::write(&file, EXPERIMENT).unwrap();
    let run = |name: &str| {
        let out = dir.join(name);
        let o = run_experiment(&file, &out, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let a = run("a");
    let trials = read_csv(&a.join("trials.csv"));
    assert_eq!(trials.len(), 50, "2 ranges x 25 trials");
    for r in &trials {
        assert_eq!(r["outcome"], "elected", "{r:?}");
        assert_ne!(r["new_leader"], r["crashed_node"], "{r:?}");
        let min: f64 = if r["election_timeout_ms"] == "12-24" {
            12.0
        } else {
            150.0
        };
        let t: f64 = r["time_without_leader_ms"].parse().unwrap();
        // At least the minimum timeout less one heartbeat (the crash came
        // within it), plus a vote round trip of 2 x 7 ms.
        assert!(t >= min / 2.0 + 14.0, "{t} ms in {r:?}");
        assert!(t < 5_000.0, "{r:?}");
    }
    let summary = read_csv(&a.join("summary.csv"));
    assert_eq!(summary.len(), 2);
    for s in &summary {
        assert_eq!(s["backend"], "sim");
        assert_eq!(s["simulated"], "true");
        assert_eq!(s["trials"], "25");
    }
    // The same seed, the same trials: byte for byte.
    let b = run("b");
    assert_eq!(
        std::fs::read_to_string(a.join("trials.csv")).unwrap(),
        std::fs::read_to_string(b.join("trials.csv")).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
