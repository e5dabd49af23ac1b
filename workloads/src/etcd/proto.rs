//! Just enough protobuf for etcd's `KV/Range`, `KV/Put` and
//! `Maintenance/Status` (field numbers from etcd's `rpc.proto` and
//! `kv.proto`), and gRPC's 5-byte message framing. Fields not listed are
//! skipped when decoding and never encoded.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

/// A message that could not be decoded.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("malformed protobuf: {0}")]
pub struct DecodeError(pub &'static str);

fn put_varint(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

fn put_bytes_field(buf: &mut BytesMut, field: u32, data: &[u8]) {
    put_varint(buf, u64::from(field << 3 | 2));
    put_varint(buf, data.len() as u64);
    buf.put_slice(data);
}

fn put_varint_field(buf: &mut BytesMut, field: u32, v: u64) {
    put_varint(buf, u64::from(field << 3));
    put_varint(buf, v);
}

/// `RangeRequest { key }`: a linearizable get of one key (`serializable`
/// left at its default, false).
pub fn range_request(key: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(key.len() + 4);
    put_bytes_field(&mut b, 1, key);
    b.freeze()
}

/// `PutRequest { key, value, prev_kv: true }`: the previous key-value comes
/// back, so the new version is known.
pub fn put_request(key: &[u8], value: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(key.len() + value.len() + 10);
    put_bytes_field(&mut b, 1, key);
    put_bytes_field(&mut b, 2, value);
    put_varint_field(&mut b, 4, 1);
    b.freeze()
}

/// One field of a message: its number and its value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self
                .data
                .split_first()
                .ok_or(DecodeError("truncated varint"))?;
            self.data = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError("varint too long"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.data.len() < n {
            return Err(DecodeError("truncated field"));
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn next(&mut self) -> Result<Option<(u32, Field<'a>)>, DecodeError> {
        if self.data.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let field = u32::try_from(tag >> 3).map_err(|_| DecodeError("field number"))?;
        let value = match tag & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Field::Fixed
            }
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| DecodeError("length"))?;
                Field::Bytes(self.take(n)?)
            }
            5 => {
                self.take(4)?;
                Field::Fixed
            }
            _ => return Err(DecodeError("unsupported wire type")),
        };
        Ok(Some((field, value)))
    }
}

fn fields(data: &[u8]) -> Reader<'_> {
    Reader { data }
}

/// `ResponseHeader`: which member answered, in which term.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// `cluster_id` (1).
    pub cluster_id: u64,
    /// `member_id` (2): the member that answered.
    pub member_id: u64,
    /// `revision` (3): the store's revision.
    pub revision: i64,
    /// `raft_term` (4).
    pub raft_term: u64,
}

fn header(data: &[u8]) -> Result<Header, DecodeError> {
    let mut h = Header::default();
    let mut r = fields(data);
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Varint(v)) => h.cluster_id = v,
            (2, Field::Varint(v)) => h.member_id = v,
            (3, Field::Varint(v)) => h.revision = v as i64,
            (4, Field::Varint(v)) => h.raft_term = v,
            _ => {}
        }
    }
    Ok(h)
}

/// `KeyValue`: a key's value and its version (writes since creation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyValue {
    /// `key` (1).
    pub key: Bytes,
    /// `version` (4).
    pub version: i64,
    /// `value` (5).
    pub value: Bytes,
}

fn key_value(data: &[u8]) -> Result<KeyValue, DecodeError> {
    let mut kv = KeyValue::default();
    let mut r = fields(data);
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Bytes(b)) => kv.key = Bytes::copy_from_slice(b),
            (4, Field::Varint(v)) => kv.version = v as i64,
            (5, Field::Bytes(b)) => kv.value = Bytes::copy_from_slice(b),
            _ => {}
        }
    }
    Ok(kv)
}

/// `RangeResponse { header, kvs }`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeResponse {
    /// `header` (1).
    pub header: Header,
    /// `kvs` (2): empty when the key is absent.
    pub kvs: Vec<KeyValue>,
}

/// Decodes a `RangeResponse`.
pub fn range_response(data: &[u8]) -> Result<RangeResponse, DecodeError> {
    let mut out = RangeResponse::default();
    let mut r = fields(data);
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Bytes(b)) => out.header = header(b)?,
            (2, Field::Bytes(b)) => out.kvs.push(key_value(b)?),
            _ => {}
        }
    }
    Ok(out)
}

/// `PutResponse { header, prev_kv }`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutResponse {
    /// `header` (1).
    pub header: Header,
    /// `prev_kv` (2): the key before the put, if it existed.
    pub prev_kv: Option<KeyValue>,
}

/// Decodes a `PutResponse`.
pub fn put_response(data: &[u8]) -> Result<PutResponse, DecodeError> {
    let mut out = PutResponse::default();
    let mut r = fields(data);
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Bytes(b)) => out.header = header(b)?,
            (2, Field::Bytes(b)) => out.prev_kv = Some(key_value(b)?),
            _ => {}
        }
    }
    Ok(out)
}

