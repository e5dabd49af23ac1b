//! The quick leader-election experiment (the Raft paper's Figure 16 in
//! miniature) through the `qlab` binary: every trial crashes the leader of
//! five replicas behind a 7 ms link delay and times the next election.

mod common;

use common::{read_csv, run_experiment, scratch};
use std::path::Path;

#[test]
fn quick_election_experiment_writes_one_row_per_trial() {
    let dir = scratch("election");
    let out = dir.join("results");
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/raft-election-quick.yaml");
    let o = run_experiment(&file, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let trials = read_csv(&out.join("trials.csv"));
    assert_eq!(trials.len(), 16, "2 ranges x 8 trials: {trials:?}");
    for range in ["150-300", "25-50"] {
        let rows: Vec<_> = trials
            .iter()
            .filter(|r| r["election_timeout_ms"] == range)
            .collect();
        assert_eq!(rows.len(), 8, "{range}");
        let min: f64 = range.split('-').next().unwrap().parse().unwrap();
        for r in rows {
            assert_eq!(r["outcome"], "elected", "{r:?}");
            assert_ne!(r["new_leader"], r["crashed_node"], "{r:?}");
            assert!(r["new_term"].parse::<u64>().unwrap() > r["old_term"].parse::<u64>().unwrap());
            let t: f64 = r["time_without_leader_ms"].parse().unwrap();
            // A follower waits at least the minimum timeout after the last
            // heartbeat, which came at most one heartbeat (min / 2) before
            // the crash; the new leader needs a vote round trip on top.
            assert!(t >= min / 2.0, "{range}: {t} ms in {r:?}");
            assert!(t < 5_000.0, "{r:?}");
            let offset: f64 = r["crash_offset_ms"].parse().unwrap();
            assert!((0.0..min / 2.0).contains(&offset), "{r:?}");
        }
    }

    // `clusters: 2`: even trials on cluster 0, odd ones on cluster 1.
    for r in &trials {
        let trial: u32 = r["trial"].parse().unwrap();
        assert_eq!(r["cluster"], (trial % 2).to_string(), "{r:?}");
    }

    let cdf = read_csv(&out.join("trials_cdf.csv"));
    assert_eq!(cdf.len(), 16);
    let last: Vec<f64> = cdf
        .iter()
        .map(|r| r["cumulative_fraction"].parse().unwrap())
        .collect();
    assert!(
        last.windows(2).filter(|w| w[1] < w[0]).count() <= 1,
        "one reset between ranges"
    );
    assert!((last[7] - 1.0).abs() < 1e-9 && (last[15] - 1.0).abs() < 1e-9);

    let summary = read_csv(&out.join("summary.csv"));
    assert_eq!(summary.len(), 2);
    for s in &summary {
        assert_eq!(s["load"], "trials");
        assert_eq!(s["nodes"], "5");
        assert_eq!(s["trials"], "8");
        assert_eq!(s["no_leader"], "0");
        let p50: f64 = s["p50_ms"].parse().unwrap();
        let max: f64 = s["max_ms"].parse().unwrap();
        assert!(p50 <= max);
    }
    let events = read_csv(&out.join("events.csv"));
    assert_eq!(
        events.iter().filter(|e| e["kind"] == "fault_crash").count(),
        16,
        "one crash per trial"
    );
    // A restarted replica is reached at once (its new incarnation tells
    // its peers their connections lead to the dead process), not after the
    // QUIC idle timeout of 1 s: the median restart-to-caught-up gap shows it.
    let t =
        |e: &std::collections::BTreeMap<String, String>| -> f64 { e["time_ms"].parse().unwrap() };
    let mut gaps = Vec::new();
    for (i, r) in events.iter().enumerate() {
        if r["kind"] != "fault_restart" {
            continue;
        }
        let caught = events[i..].iter().find(|e| {
            e["kind"] == "caught_up" && e["node"] == r["node"] && e["point"] == r["point"]
        });
        if let Some(c) = caught {
            gaps.push(t(c) - t(r));
        }
    }
    assert!(gaps.len() >= 12, "restarted replicas caught up: {gaps:?}");
    assert!(
        events
            .iter()
            .all(|e| e["node"].is_empty() || e["node"].contains('@')),
        "node names carry their cluster"
    );
    gaps.sort_by(f64::total_cmp);
    assert!(
        gaps[gaps.len() / 2] < 500.0,
        "restart to caught-up: {gaps:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
