//! A key's set of concurrent versions: inserting a version drops every
//! version it dominates and is a no-op if an existing one already descends
//! from it. The set after any sequence of inserts is the set of maximal
//! versions inserted, whatever the order, which makes stores idempotent
//! under duplicated, reordered and replayed messages and records.

use super::messages::Version;
use crate::kv::Value;
use crate::vclock::VersionVector;

/// The maximal versions of one key, in a deterministic order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiblingSet {
    versions: Vec<Version>,
}

impl SiblingSet {
    /// The empty set (key absent).
    pub fn new() -> SiblingSet {
        SiblingSet::default()
    }

    /// The set of maximal versions among `versions`.
    pub fn from_versions<'a>(versions: impl IntoIterator<Item = &'a Version>) -> SiblingSet {
        let mut set = SiblingSet::new();
        for v in versions {
            set.insert(v.clone());
        }
        set
    }

    /// Whether some version here descends from (or equals) `clock`.
    pub fn covers(&self, clock: &VersionVector) -> bool {
        self.versions.iter().any(|v| v.clock.descends(clock))
    }

    /// Adds `version` unless it is covered; drops what it dominates.
    /// Returns whether the set changed.
    pub fn insert(&mut self, version: Version) -> bool {
        if self.covers(&version.clock) {
            return false;
        }
        self.versions.retain(|v| !version.clock.descends(&v.clock));
        // Keep a canonical order so every replica lists siblings alike.
        let pos = self
            .versions
            .partition_point(|v| canonical(v, &version) == std::cmp::Ordering::Less);
        self.versions.insert(pos, version);
        true
    }

    /// Drops every version some clock in `clocks` descends from; returns
    /// whether anything was dropped.
    pub fn remove_covered(&mut self, clocks: &[VersionVector]) -> bool {
        let before = self.versions.len();
        self.versions
            .retain(|v| !clocks.iter().any(|c| c.descends(&v.clock)));
        self.versions.len() != before
    }

    /// The versions of `self` that `other` does not cover.
    pub fn missing_from(&self, other: &SiblingSet) -> Vec<Version> {
        self.versions
            .iter()
            .filter(|v| !other.covers(&v.clock))
            .cloned()
            .collect()
    }

    /// The versions, in canonical order.
    pub fn versions(&self) -> &[Version] {
        &self.versions
    }

    /// The distinct values, in canonical order of their versions.
    pub fn values(&self) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::with_capacity(self.versions.len());
        for v in &self.versions {
            if !out.contains(&v.value) {
                out.push(v.value.clone());
            }
        }
        out
    }

    /// The least upper bound of every clock: the causal context a client
    /// sends with its next write to supersede all of these versions.
    pub fn context(&self) -> VersionVector {
        let mut ctx = VersionVector::new();
        for v in &self.versions {
            ctx.merge(&v.clock);
        }
        ctx
    }

    /// Whether the key is absent.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// Number of siblings.
    pub fn len(&self) -> usize {
        self.versions.len()
    }
}

/// A total order on versions (by clock entries, then value), only to list
/// siblings deterministically; it is not the causal order.
fn canonical(a: &Version, b: &Version) -> std::cmp::Ordering {
    a.clock
        .iter()
        .cmp(b.clock.iter())
        .then_with(|| a.value.cmp(&b.value))
}
