//! A tiny deterministic driver for the Dynamo unit tests: a message queue
//! delivered on request, timers on a virtual clock, the real [`SendGate`]
//! between each core and the network, and a disk that makes persists
//! durable at once unless a test holds it.

use super::*;
use crate::core::{Action, ActionOf};
use crate::gate::SendGate;
use crate::kv::{Command, Value};
use crate::types::Time;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

/// Something a node sends, as the gate holds it.
#[derive(Debug)]
pub(super) enum Out {
    Send(NodeId, DynamoMessage),
    Reply(ClientReply),
}

/// A cluster of Dynamo nodes wired by hand.
pub(super) struct Net {
    pub(super) nodes: Vec<Dynamo>,
    pub(super) config: DynamoConfig,
    gates: Vec<SendGate<Out>>,
    pending: Vec<Vec<(u64, DynamoRecord)>>,
    pub(super) durable: Vec<Vec<DynamoRecord>>,
    pub(super) queue: VecDeque<(NodeId, NodeId, DynamoMessage)>,
    pub(super) replies: Vec<ClientReply>,
    /// Nodes whose messages (both ways) are lost.
    pub(super) down: BTreeSet<NodeId>,
    /// Nodes whose persists stay pending until `flush`.
    pub(super) hold_disk: BTreeSet<NodeId>,
    timers: Vec<BTreeMap<DynamoTimer, Time>>,
    pub(super) now: Time,
    rng: ChaCha8Rng,
    next_seq: u64,
}

impl Net {
    pub(super) fn new(size: u32, config: DynamoConfig) -> Net {
        let n = size as usize;
        let mut net = Net {
            nodes: Vec::new(),
            config,
            gates: (0..n).map(|_| SendGate::new()).collect(),
            pending: vec![Vec::new(); n],
            durable: vec![Vec::new(); n],
            queue: VecDeque::new(),
            replies: Vec::new(),
            down: BTreeSet::new(),
            hold_disk: BTreeSet::new(),
            timers: vec![BTreeMap::new(); n],
            now: Time::ZERO,
            rng: ChaCha8Rng::seed_from_u64(11),
            next_seq: 0,
        };
        let cluster = Cluster::new(size);
        for i in 0..size {
            let node = Dynamo::recover(i, &cluster, &net.config, Vec::new());
            net.nodes.push(node);
            net.step(i, |d, ctx| d.start(ctx));
        }
        net
    }

