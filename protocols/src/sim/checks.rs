//! The safety checks that run while the simulation runs: election safety,
//! state-machine safety and apply order. Durability, liveness and
//! linearizability are judged at the end of the run in `world.rs` and
//! `durability.rs`.

use super::report::Violation;
use crate::types::{NodeId, RequestId, Time};
use std::collections::{BTreeMap, BTreeSet};

/// Caps the number of violations of one kind kept, so a broken protocol
/// does not flood memory with reports.
const MAX_REPORTED: usize = 50;

pub(crate) struct Checker {
    leaders: BTreeMap<u64, NodeId>,
    /// First digest seen at each index, and who applied it.
    chosen: BTreeMap<u64, (NodeId, u64)>,
    /// Per node: next index it must apply, and the requests it applied in its
    /// current incarnation.
    next_apply: Vec<u64>,
    applied_requests: Vec<BTreeSet<RequestId>>,
    pub(crate) violations: Vec<Violation>,
    pub(crate) elections: u64,
    /// Nodes configured Byzantine ([`crate::core::Protocol::is_faulty`]):
    /// not judged by the durability check.
    pub(crate) faulty: Vec<bool>,
}

impl Checker {
    pub(crate) fn new(nodes: u32) -> Checker {
        Checker {
            leaders: BTreeMap::new(),
            chosen: BTreeMap::new(),
            next_apply: vec![1; nodes as usize],
            applied_requests: vec![BTreeSet::new(); nodes as usize],
            violations: Vec::new(),
            elections: 0,
            faulty: vec![false; nodes as usize],
        }
    }

    /// Keeps `v`, unless this many violations were kept already.
    pub(crate) fn report(&mut self, v: Violation) {
        if self.violations.len() < MAX_REPORTED {
            self.violations.push(v);
        }
    }

    pub(crate) fn leader_elected(&mut self, node: NodeId, term: u64, at: Time) {
        self.elections += 1;
        match self.leaders.get(&term) {
            Some(&first) if first != node => self.report(Violation::ElectionSafety {
                term,
                first,
                second: node,
                at,
            }),
            Some(_) => {}
            None => {
                self.leaders.insert(term, node);
            }
        }
    }

    pub(crate) fn applied(
        &mut self,
        node: NodeId,
        index: u64,
        request: Option<RequestId>,
        digest: u64,
        at: Time,
    ) {
        let slot = node as usize;
        let Some(expected) = self.next_apply.get(slot).copied() else {
            return;
        };
        if index != expected {
            self.report(Violation::ApplyOrder {
                node,
                expected,
                got: index,
                at,
            });
        }
        self.next_apply[slot] = index.saturating_add(1);
        if let Some(r) = request {
            self.applied_requests[slot].insert(r);
        }
        match self.chosen.get(&index) {
            Some(&(first, d)) if d != digest => self.report(Violation::StateMachineSafety {
                index,
                first: (first, d),
                second: (node, digest),
                at,
            }),
            Some(_) => {}
            None => {
                self.chosen.insert(index, (node, digest));
            }
        }
    }

    /// A crashed node forgets its volatile state and re-applies from index 1.
    pub(crate) fn crashed(&mut self, node: NodeId) {
        if let Some(n) = self.next_apply.get_mut(node as usize) {
            *n = 1;
        }
        if let Some(s) = self.applied_requests.get_mut(node as usize) {
            s.clear();
        }
    }

    /// Every acknowledged write must be applied on every node by now (or,
    /// for protocols that do not replicate a log everywhere, on at least one).
    pub(crate) fn check_durability(&mut self, acknowledged_writes: &[RequestId], everywhere: bool) {
        if !everywhere {
            for r in acknowledged_writes {
                let held =
                    self.applied_requests.iter().enumerate().any(|(n, s)| {
                        !self.faulty.get(n).copied().unwrap_or(false) && s.contains(r)
                    });
                if !held {
                    self.report(Violation::Durability {
                        node: 0,
                        request: *r,
                    });
                    break;
                }
            }
            return;
        }
        for node in 0..self.applied_requests.len() {
            if self.faulty.get(node).copied().unwrap_or(false) {
                continue;
            }
            for r in acknowledged_writes {
                if !self.applied_requests[node].contains(r) {
                    self.report(Violation::Durability {
                        node: node as NodeId,
                        request: *r,
                    });
                    break;
                }
            }
        }
    }
}
