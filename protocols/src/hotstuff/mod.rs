//! Chained HotStuff (Yin, Malkhi, Reiter, Gueta and Abraham, "HotStuff:
//! BFT Consensus with Linearity and Responsiveness", PODC 2019) as a
//! sans-IO core.
//!
//! What is implemented, and where the paper leaves room, what was chosen:
//! - `n` replicas tolerate `f = (n - 1) / 3` Byzantine ones; certificates
//!   (QCs) need `(n + f) / 2 + 1` votes (`2f + 1` when `n = 3f + 1`);
//! - the leader of view `v` is replica `v mod n`. It proposes a block with
//!   up to `max_batch` waiting requests on top of the block of its highest
//!   certificate, carrying that certificate (`tree.rs`: the parent of a
//!   block is always the block its certificate certifies, as in
//!   LibraBFT); replicas vote for it if it passes safeNode (it extends the
//!   locked block, or carries a certificate of a later view than the lock)
//!   and they have not voted in that view or a later one, and send the
//!   vote to the leader of `v + 1`, which turns `2f + 1` votes into the
//!   certificate of its own proposal: one phase per view, pipelined;
//! - every certificate seen (in a proposal, a new-view, a status report, a
//!   fetched block, or formed from votes) runs the chained update: it may
//!   become the highest certificate, its block's certificate may become the
//!   lock, and the block certified by that is committed if the three
//!   blocks were proposed in consecutive views. The paper's direct-parent
//!   test is on heights with dummy blocks filling failed views; comparing
//!   views instead is the same test without the dummy blocks;
//! - the pacemaker (`pacemaker.rs`): a replica that knows of work (a
//!   request not yet executed, or an uncommitted block with requests)
//!   runs a view timer; when it fires, the replica moves to the next view,
//!   sends its highest certificate to that view's leader (new-view) and
//!   broadcasts a timeout. The timeout doubles per view without a commit
//!   (up to 8 times). A leader two of whose views this replica gave up
//!   on is suspected until the replica hears anything from it (status
//!   reports come every tick, so a live leader is never suspected for
//!   long); the first view after a commit, if its leader is suspected,
//!   times out 16 times sooner. So a crashed, cut-off or silent replica
//!   costs a few milliseconds every `n` views rather than a full timeout,
//!   while a cluster without a quorum still backs off (replicas that
//!   raced through views on short timeouts would be too far ahead of the
//!   others to be followed once healed). A replica moves up when it sees
//!   a certificate of a later view, or timeouts of `f + 1` replicas for
//!   later views (then it times out too). A leader proposes once it holds the certificate of
//!   the previous view or `2f + 1` new-views. Idle replicas propose
//!   nothing and run no timer. Votes, proposals and new-views are not
//!   acknowledged, so they are resent at every tick until a certificate
//!   shows they are no longer needed;
//! - a new-view also repeats the sender's latest vote. With round-robin
//!   leaders and one silent replica among four, every window of four
//!   consecutive views holds the silent one, and the certificate of the
//!   third block of a three-chain is the one the silent leader should have
//!   formed: without the repeated votes no block would ever commit. The
//!   next leader forms that certificate from the new-views instead, and
//!   the silent leader's view is skipped;
//! - committed blocks execute in order into the key-value store; every
//!   replica answers the clients, which accept `f + 1` matching answers
//!   (PBFT's client logic, [`crate::pbft::PbftClient`], is reused, in
//!   [`HotstuffClient`]: first attempts go to a contact replica, replica 0
//!   at first and the next one after every timed-out attempt). A replica
//!   forwards the requests it knows to the leader of each view it enters,
//!   and a client request to the current leader, or to everyone if that
//!   leader is suspected (so that every replica knows of work and runs
//!   its view timer, and one replica's timeout is followed); the session
//!   table answers retries of executed requests;
//! - persistence (`sync.rs`): blocks, the voted view and the lock are
//!   persisted before the replica votes or proposes, the commit before it
//!   executes and answers, so a recovered replica is a slow correct one.
//!   Missing blocks are fetched by hash, with their ancestors, from the
//!   replica that named them; periodic status reports carry the highest
//!   certificate and the one that made the sender commit its last block,
//!   so a replica that was partitioned or crashed catches up;
//! - authentication ([`crate::auth`]): with `auth: signatures` votes are
//!   ed25519-signed and every certificate accepted is checked; with
//!   `none` a certificate's list of voters is trusted, so a faulty leader
//!   can forge one (the simulator suites show it). `mac` is refused when
//!   the configuration is read: a MAC convinces only its receiver, so it
//!   could authenticate a vote to the next leader, which the transport
//!   already does, but never a certificate to the replicas it is shown to;
//! - Byzantine behaviour for tests ([`config::ByzantineKind`]) is a
//!   per-replica knob of the configuration: the replica runs the correct
//!   protocol and lies in what it sends (`byzantine.rs`).
//!
//! # What `auth: none` does not defend against
//!
//! The transport authenticates peers, so votes and new-views come from
//! whom they claim; but a certificate is a list of voters, and a faulty
//! leader can list replicas that never voted (`ForgedQc`), overriding
//! locks and getting conflicting blocks committed (the simulator catches
//! it). Client requests are not signed in any mode: a faulty leader can
//! propose a request in a client's name.
//!
//! Not implemented: pruning of the block tree and snapshots (a recovering
//! replica replays every block it stored, and status reports and fetches
//! are the only catch-up), and leader reputation (a silent leader's view
//! is skipped by timing out, quickly once suspected, every time its turn
//! comes; the three-chain breaks there, so one crashed replica among four
//! still costs about two thirds of the throughput).