    /// Runs one input on `node` and routes its actions.
    pub(super) fn step(&mut self, node: NodeId, f: impl FnOnce(&mut Dynamo, &mut Ctx<'_, Dynamo>)) {
        let i = node as usize;
        let mut out: Vec<ActionOf<Dynamo>> = Vec::new();
        {
            let mut ctx = Ctx::new(self.now, &mut self.rng, &mut out);
            f(&mut self.nodes[i], &mut ctx);
        }
        for action in out {
            match action {
                Action::Persist { seq, record } => {
                    self.gates[i].persist_issued(seq).expect("persist order");
                    self.pending[i].push((seq, record));
                }
                Action::Send { to, msg } => self.submit(node, Out::Send(to, msg)),
                Action::Broadcast { msg } => {
                    for to in 0..self.nodes.len() as NodeId {
                        if to != node {
                            self.submit(node, Out::Send(to, msg.clone()));
                        }
                    }
                }
                Action::Reply { reply, .. } => self.submit(node, Out::Reply(reply)),
                Action::SetTimer { timer, after } => {
                    self.timers[i].insert(timer, self.now.plus(after));
                }
                Action::CancelTimer { timer } => {
                    self.timers[i].remove(&timer);
                }
                Action::Emit(_) | Action::Applied { .. } => {}
            }
        }
        if !self.hold_disk.contains(&node) {
            self.flush(node);
        }
    }

    fn submit(&mut self, from: NodeId, out: Out) {
        if let Some(out) = self.gates[from as usize].submit(out) {
            self.emit(from, out);
        }
    }

    fn emit(&mut self, from: NodeId, out: Out) {
        match out {
            Out::Send(to, msg) => {
                if !self.down.contains(&from) && !self.down.contains(&to) {
                    self.queue.push_back((from, to, msg));
                }
            }
            Out::Reply(reply) => self.replies.push(reply),
        }
    }

    /// Makes every pending persist of `node` durable.
    pub(super) fn flush(&mut self, node: NodeId) {
        let i = node as usize;
        let Some(upto) = self.pending[i].last().map(|(s, _)| *s) else {
            return;
        };
        for (_, record) in std::mem::take(&mut self.pending[i]) {
            self.durable[i].push(record);
        }
        for out in self.gates[i].durable(upto).unwrap_or_default() {
            self.emit(node, out);
        }
        self.step(node, |d, ctx| d.on_persisted(ctx, upto));
    }

    /// Delivers queued messages (and what they cause) until none is left.
    pub(super) fn deliver_all(&mut self) {
        while let Some((from, to, msg)) = self.queue.pop_front() {
            if self.down.contains(&from) || self.down.contains(&to) {
                continue;
            }
            self.step(to, |d, ctx| d.on_message(ctx, from, msg));
        }
    }

    /// Delivers the queued messages `select` picks; the others stay queued
    /// (ahead of what the delivered ones cause).
    pub(super) fn deliver_only(&mut self, select: impl Fn(NodeId, NodeId) -> bool) {
        let batch: Vec<_> = self.queue.drain(..).collect();
        let mut kept = VecDeque::new();
        for (from, to, msg) in batch {
            if select(from, to) {
                self.step(to, |d, ctx| d.on_message(ctx, from, msg));
            } else {
                kept.push_back((from, to, msg));
            }
        }
        kept.extend(self.queue.drain(..));
        self.queue = kept;
    }

    /// Moves the clock forward by `d`, firing due timers (earliest first)
    /// and delivering every message in between.
    pub(super) fn advance(&mut self, d: Duration) {
        let end = self.now.plus(d);
        self.deliver_all();
        loop {
            let next = self
                .timers
                .iter()
                .enumerate()
                .flat_map(|(n, ts)| ts.iter().map(move |(t, at)| (*at, n, t.clone())))
                .filter(|(at, _, _)| *at <= end)
                .min();
            let Some((at, n, timer)) = next else {
                break;
            };
            self.now = self.now.max(at);
            self.timers[n].remove(&timer);
            self.step(n as NodeId, |d, ctx| d.on_timer(ctx, timer));
            self.deliver_all();
        }
        self.now = end;
    }

    /// Crashes `node` (losing what is not durable) and restarts it from
    /// its durable records.
    pub(super) fn restart(&mut self, node: NodeId) {
        let i = node as usize;
        self.pending[i].clear();
        self.gates[i] = SendGate::new();
        self.timers[i].clear();
        let cluster = Cluster::new(self.nodes.len() as u32);
        let records = self.durable[i].clone();
        self.nodes[i] = Dynamo::recover(node, &cluster, &self.config, records);
        self.step(node, |d, ctx| d.start(ctx));
    }

    /// Sends a client request with a fresh id to `node`; returns the id.
    pub(super) fn request(
        &mut self,
        node: NodeId,
        command: Command,
        context: Option<VersionVector>,
    ) -> RequestId {
        self.next_seq += 1;
        let id = RequestId {
            client: 1,
            seq: self.next_seq,
        };
        let request = ClientRequest {
            id,
            command,
            context,
            auth: Vec::new(),
        };
        self.step(node, |d, ctx| d.on_client_request(ctx, request));
        id
    }

    /// Starts a put of `value` to `key` at `node`.
    pub(super) fn put(
        &mut self,
        node: NodeId,
        key: Key,
        value: &str,
        context: Option<VersionVector>,
    ) -> RequestId {
        let value = Value::from(value.to_string());
        self.request(node, Command::Put { key, value }, context)
    }

    /// Starts a get of `key` at `node`.
    pub(super) fn get(&mut self, node: NodeId, key: Key) -> RequestId {
        self.request(node, Command::Get { key }, None)
    }

    /// The answer to `id`, if one came.
    pub(super) fn answer(&self, id: RequestId) -> Option<&ReplyBody> {
        self.replies
            .iter()
            .rev()
            .find(|r| r.id == id)
            .map(|r| &r.body)
    }

    /// The response to `id`; panics if there is none or it is no `Done`.
    pub(super) fn response(&self, id: RequestId) -> Response {
        match self.answer(id) {
            Some(ReplyBody::Done(r)) => r.clone(),
            other => panic!("no response to {id}: {other:?}"),
        }
    }
}
