//! PBFT's client logic: send a request to the primary; on a timeout send
//! it to every replica (backups relay it to the primary and start their
//! view-change timers); accept a result once `f + 1` replicas sent the same
//! one (at least one of them is correct). Redirects are only hints about
//! the primary and count once `f + 1` replicas name the same one. With
//! authentication on, every request carries the client's authenticator
//! (MACs for every replica, or a signature), added once in
//! [`ClientLogic::prepare`] so retries repeat it. With the read-only
//! optimisation, reads go to every replica first and every result needs
//! `2f + 1` matching answers (see `read_only.rs`).

use crate::auth::{request_bytes, AuthMode, ClientKeys};
use crate::client::{ClientLogic, ClientReply, ClientRequest, ClientStep, ReplyBody};
use crate::kv::Response;
use crate::types::ClientId;
use crate::types::{NodeId, RequestId};
use rand::RngCore;
use std::collections::BTreeMap;
use std::time::Duration;

/// The answers collected for the request in flight.
#[derive(Clone, Debug)]
struct Tally {
    id: RequestId,
    /// Latest answer per replica.
    done: BTreeMap<NodeId, Response>,
    /// Latest primary hint per replica.
    hints: BTreeMap<NodeId, NodeId>,
    /// Sent read-only and not fallen back to ordering yet.
    read_only: bool,
    /// Matching answers that make the result final.
    needed: usize,
}

/// PBFT client logic for one logical client.
#[derive(Clone, Debug)]
pub struct PbftClient {
    n: u32,
    f: usize,
    primary: NodeId,
    current: Option<Tally>,
    /// This client's keys, when requests are authenticated.
    keys: Option<ClientKeys>,
    /// Reads go read-only first.
    read_only: bool,
    /// Matching answers that make a result final: (reads, other requests).
    needed: (usize, usize),
}

impl PbftClient {
    /// A client of `n` replicas tolerating `f` faulty ones.
    pub fn new(n: u32, f: usize) -> PbftClient {
        PbftClient {
            n: n.max(1),
            f,
            primary: 0,
            current: None,
            keys: None,
            read_only: false,
            needed: (f + 1, f + 1),
        }
    }

    /// The same client authenticating its requests as `client` in `mode`
    /// with keys derived from `seed` (nothing changes for
    /// [`AuthMode::None`]).
    pub fn with_auth(mut self, mode: AuthMode, seed: u64, client: ClientId) -> PbftClient {
        self.keys = (mode != AuthMode::None).then(|| ClientKeys::new(mode, seed, self.n, client));
        self
    }

    /// A client configured by `config` (the read-only optimisation).
    pub fn with_config(n: u32, f: usize, config: &super::PbftConfig) -> PbftClient {
        let mut c = PbftClient::new(n, f);
        c.read_only = config.read_only;
        let quorum = |is_read| super::read_only::reply_quorum(c.n, f, config, is_read);
        c.needed = (quorum(true), quorum(false));
        c
    }

    /// The replica this client believes is primary.
    pub fn primary_hint(&self) -> NodeId {
        self.primary
    }
}

impl ClientLogic for PbftClient {
    fn prepare(&mut self, request: &mut ClientRequest) {
        if let Some(keys) = &self.keys {
            request.auth = keys.authenticate(&request_bytes(request));
        }
    }

    fn route(&mut self, request: &ClientRequest, _rng: &mut dyn RngCore) -> Vec<NodeId> {
        if self.current.as_ref().is_none_or(|t| t.id != request.id) {
            self.current = Some(Tally {
                id: request.id,
                done: BTreeMap::new(),
                hints: BTreeMap::new(),
                read_only: false,
                needed: if request.command.is_read() {
                    self.needed.0
                } else {
                    self.needed.1
                },
            });
        }
        if self.read_only && request.command.is_read() {
            if let Some(t) = self.current.as_mut() {
                t.read_only = true;
            }
            return (0..self.n).collect();
        }
        vec![self.primary]
    }

