//! The node runtime: one protocol core driven by the network, a monotonic
//! clock and stable storage, on one thread.
//!
//! Each turn of the loop handles one input (or a burst of queued inputs),
//! then group-commits every record the burst produced with a single write
//! and sync, releases the sends that waited on them (the send gate of
//! `protocols::gate`), tells the core what is durable, and flushes output.
//! Batching inputs before one sync is what makes fsync affordable.

use super::storage::Storage;
use super::timers::Timers;
use anyhow::Context;
use net::PeerIdentity as Endpoint;
use protocols::client::ClientReply;
use protocols::core::{Action, ActionOf, Cluster, Ctx, NodeEvent, Protocol};
use protocols::gate::SendGate;
use protocols::types::{ClientId, NodeId, Time};
use protocols::wire::{ControlReply, ControlRequest, Wire};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::io::Write;
use tokio::time::Instant;

/// The network as the node runtime sees it.
#[allow(async_fn_in_trait)]
pub trait NodeLink<M> {
    /// The next inbound message; `None` when the transport is closed.
    async fn recv(&mut self) -> Option<(Endpoint, Wire<M>)>;
    /// An inbound message if one is queued right now.
    fn try_recv(&mut self) -> Option<(Endpoint, Wire<M>)>;
    /// Sends (waits while the destination's bounded queue is full).
    async fn send(&mut self, to: Endpoint, msg: Wire<M>);
    /// Sends to every other replica.
    async fn broadcast(&mut self, msg: Wire<M>);
    /// Applies link shaping to this node's outgoing links.
    fn shape(&self, shape: &protocols::wire::LinkShape) -> Result<(), String>;
    /// What this node has sent so far (zero for links that do not count).
    fn traffic(&self) -> protocols::wire::Traffic {
        protocols::wire::Traffic::default()
    }
}

/// A send that may have to wait for a persist.
enum Out<M> {
    Peer(NodeId, M),
    All(M),
    Reply(ClientId, ClientReply),
}

/// Most inputs handled before one group commit.
const BURST: usize = 256;

/// Hosts core `P`.
pub struct Host<P: Protocol> {
    id: NodeId,
    core: P,
    rng: ChaCha8Rng,
    origin: Instant,
    timers: Timers<P::Timer>,
    storage: Storage,
    gate: SendGate<Out<P::Message>>,
    ready: Vec<Out<P::Message>>,
    actions: Vec<ActionOf<P>>,
    clients: BTreeMap<ClientId, Endpoint>,
    events: Box<dyn Write>,
    unix_origin_ns: u128,
}

impl<P: Protocol> Host<P> {
    /// Builds the core from recovered records and starts it.
    pub fn new(
        id: NodeId,
        cluster: &Cluster,
        config: &P::Config,
        records: Vec<P::Record>,
        storage: Storage,
        rng: ChaCha8Rng,
        events: Box<dyn Write>,
    ) -> Host<P> {
        let core = P::recover(id, cluster, config, records);
        let unix_origin_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut host = Host {
            id,
            core,
            rng,
            origin: Instant::now(),
            timers: Timers::default(),
            storage,
            gate: SendGate::new(),
            ready: Vec::new(),
            actions: Vec::new(),
            clients: BTreeMap::new(),
            events,
            unix_origin_ns,
        };
        host.log_event("node_started", "");
        host.step(|core, ctx| core.start(ctx));
        host
    }

