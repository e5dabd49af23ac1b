//! The simulator's CPU model: a replica is one core, so throughput
//! saturates where the busiest replica's core does, runs stay
//! reproducible, and the checks still pass.

use protocols::raft::{Raft, RaftConfig};
use protocols::sim::{CpuModel, SimConfig, SimReport, Simulation};
use std::time::Duration;

fn throughput_run(seed: u64, cpu: Option<CpuModel>) -> SimReport {
    let mut cfg = SimConfig::calm(seed, 3);
    cfg.clients = 64;
    cfg.keys = 500;
    cfg.think_time_max = Duration::ZERO;
    cfg.fault_phase = Duration::from_secs(2);
    cfg.cpu = cpu;
    Simulation::<Raft>::new(cfg, RaftConfig::default()).run()
}

const SLOW_CORE: CpuModel = CpuModel {
    per_input: Duration::from_micros(200),
    per_message: Duration::from_micros(50),
    per_kib: Duration::ZERO,
};

#[test]
fn a_slow_core_caps_throughput_and_queues_inputs() {
    let free = throughput_run(3, None);
    let slow = throughput_run(3, Some(SLOW_CORE));
    assert!(free.passed(), "{free}");
    assert!(slow.passed(), "{slow}");
    // The leader handles every request and every acknowledgement, each at
    // least 200 us: fewer than 5000 inputs a second. Batching lets one
    // input carry several operations, but the cap is far below what the
    // same clients reach when processing is free.
    let (f, s) = (free.measured.ops_per_s(), slow.measured.ops_per_s());
    assert!(s < 0.5 * f, "free {f:.0} ops/s, slow core {s:.0} ops/s");
    assert!(s > 100.0, "slow core still makes progress: {s:.0} ops/s");
    // Queueing shows in latency.
    let p50 = |r: &SimReport| {
        let mut l = r.measured.latencies_ns.clone();
        l.sort_unstable();
        l[l.len() / 2]
    };
    assert!(
        p50(&slow) > 2 * p50(&free),
        "{} vs {}",
        p50(&slow),
        p50(&free)
    );
}

#[test]
fn runs_with_a_cpu_model_are_reproducible() {
    let (a, b) = (
        throughput_run(5, Some(SLOW_CORE)),
        throughput_run(5, Some(SLOW_CORE)),
    );
    assert_eq!(a.trace_digest, b.trace_digest);
    assert_eq!(a.measured, b.measured);
    assert_ne!(a.trace_digest, throughput_run(5, None).trace_digest);
}

#[test]
fn the_cpu_model_survives_randomized_faults() {
    for seed in 0..20 {
        let mut cfg = SimConfig::randomized(seed, 5);
        cfg.cpu = Some(CpuModel {
            per_input: Duration::from_micros(20),
            per_message: Duration::from_micros(5),
            per_kib: Duration::from_micros(5),
        });
        let report = Simulation::<Raft>::new(cfg, RaftConfig::default()).run();
        assert!(report.passed(), "seed {seed}: {report}");
    }
}
