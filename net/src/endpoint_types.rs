//! The settings, errors and connection descriptions of an
//! [`Endpoint`](crate::Endpoint), apart from its machinery.

use crate::frame::{FrameError, DEFAULT_MAX_FRAME};
use crate::identity::PeerIdentity;
use crate::shaping::LinkShaper;
use crate::tls::TlsError;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::mpsc;

/// Tunables of an [`Endpoint`].
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Frames buffered per peer before `send` waits / `try_send` fails.
    pub queue_capacity: usize,
    /// Messages buffered in the inbox before reading stops.
    pub inbox_capacity: usize,
    /// Largest frame body sent or accepted.
    pub max_frame: usize,
    /// Largest batch of coalesced frames written in one `write_all`.
    pub max_batch_bytes: usize,
    /// First delay between reconnection attempts.
    pub reconnect_min: Duration,
    /// Cap of the exponential reconnection backoff.
    pub reconnect_max: Duration,
    /// Time allowed for one connection handshake.
    pub connect_timeout: Duration,
    /// A connection with no traffic for this long is considered dead.
    pub idle_timeout: Duration,
    /// Keep-alive interval (must be below `idle_timeout`).
    pub keep_alive: Duration,
    /// Round-trip time assumed before one is measured. It sets how soon a
    /// lost handshake packet is resent (about three times this), e.g. a
    /// dial that reached a restarted peer before it listened: QUIC's
    /// default of 333 ms suits the Internet, a cluster wants far less.
    pub initial_rtt: Duration,
    /// Link shaping applied to everything this endpoint sends.
    pub shaper: Arc<LinkShaper>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            queue_capacity: 1024,
            inbox_capacity: 4096,
            max_frame: DEFAULT_MAX_FRAME,
            max_batch_bytes: 256 << 10,
            reconnect_min: Duration::from_millis(20),
            reconnect_max: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(1),
            initial_rtt: Duration::from_millis(333),
            shaper: Arc::new(LinkShaper::default()),
        }
    }
}

/// Failures creating an endpoint.
#[derive(Debug, Error)]
pub enum EndpointError {
    /// The TLS configuration could not be built from the identity.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The UDP socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: io::Error,
    },
    /// Called outside a tokio runtime.
    #[error("an endpoint must be created inside a tokio runtime")]
    NoRuntime,
    /// A setting is out of range.
    #[error("invalid endpoint configuration: {0}")]
    Config(String),
}

/// Failures sending a message.
#[derive(Debug, Error)]
pub enum SendError {
    /// The message could not be framed (e.g. larger than the maximum).
    #[error(transparent)]
    Encode(#[from] FrameError),
    /// The peer's queue is full (`try_send` only); the message was dropped
    /// and counted.
    #[error("queue to {to} is full")]
    Full {
        /// The destination.
        to: PeerIdentity,
    },
    /// The endpoint is closed or the peer was removed.
    #[error("endpoint closed")]
    Closed,
    /// An endpoint does not send to itself.
    #[error("cannot send to self ({0})")]
    ToSelf(PeerIdentity),
}

/// Received messages with the verified identity of their sender.
pub type Inbox<M> = mpsc::Receiver<(PeerIdentity, M)>;

/// Which side opened a connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The remote end dialled us.
    Incoming,
    /// We dialled the remote end.
    Outgoing,
}

/// A live connection and the identity its certificate proved.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The verified remote identity.
    pub peer: PeerIdentity,
    /// The remote UDP address.
    pub remote: SocketAddr,
    /// Who dialled.
    pub direction: Direction,
}
