//! `qlab node`: one replica process, started by a cluster backend.

use super::host::{Host, NodeLink};
use super::storage::{Durability, Storage};
use anyhow::{bail, Context};
use clap::Args;
use net::{Endpoint, EndpointConfig, Identity, Inbox, Latency, LinkParams, PeerIdentity};
use protocols::core::{Cluster, Protocol};
use protocols::registry::{ProtocolKind, ProtocolVisitor};
use protocols::wire::{LinkShape, Traffic, Wire};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `qlab node`.
#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// Protocol to run.
    #[arg(long)]
    pub protocol: String,
    /// This replica's id (0-based).
    #[arg(long)]
    pub id: u32,
    /// Every replica's address, comma-separated, in id order.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<SocketAddr>,
    /// Folder with the cluster CA certificate and this node's certificate.
    #[arg(long)]
    pub cluster_dir: PathBuf,
    /// Where persisted state goes: memory, nosync or fsync.
    #[arg(long, default_value = "memory")]
    pub durability: Durability,
    /// Folder for the write-ahead log.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// File that node events are appended to (CSV: unix_ns,node,kind,detail).
    #[arg(long)]
    pub events: PathBuf,
    /// Seed of the node's randomness (election timeouts).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Protocol tunables as YAML (an experiment's `protocol_config`).
    #[arg(long, default_value = "")]
    pub config: String,
    /// A delay drawn for every message to another replica from this
    /// distribution (`qlab pbs --latency` text form), for the node's life.
    #[arg(long, value_parser = parse_latency)]
    pub link_latency: Option<Latency>,
}

fn parse_latency(s: &str) -> Result<Latency, String> {
    Latency::parse(s).map_err(|e| e.to_string())
}

/// [`NodeLink`] over a QUIC endpoint. Node-to-node sends never wait: a full
/// queue (a dead or slow peer) drops the message, which the protocol
/// retransmits, so one bad peer cannot stall a replica.
struct QuicLink<M> {
    endpoint: Endpoint<Wire<M>>,
    inbox: Inbox<Wire<M>>,
    me: PeerIdentity,
    peers: Vec<PeerIdentity>,
    /// Every replica but this one: the targets of a broadcast.
    others: Vec<PeerIdentity>,
    /// The run-wide latency of replica links, kept under every shape.
    latency: Option<Arc<Latency>>,
}

impl<M> NodeLink<M> for QuicLink<M>
where
    M: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    async fn recv(&mut self) -> Option<(PeerIdentity, Wire<M>)> {
        self.inbox.recv().await
    }

    fn try_recv(&mut self) -> Option<(PeerIdentity, Wire<M>)> {
        self.inbox.try_recv().ok()
    }

    async fn send(&mut self, to: PeerIdentity, msg: Wire<M>) {
        let _ = self.endpoint.try_send(to, &msg);
    }

    async fn broadcast(&mut self, msg: Wire<M>) {
        // Encoded once for all peers (the profile showed per-peer encoding
        // and its allocations on the leader's hot path).
        let _ = self.endpoint.try_broadcast(&self.others, &msg);
    }

    fn shape(&self, shape: &LinkShape) -> Result<(), String> {
        if !(0.0..=1.0).contains(&shape.loss) {
            return Err(format!("loss {} is not a probability", shape.loss));
        }
        let params = LinkParams {
            delay: Duration::from_micros(shape.delay_us),
            jitter: Duration::from_micros(shape.jitter_us),
            loss: shape.loss,
            blocked: shape.blocked,
            latency: self.latency.clone(),
            ..LinkParams::default()
        };
        let targets: Vec<PeerIdentity> = if shape.to.is_empty() {
            self.peers
                .iter()
                .copied()
                .filter(|&p| p != self.me)
                .collect()
        } else {
            shape.to.iter().map(|&n| PeerIdentity::Node(n)).collect()
        };
        for t in targets {
            self.endpoint.shaper().set_link(self.me, t, params.clone());
        }
        Ok(())
    }

    fn traffic(&self) -> Traffic {
        let mut t = Traffic::default();
        for (peer, s) in self.endpoint.stats().peers {
            match peer {
                PeerIdentity::Node(_) => {
                    t.replica_msgs += s.msgs_sent;
                    t.replica_bytes += s.bytes_sent;
                }
                PeerIdentity::Client(_) | PeerIdentity::Driver(_) => {
                    t.client_msgs += s.msgs_sent;
                    t.client_bytes += s.bytes_sent;
                }
                PeerIdentity::Control | PeerIdentity::Agent(_) => {}
            }
        }
        t
    }
}

