//! ABD under the simulator's randomized crashes, partitions, delays, drops
//! and duplicates: histories must be linearizable (versions read as ordered
//! tags), every acknowledged write must survive on a majority of replicas'
//! durable records, and every request must complete after the heal; and
//! deliberately broken variants (no read write-back; writes failed over to
//! a second coordinator) must be caught. A failing seed prints
//! itself; rerun it with `QLAB_SEED=<seed> cargo test -p protocols --test
//! sim_abd`.

use protocols::abd::{Abd, AbdConfig};
use protocols::kv::Command;
use protocols::sim::{run_seeds, LatencyModel, SimConfig, Simulation, Violation};
use protocols::{Protocol, Replication};
use std::ops::Range;
use std::time::Duration;

#[test]
fn abd_5_nodes_200_randomized_seeds() {
    let s = run_seeds::<Abd>(
        "abd",
        0..200,
        |seed| SimConfig::randomized(seed, 5),
        AbdConfig::default(),
    );
    eprintln!("abd-5: {s:?}");
    assert!(
        s.crashes > 100 && s.link_faults > 100 && s.ops > 20_000,
        "{s:?}"
    );
    // No leader, so nothing to elect.
    assert_eq!(s.elections, 0);
}

#[test]
fn abd_3_nodes_randomized_seeds() {
    let s = run_seeds::<Abd>(
        "abd-3",
        1_000..1_100,
        |seed| SimConfig::randomized(seed, 3),
        AbdConfig::default(),
    );
    eprintln!("abd-3: {s:?}");
    assert!(s.crashes > 30 && s.link_faults > 50, "{s:?}");
}

#[test]
fn abd_without_the_read_fast_path() {
    let config = AbdConfig {
        read_fast_path: false,
        ..AbdConfig::default()
    };
    run_seeds::<Abd>(
        "abd-slow-reads",
        2_000..2_060,
        |seed| SimConfig::randomized(seed, 5),
        config,
    );
}

#[test]
fn abd_is_judged_as_registers_without_compare_and_set() {
    const { assert!(!Abd::SUPPORTS_CAS) };
    assert_eq!(Abd::REPLICATION, Replication::Registers);
    // The randomized config asks for compare-and-sets; ABD gets none.
    let seed = (0..50)
        .find(|&s| SimConfig::randomized(s, 5).cas_ratio > 0.2)
        .expect("a seed with compare-and-sets");
    let mut sim = Simulation::<Abd>::new(
        SimConfig::randomized(seed, 5).without_faults(),
        AbdConfig::default(),
    );
    sim.run_until(protocols::Time::from_millis(3_000));
    let history = sim.history();
    assert!(history.len() > 100, "{} ops", history.len());
    assert!(history
        .iter()
        .all(|op| !matches!(op.command, Command::Cas { .. })));
    assert!(history
        .iter()
        .any(|op| matches!(op.command, Command::Put { .. })));
}

/// A hard case for reads: one key, mostly reads, lossy links with long
/// latency tails that differ per link, so writes linger half-stored while
/// reads race past them.
fn read_races(seed: u64) -> SimConfig {
    let mut c = SimConfig::randomized(seed, 5);
    c.read_ratio = 0.9;
    c.keys = 1;
    c.clients = 12;
    c.network.latency = LatencyModel::Exponential {
        min: Duration::from_micros(200),
        mean_extra: Duration::from_millis(20),
    };
    c.network.per_link_spread = 0.9;
    c.network.loss = 0.1;
    c
}

fn first_caught(
    seeds: Range<u64>,
    make: impl Fn(u64) -> SimConfig,
    config: AbdConfig,
) -> Option<u64> {
    seeds.into_iter().find(|&seed| {
        let report = Simulation::<Abd>::new(make(seed), config.clone()).run();
        report
            .violations
            .iter()
            .any(|v| matches!(v, Violation::Linearizability(_)))
    })
}

#[test]
fn skipping_the_read_write_back_is_caught() {
    // Without the write-back, a read can return a half-stored write and a
    // later read miss it. The window is one store round, so it takes an
    // adversarial network (and slow retransmission) to hit it.
    let broken = AbdConfig {
        unsafe_skip_write_back: true,
        retry_interval: Duration::from_millis(500),
        ..AbdConfig::default()
    };
    let caught = first_caught(0..60, read_races, broken);
    eprintln!("skip-write-back caught at seed {caught:?}");
    assert!(caught.is_some(), "the broken ABD passed 60 seeds");
    // The same network does not fault correct ABD.
    run_seeds::<Abd>("abd-read-races", 0..20, read_races, AbdConfig::default());
}

#[test]
fn failing_writes_over_to_another_coordinator_is_caught() {
    // A write retried at a second coordinator while the first one is cut
    // off but alive can be applied again after the client moved on; this is
    // why the ABD client keeps writes with their coordinator.
    let broken = AbdConfig {
        unsafe_failover_writes: true,
        ..AbdConfig::default()
    };
    let caught = first_caught(0..20, |seed| SimConfig::randomized(seed, 5), broken);
    eprintln!("write failover caught at seed {caught:?}");
    assert!(caught.is_some(), "the broken ABD client passed 20 seeds");
}
