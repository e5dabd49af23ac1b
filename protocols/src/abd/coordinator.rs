//! The coordinator side of ABD: the replica a client picked runs the
//! client's operation over majority quorums, itself included.
//!
//! - Get: query a majority for `(tag, value)`, take the highest, write it
//!   back to a majority (skipped when a majority already holds it, or when
//!   it is the initial absent value), reply.
//! - Put: query a majority for the highest tag, store the value under the
//!   next tag (`seq + 1`, this node's id) at a majority, reply. The highest
//!   tag includes what this node holds when it picks the tag, which its
//!   own earlier picks raised: concurrent writes through one coordinator
//!   saw the same maximum in their queries but still get distinct tags.
//!
//! The coordinator answers its own query from its registers and counts its
//! own store once durable; its store is persisted before the `Store`
//! messages are emitted, so they leave only once it is durable. A phase that
//! lacks its quorum resends its message, on a timer, to the replicas that
//! have not answered. Replies are matched to operations by [`OpId`], whose
//! epoch is drawn at start, so replies from an earlier incarnation are
//! ignored.
//!
//! Retried requests: while a request runs, a retry of it is ignored (the
//! one reply answers both); once done, a retry gets the remembered answer.
//! Both are lost in a crash, so a write's tag is persisted with its request
//! id before its stores leave: a retry after a restart finishes the write
//! under that tag, never under a second, newer one, which would apply the
//! write again after writes that followed it (a read could then see its
//! value come back).

use super::messages::{AbdMessage, AbdTimer, OpId, Tag};
use super::Abd;
use crate::client::{ClientReply, ClientRequest, ReplyBody};
use crate::core::Ctx;
use crate::kv::{Command, Key, Response, Value};
use crate::types::{NodeId, RequestId};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The least retry interval used, whatever the config says, so a zero does
/// not spin.
const MIN_RETRY: Duration = Duration::from_millis(1);

/// What an operation does.
#[derive(Clone, Debug)]
pub(crate) enum OpKind {
    Read,
    Write(Value),
}

/// Where an operation is.
#[derive(Clone, Debug)]
pub(crate) enum Phase {
    /// Collecting `(tag, value)` per replica (the highest each reported).
    Query {
        replies: BTreeMap<NodeId, (Tag, Option<Value>)>,
    },
    /// Storing `(tag, value)`; `response` goes to the client at the end.
    Store {
        tag: Tag,
        value: Value,
        acks: BTreeSet<NodeId>,
        response: Response,
    },
}

/// One client operation this node coordinates.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    pub(crate) request: RequestId,
    pub(crate) key: Key,
    pub(crate) kind: OpKind,
    pub(crate) phase: Phase,
}

/// Per client: the request this node runs for it, or the answer to the last
/// one it finished (clients have one request outstanding at a time).
#[derive(Clone, Debug)]
pub(crate) enum Session {
    Running { seq: u64, op: u64 },
    Done { seq: u64, response: Response },
}

impl Abd {
    fn retry_after(&self) -> Duration {
        self.config.retry_interval.max(MIN_RETRY)
    }

    fn op_id(&self, n: u64) -> OpId {
        OpId {
            epoch: self.epoch,
            n,
        }
    }

    fn reply(&self, ctx: &mut Ctx<'_, Abd>, id: RequestId, body: ReplyBody) {
        let reply = ClientReply {
            id,
            from: self.id,
            body,
        };
        ctx.reply(id.client, reply);
    }

