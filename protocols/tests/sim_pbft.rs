//! PBFT under the simulator's randomized crashes, partitions, delays, drops
//! and duplicates, with and without `f` Byzantine replicas of each kind:
//! state-machine safety, apply order, durability and convergence of the
//! correct replicas, liveness after the heal and linearizability of the
//! client history must hold on every seed; and a deliberately broken PBFT
//! (certificates of `f + 1` votes) with an equivocating primary must be
//! caught. A failing seed prints itself; rerun it with
//! `QLAB_SEED=<seed> cargo test -p protocols --test sim_pbft`.

use protocols::pbft::{Byzantine, ByzantineKind, Pbft, PbftConfig};
use protocols::sim::{run_seeds, SimConfig, Simulation, SuiteSummary, Violation};
use protocols::Time;
use std::ops::Range;

fn byzantine(replicas: Vec<u32>, kind: ByzantineKind) -> PbftConfig {
    PbftConfig {
        byzantine: Some(Byzantine { replicas, kind }),
        ..PbftConfig::default()
    }
}

fn suite(name: &str, seeds: Range<u64>, config: PbftConfig) -> SuiteSummary {
    let s = run_seeds::<Pbft>(name, seeds, |seed| SimConfig::randomized(seed, 4), config);
    eprintln!("{name}: {s:?}");
    s
}

#[test]
fn pbft_4_nodes_200_randomized_seeds() {
    let s = suite("pbft", 0..200, PbftConfig::default());
    assert!(
        s.crashes > 100 && s.link_faults > 100 && s.ops > 10_000,
        "{s:?}"
    );
}

#[test]
fn pbft_with_a_silent_replica() {
    // Replica 0 is the primary of view 0: its silence forces view changes.
    let s = suite(
        "pbft-silent",
        1_000..1_100,
        byzantine(vec![0], ByzantineKind::Silent),
    );
    // Every run must replace the silent primary of view 0.
    assert!(s.elections >= s.seeds, "{s:?}");
}

#[test]
fn pbft_with_an_equivocating_primary() {
    suite(
        "pbft-equivocate",
        2_000..2_100,
        byzantine(vec![0], ByzantineKind::Equivocate),
    );
}

#[test]
fn pbft_with_conflicting_votes() {
    suite(
        "pbft-conflicting-votes",
        3_000..3_100,
        byzantine(vec![1], ByzantineKind::ConflictingVotes),
    );
}

#[test]
fn pbft_with_a_replaying_replica() {
    suite(
        "pbft-replay",
        4_000..4_100,
        byzantine(vec![2], ByzantineKind::Replay),
    );
}

#[test]
fn pbft_7_nodes_with_two_byzantine_replicas() {
    let s = run_seeds::<Pbft>(
        "pbft-7",
        5_000..5_040,
        |seed| SimConfig::randomized(seed, 7),
        byzantine(vec![0, 4], ByzantineKind::Equivocate),
    );
    eprintln!("pbft-7: {s:?}");
}

#[test]
fn checkpoints_truncate_the_log_and_stay_in_step() {
    let mut cfg = SimConfig::calm(7, 4);
    cfg.clients = 6;
    cfg.think_time_max = std::time::Duration::ZERO;
    let config = PbftConfig {
        checkpoint_interval: 8,
        log_window: 32,
        max_inflight: 1,
        ..PbftConfig::default()
    };
    let mut sim = Simulation::<Pbft>::new(cfg, config);
    sim.run_until(Time::from_millis(4_000));
    for n in 0..4 {
        let core = sim.core(n).expect("running");
        let status = sim.status(n).expect("running");
        assert!(
            core.stable_checkpoint() >= 64,
            "node {n}: {}",
            core.stable_checkpoint()
        );
        assert!(core.log_len() <= 32, "node {n}: {}", core.log_len());
        assert!(status.commit_index >= core.stable_checkpoint());
    }
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn small_quorums_with_an_equivocating_primary_are_caught() {
    let broken = PbftConfig {
        unsafe_small_quorum: true,
        ..byzantine(vec![0], ByzantineKind::Equivocate)
    };
    let seeds = 0..20u64;
    let caught = seeds
        .clone()
        .filter(|&seed| {
            let report =
                Simulation::<Pbft>::new(SimConfig::randomized(seed, 4), broken.clone()).run();
            report.violations.iter().any(|v| {
                matches!(
                    v,
                    Violation::StateMachineSafety { .. } | Violation::Linearizability(_)
                )
            })
        })
        .count();
    eprintln!("broken pbft caught on {caught} of {} seeds", seeds.end);
    assert!(
        caught >= 15,
        "the broken PBFT was caught on only {caught} of 20 seeds"
    );
}
