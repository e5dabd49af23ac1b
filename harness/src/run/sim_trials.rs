//! Trial experiments in the deterministic simulator (`trials.simulate:
//! true`): the same trials as on real processes (wait until every replica
//! follows one leader, stay quiet for `settle`, crash the leader at a random
//! moment within `crash_within`, time the first election of another
//! replica, restart the crashed one), on simulated time with the link delay
//! and jitter as the network's latency and no CPU noise. A thousand trials
//! take seconds, every run is reproducible from its seed, and comparing
//! with the real run separates what the protocol does from what a loaded
//! 2-core machine adds.

use super::point::TimedEvent;
use super::trials::{unsettled_error, unsettled_limit, TrialOutcome, TrialRecord, TrialsOutcome};
use crate::experiment::load::Point;
use crate::experiment::schema::Trials;
use crate::node::storage::Durability;
use anyhow::bail;
use protocols::core::{Protocol, Role};
use protocols::sim::{LatencyModel, SimConfig, Simulation};
use protocols::types::{NodeId, Time};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Simulated fsync time with `durability: fsync`: uniform in this range, as
/// measured on the development machine's disk (min 0.15 ms, p50 0.19 ms,
/// p90 0.27 ms).
const FSYNC: (Duration, Duration) = (Duration::from_micros(150), Duration::from_micros(300));

/// How often the trial loop looks at the replicas' status (simulated time);
/// the resolution of the measured times.
const POLL: Duration = Duration::from_micros(100);

/// A cluster still without an agreed leader this long after a trial is
/// restarted replica by replica (like the real runner's reform).
const REFORM_AFTER: Duration = Duration::from_secs(2);

/// Restart rounds before a point fails.
const REFORM_ROUNDS: u32 = 10;

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn ms_since(now: Time, then: Time) -> f64 {
    now.0.saturating_sub(then.0) as f64 / 1e6
}

/// The simulator's configuration for a trial point: no clients, no random
/// faults, the trial's link delay and jitter on every link.
fn sim_config(point: &Point, trials: &Trials, seed: u64) -> SimConfig {
    let exp = &point.experiment;
    let mut cfg = SimConfig::calm(seed, exp.nodes);
    cfg.clients = 0;
    cfg.network.latency = LatencyModel::Uniform {
        min: trials.link_delay,
        max: trials.link_delay + trials.link_jitter,
    };
    cfg.network.per_link_spread = 0.0;
    cfg.disk_latency = match exp.durability {
        Durability::Fsync => FSYNC,
        _ => (Duration::ZERO, Duration::ZERO),
    };
    // The trials decide how long the run lasts; the end-of-run phases must
    // not come first.
    cfg.fault_phase = Duration::from_secs(10 * 365 * 24 * 3600);
    cfg.check_linearizability = false;
    cfg.max_events = u64::MAX;
    cfg
}

/// The leader every replica follows, with its term, if they all agree.
fn whole<P: Protocol>(sim: &Simulation<P>, nodes: u32) -> Option<(NodeId, u64)> {
    let statuses: Vec<_> = (0..nodes).map(|n| sim.status(n)).collect();
    let leader = statuses.first()?.as_ref()?.leader?;
    let all_follow = statuses
        .iter()
        .all(|s| s.as_ref().is_some_and(|s| s.leader == Some(leader)));
    let st = statuses.get(leader as usize)?.as_ref()?;
    (all_follow && st.role == Role::Leader).then_some((leader, st.term))
}

