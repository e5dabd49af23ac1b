//! Tests of the simulator itself, on the trivially correct unreplicated
//! baseline: it passes every check under faults, runs are reproducible from
//! their seed, and a deliberately broken variant is caught.

use protocols::sim::{run_seeds, SimConfig, Simulation, Violation};
use protocols::unreplicated::{Unreplicated, UnreplicatedConfig};

#[test]
fn calm_run_completes_and_is_linearizable() {
    let report =
        Simulation::<Unreplicated>::new(SimConfig::calm(1, 3), UnreplicatedConfig::default()).run();
    assert!(report.passed(), "{report}");
    assert!(report.stats.ops_completed > 100, "{report}");
}

#[test]
fn unreplicated_survives_randomized_faults() {
    let summary = run_seeds::<Unreplicated>(
        "unreplicated",
        0..60,
        |s| SimConfig::randomized(s, 3),
        UnreplicatedConfig::default(),
    );
    assert!(
        summary.crashes > 0 && summary.link_faults > 0,
        "{summary:?}"
    );
}

#[test]
fn same_seed_same_run_byte_for_byte() {
    let run = |seed| {
        let mut cfg = SimConfig::randomized(seed, 3);
        cfg.record_trace = true;
        Simulation::<Unreplicated>::new(cfg, UnreplicatedConfig::default()).run()
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.trace_digest, b.trace_digest);
    assert!(!a.trace.is_empty());
    assert_ne!(a.trace_digest, c.trace_digest);
}

#[test]
fn replying_before_persisting_is_caught() {
    let broken = UnreplicatedConfig {
        unsafe_reply_before_persist: true,
        ..UnreplicatedConfig::default()
    };
    let caught = (0..40u64).find(|&seed| {
        let mut cfg = SimConfig::randomized(seed, 3);
        // Crashes are what lose un-persisted writes.
        cfg.faults.crash = cfg.faults.crash.max(4);
        let report = Simulation::<Unreplicated>::new(cfg, broken.clone()).run();
        report.violations.iter().any(|v| {
            matches!(
                v,
                Violation::Linearizability(_) | Violation::Durability { .. }
            )
        })
    });
    assert!(caught.is_some(), "no seed caught the lost writes");
}
