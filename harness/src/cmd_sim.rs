//! `qlab sim`: simulator runs from the command line.

use anyhow::{bail, Context};
use clap::Args;
use protocols::registry::{ProtocolKind, ProtocolVisitor};
use protocols::sim::{CpuModel, Measured, SimConfig, Simulation};
use protocols::Protocol;
use std::time::{Duration, Instant};

/// Arguments of `qlab sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Protocol to simulate (see `qlab sim --help` for names).
    #[arg(long, short)]
    protocol: String,
    /// Number of replicas.
    #[arg(long, short, default_value_t = 5)]
    nodes: u32,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Number of seeds to run.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// Run without faults (latency only).
    #[arg(long)]
    calm: bool,
    /// Length of the fault phase in simulated seconds (default: drawn per seed).
    #[arg(long)]
    fault_seconds: Option<u64>,
    /// Stop at the first failing seed.
    #[arg(long)]
    fail_fast: bool,
    /// Protocol tunables as YAML (an experiment's `protocol_config`).
    #[arg(long, default_value = "")]
    config: String,
    /// Closed-loop clients (default: the simulator's own choice).
    #[arg(long)]
    clients: Option<u32>,
    /// Fraction of operations that are reads, in [0, 1] (default: the
    /// simulator's own choice, drawn per seed unless `--calm`).
    #[arg(long)]
    read_ratio: Option<f64>,
    /// Count the encoded bytes of every replica message and print messages
    /// and bytes per completed operation (and client requests and replies
    /// per operation).
    #[arg(long)]
    traffic: bool,
    /// Most think time between a client's operations, in milliseconds
    /// (default: the simulator's own, 5 ms); 0 makes clients closed-loop
    /// with no pause, for throughput.
    #[arg(long)]
    think_ms: Option<u64>,
    /// Keys the clients draw from (default: the simulator's own, 8, which
    /// makes the linearizability check sharp but slow with many clients;
    /// use hundreds for throughput runs with many clients).
    #[arg(long)]
    keys: Option<u64>,
    /// Livelock guard: a run that handles more events than this fails
    /// (default: the simulator's own, 20 million). Large clusters of
    /// all-to-all protocols need more (PBFT at n = 100: about 10 million
    /// events per simulated second).
    #[arg(long)]
    max_events: Option<u64>,
    /// Model each replica as one core that spends this many microseconds
    /// on every input it handles (enables the CPU model; see also
    /// `--cpu-per-message-us` and `--cpu-per-kib-us`). Without a CPU
    /// model processing is free and throughput reflects only delays.
    #[arg(long)]
    cpu_per_input_us: Option<f64>,
    /// With the CPU model: microseconds per message a replica sends.
    #[arg(long, default_value_t = 0.0)]
    cpu_per_message_us: f64,
    /// With the CPU model: microseconds per KiB a replica sends to
    /// replicas (encoded size).
    #[arg(long, default_value_t = 0.0)]
    cpu_per_kib_us: f64,
    /// Append one CSV row (protocol, nodes, config, seeds, simulated
    /// throughput and latency, messages and bytes per operation) to this
    /// file, writing the header first if the file is new.
    #[arg(long)]
    summary_csv: Option<std::path::PathBuf>,
}

impl SimArgs {
    /// The CPU model the flags describe, if any.
    fn cpu(&self) -> anyhow::Result<Option<CpuModel>> {
        let us = |name: &str, v: f64| -> anyhow::Result<Duration> {
            if !(v.is_finite() && v >= 0.0) {
                bail!("--{name}: {v} is not a non-negative number of microseconds");
            }
            Ok(Duration::from_secs_f64(v / 1e6))
        };
        let Some(per_input) = self.cpu_per_input_us else {
            if self.cpu_per_message_us != 0.0 || self.cpu_per_kib_us != 0.0 {
                bail!("--cpu-per-message-us and --cpu-per-kib-us need --cpu-per-input-us (which enables the CPU model)");
            }
            return Ok(None);
        };
        Ok(Some(CpuModel {
            per_input: us("cpu-per-input-us", per_input)?,
            per_message: us("cpu-per-message-us", self.cpu_per_message_us)?,
            per_kib: us("cpu-per-kib-us", self.cpu_per_kib_us)?,
        }))
    }
}

struct RunSeeds<'a>(&'a SimArgs);