    fn now(&self) -> Time {
        Time(u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// Appends an event line: unix time (ns), node, kind, detail.
    fn log_event(&mut self, kind: &str, detail: &str) {
        let t = self.unix_origin_ns + self.origin.elapsed().as_nanos();
        let _ = writeln!(self.events, "{t},{},{kind},{detail}", self.id);
        let _ = self.events.flush();
    }

    fn step(&mut self, f: impl FnOnce(&mut P, &mut Ctx<'_, P>)) {
        let now = self.now();
        let mut actions = std::mem::take(&mut self.actions);
        {
            let mut ctx = Ctx::new(now, &mut self.rng, &mut actions);
            f(&mut self.core, &mut ctx);
        }
        for action in actions.drain(..) {
            self.carry_out(action);
        }
        self.actions = actions;
    }

    fn carry_out(&mut self, action: ActionOf<P>) {
        match action {
            Action::Send { to, msg } => self.submit(Out::Peer(to, msg)),
            Action::Broadcast { msg } => self.submit(Out::All(msg)),
            Action::Reply { to, reply } => self.submit(Out::Reply(to, reply)),
            Action::SetTimer { timer, after } => self.timers.set(timer, Instant::now() + after),
            Action::CancelTimer { timer } => self.timers.cancel(&timer),
            Action::Persist { seq, record } => {
                if let Err(e) = self.gate.persist_issued(seq) {
                    self.log_event("contract_violation", &e.to_string());
                    return;
                }
                if let Err(e) = self.storage.append_encoded(&record) {
                    self.log_event("storage_error", &e.to_string());
                }
            }
            Action::Emit(event) => {
                let (kind, detail) = match &event {
                    NodeEvent::LeaderElected { term } => ("leader_elected", term.to_string()),
                    NodeEvent::SteppedDown { term } => ("stepped_down", term.to_string()),
                    NodeEvent::CaughtUp { index } => ("caught_up", index.to_string()),
                    NodeEvent::Note(s) => ("note", s.replace([',', '\n'], " ")),
                };
                self.log_event(kind, &detail);
            }
            Action::Applied { .. } => {}
        }
    }

    fn submit(&mut self, out: Out<P::Message>) {
        if let Some(out) = self.gate.submit(out) {
            self.ready.push(out);
        }
    }

    /// Group commit: makes queued records durable and releases what waited.
    fn commit(&mut self) -> anyhow::Result<()> {
        while self.gate.issued() > self.gate.durable_upto() {
            self.storage
                .commit()
                .context("committing the write-ahead log")?;
            let upto = self.gate.issued();
            if let Some(released) = self.gate.durable(upto) {
                self.ready.extend(released);
            }
            self.step(|core, ctx| core.on_persisted(ctx, upto));
        }
        Ok(())
    }

    fn handle<L: NodeLink<P::Message>>(
        &mut self,
        link: &L,
        from: Endpoint,
        msg: Wire<P::Message>,
    ) -> Option<(Endpoint, Wire<P::Message>)> {
        match (from, msg) {
            (Endpoint::Node(peer), Wire::Peer(m)) => {
                self.step(|core, ctx| core.on_message(ctx, peer, m));
                None
            }
            (conn, Wire::Request(request)) => {
                self.clients.insert(request.id.client, conn);
                self.step(|core, ctx| core.on_client_request(ctx, request));
                None
            }
            (conn, Wire::Control(req)) => {
                let reply = match req {
                    ControlRequest::Status => ControlReply::Status(self.core.status()),
                    ControlRequest::Shape(shape) => match link.shape(&shape) {
                        Ok(()) => ControlReply::Ok,
                        Err(e) => ControlReply::Error(e),
                    },
                    ControlRequest::Shutdown => ControlReply::Ok,
                    ControlRequest::Traffic => ControlReply::Traffic(link.traffic()),
                };
                Some((conn, Wire::ControlReply(reply)))
            }
            // Anything else (a reply sent to a node, a peer message from a
            // client connection) is ignored.
            _ => None,
        }
    }

    async fn flush<L: NodeLink<P::Message>>(&mut self, link: &mut L) {
        for out in std::mem::take(&mut self.ready) {
            match out {
                Out::Peer(to, m) => link.send(Endpoint::Node(to), Wire::Peer(m)).await,
                Out::All(m) => link.broadcast(Wire::Peer(m)).await,
                Out::Reply(client, reply) => {
                    if let Some(&conn) = self.clients.get(&client) {
                        link.send(conn, Wire::Reply(reply)).await;
                    }
                }
            }
        }
    }

    /// Runs until the transport closes or a shutdown request arrives.
    pub async fn run<L: NodeLink<P::Message>>(mut self, link: &mut L) -> anyhow::Result<()> {
        loop {
            self.commit()?;
            self.flush(link).await;
            let deadline = self.timers.next_deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                inbound = link.recv() => {
                    let Some((from, msg)) = inbound else { break };
                    let mut shutdown = matches!(msg, Wire::Control(ControlRequest::Shutdown));
                    let mut answers = Vec::new();
                    answers.extend(self.handle(&*link, from, msg));
                    // Drain a burst so one commit covers many inputs.
                    for _ in 0..BURST {
                        let Some((from, msg)) = link.try_recv() else { break };
                        shutdown |= matches!(msg, Wire::Control(ControlRequest::Shutdown));
                        answers.extend(self.handle(&*link, from, msg));
                    }
                    self.commit()?;
                    self.flush(link).await;
                    for (to, answer) in answers {
                        link.send(to, answer).await;
                    }
                    if shutdown {
                        self.log_event("node_stopped", "shutdown requested");
                        break;
                    }
                }
                () = sleep => {
                    for timer in self.timers.due(Instant::now()) {
                        self.step(|core, ctx| core.on_timer(ctx, timer));
                    }
                }
            }
        }
        Ok(())
    }
}
