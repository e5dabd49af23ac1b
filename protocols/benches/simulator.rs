//! Simulator throughput: simulated messages (and simulated seconds) per
//! wall-clock second, for 5 replicas under a steady client load without
//! faults, per protocol. `cargo bench -p protocols --bench simulator`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use protocols::sim::{SimConfig, Simulation};
use protocols::Protocol;
use std::time::Duration;

/// A fault-free 5-node run of `seconds` simulated seconds; `busy` runs four
/// closed-loop clients with at most 5 ms think time (about 450 ops/s),
/// otherwise one client with up to 100 ms (about 20 ops/s).
fn config(seconds: u64, busy: bool) -> SimConfig {
    let mut cfg = SimConfig::calm(42, 5);
    if !busy {
        cfg.clients = 1;
        cfg.think_time_max = Duration::from_millis(100);
    }
    cfg.fault_phase = Duration::from_secs(seconds);
    cfg.calm_phase = Duration::from_millis(100);
    cfg.check_linearizability = false;
    cfg
}

fn bench_protocol<P: Protocol>(c: &mut Criterion, busy: bool) {
    let seconds = 10;
    let load = if busy { "busy" } else { "light" };
    // Measure once to learn how many messages a run delivers, so criterion
    // can report messages per second.
    let probe = Simulation::<P>::new(config(seconds, busy), P::Config::default()).run();
    let messages = probe.stats.messages_delivered.max(1);
    eprintln!(
        "{} ({load}): {} simulated s, {} messages delivered, {} events, {} ops per run",
        P::NAME,
        probe.stats.end_time.as_millis_f64() / 1000.0,
        messages,
        probe.stats.events,
        probe.stats.ops_completed
    );
    let mut group = c.benchmark_group(format!("sim-5-nodes-{load}/{}", P::NAME));
    group.sample_size(10);
    group.throughput(Throughput::Elements(messages));
    group.bench_function("messages", |b| {
        b.iter(|| Simulation::<P>::new(config(seconds, busy), P::Config::default()).run())
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    for busy in [false, true] {
        bench_protocol::<protocols::raft::Raft>(c, busy);
        bench_protocol::<protocols::multipaxos::MultiPaxos>(c, busy);
    }
}

criterion_group!(simulator, benches);
criterion_main!(simulator);
