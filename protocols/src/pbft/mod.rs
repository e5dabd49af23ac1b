//! PBFT (Castro and Liskov, "Practical Byzantine Fault Tolerance", OSDI
//! 1999; "... and Proactive Recovery", TOCS 2002) as a sans-IO core.
//!
//! What is implemented, and where the papers leave room, what was chosen:
//! - `n` replicas tolerate `f = (n - 1) / 3` Byzantine ones; quorums have
//!   `(n + f) / 2 + 1` replicas (`2f + 1` when `n = 3f + 1`);
//! - normal case (`normal.rs`): clients send to the primary; backups that
//!   get a request relay it to the primary and start their view-change
//!   timer. The primary batches waiting requests (up to `max_batch` per
//!   sequence number, up to `max_inflight` sequence numbers in flight);
//!   pre-prepare, prepare (prepared = the pre-prepare plus `2f` matching
//!   prepares from backups), commit (committed = `2f + 1` matching
//!   commits), execution in sequence order; every replica answers the
//!   client, which accepts `f + 1` matching answers ([`client`]);
//! - the read-only optimisation (`read_only.rs`, off by default:
//!   [`PbftConfig::read_only`]): a client sends a read to every replica,
//!   which answers it at once from its executed state (always a committed
//!   prefix: there is no tentative execution here) when active in its view;
//!   the client accepts `2f + 1` matching answers and otherwise (mismatch,
//!   timeout) sends the read again to be ordered. With it on, clients also
//!   wait for `2f + 1` matching answers to ordered requests, Castro and
//!   Liskov's condition for linearizability;
//! - retransmission: every `retransmit_interval` a replica resends its
//!   pre-prepares/prepares/commits for sequence numbers that it or a peer in
//!   its view has not executed yet, its view change while changing views,
//!   pending requests to the primary, its latest checkpoint and a status
//!   report (view, executed);
//! - checkpoints every `checkpoint_interval` sequence numbers
//!   (`checkpoint.rs`): the state is named by a chain digest over the
//!   executed batches; `2f + 1` matching checkpoint messages make one
//!   stable, which truncates the message log and moves the window
//!   `(stable, stable + log_window]`. A replica that fell behind fetches
//!   executed batches from the others and accepts them once `f + 1`
//!   replicas vouch for the same chain digest (or the new view fixed it);
//! - view change without signatures (`view_change.rs`), following the TOCS
//!   paper's `P`/`Q` rules: a replica (the primary too) asks for view
//!   `v + 1` when a request it knows of does not execute in time, joins a
//!   view change once `f + 1` replicas are in higher views (their view
//!   changes or status reports), waits for the new view with a timer that
//!   starts only once a quorum is changing to this view or a later one, and
//!   doubles its timeout after each view change that brings no progress
//!   (up to 16 times). View changes carry the prepared (`P`)
//!   and pre-prepared (`Q`) sets and the sender's checkpoints; the new
//!   primary decides the starting checkpoint and every sequence number
//!   above it from them and announces only *which* view changes it used.
//!   Every replica recomputes the decision from its own copies, which came
//!   over authenticated channels, so a primary cannot invent them;
//! - everything a replica sends that others count on (accepted
//!   pre-prepares, prepared certificates, executed batches, view changes,
//!   views) is persisted first, so a crashed replica that recovers is a slow
//!   correct replica, not a faulty one;
//! - Byzantine behaviour for tests ([`config::ByzantineKind`]) is a
//!   per-replica knob of the configuration: the replica runs the correct
//!   protocol and lies in what it sends;
//! - authentication (`auth`, [`crate::auth`], `authn.rs`): every
//!   replica-to-replica message travels in an [`Envelope`] with a MAC (one
//!   receiver), an authenticator of one MAC per other replica (broadcasts)
//!   or the sender's ed25519 signature, over bytes that bind the sender,
//!   the view and the sequence number; client requests carry the client's
//!   authenticator (a MAC per replica, or a signature). Whatever fails a
//!   check is dropped and counted ([`Pbft::auth_rejections`]). Keys are
//!   derived from `key_seed` (a lab simplification, see [`crate::auth`]).
//!
//! # What each authentication mode defends against, and what not
//!
//! The transport authenticates peers (mutual TLS; the simulator delivers
//! the true sender), so in every mode a replica cannot pose as another one
//! on a link, and a replayed message can only be the replayer's own.
//!
//! `auth: none` (the default):
//! - client requests are not authenticated: a faulty primary or backup can
//!   forge a request in a client's name (the session table then answers
//!   the real request with the forged one's result); the `Forge` tests
//!   show this breaks linearizability on most seeds;
//! - view changes are not relayed with proofs: a faulty replica that sends
//!   *different* view changes to different replicas makes backups disagree
//!   with the new primary about the new view; they reject it and move on to
//!   the next view (a liveness attack, not a safety one);
//! - a faulty replica's `P` set may claim anything; rules A1/A2 of the
//!   view-change decision keep such claims from winning (see
//!   `view_change.rs`), but a claim can delay the decision until more view
//!   changes arrive.
//!
//! `auth: mac` (Castro and Liskov's MAC variant) adds:
//! - client authenticators: a replica holds only its own key with each
//!   client, so it cannot make up a request in a client's name, and a
//!   backup refuses a pre-prepare carrying one (the real request's
//!   authenticator does not carry over: it binds the client, the sequence
//!   number and the command);
//! - MACs on every replica message. With an authenticating transport they
//!   add little beyond that transport (they would replace it on an
//!   unauthenticated one) but they make the cost measurable, and a MAC
//!   made for one receiver is refused by the others;
//! - MACs are not transferable, so nothing relayed can be proven: the view
//!   change keeps "every replica recomputes the new view from view changes
//!   it received directly", and the `none` mode's view-change caveats stay.
//!   A faulty *client* could send an authenticator valid for some replicas
//!   only (the primary accepts, backups refuse the pre-prepare, a view
//!   change follows); the simulator's clients are correct, and the paper's
//!   remedy (backups fetch such requests themselves) is not implemented.
//!
//! `auth: signatures` (PBFT-PK) adds, over `mac`:
//! - signed requests and messages, checkable by anyone;
//! - prepared certificates: every `P` entry of a view change carries the
//!   primary's signed pre-prepare and `2f` signed prepares for its (view,
//!   sequence number, digest); a view change with an entry that does not
//!   check is dropped, so a faulty replica cannot claim that something
//!   prepared that did not (nor delay the decision with such a claim);
//! - the new-view still names view changes instead of carrying them: view
//!   changes are retransmitted until the view starts, so every replica
//!   gets its own copy (see `view_change.rs` for why that suffices); the
//!   equivocating-view-change liveness attack above therefore remains;
//! - cost: about 25 ed25519 verifications per sequence number with `n = 4`
//!   (retransmissions and duplicates hit a cache of checked signatures).
//!   In bytes a signature (64) is smaller than an authenticator once
//!   `n > 3` (32 per receiver; the paper's MACs were 8-10 bytes, these are
//!   full HMAC-SHA256 tags), so `mac` sends more bytes and `signatures`
//!   more CPU.
//!
//! In every mode: digests are 64-bit FNV, not collision resistant, and
//! MACs and signatures cover digests, so a digest collision would carry
//! over to them; checkpoints and the chain digests of state transfer are
//! trusted on `f + 1` matching votes, not on certificates; keys are
//! derived from a shared seed, so the lab's replicas *could* compute each
//! other's keys; the faulty replicas of the tests are written not to.
//!
//! Not implemented yet: snapshots (state transfer sends executed batches;
//! the ledger of executed batches is kept whole), and tentative execution.

