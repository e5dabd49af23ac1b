//! QUIC transport for quorumlab nodes and drivers, on quinn + rustls (ring).
//!
//! - [`ca`]: a per-cluster CA ([`ClusterCa`]) issuing one certificate per
//!   participant ([`Identity`]); the participant ([`PeerIdentity`]: node,
//!   client, driver or control) is encoded in the certificate's DNS name
//!   (`node-3.quorumlab`). PEM save/load in a directory.
//! - [`tls`]: mutual TLS: servers require client certificates of the
//!   cluster CA, clients trust only that CA; ALPN `quorumlab/2`; the verified
//!   peer certificate maps back to its [`PeerIdentity`].
//! - [`frame`]: `u32`-length-prefixed postcard frames with a size limit;
//!   [`FrameReader`] over any `AsyncRead`.
//! - [`shaping`]: [`LinkShaper`]: per directed link delay, jitter, a delay
//!   drawn from a [`Latency`] distribution, loss and
//!   one-way blocking, changeable at run time, applied by the sender.
//! - [`endpoint`]: [`Endpoint`]: long-lived connections, bounded per-peer
//!   queues with backpressure, reconnect with backoff, one bounded inbox of
//!   `(PeerIdentity, M)`, per-peer message/byte counters.
//!
//! ```no_run
//! use net::{ClusterCa, Endpoint, EndpointConfig, PeerIdentity};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug)]
//! enum Msg { Ping(u64), Pong(u64) }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let ca = ClusterCa::generate("demo")?;
//! let (a_id, b_id) = (PeerIdentity::Node(0), PeerIdentity::Node(1));
//! let any = "127.0.0.1:0".parse()?;
//! let (a, _a_inbox) = Endpoint::<Msg>::bind(any, &ca.issue(a_id)?, EndpointConfig::default())?;
//! let (b, mut b_inbox) = Endpoint::<Msg>::bind(any, &ca.issue(b_id)?, EndpointConfig::default())?;
//! a.add_peer(b_id, b.local_addr()?);
//! b.add_peer(a_id, a.local_addr()?);
//!
//! a.send(b_id, &Msg::Ping(1)).await?;          // waits if the queue is full
//! let (from, msg) = b_inbox.recv().await.unwrap();
//! assert_eq!(from, a_id);                       // proved by a's certificate
//! b.try_send(from, &Msg::Pong(1))?;            // fails fast when full
//!
//! // Partition a -> b only, then heal.
//! a.shaper().block(a_id, b_id);
//! a.shaper().heal();
//! println!("{:?}", a.stats().peer(b_id));
//! # Ok(()) }
//! ```
//!
//! A driver dials a node with `add_peer(PeerIdentity::Node(n), addr)` and
//! gets replies on that same connection: the node answers with
//! `send(PeerIdentity::Driver(d), ..)`, which writes on the connection the
//! driver opened (no address needed).

pub mod ca;
mod conn;
mod delay;
pub mod endpoint;
mod endpoint_types;
pub mod frame;
pub mod identity;
mod peer;
pub mod shaping;
pub mod stats;
pub mod tls;

pub use ca::{CaError, ClusterCa, Identity};
pub use endpoint::{
    ConnectionInfo, Direction, Endpoint, EndpointConfig, EndpointError, Inbox, SendError,
};
pub use frame::{FrameError, FrameReader};
pub use identity::PeerIdentity;
pub use shaping::{JitterDist, Latency, LinkParams, LinkShaper, Verdict};
pub use stats::{EndpointStats, PeerStats};
pub use tls::TlsError;
