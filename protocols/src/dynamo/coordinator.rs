//! The coordinator side: run a client's request against the key's
//! replicas, answer a put at W acknowledgements, retry unanswered replicas
//! and (sloppy quorum) enlist stand-ins. Gets are in [`super::read`].

use super::messages::{DynamoMessage, DynamoTimer, OpId, Version};
use super::Dynamo;
use crate::client::{ClientRequest, ReplyBody};
use crate::core::Ctx;
use crate::kv::{Command, Key, Response, Value};
use crate::types::{ClientId, NodeId, RequestId, Time};
use crate::vclock::VersionVector;
use std::collections::{BTreeMap, BTreeSet};

/// A put in flight.
#[derive(Clone, Debug)]
pub(super) struct PutOp {
    client: ClientId,
    request: RequestId,
    key: Key,
    version: Version,
    /// Replicas asked, with the owner each stands in for (sloppy quorum).
    targets: BTreeMap<NodeId, Option<NodeId>>,
    acked: BTreeSet<NodeId>,
    deadline: Time,
}

/// A get in flight (or answered, collecting late replies for repair).
#[derive(Clone, Debug)]
pub(super) struct GetOp {
    pub(super) client: ClientId,
    pub(super) request: RequestId,
    pub(super) key: Key,
    pub(super) targets: BTreeMap<NodeId, Option<NodeId>>,
    pub(super) replies: BTreeMap<NodeId, Vec<Version>>,
    pub(super) answered: bool,
    pub(super) deadline: Time,
    /// Versions already sent to each replica by read repair.
    pub(super) repaired: BTreeMap<NodeId, Vec<Version>>,
}

#[derive(Clone, Debug)]
pub(super) enum Pending {
    Put(PutOp),
    Get(GetOp),
}

/// Requests this node coordinates.
#[derive(Clone, Debug, Default)]
pub(super) struct Coordinator {
    incarnation: u32,
    next_op: u32,
    pub(super) ops: BTreeMap<OpId, Pending>,
    pub(super) by_request: BTreeMap<RequestId, OpId>,
    /// Per key, the last counter this incarnation gave its own actor.
    counters: BTreeMap<Key, u64>,
    /// Per client, the last request answered and its answer, so a retry
    /// to this coordinator does not write twice.
    pub(super) sessions: BTreeMap<ClientId, (u64, Response)>,
}

impl Coordinator {
    /// The coordinator of incarnation `incarnation` (op ids carry it).
    pub(super) fn new(incarnation: u32) -> Coordinator {
        Coordinator {
            incarnation,
            ..Coordinator::default()
        }
    }

    pub(super) fn next_op_id(&mut self) -> OpId {
        self.next_op = self.next_op.wrapping_add(1);
        (u64::from(self.incarnation) << 32) | u64::from(self.next_op)
    }

    /// Number of requests in flight (answered gets still collecting late
    /// replies included).
    pub(super) fn in_flight(&self) -> usize {
        self.ops.len()
    }
}

impl Dynamo {
    /// A client request arrived: run it, or answer a retry of the last one.
    pub(super) fn coordinate(&mut self, ctx: &mut Ctx<'_, Self>, request: ClientRequest) {
        let id = request.id;
        if self.coord.by_request.contains_key(&id) {
            return; // in flight: the retry timer resends what is missing
        }
        if let Some((seq, response)) = self.coord.sessions.get(&id.client) {
            if *seq == id.seq {
                let body = ReplyBody::Done(response.clone());
                self.reply(ctx, id.client, id, body);
                return;
            }
            if id.seq < *seq {
                return; // the client has moved on
            }
        }
        match request.command {
            Command::Get { key } => self.start_get(ctx, id, key),
            Command::Put { key, value } => {
                let context = request.context.unwrap_or_default();
                self.start_put(ctx, id, key, value, context)
            }
            Command::Cas { .. } => {
                let reason = "the dynamo store has no compare-and-set".to_string();
                self.reply(ctx, id.client, id, ReplyBody::Rejected { reason });
            }
        }
    }

    pub(super) fn retry_after(&self, ctx: &Ctx<'_, Self>, deadline: Time) -> std::time::Duration {
        self.config.retry_timeout.min(deadline.since(ctx.now()))
    }

    fn start_put(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        request: RequestId,
        key: Key,
        value: Value,
        mut clock: VersionVector,
    ) {
        let actor = self.actor();
        let last = self.coord.counters.get(&key).copied().unwrap_or(0);
        let counter = last.max(clock.get(&actor)).saturating_add(1);
        self.coord.counters.insert(key, counter);
        clock.advance(actor, counter);
        let op = self.coord.next_op_id();
        let targets = self.owner_targets(key);
        let mut put = PutOp {
            client: request.client,
            request,
            key,
            version: Version { clock, value },
            targets,
            acked: BTreeSet::new(),
            deadline: ctx.now().plus(self.config.request_timeout),
        };
        self.coord.by_request.insert(request, op);
        self.send_stores(ctx, op, &mut put);
        self.settle_put(ctx, op, put);
    }

