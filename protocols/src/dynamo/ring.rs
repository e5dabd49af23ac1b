//! The consistent-hashing ring (Karger et al., STOC 1997, with Dynamo's
//! virtual nodes): every member owns `virtual_nodes` tokens on a 64-bit
//! ring, a key hashes to a point, and its preference list is the first `n`
//! distinct members met walking clockwise from that point. The members met
//! after those are the key's fallbacks for a sloppy quorum.
//!
//! Everything is a pure function of the member list, the token count and
//! the key (a fixed mixing function, no process-seeded hasher), so every
//! node and every run computes the same lists.

use crate::kv::Key;
use crate::types::NodeId;

/// SplitMix64's finaliser: a fast bijective 64-bit mixer.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Where a key lands on the ring.
pub fn key_position(key: Key) -> u64 {
    mix(key ^ 0x6b65_795f_7269_6e67)
}

/// Where virtual node `vnode` of `member` sits on the ring.
fn token(member: NodeId, vnode: u32) -> u64 {
    mix(mix((u64::from(member) << 32) | u64::from(vnode)))
}

/// A consistent-hashing ring over a fixed membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    /// (token, member), sorted by token (then member, for ties).
    tokens: Vec<(u64, NodeId)>,
    members: usize,
}

impl Ring {
    /// A ring of `members` with `virtual_nodes` tokens each (at least one).
    pub fn new(members: impl IntoIterator<Item = NodeId>, virtual_nodes: u32) -> Ring {
        let mut ids: Vec<NodeId> = members.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let mut tokens: Vec<(u64, NodeId)> = ids
            .iter()
            .flat_map(|&m| (0..virtual_nodes.max(1)).map(move |v| (token(m, v), m)))
            .collect();
        tokens.sort_unstable();
        Ring {
            tokens,
            members: ids.len(),
        }
    }

    /// Number of distinct members.
    pub fn members(&self) -> usize {
        self.members
    }

    /// Every member, each once, in the order met walking clockwise from
    /// `key`'s position: the preference list followed by the fallbacks.
    pub fn walk(&self, key: Key) -> Vec<NodeId> {
        let mut out = Vec::with_capacity(self.members);
        if self.tokens.is_empty() {
            return out;
        }
        let start = self.tokens.partition_point(|&(t, _)| t < key_position(key));
        for i in 0..self.tokens.len() {
            let (_, m) = self.tokens[(start + i) % self.tokens.len()];
            if !out.contains(&m) {
                out.push(m);
                if out.len() == self.members {
                    break;
                }
            }
        }
        out
    }

    /// The first `n` distinct members clockwise from `key` (all members if
    /// there are fewer).
    pub fn preference_list(&self, key: Key, n: usize) -> Vec<NodeId> {
        let mut walk = self.walk(key);
        walk.truncate(n);
        walk
    }

    /// The member that owns the arc `key` falls on (the head of its
    /// preference list).
    pub fn primary(&self, key: Key) -> Option<NodeId> {
        self.walk(key).first().copied()
    }
}
