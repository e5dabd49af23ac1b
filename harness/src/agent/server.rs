//! `qlab agent`: the long-running process on a testbed host that starts,
//! kills, pauses and restarts that host's `qlab node` processes for the
//! harness, over an authenticated channel (QUIC with mutual TLS from the
//! cluster CA; only the `control` identity is obeyed).
//!
//! Ansible starts it once per deployment; experiments then need no SSH
//! round trip per fault, so a crash lands within a millisecond of its time
//! on the timeline instead of the second or so an SSH command takes.

use super::proto::{
    safe_component, AgentHello, AgentMsg, AgentReply, AgentRequest, DriverLaunch, DriverState,
    NodeLaunch,
};
use crate::local::process::Supervised;
use crate::node::cli::node_endpoint_config;
use crate::provenance::{sha256_file, HostFacts};
use anyhow::Context;
use clap::Args;
use net::{Endpoint, Identity, PeerIdentity};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `qlab agent`.
#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// Address (IP:port) the agent listens on for the harness.
    #[arg(long)]
    pub listen: SocketAddr,
    /// This agent's number (its certificate is `agent-N`).
    #[arg(long)]
    pub id: u32,
    /// The host's qlab folder: `cluster/` holds the certificates, `work/`
    /// receives the points' node logs, events and data, `shaping` says how
    /// links are shaped.
    #[arg(long)]
    pub root: PathBuf,
    /// Write the agent's pid here once it listens (removed when it stops).
    #[arg(long)]
    pub pidfile: Option<PathBuf>,
}

/// A replica this agent started.
struct NodeProc {
    proc: Supervised,
    args: Vec<String>,
    log: PathBuf,
}

/// The agent's state.
struct Agent {
    root: PathBuf,
    exe: PathBuf,
    id: u32,
    nodes: BTreeMap<u32, NodeProc>,
    drivers: BTreeMap<u32, NodeProc>,
}

/// Most bytes one `Fetch` or `ReadAt` returns.
const READ_LIMIT: u64 = 8 << 20;

impl Agent {
    fn point_dir(&self, point: &str) -> anyhow::Result<PathBuf> {
        if !safe_component(point) {
            anyhow::bail!("bad point folder name {point:?}");
        }
        Ok(self.root.join("work").join(point))
    }

    async fn stop_all(&mut self) {
        let drivers = std::mem::take(&mut self.drivers);
        for (_, mut n) in std::mem::take(&mut self.nodes).into_iter().chain(drivers) {
            n.proc.stop(Duration::from_secs(2)).await;
        }
    }

