//! Ballots: totally ordered, unique per proposer.

use crate::types::NodeId;
use serde::{Deserialize, Serialize};

/// Distinct node ids a [`Ballot::as_term`] encoding keeps apart.
pub const TERM_NODE_SPACE: u64 = 65_536;

/// A ballot `(round, node)`, ordered by round and then by proposer id (the
/// derived `Ord` compares fields in declaration order), so two proposers
/// never share a ballot ("Paxos Made Moderately Complex", section 3).
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Ballot {
    /// Round number.
    pub round: u64,
    /// The proposer.
    pub node: NodeId,
}

impl Ballot {
    /// A single number unique per ballot and ordered like ballots, reported
    /// as the "term" in status and in `LeaderElected`/`SteppedDown` events:
    /// `round * 65536 + node` (saturating; clusters are far smaller than
    /// 65536 nodes, and a round near `u64::MAX / 65536` is unreachable).
    pub fn as_term(self) -> u64 {
        self.round
            .saturating_mul(TERM_NODE_SPACE)
            .saturating_add(u64::from(self.node))
    }

    /// The smallest ballot of `node` above every ballot in `seen`.
    pub fn next_for(node: NodeId, seen: Ballot) -> Ballot {
        Ballot {
            round: seen.round.saturating_add(1),
            node,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ballots_order_by_round_then_node_and_terms_follow() {
        let a = Ballot { round: 1, node: 4 };
        let b = Ballot { round: 2, node: 0 };
        let c = Ballot { round: 2, node: 1 };
        assert!(a < b && b < c);
        assert!(a.as_term() < b.as_term() && b.as_term() < c.as_term());
        assert_eq!(c.as_term(), 2 * 65_536 + 1);
        assert!(Ballot::next_for(0, c) > c);
    }
}
