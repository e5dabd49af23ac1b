//! Client logic for leader-based protocols (Raft, Multi-Paxos): send to the
//! believed leader, follow redirects, rotate through replicas on timeouts.

use super::{ClientLogic, ClientReply, ClientRequest, ClientStep, ReplyBody};
use crate::types::{NodeId, RequestId};
use rand::{Rng, RngCore};
use std::time::Duration;

/// Tunables of [`LeaderClient`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderClientConfig {
    /// Pause before retrying when no replica knows a leader (an election is
    /// probably under way), so clients do not spin. Default 10 ms.
    pub no_leader_backoff: Duration,
}

impl Default for LeaderClientConfig {
    fn default() -> Self {
        LeaderClientConfig {
            no_leader_backoff: Duration::from_millis(10),
        }
    }
}

/// Leader-tracking client for one logical client.
#[derive(Clone, Debug)]
pub struct LeaderClient {
    cluster_size: u32,
    leader_hint: Option<NodeId>,
    config: LeaderClientConfig,
}

impl LeaderClient {
    /// A client of a cluster of `cluster_size` replicas.
    pub fn new(cluster_size: u32, config: LeaderClientConfig) -> LeaderClient {
        LeaderClient {
            cluster_size: cluster_size.max(1),
            leader_hint: None,
            config,
        }
    }

    /// The replica this client currently believes is leader.
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.leader_hint
    }

    fn target(&mut self, rng: &mut dyn RngCore) -> NodeId {
        match self.leader_hint {
            Some(l) => l,
            None => {
                let pick = rng.gen_range(0..self.cluster_size);
                self.leader_hint = Some(pick);
                pick
            }
        }
    }

    fn next_after(&self, node: NodeId) -> NodeId {
        (node + 1) % self.cluster_size
    }
}

impl ClientLogic for LeaderClient {
    fn route(&mut self, _request: &ClientRequest, rng: &mut dyn RngCore) -> Vec<NodeId> {
        vec![self.target(rng)]
    }

    fn on_reply(&mut self, reply: &ClientReply, rng: &mut dyn RngCore) -> ClientStep {
        match &reply.body {
            ReplyBody::Done(response) => {
                self.leader_hint = Some(reply.from);
                ClientStep::Final(response.clone())
            }
            ReplyBody::Redirect {
                leader: Some(leader),
            } if *leader < self.cluster_size && *leader != reply.from => {
                self.leader_hint = Some(*leader);
                ClientStep::Resend {
                    to: vec![*leader],
                    after: Duration::ZERO,
                }
            }
            ReplyBody::Rejected { reason } => ClientStep::Failed {
                reason: reason.clone(),
            },
            ReplyBody::Redirect { .. } | ReplyBody::Unavailable => {
                // Nobody knows a leader yet: wait a little, then try another.
                let next = self.next_after(reply.from);
                self.leader_hint = Some(next);
                let _ = rng;
                ClientStep::Resend {
                    to: vec![next],
                    after: self.config.no_leader_backoff,
                }
            }
        }
    }

    fn on_timeout(&mut self, _id: RequestId, rng: &mut dyn RngCore) -> ClientStep {
        let current = self.target(rng);
        let next = self.next_after(current);
        self.leader_hint = Some(next);
        ClientStep::Resend {
            to: vec![next],
            after: Duration::ZERO,
        }
    }

    fn finish(&mut self, _id: RequestId) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{Command, Response};
    use rand::SeedableRng;

    fn req() -> ClientRequest {
        ClientRequest {
            id: RequestId { client: 1, seq: 1 },
            command: Command::Get { key: 1 },
            context: None,
            auth: Vec::new(),
        }
    }

    fn reply(from: NodeId, body: ReplyBody) -> ClientReply {
        ClientReply {
            id: RequestId { client: 1, seq: 1 },
            from,
            body,
        }
    }

    #[test]
    fn follows_redirects_and_remembers_the_leader() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut c = LeaderClient::new(3, LeaderClientConfig::default());
        let first = c.route(&req(), &mut rng)[0];
        let step = c.on_reply(
            &reply(first, ReplyBody::Redirect { leader: Some(2) }),
            &mut rng,
        );
        assert_eq!(
            step,
            ClientStep::Resend {
                to: vec![2],
                after: Duration::ZERO
            }
        );
        let done = Response::Written { version: 1 };
        assert_eq!(
            c.on_reply(&reply(2, ReplyBody::Done(done.clone())), &mut rng),
            ClientStep::Final(done)
        );
        assert_eq!(c.route(&req(), &mut rng), vec![2]);
    }

    #[test]
    fn rotates_on_timeout_and_backs_off_without_leader() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut c = LeaderClient::new(3, LeaderClientConfig::default());
        let first = c.route(&req(), &mut rng)[0];
        match c.on_timeout(req().id, &mut rng) {
            ClientStep::Resend { to, .. } => assert_eq!(to, vec![(first + 1) % 3]),
            other => panic!("unexpected {other:?}"),
        }
        match c.on_reply(&reply(0, ReplyBody::Redirect { leader: None }), &mut rng) {
            ClientStep::Resend { to, after } => {
                assert_eq!(to, vec![1]);
                assert!(after > Duration::ZERO);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ignores_out_of_range_leader_hints() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut c = LeaderClient::new(3, LeaderClientConfig::default());
        let step = c.on_reply(
            &reply(1, ReplyBody::Redirect { leader: Some(99) }),
            &mut rng,
        );
        assert_eq!(
            step,
            ClientStep::Resend {
                to: vec![2],
                after: LeaderClientConfig::default().no_leader_backoff
            }
        );
    }
}