/// `StatusResponse { header, leader, raft_term }` of `Maintenance/Status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusResponse {
    /// `header` (1): `member_id` is the answering member.
    pub header: Header,
    /// `leader` (4): the member id of the leader (0: none known).
    pub leader: u64,
    /// `raftTerm` (6).
    pub raft_term: u64,
}

/// Decodes a `StatusResponse`.
pub fn status_response(data: &[u8]) -> Result<StatusResponse, DecodeError> {
    let mut out = StatusResponse::default();
    let mut r = fields(data);
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Bytes(b)) => out.header = header(b)?,
            (4, Field::Varint(v)) => out.leader = v,
            (6, Field::Varint(v)) => out.raft_term = v,
            _ => {}
        }
    }
    Ok(out)
}

/// One gRPC message on the wire: a zero compression flag, the length
/// (4 bytes, big-endian), the message.
pub fn frame(message: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(message.len() + 5);
    b.put_u8(0);
    b.put_u32(message.len() as u32);
    b.put_slice(message);
    b.freeze()
}

/// The one message of a unary gRPC response body.
pub fn unframe(body: &[u8]) -> Result<&[u8], DecodeError> {
    let [flag, a, b, c, d, rest @ ..] = body else {
        return Err(DecodeError("gRPC frame shorter than its prefix"));
    };
    if *flag != 0 {
        return Err(DecodeError("compressed gRPC message"));
    }
    let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
    rest.get(..len)
        .ok_or(DecodeError("gRPC frame shorter than its length"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_encode_to_known_bytes() {
        assert_eq!(&range_request(b"foo")[..], b"\x0a\x03foo");
        assert_eq!(
            &put_request(b"foo", b"bar")[..],
            b"\x0a\x03foo\x12\x03bar\x20\x01"
        );
        // A 200-byte value needs a two-byte length varint (0xc8 0x01).
        let big = put_request(b"k", &[b'.'; 200]);
        assert_eq!(&big[..5], b"\x0a\x01k\x12\xc8");
        assert_eq!(big[5], 0x01);
        assert_eq!(big.len(), 3 + 3 + 200 + 2);
    }

    #[test]
    fn grpc_frames_have_a_five_byte_prefix() {
        assert_eq!(
            &frame(b"\x0a\x03foo")[..],
            b"\x00\x00\x00\x00\x05\x0a\x03foo"
        );
        assert_eq!(unframe(b"\x00\x00\x00\x00\x02hi!").unwrap(), b"hi");
        assert!(unframe(b"\x00\x00\x00\x00\x09hi").is_err());
        assert!(unframe(b"\x01\x00\x00\x00\x00").is_err());
        assert!(unframe(b"\x00\x00").is_err());
    }

    // header {cluster_id: 1, member_id: 2, revision: 3, raft_term: 4}
    const HEADER: &[u8] = b"\x0a\x08\x08\x01\x10\x02\x18\x03\x20\x04";

    #[test]
    fn a_range_response_yields_value_and_version() {
        // kvs {key: "foo", create_revision: 2, mod_revision: 3, version: 2,
        // value: "bar"}, more: false, count: 1, and an unknown fixed64.
        let mut msg = HEADER.to_vec();
        msg.extend_from_slice(b"\x12\x10\x0a\x03foo\x10\x02\x18\x03\x20\x02\x2a\x03bar");
        msg.extend_from_slice(b"\x20\x01");
        msg.extend_from_slice(b"\x49\x01\x02\x03\x04\x05\x06\x07\x08");
        let r = range_response(&msg).unwrap();
        assert_eq!(
            r.header,
            Header {
                cluster_id: 1,
                member_id: 2,
                revision: 3,
                raft_term: 4
            }
        );
        assert_eq!(r.kvs.len(), 1);
        assert_eq!(&r.kvs[0].key[..], b"foo");
        assert_eq!(&r.kvs[0].value[..], b"bar");
        assert_eq!(r.kvs[0].version, 2);
        // An absent key: no kvs.
        assert!(range_response(HEADER).unwrap().kvs.is_empty());
    }

    #[test]
    fn put_and_status_responses_decode() {
        let mut msg = HEADER.to_vec();
        msg.extend_from_slice(b"\x12\x07\x0a\x01k\x20\x05\x2a\x00");
        let p = put_response(&msg).unwrap();
        assert_eq!(p.prev_kv.map(|kv| kv.version), Some(5));
        assert_eq!(put_response(HEADER).unwrap().prev_kv, None);
        // header, version "3.4.23", dbSize 20480, leader 0x1234 (varint
        // b4 24), raftIndex 9, raftTerm 7.
        let mut msg = HEADER.to_vec();
        msg.extend_from_slice(b"\x12\x063.4.23\x18\x80\xa0\x01\x20\xb4\x24\x28\x09\x30\x07");
        let s = status_response(&msg).unwrap();
        assert_eq!(s.leader, 0x1234);
        assert_eq!(s.raft_term, 7);
        assert_eq!(s.header.member_id, 2);
    }

    #[test]
    fn truncated_messages_are_errors() {
        assert!(range_response(b"\x12\x10\x0a").is_err());
        assert!(range_response(b"\x08").is_err());
        assert!(range_response(b"\x0b").is_err());
    }
}
