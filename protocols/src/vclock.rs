//! Version vectors (vector clocks) and the causal partial order on them.
//!
//! A [`VersionVector`] maps actors (replicas, coordinators, processes) to a
//! counter of the events that actor produced. Comparing two vectors tells
//! whether one history of events contains the other ([`Causality::Before`],
//! [`Causality::After`], [`Causality::Equal`]) or whether they diverged
//! ([`Causality::Concurrent`]): Lamport's happened-before, as in Fidge and
//! Mattern's vector clocks and Parker et al.'s version vectors. The Dynamo
//! store ([`crate::dynamo`]) keeps one per stored version so that concurrent
//! writes become siblings instead of silently overwriting each other.
//!
//! Missing actors count as zero, and zero counters are never stored, so
//! structural equality (`==`, `Hash`) is causal equality. [`PartialOrd`] is
//! the causal order: `a <= b` iff `b` descends from `a`, and concurrent
//! vectors are unordered. [`VersionVector::merge`] is the least upper bound.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// How two version vectors are related in the causal order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Causality {
    /// `self` happened before `other` (`other` strictly descends from it).
    Before,
    /// `self` happened after `other` (it strictly descends from `other`).
    After,
    /// Both record exactly the same events.
    Equal,
    /// Neither contains the other: they diverged.
    Concurrent,
}

/// A version vector over actors of type `A` (a node id by default).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    from = "BTreeMap<A, u64>",
    into = "BTreeMap<A, u64>",
    bound(
        serialize = "A: Ord + Clone + Serialize",
        deserialize = "A: Ord + Deserialize<'de>"
    )
)]
pub struct VersionVector<A: Ord = u64> {
    /// Counter per actor; never holds a zero.
    entries: BTreeMap<A, u64>,
}

impl<A: Ord> Default for VersionVector<A> {
    fn default() -> Self {
        VersionVector {
            entries: BTreeMap::new(),
        }
    }
}

impl<A: Ord> From<BTreeMap<A, u64>> for VersionVector<A> {
    fn from(mut entries: BTreeMap<A, u64>) -> Self {
        entries.retain(|_, c| *c > 0);
        VersionVector { entries }
    }
}

impl<A: Ord> From<VersionVector<A>> for BTreeMap<A, u64> {
    fn from(v: VersionVector<A>) -> Self {
        v.entries
    }
}

impl<A: Ord> FromIterator<(A, u64)> for VersionVector<A> {
    fn from_iter<I: IntoIterator<Item = (A, u64)>>(iter: I) -> Self {
        let mut v = VersionVector::new();
        for (actor, counter) in iter {
            v.advance(actor, counter);
        }
        v
    }
}

impl<A: Ord> VersionVector<A> {
    /// The empty vector: no events, before every other vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter of `actor` (0 if it never produced an event).
    pub fn get(&self, actor: &A) -> u64 {
        self.entries.get(actor).copied().unwrap_or(0)
    }

    /// Records one more event of `actor` and returns its new counter. The
    /// result is strictly after `self` as it was.
    pub fn increment(&mut self, actor: A) -> u64 {
        let counter = self.entries.entry(actor).or_insert(0);
        *counter = counter.saturating_add(1);
        *counter
    }

    /// Raises the counter of `actor` to at least `counter` (never lowers it).
    pub fn advance(&mut self, actor: A, counter: u64) {
        if counter == 0 {
            return;
        }
        let entry = self.entries.entry(actor).or_insert(0);
        *entry = (*entry).max(counter);
    }

    /// Pointwise maximum with `other`: afterwards `self` descends from both
    /// inputs, and from nothing more (the least upper bound).
    pub fn merge(&mut self, other: &Self)
    where
        A: Clone,
    {
        for (actor, &counter) in &other.entries {
            self.advance(actor.clone(), counter);
        }
    }

    /// The least upper bound of `self` and `other`, as a new vector.
    pub fn merged(&self, other: &Self) -> Self
    where
        A: Clone,
    {
        let mut out = self.clone();
        out.merge(other);
        out
    }

