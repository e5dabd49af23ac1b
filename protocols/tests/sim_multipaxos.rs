//! Multi-Paxos under the simulator's randomized crashes, partitions, delays, drops
//! and duplicates: every check must pass on every seed; and a deliberately
//! broken Raft must be caught. A failing seed prints itself; rerun it with
//! `QLAB_SEED=<seed> cargo test -p protocols --test sim_multipaxos`.

use protocols::multipaxos::{MultiPaxos, MultiPaxosConfig};
use protocols::sim::{run_seeds, SimConfig, Simulation, Violation};

#[test]
fn multipaxos_5_nodes_200_randomized_seeds() {
    let s = run_seeds::<MultiPaxos>(
        "multipaxos",
        0..200,
        |seed| SimConfig::randomized(seed, 5),
        MultiPaxosConfig::default(),
    );
    assert!(
        s.crashes > 100 && s.link_faults > 100 && s.elections > 200,
        "{s:?}"
    );
}

#[test]
fn multipaxos_3_nodes_randomized_seeds() {
    run_seeds::<MultiPaxos>(
        "multipaxos-3",
        1_000..1_100,
        |seed| SimConfig::randomized(seed, 3),
        MultiPaxosConfig::default(),
    );
}

#[test]
fn multipaxos_small_batches_and_no_pipelining() {
    let config = MultiPaxosConfig {
        max_batch: 1,
        max_inflight_slots: 1,
        ..MultiPaxosConfig::default()
    };
    run_seeds::<MultiPaxos>(
        "multipaxos-unbatched",
        3_000..3_040,
        |seed| SimConfig::randomized(seed, 5),
        config,
    );
}

#[test]
fn skipping_phase_1_is_caught() {
    let broken = MultiPaxosConfig {
        unsafe_skip_phase1: true,
        ..MultiPaxosConfig::default()
    };
    let caught = (0..50u64).find(|&seed| {
        let report =
            Simulation::<MultiPaxos>::new(SimConfig::randomized(seed, 5), broken.clone()).run();
        report.violations.iter().any(|v| {
            matches!(
                v,
                Violation::StateMachineSafety { .. }
                    | Violation::Linearizability(_)
                    | Violation::Durability { .. }
            )
        })
    });
    assert!(caught.is_some(), "the broken Multi-Paxos passed 50 seeds");
}