/// Runs `trials.count` trials of protocol `P` in the simulator.
pub fn run_sim_trials<P: Protocol>(
    point: &Point,
    trials: &Trials,
    repetition: u32,
) -> anyhow::Result<TrialsOutcome> {
    let exp = &point.experiment;
    let crash_within = exp.crash_window(trials).map_err(anyhow::Error::msg)?;
    let config = crate::experiment::schema::protocol_config::<P>(&exp.protocol_config)
        .map_err(anyhow::Error::msg)?;
    let seed = trials.seed ^ u64::from(repetition).wrapping_mul(0x51ed);
    let mut sim = Simulation::<P>::new(sim_config(point, trials, seed), config.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7e1a_7001);
    let mut records = Vec::new();
    let mut events = Vec::new();
    let step = |sim: &mut Simulation<P>, d: Duration| {
        let until = Time(sim.now().0.saturating_add(ns(d)));
        sim.run_until(until);
    };
    let mut trial = 0;
    let mut unsettled = 0u32;
    while trial < trials.count {
        // Wait until one leader is followed by all, then stay quiet.
        // Replicas whose timeouts are in lock-step (150-150 ms) can split
        // votes forever; as on real processes, a cluster that stays
        // leaderless is restarted replica by replica, which breaks it.
        let mut waiting_since = sim.now();
        let mut reforms = 0;
        let (leader, term) = loop {
            if let Some(w) = whole(&sim, exp.nodes) {
                break w;
            }
            let limit = if reforms == 0 {
                REFORM_AFTER
            } else {
                exp.ready_timeout
            };
            if ms_since(sim.now(), waiting_since) > limit.as_secs_f64() * 1000.0 {
                if reforms == REFORM_ROUNDS {
                    bail!(
                        "trial {trial} (seed {seed}): the simulated cluster did not agree on a leader within {:?} even after restarting every replica {REFORM_ROUNDS} times",
                        exp.ready_timeout
                    );
                }
                reforms += 1;
                for n in 0..exp.nodes {
                    sim.crash(n);
                    let gap = Duration::from_micros(rng.gen_range(0..150_000));
                    step(&mut sim, gap);
                    sim.restart(n);
                }
                waiting_since = sim.now();
            }
            step(&mut sim, POLL);
        };
        step(&mut sim, trials.settle);
        let offset = crash_within.mul_f64(rng.gen::<f64>());
        step(&mut sim, offset);
        // A leader deposed in the quiet time: redo the round, as the real
        // runner does (crashing a follower would time nothing).
        let still = sim
            .status(leader)
            .is_some_and(|s| s.role == Role::Leader && s.term == term);
        if !still {
            unsettled += 1;
            if unsettled > unsettled_limit(trials.count) {
                bail!("{} (seed {seed})", unsettled_error(trial, unsettled));
            }
            continue;
        }
        let crash_at = sim.now();
        sim.crash(leader);
        events.push(TimedEvent {
            time_ms: crash_at.0 as f64 / 1e6,
            node: leader.to_string(),
            kind: "fault_crash".into(),
            detail: format!("simulated crash (leader, trial {trial})"),
        });
        let mut seen = None;
        while ms_since(sim.now(), crash_at) <= trials.give_up.as_secs_f64() * 1000.0 {
            step(&mut sim, POLL);
            seen = (0..exp.nodes).filter(|&n| n != leader).find_map(|n| {
                sim.status(n)
                    .filter(|s| s.role == Role::Leader && s.term > term)
                    .map(|s| (n, s.term))
            });
            if seen.is_some() {
                break;
            }
        }
        let elapsed = ms_since(sim.now(), crash_at);
        if let Some((n, t)) = seen {
            events.push(TimedEvent {
                time_ms: sim.now().0 as f64 / 1e6,
                node: n.to_string(),
                kind: "leader_elected".into(),
                detail: t.to_string(),
            });
        }
        records.push(TrialRecord {
            trial,
            cluster: 0,
            crashed: leader,
            old_term: term,
            crash_ms: crash_at.0 as f64 / 1e6,
            crash_offset_ms: offset.as_secs_f64() * 1000.0,
            new_leader: seen.map(|s| s.0),
            new_term: seen.map(|s| s.1),
            time_without_leader_ms: seen.map(|_| elapsed),
            outcome: if seen.is_some() {
                TrialOutcome::Elected
            } else {
                TrialOutcome::NoLeader
            },
        });
        sim.restart(leader);
        trial += 1;
    }
    Ok(TrialsOutcome {
        trials: records,
        events,
        requested: trials.count,
        election_timeout: P::timing(&config).election_timeout,
        crash_within,
    })
}
