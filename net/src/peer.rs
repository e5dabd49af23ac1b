//! The outgoing side of one peer link: a task that owns the link's bounded
//! queue, holds frames in a delay queue as link shaping asks, keeps a
//! connection up (dialling with backoff, or waiting for the peer to dial
//! in), and writes due frames in batches.

use crate::delay::{DelayQueue, Pending};
use crate::endpoint::PeerNews;
use crate::endpoint::{Direction, Shared};
use crate::identity::PeerIdentity;
use crate::stats::{add, PeerCounters};
use crate::tls::connection_identity;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, sleep_until, timeout, Instant};

/// One encoded frame waiting in a peer's queue.
#[derive(Debug)]
pub(crate) struct Queued {
    /// Header and body.
    pub frame: Bytes,
    /// When `send` accepted it.
    pub enqueued: Instant,
    /// Delay link shaping chose for it.
    pub delay: Duration,
    /// Whether it must not overtake earlier frames.
    pub in_order: bool,
}

/// What a writer task needs besides the shared endpoint state.
pub(crate) struct LinkTask {
    pub peer: PeerIdentity,
    pub rx: mpsc::Receiver<Queued>,
    pub addr: watch::Receiver<Option<SocketAddr>>,
    pub accepted: watch::Receiver<Option<quinn::Connection>>,
    /// News of the peer's process (up, restarted, redial forced).
    pub news: watch::Receiver<PeerNews>,
    pub connected: watch::Sender<bool>,
    pub counters: Arc<PeerCounters>,
}

struct Writer<M> {
    shared: Arc<Shared<M>>,
    task: LinkTask,
    shutdown: watch::Receiver<bool>,
    pending: DelayQueue,
    seq: u64,
    last_release: Option<Instant>,
    batch: Vec<u8>,
}

/// Resolves once the endpoint is closing (or its state is gone).
pub(crate) async fn closing(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|c| *c).await;
}

fn usable(conn: &Option<(quinn::Connection, quinn::SendStream)>) -> bool {
    conn.as_ref()
        .is_some_and(|(c, _)| c.close_reason().is_none())
}

/// Forgets the connection to a peer that restarted; a connection we
/// dialled is closed (it leads to the dead process), one the peer dialled
/// is left to its reader.
fn drop_restarted(conn: &mut Option<(quinn::Connection, quinn::SendStream)>, adopted: bool) {
    if let Some((c, _)) = conn.take() {
        if !adopted {
            c.close(0u32.into(), b"peer restarted");
        }
    }
}

/// Runs the writer of one link until the endpoint closes or the link is
/// removed (its queue's senders are all gone and nothing is pending).
pub(crate) async fn run_writer<M>(shared: Arc<Shared<M>>, task: LinkTask)
where
    M: DeserializeOwned + Send + 'static,
{
    let shutdown = shared.shutdown.subscribe();
    let mut w = Writer {
        shared,
        task,
        shutdown,
        pending: DelayQueue::default(),
        seq: 0,
        last_release: None,
        batch: Vec::new(),
    };
    w.run().await;
    w.task.connected.send_replace(false);
}

