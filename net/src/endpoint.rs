//! The QUIC endpoint of one participant: binds a UDP address, accepts
//! connections from certificates of the cluster CA, keeps long-lived
//! connections to peers, and moves typed messages through bounded queues.
//!
//! Delivery model:
//! - Each remote identity has one outgoing *link*: a bounded queue
//!   ([`EndpointConfig::queue_capacity`]) drained by a writer task. A link
//!   with an address (from [`Endpoint::add_peer`]) dials it and redials
//!   with exponential backoff whenever the connection drops; a link
//!   without one (e.g. to a driver that dialled us) writes on the latest
//!   connection that identity opened to us, so replies go back on the
//!   driver's own connection.
//! - Every connection carries one unidirectional stream per direction;
//!   frames on it arrive in order. A stream opens with the sender's
//!   *incarnation* (8 random bytes drawn at bind): when a peer shows up
//!   with a new one it has restarted, and the link to it drops its old
//!   connection and redials at once instead of writing into a dead
//!   connection until the idle timeout notices.
//! - While a peer is down its frames wait in the link's queue (plus the
//!   writer's delay queue: at most `2 x queue_capacity` frames in all).
//!   Past that, [`Endpoint::send`] waits (backpressure) and
//!   [`Endpoint::try_send`] fails with [`SendError::Full`], counted in
//!   [`PeerStats::dropped_full`](crate::PeerStats). Frames are delivered
//!   when the peer comes back. A batch whose write fails when the
//!   connection dies is counted in `send_failed` and not retried.
//! - Incoming messages from all peers go to one bounded inbox; when the
//!   inbox is full, reading stops and QUIC flow control pushes back on
//!   the senders.

use crate::ca::Identity;
use crate::frame::encode_limited;
use crate::identity::PeerIdentity;
use crate::peer::{closing, run_writer, LinkTask, Queued};
use crate::shaping::{LinkShaper, Verdict};
use crate::stats::{add, EndpointStats, PeerCounters, StatsTable};
use crate::tls::{connection_identity, quinn_client_config, quinn_server_config};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout, Instant};

pub use crate::endpoint_types::{
    ConnectionInfo, Direction, EndpointConfig, EndpointError, Inbox, SendError,
};

/// The sending end of a link, kept in the endpoint's table.
struct Link {
    tx: mpsc::Sender<Queued>,
    addr: watch::Sender<Option<SocketAddr>>,
    connected: watch::Receiver<bool>,
    counters: Arc<PeerCounters>,
}

/// What a link's writer learns about its peer's process from elsewhere.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PeerNews {
    /// The incarnation of the peer's latest stream to us (0: none yet).
    /// The peer is up when it first changes; it restarted when it changes
    /// again.
    pub incarnation: u64,
    /// Bumped by [`Endpoint::reconnect`].
    pub forced: u64,
}

/// State shared by the endpoint handle and its tasks.
pub(crate) struct Shared<M> {
    pub me: PeerIdentity,
    pub quinn: quinn::Endpoint,
    pub cfg: EndpointConfig,
    pub shutdown: watch::Sender<bool>,
    pub stats: StatsTable,
    rt: tokio::runtime::Handle,
    links: Mutex<HashMap<PeerIdentity, Link>>,
    accepted: Mutex<HashMap<PeerIdentity, watch::Sender<Option<quinn::Connection>>>>,
    /// A random number drawn at bind, sent at the head of every stream
    /// this endpoint opens: a new value from a peer means the peer process
    /// restarted.
    pub incarnation: u64,
    /// What is known of each peer's process, watched by its writer.
    incarnations: Mutex<HashMap<PeerIdentity, watch::Sender<PeerNews>>>,
    conns: Mutex<BTreeMap<usize, ConnectionInfo>>,
    pub inbox: mpsc::Sender<(PeerIdentity, M)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a single map operation, so a poisoned
    // map is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A QUIC endpoint exchanging messages of type `M` with the cluster.
/// Cheap to clone; the endpoint closes when the last clone is dropped
/// (or on [`Endpoint::close`]).
pub struct Endpoint<M> {
    handle: Arc<Handle<M>>,
}

impl<M> Clone for Endpoint<M> {
    fn clone(&self) -> Self {
        Endpoint {
            handle: self.handle.clone(),
        }
    }
}

struct Handle<M> {
    shared: Arc<Shared<M>>,
    _m: PhantomData<fn(M)>,
}

impl<M> Drop for Handle<M> {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl<M> Shared<M> {
    fn close(&self) {
        self.shutdown.send_replace(true);
        self.quinn.close(0u32.into(), b"endpoint closed");
    }

