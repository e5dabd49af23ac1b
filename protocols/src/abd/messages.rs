//! ABD's tags, messages, timers and persist records.

use crate::kv::{Key, Value};
use crate::types::{NodeId, RequestId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The logical timestamp of a register value: writes are ordered by
/// sequence number, ties broken by the id of the coordinator that chose it,
/// so tags are totally ordered and two coordinators never choose equal
/// tags. The zero tag belongs to the initial, absent value.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Tag {
    /// Sequence number: one more than the highest a write's query phase saw.
    pub seq: u64,
    /// The coordinator that chose the tag.
    pub node: NodeId,
}

impl Tag {
    /// The tag of the initial, absent value.
    pub const ZERO: Tag = Tag { seq: 0, node: 0 };

    /// The tag a write coordinated by `node` takes after seeing `self` as
    /// the highest.
    pub fn successor(self, node: NodeId) -> Tag {
        Tag {
            seq: self.seq.saturating_add(1),
            node,
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, n{})", self.seq, self.node)
    }
}

/// Names one operation of one coordinator incarnation. The epoch is drawn
/// at random when the coordinator starts, so a reply addressed to an
/// operation of an earlier life (whose state could be older than the
/// operation's start) is never mistaken for a reply to a new one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpId {
    /// Random per coordinator incarnation.
    pub epoch: u64,
    /// Counter within the incarnation.
    pub n: u64,
}

/// Replica-to-replica messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AbdMessage {
    /// Phase one: send me your tag and value of `key`.
    Query {
        /// The coordinator's operation.
        op: OpId,
        /// The register.
        key: Key,
    },
    /// Answer to [`AbdMessage::Query`].
    QueryReply {
        /// The operation answered.
        op: OpId,
        /// The replica's tag for the key.
        tag: Tag,
        /// The replica's value (`None` while the key is absent).
        value: Option<Value>,
    },
    /// Phase two: keep `(tag, value)` for `key` if `tag` is newer than
    /// yours, and acknowledge once what you hold is durable.
    Store {
        /// The coordinator's operation.
        op: OpId,
        /// The register.
        key: Key,
        /// The value's tag.
        tag: Tag,
        /// The value.
        value: Value,
    },
    /// Answer to [`AbdMessage::Store`]: the replica durably holds `tag` or
    /// a newer one.
    StoreAck {
        /// The operation answered.
        op: OpId,
    },
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AbdTimer {
    /// Resend the current phase of operation `n` of this incarnation.
    Retry(u64),
}

/// What a replica persists: a value it now holds, or the tag it assigned
/// to a write it coordinates. Recovery keeps, per key, the record with the
/// highest tag, and per client the last write this node assigned a tag to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbdRecord {
    /// The register.
    pub key: Key,
    /// The value's tag.
    pub tag: Tag,
    /// The value.
    pub value: Value,
    /// The client write this node coordinated and gave `tag`, if any. It is
    /// persisted before any `Store` of that write leaves, so after a crash
    /// a retry of the write finishes it under the same tag instead of
    /// writing the value a second time, after writes that followed it.
    pub writer: Option<RequestId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_order_by_sequence_then_node() {
        let a = Tag { seq: 1, node: 4 };
        let b = Tag { seq: 2, node: 0 };
        let c = Tag { seq: 2, node: 3 };
        assert!(Tag::ZERO < a && a < b && b < c);
        assert_eq!(c.successor(1), Tag { seq: 3, node: 1 });
        assert!(c.successor(0) > c);
        assert_eq!(c.to_string(), "(2, n3)");
    }
}
