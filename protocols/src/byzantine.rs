//! Test-only configuration of Byzantine replicas, shared by the
//! Byzantine-fault-tolerant protocols: which replicas misbehave, and how
//! (each protocol has its own list of misbehaviours).

use crate::types::NodeId;
use serde::{Deserialize, Serialize};

/// Which replicas misbehave, and how (`K`: the protocol's kinds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faulty<K> {
    /// The faulty replicas (at most `f` for the guarantees to hold).
    pub replicas: Vec<NodeId>,
    /// What they do.
    pub kind: K,
}

/// How `node` misbehaves under `faulty`, if it is one of the replicas.
pub fn kind_of<K: Copy>(faulty: Option<&Faulty<K>>, node: NodeId) -> Option<K> {
    faulty
        .filter(|b| b.replicas.contains(&node))
        .map(|b| b.kind)
}