    fn news_slot(&self, peer: PeerIdentity) -> watch::Sender<PeerNews> {
        lock(&self.incarnations)
            .entry(peer)
            .or_insert_with(|| watch::channel(PeerNews::default()).0)
            .clone()
    }

    /// Tells the writer to `peer` to drop its connection and redial.
    fn force_redial(&self, peer: PeerIdentity) {
        self.news_slot(peer).send_modify(|n| n.forced += 1);
    }

    /// Records the incarnation a stream from `peer` announced; the writer
    /// to `peer` decides what a change means (see [`PeerNews`]).
    pub(crate) fn saw_incarnation(&self, peer: PeerIdentity, incarnation: u64) {
        self.news_slot(peer).send_if_modified(|n| {
            let changed = n.incarnation != incarnation;
            n.incarnation = incarnation;
            changed
        });
    }

    fn accepted_slot(&self, peer: PeerIdentity) -> watch::Sender<Option<quinn::Connection>> {
        lock(&self.accepted)
            .entry(peer)
            .or_insert_with(|| watch::channel(None).0)
            .clone()
    }
}

impl<M: DeserializeOwned + Send + 'static> Shared<M> {
    /// Registers `conn` and spawns the task reading its streams.
    pub(crate) fn start_reader(
        this: &Arc<Self>,
        conn: quinn::Connection,
        peer: PeerIdentity,
        direction: Direction,
    ) {
        let info = ConnectionInfo {
            peer,
            remote: conn.remote_address(),
            direction,
        };
        lock(&this.conns).insert(conn.stable_id(), info);
        this.rt
            .spawn(crate::conn::run_reader(this.clone(), conn, peer));
    }

    /// Forgets a connection once its reader has stopped.
    pub(crate) fn connection_ended(&self, conn: &quinn::Connection) {
        lock(&self.conns).remove(&conn.stable_id());
    }
}

impl<M> Endpoint<M>
where
    M: Serialize + DeserializeOwned + Send + 'static,
{
    /// Binds `addr` (port 0 picks a free port) with `identity`'s
    /// credentials. Must be called inside a tokio runtime.
    pub fn bind(
        addr: SocketAddr,
        identity: &Identity,
        cfg: EndpointConfig,
    ) -> Result<(Endpoint<M>, Inbox<M>), EndpointError> {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| EndpointError::NoRuntime)?;
        if cfg.queue_capacity == 0 || cfg.inbox_capacity == 0 {
            return Err(EndpointError::Config("capacities must be positive".into()));
        }
        if cfg.keep_alive >= cfg.idle_timeout {
            return Err(EndpointError::Config(
                "keep_alive must be shorter than idle_timeout".into(),
            ));
        }
        let idle = quinn::IdleTimeout::try_from(cfg.idle_timeout)
            .map_err(|e| EndpointError::Config(format!("idle_timeout: {e}")))?;
        let mut transport = quinn::TransportConfig::default();
        transport
            .max_idle_timeout(Some(idle))
            .keep_alive_interval(Some(cfg.keep_alive))
            .initial_rtt(cfg.initial_rtt)
            .max_concurrent_uni_streams(8u32.into())
            .max_concurrent_bidi_streams(0u32.into());
        let transport = Arc::new(transport);
        let server = quinn_server_config(identity, transport.clone())?;
        let client = quinn_client_config(identity, transport)?;
        let mut quinn = quinn::Endpoint::server(server, addr)
            .map_err(|source| EndpointError::Bind { addr, source })?;
        quinn.set_default_client_config(client);

        let (inbox_tx, inbox_rx) = mpsc::channel(cfg.inbox_capacity);
        let shared = Arc::new(Shared {
            me: identity.peer(),
            quinn,
            cfg,
            shutdown: watch::channel(false).0,
            stats: StatsTable::default(),
            rt,
            links: Mutex::new(HashMap::new()),
            accepted: Mutex::new(HashMap::new()),
            incarnation: rand::random::<u64>() | 1,
            incarnations: Mutex::new(HashMap::new()),
            conns: Mutex::new(BTreeMap::new()),
            inbox: inbox_tx,
        });
        shared.rt.spawn(run_acceptor(shared.clone()));
        let handle = Arc::new(Handle {
            shared,
            _m: PhantomData,
        });
        Ok((Endpoint { handle }, inbox_rx))
    }