    fn on_reply(&mut self, reply: &ClientReply, _rng: &mut dyn RngCore) -> ClientStep {
        let (n, f) = (self.n, self.f);
        let Some(tally) = self.current.as_mut().filter(|t| t.id == reply.id) else {
            return ClientStep::Wait;
        };
        if reply.from >= n {
            return ClientStep::Wait;
        }
        match &reply.body {
            ReplyBody::Done(response) => {
                tally.done.insert(reply.from, response.clone());
                let matching = tally.done.values().filter(|r| *r == response).count();
                let needed = tally.needed;
                if matching >= needed {
                    return ClientStep::Final(response.clone());
                }
                if tally.read_only && super::read_only::cannot_match(&tally.done, n, needed) {
                    // Replicas disagree (in flux, or lying): order the read.
                    tally.read_only = false;
                    return ClientStep::Resend {
                        to: (0..n).collect(),
                        after: Duration::ZERO,
                    };
                }
            }
            ReplyBody::Redirect {
                leader: Some(leader),
            } if *leader < n => {
                tally.hints.insert(reply.from, *leader);
                let agree = tally.hints.values().filter(|l| *l == leader).count();
                if agree > f {
                    self.primary = *leader;
                }
            }
            // A lone replica cannot fail a request or stall it.
            _ => {}
        }
        ClientStep::Wait
    }

    fn on_timeout(&mut self, id: RequestId, _rng: &mut dyn RngCore) -> ClientStep {
        // A read-only attempt that timed out falls back to ordering.
        if let Some(t) = self.current.as_mut().filter(|t| t.id == id) {
            t.read_only = false;
        }
        ClientStep::Resend {
            to: (0..self.n).collect(),
            after: Duration::ZERO,
        }
    }

    fn finish(&mut self, id: RequestId) {
        if self.current.as_ref().is_some_and(|t| t.id == id) {
            self.current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::Command;
    use rand::SeedableRng;

    fn reply(from: NodeId, body: ReplyBody) -> ClientReply {
        ClientReply {
            id: RequestId { client: 1, seq: 1 },
            from,
            body,
        }
    }

    #[test]
    fn final_on_f_plus_one_matching_replies_only() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut c = PbftClient::new(4, 1);
        let req = ClientRequest::new(RequestId { client: 1, seq: 1 }, Command::Get { key: 1 });
        assert_eq!(c.route(&req, &mut rng), vec![0]);
        let good = Response::Written { version: 1 };
        let bad = Response::Written { version: 9 };
        let d = |r: &Response| ReplyBody::Done(r.clone());
        assert_eq!(c.on_reply(&reply(0, d(&bad)), &mut rng), ClientStep::Wait);
        assert_eq!(c.on_reply(&reply(1, d(&good)), &mut rng), ClientStep::Wait);
        // A repeated answer from one replica counts once.
        assert_eq!(c.on_reply(&reply(1, d(&good)), &mut rng), ClientStep::Wait);
        let unknown = reply(7, d(&good));
        assert_eq!(c.on_reply(&unknown, &mut rng), ClientStep::Wait);
        assert_eq!(
            c.on_reply(&reply(2, d(&good)), &mut rng),
            ClientStep::Final(good)
        );
    }

    #[test]
    fn timeouts_go_to_everyone_and_hints_need_f_plus_one() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut c = PbftClient::new(4, 1);
        let req = ClientRequest::new(RequestId { client: 1, seq: 1 }, Command::Get { key: 1 });
        c.route(&req, &mut rng);
        match c.on_timeout(req.id, &mut rng) {
            ClientStep::Resend { to, .. } => assert_eq!(to, vec![0, 1, 2, 3]),
            other => panic!("unexpected {other:?}"),
        }
        let hint = |l| ReplyBody::Redirect { leader: Some(l) };
        c.on_reply(&reply(3, hint(3)), &mut rng);
        assert_eq!(c.primary_hint(), 0);
        c.on_reply(&reply(2, hint(1)), &mut rng);
        c.on_reply(&reply(3, hint(1)), &mut rng);
        assert_eq!(c.primary_hint(), 1);
        let rejected = ReplyBody::Rejected { reason: "x".into() };
        assert_eq!(c.on_reply(&reply(2, rejected), &mut rng), ClientStep::Wait);
    }
}
