//! The deterministic discrete-event simulator.
//!
//! N replicas running any [`Protocol`](crate::core::Protocol) and M clients
//! using its client logic exchange messages over a simulated network with
//! seeded per-link latency distributions, loss, duplication and reordering;
//! partitions (symmetric and one-way), slow links, crashes (losing every
//! record not yet durable) and restarts strike at random. Time jumps from
//! event to event, so thousands of simulated seconds run per wall-clock
//! second. Everything random is drawn from the run's seed, and events at
//! equal times are ordered by insertion: the same seed gives the same run.
//!
//! Checks: election safety and state-machine safety (continuously), and at
//! the end liveness (every request completes within a bound after the
//! heal), durability (after the heal and catch-up every replica has applied
//! every acknowledged write) and linearizability of the client history.
//! Which replica-level checks apply depends on the protocol's
//! [`Replication`](crate::core::Replication): leaderless register protocols
//! (ABD) have no log, so instead of the index-based checks every
//! acknowledged write must survive in a majority of replicas' durable
//! records; and the history's versions are read as the protocol's
//! [`VersionModel`](crate::check::VersionModel) says. Version-vector stores
//! (the Dynamo store) are not linearizable and skip that check; instead
//! every acknowledged put must be held by the promised number of its key's
//! owners after the heal and hinted hand-off, and every read is judged for
//! staleness against the puts acknowledged before it (counted, and a
//! violation where the configuration promises fresh reads).
//!
//! Byzantine protocols (PBFT) make replicas faulty through a test-only knob
//! of their own configuration, so the simulator hosts them unchanged; it
//! only asks [`Protocol::is_faulty`](crate::core::Protocol::is_faulty) and
//! leaves those replicas out of the replica-level checks (election and
//! state-machine safety, apply order, durability, convergence). Client-level
//! checks (liveness, linearizability) judge the whole system as before.

mod actions;
mod checks;
mod client;
mod config;
mod cpu;
mod drive;
mod durability;
mod event;
mod faults;
mod network;
mod node;
mod report;
mod stale;
mod verdict;
mod world;

pub use config::{FaultConfig, LatencyModel, NetworkConfig, SimConfig};
pub use cpu::CpuModel;
pub use report::{Measured, SimReport, SimStats, Violation};
pub use world::Simulation;

use crate::core::Protocol;
use std::ops::Range;

/// Environment variable that narrows [`run_seeds`] to one seed.
pub const SEED_ENV: &str = "QLAB_SEED";

/// Totals over a suite of seeds.
#[derive(Clone, Debug, Default)]
pub struct SuiteSummary {
    /// Seeds run.
    pub seeds: u64,
    /// Operations completed over all seeds.
    pub ops: u64,
    /// Crashes injected over all seeds.
    pub crashes: u64,
    /// Link faults injected over all seeds.
    pub link_faults: u64,
    /// Elections observed over all seeds.
    pub elections: u64,
    /// Reads judged for staleness over all seeds (version-vector stores).
    pub reads_judged: u64,
    /// Stale reads counted over all seeds (a failure only where the
    /// configuration promises fresh reads).
    pub stale_reads: u64,
}

/// Runs `P` on every seed of `seeds` (or only on `$QLAB_SEED` if set) and
/// panics on the first failing seed with its report and the command that
/// reproduces it.
pub fn run_seeds<P: Protocol>(
    name: &str,
    seeds: Range<u64>,
    make_config: impl Fn(u64) -> SimConfig,
    config: P::Config,
) -> SuiteSummary {
    let seeds = match std::env::var(SEED_ENV) {
        Ok(s) => match s.trim().parse::<u64>() {
            Ok(seed) => seed..seed + 1,
            Err(_) => panic!("{SEED_ENV}={s:?} is not a seed (expected an unsigned integer)"),
        },
        Err(_) => seeds,
    };
    let mut summary = SuiteSummary::default();
    for seed in seeds {
        let report = Simulation::<P>::new(make_config(seed), config.clone()).run();
        if !report.passed() {
            let test = std::thread::current()
                .name()
                .unwrap_or("<test name>")
                .to_string();
            panic!(
                "{name}: seed {seed} FAILED\n{report}\nreproduce with: {SEED_ENV}={seed} cargo test -p protocols -- --exact {test}"
            );
        }
        summary.seeds += 1;
        summary.ops += report.stats.ops_completed;
        summary.crashes += report.stats.crashes;
        summary.link_faults += report.stats.link_faults;
        summary.elections += report.stats.elections;
        summary.reads_judged += report.stats.reads_judged;
        summary.stale_reads += report.stats.stale_reads;
    }
    summary
}
