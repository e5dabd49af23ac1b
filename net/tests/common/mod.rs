//! Helpers shared by the transport tests: a test message, quick
//! configurations, bounded receive.

#![allow(dead_code)]

use net::{ClusterCa, Endpoint, EndpointConfig, Inbox, LinkShaper, PeerIdentity};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Msg {
    pub seq: u64,
    pub body: Vec<u8>,
}

pub fn msg(seq: u64) -> Msg {
    Msg {
        seq,
        body: vec![seq as u8; 32],
    }
}

pub const A: PeerIdentity = PeerIdentity::Node(0);
pub const B: PeerIdentity = PeerIdentity::Node(1);

pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Fast reconnects and short timeouts so failures show up quickly.
pub fn cfg(shaper: &Arc<LinkShaper>) -> EndpointConfig {
    EndpointConfig {
        reconnect_min: Duration::from_millis(10),
        reconnect_max: Duration::from_millis(200),
        connect_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(3),
        keep_alive: Duration::from_millis(500),
        shaper: shaper.clone(),
        ..EndpointConfig::default()
    }
}

/// Runs a test body under a hard time limit.
pub async fn bounded<F: Future<Output = ()>>(secs: u64, f: F) {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("test exceeded its time limit");
}

/// The next message within `ms` milliseconds, if any.
pub async fn recv_within(inbox: &mut Inbox<Msg>, ms: u64) -> Option<(PeerIdentity, Msg)> {
    tokio::time::timeout(Duration::from_millis(ms), inbox.recv())
        .await
        .ok()
        .flatten()
}

/// Two nodes that know each other's address, sharing one shaper.
pub struct Pair {
    pub ca: ClusterCa,
    pub shaper: Arc<LinkShaper>,
    pub a: Endpoint<Msg>,
    pub a_in: Inbox<Msg>,
    pub b: Endpoint<Msg>,
    pub b_in: Inbox<Msg>,
}

pub async fn pair() -> Pair {
    let ca = ClusterCa::generate("test").unwrap();
    let shaper = Arc::new(LinkShaper::new(42));
    let (a, a_in) = Endpoint::bind(any_port(), &ca.issue(A).unwrap(), cfg(&shaper)).unwrap();
    let (b, b_in) = Endpoint::bind(any_port(), &ca.issue(B).unwrap(), cfg(&shaper)).unwrap();
    a.add_peer(B, b.local_addr().unwrap());
    b.add_peer(A, a.local_addr().unwrap());
    assert!(a.wait_connected(B, Duration::from_secs(5)).await);
    assert!(b.wait_connected(A, Duration::from_secs(5)).await);
    Pair {
        ca,
        shaper,
        a,
        a_in,
        b,
        b_in,
    }
}
