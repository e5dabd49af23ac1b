//! Length-prefixed framing of postcard-encoded messages.
//!
//! A frame is a big-endian `u32` body length followed by the body, the
//! postcard encoding of one message. Frames longer than a configured
//! maximum are refused on both sides, and a reader never allocates more
//! than the bytes that actually arrived, so a hostile or corrupt length
//! cannot make it reserve gigabytes.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// Default largest frame body accepted or produced: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// Framing failures. None of them panics or allocates past the limit.
#[derive(Debug, Error)]
pub enum FrameError {
    /// A frame body is longer than the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    Oversize {
        /// The declared (or encoded) body length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The input ended inside a frame.
    #[error("truncated frame: expected {expected} bytes, got {got}")]
    Truncated {
        /// Bytes the frame needed (header or header plus body).
        expected: usize,
        /// Bytes that arrived.
        got: usize,
    },
    /// The message could not be encoded.
    #[error("encoding: {0}")]
    Encode(postcard::Error),
    /// The body is not a valid encoding of the expected message type. The
    /// frame boundary is intact, so a reader may go on with the next one.
    #[error("decoding: {0}")]
    Decode(postcard::Error),
    /// The underlying stream failed.
    #[error("stream: {0}")]
    Io(#[from] io::Error),
}

/// Appends one frame holding `msg` to `out`; returns the frame's total
/// length (header included). Uses [`DEFAULT_MAX_FRAME`].
pub fn encode<M: Serialize>(msg: &M, out: &mut Vec<u8>) -> Result<usize, FrameError> {
    encode_limited(msg, out, DEFAULT_MAX_FRAME)
}

/// [`encode`] with an explicit maximum body length. On error `out` is left
/// as it was.
pub fn encode_limited<M: Serialize>(
    msg: &M,
    out: &mut Vec<u8>,
    max: usize,
) -> Result<usize, FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    if let Err(e) = postcard::to_extend(msg, Appender(out)) {
        out.truncate(start);
        return Err(FrameError::Encode(e));
    }
    let len = out.len() - start - HEADER_LEN;
    let Some(len32) = u32::try_from(len).ok().filter(|_| len <= max) else {
        out.truncate(start);
        return Err(FrameError::Oversize { len, max });
    };
    out[start..start + HEADER_LEN].copy_from_slice(&len32.to_be_bytes());
    Ok(len + HEADER_LEN)
}

/// Lets postcard append to a borrowed `Vec` (its `to_extend` takes the
/// sink by value), so a failed encode can be rolled back in place.
struct Appender<'a>(&'a mut Vec<u8>);

impl Extend<u8> for Appender<'_> {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

/// Splits the first frame off `buf`. Returns the body and the bytes
/// consumed, `Ok(None)` if `buf` does not yet hold a whole frame, or
/// [`FrameError::Oversize`] if the declared length exceeds `max`.
pub fn split_frame(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, FrameError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len > max {
        return Err(FrameError::Oversize { len, max });
    }
    Ok(buf
        .get(HEADER_LEN..HEADER_LEN + len)
        .map(|body| (body, HEADER_LEN + len)))
}

/// Decodes one message from a frame body.
pub fn decode_body<M: DeserializeOwned>(body: &[u8]) -> Result<M, FrameError> {
    postcard::from_bytes(body).map_err(FrameError::Decode)
}

/// Decodes every frame in `buf`, which must end on a frame boundary
/// (otherwise [`FrameError::Truncated`]).
pub fn decode_all<M: DeserializeOwned>(mut buf: &[u8], max: usize) -> Result<Vec<M>, FrameError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        match split_frame(buf, max)? {
            Some((body, used)) => {
                out.push(decode_body(body)?);
                buf = &buf[used..];
            }
            None => {
                let expected = match buf.get(..HEADER_LEN) {
                    Some(h) => HEADER_LEN + u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize,
                    None => HEADER_LEN,
                };
                return Err(FrameError::Truncated {
                    expected,
                    got: buf.len(),
                });
            }
        }
    }
    Ok(out)
}

/// Reads frames from a byte stream (a quinn `RecvStream` or any
/// [`AsyncRead`]). Wrap the stream in a `tokio::io::BufReader` when it
/// delivers many small frames.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    body: Vec<u8>,
    max: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader refusing bodies longer than `max` bytes.
    pub fn new(inner: R, max: usize) -> Self {
        FrameReader {
            inner,
            body: Vec::new(),
            max,
        }
    }

    /// Reads the next frame body. `Ok(None)` at a clean end of stream (on
    /// a frame boundary); [`FrameError::Truncated`] if it ends mid-frame.
    pub async fn read_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let mut header = [0u8; HEADER_LEN];
        let mut got = 0;
        while got < HEADER_LEN {
            let n = self.inner.read(&mut header[got..]).await?;
            if n == 0 {
                if got == 0 {
                    return Ok(None);
                }
                return Err(FrameError::Truncated {
                    expected: HEADER_LEN,
                    got,
                });
            }
            got += n;
        }
        let len = u32::from_be_bytes(header) as usize;
        if len > self.max {
            return Err(FrameError::Oversize { len, max: self.max });
        }
        self.body.clear();
        // `take` + `read_to_end` grows the buffer with the data that
        // actually arrives instead of trusting the declared length.
        let read = (&mut self.inner)
            .take(len as u64)
            .read_to_end(&mut self.body)
            .await?;
        if read < len {
            return Err(FrameError::Truncated {
                expected: HEADER_LEN + len,
                got: HEADER_LEN + read,
            });
        }
        // Don't keep a huge buffer around after one big frame.
        if self.body.capacity() > (1 << 20) && len < (1 << 16) {
            self.body.shrink_to(1 << 16);
        }
        Ok(Some(&self.body))
    }

    /// Reads and decodes the next message, with its frame length (header
    /// included). A [`FrameError::Decode`] leaves the reader at the next
    /// frame, so the caller may skip the bad message and go on.
    pub async fn read<M: DeserializeOwned>(&mut self) -> Result<Option<(M, usize)>, FrameError> {
        match self.read_frame().await? {
            None => Ok(None),
            Some(body) => {
                let len = body.len() + HEADER_LEN;
                decode_body(body).map(|m| Some((m, len)))
            }
        }
    }

    /// Gives the underlying stream back.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// Bytes at the head of every stream, before the first frame: the
