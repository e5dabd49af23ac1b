//! The Wing-Gong-Lowe search for one key's sub-history.
//!
//! Calls and returns are laid out in time order in a doubly linked list. The
//! search walks it: at a call it tries to linearize that operation now (the
//! model must accept the operation's recorded response), lifting the call and
//! its return out of the list; reaching a return of an operation that is not
//! linearized yet means the current choice was wrong, so it backtracks. Lowe's
//! memoisation skips configurations (set of linearized operations, model
//! state) that were already explored. Operations with unknown outcome return
//! "at infinity" and accept any response, so they may take effect at any
//! point after their invocation, or never observably.

use super::history::{HistoryOp, Outcome};
use super::model::{step, Register, VersionModel};
use std::collections::HashSet;

/// Result of searching one key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SearchOutcome {
    Linearizable,
    /// Indexes (into the input slice) of the longest linearized prefix found.
    Violation {
        longest: Vec<usize>,
    },
    Exhausted,
}

struct List {
    next: Vec<usize>,
    prev: Vec<usize>,
    head: usize,
    tail: usize,
}

impl List {
    fn unlink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    /// Undoes `unlink` (dancing links: relink in reverse order of unlinking).
    fn relink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = e;
        self.prev[n] = e;
    }
}

pub(crate) fn search(ops: &[HistoryOp], max_states: u64, model: VersionModel) -> SearchOutcome {
    let n = ops.len();
    if n == 0 {
        return SearchOutcome::Linearizable;
    }
    // Entries: (time, kind 0 = call / 1 = return, op). Calls sort before
    // returns at equal times, so touching operations count as concurrent.
    let mut entries: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * n);
    for (i, op) in ops.iter().enumerate() {
        let invoke = op.invoke.as_nanos();
        let ret = match op.outcome {
            Outcome::Unknown => u64::MAX,
            _ => op.ret.as_nanos().max(invoke),
        };
        entries.push((invoke, 0, i));
        entries.push((ret, 1, i));
    }
    entries.sort_unstable();
    let head = 2 * n;
    let tail = 2 * n + 1;
    let mut list = List {
        next: vec![tail; 2 * n + 2],
        prev: vec![head; 2 * n + 2],
        head,
        tail,
    };
    let mut ret_entry = vec![0usize; n];
    let mut prev = head;
    for (e, &(_, kind, op)) in entries.iter().enumerate() {
        list.next[prev] = e;
        list.prev[e] = prev;
        if kind == 1 {
            ret_entry[op] = e;
        }
        prev = e;
    }
    list.next[prev] = tail;
    list.prev[tail] = prev;

    let words = n.div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, Register)> = HashSet::new();
    let mut stack: Vec<(usize, Register)> = Vec::new();
    let mut longest: Vec<usize> = Vec::new();
    let mut state = Register::default();
    let mut explored: u64 = 0;
    let mut e = list.next[list.head];

    while list.next[list.head] != list.tail {
        let is_call = e != list.tail && entries[e].1 == 0;
        if is_call {
            let op = entries[e].2;
            if let Some(next_state) = step(model, &state, &ops[op]) {
                linearized[op / 64] |= 1 << (op % 64);
                if cache.insert((linearized.clone(), next_state.clone())) {
                    explored += 1;
                    if explored > max_states {
                        return SearchOutcome::Exhausted;
                    }
                    stack.push((e, std::mem::replace(&mut state, next_state)));
                    list.unlink(e);
                    list.unlink(ret_entry[op]);
                    if stack.len() > longest.len() {
                        longest = stack.iter().map(|&(ce, _)| entries[ce].2).collect();
                    }
                    e = list.next[list.head];
                    continue;
                }
                linearized[op / 64] &= !(1 << (op % 64));
            }
            e = list.next[e];
        } else {
            // A return (or the end) reached with its operation unlinearized.
            let Some((call, previous)) = stack.pop() else {
                return SearchOutcome::Violation { longest };
            };
            let op = entries[call].2;
            linearized[op / 64] &= !(1 << (op % 64));
            state = previous;
            list.relink(ret_entry[op]);
            list.relink(call);
            e = list.next[call];
        }
    }
    SearchOutcome::Linearizable
}