mod authn;
mod byzantine;
mod checkpoint;
pub mod client;
pub mod config;
pub mod messages;
mod normal;
mod read_only;
#[cfg(test)]
mod tests;
mod view_change;

pub use client::PbftClient;
pub use config::{Byzantine, ByzantineKind, PbftConfig};
pub use messages::{Auth, Batch, Envelope, PbftMessage, PbftRecord, PbftTimer, ViewChange};

use crate::auth::Keyring;
use crate::client::{ClientReply, ClientRequest};
use crate::core::{Cluster, Ctx, NodeEvent, NodeStatus, Protocol, Role, Timing};
use crate::kv::KvStore;
use crate::sessions::Sessions;
use crate::types::{ClientId, NodeId};
use messages::{PreparedEntry, GENESIS};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// One sequence number's protocol state above the stable checkpoint.
#[derive(Clone, Debug, Default)]
struct Slot {
    /// The pre-prepare accepted in the current view: digest and batch.
    pp: Option<(u64, Batch)>,
    /// The primary's signature of that pre-prepare (`auth: signatures`).
    pp_sig: Option<Vec<u8>>,
    /// Prepare votes of the current view, one per sender.
    prepares: BTreeMap<NodeId, u64>,
    /// Their signatures (`auth: signatures`), for prepared certificates.
    prepare_sigs: BTreeMap<NodeId, Vec<u8>>,
    /// Commit votes of the current view, one per sender.
    commits: BTreeMap<NodeId, u64>,
    /// Prepared in the current view (and the commit sent).
    prepared: bool,
    /// Committed in the current view.
    committed: bool,
    /// `P`: the highest-view prepared certificate this replica holds.
    p: Option<PreparedEntry>,
    /// `Q`: per digest, the latest view in which it was pre-prepared here.
    q: BTreeMap<u64, u64>,
}

