//! `qlab drive`: a stand-alone load driver against running nodes (what a
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
use std::path::{Path, PathBuf};
use std::time::Duration;
use workloads::driver::{drive, drive_etcd, DriverConfig, DriverOutput};
use workloads::recorder::WindowRow;
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
    /// This driver's index (its certificate is `driver-N`).
    #[arg(long, default_value_t = 0)]
    driver: u32,
    /// Time-series window.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    window: Duration,
    /// Where to write `summary.yaml`, `timeseries.csv` and `latency.hgrm`.
    #[arg(long)]
    out: PathBuf,
}

struct Drive(DriveArgs, WorkloadSpec);

impl ProtocolVisitor for Drive {
    type Output = anyhow::Result<()>;
    fn visit<P: Protocol>(self) -> anyhow::Result<()> {
        let Drive(args, spec) = self;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        runtime.block_on(async move {
            let me = PeerIdentity::Driver(args.driver);
            let dir = args
                .cluster_dir
                .as_ref()
                .context("--cluster-dir: required for quorumlab protocols")?;
            let identity = Identity::load(dir, me)
                .with_context(|| format!("loading the certificate of {me}"))?;
            let any: SocketAddr = "127.0.0.1:0".parse().context("address")?;
            let bind = if args.nodes.first().is_some_and(|a| a.is_ipv6()) {
                "[::]:0".parse().context("address")?
            } else if args.nodes.first().is_some_and(|a| !a.ip().is_loopback()) {
                "0.0.0.0:0".parse().context("address")?
            } else {
                any
            };
            let (endpoint, inbox) = Endpoint::<Wire<P::Message>>::bind(
                bind,
                &identity,
                crate::node::cli::node_endpoint_config(),
            )
            .context("binding the driver endpoint")?;
            for (i, addr) in args.nodes.iter().enumerate() {
                endpoint.add_peer(PeerIdentity::Node(i as u32), *addr);
            }
            let size = u32::try_from(args.nodes.len()).context("too many nodes")?;
            let out = drive::<P>(
                &spec,
                &Cluster::new(size),
                &P::Config::default(),
                endpoint.clone(),
                inbox,
                DriverConfig {
                    driver: args.driver,
                    window: args.window,
                    record_history: false,
                    reach: None,
                },
            )
            .await;
            endpoint.shutdown(Duration::from_millis(200)).await;
            write_output(&args.out, &out)
        })
    }
}

/// Writes what a driver measured into `out` and prints one line.
fn write_output(out_dir: &Path, out: &DriverOutput) -> anyhow::Result<()> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let s = out.recorder.summary();
    let summary = format!(
        "achieved_ops_per_s: {:.1}\ncompleted: {}\nerrors: {}\ntimeouts: {}\np50_us: {}\np90_us: {}\np99_us: {}\np999_us: {}\nmax_us: {}\nservice_p50_us: {}\nservice_p99_us: {}\nissued: {}\nbacklogged: {}\ndriver_cpu_percent: {:.1}\nstart_unix_ns: {}\n",
        s.achieved_ops_per_s, s.completed, s.errors, s.timeouts, s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.max_us,
        s.service_p50_us, s.service_p99_us, out.issued, out.backlogged, out.cpu_utilisation * 100.0, out.start_unix_ns
    );
    std::fs::write(out_dir.join("summary.yaml"), summary).context("writing summary.yaml")?;
    std::fs::write(out_dir.join("latency.hgrm"), out.recorder.hgrm())
        .context("writing latency.hgrm")?;
    let mut w =
        csv::Writer::from_path(out_dir.join("timeseries.csv")).context("writing timeseries.csv")?;
    w.write_record(WindowRow::CSV_HEADER)?;
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
        record_history: false,
        reach: None,
    };
    let out = runtime.block_on(drive_etcd(&spec, &args.nodes, cfg));
    write_output(&args.out, &out)
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
