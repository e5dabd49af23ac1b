//! Raft under the simulator's randomized crashes, partitions, delays, drops
//! and duplicates: every check must pass on every seed; and a deliberately
//! broken Raft must be caught. A failing seed prints itself; rerun it with
//! `QLAB_SEED=<seed> cargo test -p protocols --test sim_raft`.

use protocols::raft::{Raft, RaftConfig};
use protocols::sim::{run_seeds, SimConfig, Simulation, Violation};

#[test]
fn raft_5_nodes_200_randomized_seeds() {
    let s = run_seeds::<Raft>(
        "raft",
        0..200,
        |seed| SimConfig::randomized(seed, 5),
        RaftConfig::default(),
    );
    assert!(
        s.crashes > 100 && s.link_faults > 100 && s.elections > 200,
        "{s:?}"
    );
}

#[test]
fn raft_3_nodes_randomized_seeds() {
    run_seeds::<Raft>(
        "raft-3",
        1_000..1_100,
        |seed| SimConfig::randomized(seed, 3),
        RaftConfig::default(),
    );
}

#[test]
fn raft_reads_through_the_log() {
    let config = RaftConfig {
        reads_through_log: true,
        ..RaftConfig::default()
    };
    run_seeds::<Raft>(
        "raft-log-reads",
        2_000..2_060,
        |seed| SimConfig::randomized(seed, 5),
        config,
    );
}

#[test]
fn raft_small_batches_and_no_pipelining() {
    let config = RaftConfig {
        max_entries_per_append: 1,
        max_inflight_appends: 1,
        ..RaftConfig::default()
    };
    run_seeds::<Raft>(
        "raft-unbatched",
        3_000..3_040,
        |seed| SimConfig::randomized(seed, 5),
        config,
    );
}

#[test]
fn committing_without_a_majority_is_caught() {
    let broken = RaftConfig {
        unsafe_commit_without_majority: true,
        ..RaftConfig::default()
    };
    let caught = (0..50u64).find(|&seed| {
        let report = Simulation::<Raft>::new(SimConfig::randomized(seed, 5), broken.clone()).run();
        report.violations.iter().any(|v| {
            matches!(
                v,
                Violation::StateMachineSafety { .. }
                    | Violation::Linearizability(_)
                    | Violation::Durability { .. }
            )
        })
    });
    assert!(caught.is_some(), "the broken Raft passed 50 seeds");
}
