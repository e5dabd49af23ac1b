//! `qlab sim`: simulator runs from the command line.

use anyhow::{bail, Context};
use clap::Args;
use protocols::registry::{ProtocolKind, ProtocolVisitor};
use protocols::sim::{SimConfig, Simulation};
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
            cfg.count_bytes = args.traffic;
            let report = Simulation::<P>::new(cfg, config.clone()).run();
            sent += report.stats.messages_sent;
            client_msgs += report.stats.client_messages;
            bytes += report.stats.bytes_sent;
            simulated += Duration::from_nanos(report.stats.end_time.as_nanos());
            ops += report.stats.ops_completed;
            messages += report.stats.messages_delivered;
            judged += report.stats.reads_judged;
            stale += report.stats.stale_reads;
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
