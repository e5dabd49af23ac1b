//! PBFT under the simulator's randomized crashes, partitions, delays, drops
//! and duplicates, with and without `f` Byzantine replicas of each kind:
//! state-machine safety, apply order, durability and convergence of the
//! correct replicas, liveness after the heal and linearizability of the
//! client history must hold on every seed; and a deliberately broken PBFT
//! (certificates of `f + 1` votes) with an equivocating primary must be
//! caught. The same hold under `auth: mac` and `auth: signatures` with
//! each kind of Byzantine replica, the forging one included; and a replica
//! forging requests in clients' names must break the run without
//! authentication and be stopped by either mode on the same seeds. The
//! same with the read-only optimisation on and a read-heavy mix, where
//! answering reads and writes on `f + 1` matching replies, or writes only
//! (with a replica answering stale reads), must be caught too.
//! A failing seed prints itself; rerun it with
//! `QLAB_SEED=<seed> cargo test -p protocols --test sim_pbft`.

use protocols::auth::AuthMode;
use protocols::pbft::{Byzantine, ByzantineKind, Pbft, PbftConfig};
use protocols::sim::{
    run_seeds, LatencyModel, SimConfig, SimReport, Simulation, SuiteSummary, Violation,
};
use protocols::Time;
use std::ops::Range;
use std::time::Duration;

fn byzantine(replicas: Vec<u32>, kind: ByzantineKind) -> PbftConfig {
    PbftConfig {
        byzantine: Some(Byzantine { replicas, kind }),
        ..PbftConfig::default()
    }
}

fn with_auth(auth: AuthMode, config: PbftConfig) -> PbftConfig {
    PbftConfig {
        auth,
        key_seed: 42,
        ..config
    }
}

/// One run on the (lighter) signatures simulation of `seed`, whatever the
/// mode, so that runs compared across modes see the same faults.
fn run(seed: u64, config: &PbftConfig) -> SimReport {
    let cfg = sim_config(AuthMode::Signatures, seed);
    Simulation::<Pbft>::new(cfg, config.clone()).run()
}

fn unsafe_outcome(report: &SimReport) -> bool {
    report.violations.iter().any(|v| {
        matches!(
            v,
            Violation::StateMachineSafety { .. } | Violation::Linearizability(_)
        )
    })
}

fn suite(name: &str, seeds: Range<u64>, config: PbftConfig) -> SuiteSummary {
    let started = std::time::Instant::now();
    let auth = config.auth;
    let s = run_seeds::<Pbft>(name, seeds, |seed| sim_config(auth, seed), config);
    eprintln!("{name}: {s:?} in {:.1?}", started.elapsed());
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
        1_000..1_200,
        byzantine(vec![0], ByzantineKind::Silent),
    );
    // Every run must replace the silent primary of view 0.
    assert!(s.elections >= s.seeds, "{s:?}");
}

#[test]
fn pbft_with_an_equivocating_primary() {
    suite(
        "pbft-equivocate",
        2_000..2_200,
        byzantine(vec![0], ByzantineKind::Equivocate),
    );
}

#[test]
fn pbft_with_conflicting_votes() {
    suite(
        "pbft-conflicting-votes",
        3_000..3_200,
        byzantine(vec![1], ByzantineKind::ConflictingVotes),
    );
}

