//! The replicated key-value state machine: get, put and compare-and-set on
//! per-key versions, with client-session deduplication.
//!
//! Every protocol that replicates a log applies [`Command`]s to a
//! [`KvStore`] in log order; determinism (no hashing order, no clock) makes
//! every replica reach the same state. Versions start at 0 for a missing key
//! and increase by one per successful write to that key.

use crate::types::{ClientId, RequestId};
use crate::vclock::VersionVector;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Keys are integers drawn from the workload's key space.
pub type Key = u64;

/// Values are opaque bytes.
pub type Value = Bytes;

/// A state-machine command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Command {
    /// Read a key.
    Get {
        /// The key.
        key: Key,
    },
    /// Write a key unconditionally.
    Put {
        /// The key.
        key: Key,
        /// The new value.
        value: Value,
    },
    /// Write a key only if its current version is `expected_version`.
    Cas {
        /// The key.
        key: Key,
        /// The version the client last saw (0 = key absent).
        expected_version: u64,
        /// The new value.
        value: Value,
    },
}

impl Command {
    /// The key the command touches (every command touches exactly one, which
    /// is what lets the linearizability checker split histories per key).
    pub fn key(&self) -> Key {
        match self {
            Command::Get { key } | Command::Put { key, .. } | Command::Cas { key, .. } => *key,
        }
    }

    /// Whether the command only reads.
    pub fn is_read(&self) -> bool {
        matches!(self, Command::Get { .. })
    }

    /// A deterministic 64-bit digest (FNV-1a) of the command, for cheap
    /// equality checks across replicas.
    pub fn digest(&self) -> u64 {
        let mut h = Fnv::new();
        match self {
            Command::Get { key } => {
                h.byte(1);
                h.u64(*key);
            }
            Command::Put { key, value } => {
                h.byte(2);
                h.u64(*key);
                h.bytes(value);
            }
            Command::Cas {
                key,
                expected_version,
                value,
            } => {
                h.byte(3);
                h.u64(*key);
                h.u64(*expected_version);
                h.bytes(value);
            }
        }
        h.finish()
    }
}

/// Digest of a client request as applied at a log position.
pub fn request_digest(id: RequestId, command: &Command) -> u64 {
    let mut h = Fnv::new();
    h.u64(id.client);
    h.u64(id.seq);
    h.u64(command.digest());
    h.finish()
}

/// The state machine's answer to a command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Response {
    /// Result of a get: the value (None if absent) and its version.
    Value {
        /// Current value.
        value: Option<Value>,
        /// Current version (0 if absent).
        version: u64,
    },
    /// A put or successful compare-and-set; the key's new version.
    Written {
        /// Version after the write.
        version: u64,
    },
    /// A compare-and-set whose expected version did not match.
    CasFailed {
        /// The key's version at the time.
        current_version: u64,
    },
    /// Result of a get on a store with version vectors (the Dynamo store):
    /// every concurrent version's value (none if the key is absent, more
    /// than one when concurrent writes left siblings).
    Siblings {
        /// The distinct values of the versions no other version dominates.
        values: Vec<Value>,
        /// Their merged clock: the causal context to send with the next put
        /// of the key, so that it supersedes every one of them.
        context: VersionVector,
    },
    /// A put on a store with version vectors: the clock of the new version
    /// (also the context for the client's next put of the key).
    Stored {
        /// The new version's clock.
        context: VersionVector,
    },
}

impl Response {
    /// One number for the version this response reports: the version of a
    /// read or write, the current version of a failed compare-and-set, and
    /// for version-vector responses the clock's total (the number of writes
    /// in its causal past), which grows along every causal chain.
    pub fn version(&self) -> u64 {
        match self {
            Response::Value { version, .. } | Response::Written { version } => *version,
            Response::CasFailed { current_version } => *current_version,
            Response::Siblings { context, .. } | Response::Stored { context } => context.total(),
        }
    }

    /// Whether this acknowledges a write that took effect (a put, or a
    /// compare-and-set that succeeded).
    pub fn is_write_ack(&self) -> bool {
        matches!(self, Response::Written { .. } | Response::Stored { .. })
    }
}

/// One key's stored value and version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned {
    /// The value.
    pub value: Value,
    /// Number of successful writes to the key so far.
    pub version: u64,
}

/// The deterministic key-value store plus the session table that makes
/// retried requests idempotent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    data: BTreeMap<Key, Versioned>,
    sessions: BTreeMap<ClientId, (u64, Response)>,
}

/// What happened when a request was offered to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Executed now.
    Executed(Response),
    /// The same request was executed before; this is its cached response.
    Duplicate(Response),
    /// An older request of a client that has since moved on: not executed,
    /// and nobody is waiting for it.
    Stale,
}

impl ApplyOutcome {
    /// The response to send back, if any.
    pub fn response(&self) -> Option<&Response> {
        match self {
            ApplyOutcome::Executed(r) | ApplyOutcome::Duplicate(r) => Some(r),
            ApplyOutcome::Stale => None,
        }
    }
}

impl KvStore {
    /// An empty store.
    pub fn new() -> KvStore {
        KvStore::default()
    }

