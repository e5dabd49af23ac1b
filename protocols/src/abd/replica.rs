//! The replica side of ABD: one register per key, kept durably.
//!
//! A replica answers queries with what it holds and keeps a stored value
//! only if its tag is newer, after persisting it. Its acknowledgement is an
//! ordinary send emitted after the persist, so the runtime's send gate holds
//! it until the record is durable: a replica never acknowledges a store it
//! could forget in a crash (nor one superseded by a value it could forget).

use super::messages::{AbdRecord, Tag};
use super::Abd;
use crate::core::Ctx;
use crate::kv::{Key, Value};
use crate::types::{ClientId, RequestId};
use std::collections::BTreeMap;

/// A client write this node gave a tag to (durably).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Assigned {
    pub(crate) seq: u64,
    pub(crate) key: Key,
    pub(crate) tag: Tag,
    pub(crate) value: Value,
}

/// The registers of one replica and its persist bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct Registers {
    held: BTreeMap<Key, (Tag, Value)>,
    /// Per client, the last write this node coordinated and tagged.
    assigned: BTreeMap<ClientId, Assigned>,
    /// Sequence number of the last persist issued in this incarnation.
    issued: u64,
    /// Highest sequence number known durable.
    durable: u64,
}

impl Registers {
    /// Rebuilds the registers from every record that survived: per key the
    /// one with the highest tag.
    pub(crate) fn recover(records: Vec<AbdRecord>) -> Registers {
        let mut registers = Registers::default();
        for r in records {
            if let Some(w) = r.writer {
                registers.note_assigned(w, r.key, r.tag, &r.value);
            }
            registers.keep(r.key, r.tag, r.value);
        }
        registers
    }

    /// Keeps `(tag, value)` in memory if newer; returns whether it was.
    fn keep(&mut self, key: Key, tag: Tag, value: Value) -> bool {
        if tag <= self.tag(key) {
            return false;
        }
        self.held.insert(key, (tag, value));
        true
    }

    fn note_assigned(&mut self, w: RequestId, key: Key, tag: Tag, value: &Value) {
        let later = self.assigned.get(&w.client).is_none_or(|a| w.seq >= a.seq);
        if later {
            let value = value.clone();
            let a = Assigned {
                seq: w.seq,
                key,
                tag,
                value,
            };
            self.assigned.insert(w.client, a);
        }
    }

    /// The tag this node gave to write `id`, if it durably gave one.
    pub(crate) fn assigned(&self, id: RequestId) -> Option<&Assigned> {
        self.assigned.get(&id.client).filter(|a| a.seq == id.seq)
    }

    /// The tag and value held for `key` (the zero tag and `None` if absent).
    pub(crate) fn read(&self, key: Key) -> (Tag, Option<Value>) {
        match self.held.get(&key) {
            Some((tag, value)) => (*tag, Some(value.clone())),
            None => (Tag::ZERO, None),
        }
    }

    /// The tag held for `key`.
    pub(crate) fn tag(&self, key: Key) -> Tag {
        self.held.get(&key).map_or(Tag::ZERO, |(t, _)| *t)
    }

    /// Keeps `(tag, value)` if `tag` is newer than what `key` holds,
    /// persisting it first. Returns whether it was newer.
    pub(crate) fn store(
        &mut self,
        ctx: &mut Ctx<'_, Abd>,
        key: Key,
        tag: Tag,
        value: Value,
    ) -> bool {
        if tag <= self.tag(key) {
            return false;
        }
        self.persist(ctx, key, tag, &value, None);
        self.keep(key, tag, value)
    }

    /// Records durably that this node gave `tag` to client write `writer`
    /// (whether or not it is newer than what `key` holds), and keeps the
    /// value if it is newer.
    pub(crate) fn assign(
        &mut self,
        ctx: &mut Ctx<'_, Abd>,
        writer: RequestId,
        key: Key,
        tag: Tag,
        value: Value,
    ) {
        self.persist(ctx, key, tag, &value, Some(writer));
        self.note_assigned(writer, key, tag, &value);
        self.keep(key, tag, value);
    }

    fn persist(
        &mut self,
        ctx: &mut Ctx<'_, Abd>,
        key: Key,
        tag: Tag,
        value: &Value,
        writer: Option<RequestId>,
    ) {
        self.issued += 1;
        let value = value.clone();
        let record = AbdRecord {
            key,
            tag,
            value,
            writer,
        };
        ctx.persist(self.issued, record);
    }

    /// The persist a local acknowledgement must wait for: the last one
    /// issued, or `None` if everything issued is durable.
    pub(crate) fn undurable(&self) -> Option<u64> {
        (self.issued > self.durable).then_some(self.issued)
    }

    /// Records that persists up to `upto` are durable.
    pub(crate) fn persisted(&mut self, upto: u64) {
        self.durable = self.durable.max(upto.min(self.issued));
    }

    /// Number of keys held.
    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn rec(key: Key, seq: u64, node: u32, v: &'static str) -> AbdRecord {
        AbdRecord {
            key,
            tag: Tag { seq, node },
            value: Bytes::from(v),
            writer: None,
        }
    }

    #[test]
    fn recovery_keeps_the_highest_tag_per_key_whatever_the_order() {
        let r = Registers::recover(vec![
            rec(1, 2, 0, "b"),
            rec(1, 1, 4, "a"),
            rec(2, 1, 1, "x"),
            rec(1, 2, 1, "c"),
        ]);
        assert_eq!(r.read(1), (Tag { seq: 2, node: 1 }, Some(Bytes::from("c"))));
        assert_eq!(r.read(2).0, Tag { seq: 1, node: 1 });
        assert_eq!(r.read(3), (Tag::ZERO, None));
        assert_eq!(r.len(), 2);
        assert_eq!(r.undurable(), None);
    }

    #[test]
    fn recovery_remembers_each_clients_last_tagged_write() {
        let w = |client, seq| Some(RequestId { client, seq });
        let r = Registers::recover(vec![
            AbdRecord {
                writer: w(7, 2),
                ..rec(1, 3, 0, "b")
            },
            AbdRecord {
                writer: w(7, 1),
                ..rec(1, 1, 0, "a")
            },
            rec(1, 5, 2, "z"),
        ]);
        let a = r.assigned(RequestId { client: 7, seq: 2 }).unwrap();
        assert_eq!((a.key, a.tag.seq, a.value.as_ref()), (1, 3, b"b".as_ref()));
        assert!(r.assigned(RequestId { client: 7, seq: 1 }).is_none());
        assert!(r.assigned(RequestId { client: 8, seq: 2 }).is_none());
        assert_eq!(r.tag(1).seq, 5);
    }
}
