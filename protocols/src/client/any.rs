//! Client logic for leaderless protocols (ABD): any replica coordinates a
//! request, so a client sends each request to one replica (clients are
//! spread over the replicas) and takes that replica's one reply as final.
//!
//! # Retrying at another replica
//!
//! A read that times out is retried at the next replica with the same
//! request id: a second coordinator running the same read is harmless (a
//! late read only writes back a value that was already stored).
//!
//! A write is different. If its coordinator is cut off but alive, it keeps
//! retransmitting and may finish the write *after* a second coordinator
//! finished it for the client and the client moved on; the late copy gets a
//! fresh tag that can be higher than the tag of a later write, so the old
//! value would reappear, which is not linearizable. Retrying a write at the
//! *same* coordinator is safe: that coordinator deduplicates the request
//! while it runs, and after a crash its durable register already holds the
//! tag of any store it sent, so its new attempt gets a higher tag than any
//! leftover message of the old one. Writes therefore stay with their
//! coordinator by default (`failover_writes: false`) and only the next
//! request moves on if the coordinator never answered.

use super::{ClientLogic, ClientReply, ClientRequest, ClientStep, ReplyBody};
use crate::types::{ClientId, NodeId, RequestId};
use rand::RngCore;
use std::time::Duration;

/// Tunables of [`AnyNodeClient`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnyNodeClientConfig {
    /// Retry writes at another replica too, not only reads. Faster failover,
    /// but a write can then take effect twice (see the module docs); off by
    /// default.
    pub failover_writes: bool,
    /// Pause before retrying after an `Unavailable` answer. Default 10 ms.
    pub unavailable_backoff: Duration,
}

impl Default for AnyNodeClientConfig {
    fn default() -> Self {
        AnyNodeClientConfig {
            failover_writes: false,
            unavailable_backoff: Duration::from_millis(10),
        }
    }
}

/// The request in flight and where it went.
#[derive(Clone, Debug)]
struct Attempt {
    id: RequestId,
    target: NodeId,
    read: bool,
    answered: bool,
}

/// Any-coordinator client for one logical client.
#[derive(Clone, Debug)]
pub struct AnyNodeClient {
    cluster_size: u32,
    preferred: NodeId,
    current: Option<Attempt>,
    config: AnyNodeClientConfig,
}

impl AnyNodeClient {
    /// Logical client `client` (ids start at 1) of a cluster of
    /// `cluster_size` replicas; consecutive clients start at consecutive
    /// replicas, so load spreads evenly.
    pub fn new(cluster_size: u32, client: ClientId, config: AnyNodeClientConfig) -> AnyNodeClient {
        let cluster_size = cluster_size.max(1);
        let preferred = (client.saturating_sub(1) % u64::from(cluster_size)) as NodeId;
        AnyNodeClient {
            cluster_size,
            preferred,
            current: None,
            config,
        }
    }

    /// The replica new requests go to.
    pub fn preferred(&self) -> NodeId {
        self.preferred
    }

    fn next_after(&self, node: NodeId) -> NodeId {
        (node + 1) % self.cluster_size
    }

    /// Whether the request in flight may move to another replica.
    fn may_move(&self, attempt: &Attempt) -> bool {
        attempt.read || self.config.failover_writes
    }

    /// Moves the request in flight to the next replica (if it may) and
    /// returns where to resend it.
    fn retarget(&mut self, force: bool) -> Option<NodeId> {
        let movable = self
            .current
            .as_ref()
            .is_some_and(|a| force || self.may_move(a));
        let next = self.current.as_ref().map(|a| self.next_after(a.target));
        let attempt = self.current.as_mut()?;
        if movable {
            if let Some(next) = next {
                attempt.target = next;
                self.preferred = next;
            }
        }
        Some(attempt.target)
    }
}

impl ClientLogic for AnyNodeClient {
    fn route(&mut self, request: &ClientRequest, _rng: &mut dyn RngCore) -> Vec<NodeId> {
        match &self.current {
            // The driver asks again after a back-off: same attempt.
            Some(a) if a.id == request.id => vec![a.target],
            _ => {
                self.current = Some(Attempt {
                    id: request.id,
                    target: self.preferred,
                    read: request.command.is_read(),
                    answered: false,
                });
                vec![self.preferred]
            }
        }
    }