    /// Executes `command` on behalf of request `id` exactly once: a retry of
    /// the client's latest request gets the cached response. Clients have at
    /// most one request outstanding, so one entry per client suffices.
    pub fn apply(&mut self, id: RequestId, command: &Command) -> ApplyOutcome {
        if let Some((last_seq, cached)) = self.sessions.get(&id.client) {
            if id.seq == *last_seq {
                return ApplyOutcome::Duplicate(cached.clone());
            }
            if id.seq < *last_seq {
                return ApplyOutcome::Stale;
            }
        }
        let response = self.execute(command);
        self.sessions.insert(id.client, (id.seq, response.clone()));
        ApplyOutcome::Executed(response)
    }

    /// Executes a command without session bookkeeping (reads served outside
    /// the log, e.g. Raft ReadIndex, use this).
    pub fn execute(&mut self, command: &Command) -> Response {
        match command {
            Command::Get { key } => self.read(*key),
            Command::Put { key, value } => {
                let version = self.write(*key, value.clone());
                Response::Written { version }
            }
            Command::Cas {
                key,
                expected_version,
                value,
            } => {
                let current = self.data.get(key).map_or(0, |v| v.version);
                if current == *expected_version {
                    let version = self.write(*key, value.clone());
                    Response::Written { version }
                } else {
                    Response::CasFailed {
                        current_version: current,
                    }
                }
            }
        }
    }

    /// Reads a key without changing anything.
    pub fn read(&self, key: Key) -> Response {
        match self.data.get(&key) {
            Some(v) => Response::Value {
                value: Some(v.value.clone()),
                version: v.version,
            },
            None => Response::Value {
                value: None,
                version: 0,
            },
        }
    }

    fn write(&mut self, key: Key, value: Value) -> u64 {
        let entry = self.data.entry(key).or_insert(Versioned {
            value: Value::new(),
            version: 0,
        });
        entry.value = value;
        entry.version += 1;
        entry.version
    }

    /// Number of keys present.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether no key is present.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// FNV-1a, 64-bit: tiny, deterministic across platforms and runs.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }
    fn u64(&mut self, v: u64) {
        for b in v.to_le_bytes() {
            self.byte(b);
        }
    }
    fn bytes(&mut self, bs: &[u8]) {
        self.u64(bs.len() as u64);
        for &b in bs {
            self.byte(b);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid(client: u64, seq: u64) -> RequestId {
        RequestId { client, seq }
    }

    #[test]
    fn versions_count_writes_per_key() {
        let mut kv = KvStore::new();
        let put = |v: &'static str| Command::Put {
            key: 7,
            value: Bytes::from(v),
        };
        assert_eq!(
            kv.apply(rid(1, 1), &Command::Get { key: 7 }),
            ApplyOutcome::Executed(Response::Value {
                value: None,
                version: 0
            })
        );
        assert_eq!(
            kv.apply(rid(1, 2), &put("a")),
            ApplyOutcome::Executed(Response::Written { version: 1 })
        );
        assert_eq!(
            kv.apply(rid(2, 1), &put("b")),
            ApplyOutcome::Executed(Response::Written { version: 2 })
        );
        assert_eq!(
            kv.read(7),
            Response::Value {
                value: Some(Bytes::from("b")),
                version: 2
            }
        );
        assert_eq!(
            kv.read(8),
            Response::Value {
                value: None,
                version: 0
            }
        );
    }

    #[test]
    fn cas_succeeds_only_on_expected_version() {
        let mut kv = KvStore::new();
        let cas = |exp, v: &'static str| Command::Cas {
            key: 1,
            expected_version: exp,
            value: Bytes::from(v),
        };
        assert_eq!(kv.execute(&cas(0, "x")), Response::Written { version: 1 });
        assert_eq!(
            kv.execute(&cas(0, "y")),
            Response::CasFailed { current_version: 1 }
        );
        assert_eq!(kv.execute(&cas(1, "y")), Response::Written { version: 2 });
    }

    #[test]
    fn retries_are_deduplicated_and_stale_requests_dropped() {
        let mut kv = KvStore::new();
        let put = Command::Put {
            key: 1,
            value: Bytes::from("v"),
        };
        assert_eq!(
            kv.apply(rid(9, 1), &put),
            ApplyOutcome::Executed(Response::Written { version: 1 })
        );
        assert_eq!(
            kv.apply(rid(9, 1), &put),
            ApplyOutcome::Duplicate(Response::Written { version: 1 })
        );
        assert_eq!(
            kv.apply(rid(9, 2), &put),
            ApplyOutcome::Executed(Response::Written { version: 2 })
        );
        assert_eq!(kv.apply(rid(9, 1), &put), ApplyOutcome::Stale);
        assert_eq!(
            kv.read(1),
            Response::Value {
                value: Some(Bytes::from("v")),
                version: 2
            }
        );
    }

    #[test]
    fn digests_differ_by_kind_key_and_value() {
        let a = Command::Put {
            key: 1,
            value: Bytes::from("a"),
        };
        let b = Command::Put {
            key: 1,
            value: Bytes::from("b"),
        };
        let c = Command::Put {
            key: 2,
            value: Bytes::from("a"),
        };
        let g = Command::Get { key: 1 };
        let ds = [a.digest(), b.digest(), c.digest(), g.digest()];
        for i in 0..ds.len() {
            for j in i + 1..ds.len() {
                assert_ne!(ds[i], ds[j]);
            }
        }
        assert_eq!(a.digest(), a.clone().digest());
    }
}
