//! `qlab drive`: a stand-alone load driver against running nodes (what the
//! testbed backend starts on driver hosts; `qlab run`'s local backend runs
//! the same driver in-process). With `--protocol etcd`, `--nodes` are the
//! client addresses of a running etcd v3 cluster (plain HTTP/2, no TLS).

use crate::target::Target;
use anyhow::{bail, Context};
use clap::Args;
use net::{Endpoint, Identity, PeerIdentity};
use protocols::core::{Cluster, Protocol};
use protocols::registry::ProtocolVisitor;
use protocols::wire::Wire;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use workloads::driver::{drive, drive_etcd, DriverConfig, DriverOutput};
use workloads::WorkloadSpec;

/// Arguments of `qlab drive`.
#[derive(Args, Debug)]
pub struct DriveArgs {
    /// Protocol the nodes run (its client logic is used), or `etcd`.
    #[arg(long)]
    protocol: String,
    /// Every node's address, comma-separated, in id order (for etcd: the
    /// members' client addresses, e.g. 127.0.0.1:2379).
    #[arg(long, value_delimiter = ',')]
    nodes: Vec<SocketAddr>,
    /// Folder with the cluster CA and this driver's certificate (not used
    /// for etcd).
    #[arg(long)]
    cluster_dir: Option<PathBuf>,
    /// A YAML file holding a workload (the `workload:` section of an
    /// experiment, on its own).
    #[arg(long)]
    workload: PathBuf,
    /// Protocol tunables as YAML (an experiment's `protocol_config`); the
    /// client logic of some protocols depends on them (quorum sizes).
    #[arg(long, default_value = "")]
    config: String,
    /// This driver's index (its certificate is `driver-N`; client ids are
    /// unique across drivers).
    #[arg(long, default_value_t = 0)]
    driver: u32,
    /// `K/D`: run share K of D drivers that drive one workload together
    /// (logical clients K, K+D, ... and 1/D of the open-loop rate).
    #[arg(long, default_value = "0/1", value_parser = parse_share)]
    share: (u32, u32),
    /// Start the load at this wall-clock time (Unix ns), so drivers on
    /// several hosts share one time zero; default: at once.
    #[arg(long)]
    start_at_unix_ns: Option<u64>,
    /// Record every operation into the dump (needs `--dump`).
    #[arg(long)]
    history: bool,
    /// Time-series window.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    window: Duration,
    /// Where to write `summary.yaml`, `timeseries.csv` and `latency.hgrm`.
    #[arg(long)]
    out: PathBuf,
    /// Also write every measurement, histograms whole, to this file (what
    /// the harness merges from drivers on several hosts).
    #[arg(long)]
    dump: Option<PathBuf>,
}

fn parse_share(s: &str) -> Result<(u32, u32), String> {
    let err = || format!("{s:?}: expected K/D with K < D, e.g. 0/2");
    let (k, d) = s.split_once('/').ok_or_else(err)?;
    let (k, d): (u32, u32) = (k.parse().map_err(|_| err())?, d.parse().map_err(|_| err())?);
    if k >= d {
        return Err(err());
    }
    Ok((k, d))
}

struct Drive(DriveArgs, WorkloadSpec);

impl ProtocolVisitor for Drive {
    type Output = anyhow::Result<()>;
    fn visit<P: Protocol>(self) -> anyhow::Result<()> {
        let Drive(args, spec) = self;
        let config: P::Config = crate::experiment::schema::protocol_config_text::<P>(&args.config)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        let out = runtime.block_on(run_driver::<P>(&args, &spec, &config))?;
        write_outputs(&args, &out)
    }
}

/// The address to bind: the nodes' address family, loopback if they are.
fn bind_address(nodes: &[SocketAddr]) -> SocketAddr {
    match nodes.first() {
        Some(a) if a.is_ipv6() => SocketAddr::from(([0u16; 8], 0)),
        Some(a) if !a.ip().is_loopback() => SocketAddr::from(([0, 0, 0, 0], 0)),
        _ => SocketAddr::from(([127, 0, 0, 1], 0)),
    }
}

