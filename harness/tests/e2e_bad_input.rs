//! Bad experiment files are rejected up front with the field and the
//! reason, and nothing runs.

mod common;

use common::{run_experiment, scratch};

const GOOD: &str =
    "name: bad\nprotocol: raft\nworkload:\n  arrival: {kind: open, rate: 100}\n  duration: 3s\n";

#[test]
fn bad_experiment_files_name_the_problem_and_run_nothing() {
    let dir = scratch("bad");
    let cases = [
        (
            "unknown-field",
            format!("{GOOD}nodez: 3\n"),
            "unknown field `nodez`",
        ),
        (
            "unknown-protocol",
            GOOD.replace("raft", "zab"),
            "unknown variant `zab`",
        ),
        (
            "zero-nodes",
            format!("{GOOD}nodes: 0\n"),
            "nodes: must be at least 1",
        ),
        (
            "negative-rate",
            GOOD.replace("rate: 100", "rate: -100"),
            "workload.arrival.rate",
        ),
        (
            "long-warmup",
            format!("{GOOD}  warmup: 4s\n"),
            "workload.warmup",
        ),
        (
            "bad-sweep",
            format!("{GOOD}sweep:\n  nodes: 3\n"),
            "sweep.nodes",
        ),
    ];
    for (tag, text, expected) in cases {
        let file = dir.join(format!("{tag}.yaml"));
        std::fs::write(&file, text).unwrap();
        let out = dir.join(format!("{tag}-results"));
        let o = run_experiment(&file, &out, &[]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{tag}: accepted");
        assert!(stderr.contains(expected), "{tag}: {stderr}");
        assert!(!out.exists(), "{tag}: a results folder was created");
    }
    let missing = run_experiment(&dir.join("nope.yaml"), &dir.join("x"), &[]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.yaml"));
    let _ = std::fs::remove_dir_all(&dir);
}
