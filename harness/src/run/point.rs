//! Running one sweep point on a cluster backend: start the cluster, wait
//! for it, drive the load, stop everything, gather what happened.

use super::inject::{FaultEvent, Injector};
use crate::backend::{Backend, Cluster, ClusterBackend};
use crate::experiment::load::Point;
use crate::local::cluster::ClusterSpec;
use crate::node::cli::node_endpoint_config;
use crate::testbed::drivers::{DriverPlan, LEAD};
use anyhow::{bail, Context};
use net::{Endpoint, Identity, PeerIdentity};
use protocols::core::{Protocol, Role};
use protocols::wire::{ControlReply, ControlRequest, Traffic, Wire};
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;
use workloads::driver::{drive, DriverConfig, DriverOutput};

/// A node event on the experiment's clock.
#[derive(Clone, Debug)]
pub struct TimedEvent {
    /// Milliseconds since the driver's time zero (negative: before load).
    pub time_ms: f64,
    /// Node id.
    pub node: String,
    /// Event kind.
    pub kind: String,
    /// Detail.
    pub detail: String,
}

/// What one point produced.
pub struct PointOutcome {
    /// The load that was driven.
    pub spec: workloads::WorkloadSpec,
    /// The driver's measurements.
    pub driver: DriverOutput,
    /// Node events.
    pub events: Vec<TimedEvent>,
    /// What the replicas sent during the measured interval (`None` when a
    /// replica did not report at one of its ends).
    pub traffic: Option<protocols::wire::Traffic>,
}

/// Where a point runs.
pub struct PointEnv<'a> {
    /// The `qlab` binary.
    pub exe: &'a Path,
    /// Certificates.
    pub cluster_dir: &'a Path,
    /// Scratch folder for this point.
    pub work_dir: &'a Path,
    /// Repetition (varies the seed).
    pub repetition: u32,
    /// Where the replicas run.
    pub backend: &'a Backend,
}

/// Asks every node for its status until one leads (or, for protocols
/// without leaders, all answer), or `limit` passes.
pub(super) async fn wait_ready<M>(
    control: &Endpoint<Wire<M>>,
    inbox: &mut net::Inbox<Wire<M>>,
    nodes: u32,
    limit: Duration,
) -> anyhow::Result<()>
where
    M: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    let deadline = Instant::now() + limit;
    let mut last = Vec::new();
    while Instant::now() < deadline {
        for n in 0..nodes {
            let _ = control.try_send(
                PeerIdentity::Node(n),
                &Wire::Control(ControlRequest::Status),
            );
        }
        let round_end = Instant::now() + Duration::from_millis(150);
        let mut answered = std::collections::BTreeMap::new();
        while let Ok(Some((from, msg))) = tokio::time::timeout_at(round_end, inbox.recv()).await {
            if let (PeerIdentity::Node(n), Wire::ControlReply(ControlReply::Status(s))) =
                (from, msg)
            {
                answered.insert(n, s);
            }
        }
        // Ready when every node answers and all follow one leader that
        // knows it leads (or, without leaders, all are replicas).
        let leaders: std::collections::BTreeSet<Option<u32>> =
            answered.values().map(|s| s.leader).collect();
        let agreed = match leaders.iter().next() {
            Some(Some(l)) if leaders.len() == 1 => {
                answered.get(l).is_some_and(|s| s.role == Role::Leader)
            }
            _ => false,
        };
        let leaderless = answered.values().all(|s| s.role == Role::Replica);
        if answered.len() as u32 == nodes && (agreed || leaderless) {
            return Ok(());
        }
        last = answered.into_iter().collect();
    }
    bail!("the cluster was not ready within {limit:?} (last statuses: {last:?}); see the node logs")
}

/// Reads the nodes' event files, with times relative to `zero_unix_ns`.
pub(super) fn read_events(files: &[std::path::PathBuf], zero_unix_ns: u128) -> Vec<TimedEvent> {
    let mut events = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for line in text.lines() {
            let mut parts = line.splitn(4, ',');
            let (Some(t), Some(node), Some(kind)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(t) = t.parse::<u128>() else { continue };
            let time_ms = (t as f64 - zero_unix_ns as f64) / 1e6;
            events.push(TimedEvent {
                time_ms,
                node: node.to_string(),
                kind: kind.to_string(),
                detail: parts.next().unwrap_or("").to_string(),
            });
        }
    }
    events.sort_by(|a, b| a.time_ms.total_cmp(&b.time_ms));
    events
}