async fn run_driver<P: Protocol>(
    args: &DriveArgs,
    spec: &WorkloadSpec,
    config: &P::Config,
) -> anyhow::Result<DriverOutput> {
    let me = PeerIdentity::Driver(args.driver);
    let dir = args
        .cluster_dir
        .as_ref()
        .context("--cluster-dir: required for quorumlab protocols")?;
    let identity =
        Identity::load(dir, me).with_context(|| format!("loading the certificate of {me}"))?;
    let (endpoint, inbox) = Endpoint::<Wire<P::Message>>::bind(
        bind_address(&args.nodes),
        &identity,
        crate::node::cli::node_endpoint_config(),
    )
    .context("binding the driver endpoint")?;
    for (i, addr) in args.nodes.iter().enumerate() {
        endpoint.add_peer(PeerIdentity::Node(i as u32), *addr);
    }
    let size = u32::try_from(args.nodes.len()).context("too many nodes")?;
    for i in 0..size {
        endpoint
            .wait_connected(PeerIdentity::Node(i), Duration::from_secs(2))
            .await;
    }
    if let Some(at) = args.start_at_unix_ns {
        let now = crate::run::inject::unix_ns();
        let wait = u128::from(at).saturating_sub(now);
        if wait > 60_000_000_000 {
            bail!(
                "--start-at-unix-ns is {} s away; is the clock right?",
                wait / 1_000_000_000
            );
        }
        tokio::time::sleep(Duration::from_nanos(wait as u64)).await;
    }
    let out = drive::<P>(
        spec,
        &Cluster::new(size),
        config,
        endpoint.clone(),
        inbox,
        DriverConfig {
            driver: args.driver,
            window: args.window,
            record_history: args.history,
            reach: None,
            share: args.share,
        },
    )
    .await;
    endpoint.shutdown(Duration::from_millis(200)).await;
    Ok(out)
}

fn write_outputs(args: &DriveArgs, out: &DriverOutput) -> anyhow::Result<()> {
    let dir = &args.out;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if let Some(path) = &args.dump {
        std::fs::write(path, workloads::dump::encode(out))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let s = out.recorder.summary();
    let summary = format!(
        "achieved_ops_per_s: {:.1}\ncompleted: {}\nerrors: {}\ntimeouts: {}\np50_us: {}\np90_us: {}\np99_us: {}\np999_us: {}\nmax_us: {}\nservice_p50_us: {}\nservice_p99_us: {}\nissued: {}\nbacklogged: {}\ndriver_cpu_percent: {:.1}\nstart_unix_ns: {}\n",
        s.achieved_ops_per_s,
        s.completed,
        s.errors,
        s.timeouts,
        s.p50_us,
        s.p90_us,
        s.p99_us,
        s.p999_us,
        s.max_us,
        s.service_p50_us,
        s.service_p99_us,
        out.issued,
        out.backlogged,
        out.cpu_utilisation * 100.0,
        out.start_unix_ns
    );
    std::fs::write(dir.join("summary.yaml"), summary).context("writing summary.yaml")?;
    std::fs::write(dir.join("latency.hgrm"), out.recorder.hgrm())
        .context("writing latency.hgrm")?;
    let mut w =
        csv::Writer::from_path(dir.join("timeseries.csv")).context("writing timeseries.csv")?;
    w.write_record(workloads::recorder::WindowRow::CSV_HEADER)?;
    for r in out.recorder.timeseries() {
        w.write_record(r.csv_fields().map(|v| v.to_string()))?;
    }
    w.flush()?;
    println!(
        "{:.0} ops/s, p50 {} us, p99 {} us, {} errors, {} timeouts",
        s.achieved_ops_per_s, s.p50_us, s.p99_us, s.errors, s.timeouts
    );
    Ok(())
}

/// Drives a running etcd cluster.
fn drive_etcd_cluster(args: DriveArgs, spec: WorkloadSpec) -> anyhow::Result<()> {
    if spec.cas_ratio > 0.0 {
        bail!(
            "{}: the etcd driver issues gets and puts only; use cas_ratio: 0",
            args.workload.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let cfg = DriverConfig {
        driver: args.driver,
        window: args.window,
        record_history: args.history,
        reach: None,
        share: args.share,
    };
    let out = runtime.block_on(drive_etcd(&spec, &args.nodes, cfg));
    write_outputs(&args, &out)
}

/// Runs `qlab drive`.
pub fn run(args: DriveArgs) -> anyhow::Result<()> {
    let target: Target = args
        .protocol
        .parse()
        .map_err(anyhow::Error::msg)
        .context("--protocol")?;
    if args.nodes.is_empty() {
        bail!("--nodes: give at least one node address");
    }
    if args.history && args.dump.is_none() {
        bail!("--history records into the dump: give --dump FILE too");
    }
    let text = std::fs::read_to_string(&args.workload)
        .with_context(|| format!("reading {}", args.workload.display()))?;
    let spec: WorkloadSpec = serde_yaml::from_str(&text)
        .with_context(|| format!("{}: not a workload", args.workload.display()))?;
    spec.validate()
        .with_context(|| args.workload.display().to_string())?;
    match target {
        Target::Native(kind) => kind.visit(Drive(args, spec)),
        Target::Etcd => drive_etcd_cluster(args, spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_k_of_d() {
        assert_eq!(parse_share("1/3"), Ok((1, 3)));
        assert!(parse_share("3/3").is_err());
        assert!(parse_share("x").is_err());
        assert!(parse_share("0/0").is_err());
    }
}
