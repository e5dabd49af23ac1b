//! The ansible backend: `qlab run EXP --inventory INV` runs every point on
//! the hosts of an Ansible inventory.
//!
//! The work is split in two, by what each side is good at:
//!
//! - **Ansible deploys** (`ansible/deploy.yml`, run by `qlab run` before
//!   the first point): packages, sysctl and limits, the `qlab` binary and
//!   each host's certificates (checksummed, idempotent), `tc` shaping of
//!   the latency matrix where the kernel has netem (else it records that
//!   the harness must shape in-process), and one supervised `qlab agent`
//!   per host. Deployment is slow (seconds per task) but declarative,
//!   auditable and repeatable: a second run changes nothing.
//! - **`qlab`'s own control channel runs the experiment**: the harness
//!   talks to each agent over QUIC with mutual TLS from the testbed's CA
//!   (only the `control` certificate is obeyed) to start, SIGKILL, pause,
//!   resume and restart replicas and to fetch their event files and logs.
//!   Faults are timing-sensitive: a crash must land within a millisecond
//!   of its time on the timeline, which an SSH round trip per fault
//!   (hundreds of ms, with variance) cannot do. Link faults and the
//!   in-process fallback of the latency matrix go straight to the nodes'
//!   own control endpoints, as on the local backend.
//!
//! Load comes from the inventory's `drivers` hosts when it has some: each
//! host's agent starts a `qlab drive` process with a share of the
//! workload (every D-th logical client, 1/D of the open-loop rate) and a
//! common start time, corrected by the host's measured clock offset; the
//! harness brings back each driver's measurements whole (histograms, not
//! percentiles) and merges them ([`drivers`]). Without driver hosts the
//! driver runs inside `qlab run` on the controller, exactly as on the
//! local backend.

pub mod ansible;
pub mod credentials;
pub mod drivers;
pub mod inventory;
pub mod remote;

use crate::agent::client::Agents;
use crate::agent::proto::{AgentHello, AgentReply, AgentRequest};
use crate::provenance::{sha256_file, HostFacts};
use crate::run::inject::unix_ns;
use anyhow::{bail, Context};
use credentials::Credentials;
use inventory::Inventory;
use protocols::wire::LinkShape;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A clock offset larger than this is reported as a warning (node events
/// are corrected by the measured offset either way).
const CLOCK_WARN_MS: f64 = 5.0;

/// What an agent said about its host, and its clock against ours.
#[derive(Clone, Debug)]
pub struct HostState {
    /// The agent's hello.
    pub hello: AgentHello,
    /// The host's facts (from the hello).
    pub facts: HostFacts,
    /// Agent clock minus controller clock, in ns (0 when within the
    /// measurement's own uncertainty).
    pub offset_ns: i64,
    /// The round trip of the best measurement, in ns.
    pub rtt_ns: u64,
}

/// A deployed testbed.
pub struct Testbed {
    /// The inventory's hosts.
    pub inventory: Inventory,
    /// Certificates.
    pub credentials: Credentials,
    /// Each host's state, by agent number.
    pub hosts: Vec<HostState>,
    playbooks: ansible::Playbooks,
    vars_file: PathBuf,
    log: PathBuf,
}

/// How `qlab run` was asked to use a testbed.
pub struct TestbedOptions<'a> {
    /// The inventory file.
    pub inventory: &'a Path,
    /// The folder of the playbooks.
    pub ansible_dir: &'a Path,
    /// Run the deploy playbook (otherwise only verify the agents).
    pub deploy: bool,
    /// The results folder (`ansible/` in it gets the playbook logs).
    pub out: &'a Path,
}

