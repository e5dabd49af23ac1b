//! No `qlab node` outlives an interrupted run: neither after Ctrl-C
//! (SIGINT) nor after the harness itself is SIGKILLed.

mod common;

use common::{processes_mentioning, qlab, read_csv, scratch};
use std::time::{Duration, Instant};

fn start_long_run(tag: &str) -> (std::process::Child, std::path::PathBuf, String) {
    let dir = scratch(tag);
    let file = dir.join("long.yaml");
    std::fs::write(
        &file,
        "name: long\nprotocol: raft\nworkload:\n  arrival: {kind: open, rate: 100}\n  clients: 8\n  duration: 4s\n  warmup: 1s\n  cooldown: 1s\n\
         sweep:\n  workload.seed: [1, 2, 3, 4, 5]\n",
    )
    .unwrap();
    let out = dir.join("results");
    let child = qlab()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .spawn()
        .unwrap();
    (child, dir, out.display().to_string())
}

fn wait_for_nodes(needle: &str, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if processes_mentioning(&format!("{needle}/cluster")).len() >= want {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nodes never started");
}

fn assert_no_nodes_left(needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_mentioning(&format!("{needle}/cluster"));
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "orphan node processes: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ctrl_c_stops_every_node_and_keeps_finished_points() {
    let (mut child, dir, out) = start_long_run("sigint");
    // Let the first point finish and the second start.
    let summary = std::path::Path::new(&out).join("summary.csv");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !summary.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for_nodes(&out, 3);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_no_nodes_left(&out);
    let rows = read_csv(&summary);
    assert!(!rows.is_empty() && rows.len() < 5, "{} rows", rows.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_killed_harness_takes_its_nodes_with_it() {
    let (mut child, dir, out) = start_long_run("sigkill");
    wait_for_nodes(&out, 3);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_no_nodes_left(&out);
    let _ = std::fs::remove_dir_all(&dir);
}