    /// How `self` relates to `other` in the causal order.
    pub fn compare(&self, other: &Self) -> Causality {
        let mut self_ahead = false;
        let mut other_ahead = false;
        for (actor, &c) in &self.entries {
            match c.cmp(&other.get(actor)) {
                Ordering::Greater => self_ahead = true,
                Ordering::Less => other_ahead = true,
                Ordering::Equal => {}
            }
        }
        for (actor, &c) in &other.entries {
            if c > self.get(actor) {
                other_ahead = true;
            }
        }
        match (self_ahead, other_ahead) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::After,
            (false, true) => Causality::Before,
            (true, true) => Causality::Concurrent,
        }
    }

    /// Whether `self` has seen every event of `other` (`self >= other`,
    /// equality included).
    pub fn descends(&self, other: &Self) -> bool {
        other.entries.iter().all(|(actor, &c)| self.get(actor) >= c)
    }

    /// Whether `self` is strictly after `other` (`self > other`).
    pub fn dominates(&self, other: &Self) -> bool {
        self.compare(other) == Causality::After
    }

    /// Whether neither vector descends from the other.
    pub fn concurrent_with(&self, other: &Self) -> bool {
        self.compare(other) == Causality::Concurrent
    }

    /// Whether no actor has produced an event.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of actors with a non-zero counter.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Sum of all counters: when every actor counts its events one by one,
    /// the number of events this vector has seen (the size of its causal
    /// past). Saturates instead of overflowing.
    pub fn total(&self) -> u64 {
        self.entries
            .values()
            .fold(0u64, |sum, &c| sum.saturating_add(c))
    }

    /// The non-zero entries, in actor order.
    pub fn iter(&self) -> impl Iterator<Item = (&A, u64)> + '_ {
        self.entries.iter().map(|(a, &c)| (a, c))
    }
}

impl<A: Ord> PartialOrd for VersionVector<A> {
    /// The causal order: `None` for concurrent vectors.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.compare(other) {
            Causality::Before => Some(Ordering::Less),
            Causality::After => Some(Ordering::Greater),
            Causality::Equal => Some(Ordering::Equal),
            Causality::Concurrent => None,
        }
    }
}

impl<A: Ord + std::fmt::Display> std::fmt::Display for VersionVector<A> {
    /// `{a:1,b:3}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{")?;
        for (i, (actor, c)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{actor}:{c}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vv(entries: &[(u64, u64)]) -> VersionVector {
        entries.iter().copied().collect()
    }

    #[test]
    fn compares_the_four_ways() {
        let a = vv(&[(1, 1)]);
        let b = vv(&[(1, 2)]);
        let c = vv(&[(2, 1)]);
        assert_eq!(a.compare(&b), Causality::Before);
        assert_eq!(b.compare(&a), Causality::After);
        assert_eq!(a.compare(&a.clone()), Causality::Equal);
        assert_eq!(a.compare(&c), Causality::Concurrent);
        assert!(b.dominates(&a) && b.descends(&a) && b.descends(&b));
        assert!(!a.descends(&b) && a.concurrent_with(&c));
        assert!(a < b && a.partial_cmp(&c).is_none());
        assert_eq!(VersionVector::<u64>::new().compare(&a), Causality::Before);
    }

    #[test]
    fn zero_counters_are_not_entries() {
        let a = vv(&[(1, 0), (2, 3)]);
        assert_eq!(a, vv(&[(2, 3)]));
        assert_eq!(a.len(), 1);
        let json: BTreeMap<u64, u64> = [(1, 0), (2, 3)].into_iter().collect();
        assert_eq!(VersionVector::from(json), a);
    }

    #[test]
    fn merge_is_pointwise_max_and_total_sums() {
        let mut a = vv(&[(1, 2), (2, 1)]);
        a.merge(&vv(&[(2, 4), (3, 1)]));
        assert_eq!(a, vv(&[(1, 2), (2, 4), (3, 1)]));
        assert_eq!(a.total(), 7);
        assert_eq!(a.increment(3), 2);
        assert_eq!(a.to_string(), "{1:2,2:4,3:2}");
    }

    #[test]
    fn serde_round_trips_through_postcard() {
        let a = vv(&[(1, 2), (7, 9)]);
        let bytes = postcard::to_allocvec(&a).expect("encode");
        let back: VersionVector = postcard::from_bytes(&bytes).expect("decode");
        assert_eq!(back, a);
    }
}
