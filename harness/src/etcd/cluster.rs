//! A local etcd cluster: `etcd` member processes on 127.0.0.1, each with
//! its own data folder in the point's work folder and its own client and
//! peer ports.

use super::config::EtcdConfig;
use crate::local::cluster::{free_tcp_addrs, Processes};
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;
use workloads::etcd::{member_status, MemberStatus};

/// How to get etcd when it is missing.
pub const INSTALL_HINT: &str =
    "install it with `apt-get install etcd-server` (Debian/Ubuntu; etcd v3.4), or put an etcd v3 binary named `etcd` on PATH";

/// The `etcd` binary on PATH.
pub fn find_etcd() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("etcd"))
        .find(|p| p.is_file())
        .with_context(|| format!("protocol etcd: the `etcd` binary is not on PATH; {INSTALL_HINT}"))
}

/// What a local etcd cluster needs to start.
pub struct EtcdSpec<'a> {
    /// Members.
    pub nodes: u32,
    /// Scratch folder of this point (logs, data folders).
    pub work_dir: &'a Path,
    /// Tunables.
    pub config: EtcdConfig,
    /// Varies the cluster token per point and repetition.
    pub seed: u64,
}

/// Running etcd members of one point.
pub struct EtcdCluster {
    processes: Processes,
    /// The members' client addresses (gRPC), by member index.
    pub client_addrs: Vec<SocketAddr>,
}

impl EtcdCluster {
    /// Starts every member of a new cluster.
    pub fn start(spec: &EtcdSpec<'_>) -> anyhow::Result<EtcdCluster> {
        let exe = find_etcd()?;
        std::fs::create_dir_all(spec.work_dir)
            .with_context(|| format!("creating {}", spec.work_dir.display()))?;
        let n = spec.nodes as usize;
        let ports = free_tcp_addrs(2 * spec.nodes)?;
        let (client_addrs, peer_addrs) = ports.split_at(n);
        let url = |a: &SocketAddr| format!("http://{a}");
        let initial = peer_addrs
            .iter()
            .enumerate()
            .map(|(i, a)| format!("m{i}={}", url(a)))
            .collect::<Vec<_>>()
            .join(",");
        let mut names = Vec::new();
        let mut args = Vec::new();
        let mut logs = Vec::new();
        for i in 0..n {
            let data = spec.work_dir.join(format!("etcd-{i}.data"));
            let ms = |d: Duration| d.as_millis().to_string();
            args.push(vec![
                "--name".into(),
                format!("m{i}"),
                "--data-dir".into(),
                data.display().to_string(),
                "--listen-client-urls".into(),
                url(&client_addrs[i]),
                "--advertise-client-urls".into(),
                url(&client_addrs[i]),
                "--listen-peer-urls".into(),
                url(&peer_addrs[i]),
                "--initial-advertise-peer-urls".into(),
                url(&peer_addrs[i]),
                "--initial-cluster".into(),
                initial.clone(),
                "--initial-cluster-state".into(),
                "new".into(),
                "--initial-cluster-token".into(),
                format!("qlab-{:x}", spec.seed),
                "--heartbeat-interval".into(),
                ms(spec.config.heartbeat_interval),
                "--election-timeout".into(),
                ms(spec.config.election_timeout),
                "--logger".into(),
                "zap".into(),
                "--log-outputs".into(),
                "stderr".into(),
                "--log-level".into(),
                "warn".into(),
            ]);
            names.push(format!("etcd-{i}"));
            logs.push(spec.work_dir.join(format!("etcd-{i}.log")));
        }
        Ok(EtcdCluster {
            processes: Processes::spawn(&exe, &names, args, &logs)?,
            client_addrs: client_addrs.to_vec(),
        })
    }

    /// The members' processes (crash, restart with the same data folder,
    /// pause, stop).
    pub fn processes(&self) -> &Processes {
        &self.processes
    }

    /// Stops every member.
    pub async fn stop(&mut self) {
        self.processes.stop().await;
    }

    /// The status of every member that answers within `limit`, by index.
    pub async fn statuses(&self, limit: Duration) -> BTreeMap<u32, MemberStatus> {
        statuses(&self.client_addrs, limit).await
    }

    /// The member that leads (the highest term among those that say they
    /// lead), if one answers.
    pub async fn leader(&self) -> Option<u32> {
        leader_of(&self.statuses(Duration::from_millis(300)).await)
    }

    /// Waits until every member answers and all follow one leader that
    /// says it leads, or `limit` passes; fails early if a member exited.
    pub async fn wait_ready(&self, limit: Duration, work_dir: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        let mut last = BTreeMap::new();
        while Instant::now() < deadline {
            let dead = self.processes.exited();
            if !dead.is_empty() {
                bail!(
                    "{} exited during start-up; see their logs in {}",
                    dead.join(", "),
                    work_dir.display()
                );
            }
            let answered = self.statuses(Duration::from_millis(300)).await;
            let leaders: std::collections::BTreeSet<u64> =
                answered.values().map(|s| s.leader).collect();
            if answered.len() == self.client_addrs.len()
                && leaders.len() == 1
                && leader_of(&answered).is_some()
            {
                return Ok(());
            }
            last = answered;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "the etcd cluster had no leader within {limit:?} (last statuses: {last:?}); see the member logs in {}",
            work_dir.display()
        )
    }
}

/// Asks every member at `addrs` for its status at once, keeping the
/// answers that come within `limit`.
pub async fn statuses(addrs: &[SocketAddr], limit: Duration) -> BTreeMap<u32, MemberStatus> {
    let asks = addrs.iter().map(|&a| member_status(a, limit));
    futures_util::future::join_all(asks)
        .await
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i as u32, s.ok()?)))
        .collect()
}

/// The index of the member that leads in the highest term among `answers`.
pub fn leader_of(answers: &BTreeMap<u32, MemberStatus>) -> Option<u32> {
    answers
        .iter()
        .filter(|(_, s)| s.leads())
        .max_by_key(|(_, s)| s.raft_term)
        .map(|(i, _)| *i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_is_the_member_that_leads_in_the_highest_term() {
        let s = |member_id, leader, raft_term| MemberStatus {
            member_id,
            leader,
            raft_term,
        };
        let mut a = BTreeMap::new();
        a.insert(0, s(10, 11, 3));
        a.insert(1, s(11, 11, 3));
        a.insert(2, s(12, 12, 2));
        assert_eq!(leader_of(&a), Some(1));
        a.remove(&1);
        assert_eq!(leader_of(&a), Some(2));
        a.remove(&2);
        assert_eq!(leader_of(&a), None);
    }
}