/// A PBFT replica.
#[derive(Debug)]
pub struct Pbft {
    id: NodeId,
    n: u32,
    f: usize,
    config: PbftConfig,
    byz: Option<ByzantineKind>,
    /// This replica's keys (see [`crate::auth`]).
    keys: Keyring,
    /// Messages and requests dropped because their authentication failed.
    auth_rejected: u64,
    /// Signatures checked or made already (`auth: signatures`).
    sigs: authn::SigCache,
    view: u64,
    /// In `view` and working (false while changing views).
    active: bool,
    log: BTreeMap<u64, Slot>,
    /// Next sequence number the primary assigns.
    next_seq: u64,
    /// Requests in not-yet-executed slots of the current view (primary).
    proposed: BTreeSet<(ClientId, u64)>,
    /// Pending client requests and answers to executed ones.
    sessions: Sessions,
    executed: u64,
    /// Executed batches; `ledger[i]` is sequence number `i + 1`.
    ledger: Vec<Batch>,
    /// Chain digest after each executed batch (parallel to `ledger`).
    chains: Vec<u64>,
    /// State-machine positions applied (requests and null batches).
    applied: u64,
    kv: KvStore,
    /// Own checkpoints at or above `stable`: seq -> chain digest.
    checkpoints: BTreeMap<u64, u64>,
    stable: u64,
    /// Checkpoint votes above `stable`: seq -> sender -> digest.
    checkpoint_votes: BTreeMap<u64, BTreeMap<NodeId, u64>>,
    /// Chain digests known good: fixed by a new view or vouched by `f + 1`.
    trusted: BTreeMap<u64, u64>,
    /// View changes received, per view and sender.
    view_changes: BTreeMap<u64, BTreeMap<NodeId, ViewChange>>,
    /// The last view change this replica sent.
    my_vc: Option<ViewChange>,
    /// A new-view that could not be checked yet (view changes missing).
    pending_new_view: Option<(u64, Vec<(NodeId, u64)>)>,
    /// The new-view this replica sent as primary of `view`.
    sent_new_view: Option<PbftMessage>,
    /// View changes since the last progress (the timeout doubles).
    vc_backoff: u32,
    vc_timer_armed: bool,
    /// Latest status per peer: (view, active, executed).
    peer_status: BTreeMap<NodeId, (u64, bool, u64)>,
    /// Executed count at the previous tick (state transfer trigger).
    executed_at_tick: u64,
    /// Verified state-transfer replies: sender -> (batches, chain digests).
    fetched: BTreeMap<NodeId, (Vec<Batch>, Vec<u64>)>,
    persist_seq: u64,
    /// Peers helped into the current view since the last tick (at most
    /// once per tick each, so two replicas never answer each other forever).
    helped: BTreeSet<NodeId>,
    /// Messages sent, for the replaying Byzantine replica.
    sent_log: Vec<(Option<NodeId>, Envelope)>,
    /// Requests made up in clients' names, for the forging Byzantine
    /// replica to send.
    forged: Vec<ClientRequest>,
    /// Client replies sent, for the replaying Byzantine replica.
    sent_replies: Vec<ClientReply>,
    /// Per client, the latest read answered read-only (`read_only.rs`): a
    /// later arrival of it is the client's fallback and gets ordered.
    read_only_seen: BTreeMap<ClientId, u64>,
    /// Previous values, for the stale-reads Byzantine replica.
    lagging: read_only::Lagging,
}

