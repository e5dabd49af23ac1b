//! The send gate every runtime puts between a core and the network: sends
//! emitted after a persist wait until that persist is durable (the
//! durability contract of [`crate::core`]). Shared by the simulator and the
//! real node runtime so both enforce exactly the same rule.

use std::collections::VecDeque;

/// A core broke the persist contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("persist sequence number {seq} does not follow {previous}")]
pub struct PersistOrderError {
    /// The sequence number emitted.
    pub seq: u64,
    /// The highest one emitted before it.
    pub previous: u64,
}

/// Holds outbound items until the persists issued before them are durable.
#[derive(Debug)]
pub struct SendGate<O> {
    issued: u64,
    durable: u64,
    held: VecDeque<(u64, O)>,
}

impl<O> Default for SendGate<O> {
    fn default() -> Self {
        SendGate {
            issued: 0,
            durable: 0,
            held: VecDeque::new(),
        }
    }
}

impl<O> SendGate<O> {
    /// A gate with nothing issued.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that the core emitted persist `seq`; sequence numbers must
    /// increase.
    pub fn persist_issued(&mut self, seq: u64) -> Result<(), PersistOrderError> {
        if seq <= self.issued {
            return Err(PersistOrderError {
                seq,
                previous: self.issued,
            });
        }
        self.issued = seq;
        Ok(())
    }

    /// Offers an outbound item: returned if it may go now, held otherwise.
    pub fn submit(&mut self, out: O) -> Option<O> {
        if self.issued > self.durable {
            self.held.push_back((self.issued, out));
            None
        } else {
            Some(out)
        }
    }

    /// Records that every persist up to `upto` is durable and returns the
    /// items that may now go, in the order they were submitted. Returns
    /// `None` if `upto` is not news.
    pub fn durable(&mut self, upto: u64) -> Option<Vec<O>> {
        if upto <= self.durable {
            return None;
        }
        self.durable = upto;
        let mut released = Vec::new();
        while self.held.front().is_some_and(|(need, _)| *need <= upto) {
            if let Some((_, out)) = self.held.pop_front() {
                released.push(out);
            }
        }
        Some(released)
    }

    /// Highest persist sequence number issued.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// Highest persist sequence number durable.
    pub fn durable_upto(&self) -> u64 {
        self.durable
    }

    /// Forgets everything (crash): held items are lost.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_sends_after_a_persist_until_it_is_durable() {
        let mut g = SendGate::new();
        assert_eq!(g.submit("a"), Some("a"));
        g.persist_issued(1).unwrap();
        assert_eq!(g.submit("b"), None);
        g.persist_issued(2).unwrap();
        assert_eq!(g.submit("c"), None);
        assert_eq!(g.durable(1), Some(vec!["b"]));
        assert_eq!(g.submit("d"), None);
        assert_eq!(g.durable(2), Some(vec!["c", "d"]));
        assert_eq!(g.submit("e"), Some("e"));
        assert_eq!(g.durable(2), None);
        assert!(g.persist_issued(2).is_err());
        g.reset();
        assert_eq!(g.issued(), 0);
    }
}
