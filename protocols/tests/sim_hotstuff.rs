//! Chained HotStuff under the simulator's randomized crashes, partitions,
//! delays, drops and duplicates, with and without `f` Byzantine replicas
//! of each kind: state-machine safety, apply order, durability and
//! convergence of the correct replicas, liveness after the heal and
//! linearizability of the client history must hold on every seed. Two
//! broken set-ups must be caught: a HotStuff that commits on a two-chain,
//! with an equivocating leader; and a leader forging certificates when
//! certificates are not signed (the same seeds pass with signatures).
//! A failing seed prints itself; rerun it with
//! `QLAB_SEED=<seed> cargo test -p protocols --test sim_hotstuff`.

use protocols::auth::AuthMode;
use protocols::hotstuff::{Byzantine, ByzantineKind, Hotstuff, HotstuffConfig};
use protocols::sim::{run_seeds, SimConfig, SimReport, Simulation, SuiteSummary, Violation};
use std::ops::Range;

fn byzantine(replicas: Vec<u32>, kind: ByzantineKind) -> HotstuffConfig {
    HotstuffConfig {
        byzantine: Some(Byzantine { replicas, kind }),
        ..HotstuffConfig::default()
    }
}

fn suite(name: &str, seeds: Range<u64>, config: HotstuffConfig) -> SuiteSummary {
    let s = run_seeds::<Hotstuff>(name, seeds, |seed| SimConfig::randomized(seed, 4), config);
    eprintln!("{name}: {s:?}");
    s
}

fn run(seed: u64, config: &HotstuffConfig) -> SimReport {
    Simulation::<Hotstuff>::new(SimConfig::randomized(seed, 4), config.clone()).run()
}

fn unsafe_outcome(report: &SimReport) -> bool {
    report.violations.iter().any(|v| {
        matches!(
            v,
            Violation::StateMachineSafety { .. } | Violation::Linearizability(_)
        )
    })
}

#[test]
fn hotstuff_4_nodes_200_randomized_seeds() {
    let s = suite("hotstuff", 0..200, HotstuffConfig::default());
    assert!(
        s.crashes > 100 && s.link_faults > 100 && s.ops > 10_000,
        "{s:?}"
    );
}

#[test]
fn hotstuff_replaces_a_silent_leader_in_every_seed() {
    // Replica 0 leads views 4, 8, ...; its silence forces view changes,
    // counted as leaders elected through new-views.
    let config = byzantine(vec![0], ByzantineKind::Silent);
    let mut total = SuiteSummary::default();
    for seed in 1_000..1_100 {
        let s = run_seeds::<Hotstuff>(
            "hotstuff-silent",
            seed..seed + 1,
            |seed| SimConfig::randomized(seed, 4),
            config.clone(),
        );
        assert!(s.elections >= 1, "seed {seed}: no view change: {s:?}");
        total.seeds += s.seeds;
        total.ops += s.ops;
        total.crashes += s.crashes;
        total.link_faults += s.link_faults;
        total.elections += s.elections;
    }
    eprintln!("hotstuff-silent: {total:?}");
}

#[test]
fn hotstuff_with_an_equivocating_leader() {
    suite(
        "hotstuff-equivocate",
        2_000..2_200,
        byzantine(vec![0], ByzantineKind::Equivocate),
    );
}

#[test]
fn hotstuff_with_conflicting_votes() {
    suite(
        "hotstuff-conflicting-votes",
        3_000..3_200,
        byzantine(vec![1], ByzantineKind::ConflictingVotes),
    );
}

#[test]
fn hotstuff_with_a_replaying_replica() {
    suite(
        "hotstuff-replay",
        4_000..4_200,
        byzantine(vec![2], ByzantineKind::Replay),
    );
}

#[test]
fn hotstuff_with_a_forging_leader_and_signatures() {
    suite(
        "hotstuff-forged-qc-signatures",
        6_000..6_200,
        HotstuffConfig {
            auth: AuthMode::Signatures,
            ..byzantine(vec![0], ByzantineKind::ForgedQc)
        },
    );
}

#[test]
fn hotstuff_7_nodes_with_two_byzantine_replicas() {
    let s = run_seeds::<Hotstuff>(
        "hotstuff-7",
        5_000..5_040,
        |seed| SimConfig::randomized(seed, 7),
        byzantine(vec![0, 4], ByzantineKind::Equivocate),
    );
    eprintln!("hotstuff-7: {s:?}");
}

#[test]
fn a_two_chain_commit_with_an_equivocating_leader_is_caught() {
    let broken = HotstuffConfig {
        unsafe_two_chain: true,
        ..byzantine(vec![0], ByzantineKind::Equivocate)
    };
    let seeds = 0..20u64;
    let caught = seeds
        .clone()
        .filter(|&seed| unsafe_outcome(&run(seed, &broken)))
        .count();
    eprintln!(
        "two-chain hotstuff caught on {caught} of {} seeds",
        seeds.end
    );
    assert!(
        caught >= 12,
        "the two-chain HotStuff was caught on only {caught} of 20 seeds"
    );
}

#[test]
fn forged_certificates_are_caught_without_signatures_and_stopped_with_them() {
    let forging = byzantine(vec![0], ByzantineKind::ForgedQc);
    let signed = HotstuffConfig {
        auth: AuthMode::Signatures,
        ..forging.clone()
    };
    let seeds = 7_000..7_020u64;
    let mut caught = 0;
    for seed in seeds.clone() {
        if unsafe_outcome(&run(seed, &forging)) {
            caught += 1;
            let report = run(seed, &signed);
            assert!(report.passed(), "with signatures:\n{report}");
        }
    }
    eprintln!(
        "forged certificates without signatures caught on {caught} of {} seeds",
        seeds.end - seeds.start
    );
    assert!(
        caught >= 5,
        "forged certificates caught on only {caught} seeds"
    );
}

/// Operations completed in `secs` simulated seconds by 4 replicas with
/// replica `crashed` (if any) down from 100 ms on.
fn throughput_with_a_crashed_replica(crashed: Option<u32>, secs: u64) -> usize {
    let mut cfg = SimConfig::calm(11, 4);
    cfg.clients = 8;
    cfg.think_time_max = std::time::Duration::ZERO;
    let mut sim = Simulation::<Hotstuff>::new(cfg, HotstuffConfig::default());
    sim.run_until(protocols::Time::from_millis(100));
    if let Some(n) = crashed {
        sim.crash(n);
    }
    sim.run_until(protocols::Time::from_millis(100 + secs * 1000));
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    sim.history()
        .iter()
        .filter(|op| op.invoke >= protocols::Time::from_millis(100))
        .count()
}

#[test]
fn one_crashed_replica_slows_but_does_not_stop_commits() {
    let healthy = throughput_with_a_crashed_replica(None, 4);
    let degraded: Vec<usize> = (0..4)
        .map(|n| throughput_with_a_crashed_replica(Some(n), 4))
        .collect();
    eprintln!("hotstuff with replica 0..3 crashed: {degraded:?} ops in 4 s (healthy: {healthy})");
    // A crashed replica's views are skipped after a short timeout (it is
    // suspected until heard from), clients move off a crashed contact:
    // about a third of the healthy throughput remains (the three-chain
    // still breaks at the crashed leader's view, every 4 views).
    for (n, d) in degraded.iter().enumerate() {
        assert!(
            d * 10 >= healthy * 3,
            "replica {n} crashed: {d} ops against {healthy}"
        );
    }
}