impl Pbft {
    /// The replica's stable checkpoint (the log holds nothing at or below it).
    pub fn stable_checkpoint(&self) -> u64 {
        self.stable
    }

    /// Sequence numbers the message log currently holds (bounded by the
    /// log window once checkpoints become stable).
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    /// Messages and client requests this replica dropped because their
    /// MAC, signature or prepared certificate did not check out.
    pub fn auth_rejections(&self) -> u64 {
        self.auth_rejected
    }

    /// The primary of `view`.
    fn primary_of(&self, view: u64) -> NodeId {
        (view % u64::from(self.n)) as NodeId
    }

    fn is_primary(&self) -> bool {
        self.primary_of(self.view) == self.id
    }

    /// Votes needed for a certificate: `2f + 1` for `n = 3f + 1`.
    fn quorum(&self) -> usize {
        if self.config.unsafe_small_quorum {
            self.f + 1
        } else {
            (self.n as usize + self.f) / 2 + 1
        }
    }

    fn is_peer(&self, from: NodeId) -> bool {
        from < self.n && from != self.id
    }

    /// Chain digest after `seq` (`GENESIS` for 0).
    fn chain_at(&self, seq: u64) -> Option<u64> {
        if seq == 0 {
            return Some(GENESIS);
        }
        self.chains.get(usize::try_from(seq - 1).ok()?).copied()
    }

    fn persist(&mut self, ctx: &mut Ctx<'_, Self>, record: PbftRecord) {
        self.persist_seq += 1;
        ctx.persist(self.persist_seq, record);
    }

    /// Sequence numbers this replica votes on: `(stable, stable + window]`.
    /// Only the stable checkpoint moves the window; the view-change decision
    /// relies on it (a correct replica never prepared beyond its window).
    fn in_window(&self, seq: u64) -> bool {
        seq > self.stable && seq <= self.stable + self.config.log_window
    }

    fn vc_timeout(&self) -> Duration {
        self.config.view_change_timeout * (1u32 << self.vc_backoff.min(4))
    }
}

impl Protocol for Pbft {
    type Message = Envelope;
    type Timer = PbftTimer;
    type Record = PbftRecord;
    type Config = PbftConfig;
    type Client = PbftClient;
    const NAME: &'static str = "pbft";

