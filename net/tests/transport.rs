//! Endpoints over real QUIC on 127.0.0.1: exchange, order, mutual TLS
//! refusal of foreign certificates, reconnection, backpressure, and
//! driver replies on the driver's own connection.

mod common;

use common::*;
use net::frame::{encode, FrameError};
use net::{ClusterCa, Direction, Endpoint, EndpointConfig, LinkShaper, PeerIdentity, SendError};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_endpoints_exchange_both_ways() {
    bounded(30, async {
        let mut p = pair().await;
        p.a.send(B, &msg(1)).await.unwrap();
        let (from, m) = recv_within(&mut p.b_in, 5_000)
            .await
            .expect("b got nothing");
        assert_eq!((from, m), (A, msg(1)));
        p.b.send(A, &msg(2)).await.unwrap();
        let (from, m) = recv_within(&mut p.a_in, 5_000)
            .await
            .expect("a got nothing");
        assert_eq!((from, m), (B, msg(2)));

        let mut frame = Vec::new();
        let frame_len = encode(&msg(1), &mut frame).unwrap() as u64;
        let sa = p.a.stats().peer(B);
        let sb = p.b.stats().peer(A);
        assert_eq!((sa.msgs_sent, sa.bytes_sent), (1, frame_len));
        assert_eq!((sb.msgs_received, sb.bytes_received), (1, frame_len));
        assert_eq!((sa.msgs_received, sb.msgs_sent), (1, 1));

        // Each side sees the other's verified identity on both connections.
        let conns = p.b.connections();
        assert!(conns
            .iter()
            .any(|c| c.peer == A && c.direction == Direction::Incoming));
        assert!(conns
            .iter()
            .any(|c| c.peer == A && c.direction == Direction::Outgoing));
        assert!(conns.iter().all(|c| c.peer == A));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_messages_arrive_in_order() {
    bounded(60, async {
        let mut p = pair().await;
        const N: u64 = 20_000;
        let sender = {
            let a = p.a.clone();
            tokio::spawn(async move {
                for i in 0..N {
                    a.send(B, &msg(i)).await.unwrap();
                }
            })
        };
        for i in 0..N {
            let (from, m) = recv_within(&mut p.b_in, 5_000)
                .await
                .unwrap_or_else(|| panic!("stalled at {i}"));
            assert_eq!(from, A);
            assert_eq!(m.seq, i, "out of order");
        }
        sender.await.unwrap();
        assert_eq!(p.a.stats().peer(B).msgs_sent, N);
        assert_eq!(p.b.stats().peer(A).msgs_received, N);
    })
    .await;
}

/// A client whose certificate comes from another CA but which trusts our
/// CA (so only the server's check can stop it): the handshake is refused
/// and nothing reaches the inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_of_foreign_ca_is_refused() {
    bounded(30, async {
        let ca = ClusterCa::generate("ours").unwrap();
        let foreign = ClusterCa::generate("theirs").unwrap();
        let shaper = Arc::new(LinkShaper::new(1));
        let (server, mut inbox) =
            Endpoint::<Msg>::bind(any_port(), &ca.issue(B).unwrap(), cfg(&shaper)).unwrap();
        let server_addr = server.local_addr().unwrap();

        // Hand-built client: trusts our CA, presents a foreign certificate.
        let client = raw_client(&ca, &foreign.issue(A).unwrap());
        let connecting = client.connect(server_addr, &B.dns_name()).unwrap();
        // In TLS 1.3 the client may finish its side before the server has
        // judged its certificate; either the handshake or the connection
        // right after it must fail.
        if let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_secs(5), connecting).await {
            if let Ok(mut s) = conn.open_uni().await {
                let mut frame = Vec::new();
                encode(&msg(666), &mut frame).unwrap();
                let _ = s.write_all(&frame).await;
                let _ = s.finish();
            }
            let reason = tokio::time::timeout(Duration::from_secs(5), conn.closed())
                .await
                .expect("connection from a foreign CA stayed open");
            assert!(
                matches!(
                    reason,
                    quinn::ConnectionError::ConnectionClosed(_)
                        | quinn::ConnectionError::TransportError(_)
                ),
                "unexpected close reason {reason:?}"
            );
        }
        assert!(
            recv_within(&mut inbox, 1_000).await.is_none(),
            "foreign message delivered"
        );
        assert!(server.stats().rejected_connections >= 1);
        assert!(server.connections().is_empty());
        assert!(server.stats().peers.values().all(|s| s.msgs_received == 0));

        // Control: the same client with a certificate of our CA gets through.
        let client = raw_client(&ca, &ca.issue(A).unwrap());
        let conn = client
            .connect(server_addr, &B.dns_name())
            .unwrap()
            .await
            .unwrap();
        let mut s = conn.open_uni().await.unwrap();
        let mut frame = net::frame::stream_header(42).to_vec();
        encode(&msg(7), &mut frame).unwrap();
        s.write_all(&frame).await.unwrap();
        let (from, m) = recv_within(&mut inbox, 5_000)
            .await
            .expect("legit client refused");
        assert_eq!((from, m), (A, msg(7)));
    })
    .await;
}

/// A bare quinn client that trusts `trust` and presents `id`.
fn raw_client(trust: &ClusterCa, id: &net::Identity) -> quinn::Endpoint {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trust.cert_der().clone()).unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(vec![id.cert_der().clone()], id.key_der())
    .unwrap();
    tls.alpn_protocols = vec![net::tls::ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let mut client = quinn::Endpoint::client(any_port()).unwrap();
    client.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    client
}

/// The same through the public API: an endpoint of another cluster can
/// neither deliver to us nor be reached by us.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_of_another_cluster_cannot_talk() {
    bounded(30, async {
        let ca = ClusterCa::generate("ours").unwrap();
        let foreign = ClusterCa::generate("theirs").unwrap();
        let shaper = Arc::new(LinkShaper::new(1));
        let (ours, mut our_inbox) =
            Endpoint::<Msg>::bind(any_port(), &ca.issue(B).unwrap(), cfg(&shaper)).unwrap();
        let (theirs, mut their_inbox) =
            Endpoint::<Msg>::bind(any_port(), &foreign.issue(A).unwrap(), cfg(&shaper)).unwrap();
        theirs.add_peer(B, ours.local_addr().unwrap());
        ours.add_peer(A, theirs.local_addr().unwrap());
        for i in 0..5 {
            let _ = theirs.try_send(B, &msg(i));
            let _ = ours.try_send(A, &msg(i));
        }
        assert!(!ours.wait_connected(A, Duration::from_millis(1_500)).await);
        assert!(recv_within(&mut our_inbox, 500).await.is_none());
        assert!(recv_within(&mut their_inbox, 100).await.is_none());
        assert!(ours.stats().rejected_connections >= 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_peer_restarts_on_same_port() {
    bounded(60, async {
        let mut p = pair().await;
        p.a.send(B, &msg(1)).await.unwrap();
        assert_eq!(recv_within(&mut p.b_in, 5_000).await.unwrap().1, msg(1));
        let b_addr = p.b.local_addr().unwrap();
        let b_id = p.ca.issue(B).unwrap();
        p.b.shutdown(Duration::from_secs(2)).await;
        drop(p.b_in);

        // Re-bind the same port; the old socket may take a moment to go.
        let mut rebound = None;
        for _ in 0..50 {
            match Endpoint::<Msg>::bind(b_addr, &b_id, cfg(&p.shaper)) {
                Ok(x) => {
                    rebound = Some(x);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let (b2, mut b2_in) = rebound.expect("could not re-bind the port");
        b2.add_peer(A, p.a.local_addr().unwrap());

        // A's link notices the restart and redials; sends after that arrive.
        assert!(p.a.wait_connected(B, Duration::from_secs(10)).await);
        let mut got = None;
        for i in 2..200u64 {
            p.a.send(B, &msg(i)).await.unwrap();
            if let Some((from, m)) = recv_within(&mut b2_in, 100).await {
                got = Some((from, m));
                break;
            }
        }
        let (from, _) = got.expect("no message after restart");
        assert_eq!(from, A);
        b2.send(A, &msg(999)).await.unwrap();
        loop {
            let (from, m) = recv_within(&mut p.a_in, 5_000)
                .await
                .expect("no reply from restarted b");
            if m.seq == 999 {
                assert_eq!(from, B);
                break;
            }
        }
        assert!(p.a.stats().peer(B).connects >= 2);
    })
    .await;
}

/// Sends to a peer that is down fill the bounded queue; then `try_send`
/// fails (counted) and `send` waits. The buffered messages are delivered,
/// in order, once the peer comes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_peer_buffers_to_bound_then_backpressure() {
    bounded(60, async {
        let ca = ClusterCa::generate("test").unwrap();
        let shaper = Arc::new(LinkShaper::new(1));
        let b_id = ca.issue(B).unwrap();
        // Find a free port, then leave it unbound for now.
        let (probe, _) = Endpoint::<Msg>::bind(any_port(), &b_id, cfg(&shaper)).unwrap();
        let b_addr = probe.local_addr().unwrap();
        probe.shutdown(Duration::from_secs(2)).await;

        let cap = 8;
        let a_cfg = EndpointConfig {
            queue_capacity: cap,
            ..cfg(&shaper)
        };
        let (a, _a_in) = Endpoint::<Msg>::bind(any_port(), &ca.issue(A).unwrap(), a_cfg).unwrap();
        a.add_peer(B, b_addr);
        let (mut ok, mut full) = (0u64, 0u64);
        for i in 0..100 {
            match a.try_send(B, &msg(i)) {
                Ok(()) => ok += 1,
                Err(SendError::Full { to }) => {
                    assert_eq!(to, B);
                    full += 1
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert!(ok >= cap as u64 && ok <= 2 * cap as u64, "accepted {ok}");
        assert_eq!(ok + full, 100);
        assert_eq!(a.stats().peer(B).dropped_full, full);
        let blocked = tokio::time::timeout(Duration::from_millis(300), a.send(B, &msg(1000))).await;
        assert!(blocked.is_err(), "send did not wait on a full queue");

        let mut bound = None;
        for _ in 0..50 {
            match Endpoint::<Msg>::bind(b_addr, &b_id, cfg(&shaper)) {
                Ok(x) => {
                    bound = Some(x);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let (_b, mut b_in) = bound.expect("could not bind the port");
        for i in 0..ok {
            let (from, m) = recv_within(&mut b_in, 10_000)
                .await
                .expect("buffered message lost");
            assert_eq!((from, m.seq), (A, i));
        }
        assert!(
            recv_within(&mut b_in, 500).await.is_none(),
            "more than was accepted"
        );
    })
    .await;
}

/// A driver dials a node; the node answers to the driver's identity and
/// the reply travels on the driver's connection (the node has no address
/// for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_gets_replies_on_its_connection() {
    bounded(30, async {
        let ca = ClusterCa::generate("test").unwrap();
        let shaper = Arc::new(LinkShaper::new(1));
        let driver_id = PeerIdentity::Driver(3);
        let (node, mut node_in) =
            Endpoint::<Msg>::bind(any_port(), &ca.issue(A).unwrap(), cfg(&shaper)).unwrap();
        let (driver, mut driver_in) =
            Endpoint::<Msg>::bind(any_port(), &ca.issue(driver_id).unwrap(), cfg(&shaper)).unwrap();
        driver.add_peer(A, node.local_addr().unwrap());
        for i in 0..10 {
            driver.send(A, &msg(i)).await.unwrap();
            let (from, m) = recv_within(&mut node_in, 5_000)
                .await
                .expect("request lost");
            assert_eq!((from, m.seq), (driver_id, i));
            node.send(from, &msg(100 + i)).await.unwrap();
            let (from, m) = recv_within(&mut driver_in, 5_000)
                .await
                .expect("reply lost");
            assert_eq!((from, m.seq), (A, 100 + i));
        }
        let conns = node.connections();
        assert_eq!(conns.len(), 1, "{conns:?}");
        assert_eq!(conns[0].peer, driver_id);
        assert_eq!(conns[0].direction, Direction::Incoming);
        assert_eq!(node.stats().peer(driver_id).msgs_sent, 10);
        assert_eq!(driver.stats().peer(A).msgs_received, 10);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_errors_are_typed() {
    bounded(30, async {
        let ca = ClusterCa::generate("test").unwrap();
        let shaper = Arc::new(LinkShaper::new(1));
        let small = EndpointConfig {
            max_frame: 64,
            ..cfg(&shaper)
        };
        let (a, _in) = Endpoint::<Msg>::bind(any_port(), &ca.issue(A).unwrap(), small).unwrap();
        let big = Msg {
            seq: 0,
            body: vec![0; 1000],
        };
        assert!(matches!(
            a.try_send(B, &big),
            Err(SendError::Encode(FrameError::Oversize { .. }))
        ));
        assert!(matches!(
            a.send(B, &big).await,
            Err(SendError::Encode(FrameError::Oversize { .. }))
        ));
        assert!(matches!(a.try_send(A, &msg(1)), Err(SendError::ToSelf(_))));
        a.close();
        assert!(matches!(a.try_send(B, &msg(1)), Err(SendError::Closed)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_encodes_once_and_reaches_all() {
    bounded(30, async {
        let mut p = pair().await;
        let c_id = PeerIdentity::Node(2);
        let (c, mut c_in) =
            Endpoint::<Msg>::bind(any_port(), &p.ca.issue(c_id).unwrap(), cfg(&p.shaper)).unwrap();
        p.a.add_peer(c_id, c.local_addr().unwrap());
        assert!(matches!(
            p.a.try_broadcast(&[B, A], &msg(0)),
            Err(SendError::ToSelf(_))
        ));
        assert_eq!(p.a.try_broadcast(&[B, c_id], &msg(5)).unwrap(), 2);
        assert_eq!(recv_within(&mut p.b_in, 5_000).await.unwrap(), (A, msg(5)));
        assert_eq!(recv_within(&mut c_in, 5_000).await.unwrap(), (A, msg(5)));
        // The rejected broadcast sent nothing.
        assert!(recv_within(&mut p.b_in, 300).await.is_none());
        let total = p.a.stats().total();
        assert_eq!(total.msgs_sent, 2);
    })
    .await;
}
