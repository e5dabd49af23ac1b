//! A point's replicas on the hosts of a testbed, run through their agents.

use super::Testbed;
use crate::agent::client::Agents;
use crate::agent::proto::{AgentReply, AgentRequest, NodeLaunch};
use crate::local::cluster::ClusterSpec;
use anyhow::{bail, Context};
use protocols::wire::LinkShape;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long an agent may take for a command.
const CALL_LIMIT: Duration = Duration::from_secs(10);
/// Most bytes of a node log brought back per point.
const LOG_LIMIT: u64 = 4 << 20;

/// Replicas of one point on a testbed.
pub struct RemoteCluster {
    pub(super) agents: Agents,
    pub(super) addrs: Vec<SocketAddr>,
    host_of: Vec<u32>,
    hosts: u32,
    pub(super) offsets_ns: Vec<i64>,
    pub(super) point: String,
    work_dir: PathBuf,
    baseline: Vec<(u32, LinkShape)>,
    /// The agents that run load drivers.
    pub(super) drivers: Vec<u32>,
}

/// The name of a point's folder on the hosts: the local work folder's
/// name, with its parent's for the clusters of a trial point.
fn point_name(work_dir: &Path) -> anyhow::Result<String> {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .with_context(|| format!("{} has no folder name", p.display()))
    };
    let last = name(work_dir)?;
    if last.starts_with("cluster-") {
        if let Some(parent) = work_dir.parent() {
            return Ok(format!("{}-{last}", name(parent)?));
        }
    }
    Ok(last)
}

