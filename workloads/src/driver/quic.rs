//! The transport to quorumlab nodes: QUIC messages, each logical client
//! using its protocol's sans-IO client logic to route, retry and decide
//! when a reply is final.

use super::core::{home, Step, Transport};
use crate::reach::ClientReach;
use crate::spec::WorkloadSpec;
use net::{Endpoint, Inbox, PeerIdentity};
use protocols::client::{ClientLogic, ClientReply, ClientRequest, ClientStep};
use protocols::core::{Cluster, Protocol};
use protocols::types::{ClientId, NodeId, RequestId};
use protocols::wire::Wire;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// QUIC to quorumlab nodes with `P`'s client logic.
pub(super) struct Quic<P: Protocol> {
    endpoint: Endpoint<Wire<P::Message>>,
    inbox: Inbox<Wire<P::Message>>,
    cluster: Cluster,
    config: P::Config,
    rng: ChaCha8Rng,
    reach: Option<ClientReach>,
}

impl<P: Protocol> Quic<P> {
    pub(super) fn new(
        spec: &WorkloadSpec,
        cluster: &Cluster,
        config: &P::Config,
        endpoint: Endpoint<Wire<P::Message>>,
        inbox: Inbox<Wire<P::Message>>,
        reach: Option<ClientReach>,
    ) -> Self {
        Quic {
            endpoint,
            inbox,
            cluster: cluster.clone(),
            config: config.clone(),
            rng: ChaCha8Rng::seed_from_u64(spec.seed ^ 0xd71e),
            reach,
        }
    }

    /// Whether client `c` can reach replica `node` now.
    fn reaches(&self, c: usize, node: NodeId) -> bool {
        self.reach
            .as_ref()
            .is_none_or(|r| r.can_reach(home(c, self.cluster.size), node))
    }

    /// Sends client `c`'s request to `targets`. A target across a partition
    /// that splits the clients counts as sent: the message is lost, as any
    /// message across a partition, and the attempt times out.
    async fn send_to(&mut self, c: usize, targets: Vec<NodeId>, request: &ClientRequest) -> bool {
        let mut ok = false;
        let size = self.cluster.size;
        let msg = Wire::Request(request.clone());
        for t in targets {
            if t < size && !self.reaches(c, t) {
                ok = true;
                continue;
            }
            if t < size
                && self
                    .endpoint
                    .send(PeerIdentity::Node(t), &msg)
                    .await
                    .is_ok()
            {
                ok = true;
            }
        }
        ok
    }

    /// What the driver loop does with a step of the client logic.
    async fn act(&mut self, c: usize, request: &ClientRequest, step: ClientStep) -> Step {
        match step {
            ClientStep::Wait => Step::Wait,
            ClientStep::Final(response) => Step::Done(response),
            // Rejected without effect: an error, and `fail` in the history.
            ClientStep::Failed { .. } => Step::Rejected,
            ClientStep::Resend { to, after } if after.is_zero() => {
                self.send_to(c, to, request).await;
                Step::Sent
            }
            // Where to resend is asked of the logic again then.
            ClientStep::Resend { after, .. } => Step::RetryAfter(after),
        }
    }
}

impl<P: Protocol> Transport for Quic<P> {
    type Client = P::Client;
    type Reply = ClientReply;

    fn client(&mut self, _index: usize, id: ClientId) -> P::Client {
        P::client(&self.cluster, &self.config, id)
    }

    async fn start(
        &mut self,
        c: usize,
        logic: &mut P::Client,
        request: &mut ClientRequest,
    ) -> Step {
        logic.prepare(request);
        let targets = logic.route(request, &mut self.rng);
        if self.send_to(c, targets, request).await {
            Step::Wait
        } else {
            Step::Rejected
        }
    }

    async fn attempt_timeout(
        &mut self,
        c: usize,
        logic: &mut P::Client,
        request: &ClientRequest,
    ) -> Step {
        let step = logic.on_timeout(request.id, &mut self.rng);
        self.act(c, request, step).await
    }

    async fn resend(&mut self, c: usize, logic: &mut P::Client, request: &ClientRequest) -> Step {
        let to = logic.route(request, &mut self.rng);
        let step = ClientStep::Resend {
            to,
            after: Duration::ZERO,
        };
        self.act(c, request, step).await
    }

    async fn recv(&mut self) -> Option<Vec<ClientReply>> {
        let first = self.inbox.recv().await?;
        let mut batch = vec![first];
        while batch.len() < 256 {
            match self.inbox.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        Some(
            batch
                .into_iter()
                .filter_map(|(_, wire)| match wire {
                    Wire::Reply(reply) => Some(reply),
                    _ => None,
                })
                .collect(),
        )
    }

    fn addressee(reply: &ClientReply) -> RequestId {
        reply.id
    }

    async fn on_reply(
        &mut self,
        c: usize,
        logic: &mut P::Client,
        request: &ClientRequest,
        reply: ClientReply,
    ) -> Step {
        // A reply from across a client partition is lost.
        if !self.reaches(c, reply.from) {
            return Step::Wait;
        }
        let step = logic.on_reply(&reply, &mut self.rng);
        self.act(c, request, step).await
    }

    fn finish(&mut self, logic: &mut P::Client, id: RequestId) {
        logic.finish(id);
    }
}