    /// A client request arrived: reject what ABD cannot do, deduplicate
    /// retries, start the rest.
    pub(crate) fn client_request(&mut self, ctx: &mut Ctx<'_, Abd>, request: ClientRequest) {
        let id = request.id;
        let (key, kind) = match request.command {
            Command::Get { key } => (key, OpKind::Read),
            Command::Put { key, value } => (key, OpKind::Write(value)),
            Command::Cas { .. } => {
                let reason = "abd does not support compare-and-set: a conditional write \
                              needs consensus, which ABD's quorums do not provide"
                    .to_string();
                self.reply(ctx, id, ReplyBody::Rejected { reason });
                return;
            }
        };
        match self.sessions.get(&id.client) {
            Some(Session::Running { seq, .. }) if *seq >= id.seq => return,
            Some(Session::Done { seq, response }) if *seq == id.seq => {
                let body = ReplyBody::Done(response.clone());
                self.reply(ctx, id, body);
                return;
            }
            Some(Session::Done { seq, .. }) if *seq > id.seq => return,
            Some(Session::Running { op, .. }) => {
                // The client gave up on its older request: stop running it.
                let op = *op;
                self.ops.remove(&op);
                ctx.cancel_timer(AbdTimer::Retry(op));
            }
            _ => {}
        }
        let n = self.next_op;
        self.next_op += 1;
        self.sessions
            .insert(id.client, Session::Running { seq: id.seq, op: n });
        // A write tagged before a crash is finished under its tag: writing
        // it again under a new one would re-apply it after later writes.
        let earlier = match &kind {
            OpKind::Write(_) => self.registers.assigned(id).cloned(),
            OpKind::Read => None,
        };
        if let Some(a) = earlier.filter(|a| a.key == key) {
            self.ops.insert(
                n,
                Operation {
                    request: id,
                    key,
                    kind: OpKind::Write(a.value.clone()),
                    phase: Phase::Query {
                        replies: BTreeMap::new(),
                    },
                },
            );
            let response = Response::Written { version: a.tag.seq };
            self.enter_store(ctx, n, a.tag, a.value, response);
            return;
        }
        let mut replies = BTreeMap::new();
        replies.insert(self.id, self.registers.read(key));
        self.ops.insert(
            n,
            Operation {
                request: id,
                key,
                kind,
                phase: Phase::Query { replies },
            },
        );
        ctx.broadcast(AbdMessage::Query {
            op: self.op_id(n),
            key,
        });
        ctx.set_timer(AbdTimer::Retry(n), self.retry_after());
        self.advance(ctx, n);
    }

    /// A query reply from `from` for operation `op`.
    pub(crate) fn query_reply(
        &mut self,
        ctx: &mut Ctx<'_, Abd>,
        from: NodeId,
        op: OpId,
        tag: Tag,
        value: Option<Value>,
    ) {
        if op.epoch != self.epoch {
            return;
        }
        let Some(Operation {
            phase: Phase::Query { replies },
            ..
        }) = self.ops.get_mut(&op.n)
        else {
            return;
        };
        let newer = replies.get(&from).is_none_or(|(t, _)| tag > *t);
        if newer {
            replies.insert(from, (tag, value));
        }
        self.advance(ctx, op.n);
    }

    /// A store acknowledgement from `from` (possibly this node itself).
    pub(crate) fn store_ack(&mut self, ctx: &mut Ctx<'_, Abd>, from: NodeId, op: OpId) {
        if op.epoch != self.epoch {
            return;
        }
        let Some(Operation {
            phase: Phase::Store { acks, .. },
            ..
        }) = self.ops.get_mut(&op.n)
        else {
            return;
        };
        acks.insert(from);
        self.advance(ctx, op.n);
    }

    /// Persists up to `upto` are durable: count this node's own stores.
    pub(crate) fn local_acks(&mut self, ctx: &mut Ctx<'_, Abd>, upto: u64) {
        while self.local_acks.front().is_some_and(|(seq, _)| *seq <= upto) {
            if let Some((_, n)) = self.local_acks.pop_front() {
                let op = self.op_id(n);
                self.store_ack(ctx, self.id, op);
            }
        }
    }