impl<M: DeserializeOwned + Send + 'static> Writer<M> {
    fn push(&mut self, q: Queued) {
        let mut at = q.enqueued + q.delay;
        if q.in_order {
            if let Some(last) = self.last_release {
                at = at.max(last);
            }
        }
        self.last_release = Some(self.last_release.map_or(at, |l| l.max(at)));
        self.seq += 1;
        let p = Pending {
            at,
            seq: self.seq,
            frame: q.frame,
        };
        self.pending.push(p, q.in_order);
    }

    /// Reads the peer's news and says whether the process behind the
    /// current connection is gone: a redial was forced, or a new
    /// incarnation replaced the one we connected to. A first incarnation
    /// is the process we reached; it is remembered, not acted on.
    fn peer_replaced(&mut self, known: &mut PeerNews) -> bool {
        let news = *self.task.news.borrow_and_update();
        let replaced = news.forced != known.forced
            || (known.incarnation != 0 && news.incarnation != known.incarnation);
        *known = news;
        replaced
    }

    fn cap(&self) -> usize {
        self.shared.cfg.queue_capacity
    }

    async fn run(&mut self) {
        let mut conn: Option<(quinn::Connection, quinn::SendStream)> = None;
        // Whether `conn` is the peer's own connection to us (reply path).
        let mut adopted = false;
        // The peer's news when `conn` was made.
        let mut known = PeerNews::default();
        let mut queue_open = true;
        loop {
            if !queue_open && self.pending.is_empty() {
                return;
            }
            // The peer restarted: a dialled connection went to its old
            // process and is dead, even if QUIC has not noticed yet.
            if self.task.news.has_changed().unwrap_or(false) && self.peer_replaced(&mut known) {
                drop_restarted(&mut conn, adopted);
            }
            // Connect before taking more from the queue: while the peer is
            // down, frames wait in the bounded queue and senders feel it.
            if !usable(&conn) {
                self.task.connected.send_replace(false);
                match self.obtain().await {
                    Some((c, stream, was_adopted)) => {
                        conn = Some((c, stream));
                        adopted = was_adopted;
                        known = *self.task.news.borrow_and_update();
                    }
                    None => return,
                }
                self.task.connected.send_replace(true);
            }
            let Some((c, stream)) = conn.as_mut() else {
                continue;
            };
            if self.pending.is_empty() {
                let watch_conn = c.clone();
                tokio::select! {
                    biased;
                    _ = closing(&mut self.shutdown) => return,
                    item = self.task.rx.recv() => match item {
                        Some(q) => self.push(q),
                        None => queue_open = false,
                    },
                    // Notice a dead connection while idle, to reconnect early.
                    _ = watch_conn.closed() => continue,
                    _ = self.task.news.changed() => {
                        if self.peer_replaced(&mut known) {
                            drop_restarted(&mut conn, adopted);
                        }
                        continue;
                    }
                    // The peer got an address: dial it rather than keep
                    // writing on its connection (which stays open for it).
                    _ = self.task.addr.changed(), if adopted => {
                        conn = None;
                        continue;
                    }
                }
            }
            while queue_open && self.pending.len() < self.cap() {
                match self.task.rx.try_recv() {
                    Ok(q) => self.push(q),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => queue_open = false,
                }
            }
            let Some(head) = self.pending.peek() else {
                continue;
            };
            let due = head.at;
            if due > Instant::now() {
                let room = queue_open && self.pending.len() < self.cap();
                tokio::select! {
                    biased;
                    _ = closing(&mut self.shutdown) => return,
                    _ = sleep_until(due) => {}
                    // A jittered frame arriving now may be due earlier.
                    item = self.task.rx.recv(), if room => match item {
                        Some(q) => self.push(q),
                        None => queue_open = false,
                    },
                }
                continue;
            }
            let sent = self.fill_batch();
            if sent == 0 {
                continue;
            }
            let bytes = self.batch.len() as u64;
            let res = tokio::select! {
                biased;
                _ = closing(&mut self.shutdown) => return,
                r = stream.write_all(&self.batch) => r,
            };
            match res {
                Ok(()) => {
                    add(&self.task.counters.msgs_sent, sent);
                    add(&self.task.counters.bytes_sent, bytes);
                }
                Err(_) => {
                    // Whether any of the batch reached the peer is unknown;
                    // it is counted as lost and not retried (protocols
                    // tolerate loss, duplicates would be worse to explain).
                    add(&self.task.counters.send_failed, sent);
                    c.close(0u32.into(), b"write failed");
                    conn = None;
                }
            }
        }
    }

    /// Moves every due frame (up to the batch byte limit) into `batch`,
    /// dropping them instead if the link got blocked meanwhile. Returns
    /// how many frames were batched.
    fn fill_batch(&mut self) -> u64 {
        self.batch.clear();
        let now = Instant::now();
        let me = self.shared.me;
        let blocked = self.shared.cfg.shaper.is_blocked(me, self.task.peer);
        let max = self.shared.cfg.max_batch_bytes;
        let mut n = 0;
        while let Some(head) = self.pending.peek() {
            if head.at > now
                || (!self.batch.is_empty() && self.batch.len() + head.frame.len() > max)
            {
                break;
            }
            let Some(p) = self.pending.pop() else {
                break;
            };
            if blocked {
                add(&self.task.counters.dropped_shaped, 1);
                continue;
            }
            self.batch.extend_from_slice(&p.frame);
            n += 1;
        }
        n
    }

    /// Gets a usable connection and opens the link's stream on it: dials
    /// the peer's address with exponential backoff, or, for a peer without
    /// an address (a client that dialled us), waits for its connection.
    /// `None` when the endpoint closes first; otherwise the connection, the
    /// stream, and whether the connection was adopted from the peer.
    async fn obtain(&mut self) -> Option<(quinn::Connection, quinn::SendStream, bool)> {
        let cfg = &self.shared.cfg;
        let mut backoff = cfg.reconnect_min;
        loop {
            let addr = *self.task.addr.borrow_and_update();
            let adopted = addr.is_none();
            let conn = match addr {
                Some(addr) => {
                    let res = tokio::select! {
                        biased;
                        _ = closing(&mut self.shutdown) => return None,
                        r = dial(&self.shared, self.task.peer, &self.task.counters, addr) => r,
                        // The peer just reached us, so it is up: a dial
                        // that started before it listened would wait for
                        // QUIC's next retransmission; start over now.
                        _ = self.task.news.changed() => continue,
                    };
                    match res {
                        Some(c) => c,
                        None => {
                            tokio::select! {
                                biased;
                                _ = closing(&mut self.shutdown) => return None,
                                _ = sleep(backoff) => {}
                                // A new address is worth trying at once, and
                                // so is a peer that just reached us.
                                _ = self.task.addr.changed() => {}
                                _ = self.task.news.changed() => {}
                            }
                            backoff = (backoff * 2).min(cfg.reconnect_max);
                            continue;
                        }
                    }
                }
                None => {
                    let accepted = &mut self.task.accepted;
                    tokio::select! {
                        biased;
                        _ = closing(&mut self.shutdown) => return None,
                        _ = self.task.addr.changed() => continue,
                        c = accepted.wait_for(|c| c.as_ref().is_some_and(|c| c.close_reason().is_none())) => {
                            match c {
                                Ok(c) => match c.as_ref() {
                                    Some(c) => c.clone(),
                                    None => continue,
                                },
                                // The slot is gone: the endpoint is closing.
                                Err(_) => return None,
                            }
                        }
                    }
                }
            };
            let opened = tokio::select! {
                biased;
                _ = closing(&mut self.shutdown) => return None,
                s = conn.open_uni() => s,
            };
            let opened = match opened {
                Ok(mut stream) => {
                    let header = crate::frame::stream_header(self.shared.incarnation);
                    stream.write_all(&header).await.map(|()| stream).ok()
                }
                Err(_) => None,
            };
            match opened {
                Some(stream) => return Some((conn, stream, adopted)),
                None => {
                    tokio::select! {
                        biased;
                        _ = closing(&mut self.shutdown) => return None,
                        _ = sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(cfg.reconnect_max);
                }
            }
        }
    }
}

/// One connection attempt to `peer` at `addr`, expecting its certificate.
/// Starts the connection's reader on success.
async fn dial<M: DeserializeOwned + Send + 'static>(
    shared: &Arc<Shared<M>>,
    peer: PeerIdentity,
    counters: &PeerCounters,
    addr: SocketAddr,
) -> Option<quinn::Connection> {
    let connecting = shared.quinn.connect(addr, &peer.dns_name()).ok()?;
    let conn = timeout(shared.cfg.connect_timeout, connecting)
        .await
        .ok()?
        .ok()?;
    // The server name check already pins the identity; this guards
    // against a certificate carrying several names.
    if connection_identity(&conn).ok() != Some(peer) {
        conn.close(1u32.into(), b"unexpected identity");
        return None;
    }
    add(&counters.connects, 1);
    Shared::start_reader(shared, conn.clone(), peer, Direction::Outgoing);
    Some(conn)
}
