//! Unary gRPC calls over one plain-text HTTP/2 connection (h2), as etcd's
//! client port serves them.

use super::proto;
use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpStream;

/// Why a call failed, and whether the server may have acted on it.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CallError {
    /// The request never reached the server (no connection, connection
    /// closed, stream refused): it had no effect, and may be sent again.
    #[error("not sent: {0}")]
    NotSent(String),
    /// The server answered with a gRPC status other than OK.
    #[error("grpc-status {code}: {message}")]
    Status {
        /// The gRPC status code (14 = unavailable, 4 = deadline exceeded...).
        code: u32,
        /// `grpc-message`.
        message: String,
    },
    /// The request was sent but no answer came back intact (the connection
    /// broke, or the answer was malformed): it may have taken effect.
    #[error("broken: {0}")]
    Broken(String),
}

/// One HTTP/2 connection to an etcd member; cheap to clone (clones share
/// the connection).
#[derive(Clone, Debug)]
pub struct Channel {
    addr: SocketAddr,
    send: h2::client::SendRequest<Bytes>,
    alive: Arc<AtomicBool>,
}

impl Channel {
    /// Connects to `addr` (a member's client URL address), within `limit`.
    pub async fn connect(addr: SocketAddr, limit: Duration) -> Result<Channel, CallError> {
        let not_sent = |e: String| CallError::NotSent(format!("connecting to {addr}: {e}"));
        let tcp = tokio::time::timeout(limit, TcpStream::connect(addr))
            .await
            .map_err(|_| not_sent("timed out".into()))?
            .map_err(|e| not_sent(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let (send, connection) = tokio::time::timeout(
            limit,
            h2::client::Builder::new()
                .initial_window_size(1 << 20)
                .initial_connection_window_size(1 << 24)
                .handshake::<_, Bytes>(tcp),
        )
        .await
        .map_err(|_| not_sent("HTTP/2 handshake timed out".into()))?
        .map_err(|e| not_sent(e.to_string()))?;
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        tokio::spawn(async move {
            let _ = connection.await;
            flag.store(false, Ordering::Relaxed);
        });
        Ok(Channel { addr, send, alive })
    }

    /// Whether the connection is still up (as far as is known).
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    /// Calls `path` (e.g. `/etcdserverpb.KV/Range`) with the encoded
    /// request `message`, and returns the encoded response message.
    pub async fn unary(&self, path: &str, message: &[u8]) -> Result<Bytes, CallError> {
        let not_sent = |e: h2::Error| CallError::NotSent(format!("{}: {e}", self.addr));
        let broken = |e: h2::Error| CallError::Broken(format!("{}: {e}", self.addr));
        let mut send = self.send.clone().ready().await.map_err(not_sent)?;
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{}{path}", self.addr))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .map_err(|e| CallError::NotSent(e.to_string()))?;
        let (response, mut stream) = send.send_request(request, false).map_err(not_sent)?;
        stream
            .send_data(proto::frame(message), true)
            .map_err(not_sent)?;
        let response = response.await.map_err(|e| {
            if e.reason() == Some(h2::Reason::REFUSED_STREAM) {
                not_sent(e)
            } else {
                broken(e)
            }
        })?;
        let (parts, mut body) = response.into_parts();
        if parts.status != http::StatusCode::OK {
            return Err(CallError::Status {
                code: 2,
                message: format!("HTTP status {}", parts.status),
            });
        }
        // A trailers-only answer carries the status in the headers.
        grpc_status(&parts.headers)?;
        let mut buf = BytesMut::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(broken)?;
            let _ = body.flow_control().release_capacity(chunk.len());
            buf.extend_from_slice(&chunk);
        }
        match body.trailers().await.map_err(broken)? {
            Some(trailers) => grpc_status(&trailers)?,
            None if buf.is_empty() => {
                return Err(CallError::Broken(format!(
                    "{}: no answer and no grpc-status",
                    self.addr
                )))
            }
            None => {}
        }
        let message = proto::unframe(&buf).map_err(|e| CallError::Broken(e.to_string()))?;
        Ok(Bytes::copy_from_slice(message))
    }
}

/// `Err` when `headers` hold a `grpc-status` other than 0.
fn grpc_status(headers: &http::HeaderMap) -> Result<(), CallError> {
    let Some(code) = headers.get("grpc-status") else {
        return Ok(());
    };
    let code: u32 = code
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(2);
    if code == 0 {
        return Ok(());
    }
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .unwrap_or("")
        .to_string();
    Err(CallError::Status { code, message })
}

/// What `Maintenance/Status` says about one member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    /// The member's own id.
    pub member_id: u64,
    /// The id of the leader it knows (0: none).
    pub leader: u64,
    /// Its Raft term.
    pub raft_term: u64,
}

impl MemberStatus {
    /// Whether this member is the leader.
    pub fn leads(&self) -> bool {
        self.leader != 0 && self.leader == self.member_id
    }
}

/// Asks the member behind `channel` for its status
/// (`/etcdserverpb.Maintenance/Status`).
pub async fn status_on(channel: &Channel) -> Result<MemberStatus, CallError> {
    let bytes = channel
        .unary("/etcdserverpb.Maintenance/Status", &[])
        .await?;
    let s = proto::status_response(&bytes).map_err(|e| CallError::Broken(e.to_string()))?;
    Ok(MemberStatus {
        member_id: s.header.member_id,
        leader: s.leader,
        raft_term: s.raft_term,
    })
}

/// Asks the member at `addr` for its status on a fresh connection, within
/// `limit`.
pub async fn member_status(addr: SocketAddr, limit: Duration) -> Result<MemberStatus, CallError> {
    let call = async { status_on(&Channel::connect(addr, limit).await?).await };
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or_else(|_| Err(CallError::Broken(format!("{addr}: status timed out"))))
}