    /// Moves operation `n` on if its phase has its quorum.
    fn advance(&mut self, ctx: &mut Ctx<'_, Abd>, n: u64) {
        let quorum = self.cluster.majority();
        let Some(op) = self.ops.get(&n) else {
            return;
        };
        match &op.phase {
            Phase::Query { replies } if replies.len() >= quorum => {
                let (max_tag, max_value) = replies
                    .values()
                    .max_by_key(|(t, _)| *t)
                    .cloned()
                    .unwrap_or((Tag::ZERO, None));
                let holders = replies.values().filter(|(t, _)| *t == max_tag).count();
                match (&op.kind, max_value) {
                    (OpKind::Write(value), _) => {
                        // Above what this node holds now, too: two writes it
                        // coordinates at once saw the same maximum, and must
                        // not take the same tag.
                        let tag = max_tag.max(self.registers.tag(op.key)).successor(self.id);
                        let response = Response::Written { version: tag.seq };
                        let value = value.clone();
                        self.enter_store(ctx, n, tag, value, response);
                    }
                    (OpKind::Read, Some(value)) => {
                        let response = Response::Value {
                            value: Some(value.clone()),
                            version: max_tag.seq,
                        };
                        let settled = self.config.unsafe_skip_write_back
                            || (self.config.read_fast_path && holders >= quorum);
                        if settled {
                            self.finish(ctx, n, response);
                        } else {
                            self.enter_store(ctx, n, max_tag, value, response);
                        }
                    }
                    // Nothing written yet: every replica already holds the
                    // zero tag, so there is nothing to write back.
                    (OpKind::Read, None) => {
                        let response = Response::Value {
                            value: None,
                            version: 0,
                        };
                        self.finish(ctx, n, response);
                    }
                }
            }
            Phase::Store { acks, response, .. } if acks.len() >= quorum => {
                let response = response.clone();
                self.finish(ctx, n, response);
            }
            _ => {}
        }
    }

    /// Starts the store phase of operation `n`: store locally (persisted,
    /// for a write with the tag it was given, before any `Store` leaves),
    /// then at the others.
    fn enter_store(
        &mut self,
        ctx: &mut Ctx<'_, Abd>,
        n: u64,
        tag: Tag,
        value: Value,
        response: Response,
    ) {
        let Some(op) = self.ops.get_mut(&n) else {
            return;
        };
        let key = op.key;
        let writer = matches!(op.kind, OpKind::Write(_)).then_some(op.request);
        op.phase = Phase::Store {
            tag,
            value: value.clone(),
            acks: BTreeSet::new(),
            response,
        };
        match writer {
            Some(w) => self.registers.assign(ctx, w, key, tag, value.clone()),
            None => {
                self.registers.store(ctx, key, tag, value.clone());
            }
        }
        let op_id = self.op_id(n);
        ctx.broadcast(AbdMessage::Store {
            op: op_id,
            key,
            tag,
            value,
        });
        ctx.set_timer(AbdTimer::Retry(n), self.retry_after());
        match self.registers.undurable() {
            Some(seq) => self.local_acks.push_back((seq, n)),
            None => self.store_ack(ctx, self.id, op_id),
        }
    }

    /// Operation `n` is done: answer the client and remember the answer.
    fn finish(&mut self, ctx: &mut Ctx<'_, Abd>, n: u64, response: Response) {
        let Some(op) = self.ops.remove(&n) else {
            return;
        };
        ctx.cancel_timer(AbdTimer::Retry(n));
        let id = op.request;
        self.sessions.insert(
            id.client,
            Session::Done {
                seq: id.seq,
                response: response.clone(),
            },
        );
        self.reply(ctx, id, ReplyBody::Done(response));
    }

    /// The retry timer of operation `n` fired: resend its phase's message
    /// to every replica that has not answered it.
    pub(crate) fn retry(&mut self, ctx: &mut Ctx<'_, Abd>, n: u64) {
        let Some(op) = self.ops.get(&n) else {
            return;
        };
        let op_id = self.op_id(n);
        let (msg, answered) = match &op.phase {
            Phase::Query { replies } => (
                AbdMessage::Query {
                    op: op_id,
                    key: op.key,
                },
                replies.keys().copied().collect::<BTreeSet<_>>(),
            ),
            Phase::Store {
                tag, value, acks, ..
            } => (
                AbdMessage::Store {
                    op: op_id,
                    key: op.key,
                    tag: *tag,
                    value: value.clone(),
                },
                acks.clone(),
            ),
        };
        for to in self.cluster.nodes() {
            if to != self.id && !answered.contains(&to) {
                ctx.send(to, msg.clone());
            }
        }
        ctx.set_timer(AbdTimer::Retry(n), self.retry_after());
    }
}