    fn hello(&self) -> anyhow::Result<AgentReply> {
        let shaping = std::fs::read_to_string(self.root.join("shaping"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "none".into());
        Ok(AgentReply::Hello(AgentHello {
            agent: self.id,
            version: env!("CARGO_PKG_VERSION").to_string(),
            binary_sha256: sha256_file(&self.exe)?,
            facts_yaml: serde_yaml::to_string(&HostFacts::local("node"))
                .context("encoding the host's facts")?,
            unix_ns: u64::try_from(crate::run::inject::unix_ns()).unwrap_or(u64::MAX),
            shaping,
        }))
    }

    fn start(&mut self, l: NodeLaunch) -> anyhow::Result<AgentReply> {
        let dir = self.point_dir(&l.point)?;
        if l.peers.len() <= l.id as usize {
            anyhow::bail!("node {} has no address among {} peers", l.id, l.peers.len());
        }
        if self
            .nodes
            .get_mut(&l.id)
            .is_some_and(|n| !n.proc.has_exited())
        {
            anyhow::bail!("node {} is already running here", l.id);
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let id = l.id;
        let peers = l
            .peers
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let path = |name: String| dir.join(name).display().to_string();
        let mut args: Vec<String> = vec![
            "node".into(),
            "--protocol".into(),
            l.protocol,
            "--id".into(),
            id.to_string(),
            "--peers".into(),
            peers,
            "--cluster-dir".into(),
            self.root.join("cluster").display().to_string(),
            "--durability".into(),
            l.durability,
            "--data-dir".into(),
            path(format!("node-{id}.data")),
            "--events".into(),
            path(format!("node-{id}.events.csv")),
            "--seed".into(),
            l.seed.to_string(),
            "--config".into(),
            l.config,
        ];
        if let Some(latency) = l.link_latency {
            args.extend(["--link-latency".into(), latency]);
        }
        let log = dir.join(format!("node-{id}.log"));
        let proc = Supervised::spawn(&format!("node-{id}"), &self.exe, &args, &log)?;
        self.nodes.insert(id, NodeProc { proc, args, log });
        Ok(AgentReply::Done)
    }

    fn drive(&mut self, l: DriverLaunch) -> anyhow::Result<AgentReply> {
        let dir = self.point_dir(&l.point)?;
        let n = l.driver;
        if self
            .drivers
            .get_mut(&n)
            .is_some_and(|d| !d.proc.has_exited())
        {
            anyhow::bail!("driver {n} is already running here");
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let workload = dir.join(format!("driver-{n}.workload.yaml"));
        std::fs::write(&workload, &l.workload_yaml)
            .with_context(|| format!("writing {}", workload.display()))?;
        let path = |name: String| dir.join(name).display().to_string();
        let nodes = l
            .nodes
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let mut args: Vec<String> = vec![
            "drive".into(),
            "--protocol".into(),
            l.protocol,
            "--nodes".into(),
            nodes,
            "--cluster-dir".into(),
            self.root.join("cluster").display().to_string(),
            "--workload".into(),
            workload.display().to_string(),
            "--config".into(),
            l.config,
            "--driver".into(),
            n.to_string(),
            "--share".into(),
            format!("{}/{}", l.share.0, l.share.1),
            "--start-at-unix-ns".into(),
            l.start_unix_ns.to_string(),
            "--window".into(),
            format!("{}ms", l.window_ms),
            "--out".into(),
            path(format!("driver-{n}")),
            "--dump".into(),
            path(format!("driver-{n}.bin")),
        ];
        if l.history {
            args.push("--history".into());
        }
        let log = dir.join(format!("driver-{n}.log"));
        let proc = Supervised::spawn(&format!("driver-{n}"), &self.exe, &args, &log)?;
        self.drivers.insert(n, NodeProc { proc, args, log });
        Ok(AgentReply::Done)
    }

    fn driver_state(&mut self, n: u32) -> anyhow::Result<AgentReply> {
        let d = self
            .drivers
            .get_mut(&n)
            .with_context(|| format!("driver {n} was not started by this agent"))?;
        let state = match d.proc.exit_status() {
            None => DriverState::Running,
            Some(s) if s.success() => DriverState::Finished,
            Some(s) => {
                let log = std::fs::read(&d.log).unwrap_or_default();
                let tail = String::from_utf8_lossy(&log[log.len().saturating_sub(2000)..]);
                DriverState::Failed(format!("{s}; the end of its log:\n{tail}"))
            }
        };
        Ok(AgentReply::Driver(state))
    }

    fn node(&mut self, id: u32) -> anyhow::Result<&mut NodeProc> {
        self.nodes
            .get_mut(&id)
            .with_context(|| format!("node {id} was not started by this agent"))
    }

    async fn restart(&mut self, id: u32) -> anyhow::Result<AgentReply> {
        let exe = self.exe.clone();
        let n = self.node(id)?;
        for _ in 0..100 {
            if n.proc.has_exited() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if !n.proc.has_exited() {
            anyhow::bail!("node {id} is still running");
        }
        n.proc = Supervised::spawn(&format!("node-{id}"), &exe, &n.args, &n.log)?;
        Ok(AgentReply::Done)
    }

    /// Reads up to `max` bytes of a point's file: from `offset`, or the
    /// last `max` bytes when `offset` is `None`.
    fn read(
        &self,
        point: &str,
        file: &str,
        offset: Option<u64>,
        max: u64,
    ) -> anyhow::Result<AgentReply> {
        if !safe_component(file) {
            anyhow::bail!("bad file name {file:?}");
        }
        let path = self.point_dir(point)?.join(file);
        let mut f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AgentReply::File(Vec::new()))
            }
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let max = max.min(READ_LIMIT);
        let start = match offset {
            Some(o) => o.min(len),
            None => len.saturating_sub(max),
        };
        if start > 0 {
            f.seek(SeekFrom::Start(start))
                .with_context(|| format!("seeking in {}", path.display()))?;
        }
        let mut bytes = Vec::new();
        f.take(max)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(AgentReply::File(bytes))
    }

    async fn handle(&mut self, req: AgentRequest) -> anyhow::Result<AgentReply> {
        match req {
            AgentRequest::Hello => self.hello(),
            AgentRequest::Prepare { point } => {
                let dir = self.point_dir(&point)?;
                self.stop_all().await;
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)
                        .with_context(|| format!("removing {}", dir.display()))?;
                }
                Ok(AgentReply::Done)
            }
            AgentRequest::Start(l) => self.start(l),
            AgentRequest::Crash(id) => {
                self.node(id)?.proc.kill();
                Ok(AgentReply::Done)
            }
            AgentRequest::Restart(id) => self.restart(id).await,
            AgentRequest::Signal { node, signal } => {
                if signal != libc::SIGSTOP && signal != libc::SIGCONT {
                    anyhow::bail!("signal {signal} is not SIGSTOP or SIGCONT");
                }
                self.node(node)?.proc.signal(signal)?;
                Ok(AgentReply::Done)
            }
            AgentRequest::Exited => Ok(AgentReply::Exited(
                self.nodes
                    .values_mut()
                    .filter_map(|n| n.proc.has_exited().then(|| n.proc.name().to_string()))
                    .collect(),
            )),
            AgentRequest::StopAll => {
                self.stop_all().await;
                Ok(AgentReply::Done)
            }
            AgentRequest::Fetch {
                point,
                file,
                max_bytes,
            } => self.read(&point, &file, None, max_bytes),
            AgentRequest::ReadAt {
                point,
                file,
                offset,
                max_bytes,
            } => self.read(&point, &file, Some(offset), max_bytes),
            AgentRequest::Drive(l) => self.drive(l),
            AgentRequest::DriverState(n) => self.driver_state(n),
        }
    }
}

