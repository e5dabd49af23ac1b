//! Partitions that include the clients: which replicas a logical client can
//! reach while the cluster is split, and how many of its operations
//! succeeded on each side.
//!
//! A partition fault normally cuts only replica-to-replica links, and the
//! driver still reaches every replica, so a client on the minority side
//! keeps talking to the majority. The CAP question needs clients split
//! with the replicas: each logical client has a *home* replica (client `i`
//! of the driver lives beside replica `i mod n`), and while a partition is
//! active it reaches only the replicas on its home's side. Sends to the
//! other side are lost, like any message across a partition, so the
//! client's attempt times out and its protocol logic retries elsewhere.
//!
//! The fault injector sets and clears the partition; the driver asks
//! [`ClientReach::can_reach`] before every send and counts every operation
//! issued during a partition against its side ([`SideCounts`]).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

/// The sides of the current partition, shared between the fault injector
/// and the driver. Cloning shares the same state.
#[derive(Clone, Debug, Default)]
pub struct ClientReach {
    sides: Arc<RwLock<Option<Sides>>>,
}

/// A partition: the side of every replica, and a label per side.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sides {
    side_of: Vec<usize>,
    labels: Vec<String>,
}

impl ClientReach {
    /// No partition: everyone reaches everyone.
    pub fn new() -> ClientReach {
        ClientReach::default()
    }

    /// Splits `nodes` replicas into `groups`; replicas in no group form one
    /// more side. Sides are labelled by their members, e.g. `0+1` and
    /// `2+3+4`.
    pub fn partition(&self, groups: &[Vec<u32>], nodes: u32) {
        let mut side_of = vec![usize::MAX; nodes as usize];
        for (g, members) in groups.iter().enumerate() {
            for &m in members {
                if let Some(s) = side_of.get_mut(m as usize) {
                    *s = g;
                }
            }
        }
        let rest = groups.len();
        for s in &mut side_of {
            if *s == usize::MAX {
                *s = rest;
            }
        }
        let labels = (0..=rest)
            .map(|g| {
                side_of
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| **s == g)
                    .map(|(n, _)| n.to_string())
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect();
        *self.sides.write().unwrap_or_else(PoisonError::into_inner) =
            Some(Sides { side_of, labels });
    }

    /// Ends the partition.
    pub fn heal(&self) {
        *self.sides.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Whether a client whose home is replica `home` can reach `target` now.
    pub fn can_reach(&self, home: u32, target: u32) -> bool {
        let sides = self.sides.read().unwrap_or_else(PoisonError::into_inner);
        match sides.as_ref() {
            None => true,
            Some(s) => s.side_of.get(home as usize) == s.side_of.get(target as usize),
        }
    }

    /// The label of `home`'s side while a partition is active.
    pub fn side_label(&self, home: u32) -> Option<String> {
        let sides = self.sides.read().unwrap_or_else(PoisonError::into_inner);
        let s = sides.as_ref()?;
        let side = *s.side_of.get(home as usize)?;
        s.labels.get(side).cloned()
    }
}

/// What became of the operations issued on one side of a partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SideCounts {
    /// Logical clients homed on this side.
    pub clients: u64,
    /// Operations issued while the partition was active.
    pub issued: u64,
    /// Of those, completed with an answer while the partition lasted.
    pub ok: u64,
    /// Completed with an answer only after the partition healed (served by
    /// the whole cluster, so not counted as available on this side).
    pub after_heal: u64,
    /// Ended with an error.
    pub errors: u64,
    /// Ended without an answer in time.
    pub timeouts: u64,
}

impl SideCounts {
    /// The fraction of issued operations that succeeded (the side's
    /// availability); `None` when nothing was issued.
    pub fn availability(&self) -> Option<f64> {
        (self.issued > 0).then(|| self.ok as f64 / self.issued as f64)
    }
}

/// Per side label, the counts of a run.
pub type PartitionSides = BTreeMap<String, SideCounts>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_reach_only_their_side() {
        let r = ClientReach::new();
        assert!(r.can_reach(0, 4));
        assert_eq!(r.side_label(0), None);
        r.partition(&[vec![0, 1]], 5);
        assert!(r.can_reach(0, 1));
        assert!(!r.can_reach(0, 2));
        assert!(r.can_reach(3, 4));
        assert!(!r.can_reach(4, 1));
        assert_eq!(r.side_label(1).as_deref(), Some("0+1"));
        assert_eq!(r.side_label(2).as_deref(), Some("2+3+4"));
        let shared = r.clone();
        shared.heal();
        assert!(r.can_reach(0, 4));
    }

    #[test]
    fn availability_is_ok_over_issued() {
        let s = SideCounts {
            clients: 2,
            issued: 8,
            ok: 6,
            after_heal: 0,
            errors: 0,
            timeouts: 2,
        };
        assert_eq!(s.availability(), Some(0.75));
        assert_eq!(SideCounts::default().availability(), None);
    }
}
