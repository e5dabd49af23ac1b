//! The simulated network: per-link latency, loss, duplication, partitions.

use super::config::NetworkConfig;
use crate::types::NodeId;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Link state between replicas (clients are outside partitions: they model a
/// load generator with its own path to every replica, subject to latency and
/// loss only).
pub(crate) struct Network {
    rng: ChaCha8Rng,
    config: NetworkConfig,
    nodes: u32,
    /// Per directed replica link latency factor, `from * nodes + to`.
    link_factor: Vec<f64>,
    /// Directed links that drop everything (partitions).
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// Directed links slowed down by a factor.
    slowed: BTreeMap<(NodeId, NodeId), f64>,
}

impl Network {
    pub(crate) fn new(config: NetworkConfig, nodes: u32, mut rng: ChaCha8Rng) -> Network {
        let spread = config.per_link_spread.clamp(0.0, 0.95);
        let link_factor = (0..nodes * nodes)
            .map(|_| {
                if spread > 0.0 {
                    rng.gen_range(1.0 - spread..=1.0 + spread)
                } else {
                    1.0
                }
            })
            .collect();
        Network {
            rng,
            config,
            nodes,
            link_factor,
            blocked: BTreeSet::new(),
            slowed: BTreeMap::new(),
        }
    }

    /// Delivery delays for one replica-to-replica message: empty if it is
    /// dropped, two entries if it is duplicated.
    pub(crate) fn node_to_node(&mut self, from: NodeId, to: NodeId) -> Vec<Duration> {
        if self.blocked.contains(&(from, to)) {
            return Vec::new();
        }
        let mut factor = self
            .link_factor
            .get((from * self.nodes + to) as usize)
            .copied()
            .unwrap_or(1.0);
        if let Some(slow) = self.slowed.get(&(from, to)) {
            factor *= slow;
        }
        self.deliveries(factor)
    }

    /// Delivery delays for a client-to-replica or replica-to-client message.
    pub(crate) fn client_link(&mut self) -> Vec<Duration> {
        self.deliveries(1.0)
    }

    fn deliveries(&mut self, factor: f64) -> Vec<Duration> {
        if self.config.loss > 0.0 && self.rng.gen_bool(self.config.loss.min(1.0)) {
            return Vec::new();
        }
        let copies =
            if self.config.duplicate > 0.0 && self.rng.gen_bool(self.config.duplicate.min(1.0)) {
                2
            } else {
                1
            };
        (0..copies)
            .map(|_| self.config.latency.sample(&mut self.rng).mul_f64(factor))
            .collect()
    }

    /// Blocks every link between different groups (both directions).
    /// Nodes not named in any group form one more group.
    pub(crate) fn partition(&mut self, groups: &[Vec<NodeId>]) {
        let group_of = |n: NodeId| groups.iter().position(|g| g.contains(&n));
        for a in 0..self.nodes {
            for b in 0..self.nodes {
                if a != b && group_of(a) != group_of(b) {
                    self.blocked.insert((a, b));
                }
            }
        }
    }

    /// Blocks one direction of one link.
    pub(crate) fn cut(&mut self, from: NodeId, to: NodeId) {
        self.blocked.insert((from, to));
    }

    /// Slows one direction of one link by `factor`.
    pub(crate) fn slow(&mut self, from: NodeId, to: NodeId, factor: f64) {
        self.slowed.insert((from, to), factor);
    }

    /// Removes every partition and slowdown.
    pub(crate) fn heal(&mut self) {
        self.blocked.clear();
        self.slowed.clear();
    }
}