/// Rewrites node event lines (`unix_ns,node,kind,detail`) onto the
/// controller's clock.
fn correct_clock(bytes: &[u8], offset_ns: i64) -> Vec<u8> {
    if offset_ns == 0 {
        return bytes.to_vec();
    }
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match line.split_once(',') {
            Some((t, rest)) => match t.parse::<i128>() {
                Ok(t) => out.push_str(&format!("{},{rest}", t - i128::from(offset_ns))),
                Err(_) => out.push_str(line),
            },
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out.into_bytes()
}

impl RemoteCluster {
    /// Starts the replicas of `spec` on the testbed's hosts.
    pub async fn start(tb: &Testbed, spec: &ClusterSpec<'_>) -> anyhow::Result<RemoteCluster> {
        if spec.nodes > super::credentials::MAX_TESTBED_NODES {
            bail!(
                "{} replicas: a testbed is issued certificates for at most {}",
                spec.nodes,
                super::credentials::MAX_TESTBED_NODES
            );
        }
        std::fs::create_dir_all(spec.work_dir)
            .with_context(|| format!("creating {}", spec.work_dir.display()))?;
        let point = point_name(spec.work_dir)?;
        let agents = Agents::connect(
            SocketAddr::new(tb.bind(), 0),
            &tb.credentials.controller,
            &tb.agent_addrs(),
        )?;
        let hosts = tb.inventory.hosts.len() as u32;
        let addrs = (0..spec.nodes)
            .map(|n| tb.node_addr(n))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let host_of: Vec<u32> = (0..spec.nodes).map(|n| tb.node_agent(n)).collect();
        let cluster = RemoteCluster {
            agents,
            addrs: addrs.clone(),
            host_of,
            hosts,
            offsets_ns: tb.hosts.iter().map(|h| h.offset_ns).collect(),
            point: point.clone(),
            work_dir: spec.work_dir.to_path_buf(),
            baseline: tb.baseline(spec.nodes),
            drivers: tb.driver_agents().to_vec(),
        };
        for a in 0..hosts {
            cluster
                .agents
                .command(
                    a,
                    AgentRequest::Prepare {
                        point: point.clone(),
                    },
                    CALL_LIMIT,
                )
                .await?;
        }
        for id in 0..spec.nodes {
            let launch = NodeLaunch {
                point: point.clone(),
                protocol: spec.protocol.to_string(),
                id,
                peers: addrs.clone(),
                durability: spec.durability.to_string(),
                seed: spec.seed,
                config: spec.config.clone(),
                link_latency: spec.link_latency.clone(),
            };
            cluster
                .agents
                .command(
                    cluster.host_of[id as usize],
                    AgentRequest::Start(launch),
                    CALL_LIMIT,
                )
                .await
                .with_context(|| format!("starting node {id}"))?;
        }
        Ok(cluster)
    }

    /// The replicas' addresses, by node id.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Link shapes the nodes apply in-process (the hosts' latency matrix
    /// where tc has no netem).
    pub fn baseline(&self) -> &[(u32, LinkShape)] {
        &self.baseline
    }

    fn agent_of(&self, id: u32) -> anyhow::Result<u32> {
        self.host_of
            .get(id as usize)
            .copied()
            .with_context(|| format!("no node {id}"))
    }

    /// SIGKILLs replica `id` on its host.
    pub async fn crash(&self, id: u32) -> anyhow::Result<()> {
        let a = self.agent_of(id)?;
        self.agents
            .command(a, AgentRequest::Crash(id), CALL_LIMIT)
            .await
    }

    /// Starts replica `id` again.
    pub async fn restart(&self, id: u32) -> anyhow::Result<()> {
        let a = self.agent_of(id)?;
        self.agents
            .command(a, AgentRequest::Restart(id), CALL_LIMIT)
            .await
    }

    /// Sends SIGSTOP or SIGCONT to replica `id`.
    pub async fn signal(&self, id: u32, signal: i32) -> anyhow::Result<()> {
        let a = self.agent_of(id)?;
        self.agents
            .command(a, AgentRequest::Signal { node: id, signal }, CALL_LIMIT)
            .await
    }

    /// Replicas that exited on their own (`node-N`).
    pub async fn exited(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in 0..self.hosts {
            match self.agents.call(a, AgentRequest::Exited, CALL_LIMIT).await {
                Ok(AgentReply::Exited(names)) => out.extend(names),
                Ok(other) => out.push(format!("agent-{a} (answered {other:?})")),
                Err(e) => out.push(format!("agent-{a} ({e:#})")),
            }
        }
        out
    }

    async fn fetch(&self, id: u32, file: &str, limit: u64) -> anyhow::Result<Vec<u8>> {
        self.fetch_from(self.agent_of(id)?, file, limit).await
    }

    /// The last `limit` bytes of a file of the point's folder on agent `a`.
    async fn fetch_from(&self, a: u32, file: &str, limit: u64) -> anyhow::Result<Vec<u8>> {
        let req = AgentRequest::Fetch {
            point: self.point.clone(),
            file: file.to_string(),
            max_bytes: limit,
        };
        match self.agents.call(a, req, Duration::from_secs(30)).await? {
            AgentReply::File(bytes) => Ok(bytes),
            other => bail!("agent-{a} answered {other:?} to a fetch"),
        }
    }

    /// Brings every replica's event file into the local work folder (on
    /// the controller's clock) and returns their paths.
    pub async fn event_files(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for id in 0..self.addrs.len() as u32 {
            let name = format!("node-{id}.events.csv");
            let bytes = self.fetch(id, &name, LOG_LIMIT).await?;
            let offset = self
                .offsets_ns
                .get(self.agent_of(id)? as usize)
                .copied()
                .unwrap_or(0);
            let path = self.work_dir.join(&name);
            std::fs::write(&path, correct_clock(&bytes, offset))
                .with_context(|| format!("writing {}", path.display()))?;
            files.push(path);
        }
        Ok(files)
    }

    /// Stops every replica and brings their logs into the work folder.
    pub async fn stop(&mut self) {
        for a in 0..self.hosts {
            if let Err(e) = self
                .agents
                .command(a, AgentRequest::StopAll, CALL_LIMIT)
                .await
            {
                eprintln!("stopping the nodes of agent-{a}: {e:#}");
            }
        }
        for id in 0..self.addrs.len() as u32 {
            let name = format!("node-{id}.log");
            match self.fetch(id, &name, LOG_LIMIT).await {
                Ok(bytes) => {
                    let _ = std::fs::write(self.work_dir.join(&name), bytes);
                }
                Err(e) => eprintln!("fetching {name}: {e:#}"),
            }
        }
        for (k, &agent) in self.drivers.iter().enumerate() {
            let name = format!("driver-{}.log", super::credentials::remote_driver(k));
            match self.fetch_from(agent, &name, LOG_LIMIT).await {
                Ok(bytes) => {
                    let _ = std::fs::write(self.work_dir.join(&name), bytes);
                }
                Err(e) => eprintln!("fetching {name}: {e:#}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_correction_shifts_only_times() {
        let out = correct_clock(b"1000,0,leader_elected,3\nbad,1,x,\n", 400);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "600,0,leader_elected,3\nbad,1,x,\n"
        );
        assert_eq!(correct_clock(b"5,0,a,b", 0), b"5,0,a,b");
    }

    #[test]
    fn trial_clusters_get_distinct_folders() {
        assert_eq!(point_name(Path::new("/r/work/p-r0")).unwrap(), "p-r0");
        assert_eq!(
            point_name(Path::new("/r/work/p-r0/cluster-1")).unwrap(),
            "p-r0-cluster-1"
        );
    }
}
