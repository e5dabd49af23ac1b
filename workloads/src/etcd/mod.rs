//! An etcd v3 client for the driver: gets and puts over etcd's real gRPC
//! API (`/etcdserverpb.KV/Range`, `/etcdserverpb.KV/Put`) on plain HTTP/2,
//! with a hand-written protobuf codec for just the fields needed
//! ([`proto`]), and `Maintenance/Status` to find the leader ([`grpc`]).
//!
//! Mapping to the quorumlab KV model, so `history.csv` is checked by
//! `qlab check` like any protocol's:
//!
//! - key `k` is the etcd key `qlab/<k>` (decimal); values are the
//!   workload's tagged values, byte for byte;
//! - a get is a linearizable `Range` (etcd's default, `serializable:
//!   false`) and returns the value with etcd's per-key `version` (the
//!   number of writes since the key was created), or absent with version 0;
//! - a put is a `Put` with `prev_kv: true`, whose new version is the
//!   previous key's version plus one: versions count writes, the model
//!   quorumlab's own stores follow (`VersionModel::Counted`).
//!
//! Compare-and-set (an etcd `Txn`) is not issued.

pub mod grpc;
pub mod proto;

pub use grpc::{member_status, status_on, CallError, Channel, MemberStatus};

use protocols::kv::{Key, Response};

/// gRPC path of gets.
pub const RANGE: &str = "/etcdserverpb.KV/Range";
/// gRPC path of puts.
pub const PUT: &str = "/etcdserverpb.KV/Put";

/// The etcd key of workload key `key`.
pub fn etcd_key(key: Key) -> Vec<u8> {
    format!("qlab/{key}").into_bytes()
}

/// A linearizable get of `key` on `channel`.
pub async fn get(channel: &Channel, key: Key) -> Result<Response, CallError> {
    let bytes = channel
        .unary(RANGE, &proto::range_request(&etcd_key(key)))
        .await?;
    let r = proto::range_response(&bytes).map_err(|e| CallError::Broken(e.to_string()))?;
    Ok(match r.kvs.into_iter().next() {
        Some(kv) => Response::Value {
            value: Some(kv.value),
            version: u64::try_from(kv.version).unwrap_or(0),
        },
        None => Response::Value {
            value: None,
            version: 0,
        },
    })
}

/// A put of `value` under `key` on `channel`; answers the key's new version.
pub async fn put(channel: &Channel, key: Key, value: &[u8]) -> Result<Response, CallError> {
    let bytes = channel
        .unary(PUT, &proto::put_request(&etcd_key(key), value))
        .await?;
    let r = proto::put_response(&bytes).map_err(|e| CallError::Broken(e.to_string()))?;
    let before = r
        .prev_kv
        .map_or(0, |kv| u64::try_from(kv.version).unwrap_or(0));
    Ok(Response::Written {
        version: before + 1,
    })
}