/// Transport settings of a replica. A peer that was SIGKILLed and restarted
/// cannot tear down the QUIC connections of its previous life, so its
/// peers notice only through the idle timeout: keep it short (with frequent
/// keep-alives) so a restarted node is reconnected within about a second
/// instead of ten.
pub fn node_endpoint_config() -> EndpointConfig {
    EndpointConfig {
        idle_timeout: Duration::from_millis(1_000),
        keep_alive: Duration::from_millis(200),
        reconnect_max: Duration::from_millis(250),
        // Loopback and LAN testbeds: resend a lost handshake packet within
        // ~100 ms, not QUIC's default of ~1 s (a restarted node is dialled
        // a few ms before it listens).
        initial_rtt: Duration::from_millis(25),
        ..EndpointConfig::default()
    }
}

struct RunNode(NodeArgs);

impl ProtocolVisitor for RunNode {
    type Output = anyhow::Result<()>;

    fn visit<P: Protocol>(self) -> anyhow::Result<()> {
        let args = self.0;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        runtime.block_on(run_node::<P>(args))
    }
}

async fn run_node<P: Protocol>(args: NodeArgs) -> anyhow::Result<()> {
    let size = u32::try_from(args.peers.len()).context("too many peers")?;
    if args.id >= size {
        bail!("--id {} is not below the number of peers ({size})", args.id);
    }
    let me = PeerIdentity::Node(args.id);
    let identity = Identity::load(&args.cluster_dir, me).with_context(|| {
        format!(
            "loading the certificate of {me} from {}",
            args.cluster_dir.display()
        )
    })?;
    let listen = args.peers[args.id as usize];
    let (endpoint, inbox) =
        Endpoint::<Wire<P::Message>>::bind(listen, &identity, node_endpoint_config())
            .with_context(|| format!("listening on {listen}"))?;
    let peers: Vec<PeerIdentity> = (0..size).map(PeerIdentity::Node).collect();
    let latency = args.link_latency.clone().map(Arc::new);
    for (i, addr) in args.peers.iter().enumerate() {
        if i as u32 != args.id {
            let peer = PeerIdentity::Node(i as u32);
            endpoint.add_peer(peer, *addr);
            if latency.is_some() {
                let params = LinkParams {
                    latency: latency.clone(),
                    ..LinkParams::default()
                };
                endpoint.shaper().set_link(me, peer, params);
            }
        }
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let (storage, recovered) =
        Storage::open(args.durability, &args.data_dir).context("opening storage")?;
    let mut records = Vec::with_capacity(recovered.records.len());
    for (i, bytes) in recovered.records.iter().enumerate() {
        match postcard::from_bytes::<P::Record>(bytes) {
            Ok(r) => records.push(r),
            Err(e) => {
                eprintln!(
                    "record {i} of the log does not decode ({e}); ignoring it and everything after"
                );
                break;
            }
        }
    }
    let events = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.events)
        .with_context(|| format!("opening {}", args.events.display()))?;
    if recovered.truncated_bytes > 0 {
        eprintln!(
            "write-ahead log: cut {} damaged bytes ({})",
            recovered.truncated_bytes,
            recovered.truncation_reason.clone().unwrap_or_default()
        );
    }
    let config: P::Config = crate::experiment::schema::protocol_config_text::<P>(&args.config)?;
    let cluster = Cluster::new(size);
    let rng = ChaCha8Rng::seed_from_u64(args.seed ^ u64::from(args.id).wrapping_mul(0x9e37_79b9));
    let host = Host::<P>::new(
        args.id,
        &cluster,
        &config,
        records,
        storage,
        rng,
        Box::new(std::io::BufWriter::new(events)),
    );
    let others = peers.iter().copied().filter(|&p| p != me).collect();
    let mut link = QuicLink {
        endpoint: endpoint.clone(),
        inbox,
        me,
        peers,
        others,
        latency,
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = host.run(&mut link) => r?,
        _ = term.recv() => {}
    }
    endpoint.shutdown(Duration::from_millis(200)).await;
    Ok(())
}

/// Runs `qlab node`.
pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    let kind: ProtocolKind = args.protocol.parse().context("--protocol")?;
    kind.visit(RunNode(args))
}
