//! Timers of a hosted core on the monotonic clock: re-arming a timer
//! replaces it (generation counters make stale heap entries harmless).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use tokio::time::Instant;

/// Pending timers of one core.
pub struct Timers<T: Ord + Clone> {
    generation: u64,
    armed: BTreeMap<T, u64>,
    heap: BinaryHeap<Reverse<(Instant, u64, T)>>,
}

impl<T: Ord + Clone> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            generation: 0,
            armed: BTreeMap::new(),
            heap: BinaryHeap::new(),
        }
    }
}

impl<T: Ord + Clone> Timers<T> {
    /// Arms `timer` at `deadline`, replacing an earlier arming.
    pub fn set(&mut self, timer: T, deadline: Instant) {
        self.generation += 1;
        self.armed.insert(timer.clone(), self.generation);
        self.heap.push(Reverse((deadline, self.generation, timer)));
    }

    /// Disarms `timer`.
    pub fn cancel(&mut self, timer: &T) {
        self.armed.remove(timer);
    }

    /// The earliest deadline of a live timer, if any (drops stale entries).
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, generation, timer))) = self.heap.peek() {
            if self.armed.get(timer) == Some(generation) {
                return Some(*at);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns every live timer due at `now`, in deadline order.
    pub fn due(&mut self, now: Instant) -> Vec<T> {
        let mut fired = Vec::new();
        while let Some(Reverse((at, generation, timer))) = self.heap.peek() {
            if *at > now {
                break;
            }
            let live = self.armed.get(timer) == Some(generation);
            let timer = timer.clone();
            self.heap.pop();
            if live {
                self.armed.remove(&timer);
                fired.push(timer);
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rearming_replaces_and_cancel_disarms() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut timers = Timers::default();
        timers.set("election", ms(10));
        timers.set("heartbeat", ms(5));
        timers.set("election", ms(20));
        assert_eq!(timers.next_deadline(), Some(ms(5)));
        assert_eq!(timers.due(ms(15)), vec!["heartbeat"]);
        assert_eq!(timers.next_deadline(), Some(ms(20)));
        timers.cancel(&"election");
        assert_eq!(timers.next_deadline(), None);
        assert!(timers.due(ms(100)).is_empty());
    }
}