    fn on_reply(&mut self, reply: &ClientReply, _rng: &mut dyn RngCore) -> ClientStep {
        if let Some(a) = self.current.as_mut() {
            a.answered = true;
        }
        match &reply.body {
            ReplyBody::Done(response) => {
                if reply.from < self.cluster_size {
                    self.preferred = reply.from;
                }
                ClientStep::Final(response.clone())
            }
            ReplyBody::Rejected { reason } => ClientStep::Failed {
                reason: reason.clone(),
            },
            // A redirect means the replica did not take the request on, so
            // moving is safe even for writes.
            ReplyBody::Redirect {
                leader: Some(leader),
            } if *leader < self.cluster_size && *leader != reply.from => {
                if let Some(a) = self.current.as_mut() {
                    a.target = *leader;
                }
                ClientStep::Resend {
                    to: vec![*leader],
                    after: Duration::ZERO,
                }
            }
            ReplyBody::Redirect { .. } => match self.retarget(true) {
                Some(to) => ClientStep::Resend {
                    to: vec![to],
                    after: self.config.unavailable_backoff,
                },
                None => ClientStep::Wait,
            },
            ReplyBody::Unavailable => match self.retarget(false) {
                Some(to) => ClientStep::Resend {
                    to: vec![to],
                    after: self.config.unavailable_backoff,
                },
                None => ClientStep::Wait,
            },
        }
    }

    fn on_timeout(&mut self, id: RequestId, _rng: &mut dyn RngCore) -> ClientStep {
        if self.current.as_ref().is_none_or(|a| a.id != id) {
            return ClientStep::Wait;
        }
        match self.retarget(false) {
            Some(to) => ClientStep::Resend {
                to: vec![to],
                after: Duration::ZERO,
            },
            None => ClientStep::Wait,
        }
    }

    fn finish(&mut self, id: RequestId) {
        if let Some(a) = self.current.take_if(|a| a.id == id) {
            // A coordinator that never answered (the driver gave up on the
            // request) does not get the next request.
            if !a.answered && a.target == self.preferred {
                self.preferred = self.next_after(a.target);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{Command, Response};
    use bytes::Bytes;
    use rand::SeedableRng;

    fn req(seq: u64, command: Command) -> ClientRequest {
        ClientRequest {
            id: RequestId { client: 2, seq },
            command,
            context: None,
            auth: Vec::new(),
        }
    }
    fn get(seq: u64) -> ClientRequest {
        req(seq, Command::Get { key: 1 })
    }
    fn put(seq: u64) -> ClientRequest {
        req(
            seq,
            Command::Put {
                key: 1,
                value: Bytes::from("v"),
            },
        )
    }
    fn resend_to(step: ClientStep) -> NodeId {
        match step {
            ClientStep::Resend { to, .. } => to[0],
            other => panic!("expected a resend, got {other:?}"),
        }
    }

    #[test]
    fn clients_spread_and_reads_fail_over() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let starts: Vec<NodeId> = (1..=6)
            .map(|c| AnyNodeClient::new(3, c, AnyNodeClientConfig::default()).preferred())
            .collect();
        assert_eq!(starts, vec![0, 1, 2, 0, 1, 2]);
        let mut c = AnyNodeClient::new(3, 2, AnyNodeClientConfig::default());
        assert_eq!(c.route(&get(1), &mut rng), vec![1]);
        assert_eq!(resend_to(c.on_timeout(get(1).id, &mut rng)), 2);
        // A re-route of the same request keeps the new target.
        assert_eq!(c.route(&get(1), &mut rng), vec![2]);
        let done = Response::Value {
            value: None,
            version: 0,
        };
        let reply = ClientReply {
            id: get(1).id,
            from: 2,
            body: ReplyBody::Done(done.clone()),
        };
        assert_eq!(c.on_reply(&reply, &mut rng), ClientStep::Final(done));
        c.finish(get(1).id);
        assert_eq!(c.route(&get(2), &mut rng), vec![2]);
    }

    #[test]
    fn writes_stay_with_their_coordinator_unless_failover_is_on() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut c = AnyNodeClient::new(3, 1, AnyNodeClientConfig::default());
        assert_eq!(c.route(&put(1), &mut rng), vec![0]);
        assert_eq!(resend_to(c.on_timeout(put(1).id, &mut rng)), 0);
        assert_eq!(resend_to(c.on_timeout(put(1).id, &mut rng)), 0);
        // Abandoned without an answer: the next request goes elsewhere.
        c.finish(put(1).id);
        assert_eq!(c.route(&put(2), &mut rng), vec![1]);

        let config = AnyNodeClientConfig {
            failover_writes: true,
            ..AnyNodeClientConfig::default()
        };
        let mut c = AnyNodeClient::new(3, 1, config);
        assert_eq!(c.route(&put(1), &mut rng), vec![0]);
        assert_eq!(resend_to(c.on_timeout(put(1).id, &mut rng)), 1);
    }

    #[test]
    fn rejections_fail_the_request() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut c = AnyNodeClient::new(3, 1, AnyNodeClientConfig::default());
        c.route(&put(1), &mut rng);
        let reply = ClientReply {
            id: put(1).id,
            from: 0,
            body: ReplyBody::Rejected {
                reason: "no".into(),
            },
        };
        assert_eq!(
            c.on_reply(&reply, &mut rng),
            ClientStep::Failed {
                reason: "no".into()
            }
        );
        // Timeouts of requests no longer in flight change nothing.
        c.finish(put(1).id);
        assert_eq!(c.on_timeout(put(1).id, &mut rng), ClientStep::Wait);
    }
}