/// Adds the harness's own events (`raw`, on the Unix clock) to `events`,
/// relative to `zero_unix_ns`, and sorts them by time.
pub(crate) fn on_timeline(events: &mut Vec<TimedEvent>, raw: Vec<FaultEvent>, zero_unix_ns: u128) {
    for (t, node, kind, detail) in raw {
        events.push(TimedEvent {
            time_ms: (t as f64 - zero_unix_ns as f64) / 1e6,
            node,
            kind,
            detail,
        });
    }
    events.sort_by(|a, b| a.time_ms.total_cmp(&b.time_ms));
}

/// The point's workload and the seed of this repetition (which varies
/// the workload's and the nodes' randomness).
pub(crate) fn point_workload(
    point: &Point,
    env: &PointEnv<'_>,
) -> anyhow::Result<(workloads::WorkloadSpec, u64)> {
    let spec = point
        .experiment
        .workload
        .clone()
        .context("this point has no workload to drive")?;
    let seed = spec.seed ^ u64::from(env.repetition).wrapping_mul(0x51ed);
    Ok((spec, seed))
}

/// Runs one point of protocol `P`.
pub async fn run_point<P: Protocol>(
    point: &Point,
    env: &PointEnv<'_>,
) -> anyhow::Result<PointOutcome> {
    let (spec, seed) = point_workload(point, env)?;
    let mut cluster = start_cluster::<P>(point, env, seed).await?;
    let result = drive_cluster::<P>(point, &spec, env, &cluster, seed).await;
    cluster.stop().await;
    let (driver, faults, traffic) = result?;
    let files = cluster.event_files().await?;
    let mut events = read_events(&files, driver.start_unix_ns);
    on_timeline(&mut events, faults, driver.start_unix_ns);
    Ok(PointOutcome {
        spec,
        driver,
        events,
        traffic,
    })
}

/// Starts the point's cluster of `P` nodes.
pub(super) async fn start_cluster<P: Protocol>(
    point: &Point,
    env: &PointEnv<'_>,
    seed: u64,
) -> anyhow::Result<Cluster> {
    let exp = &point.experiment;
    let spec = ClusterSpec {
        exe: env.exe,
        protocol: P::NAME,
        nodes: exp.nodes,
        durability: exp.durability,
        cluster_dir: env.cluster_dir,
        work_dir: env.work_dir,
        seed,
        config: config_yaml(exp)?,
        link_latency: exp.link_latency.clone(),
    };
    env.backend.start(&spec).await
}

/// The experiment's `protocol_config` as YAML for a command line (empty
/// when it has none).
fn config_yaml(exp: &crate::experiment::schema::Experiment) -> anyhow::Result<String> {
    if exp.protocol_config.is_null() {
        Ok(String::new())
    } else {
        serde_yaml::to_string(&exp.protocol_config).context("encoding protocol_config")
    }
}

/// The harness's control endpoint and its inbox.
pub(super) type ControlPair<M> = (Endpoint<Wire<M>>, net::Inbox<Wire<M>>);

/// Binds the harness's control endpoint and introduces every node to it.
pub(super) fn control_endpoint<M>(
    env: &PointEnv<'_>,
    addrs: &[std::net::SocketAddr],
) -> anyhow::Result<ControlPair<M>>
where
    M: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    let any = std::net::SocketAddr::new(env.backend.bind_ip(), 0);
    let control_id = Identity::load(env.cluster_dir, PeerIdentity::Control)
        .context("loading the control certificate")?;
    let (control, inbox) = Endpoint::<Wire<M>>::bind(any, &control_id, node_endpoint_config())
        .context("binding the control endpoint")?;
    for (i, addr) in addrs.iter().enumerate() {
        control.add_peer(PeerIdentity::Node(i as u32), *addr);
    }
    Ok((control, inbox))
}