    /// The preference list of `key` as an operation's targets, each owner
    /// standing for itself (no stand-in yet).
    pub(super) fn owner_targets(&self, key: Key) -> BTreeMap<NodeId, Option<NodeId>> {
        self.ring
            .preference_list(key, self.config.n)
            .into_iter()
            .map(|n| (n, None))
            .collect()
    }

    /// Sends the version to every target that has not acknowledged it;
    /// stores it right away when this node is a target.
    fn send_stores(&mut self, ctx: &mut Ctx<'_, Self>, op: OpId, put: &mut PutOp) {
        let targets: Vec<(NodeId, Option<NodeId>)> = put
            .targets
            .iter()
            .filter(|(n, _)| !put.acked.contains(n))
            .map(|(&n, &h)| (n, h))
            .collect();
        for (node, hint) in targets {
            if node == self.id {
                self.store_version(ctx, put.key, put.version.clone(), hint);
                put.acked.insert(node);
            } else {
                let msg = DynamoMessage::Store {
                    op,
                    key: put.key,
                    version: put.version.clone(),
                    hint,
                };
                ctx.send(node, msg);
            }
        }
    }

    /// Answers the put if it has W acknowledgements, else keeps it.
    fn settle_put(&mut self, ctx: &mut Ctx<'_, Self>, op: OpId, put: PutOp) {
        if put.acked.len() >= self.config.write_acks() {
            let response = Response::Stored {
                context: put.version.clock.clone(),
            };
            self.finish(ctx, op, put.client, put.request, response);
        } else {
            let after = self.retry_after(ctx, put.deadline);
            self.coord.ops.insert(op, Pending::Put(put));
            ctx.set_timer(DynamoTimer::Retry(op), after);
        }
    }

    /// Answers a request and forgets it.
    fn finish(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        op: OpId,
        client: ClientId,
        request: RequestId,
        response: Response,
    ) {
        self.coord.by_request.remove(&request);
        self.coord.ops.remove(&op);
        ctx.cancel_timer(DynamoTimer::Retry(op));
        self.coord
            .sessions
            .insert(client, (request.seq, response.clone()));
        self.reply(ctx, client, request, ReplyBody::Done(response));
    }

    /// A replica acknowledged a store.
    pub(super) fn on_stored(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        op: OpId,
        key: Key,
        clock: VersionVector,
    ) {
        let Some(Pending::Put(put)) = self.coord.ops.get_mut(&op) else {
            return;
        };
        if put.key != key || put.version.clock != clock || !put.targets.contains_key(&from) {
            return;
        }
        if put.acked.insert(from) && put.acked.len() >= self.config.write_acks() {
            if let Some(Pending::Put(put)) = self.coord.ops.remove(&op) {
                self.settle_put(ctx, op, put);
            }
        }
    }

    /// The retry timer of `op` fired: give up at the deadline, else resend
    /// to the silent replicas (enlisting stand-ins with a sloppy quorum).
    pub(super) fn on_retry(&mut self, ctx: &mut Ctx<'_, Self>, op: OpId) {
        let Some(pending) = self.coord.ops.remove(&op) else {
            return;
        };
        let now = ctx.now();
        match pending {
            Pending::Put(mut put) => {
                if now >= put.deadline {
                    self.coord.by_request.remove(&put.request);
                    self.reply(ctx, put.client, put.request, ReplyBody::Unavailable);
                    return;
                }
                if self.config.sloppy_quorum {
                    let acked = put.acked.clone();
                    self.enlist(put.key, &mut put.targets, |n| acked.contains(&n));
                }
                self.send_stores(ctx, op, &mut put);
                self.settle_put(ctx, op, put);
            }
            Pending::Get(mut get) => {
                if get.answered {
                    return; // the repair window is over
                }
                if now >= get.deadline {
                    self.coord.by_request.remove(&get.request);
                    self.reply(ctx, get.client, get.request, ReplyBody::Unavailable);
                    return;
                }
                if self.config.sloppy_quorum {
                    let heard: BTreeSet<NodeId> = get.replies.keys().copied().collect();
                    self.enlist(get.key, &mut get.targets, |n| heard.contains(&n));
                }
                self.send_fetches(ctx, op, &mut get);
                self.settle_get(ctx, op, get, true);
            }
        }
    }

    /// Sloppy quorum: for every preference-list replica that has not
    /// answered, and no stand-in of which has, adds the next member on the
    /// ring past the preference list that is not a target yet.
    fn enlist(
        &self,
        key: Key,
        targets: &mut BTreeMap<NodeId, Option<NodeId>>,
        answered: impl Fn(NodeId) -> bool,
    ) {
        let walk = self.ring.walk(key);
        let (pref, rest) = walk.split_at(self.config.n.min(walk.len()));
        for &owner in pref {
            let covered = answered(owner)
                || targets
                    .iter()
                    .any(|(&t, &h)| h == Some(owner) && answered(t));
            if covered {
                continue;
            }
            if let Some(&stand_in) = rest.iter().find(|n| !targets.contains_key(n)) {
                targets.insert(stand_in, Some(owner));
            }
        }
    }
}
