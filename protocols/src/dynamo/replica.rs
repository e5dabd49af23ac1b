//! The replica side: store versions durably (as owner or as a hint) and
//! acknowledge them, and answer reads with every version held.

use super::messages::{DynamoMessage, DynamoRecord, OpId, Version};
use super::Dynamo;
use crate::core::Ctx;
use crate::kv::Key;
use crate::types::NodeId;

impl Dynamo {
    /// Merges `version` of `key` into this node's own store, persisting it
    /// if it is news. Returns whether it was.
    pub(super) fn accept(&mut self, ctx: &mut Ctx<'_, Self>, key: Key, version: Version) -> bool {
        let changed = self.store.entry(key).or_default().insert(version.clone());
        if changed {
            self.persist(ctx, DynamoRecord::Stored { key, version });
        }
        changed
    }

    /// Stores a version sent by a coordinator: as owner, or as a hint for
    /// the member named in `hint`. Either way it is persisted (if news)
    /// before anything sent after it.
    pub(super) fn store_version(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        key: Key,
        version: Version,
        hint: Option<NodeId>,
    ) {
        match hint {
            Some(owner) if owner != self.id && self.is_member(owner) => {
                self.accept_hint(ctx, owner, key, version)
            }
            _ => {
                self.accept(ctx, key, version);
            }
        }
    }

    /// A coordinator's `Store`: store, then acknowledge. A version already
    /// covered is acknowledged too: what covers it was persisted earlier,
    /// so the send gate releases the acknowledgement only once it is durable.
    pub(super) fn on_store(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        op: OpId,
        key: Key,
        version: Version,
        hint: Option<NodeId>,
    ) {
        let clock = version.clock.clone();
        self.store_version(ctx, key, version, hint);
        ctx.send(from, DynamoMessage::Stored { op, key, clock });
    }

    /// Every version of `key` held here: owned and hinted, none dominated.
    pub(super) fn local_versions(&self, key: Key) -> Vec<Version> {
        let mut set = self.store.get(&key).cloned().unwrap_or_default();
        for version in self.hints.for_key(key) {
            set.insert(version.clone());
        }
        set.versions().to_vec()
    }

    /// A coordinator's `Fetch`: answer with every version held.
    pub(super) fn on_fetch(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, op: OpId, key: Key) {
        let versions = self.local_versions(key);
        ctx.send(from, DynamoMessage::Fetched { op, key, versions });
    }
}