/// sender's incarnation (see [`crate::Endpoint`]), little-endian.
pub const STREAM_HEADER_LEN: usize = 8;

/// The stream header announcing `incarnation`.
pub fn stream_header(incarnation: u64) -> [u8; STREAM_HEADER_LEN] {
    incarnation.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
    struct Msg {
        id: u64,
        payload: Vec<u8>,
        note: String,
    }

    fn msg(i: u64) -> Msg {
        Msg {
            id: i,
            payload: vec![i as u8; (i % 300) as usize],
            note: format!("m{i}"),
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn round_trip_slice_and_stream() {
        let mut buf = Vec::new();
        let msgs: Vec<Msg> = (0..200).map(msg).collect();
        let mut total = 0;
        for m in &msgs {
            total += encode(m, &mut buf).unwrap();
        }
        assert_eq!(total, buf.len());
        assert_eq!(decode_all::<Msg>(&buf, DEFAULT_MAX_FRAME).unwrap(), msgs);

        let got = rt().block_on(async {
            let mut r = FrameReader::new(&buf[..], DEFAULT_MAX_FRAME);
            let mut got = Vec::new();
            while let Some((m, _)) = r.read::<Msg>().await.unwrap() {
                got.push(m);
            }
            got
        });
        assert_eq!(got, msgs);
    }

    #[test]
    fn truncated_frames_are_errors() {
        let mut buf = Vec::new();
        encode(&msg(42), &mut buf).unwrap();
        for cut in 1..buf.len() {
            let part = &buf[..cut];
            assert!(matches!(
                decode_all::<Msg>(part, DEFAULT_MAX_FRAME),
                Err(FrameError::Truncated { .. })
            ));
            let res = rt().block_on(async {
                FrameReader::new(part, DEFAULT_MAX_FRAME)
                    .read::<Msg>()
                    .await
            });
            assert!(
                matches!(res, Err(FrameError::Truncated { .. })),
                "cut {cut}: {res:?}"
            );
        }
    }

    #[test]
    fn oversize_frames_are_errors() {
        let big = msg(299);
        let mut buf = vec![7u8];
        let err = encode_limited(&big, &mut buf, 100).unwrap_err();
        assert!(matches!(err, FrameError::Oversize { max: 100, .. }));
        assert_eq!(
            buf,
            vec![7u8],
            "failed encode must leave the buffer as it was"
        );

        // A header claiming 4 GiB is refused before any allocation.
        let huge = u32::MAX.to_be_bytes();
        assert!(matches!(
            split_frame(&huge, DEFAULT_MAX_FRAME),
            Err(FrameError::Oversize { .. })
        ));
        let res = rt().block_on(async {
            FrameReader::new(&huge[..], DEFAULT_MAX_FRAME)
                .read::<Msg>()
                .await
        });
        assert!(matches!(res, Err(FrameError::Oversize { .. })));
    }

    #[test]
    fn bad_body_is_a_decode_error_and_reader_continues() {
        let mut buf = Vec::new();
        buf.extend_from_slice(&3u32.to_be_bytes());
        buf.extend_from_slice(&[0xff, 0xff, 0xff]);
        encode(&msg(5), &mut buf).unwrap();
        rt().block_on(async {
            let mut r = FrameReader::new(&buf[..], DEFAULT_MAX_FRAME);
            assert!(matches!(r.read::<Msg>().await, Err(FrameError::Decode(_))));
            assert_eq!(r.read::<Msg>().await.unwrap().unwrap().0, msg(5));
            assert!(r.read::<Msg>().await.unwrap().is_none());
        });
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = decode_all::<Msg>(&bytes, 256);
            let _ = decode_all::<Vec<String>>(&bytes, DEFAULT_MAX_FRAME);
            rt().block_on(async {
                let mut r = FrameReader::new(&bytes[..], 256);
                // Each iteration consumes input or ends, so this is bounded.
                for _ in 0..=bytes.len() {
                    match r.read::<Msg>().await {
                        Ok(None) => break,
                        Ok(Some(_)) | Err(FrameError::Decode(_)) => {}
                        Err(_) => break,
                    }
                }
            });
        }

        #[test]
        fn encode_decode_round_trip(id in proptest::num::u64::ANY,
                                    payload in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
                                    note in ".{0,20}") {
            let m = Msg { id, payload, note };
            let mut buf = Vec::new();
            encode(&m, &mut buf).unwrap();
            encode(&m, &mut buf).unwrap();
            let got = decode_all::<Msg>(&buf, DEFAULT_MAX_FRAME).unwrap();
            proptest::prop_assert_eq!(got, vec![m.clone(), m]);
        }
    }
}