impl Testbed {
    /// Reads the inventory, creates the certificates, deploys (unless told
    /// not to) and greets every agent, checking it runs this very binary.
    pub fn prepare(opts: &TestbedOptions<'_>) -> anyhow::Result<Testbed> {
        let inventory = inventory::load(opts.inventory)?;
        let playbooks = ansible::Playbooks::new(opts.ansible_dir, opts.inventory)?;
        let base = opts
            .inventory
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let names: Vec<String> = inventory.hosts.iter().map(|h| h.name.clone()).collect();
        let credentials = credentials::ensure(
            &base.join(".qlab-credentials"),
            &names,
            inventory.node_hosts,
            &inventory.drivers,
        )?;
        let exe = std::env::current_exe().context("locating the qlab binary")?;
        let dir = opts.out.join("ansible");
        let vars_file = dir.join("vars.yml");
        let log = dir.join("ansible.log");
        ansible::write_vars(
            &vars_file,
            &exe,
            &credentials.hosts,
            &opts.out.join("hosts"),
        )?;
        if opts.deploy {
            eprintln!(
                "deploying to {} host(s) with ansible (log: {})",
                names.len(),
                log.display()
            );
            playbooks.run("deploy.yml", &vars_file, &log)?;
        }
        let mut tb = Testbed {
            inventory,
            credentials,
            hosts: Vec::new(),
            playbooks,
            vars_file,
            log,
        };
        tb.hosts = tb.greet()?;
        let ours = sha256_file(&exe)?;
        for (h, s) in tb.inventory.hosts.iter().zip(&tb.hosts) {
            if s.hello.binary_sha256 != ours {
                bail!(
                    "host {} runs a different qlab binary (sha256 {}, ours {ours}); deploy again (without --no-deploy)",
                    h.name,
                    s.hello.binary_sha256
                );
            }
            let off = s.offset_ns as f64 / 1e6;
            if off.abs() > CLOCK_WARN_MS {
                eprintln!(
                    "warning: the clock of {} is {off:.1} ms off the controller's (events are corrected by it; is NTP running?)",
                    h.name
                );
            }
            if !h.latency.is_empty() && s.hello.shaping == "none" {
                eprintln!(
                    "warning: {} has a latency matrix but reports no shaping",
                    h.name
                );
            }
        }
        Ok(tb)
    }

    /// Address the harness binds its endpoints on.
    pub fn bind(&self) -> IpAddr {
        self.inventory.controller_bind
    }

    /// Each agent's address, by agent number.
    pub fn agent_addrs(&self) -> Vec<SocketAddr> {
        self.inventory
            .hosts
            .iter()
            .map(|h| SocketAddr::new(h.listen, h.agent_port))
            .collect()
    }

    /// The agent that runs replica `n` (replicas go round-robin over the
    /// `nodes` group).
    pub fn node_agent(&self, n: u32) -> u32 {
        n % self.inventory.node_hosts as u32
    }

    /// The agents that run the load drivers (empty: the driver runs in
    /// `qlab run`).
    pub fn driver_agents(&self) -> &[u32] {
        &self.inventory.drivers
    }

    /// The address of replica `n`.
    pub fn node_addr(&self, n: u32) -> anyhow::Result<SocketAddr> {
        let count = self.inventory.node_hosts as u32;
        let h = &self.inventory.hosts[(n % count) as usize];
        let port = u16::try_from(u32::from(h.node_port) + n / count)
            .ok()
            .with_context(|| format!("no port left on {} for replica {n}", h.name))?;
        Ok(SocketAddr::new(h.listen, port))
    }

    /// Link shapes the nodes must apply themselves: the latency matrix of
    /// the hosts whose kernel could not do it with tc (in-process shaping).
    pub fn baseline(&self, nodes: u32) -> Vec<(u32, LinkShape)> {
        let mut out = Vec::new();
        for n in 0..nodes {
            let from = self.node_agent(n) as usize;
            if self.hosts.get(from).map(|s| s.hello.shaping.as_str()) != Some("inprocess") {
                continue;
            }
            for (to_name, d) in &self.inventory.hosts[from].latency {
                let Some(to) = self.inventory.hosts.iter().position(|h| &h.name == to_name) else {
                    continue;
                };
                let targets: Vec<u32> = (0..nodes)
                    .filter(|&m| m != n && self.node_agent(m) as usize == to)
                    .collect();
                if targets.is_empty() {
                    continue;
                }
                out.push((
                    n,
                    LinkShape {
                        to: targets,
                        delay_us: (d.delay_ms * 1000.0) as u64,
                        jitter_us: (d.jitter_ms * 1000.0) as u64,
                        loss: d.loss,
                        ..LinkShape::default()
                    },
                ));
            }
        }
        out
    }

