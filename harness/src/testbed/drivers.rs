//! Load drivers on the testbed's `drivers` hosts: each host's agent runs a
//! `qlab drive` with a share of the workload, all starting at one instant
//! of the controller's clock; their measurements come back whole and are
//! merged into what one driver measuring everything would have reported.

use super::remote::RemoteCluster;
use crate::agent::proto::{AgentReply, AgentRequest, DriverLaunch, DriverState};
use crate::testbed::credentials::remote_driver;
use anyhow::{bail, Context};
use std::time::Duration;
use tokio::time::Instant;
use workloads::driver::DriverOutput;
use workloads::WorkloadSpec;

/// How long the agents get between being told to start and the load's
/// time zero: enough for every driver process to start and connect.
pub const LEAD: Duration = Duration::from_secs(3);
/// Bytes per read of a driver's dump.
const CHUNK: u64 = 4 << 20;
/// How often finished drivers are looked for.
const POLL: Duration = Duration::from_millis(200);
/// Extra time a driver gets after its workload's end (and request
/// timeout) to write its results and exit.
const GRACE: Duration = Duration::from_secs(30);
/// How long an agent may take for a command.
const CALL_LIMIT: Duration = Duration::from_secs(10);

/// What the drivers are to run.
pub struct DriverPlan<'a> {
    /// Protocol name.
    pub protocol: &'a str,
    /// Protocol tunables as YAML (the client logic of some protocols needs
    /// them).
    pub config: String,
    /// The whole workload, seeded for this point.
    pub spec: &'a WorkloadSpec,
    /// Time-series window.
    pub window: Duration,
    /// Record every operation.
    pub history: bool,
}

impl RemoteCluster {
    /// Whether this testbed has driver hosts (else the harness drives).
    pub fn has_drivers(&self) -> bool {
        !self.drivers.is_empty()
    }

    /// Runs `plan` on the driver hosts with its time zero at `start` (the
    /// controller's `Instant`) = `start_unix_ns` (the controller's wall
    /// clock), waits for every driver and returns their merged output.
    pub async fn drive(
        &self,
        plan: &DriverPlan<'_>,
        start: Instant,
        start_unix_ns: u128,
    ) -> anyhow::Result<DriverOutput> {
        let count = self.drivers.len() as u32;
        let workload_yaml = serde_yaml::to_string(plan.spec).context("encoding the workload")?;
        for (k, &agent) in self.drivers.iter().enumerate() {
            let offset = self.offset_of(agent);
            let at = i128::try_from(start_unix_ns).unwrap_or(i128::MAX) + i128::from(offset);
            let launch = DriverLaunch {
                point: self.point.clone(),
                protocol: plan.protocol.to_string(),
                config: plan.config.clone(),
                driver: remote_driver(k),
                share: (k as u32, count),
                nodes: self.addrs.clone(),
                workload_yaml: workload_yaml.clone(),
                window_ms: u64::try_from(plan.window.as_millis()).unwrap_or(u64::MAX),
                history: plan.history,
                start_unix_ns: u64::try_from(at).context("start time out of range")?,
            };
            self.agents
                .command(agent, AgentRequest::Drive(launch), CALL_LIMIT)
                .await
                .with_context(|| {
                    format!("starting driver-{} on agent-{agent}", remote_driver(k))
                })?;
        }
        let end = start + plan.spec.duration;
        tokio::time::sleep_until(end).await;
        let deadline = end + plan.spec.request_timeout + GRACE;
        let mut outputs = Vec::new();
        for (k, &agent) in self.drivers.iter().enumerate() {
            let n = remote_driver(k);
            self.wait_driver(agent, n, deadline).await?;
            let bytes = self.read_all(agent, &format!("driver-{n}.bin")).await?;
            let mut out = workloads::dump::decode(&bytes)
                .with_context(|| format!("the results of driver-{n} on agent-{agent}"))?;
            let corrected = i128::try_from(out.start_unix_ns).unwrap_or(i128::MAX)
                - i128::from(self.offset_of(agent));
            out.start_unix_ns = u128::try_from(corrected).unwrap_or(0);
            outputs.push(out);
        }
        workloads::dump::merge(outputs)
            .context("merging the drivers' results")?
            .context("no driver results")
    }

    fn offset_of(&self, agent: u32) -> i64 {
        self.offsets_ns.get(agent as usize).copied().unwrap_or(0)
    }

    async fn wait_driver(&self, agent: u32, n: u32, deadline: Instant) -> anyhow::Result<()> {
        loop {
            match self
                .agents
                .call(agent, AgentRequest::DriverState(n), CALL_LIMIT)
                .await?
            {
                AgentReply::Driver(DriverState::Finished) => return Ok(()),
                AgentReply::Driver(DriverState::Failed(why)) => {
                    bail!("driver-{n} on agent-{agent} failed: {why}")
                }
                AgentReply::Driver(DriverState::Running) => {}
                other => bail!("agent-{agent} answered {other:?} about driver-{n}"),
            }
            if Instant::now() >= deadline {
                bail!("driver-{n} on agent-{agent} did not finish in time (see driver-{n}.log in the point's folder)");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Reads a whole file of the point's folder on `agent`, in pieces.
    async fn read_all(&self, agent: u32, file: &str) -> anyhow::Result<Vec<u8>> {
        let mut all = Vec::new();
        loop {
            let req = AgentRequest::ReadAt {
                point: self.point.clone(),
                file: file.to_string(),
                offset: all.len() as u64,
                max_bytes: CHUNK,
            };
            let piece = match self
                .agents
                .call(agent, req, Duration::from_secs(60))
                .await?
            {
                AgentReply::File(bytes) => bytes,
                other => bail!("agent-{agent} answered {other:?} to a read of {file}"),
            };
            let short = (piece.len() as u64) < CHUNK;
            all.extend(piece);
            if short {
                return Ok(all);
            }
        }
    }
}