mod byzantine;
mod client;
pub mod config;
pub mod messages;
mod pacemaker;
mod quorum;
mod replica;
mod sync;
#[cfg(test)]
mod tests;
mod tree;

pub use client::HotstuffClient;
pub use config::{Byzantine, ByzantineKind, HotstuffConfig};
pub use messages::{
    Block, BlockHash, HotstuffMessage, HotstuffRecord, HotstuffTimer, LastVote, Qc,
};

use crate::auth::Keyring;
use crate::client::ClientRequest;
use crate::core::{Cluster, Ctx, NodeStatus, Protocol, Role, Timing};
use crate::kv::KvStore;
use crate::sessions::Sessions;
use crate::types::{ClientId, NodeId};
use byzantine::ByzState;
use pacemaker::Pacemaker;
use quorum::{QcVerifier, VoteSet};
use std::collections::{BTreeMap, BTreeSet};
use tree::BlockTree;

/// A chained HotStuff replica.
#[derive(Debug)]
pub struct Hotstuff {
    id: NodeId,
    n: u32,
    f: usize,
    config: HotstuffConfig,
    byz: Option<ByzantineKind>,
    tree: BlockTree,
    pace: Pacemaker,
    qcs: QcVerifier,
    votes: VoteSet,
    /// Highest view this replica voted (or proposed) in.
    voted_view: u64,
    /// This incarnation's latest vote (repeated in new-views, and resent
    /// at each tick until a certificate of its view or a later one shows).
    last_vote: Option<LastVote>,
    /// This incarnation's latest proposal (resent at each tick until a
    /// certificate of its view or a later one shows).
    last_proposal: Option<Block>,
    view_timer_armed: bool,
    /// Pending client requests and answers to executed ones.
    sessions: Sessions,
    kv: KvStore,
    /// State-machine positions applied (requests, and one per empty block).
    applied: u64,
    /// Proposals waiting for a missing parent: (sender, block).
    waiting: Vec<(NodeId, Block)>,
    /// Certificates waiting for their missing block.
    waiting_qcs: Vec<Qc>,
    /// Fetched blocks whose parent is still missing.
    orphans: BTreeMap<BlockHash, Block>,
    /// Blocks asked for and not yet received.
    missing: BTreeSet<BlockHash>,
    /// Status reports made so far (every few go to every replica).
    status_ticks: u64,
    /// The last committed block, from the records (executed by `start`).
    recovered_commit: Option<BlockHash>,
    persist_seq: u64,
    byz_state: ByzState,
}

impl Hotstuff {
    /// The leader of `view`.
    fn leader_of(&self, view: u64) -> NodeId {
        (view % u64::from(self.n)) as NodeId
    }

    /// Votes in a certificate: `2f + 1` for `n = 3f + 1`.
    fn quorum(&self) -> usize {
        (self.n as usize + self.f) / 2 + 1
    }

    fn is_peer(&self, from: NodeId) -> bool {
        from < self.n && from != self.id
    }

    fn persist(&mut self, ctx: &mut Ctx<'_, Self>, record: HotstuffRecord) {
        self.persist_seq += 1;
        ctx.persist(self.persist_seq, record);
    }

    /// Height of the last committed block.
    pub fn committed_height(&self) -> u64 {
        self.tree.committed_height
    }

    /// The view this replica is in.
    pub fn view(&self) -> u64 {
        self.pace.view
    }
}

