//! Hinted hand-off: versions a node stores for an unreachable owner (sloppy
//! quorum), offered back to the owner every `handoff_interval` until it
//! acknowledges them durably.

use super::messages::{DynamoMessage, DynamoRecord, Version};
use super::siblings::SiblingSet;
use super::Dynamo;
use crate::core::Ctx;
use crate::kv::Key;
use crate::types::NodeId;
use crate::vclock::VersionVector;
use std::collections::BTreeMap;

/// Hinted versions per owner and key.
#[derive(Clone, Debug, Default)]
pub(super) struct Hints {
    by_owner: BTreeMap<NodeId, BTreeMap<Key, SiblingSet>>,
}

impl Hints {
    /// Keeps `version` of `key` for `owner`; whether anything changed.
    pub(super) fn insert(&mut self, owner: NodeId, key: Key, version: Version) -> bool {
        self.by_owner
            .entry(owner)
            .or_default()
            .entry(key)
            .or_default()
            .insert(version)
    }

    /// Drops the hints of `owner` for `key` that `clocks` cover; whether
    /// anything was dropped.
    pub(super) fn remove_covered(
        &mut self,
        owner: NodeId,
        key: Key,
        clocks: &[VersionVector],
    ) -> bool {
        let Some(keys) = self.by_owner.get_mut(&owner) else {
            return false;
        };
        let Some(set) = keys.get_mut(&key) else {
            return false;
        };
        let changed = set.remove_covered(clocks);
        if set.is_empty() {
            keys.remove(&key);
        }
        if keys.is_empty() {
            self.by_owner.remove(&owner);
        }
        changed
    }

    /// The hints for `owner` of `key`.
    pub(super) fn get(&self, owner: NodeId, key: Key) -> &[Version] {
        self.by_owner
            .get(&owner)
            .and_then(|keys| keys.get(&key))
            .map_or(&[], |s| s.versions())
    }

    /// Every hinted version of `key`, whoever it is for.
    pub(super) fn for_key(&self, key: Key) -> impl Iterator<Item = &Version> + '_ {
        self.by_owner
            .values()
            .filter_map(move |keys| keys.get(&key))
            .flat_map(|s| s.versions().iter())
    }

    /// Number of (owner, key) pairs with hints.
    pub(super) fn len(&self) -> usize {
        self.by_owner.values().map(BTreeMap::len).sum()
    }
}

impl Dynamo {
    /// Stores `version` of `key` as a hint for `owner`, durably.
    pub(super) fn accept_hint(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        owner: NodeId,
        key: Key,
        version: Version,
    ) {
        if self.hints.insert(owner, key, version.clone()) {
            self.persist(
                ctx,
                DynamoRecord::Hint {
                    owner,
                    key,
                    version,
                },
            );
        }
    }

    /// Offers every owner (a batch of) its hints.
    pub(super) fn handoff_tick(&mut self, ctx: &mut Ctx<'_, Self>) {
        let batch = self.config.handoff_batch;
        for (&owner, keys) in &self.hints.by_owner {
            if owner == self.id || !self.is_member(owner) {
                continue;
            }
            let entries: Vec<(Key, Vec<Version>)> = keys
                .iter()
                .take(batch)
                .map(|(&key, set)| (key, set.versions().to_vec()))
                .collect();
            if !entries.is_empty() {
                ctx.send(owner, DynamoMessage::Handoff { entries });
            }
        }
    }

    /// As the owner: store the handed-off versions, then acknowledge them
    /// (the acknowledgement follows the persists, so it leaves only once
    /// they are durable).
    pub(super) fn on_handoff(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        entries: Vec<(Key, Vec<Version>)>,
    ) {
        let mut acked = Vec::with_capacity(entries.len());
        for (key, versions) in entries {
            let clocks = versions.iter().map(|v| v.clock.clone()).collect();
            for version in versions {
                self.accept(ctx, key, version);
            }
            acked.push((key, clocks));
        }
        ctx.send(from, DynamoMessage::HandoffAck { entries: acked });
    }

    /// As the holder: the owner has these clocks durably; drop the hints
    /// they cover.
    pub(super) fn on_handoff_ack(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        entries: Vec<(Key, Vec<VersionVector>)>,
    ) {
        for (key, clocks) in entries {
            if self.hints.remove_covered(from, key, &clocks) {
                self.persist(
                    ctx,
                    DynamoRecord::HintDelivered {
                        owner: from,
                        key,
                        clocks,
                    },
                );
            }
        }
    }
}
