//! The driver's timer queue: every operation arms an attempt timeout and a
//! deadline, and most of them are never needed (the answer comes first) but
//! stay queued until they fall due, so at 100k ops/s the queue holds a few
//! hundred thousand entries. A binary heap pays a cache-missing `log n` on
//! every push and pop of those. Yet within one kind of timer almost every
//! one is armed at a later time than the one before it (attempt timeouts
//! are a constant offset from now, deadlines from an intended start that
//! only grows), so the queue keeps one FIFO *lane* per kind and puts only
//! out-of-order entries (back-offs of varying length) in a heap. Pops
//! merge the lanes and the heap, so timers still fire in time order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use tokio::time::Instant;

/// A min-queue of `(due time, payload)` with `LANES` FIFO lanes, fastest
/// when the pushes into each lane come in non-decreasing time order.
#[derive(Debug)]
pub(crate) struct TimerQueue<T: Ord, const LANES: usize> {
    /// Per lane, entries pushed in time order (each no earlier than the
    /// one before it).
    lanes: [VecDeque<(Instant, T)>; LANES],
    /// Entries that came out of order in their lane.
    heap: BinaryHeap<Reverse<(Instant, T)>>,
}

/// Where the earliest entry is: a lane, or the heap.
#[derive(Copy, Clone)]
enum Source {
    Lane(usize),
    Heap,
}

impl<T: Ord + Copy, const LANES: usize> TimerQueue<T, LANES> {
    /// An empty queue.
    pub(crate) fn new() -> Self {
        TimerQueue {
            lanes: std::array::from_fn(|_| VecDeque::new()),
            heap: BinaryHeap::new(),
        }
    }

    /// Queues `item`, due at `at`, in `lane` (taken modulo `LANES`).
    pub(crate) fn push(&mut self, lane: usize, at: Instant, item: T) {
        let fifo = &mut self.lanes[lane % LANES];
        match fifo.back() {
            Some((last, _)) if at < *last => self.heap.push(Reverse((at, item))),
            _ => fifo.push_back((at, item)),
        }
    }

    /// The earliest entry's due time and where it is.
    fn earliest(&self) -> Option<(Instant, Source)> {
        let mut best = self.heap.peek().map(|Reverse((at, _))| (*at, Source::Heap));
        for (i, fifo) in self.lanes.iter().enumerate() {
            if let Some((at, _)) = fifo.front() {
                if best.is_none_or(|(b, _)| *at <= b) {
                    best = Some((*at, Source::Lane(i)));
                }
            }
        }
        best
    }

    /// The earliest due time.
    pub(crate) fn peek_time(&self) -> Option<Instant> {
        self.earliest().map(|(at, _)| at)
    }

    /// Removes and returns the earliest entry if it is due by `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, T)> {
        let (at, source) = self.earliest()?;
        if at > now {
            return None;
        }
        match source {
            Source::Lane(i) => self.lanes[i].pop_front(),
            Source::Heap => self.heap.pop().map(|Reverse(e)| e),
        }
    }

    /// Entries queued, and how many of them are in the heap.
    #[cfg(test)]
    pub(crate) fn len(&self) -> (usize, usize) {
        let lanes: usize = self.lanes.iter().map(VecDeque::len).sum();
        (lanes + self.heap.len(), self.heap.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_time_order_whatever_the_push_order() {
        let t0 = Instant::now();
        let mut q = TimerQueue::<usize, 2>::new();
        // In order, then earlier ones (to the heap), then later again,
        // spread over both lanes.
        let offsets = [5u64, 7, 7, 9, 3, 8, 1, 12, 10, 2];
        for (i, ms) in offsets.iter().enumerate() {
            q.push(i % 2, t0 + Duration::from_millis(*ms), i);
        }
        assert_eq!(q.len().0, offsets.len());
        let mut got = Vec::new();
        let end = t0 + Duration::from_millis(100);
        while let Some((at, i)) = q.pop_due(end) {
            got.push(((at - t0).as_millis() as u64, i));
        }
        let mut want: Vec<(u64, usize)> =
            offsets.iter().enumerate().map(|(i, ms)| (*ms, i)).collect();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(q.len(), (0, 0));
    }

    #[test]
    fn nothing_pops_before_it_is_due() {
        let t0 = Instant::now();
        let mut q = TimerQueue::<u32, 1>::new();
        q.push(0, t0 + Duration::from_millis(10), 1);
        q.push(0, t0 + Duration::from_millis(4), 2);
        assert_eq!(q.peek_time(), Some(t0 + Duration::from_millis(4)));
        assert_eq!(q.pop_due(t0 + Duration::from_millis(3)), None);
        assert_eq!(
            q.pop_due(t0 + Duration::from_millis(5)).map(|e| e.1),
            Some(2)
        );
        assert_eq!(q.pop_due(t0 + Duration::from_millis(5)), None);
        assert_eq!(q.peek_time(), Some(t0 + Duration::from_millis(10)));
    }
}

#[cfg(test)]
mod lanes {
    use super::*;
    use std::time::Duration;

    #[test]
    fn interleaved_kinds_in_their_own_lanes_never_reach_the_heap() {
        let t0 = Instant::now();
        let mut q = TimerQueue::<u64, 2>::new();
        // What the driver arms per operation: a short attempt timeout and
        // a long deadline, each later than the previous of its kind.
        for i in 0..1000u64 {
            let now = t0 + Duration::from_micros(i);
            q.push(0, now + Duration::from_millis(100), i);
            q.push(1, now + Duration::from_secs(2), i);
        }
        assert_eq!(q.len(), (2000, 0));
        let mut last = t0;
        let mut n = 0;
        while let Some((at, _)) = q.pop_due(t0 + Duration::from_secs(3)) {
            assert!(at >= last);
            last = at;
            n += 1;
        }
        assert_eq!(n, 2000);
    }
}
