//! The incoming side of a connection: accepts the peer's streams and
//! decodes their frames into the endpoint's inbox.

use crate::endpoint::Shared;
use crate::frame::{FrameError, FrameReader};
use crate::identity::PeerIdentity;
use crate::peer::closing;
use crate::stats::{add, PeerCounters};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use tokio::io::BufReader;

/// Read buffer per stream: many small frames per read call.
const READ_BUFFER: usize = 64 << 10;

/// QUIC application error code used when a peer sends malformed framing.
const BAD_FRAMING: u32 = 2;

/// Accepts unidirectional streams on `conn` until it closes, reading each
/// in its own task.
pub(crate) async fn run_reader<M>(
    shared: Arc<Shared<M>>,
    conn: quinn::Connection,
    peer: PeerIdentity,
) where
    M: DeserializeOwned + Send + 'static,
{
    let counters = shared.stats.peer(peer);
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let stream = tokio::select! {
            biased;
            _ = closing(&mut shutdown) => break,
            s = conn.accept_uni() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        tokio::spawn(read_stream(
            shared.clone(),
            conn.clone(),
            stream,
            peer,
            counters.clone(),
        ));
    }
    shared.connection_ended(&conn);
}

/// Reads the stream's incarnation header, then decodes frames from it
/// into the inbox. A frame that does not
/// decode is skipped and counted; broken framing (oversize, truncated)
/// closes the connection, since the byte stream can no longer be trusted.
async fn read_stream<M>(
    shared: Arc<Shared<M>>,
    conn: quinn::Connection,
    stream: quinn::RecvStream,
    peer: PeerIdentity,
    counters: Arc<PeerCounters>,
) where
    M: DeserializeOwned + Send + 'static,
{
    let mut shutdown = shared.shutdown.subscribe();
    let mut stream = stream;
    // Every stream starts with the sender's incarnation (8 bytes, LE).
    let mut header = [0u8; crate::frame::STREAM_HEADER_LEN];
    let got = tokio::select! {
        biased;
        _ = closing(&mut shutdown) => return,
        r = stream.read_exact(&mut header) => r,
    };
    if got.is_err() {
        return;
    }
    shared.saw_incarnation(peer, u64::from_le_bytes(header));
    let mut reader = FrameReader::new(
        BufReader::with_capacity(READ_BUFFER, stream),
        shared.cfg.max_frame,
    );
    loop {
        let res = tokio::select! {
            biased;
            _ = closing(&mut shutdown) => return,
            r = reader.read::<M>() => r,
        };
        match res {
            Ok(Some((msg, len))) => {
                add(&counters.msgs_received, 1);
                add(&counters.bytes_received, len as u64);
                tokio::select! {
                    biased;
                    _ = closing(&mut shutdown) => return,
                    r = shared.inbox.send((peer, msg)) => if r.is_err() {
                        // Nobody reads the inbox any more.
                        return;
                    },
                }
            }
            Ok(None) => return,
            Err(FrameError::Decode(_)) => add(&counters.decode_errors, 1),
            Err(FrameError::Io(_)) => return,
            Err(_) => {
                conn.close(BAD_FRAMING.into(), b"bad framing");
                return;
            }
        }
    }
}