    /// Every host's facts for `provenance.yaml`.
    pub fn host_facts(&self) -> Vec<HostFacts> {
        self.inventory
            .hosts
            .iter()
            .zip(&self.hosts)
            .enumerate()
            .map(|(i, (h, s))| {
                let mut f = s.facts.clone();
                let node = i < self.inventory.node_hosts;
                let driver = self.inventory.drivers.contains(&(i as u32));
                f.role = match (node, driver) {
                    (true, true) => "node+driver",
                    (false, true) => "driver",
                    _ => "node",
                }
                .into();
                f.inventory_name = Some(h.name.clone());
                f.address = Some(h.listen.to_string());
                f.clock_offset_ms = Some(s.offset_ns as f64 / 1e6);
                f.shaping = Some(s.hello.shaping.clone());
                f
            })
            .collect()
    }

    /// Runs `ansible/collect.yml`: every host's agent log and shaping
    /// state into `<out>/hosts/<host>/`.
    pub fn collect(&self) -> anyhow::Result<()> {
        self.playbooks
            .run("collect.yml", &self.vars_file, &self.log)
    }

    /// Asks every agent to stop its replicas (after an interrupted run,
    /// whose points were abandoned mid-way); best effort, a few seconds.
    pub fn stop_replicas(&self) {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            let Ok(agents) = Agents::connect(
                SocketAddr::new(self.bind(), 0),
                &self.credentials.controller,
                &self.agent_addrs(),
            ) else {
                return;
            };
            for (i, h) in self.inventory.hosts.iter().enumerate() {
                let stop = agents.command(i as u32, AgentRequest::StopAll, Duration::from_secs(5));
                if let Err(e) = stop.await {
                    eprintln!("stopping the replicas on {}: {e:#}", h.name);
                }
            }
            agents.shutdown().await;
        });
    }

    fn greet(&self) -> anyhow::Result<Vec<HostState>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        runtime.block_on(async {
            let agents = Agents::connect(
                SocketAddr::new(self.bind(), 0),
                &self.credentials.controller,
                &self.agent_addrs(),
            )?;
            let mut states = Vec::new();
            for (i, h) in self.inventory.hosts.iter().enumerate() {
                let i = i as u32;
                if !agents.wait_connected(i, Duration::from_secs(10)).await {
                    bail!(
                        "no connection to the agent of {} at {}:{} within 10 s (is it deployed and running? see {})",
                        h.name,
                        h.listen,
                        h.agent_port,
                        self.log.display()
                    );
                }
                let mut best: Option<HostState> = None;
                for _ in 0..5 {
                    let t0 = unix_ns();
                    let reply = agents
                        .call(i, AgentRequest::Hello, Duration::from_secs(10))
                        .await
                        .with_context(|| format!("greeting the agent of {}", h.name))?;
                    let t1 = unix_ns();
                    let AgentReply::Hello(hello) = reply else {
                        bail!("the agent of {} answered hello with {reply:?}", h.name);
                    };
                    if hello.agent != i {
                        bail!(
                            "the agent at {}:{} is agent-{}, expected agent-{i} ({})",
                            h.listen,
                            h.agent_port,
                            hello.agent,
                            h.name
                        );
                    }
                    let rtt = (t1 - t0) as u64;
                    let mid = (t0 + t1) / 2;
                    let raw = i128::from(hello.unix_ns) - mid as i128;
                    // Within half a round trip the offset is not measurable.
                    let offset = if raw.unsigned_abs() as u64 <= rtt / 2 {
                        0
                    } else {
                        raw as i64
                    };
                    let facts = hello.facts().with_context(|| {
                        format!("the agent of {} sent unreadable facts", h.name)
                    })?;
                    if best.as_ref().is_none_or(|b| rtt < b.rtt_ns) {
                        best = Some(HostState {
                            hello,
                            facts,
                            offset_ns: offset,
                            rtt_ns: rtt,
                        });
                    }
                }
                states.extend(best);
            }
            agents.shutdown().await;
            Ok(states)
        })
    }
}
