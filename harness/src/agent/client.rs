//! The harness' side of the agent channel: one endpoint with the `control`
//! identity, request/reply calls to the agents of a testbed.

use super::proto::{AgentMsg, AgentReply, AgentRequest};
use crate::node::cli::node_endpoint_config;
use anyhow::{bail, Context};
use net::{Endpoint, Identity, Inbox, PeerIdentity};
use std::cell::Cell;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Connections to every agent of a testbed, for one tokio runtime.
pub struct Agents {
    endpoint: Endpoint<AgentMsg>,
    inbox: Mutex<Inbox<AgentMsg>>,
    next: Cell<u64>,
}

impl Agents {
    /// Binds `bind` with the `control` certificate of `cluster_dir` and
    /// introduces the agents at `addrs` (agent `i` at `addrs[i]`).
    pub fn connect(
        bind: SocketAddr,
        cluster_dir: &Path,
        addrs: &[SocketAddr],
    ) -> anyhow::Result<Agents> {
        let id = Identity::load(cluster_dir, PeerIdentity::Control)
            .context("loading the control certificate")?;
        let (endpoint, inbox) = Endpoint::<AgentMsg>::bind(bind, &id, node_endpoint_config())
            .with_context(|| format!("binding the agent channel on {bind}"))?;
        for (i, a) in addrs.iter().enumerate() {
            endpoint.add_peer(PeerIdentity::Agent(i as u32), *a);
        }
        Ok(Agents {
            endpoint,
            inbox: Mutex::new(inbox),
            next: Cell::new(1),
        })
    }

    /// Sends `req` to agent `agent` and waits up to `limit` for its reply.
    /// Calls are serialised; a late reply to an earlier call is skipped.
    pub async fn call(
        &self,
        agent: u32,
        req: AgentRequest,
        limit: Duration,
    ) -> anyhow::Result<AgentReply> {
        let mut inbox = self.inbox.lock().await;
        let id = self.next.get();
        self.next.set(id + 1);
        let to = PeerIdentity::Agent(agent);
        let what = format!("{req:?}");
        let what = what.chars().take(80).collect::<String>();
        let deadline = Instant::now() + limit;
        tokio::time::timeout_at(
            deadline,
            self.endpoint.send(to, &AgentMsg::Request { id, body: req }),
        )
        .await
        .with_context(|| format!("{to} did not take `{what}` within {limit:?}"))?
        .with_context(|| format!("sending `{what}` to {to}"))?;
        loop {
            let got = tokio::time::timeout_at(deadline, inbox.recv())
                .await
                .with_context(|| format!("{to} did not answer `{what}` within {limit:?}"))?;
            match got {
                None => bail!("the agent channel closed"),
                Some((from, AgentMsg::Reply { id: rid, body })) if from == to && rid == id => {
                    return body.map_err(|e| anyhow::anyhow!("{to}: {e}"));
                }
                Some(_) => continue,
            }
        }
    }

    /// Like [`Agents::call`], expecting `Done`.
    pub async fn command(
        &self,
        agent: u32,
        req: AgentRequest,
        limit: Duration,
    ) -> anyhow::Result<()> {
        match self.call(agent, req, limit).await? {
            AgentReply::Done => Ok(()),
            other => bail!("agent-{agent} answered {other:?} instead of done"),
        }
    }

    /// Waits up to `limit` for a connection to agent `agent`.
    pub async fn wait_connected(&self, agent: u32, limit: Duration) -> bool {
        self.endpoint
            .wait_connected(PeerIdentity::Agent(agent), limit)
            .await
    }

    /// Closes the channel.
    pub async fn shutdown(self) {
        self.endpoint.shutdown(Duration::from_millis(200)).await;
    }
}
