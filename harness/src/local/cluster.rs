//! A local cluster: `qlab node` processes on 127.0.0.1 with free ports.

use super::process::Supervised;
use crate::node::storage::Durability;
use anyhow::Context;
use std::cell::RefCell;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Running replicas of one point.
pub struct LocalCluster {
    /// The processes, by node id.
    processes: Processes,
    /// Their addresses, by node id.
    pub addrs: Vec<SocketAddr>,
    /// Their event files, by node id.
    pub event_files: Vec<PathBuf>,
}

/// A point's replica processes on this machine, by id, and how each was
/// started (to restart it the same way): what the process faults act on,
/// whatever the replicas run (`qlab node`, etcd).
pub struct Processes {
    /// Behind a `RefCell` so that faults need only a shared reference;
    /// never borrowed across an `await`.
    nodes: RefCell<Vec<Supervised>>,
    commands: Vec<(PathBuf, Vec<String>, PathBuf)>,
}

impl Processes {
    /// Starts replica `names[i]` as `exe args[i]`, logging to `logs[i]`.
    pub fn spawn(
        exe: &Path,
        names: &[String],
        args: Vec<Vec<String>>,
        logs: &[PathBuf],
    ) -> anyhow::Result<Processes> {
        let mut nodes = Vec::new();
        let mut commands = Vec::new();
        for ((name, args), log) in names.iter().zip(args).zip(logs) {
            nodes.push(Supervised::spawn(name, exe, &args, log)?);
            commands.push((exe.to_path_buf(), args, log.clone()));
        }
        Ok(Processes {
            nodes: RefCell::new(nodes),
            commands,
        })
    }

    /// SIGKILLs replica `id`.
    pub fn crash(&self, id: u32) {
        if let Some(n) = self.nodes.borrow_mut().get_mut(id as usize) {
            n.kill();
        }
    }

    /// Starts replica `id` again with its original arguments (and so its
    /// data folder).
    pub fn restart(&self, id: u32) -> anyhow::Result<()> {
        let Some((exe, args, log)) = self.commands.get(id as usize) else {
            anyhow::bail!("no node {id}");
        };
        let mut nodes = self.nodes.borrow_mut();
        let Some(slot) = nodes.get_mut(id as usize) else {
            anyhow::bail!("no node {id}");
        };
        // A crash was just signalled: give the kernel a moment to reap it.
        for _ in 0..100 {
            if slot.has_exited() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if !slot.has_exited() {
            anyhow::bail!("node {id} is still running");
        }
        let name = slot.name().to_string();
        *slot = Supervised::spawn(&name, exe, args, log)?;
        Ok(())
    }

    /// Sends a signal to replica `id` (SIGSTOP / SIGCONT for pauses).
    pub fn signal(&self, id: u32, signal: i32) -> anyhow::Result<()> {
        match self.nodes.borrow().get(id as usize) {
            Some(n) => n.signal(signal),
            None => anyhow::bail!("no node {id}"),
        }
    }

    /// Stops every replica (SIGTERM, then SIGKILL after a grace period).
    pub async fn stop(&mut self) {
        for node in self.nodes.get_mut() {
            node.stop(Duration::from_secs(2)).await;
        }
    }

    /// The replicas that exited on their own (or by a crash of ours).
    pub fn exited(&self) -> Vec<String> {
        self.nodes
            .borrow_mut()
            .iter_mut()
            .filter_map(|n| n.has_exited().then(|| n.name().to_string()))
            .collect()
    }
}

/// Picks `n` free UDP ports on 127.0.0.1 (bound, then released for the
/// nodes; another process could grab one in between, which shows up as a
/// bind error with the port named).
pub fn free_addrs(n: u32) -> anyhow::Result<Vec<SocketAddr>> {
    free_ports(n, || {
        let s = UdpSocket::bind("127.0.0.1:0")?;
        let a = s.local_addr()?;
        Ok((s, a))
    })
}

/// Picks `n` free TCP ports on 127.0.0.1 the same way (for etcd members).
pub fn free_tcp_addrs(n: u32) -> anyhow::Result<Vec<SocketAddr>> {
    free_ports(n, || {
        let l = TcpListener::bind("127.0.0.1:0")?;
        let a = l.local_addr()?;
        Ok((l, a))
    })
}

/// Holds `n` sockets from `bind` at once (so their ports differ), then
/// releases them and returns their addresses.
fn free_ports<S>(
    n: u32,
    bind: impl Fn() -> std::io::Result<(S, SocketAddr)>,
) -> anyhow::Result<Vec<SocketAddr>> {
    let held: Vec<(S, SocketAddr)> = (0..n)
        .map(|_| bind())
        .collect::<Result<_, _>>()
        .context("finding free ports on 127.0.0.1")?;
    Ok(held.into_iter().map(|(_, a)| a).collect())
}

/// What a local cluster needs to start.
pub struct ClusterSpec<'a> {
    /// The `qlab` binary.
    pub exe: &'a Path,
    /// Protocol name.
    pub protocol: &'a str,
    /// Replicas.
    pub nodes: u32,
    /// Durability mode.
    pub durability: Durability,
    /// Certificates.
    pub cluster_dir: &'a Path,
    /// Scratch folder of this point (logs, data, events).
    pub work_dir: &'a Path,
    /// Seed for the nodes' randomness.
    pub seed: u64,
    /// Protocol tunables, as YAML.
    pub config: String,
    /// Latency distribution drawn on every replica-to-replica link (text
    /// form), if any.
    pub link_latency: Option<String>,
}