impl Protocol for Hotstuff {
    type Message = HotstuffMessage;
    type Timer = HotstuffTimer;
    type Record = HotstuffRecord;
    type Config = HotstuffConfig;
    type Client = HotstuffClient;
    const NAME: &'static str = "hotstuff";

    fn recover(
        id: NodeId,
        cluster: &Cluster,
        config: &HotstuffConfig,
        records: Vec<HotstuffRecord>,
    ) -> Self {
        let n = cluster.size.max(1);
        let f = cluster.byzantine_f();
        let keys = Keyring::new(config.auth, config.key_seed, n, id);
        let quorum = (n as usize + f) / 2 + 1;
        let mut s = Hotstuff {
            id,
            n,
            f,
            config: config.clone(),
            byz: config.byzantine_kind(id),
            tree: BlockTree::new(),
            pace: Pacemaker::new(config.view_timeout),
            qcs: QcVerifier::new(keys, n, quorum),
            votes: VoteSet::default(),
            voted_view: 0,
            last_vote: None,
            last_proposal: None,
            view_timer_armed: false,
            sessions: Sessions::default(),
            kv: KvStore::new(),
            applied: 0,
            waiting: Vec::new(),
            waiting_qcs: Vec::new(),
            orphans: BTreeMap::new(),
            missing: BTreeSet::new(),
            status_ticks: 0,
            recovered_commit: None,
            persist_seq: 0,
            byz_state: ByzState::default(),
        };
        s.replay(records);
        s
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.rebuild(ctx);
        ctx.set_timer(HotstuffTimer::Tick, self.config.tick_interval);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: HotstuffMessage) {
        if !self.is_peer(from) {
            return;
        }
        // Anything from a suspected leader (its status reports, at least,
        // come every tick) shows it is up: its views get the full timeout.
        self.pace.trust(from);
        match msg {
            HotstuffMessage::Request(request) => self.on_request(ctx, request, false),
            HotstuffMessage::Propose { block } => self.on_propose(ctx, from, block),
            HotstuffMessage::Vote { view, block, sig } => self.on_vote(ctx, from, view, block, sig),
            HotstuffMessage::NewView {
                view,
                high_qc,
                vote,
            } => self.on_new_view(ctx, from, view, high_qc, vote),
            HotstuffMessage::Timeout { view } => self.on_timeout_wish(ctx, from, view),
            HotstuffMessage::Status {
                high_qc, commit_qc, ..
            } => {
                self.on_qc(ctx, commit_qc, from);
                self.on_qc(ctx, high_qc, from);
            }
            HotstuffMessage::Fetch { block } => self.on_fetch(ctx, from, block),
            HotstuffMessage::Blocks { blocks } => self.on_blocks(ctx, from, blocks),
        }
    }

    fn on_client_request(&mut self, ctx: &mut Ctx<'_, Self>, request: ClientRequest) {
        self.on_request(ctx, request, true);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: HotstuffTimer) {
        match timer {
            HotstuffTimer::Tick => {
                self.on_tick(ctx);
                ctx.set_timer(HotstuffTimer::Tick, self.config.tick_interval);
            }
            HotstuffTimer::View => {
                self.view_timer_armed = false;
                self.on_view_timeout(ctx);
            }
        }
    }

    fn on_persisted(&mut self, _ctx: &mut Ctx<'_, Self>, _upto: u64) {
        // Sends are held by the runtime until their persists are durable;
        // nothing here waits on durability otherwise.
    }

    fn status(&self) -> NodeStatus {
        let leader = self.leader_of(self.pace.view);
        NodeStatus {
            role: if leader == self.id {
                Role::Leader
            } else {
                Role::Follower
            },
            leader: Some(leader),
            term: self.pace.view,
            commit_index: self.tree.committed_height,
            applied_index: self.applied,
        }
    }

    fn client(cluster: &Cluster, _config: &HotstuffConfig, _client: ClientId) -> HotstuffClient {
        HotstuffClient::new(cluster.size, cluster.byzantine_f())
    }

    fn timing(config: &HotstuffConfig) -> Timing {
        Timing {
            heartbeat: Some(config.tick_interval),
            election_timeout: Some((config.view_timeout, config.view_timeout)),
        }
    }

    fn auth(config: &HotstuffConfig) -> crate::auth::AuthMode {
        config.auth
    }

    fn is_faulty(config: &HotstuffConfig, node: NodeId) -> bool {
        config.byzantine_kind(node).is_some()
    }
}
