//! A link writer's delay queue: frames wait here until their release time.
//! Frames that must keep their order (no jitter, no latency distribution:
//! the common case, and every frame when no shaping is set) are released
//! no earlier than every frame before them, so they join a FIFO at O(1);
//! only reorderable frames go to a binary heap. Reads merge the two by
//! (release time, arrival).

use bytes::Bytes;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use tokio::time::Instant;

/// A frame in the delay queue, ordered by release time then arrival.
#[derive(Debug)]
pub(crate) struct Pending {
    /// Release time.
    pub at: Instant,
    /// Arrival order.
    pub seq: u64,
    /// Header and body.
    pub frame: Bytes,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Frames waiting for their release time, earliest first.
#[derive(Debug, Default)]
pub(crate) struct DelayQueue {
    /// Frames pushed in (release time, arrival) order.
    fifo: VecDeque<Pending>,
    /// Frames that may overtake others.
    heap: BinaryHeap<Reverse<Pending>>,
}

impl DelayQueue {
    /// Queues `p`. `ordered` promises that `p` sorts after every frame
    /// queued before it (the writer clamps in-order frames to the latest
    /// release time so far); such frames take the FIFO.
    pub(crate) fn push(&mut self, p: Pending, ordered: bool) {
        let fits = self.fifo.back().is_none_or(|last| *last <= p);
        if ordered && fits {
            self.fifo.push_back(p);
        } else {
            self.heap.push(Reverse(p));
        }
    }

    /// Whether the FIFO holds the earliest frame.
    fn fifo_first(&self) -> bool {
        match (self.fifo.front(), self.heap.peek()) {
            (Some(f), Some(Reverse(h))) => f <= h,
            (f, _) => f.is_some(),
        }
    }

    /// The earliest frame.
    pub(crate) fn peek(&self) -> Option<&Pending> {
        if self.fifo_first() {
            self.fifo.front()
        } else {
            self.heap.peek().map(|Reverse(p)| p)
        }
    }

    /// Removes the earliest frame.
    pub(crate) fn pop(&mut self) -> Option<Pending> {
        if self.fifo_first() {
            self.fifo.pop_front()
        } else {
            self.heap.pop().map(|Reverse(p)| p)
        }
    }

    /// Frames queued.
    pub(crate) fn len(&self) -> usize {
        self.fifo.len() + self.heap.len()
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.fifo.is_empty() && self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn frames_leave_by_release_time_then_arrival() {
        let t0 = Instant::now();
        let mut q = DelayQueue::default();
        // (release ms, ordered): in-order frames interleaved with jittered
        // ones that overtake them or fall behind.
        let frames = [
            (1u64, true),
            (5, false),
            (2, true),
            (0, false),
            (2, true),
            (9, true),
            (3, false),
            (9, false),
        ];
        for (seq, (ms, ordered)) in frames.iter().enumerate() {
            let p = Pending {
                at: t0 + Duration::from_millis(*ms),
                seq: seq as u64,
                frame: Bytes::new(),
            };
            q.push(p, *ordered);
        }
        assert_eq!(q.len(), frames.len());
        let mut got = Vec::new();
        while let Some(p) = q.pop() {
            got.push(((p.at - t0).as_millis() as u64, p.seq));
        }
        let mut want: Vec<(u64, u64)> = frames
            .iter()
            .enumerate()
            .map(|(s, (ms, _))| (*ms, s as u64))
            .collect();
        want.sort();
        assert_eq!(got, want);
        assert!(q.is_empty());
    }
}
