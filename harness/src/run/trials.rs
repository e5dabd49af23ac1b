//! Trial experiments: crash the leader again and again and time how long the
//! cluster is without one (the Raft paper's Figure 16, "time without
//! leader").
//!
//! One trial: wait until every replica follows one leader, stay quiet for
//! `settle`, wait a uniformly random time within `crash_within` (so the crash
//! falls at a random point of the leader's heartbeat cycle), SIGKILL the
//! leader, and time from the kill to the first `leader_elected` event of
//! another replica (read from the nodes' own event logs, so the polling
//! interval does not blur it). Then restart the crashed replica from its
//! write-ahead log and wait until the cluster is whole again.

use super::inject::{unix_ns, FaultEvent, Injector};
use super::point::TimedEvent;
use super::point::{await_cluster, control_endpoint, read_events, start_cluster, PointEnv};
use crate::backend::{Cluster, ClusterBackend};
use crate::experiment::load::Point;
use crate::experiment::schema::Trials;
use anyhow::{bail, Context};
use protocols::core::{Protocol, Role};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::time::Instant;

/// How a trial ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrialOutcome {
    /// Another replica was elected.
    Elected,
    /// No replica was elected within `give_up`.
    NoLeader,
}

impl TrialOutcome {
    /// Name in `trials.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialOutcome::Elected => "elected",
            TrialOutcome::NoLeader => "no_leader",
        }
    }
}

/// One trial's measurements.
#[derive(Clone, Debug)]
pub struct TrialRecord {
    /// Trial number, from 0.
    pub trial: u32,
    /// The cluster it ran on (see `trials.clusters`).
    pub cluster: u32,
    /// The leader that was crashed.
    pub crashed: u32,
    /// Its term when crashed.
    pub old_term: u64,
    /// When it was crashed, ms on the point's clock.
    pub crash_ms: f64,
    /// How long after the settle time the crash came, ms.
    pub crash_offset_ms: f64,
    /// The replica that was elected.
    pub new_leader: Option<u32>,
    /// Its term.
    pub new_term: Option<u64>,
    /// From the kill to the first election of another replica, ms.
    pub time_without_leader_ms: Option<f64>,
    /// How the trial ended.
    pub outcome: TrialOutcome,
}

/// What a trial point produced.
pub struct TrialsOutcome {
    /// One record per trial.
    pub trials: Vec<TrialRecord>,
    /// Injections and node events, ms on the point's clock.
    pub events: Vec<TimedEvent>,
    /// Trials that were asked for (fewer ran if the cluster broke down).
    pub requested: u32,
    /// The protocol's election-timeout range, if it has one.
    pub election_timeout: Option<(Duration, Duration)>,
    /// The crash window used.
    pub crash_within: Duration,
}