impl ProtocolVisitor for RunSeeds<'_> {
    type Output = anyhow::Result<()>;

    fn visit<P: Protocol>(self) -> anyhow::Result<()> {
        let args = self.0;
        let started = Instant::now();
        let mut failed = Vec::new();
        let mut simulated = Duration::ZERO;
        let mut ops = 0u64;
        let mut messages = 0u64;
        let (mut sent, mut bytes, mut client_msgs) = (0u64, 0u64, 0u64);
        let config: P::Config = crate::experiment::schema::protocol_config_text::<P>(&args.config)?;
        let (mut judged, mut stale) = (0u64, 0u64);
        let cpu = args.cpu()?;
        let mut load = LoadFigures::default();
        for seed in args.first_seed..args.first_seed.saturating_add(args.seeds) {
            let mut cfg = if args.calm {
                SimConfig::calm(seed, args.nodes)
            } else {
                SimConfig::randomized(seed, args.nodes)
            };
            if let Some(s) = args.fault_seconds {
                cfg.fault_phase = Duration::from_secs(s);
            }
            if let Some(c) = args.clients {
                cfg.clients = c;
            }
            if let Some(r) = args.read_ratio {
                cfg.read_ratio = r;
            }
            cfg.count_bytes = args.traffic || args.summary_csv.is_some();
            cfg.cpu = cpu;
            if let Some(m) = args.max_events {
                cfg.max_events = m;
            }
            if let Some(k) = args.keys {
                cfg.keys = k.max(1);
            }
            if let Some(t) = args.think_ms {
                cfg.think_time_max = Duration::from_millis(t);
            }
            let report = Simulation::<P>::new(cfg, config.clone()).run();
            sent += report.stats.messages_sent;
            client_msgs += report.stats.client_messages;
            bytes += report.stats.bytes_sent;
            simulated += Duration::from_nanos(report.stats.end_time.as_nanos());
            ops += report.stats.ops_completed;
            messages += report.stats.messages_delivered;
            judged += report.stats.reads_judged;
            stale += report.stats.stale_reads;
            load.add(&report.measured);
            if !report.passed() {
                // Full reports for the first few failures; seeds for the rest.
                if failed.len() < 3 {
                    eprintln!("{report}");
                    eprintln!(
                        "reproduce: qlab sim -p {} -n {} --first-seed {seed} --seeds 1",
                        P::NAME,
                        args.nodes
                    );
                }
                failed.push(seed);
                if args.fail_fast {
                    break;
                }
            }
        }
        let wall = started.elapsed().as_secs_f64().max(1e-9);
        println!(
            "{}: {} seed(s), {} failed; {:.0} simulated s in {:.2} wall s ({:.0}x); {} ops, {} messages delivered",
            P::NAME,
            args.seeds,
            failed.len(),
            simulated.as_secs_f64(),
            wall,
            simulated.as_secs_f64() / wall,
            ops,
            messages
        );
        if args.traffic && ops > 0 {
            println!(
                "{}: {:.1} replica messages and {:.0} bytes per completed operation ({} nodes); {:.1} client requests and replies",
                P::NAME,
                sent as f64 / ops as f64,
                bytes as f64 / ops as f64,
                args.nodes,
                client_msgs as f64 / ops as f64
            );
        }
        if load.ops > 0 {
            println!(
                "{}: {:.0} ops/s simulated, latency p50 {:.2} ms p99 {:.2} ms ({} ops in the measured windows{})",
                P::NAME,
                load.ops_per_s(),
                load.percentile_ms(0.5),
                load.percentile_ms(0.99),
                load.ops,
                if cpu.is_some() { ", CPU model on" } else { ", processing free" },
            );
        }
        if let Some(path) = &args.summary_csv {
            let per_op = |v: u64| {
                if ops > 0 {
                    format!("{:.2}", v as f64 / ops as f64)
                } else {
                    String::new()
                }
            };
            append_summary(
                path,
                &[
                    P::NAME.to_string(),
                    args.nodes.to_string(),
                    args.config.trim().replace('\n', "; "),
                    args.seeds.to_string(),
                    failed.len().to_string(),
                    format!("{:.0}", load.ops_per_s()),
                    format!("{:.0}", load.percentile_ms(0.5) * 1000.0),
                    format!("{:.0}", load.percentile_ms(0.99) * 1000.0),
                    per_op(sent),
                    per_op(bytes),
                    cpu.is_some().to_string(),
                ],
            )?;
        }
        if judged > 0 {
            // Version-vector stores: counted always, failures only where
            // the configuration promises fresh reads.
            println!("{}: {stale} of {judged} reads stale", P::NAME);
        }
        if !failed.is_empty() {
            bail!("{} seed(s) failed: {:?}", failed.len(), failed);
        }
        Ok(())
    }
}

/// Throughput and latency over every seed's measured window.
#[derive(Default)]
struct LoadFigures {
    ops: u64,
    window_s: f64,
    latencies_ns: Vec<u64>,
}

impl LoadFigures {
    fn add(&mut self, m: &Measured) {
        self.ops += m.ops;
        self.window_s += m.window.as_secs_f64();
        self.latencies_ns.extend_from_slice(&m.latencies_ns);
    }

    /// Operations per simulated second, over all seeds' windows.
    fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.window_s.max(1e-9)
    }

    /// Nearest-rank percentile of the pooled latencies, in milliseconds.
    fn percentile_ms(&mut self, q: f64) -> f64 {
        if self.latencies_ns.is_empty() {
            return f64::NAN;
        }
        self.latencies_ns.sort_unstable();
        let rank = ((q * self.latencies_ns.len() as f64).ceil() as usize)
            .clamp(1, self.latencies_ns.len());
        self.latencies_ns[rank - 1] as f64 / 1e6
    }
}

/// Columns of `qlab sim --summary-csv`.
const SUMMARY_COLUMNS: &[&str] = &[
    "protocol",
    "nodes",
    "protocol_config",
    "seeds",
    "failed_seeds",
    "sim_ops_per_s",
    "sim_p50_us",
    "sim_p99_us",
    "replica_msgs_per_op",
    "replica_bytes_per_op",
    "cpu_model",
];

fn append_summary(path: &std::path::Path, row: &[String]) -> anyhow::Result<()> {
    let new = !path.exists();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut w = csv::Writer::from_writer(file);
    if new {
        w.write_record(SUMMARY_COLUMNS)?;
    }
    w.write_record(row)?;
    w.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// Runs `qlab sim`.
pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let kind: ProtocolKind = args.protocol.parse().context("choosing the protocol")?;
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    if args.read_ratio.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
        bail!("--read-ratio must be in [0, 1]");
    }
    kind.visit(RunSeeds(&args))
}
