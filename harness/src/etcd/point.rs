//! One load point against a local etcd cluster: start the members, wait
//! for a leader, drive the load while the fault timeline plays on the
//! members' processes and a watcher logs leader changes, stop everything.

use super::cluster::{leader_of, EtcdSpec};
use super::config::EtcdConfig;
use crate::backend::{Cluster, ClusterBackend};
use crate::experiment::load::Point;
use crate::run::inject::{unix_ns, FaultEvent, Injector};
use crate::run::point::{on_timeline, point_workload, PointEnv, PointOutcome};
use anyhow::bail;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use workloads::driver::{drive_etcd, DriverConfig, DriverOutput};
use workloads::etcd::{status_on, Channel, MemberStatus};

/// How often the leader watcher asks every member for its status.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(50);

/// Runs one point with `protocol: etcd`.
pub async fn run_etcd_point(point: &Point, env: &PointEnv<'_>) -> anyhow::Result<PointOutcome> {
    let exp = &point.experiment;
    let (spec, seed) = point_workload(point, env)?;
    let config = EtcdConfig::parse(&exp.protocol_config).map_err(anyhow::Error::msg)?;
    let mut cluster = env.backend.start_etcd(&EtcdSpec {
        nodes: exp.nodes,
        work_dir: env.work_dir,
        config,
        seed,
    })?;
    let result = drive(point, &spec, env, &cluster, seed).await;
    cluster.stop().await;
    let (driver, raw) = result?;
    let mut events = Vec::new();
    on_timeline(&mut events, raw, driver.start_unix_ns);
    Ok(PointOutcome {
        spec,
        driver,
        events,
        traffic: None,
    })
}

async fn drive(
    point: &Point,
    spec: &workloads::WorkloadSpec,
    env: &PointEnv<'_>,
    cluster: &Cluster,
    seed: u64,
) -> anyhow::Result<(DriverOutput, Vec<FaultEvent>)> {
    let exp = &point.experiment;
    let Cluster::Etcd(etcd) = cluster else {
        bail!("an etcd point needs an etcd cluster");
    };
    etcd.wait_ready(exp.ready_timeout, env.work_dir).await?;
    let addrs = cluster.addrs();
    let mut workload = spec.clone();
    workload.seed = seed;
    let mut injector = Injector::<()>::without_control(cluster, exp.nodes);
    let (stop, stopped) = watch::channel(false);
    let start = Instant::now();
    let (output, (), leaders) = tokio::join!(
        async {
            let out = drive_etcd(
                &workload,
                &addrs,
                DriverConfig {
                    driver: 0,
                    window: exp.timeseries_window,
                    record_history: exp.history,
                    reach: None,
                    share: (0, 1),
                },
            )
            .await;
            let _ = stop.send(true);
            out
        },
        injector.run(&exp.faults, start),
        watch_leader(&addrs, stopped),
    );
    let mut events = std::mem::take(&mut injector.events);
    events.extend(leaders);
    Ok((output, events))
}

/// Asks every member for its status every [`WATCH_INTERVAL`] (on kept
/// connections) until `stop`, and logs a `leader_elected` event (node: the
/// member's index, detail: its term) whenever the leader or its term
/// changes. The time is when the change was seen: up to one interval
/// (plus a status round trip) after etcd elected.
async fn watch_leader(addrs: &[SocketAddr], mut stop: watch::Receiver<bool>) -> Vec<FaultEvent> {
    let mut events = Vec::new();
    let mut channels: Vec<Option<Channel>> = vec![None; addrs.len()];
    let mut last = None;
    let limit = Duration::from_millis(200);
    loop {
        let asks = addrs
            .iter()
            .zip(channels.iter().cloned())
            .map(|(&a, ch)| async move {
                let ask = async {
                    let ch = match ch.filter(Channel::is_alive) {
                        Some(c) => c,
                        None => Channel::connect(a, limit).await.ok()?,
                    };
                    let status = status_on(&ch).await.ok();
                    Some((ch, status))
                };
                tokio::time::timeout(limit, ask).await.ok().flatten()
            });
        let answers = futures_util::future::join_all(asks).await;
        let mut statuses: BTreeMap<u32, MemberStatus> = BTreeMap::new();
        for (i, answer) in answers.into_iter().enumerate() {
            let (ch, status) = answer.map_or((None, None), |(c, s)| (Some(c), s));
            channels[i] = ch;
            if let Some(s) = status {
                statuses.insert(i as u32, s);
            }
        }
        if let Some(l) = leader_of(&statuses) {
            let term = statuses.get(&l).map_or(0, |s| s.raft_term);
            if last != Some((l, term)) {
                events.push((
                    unix_ns(),
                    l.to_string(),
                    "leader_elected".to_string(),
                    format!("term {term}"),
                ));
                last = Some((l, term));
            }
        }
        tokio::select! {
            _ = stop.changed() => break,
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
    }
    events
}