#[test]
fn pbft_with_a_replaying_replica() {
    suite(
        "pbft-replay",
        4_000..4_200,
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

/// Seeds per authenticated suite: signatures cost about 25 ed25519
/// verifications per sequence number, ten times the MAC runs' time, so
/// their suites are shorter (and lighter, see [`sim_config`]).
fn seeds_for(auth: AuthMode) -> u64 {
    match auth {
        AuthMode::Signatures => 20,
        _ => 100,
    }
}

/// The randomized simulation for `seed`; with signatures, at most three
/// clients and five seconds of faults, so that more seeds (more fault
/// schedules) fit in the same time.
fn sim_config(auth: AuthMode, seed: u64) -> SimConfig {
    let mut c = SimConfig::randomized(seed, 4);
    if auth == AuthMode::Signatures {
        c.clients = c.clients.min(3);
        c.fault_phase = c.fault_phase.min(std::time::Duration::from_secs(5));
    }
    c
}

/// One Byzantine replica of `kind` (the primary of view 0 for the kinds
/// that lie as primary) under `auth`, on seeds from `start`.
fn authenticated_suite(auth: AuthMode, kind: ByzantineKind, start: u64) -> SuiteSummary {
    let replica = match kind {
        ByzantineKind::Silent | ByzantineKind::Equivocate => 0,
        ByzantineKind::ConflictingVotes | ByzantineKind::Forge => 1,
        ByzantineKind::Replay | ByzantineKind::StaleReads => 2,
    };
    let name = format!("pbft-{auth:?}-{kind:?}").to_lowercase();
    let s = suite(
        &name,
        start..start + seeds_for(auth),
        with_auth(auth, byzantine(vec![replica], kind)),
    );
    assert!(s.ops > 20 * s.seeds, "{name}: {s:?}");
    s
}

#[test]
fn pbft_with_macs_and_no_faulty_replica() {
    let s = suite(
        "pbft-mac",
        10_000..10_100,
        with_auth(AuthMode::Mac, PbftConfig::default()),
    );
    assert!(s.crashes > 50 && s.ops > 5_000, "{s:?}");
}

#[test]
fn pbft_with_signatures_and_no_faulty_replica() {
    let s = suite(
        "pbft-signatures",
        20_000..20_000 + seeds_for(AuthMode::Signatures),
        with_auth(AuthMode::Signatures, PbftConfig::default()),
    );
    assert!(s.crashes > 5 && s.ops > 1_000, "{s:?}");
}

#[test]
fn pbft_with_macs_and_a_silent_primary() {
    let s = authenticated_suite(AuthMode::Mac, ByzantineKind::Silent, 11_000);
    assert!(s.elections >= s.seeds, "{s:?}");
}

#[test]
fn pbft_with_macs_and_an_equivocating_primary() {
    authenticated_suite(AuthMode::Mac, ByzantineKind::Equivocate, 12_000);
}

#[test]
fn pbft_with_macs_and_conflicting_votes() {
    authenticated_suite(AuthMode::Mac, ByzantineKind::ConflictingVotes, 13_000);
}

#[test]
fn pbft_with_macs_and_a_replaying_replica() {
    authenticated_suite(AuthMode::Mac, ByzantineKind::Replay, 14_000);
}

#[test]
fn pbft_with_macs_and_a_forging_replica() {
    authenticated_suite(AuthMode::Mac, ByzantineKind::Forge, 15_000);
}

#[test]
fn pbft_with_signatures_and_a_silent_primary() {
    let s = authenticated_suite(AuthMode::Signatures, ByzantineKind::Silent, 21_000);
    assert!(s.elections >= s.seeds, "{s:?}");
}

#[test]
fn pbft_with_signatures_and_an_equivocating_primary() {
    authenticated_suite(AuthMode::Signatures, ByzantineKind::Equivocate, 22_000);
}

#[test]
fn pbft_with_signatures_and_conflicting_votes() {
    authenticated_suite(
        AuthMode::Signatures,
        ByzantineKind::ConflictingVotes,
        23_000,
    );
}

#[test]
fn pbft_with_signatures_and_a_replaying_replica() {
    authenticated_suite(AuthMode::Signatures, ByzantineKind::Replay, 24_000);
}

#[test]
fn pbft_with_signatures_and_a_forging_replica() {
    authenticated_suite(AuthMode::Signatures, ByzantineKind::Forge, 25_000);
}

#[test]
fn forged_requests_break_pbft_without_authentication_and_not_with_it() {
    let forging = byzantine(vec![1], ByzantineKind::Forge);
    let mac = with_auth(AuthMode::Mac, forging.clone());
    let signed = with_auth(AuthMode::Signatures, forging.clone());
    let seeds = 30_000..30_012u64;
    let mut caught = 0;
    for seed in seeds.clone() {
        if unsafe_outcome(&run(seed, &forging)) {
            caught += 1;
        }
        // Every seed, caught or not, must pass with either mode.
        let report = run(seed, &mac);
        assert!(report.passed(), "seed {seed} with macs:\n{report}");
        let report = run(seed, &signed);
        assert!(report.passed(), "seed {seed} with signatures:\n{report}");
    }
    eprintln!(
        "forged requests without authentication caught on {caught} of {} seeds",
        seeds.end - seeds.start
    );
    assert!(
        caught >= 9,
        "forged requests broke only {caught} of 12 unauthenticated runs"
    );
}

#[test]
fn forgeries_are_counted_and_dropped_in_both_modes() {
    for auth in [AuthMode::Mac, AuthMode::Signatures] {
        let mut cfg = SimConfig::calm(3, 4);
        cfg.clients = 4;
        let config = with_auth(auth, byzantine(vec![1], ByzantineKind::Forge));
        let mut sim = Simulation::<Pbft>::new(cfg, config);
        sim.run_until(Time::from_millis(3_000));
        assert!(
            sim.violations().is_empty(),
            "{auth:?}: {:?}",
            sim.violations()
        );
        assert!(
            sim.history().len() > 50,
            "{auth:?}: {} ops",
            sim.history().len()
        );
        for n in [0, 2, 3] {
            let core = sim.core(n).expect("running");
            eprintln!("{auth:?}: replica {n} dropped {}", core.auth_rejections());
            assert!(core.auth_rejections() > 0, "{auth:?}: replica {n}");
        }
    }
}

#[test]
fn authentication_shows_in_the_bytes_sent() {
    // The same calm run in each mode: MACs and signatures are real fields
    // of the messages, so the simulator's byte count grows with them.
    let per_message = |auth: AuthMode| {
        let mut cfg = SimConfig::calm(5, 4);
        cfg.count_bytes = true;
        let report = Simulation::<Pbft>::new(cfg, with_auth(auth, PbftConfig::default())).run();
        assert!(report.passed(), "{auth:?}:\n{report}");
        let (ops, msgs, bytes) = (
            report.stats.ops_completed.max(1),
            report.stats.messages_sent.max(1),
            report.stats.bytes_sent,
        );
        eprintln!(
            "{auth:?}: {ops} ops, {} messages and {} bytes per op, {} bytes per message",
            msgs / ops,
            bytes / ops,
            bytes / msgs
        );
        bytes / msgs
    };
    let none = per_message(AuthMode::None);
    // Every message gains at least one 32-byte MAC (an authenticator of
    // three when broadcast to four replicas), or a 64-byte signature.
    let mac = per_message(AuthMode::Mac);
    assert!(mac >= none + 32, "{none} {mac}");
    let signed = per_message(AuthMode::Signatures);
    assert!(signed >= none + 64, "{none} {signed}");
}

/// A read-heavy mix (80% reads), the workload the read-only optimisation
/// is for, on the randomized faults of `seed`; two keys, eight clients and
/// long-tailed, uneven links, so replicas often lag each other by a write
/// and a read that trusts too few replies shows it.
fn read_heavy(seed: u64, nodes: u32) -> SimConfig {
    let mut c = SimConfig::randomized(seed, nodes);
    c.read_ratio = 0.8;
    c.keys = 2;
    c.clients = 8;
    c.network.latency = LatencyModel::Exponential {
        min: Duration::from_micros(200),
        mean_extra: Duration::from_millis(5),
    };
    c.network.per_link_spread = 0.5;
    c
}

fn read_only(config: PbftConfig) -> PbftConfig {
    PbftConfig {
        read_only: true,
        ..config
    }
}

fn read_only_suite(name: &str, seeds: Range<u64>, config: PbftConfig) -> SuiteSummary {
    let s = run_seeds::<Pbft>(name, seeds, |seed| read_heavy(seed, 4), read_only(config));
    eprintln!("{name}: {s:?}");
    s
}

#[test]
fn read_only_pbft_4_nodes_100_randomized_seeds() {
    let s = read_only_suite("pbft-ro", 10_000..10_100, PbftConfig::default());
    assert!(
        s.crashes > 50 && s.link_faults > 50 && s.ops > 5_000,
        "{s:?}"
    );
}

#[test]
fn read_only_with_a_silent_replica() {
    let s = read_only_suite(
        "pbft-ro-silent",
        11_000..11_100,
        byzantine(vec![0], ByzantineKind::Silent),
    );
    assert!(s.elections >= s.seeds, "{s:?}");
}

#[test]
fn read_only_with_an_equivocating_primary() {
    read_only_suite(
        "pbft-ro-equivocate",
        12_000..12_100,
        byzantine(vec![0], ByzantineKind::Equivocate),
    );
}

#[test]
fn read_only_with_conflicting_votes_and_forged_reads() {
    read_only_suite(
        "pbft-ro-conflicting-votes",
        13_000..13_100,
        byzantine(vec![1], ByzantineKind::ConflictingVotes),
    );
}

#[test]
fn read_only_with_a_replaying_replica() {
    read_only_suite(
        "pbft-ro-replay",
        14_000..14_100,
        byzantine(vec![2], ByzantineKind::Replay),
    );
}

#[test]
fn read_only_with_a_replica_answering_stale_reads() {
    // It lies only in read-only answers, with the value a correct replica
    // one batch behind gives: quorums of 2f + 1 on both sides outvote it.
    read_only_suite(
        "pbft-ro-stale-reads",
        16_000..16_100,
        byzantine(vec![0], ByzantineKind::StaleReads),
    );
}

#[test]
fn read_only_7_nodes_with_two_byzantine_replicas() {
    let s = run_seeds::<Pbft>(
        "pbft-ro-7",
        15_000..15_040,
        |seed| read_heavy(seed, 7),
        read_only(byzantine(vec![1, 5], ByzantineKind::ConflictingVotes)),
    );
    eprintln!("pbft-ro-7: {s:?}");
}

#[test]
fn read_only_reads_skip_the_ordering() {
    // Messages between replicas per operation, fault-free, 90% reads.
    let per_op = |read_only: bool| {
        let mut cfg = SimConfig::calm(21, 4);
        cfg.read_ratio = 0.9;
        let config = PbftConfig {
            read_only,
            ..PbftConfig::default()
        };
        let report = Simulation::<Pbft>::new(cfg, config).run();
        assert!(report.passed(), "{report}");
        assert!(report.stats.ops_completed > 500, "{:?}", report.stats);
        report.stats.messages_sent as f64 / report.stats.ops_completed as f64
    };
    let (ordered, read_only) = (per_op(false), per_op(true));
    eprintln!("replica messages per op: {ordered:.1} ordered, {read_only:.1} read-only");
    assert!(read_only * 2.0 < ordered, "{read_only} vs {ordered}");
}

#[test]
fn read_only_answers_on_f_plus_one_replies_are_caught() {
    let broken = PbftConfig {
        unsafe_read_only_f_plus_one: true,
        ..read_only(PbftConfig::default())
    };
    let seeds = 0..40u64;
    let caught = seeds
        .clone()
        .filter(|&seed| {
            let report = Simulation::<Pbft>::new(read_heavy(seed, 4), broken.clone()).run();
            report
                .violations
                .iter()
                .any(|v| matches!(v, Violation::Linearizability(_)))
        })
        .count();
    eprintln!(
        "read-only on f + 1 replies caught on {caught} of {} seeds",
        seeds.end
    );
    assert!(
        caught >= 20,
        "read-only on f + 1 replies was caught on only {caught} of 40 seeds"
    );
}

#[test]
fn read_only_with_writes_on_f_plus_one_replies_is_caught() {
    // Castro and Liskov's condition: reads on 2f + 1 replies are not
    // enough when writes complete on f + 1: a stale-reads replica that
    // executed a write completes it with one correct replica, then joins
    // the two correct replicas that lag by that write in answering a read
    // with the old value. Fault-free with 12 clients (lagging by a write is
    // then common); the same runs with writes on 2f + 1 must pass.
    let config = read_only(byzantine(vec![1], ByzantineKind::StaleReads));
    let broken = PbftConfig {
        unsafe_read_only_writes_f_plus_one: true,
        ..config.clone()
    };
    let sim = |seed| {
        let mut c = read_heavy(seed, 4).without_faults();
        c.clients = 12;
        c
    };
    let seeds = 0..40u64;
    let caught = seeds
        .clone()
        .filter(|&seed| {
            let good = Simulation::<Pbft>::new(sim(seed), config.clone()).run();
            assert!(good.passed(), "{good}");
            let report = Simulation::<Pbft>::new(sim(seed), broken.clone()).run();
            report
                .violations
                .iter()
                .any(|v| matches!(v, Violation::Linearizability(_)))
        })
        .count();
    eprintln!(
        "writes on f + 1 replies caught on {caught} of {} seeds",
        seeds.end
    );
    assert!(
        caught >= 10,
        "writes on f + 1 replies were caught on only {caught} of 40 seeds"
    );
}