    fn recover(
        id: NodeId,
        cluster: &Cluster,
        config: &PbftConfig,
        records: Vec<PbftRecord>,
    ) -> Self {
        let mut s = Pbft {
            id,
            n: cluster.size.max(1),
            f: cluster.byzantine_f(),
            config: config.clone(),
            byz: config.byzantine_kind(id),
            keys: Keyring::new(config.auth, config.key_seed, cluster.size.max(1), id),
            auth_rejected: 0,
            sigs: authn::SigCache::default(),
            view: 0,
            active: true,
            log: BTreeMap::new(),
            next_seq: 1,
            proposed: BTreeSet::new(),
            sessions: Sessions::default(),
            executed: 0,
            ledger: Vec::new(),
            chains: Vec::new(),
            applied: 0,
            kv: KvStore::new(),
            checkpoints: BTreeMap::new(),
            stable: 0,
            checkpoint_votes: BTreeMap::new(),
            trusted: BTreeMap::new(),
            view_changes: BTreeMap::new(),
            my_vc: None,
            pending_new_view: None,
            sent_new_view: None,
            vc_backoff: 0,
            vc_timer_armed: false,
            peer_status: BTreeMap::new(),
            executed_at_tick: 0,
            fetched: BTreeMap::new(),
            persist_seq: 0,
            helped: BTreeSet::new(),
            sent_log: Vec::new(),
            forged: Vec::new(),
            sent_replies: Vec::new(),
            read_only_seen: BTreeMap::new(),
            lagging: read_only::Lagging::default(),
        };
        s.replay(records);
        s
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.rebuild_state(ctx);
        ctx.set_timer(PbftTimer::Tick, self.config.retransmit_interval);
        if !self.active {
            if let Some(vc) = self.my_vc.clone() {
                let id = self.id;
                self.view_changes
                    .entry(vc.view)
                    .or_default()
                    .insert(id, vc.clone());
                self.bcast(ctx, PbftMessage::ViewChange(vc));
            }
            self.arm_new_view_timer(ctx);
        } else if self.is_primary() && self.view > 0 {
            ctx.emit(NodeEvent::LeaderElected { term: self.view });
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, envelope: Envelope) {
        if !self.is_peer(from) || self.ignored_anyway(&envelope.msg) {
            return;
        }
        if !self.check_envelope(from, &envelope) {
            self.rejected(ctx, from, "message");
            return;
        }
        self.pass_on(ctx, from, &envelope);
        let sig = match envelope.auth {
            Auth::Signature(sig) => Some(sig),
            _ => None,
        };
        match envelope.msg {
            PbftMessage::Request(request) => {
                if self.check_request(&request) {
                    self.on_request(ctx, request, false);
                } else {
                    self.rejected(ctx, from, "relayed request");
                }
            }
            PbftMessage::PrePrepare { view, seq, batch } => {
                self.on_pre_prepare(ctx, from, view, seq, batch, sig)
            }
            PbftMessage::Prepare { view, seq, digest } => {
                self.on_prepare(ctx, from, view, seq, digest, sig)
            }
            PbftMessage::Commit { view, seq, digest } => {
                self.on_commit(ctx, from, view, seq, digest)
            }
            PbftMessage::Checkpoint { seq, digest } => self.on_checkpoint(ctx, from, seq, digest),
            PbftMessage::ViewChange(vc) => self.on_view_change(ctx, from, vc),
            PbftMessage::NewView { view, proofs } => self.on_new_view(ctx, from, view, proofs),
            PbftMessage::Status {
                view,
                active,
                executed,
            } => self.on_status(ctx, from, view, active, executed),
            PbftMessage::Fetch { from: first } => self.on_fetch(ctx, from, first),
            PbftMessage::FetchReply {
                from: first,
                batches,
                digests,
            } => self.on_fetch_reply(ctx, from, first, batches, digests),
        }
    }

    fn on_client_request(&mut self, ctx: &mut Ctx<'_, Self>, request: ClientRequest) {
        if !self.check_request(&request) {
            let client = request.id.client;
            self.auth_rejected += 1;
            ctx.emit(NodeEvent::Note(format!(
                "dropped a request in client {client}'s name: authenticator does not check"
            )));
            return;
        }
        if self.config.read_only && self.serve_read_only(ctx, &request) {
            return;
        }
        self.on_request(ctx, request, true);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: PbftTimer) {
        match timer {
            PbftTimer::Tick => {
                self.on_tick(ctx);
                ctx.set_timer(PbftTimer::Tick, self.config.retransmit_interval);
            }
            PbftTimer::ViewChange => {
                self.vc_timer_armed = false;
                self.on_vc_timeout(ctx);
            }
        }
    }

    fn on_persisted(&mut self, _ctx: &mut Ctx<'_, Self>, _upto: u64) {
        // Sends are held by the runtime until their persists are durable;
        // nothing here waits on durability otherwise.
    }

    fn status(&self) -> NodeStatus {
        let role = if !self.active {
            Role::Candidate
        } else if self.is_primary() {
            Role::Leader
        } else {
            Role::Follower
        };
        NodeStatus {
            role,
            leader: self.active.then(|| self.primary_of(self.view)),
            term: self.view,
            commit_index: self.executed,
            applied_index: self.applied,
        }
    }

    fn client(cluster: &Cluster, config: &PbftConfig, client: ClientId) -> PbftClient {
        PbftClient::with_config(cluster.size, cluster.byzantine_f(), config).with_auth(
            config.auth,
            config.key_seed,
            client,
        )
    }

    fn auth(config: &PbftConfig) -> crate::auth::AuthMode {
        config.auth
    }

    fn timing(config: &PbftConfig) -> Timing {
        Timing {
            heartbeat: Some(config.retransmit_interval),
            election_timeout: Some((config.view_change_timeout, config.view_change_timeout)),
        }
    }

    fn is_faulty(config: &PbftConfig, node: NodeId) -> bool {
        config.byzantine_kind(node).is_some()
    }
}
