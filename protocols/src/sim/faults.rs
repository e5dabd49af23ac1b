//! The random fault schedule of a run: when faults strike and of what kind.
//! Targets (which node, which leader) are resolved when the fault strikes,
//! from the state of the run at that moment.

use super::config::{FaultConfig, SimConfig};
use crate::types::Time;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The kinds of fault the scheduler draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultKind {
    Crash,
    Restart,
    Partition,
    OneWay,
    IsolateLeader,
    SlowLink,
    Heal,
    CrashAll,
}

fn pick(cfg: &FaultConfig, rng: &mut ChaCha8Rng) -> Option<FaultKind> {
    let total = cfg.total_weight();
    if total == 0 {
        return None;
    }
    let mut x = rng.gen_range(0..total);
    for (w, kind) in [
        (cfg.crash, FaultKind::Crash),
        (cfg.restart, FaultKind::Restart),
        (cfg.partition, FaultKind::Partition),
        (cfg.one_way, FaultKind::OneWay),
        (cfg.isolate_leader, FaultKind::IsolateLeader),
        (cfg.slow_link, FaultKind::SlowLink),
        (cfg.heal, FaultKind::Heal),
        (cfg.crash_all, FaultKind::CrashAll),
    ] {
        if x < w {
            return Some(kind);
        }
        x -= w;
    }
    None
}

/// Fault times and kinds within `[0, fault_phase)`, exponential spacing.
pub(crate) fn schedule(cfg: &SimConfig, rng: &mut ChaCha8Rng) -> Vec<(Time, FaultKind)> {
    let mut out = Vec::new();
    let end = Time::ZERO.plus(cfg.fault_phase);
    let mean = cfg.faults.mean_interval.as_nanos().max(1) as f64;
    // Leave the first stretch fault-free so a first leader can emerge.
    let mut t = Time::ZERO.plus(cfg.faults.mean_interval.min(cfg.fault_phase / 4));
    loop {
        let u: f64 = rng.gen_range(f64::EPSILON..1.0);
        t = Time(t.0.saturating_add((-u.ln() * mean) as u64));
        if t >= end {
            break;
        }
        if let Some(kind) = pick(&cfg.faults, rng) {
            out.push((t, kind));
        }
    }
    out
}
