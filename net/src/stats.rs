//! Per-peer message and byte counters of an endpoint.

use crate::identity::PeerIdentity;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A snapshot of what one endpoint exchanged with one peer. Bytes count
/// whole frames (4-byte header included), not QUIC/UDP overhead.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PeerStats {
    /// Messages written to the peer's stream.
    pub msgs_sent: u64,
    /// Frame bytes written to the peer's stream.
    pub bytes_sent: u64,
    /// Messages received and decoded from the peer.
    pub msgs_received: u64,
    /// Frame bytes received from the peer.
    pub bytes_received: u64,
    /// Messages refused by `try_send` because the peer's queue was full.
    pub dropped_full: u64,
    /// Messages dropped by link shaping (blocked or lost).
    pub dropped_shaped: u64,
    /// Messages lost because the connection failed while writing them.
    pub send_failed: u64,
    /// Frames received from the peer that did not decode (skipped).
    pub decode_errors: u64,
    /// Outgoing connections established to the peer (1 + reconnects).
    pub connects: u64,
}

/// Live counters behind a [`PeerStats`].
#[derive(Debug, Default)]
pub(crate) struct PeerCounters {
    pub msgs_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub msgs_received: AtomicU64,
    pub bytes_received: AtomicU64,
    pub dropped_full: AtomicU64,
    pub dropped_shaped: AtomicU64,
    pub send_failed: AtomicU64,
    pub decode_errors: AtomicU64,
    pub connects: AtomicU64,
}

/// Adds `n` to a counter (relaxed: counters are statistics, not sync).
pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl PeerCounters {
    fn snapshot(&self) -> PeerStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PeerStats {
            msgs_sent: g(&self.msgs_sent),
            bytes_sent: g(&self.bytes_sent),
            msgs_received: g(&self.msgs_received),
            bytes_received: g(&self.bytes_received),
            dropped_full: g(&self.dropped_full),
            dropped_shaped: g(&self.dropped_shaped),
            send_failed: g(&self.send_failed),
            decode_errors: g(&self.decode_errors),
            connects: g(&self.connects),
        }
    }
}

/// All counters of one endpoint.
#[derive(Debug, Default)]
pub(crate) struct StatsTable {
    peers: Mutex<HashMap<PeerIdentity, Arc<PeerCounters>>>,
    /// Incoming connections whose handshake failed (e.g. a foreign CA).
    pub rejected: AtomicU64,
}

impl StatsTable {
    /// The counters of `peer`, created on first use.
    pub fn peer(&self, peer: PeerIdentity) -> Arc<PeerCounters> {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        peers.entry(peer).or_default().clone()
    }

    /// A sorted snapshot of every peer's counters.
    pub fn snapshot(&self) -> BTreeMap<PeerIdentity, PeerStats> {
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        peers.iter().map(|(k, v)| (*k, v.snapshot())).collect()
    }
}

/// A snapshot of an endpoint's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EndpointStats {
    /// Counters per remote identity.
    pub peers: BTreeMap<PeerIdentity, PeerStats>,
    /// Incoming connection attempts refused during the TLS handshake.
    pub rejected_connections: u64,
}

impl EndpointStats {
    /// Sum over all peers.
    pub fn total(&self) -> PeerStats {
        let mut t = PeerStats::default();
        for p in self.peers.values() {
            t.msgs_sent += p.msgs_sent;
            t.bytes_sent += p.bytes_sent;
            t.msgs_received += p.msgs_received;
            t.bytes_received += p.bytes_received;
            t.dropped_full += p.dropped_full;
            t.dropped_shaped += p.dropped_shaped;
            t.send_failed += p.send_failed;
            t.decode_errors += p.decode_errors;
            t.connects += p.connects;
        }
        t
    }

    /// The counters of one peer (zero if never seen).
    pub fn peer(&self, peer: PeerIdentity) -> PeerStats {
        self.peers.get(&peer).copied().unwrap_or_default()
    }
}