    fn shared(&self) -> &Arc<Shared<M>> {
        &self.handle.shared
    }

    /// The identity this endpoint presents.
    pub fn identity(&self) -> PeerIdentity {
        self.shared().me
    }

    /// The bound UDP address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared().quinn.local_addr()
    }

    /// The link shaper applied to everything this endpoint sends.
    pub fn shaper(&self) -> &Arc<LinkShaper> {
        &self.shared().cfg.shaper
    }

    /// Sets (or changes) the address of `peer`. Its link dials it at once
    /// and keeps the connection up, redialling after failures.
    pub fn add_peer(&self, peer: PeerIdentity, addr: SocketAddr) {
        self.with_link(peer, Some(addr), |l| l.addr.send_replace(Some(addr)));
    }

    /// Waits until the link to `peer` has a connection, up to `limit`.
    /// Returns whether it connected.
    pub async fn wait_connected(&self, peer: PeerIdentity, limit: Duration) -> bool {
        let mut rx = self.with_link(peer, None, |l| l.connected.clone());
        let connected = matches!(timeout(limit, rx.wait_for(|c| *c)).await, Ok(Ok(_)));
        connected
    }

    /// The queue and counters of the link to `peer` (created if needed).
    fn link(&self, peer: PeerIdentity) -> LinkRef {
        self.with_link(peer, None, |l| LinkRef {
            tx: l.tx.clone(),
            counters: l.counters.clone(),
        })
    }

    /// Runs `f` on the link to `peer`, creating it (and spawning its
    /// writer) if needed; a new link starts with `addr` so its writer
    /// never sees it address-less in between.
    fn with_link<R>(
        &self,
        peer: PeerIdentity,
        addr: Option<SocketAddr>,
        f: impl FnOnce(&Link) -> R,
    ) -> R {
        let shared = self.shared();
        let mut links = lock(&shared.links);
        let link = links.entry(peer).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(shared.cfg.queue_capacity);
            let (addr_tx, addr_rx) = watch::channel(addr);
            let (conn_tx, conn_rx) = watch::channel(false);
            let counters = shared.stats.peer(peer);
            let task = LinkTask {
                peer,
                rx,
                addr: addr_rx,
                accepted: shared.accepted_slot(peer).subscribe(),
                news: shared.news_slot(peer).subscribe(),
                connected: conn_tx,
                counters: counters.clone(),
            };
            shared.rt.spawn(run_writer(shared.clone(), task));
            Link {
                tx,
                addr: addr_tx,
                connected: conn_rx,
                counters,
            }
        });
        f(link)
    }

    /// Drops the connection to `peer` and dials it afresh: for a caller that
    /// knows the peer's process was replaced (a harness that restarted it)
    /// before the peer has said so itself.
    pub fn reconnect(&self, peer: PeerIdentity) {
        self.shared().force_redial(peer);
    }

    /// Frames `msg` once, for one or many destinations.
    fn frame(&self, msg: &M) -> Result<Bytes, SendError> {
        // Sized first (a walk of the message, no allocation) so the frame
        // takes exactly one allocation: a growing Vec reallocated several
        // times per message, and a Vec whose capacity exceeds its length
        // costs `Bytes::from` a second allocation for its shared header.
        // Allocator work was the largest user-space cost in the node
        // profiles (PROFILE-NOTES.md).
        let max = self.shared().cfg.max_frame;
        let size = postcard::experimental::serialized_size(msg).map_or(0, |n| n.min(max));
        let mut buf = Vec::with_capacity(crate::frame::HEADER_LEN + size);
        encode_limited(msg, &mut buf, max)?;
        Ok(Bytes::from(buf))
    }

    /// Applies shaping to one frame for `to`: `None` if it is dropped.
    fn shape(&self, to: PeerIdentity, frame: Bytes, link: &LinkRef) -> Option<Queued> {
        match self.shared().cfg.shaper.judge(self.shared().me, to) {
            Verdict::Drop(_) => {
                add(&link.counters.dropped_shaped, 1);
                None
            }
            Verdict::Send { delay, in_order } => Some(Queued {
                frame,
                enqueued: Instant::now(),
                delay,
                in_order,
            }),
        }
    }

    fn check_target(&self, to: PeerIdentity) -> Result<(), SendError> {
        if to == self.shared().me {
            return Err(SendError::ToSelf(to));
        }
        if *self.shared().shutdown.borrow() {
            return Err(SendError::Closed);
        }
        Ok(())
    }

    /// Sends `msg` to `to`, waiting while the peer's queue is full. The
    /// message is encoded before this returns, so the future does not
    /// borrow it. A message dropped by link shaping counts as sent.
    pub fn send(
        &self,
        to: PeerIdentity,
        msg: &M,
    ) -> impl Future<Output = Result<(), SendError>> + Send + 'static {
        let prepared = self.check_target(to).and_then(|()| {
            let frame = self.frame(msg)?;
            let link = self.link(to);
            Ok(self.shape(to, frame, &link).map(|q| (link.tx, q)))
        });
        async move {
            match prepared? {
                None => Ok(()),
                Some((tx, q)) => tx.send(q).await.map_err(|_| SendError::Closed),
            }
        }
    }

    /// Sends `msg` to `to` without waiting: fails with
    /// [`SendError::Full`] (and counts the drop) when the queue is full.
    pub fn try_send(&self, to: PeerIdentity, msg: &M) -> Result<(), SendError> {
        self.check_target(to)?;
        let frame = self.frame(msg)?;
        self.try_send_frame(to, frame)
    }

    fn try_send_frame(&self, to: PeerIdentity, frame: Bytes) -> Result<(), SendError> {
        let link = self.link(to);
        let Some(q) = self.shape(to, frame, &link) else {
            return Ok(());
        };
        link.tx.try_send(q).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                add(&link.counters.dropped_full, 1);
                SendError::Full { to }
            }
            mpsc::error::TrySendError::Closed(_) => SendError::Closed,
        })
    }

    /// Sends `msg` to every identity in `to` without waiting, encoding it
    /// once. Destinations whose queue is full miss it (counted in their
    /// `dropped_full`); returns how many accepted it.
    pub fn try_broadcast(&self, to: &[PeerIdentity], msg: &M) -> Result<usize, SendError> {
        for &peer in to {
            self.check_target(peer)?;
        }
        let frame = self.frame(msg)?;
        let mut accepted = 0;
        for &peer in to {
            match self.try_send_frame(peer, frame.clone()) {
                Ok(()) => accepted += 1,
                Err(SendError::Full { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(accepted)
    }

    /// A snapshot of the per-peer counters.
    pub fn stats(&self) -> EndpointStats {
        let shared = self.shared();
        EndpointStats {
            peers: shared.stats.snapshot(),
            rejected_connections: shared.stats.rejected.load(Ordering::Relaxed),
        }
    }

    /// The live connections, incoming and outgoing, with verified peers.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        lock(&self.shared().conns).values().copied().collect()
    }

    /// Closes the endpoint now: every connection is closed and every task
    /// stops; queued frames are discarded.
    pub fn close(&self) {
        self.shared().close();
    }

    /// Closes the endpoint and waits (at most `limit`) until its
    /// connections have drained, so the UDP port can be bound again.
    pub async fn shutdown(self, limit: Duration) {
        self.close();
        let quinn = self.shared().quinn.clone();
        drop(self);
        let _ = timeout(limit, quinn.wait_idle()).await;
    }
}

/// Clones of a link's handles, taken under the table lock.
struct LinkRef {
    tx: mpsc::Sender<Queued>,
    counters: Arc<PeerCounters>,
}

/// Accepts incoming connections until the endpoint closes. The TLS layer
/// has already refused certificates of other CAs by the time a handshake
/// completes; each accepted connection gets a reader, and becomes the
/// reply path to its identity.
async fn run_acceptor<M: DeserializeOwned + Send + 'static>(shared: Arc<Shared<M>>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let incoming = tokio::select! {
            biased;
            _ = closing(&mut shutdown) => return,
            i = shared.quinn.accept() => match i {
                Some(i) => i,
                None => return,
            },
        };
        let shared = shared.clone();
        let rt = shared.rt.clone();
        rt.spawn(async move {
            let conn = match timeout(shared.cfg.connect_timeout, incoming).await {
                Ok(Ok(conn)) => conn,
                _ => {
                    add(&shared.stats.rejected, 1);
                    return;
                }
            };
            let peer = match connection_identity(&conn) {
                Ok(peer) => peer,
                Err(_) => {
                    conn.close(1u32.into(), b"no quorumlab identity");
                    add(&shared.stats.rejected, 1);
                    return;
                }
            };
            shared.accepted_slot(peer).send_replace(Some(conn.clone()));
            Shared::start_reader(&shared, conn, peer, Direction::Incoming);
        });
    }
}
