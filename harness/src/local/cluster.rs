//! A local cluster: `qlab node` processes on 127.0.0.1 with free ports.

use super::process::Supervised;
use crate::node::storage::Durability;
use anyhow::Context;
use std::cell::RefCell;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Running replicas of one point.
pub struct LocalCluster {
    /// The processes, by node id (behind a `RefCell` so that faults need
    /// only a shared reference; never borrowed across an `await`).
    nodes: RefCell<Vec<Supervised>>,
    /// Their addresses, by node id.
    pub addrs: Vec<SocketAddr>,
    /// Their event files, by node id.
    pub event_files: Vec<PathBuf>,
    /// How each was started, to restart it the same way.
    commands: Vec<(PathBuf, Vec<String>, PathBuf)>,
}

/// Picks `n` free UDP ports on 127.0.0.1 (bound, then released for the
/// nodes; another process could grab one in between, which shows up as a
/// bind error with the port named).
pub fn free_addrs(n: u32) -> anyhow::Result<Vec<SocketAddr>> {
    let sockets: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .context("finding free ports on 127.0.0.1")?;
    sockets
        .iter()
        .map(|s| s.local_addr().context("reading a bound port"))
        .collect()
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
        let mut nodes = Vec::new();
        let mut event_files = Vec::new();
        let mut commands = Vec::new();
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
            nodes.push(Supervised::spawn(
                &format!("node-{id}"),
                spec.exe,
                &args,
                &log,
            )?);
            event_files.push(events);
            commands.push((spec.exe.to_path_buf(), args, log));
        }
        Ok(LocalCluster {
            nodes: RefCell::new(nodes),
            addrs,
            event_files,
            commands,
        })
    }

    /// SIGKILLs node `id`.
    pub fn crash(&self, id: u32) {
        if let Some(n) = self.nodes.borrow_mut().get_mut(id as usize) {
            n.kill();
        }
    }

    /// Starts node `id` again with its original arguments (its durable
    /// state, if any, comes back from its write-ahead log).
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
        *slot = Supervised::spawn(&format!("node-{id}"), exe, args, log)?;
        Ok(())
    }

    /// Sends a signal to node `id` (SIGSTOP / SIGCONT for pauses).
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

    /// Whether any replica exited on its own (a crash of ours).
    pub fn exited(&self) -> Vec<String> {
        self.nodes
            .borrow_mut()
            .iter_mut()
            .filter_map(|n| n.has_exited().then(|| n.name().to_string()))
            .collect()
    }
}