/// Waits until the cluster is ready, failing early (with the log folder)
/// if a node process died during start-up.
pub(super) async fn await_cluster<M>(
    cluster: &Cluster,
    control: &Endpoint<Wire<M>>,
    inbox: &mut net::Inbox<Wire<M>>,
    nodes: u32,
    limit: Duration,
    work_dir: &Path,
) -> anyhow::Result<()>
where
    M: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    let ready = wait_ready(control, inbox, nodes, limit).await;
    let dead = cluster.exited().await;
    if !dead.is_empty() {
        bail!(
            "{} exited; see their logs in {}",
            dead.join(", "),
            work_dir.display()
        );
    }
    ready
}

async fn drive_cluster<P: Protocol>(
    point: &Point,
    spec: &workloads::WorkloadSpec,
    env: &PointEnv<'_>,
    cluster: &Cluster,
    seed: u64,
) -> anyhow::Result<(DriverOutput, Vec<FaultEvent>, Option<Traffic>)> {
    let exp = &point.experiment;
    let any = std::net::SocketAddr::new(env.backend.bind_ip(), 0);
    let addrs = cluster.addrs();
    let (control, mut control_inbox) = control_endpoint::<P::Message>(env, &addrs)?;
    await_cluster(
        cluster,
        &control,
        &mut control_inbox,
        exp.nodes,
        exp.ready_timeout,
        env.work_dir,
    )
    .await?;
    let mut workload = spec.clone();
    workload.seed = seed;
    let (from, to) = workload.measured();
    let probes = [from, to];
    if let Cluster::Remote(rc) = cluster {
        if rc.has_drivers() {
            if exp.client_partitions {
                bail!("client_partitions needs the driver inside qlab run: remove the inventory's `drivers` group for this experiment");
            }
            let plan = DriverPlan {
                protocol: P::NAME,
                config: config_yaml(exp)?,
                spec: &workload,
                window: exp.timeseries_window,
                history: exp.history,
            };
            let mut injector = Injector::new(cluster, &control, control_inbox, exp.nodes)
                .with_traffic_probes(&probes);
            let start = Instant::now() + LEAD;
            let start_unix_ns = crate::run::inject::unix_ns() + LEAD.as_nanos();
            let (output, ()) = tokio::join!(
                rc.drive(&plan, start, start_unix_ns),
                injector.run(&exp.faults, start)
            );
            let faults = std::mem::take(&mut injector.events);
            let traffic = injector.traffic_between_probes();
            control.shutdown(Duration::from_millis(100)).await;
            return Ok((output?, faults, traffic));
        }
    }
    let driver_id = Identity::load(env.cluster_dir, PeerIdentity::Driver(0))
        .context("loading the driver certificate")?;
    let (endpoint, inbox) =
        Endpoint::<Wire<P::Message>>::bind(any, &driver_id, node_endpoint_config())
            .context("binding the driver endpoint")?;
    for (i, addr) in addrs.iter().enumerate() {
        endpoint.add_peer(PeerIdentity::Node(i as u32), *addr);
    }
    for i in 0..exp.nodes {
        endpoint
            .wait_connected(PeerIdentity::Node(i), Duration::from_secs(2))
            .await;
    }
    let mut injector =
        Injector::new(cluster, &control, control_inbox, exp.nodes).with_traffic_probes(&probes);
    let reach = exp
        .client_partitions
        .then(workloads::reach::ClientReach::new);
    if let Some(r) = &reach {
        injector = injector.with_client_reach(r.clone());
    }
    let members = protocols::core::Cluster::new(exp.nodes);
    let config = crate::experiment::schema::protocol_config::<P>(&exp.protocol_config)
        .map_err(anyhow::Error::msg)?;
    let start = Instant::now();
    let (output, ()) = tokio::join!(
        drive::<P>(
            &workload,
            &members,
            &config,
            endpoint.clone(),
            inbox,
            DriverConfig {
                driver: 0,
                window: exp.timeseries_window,
                record_history: exp.history,
                reach,
                share: (0, 1),
            },
        ),
        injector.run(&exp.faults, start)
    );
    let faults = std::mem::take(&mut injector.events);
    let traffic = injector.traffic_between_probes();
    endpoint.shutdown(Duration::from_millis(200)).await;
    control.shutdown(Duration::from_millis(100)).await;
    Ok((output, faults, traffic))
}