impl LocalCluster {
    /// Starts every replica.
    pub fn start(spec: &ClusterSpec<'_>) -> anyhow::Result<LocalCluster> {
        std::fs::create_dir_all(spec.work_dir)
            .with_context(|| format!("creating {}", spec.work_dir.display()))?;
        let addrs = free_addrs(spec.nodes)?;
        let peers = addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let mut names = Vec::new();
        let mut all_args = Vec::new();
        let mut logs = Vec::new();
        let mut event_files = Vec::new();
        for id in 0..spec.nodes {
            let events = spec.work_dir.join(format!("node-{id}.events.csv"));
            let data = spec.work_dir.join(format!("node-{id}.data"));
            let log = spec.work_dir.join(format!("node-{id}.log"));
            let mut args: Vec<String> = vec![
                "node".into(),
                "--protocol".into(),
                spec.protocol.into(),
                "--id".into(),
                id.to_string(),
                "--peers".into(),
                peers.clone(),
                "--cluster-dir".into(),
                spec.cluster_dir.display().to_string(),
                "--durability".into(),
                spec.durability.to_string(),
                "--data-dir".into(),
                data.display().to_string(),
                "--events".into(),
                events.display().to_string(),
                "--seed".into(),
                spec.seed.to_string(),
                "--config".into(),
                spec.config.clone(),
            ];
            if let Some(l) = &spec.link_latency {
                args.extend(["--link-latency".into(), l.clone()]);
            }
            names.push(format!("node-{id}"));
            all_args.push(args);
            logs.push(log);
            event_files.push(events);
        }
        Ok(LocalCluster {
            processes: Processes::spawn(spec.exe, &names, all_args, &logs)?,
            addrs,
            event_files,
        })
    }

    /// SIGKILLs node `id`.
    pub fn crash(&self, id: u32) {
        self.processes.crash(id);
    }

    /// Starts node `id` again with its original arguments (its durable
    /// state, if any, comes back from its write-ahead log).
    pub fn restart(&self, id: u32) -> anyhow::Result<()> {
        self.processes.restart(id)
    }

    /// Sends a signal to node `id` (SIGSTOP / SIGCONT for pauses).
    pub fn signal(&self, id: u32, signal: i32) -> anyhow::Result<()> {
        self.processes.signal(id, signal)
    }

    /// Stops every replica (SIGTERM, then SIGKILL after a grace period).
    pub async fn stop(&mut self) {
        self.processes.stop().await;
    }

    /// Whether any replica exited on its own (a crash of ours).
    pub fn exited(&self) -> Vec<String> {
        self.processes.exited()
    }
}