/// Raises the open-file limit to its hard maximum (QUIC endpoints and
/// write-ahead logs of many nodes need more than the usual 1024).
fn raise_nofile_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

pub(crate) async fn serve(args: AgentArgs) -> anyhow::Result<()> {
    let cluster = args.root.join("cluster");
    let me = PeerIdentity::Agent(args.id);
    let identity = Identity::load(&cluster, me)
        .with_context(|| format!("loading the certificate of {me} from {}", cluster.display()))?;
    let (endpoint, mut inbox) =
        Endpoint::<AgentMsg>::bind(args.listen, &identity, node_endpoint_config())
            .with_context(|| format!("listening on {}", args.listen))?;
    eprintln!("qlab agent {me} listening on {}", args.listen);
    if let Some(p) = &args.pidfile {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let mut agent = Agent {
        exe: std::env::current_exe().context("locating the qlab binary")?,
        root: args.root.clone(),
        id: args.id,
        nodes: BTreeMap::new(),
        drivers: BTreeMap::new(),
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    loop {
        let (from, msg) = tokio::select! {
            m = inbox.recv() => match m { Some(m) => m, None => break },
            _ = term.recv() => break,
        };
        let AgentMsg::Request { id, body } = msg else {
            continue;
        };
        if from != PeerIdentity::Control {
            eprintln!(
                "ignoring a request from {from}: only the harness (control) may command an agent"
            );
            continue;
        }
        let reply = agent.handle(body).await.map_err(|e| format!("{e:#}"));
        if let Err(e) = endpoint
            .send(from, &AgentMsg::Reply { id, body: reply })
            .await
        {
            eprintln!("replying to {from}: {e}");
        }
    }
    agent.stop_all().await;
    endpoint.shutdown(Duration::from_millis(200)).await;
    if let Some(p) = &args.pidfile {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// Runs `qlab agent` until SIGTERM; stops its nodes on the way out.
pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    raise_nofile_limit();
    if !args.root.is_dir() {
        anyhow::bail!("--root {} is not a folder", args.root.display());
    }
    let root: &Path = &args.root;
    std::fs::create_dir_all(root.join("work"))
        .with_context(|| format!("creating {}", root.join("work").display()))?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(serve(args))
}