/// Waits until every replica answers and all follow one leader that knows
/// it leads; returns that leader and its term.
async fn wait_whole<M>(
    injector: &mut Injector<'_, M>,
    nodes: u32,
    limit: Duration,
) -> Option<(u32, u64)>
where
    M: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let st = injector.statuses(Duration::from_millis(100)).await;
        if st.len() as u32 == nodes {
            let leaders: std::collections::BTreeSet<Option<u32>> =
                st.values().map(|s| s.leader).collect();
            if let (1, Some(Some(l))) = (leaders.len(), leaders.iter().next()) {
                if let Some(s) = st.get(l).filter(|s| s.role == Role::Leader) {
                    return Some((*l, s.term));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Runs the trials of one point of protocol `P`, on `trials.clusters`
/// clusters side by side.
pub async fn run_trials<P: Protocol>(
    point: &Point,
    trials: &Trials,
    env: &PointEnv<'_>,
) -> anyhow::Result<TrialsOutcome> {
    let exp = &point.experiment;
    let crash_within = exp.crash_window(trials).map_err(anyhow::Error::msg)?;
    let config = crate::experiment::schema::protocol_config::<P>(&exp.protocol_config)
        .map_err(anyhow::Error::msg)?;
    let seed = trials.seed ^ u64::from(env.repetition).wrapping_mul(0x51ed);
    let shards = trials.clusters.max(1);
    let mut dirs = Vec::new();
    for c in 0..shards {
        let dir = if shards == 1 {
            env.work_dir.to_path_buf()
        } else {
            env.work_dir.join(format!("cluster-{c}"))
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        dirs.push(dir);
    }
    let mut clusters = Vec::new();
    for (c, dir) in dirs.iter().enumerate() {
        let shard_env = PointEnv {
            work_dir: dir,
            ..*env
        };
        match start_cluster::<P>(point, &shard_env, shard_seed(seed, c as u32)).await {
            Ok(cluster) => clusters.push(cluster),
            Err(e) => {
                for mut cl in clusters {
                    cl.stop().await;
                }
                return Err(e);
            }
        }
    }
    let zero = unix_ns();
    let loops = clusters
        .iter()
        .zip(&dirs)
        .enumerate()
        .map(|(c, (cluster, dir))| {
            let shard = Shard {
                index: c as u32,
                of: shards,
                seed: seed ^ (c as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            };
            let shard_env = PointEnv {
                work_dir: dir,
                ..*env
            };
            async move {
                trial_loop::<P>(
                    point,
                    trials,
                    &shard_env,
                    cluster,
                    shard,
                    crash_within,
                    zero,
                )
                .await
            }
        });
    let result = futures_util::future::try_join_all(loops).await;
    let mut records = Vec::new();
    let mut events = Vec::new();
    for (c, mut cluster) in clusters.into_iter().enumerate() {
        cluster.stop().await;
        let files = cluster.event_files().await?;
        for mut e in read_events(&files, zero) {
            e.node = shard_node(&e.node, c as u32, shards);
            events.push(e);
        }
    }
    for (c, (shard_records, faults)) in result?.into_iter().enumerate() {
        records.extend(shard_records);
        for (t, node, kind, detail) in faults {
            events.push(TimedEvent {
                time_ms: (t as f64 - zero as f64) / 1e6,
                node: shard_node(&node, c as u32, shards),
                kind,
                detail,
            });
        }
    }
    records.sort_by_key(|r| r.trial);
    events.sort_by(|a, b| a.time_ms.total_cmp(&b.time_ms));
    Ok(TrialsOutcome {
        trials: records,
        events,
        requested: trials.count,
        election_timeout: P::timing(&config).election_timeout,
        crash_within,
    })
}

/// Most rounds a point may redo because the leader was deposed in the
/// quiet time before its crash: beyond this, the timeouts are too short for
/// the network.
pub(super) fn unsettled_limit(count: u32) -> u32 {
    count.max(10)
}

/// The error when a point exceeds [`unsettled_limit`].
pub(super) fn unsettled_error(trial: u32, rounds: u32) -> String {
    format!(
        "trial {trial}: leadership kept changing without a crash ({rounds} times); the election timeouts are too short for this network"
    )
}

/// Which of the point's clusters a trial loop drives.
#[derive(Clone, Copy)]
struct Shard {
    /// This cluster, from 0.
    index: u32,
    /// Clusters of the point.
    of: u32,
    /// Seed of this cluster's crash times.
    seed: u64,
}

impl Shard {
    /// The trial numbers this cluster runs: `index`, `index + of`, ...
    fn trials(self, count: u32) -> impl Iterator<Item = u32> {
        (self.index..count).step_by(self.of as usize)
    }
}

/// The seed of cluster `c` of a point (cluster 0 keeps the point's seed, so
/// a single-cluster run is the same as before clusters existed).
fn shard_seed(seed: u64, c: u32) -> u64 {
    seed ^ u64::from(c).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// A node's name in `events.csv`: its id, with `@cluster` when a point ran
/// several clusters (node 2 of cluster 1 is `2@1`).
fn shard_node(node: &str, cluster: u32, clusters: u32) -> String {
    if clusters == 1 || node.is_empty() {
        node.to_string()
    } else {
        format!("{node}@{cluster}")
    }
}

/// The first election of a replica other than `crashed` after `t0` (Unix
/// ns), from the nodes' event logs: (node, term, ms after `t0`).
async fn first_election_after(
    cluster: &Cluster,
    t0: u128,
    crashed: u32,
) -> Option<(u32, u64, f64)> {
    let files = cluster.event_files().await.ok()?;
    read_events(&files, t0)
        .into_iter()
        .filter(|e| e.kind == "leader_elected" && e.time_ms > 0.0)
        .filter_map(|e| {
            let node: u32 = e.node.parse().ok()?;
            let term: u64 = e.detail.parse().ok()?;
            (node != crashed).then_some((node, term, e.time_ms))
        })
        .min_by(|a, b| a.2.total_cmp(&b.2))
}

async fn trial_loop<P: Protocol>(
    point: &Point,
    trials: &Trials,
    env: &PointEnv<'_>,
    cluster: &Cluster,
    shard: Shard,
    crash_within: Duration,
    zero: u128,
) -> anyhow::Result<(Vec<TrialRecord>, Vec<FaultEvent>)> {
    let exp = &point.experiment;
    let addrs = cluster.addrs();
    let (control, mut inbox) = control_endpoint::<P::Message>(env, &addrs)?;
    await_cluster(
        cluster,
        &control,
        &mut inbox,
        exp.nodes,
        exp.ready_timeout,
        env.work_dir,
    )
    .await?;
    let mut injector = Injector::new(cluster, &control, inbox, exp.nodes);
    let shape = |inj: &Injector<'_, P::Message>, n: u32| {
        if !trials.link_delay.is_zero() || !trials.link_jitter.is_zero() {
            inj.delay_links_of(n, trials.link_delay, trials.link_jitter);
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(shard.seed ^ 0x7e1a_7001);
    let mut records: Vec<TrialRecord> = Vec::new();
    let mut unsettled = 0u32;
    let mut numbers = shard.trials(trials.count).peekable();
    while let Some(&trial) = numbers.peek() {
        let leaderless = records
            .last()
            .is_some_and(|r| r.outcome == TrialOutcome::NoLeader);
        let Some((leader, old_term)) =
            reform(&mut injector, exp.nodes, exp.ready_timeout, leaderless).await
        else {
            bail!(
                "trial {trial}: the cluster did not agree on a leader within {:?} even after restarting every replica {REFORM_ROUNDS} times; see the node logs in {}",
                exp.ready_timeout,
                env.work_dir.display()
            );
        };
        // Every replica answered, so every control link is up: (re)apply
        // the link delay, which a restarted replica does not remember.
        for n in 0..exp.nodes {
            shape(&injector, n);
        }
        tokio::time::sleep(trials.settle).await;
        let offset = crash_within.mul_f64(rng.gen::<f64>());
        tokio::time::sleep(offset).await;
        // With short timeouts a leader can be deposed in the quiet time;
        // crashing a follower would time nothing, so such a round is redone.
        let leads = injector
            .statuses(Duration::from_millis(50))
            .await
            .get(&leader)
            .is_some_and(|s| s.role == Role::Leader && s.term == old_term);
        if !leads {
            unsettled += 1;
            if unsettled > unsettled_limit(trials.count) {
                bail!(unsettled_error(trial, unsettled));
            }
            continue;
        }
        numbers.next();
        let t0 = unix_ns();
        injector
            .crash(leader, format!("SIGKILL (leader, trial {trial})"))
            .await;
        let given_up = Instant::now() + trials.give_up;
        let mut seen = None;
        while Instant::now() < given_up {
            // The crashed replica never answers: poll with a short wait.
            let st = injector.statuses(Duration::from_millis(20)).await;
            if st
                .iter()
                .any(|(n, s)| *n != leader && s.role == Role::Leader && s.term > old_term)
            {
                // The event line is written before the status changes.
                seen = first_election_after(cluster, t0, leader).await;
                if seen.is_some() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // An election may land between the last poll and the deadline.
        let seen = match seen {
            Some(s) => Some(s),
            None => first_election_after(cluster, t0, leader).await,
        };
        let seen = seen.filter(|(_, _, ms)| *ms <= trials.give_up.as_secs_f64() * 1000.0);
        records.push(TrialRecord {
            trial,
            cluster: shard.index,
            crashed: leader,
            old_term,
            crash_ms: (t0 as f64 - zero as f64) / 1e6,
            crash_offset_ms: offset.as_secs_f64() * 1000.0,
            new_leader: seen.map(|s| s.0),
            new_term: seen.map(|s| s.1),
            time_without_leader_ms: seen.map(|s| s.2),
            outcome: if seen.is_some() {
                TrialOutcome::Elected
            } else {
                TrialOutcome::NoLeader
            },
        });
        injector
            .restart(leader)
            .await
            .with_context(|| format!("trial {trial}: restarting replica {leader}"))?;
    }
    Ok((records, std::mem::take(&mut injector.events)))
}

/// Waits for the cluster to be whole; if it is not within `limit` (replicas
/// whose timeouts are in lock-step can split votes forever, as the Raft
/// paper's 150-150 ms line shows), restarts every replica one after another
/// to break the lock-step, and waits once more (up to `limit`). The first
/// wait is 2 s at most, and 500 ms after a trial that elected nobody
/// (`leaderless`), where the lock-step is likely.
async fn reform<M>(
    injector: &mut Injector<'_, M>,
    nodes: u32,
    limit: Duration,
    leaderless: bool,
) -> Option<(u32, u64)>
where
    M: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    // A crashed replica restarts and catches up within tens of ms, so a
    // cluster that is not whole after a couple of seconds is stuck: split
    // votes in lock-step, or leadership churning because the timeouts are
    // too short for the network (12-24 ms behind a 15 ms broadcast).
    let first = if leaderless {
        limit.min(Duration::from_millis(500))
    } else {
        limit.min(Duration::from_secs(2))
    };
    if let Some(found) = wait_whole(injector, nodes, first).await {
        return Some(found);
    }
    // Churning leadership (timeouts too short for the network) can miss
    // one whole moment by chance; a few rounds of restarts make a stuck
    // trial a slow one rather than a failed point.
    for _ in 0..REFORM_ROUNDS {
        for n in 0..nodes {
            injector
                .crash(n, "SIGKILL (restarting a leaderless cluster)".into())
                .await;
            if injector.restart(n).await.is_err() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(37)).await;
        }
        if let Some(found) = wait_whole(injector, nodes, limit).await {
            return Some(found);
        }
    }
    None
}

/// Rounds of restarting every replica before a trial point gives up.
const REFORM_ROUNDS: u32 = 3;
