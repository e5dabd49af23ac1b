//! Cluster backends: where a point's replicas run. The sweep, the driver,
//! the fault timeline and the result rows are the same code for every
//! backend; a backend only starts replicas and carries out what the fault
//! timeline asks of their processes.
//!
//! - [`LocalCluster`]: `qlab node` processes on this machine (127.0.0.1).
//! - [`RemoteCluster`]: `qlab node` processes on the hosts of an Ansible
//!   inventory, started and signalled by each host's `qlab agent` (see
//!   [`crate::testbed`] for how the work splits between Ansible and the
//!   agent channel).
//! - [`EtcdCluster`]: etcd members on this machine (`protocol: etcd`); the
//!   testbed backend does not run etcd yet.

use crate::etcd::cluster::{EtcdCluster, EtcdSpec};
use crate::local::cluster::{ClusterSpec, LocalCluster};
use crate::testbed::remote::RemoteCluster;
use crate::testbed::Testbed;
use protocols::wire::LinkShape;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// What the harness does with a point's replicas, whatever runs them.
/// Every method takes `&self` except `stop`, so the fault injector and the
/// point's own checks can share one cluster while the driver runs.
#[allow(async_fn_in_trait)]
pub trait ClusterBackend {
    /// The replicas' addresses, by node id.
    fn addrs(&self) -> Vec<SocketAddr>;
    /// Link shapes every replica must apply for the whole run (the
    /// testbed's latency matrix where tc cannot do it).
    fn baseline(&self) -> Vec<(u32, LinkShape)>;
    /// SIGKILLs replica `id`.
    async fn crash(&self, id: u32) -> anyhow::Result<()>;
    /// Starts a crashed replica again with its original arguments.
    async fn restart(&self, id: u32) -> anyhow::Result<()>;
    /// Sends SIGSTOP or SIGCONT to replica `id`.
    async fn signal(&self, id: u32, signal: i32) -> anyhow::Result<()>;
    /// Replicas that exited on their own.
    async fn exited(&self) -> Vec<String>;
    /// The replica that leads now, where the system itself can be asked
    /// (etcd's `Maintenance/Status`); `None` if none leads, or where the
    /// leader is learnt from the nodes over the control endpoint instead
    /// (quorumlab nodes).
    async fn leader(&self) -> Option<u32>;
    /// The replicas' event files, readable on this machine now.
    async fn event_files(&self) -> anyhow::Result<Vec<PathBuf>>;
    /// Stops every replica (their logs end up in the point's work folder).
    async fn stop(&mut self);
}

/// Where points run: this machine, or a deployed testbed.
pub enum Backend {
    /// `qlab node` processes on 127.0.0.1.
    Local,
    /// The hosts of an Ansible inventory.
    Testbed(Box<Testbed>),
}

impl Backend {
    /// The `backend` column of `summary.csv`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Testbed(_) => "ansible",
        }
    }

    /// The address the harness binds its control and driver endpoints on.
    pub fn bind_ip(&self) -> IpAddr {
        match self {
            Backend::Local => [127, 0, 0, 1].into(),
            Backend::Testbed(tb) => tb.bind(),
        }
    }

    /// Starts the replicas of `spec`.
    pub async fn start(&self, spec: &ClusterSpec<'_>) -> anyhow::Result<Cluster> {
        match self {
            Backend::Local => LocalCluster::start(spec).map(Cluster::Local),
            Backend::Testbed(tb) => RemoteCluster::start(tb, spec)
                .await
                .map(|c| Cluster::Remote(Box::new(c))),
        }
    }

    /// Starts the etcd members of `spec` (local backend only).
    pub fn start_etcd(&self, spec: &EtcdSpec<'_>) -> anyhow::Result<Cluster> {
        match self {
            Backend::Local => EtcdCluster::start(spec).map(Cluster::Etcd),
            Backend::Testbed(_) => anyhow::bail!(
                "protocol etcd: the ansible testbed backend cannot run etcd yet; run etcd experiments without --inventory"
            ),
        }
    }
}

/// A running cluster of either backend.
pub enum Cluster {
    /// On this machine.
    Local(LocalCluster),
    /// On a testbed.
    Remote(Box<RemoteCluster>),
    /// etcd members on this machine.
    Etcd(EtcdCluster),
}

impl ClusterBackend for Cluster {
    fn addrs(&self) -> Vec<SocketAddr> {
        match self {
            Cluster::Local(c) => c.addrs.clone(),
            Cluster::Remote(c) => c.addrs().to_vec(),
            Cluster::Etcd(c) => c.client_addrs.clone(),
        }
    }

    fn baseline(&self) -> Vec<(u32, LinkShape)> {
        match self {
            Cluster::Local(_) | Cluster::Etcd(_) => Vec::new(),
            Cluster::Remote(c) => c.baseline().to_vec(),
        }
    }

    async fn crash(&self, id: u32) -> anyhow::Result<()> {
        match self {
            Cluster::Local(c) => {
                c.crash(id);
                Ok(())
            }
            Cluster::Remote(c) => c.crash(id).await,
            Cluster::Etcd(c) => {
                c.processes().crash(id);
                Ok(())
            }
        }
    }

    async fn restart(&self, id: u32) -> anyhow::Result<()> {
        match self {
            Cluster::Local(c) => c.restart(id),
            Cluster::Remote(c) => c.restart(id).await,
            Cluster::Etcd(c) => c.processes().restart(id),
        }
    }

    async fn signal(&self, id: u32, signal: i32) -> anyhow::Result<()> {
        match self {
            Cluster::Local(c) => c.signal(id, signal),
            Cluster::Remote(c) => c.signal(id, signal).await,
            Cluster::Etcd(c) => c.processes().signal(id, signal),
        }
    }

    async fn exited(&self) -> Vec<String> {
        match self {
            Cluster::Local(c) => c.exited(),
            Cluster::Remote(c) => c.exited().await,
            Cluster::Etcd(c) => c.processes().exited(),
        }
    }

    async fn leader(&self) -> Option<u32> {
        match self {
            Cluster::Local(_) | Cluster::Remote(_) => None,
            Cluster::Etcd(c) => c.leader().await,
        }
    }

    async fn event_files(&self) -> anyhow::Result<Vec<PathBuf>> {
        match self {
            Cluster::Local(c) => Ok(c.event_files.clone()),
            Cluster::Remote(c) => c.event_files().await,
            // The leader watcher puts etcd's events on the timeline.
            Cluster::Etcd(_) => Ok(Vec::new()),
        }
    }

    async fn stop(&mut self) {
        match self {
            Cluster::Local(c) => c.stop().await,
            Cluster::Remote(c) => c.stop().await,
            Cluster::Etcd(c) => c.stop().await,
        }
    }
}
