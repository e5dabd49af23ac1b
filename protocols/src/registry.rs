//! The protocols quorumlab knows by name, and a way to run generic code on
//! one chosen at run time (from an experiment file or the command line).

use crate::abd::Abd;
use crate::core::Protocol;
use crate::dynamo::Dynamo;
use crate::hotstuff::Hotstuff;
use crate::multipaxos::MultiPaxos;
use crate::pbft::Pbft;
use crate::raft::Raft;
use crate::unreplicated::Unreplicated;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A protocol selectable by name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolKind {
    /// Raft.
    Raft,
    /// Multi-Paxos with a stable leader.
    Multipaxos,
    /// One server, no replication: the baseline.
    Unreplicated,
    /// ABD: leaderless linearizable registers over majority quorums.
    Abd,
    /// Dynamo-style store: N/R/W quorums, version vectors and siblings.
    Dynamo,
    /// PBFT: Byzantine fault tolerance with three phases and view changes.
    Pbft,
    /// Chained HotStuff: Byzantine fault tolerance with a rotating leader,
    /// linear view change and pipelined certificates.
    Hotstuff,
}

impl ProtocolKind {
    /// Every selectable protocol.
    pub const ALL: &'static [ProtocolKind] = &[
        ProtocolKind::Raft,
        ProtocolKind::Multipaxos,
        ProtocolKind::Unreplicated,
        ProtocolKind::Abd,
        ProtocolKind::Dynamo,
        ProtocolKind::Pbft,
        ProtocolKind::Hotstuff,
    ];

    /// The name used in experiment files and result rows.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::Raft => Raft::NAME,
            ProtocolKind::Multipaxos => MultiPaxos::NAME,
            ProtocolKind::Unreplicated => Unreplicated::NAME,
            ProtocolKind::Abd => Abd::NAME,
            ProtocolKind::Dynamo => Dynamo::NAME,
            ProtocolKind::Pbft => Pbft::NAME,
            ProtocolKind::Hotstuff => Hotstuff::NAME,
        }
    }

    /// Runs `visitor` with the concrete protocol type.
    pub fn visit<V: ProtocolVisitor>(self, visitor: V) -> V::Output {
        match self {
            ProtocolKind::Raft => visitor.visit::<Raft>(),
            ProtocolKind::Multipaxos => visitor.visit::<MultiPaxos>(),
            ProtocolKind::Unreplicated => visitor.visit::<Unreplicated>(),
            ProtocolKind::Abd => visitor.visit::<Abd>(),
            ProtocolKind::Dynamo => visitor.visit::<Dynamo>(),
            ProtocolKind::Pbft => visitor.visit::<Pbft>(),
            ProtocolKind::Hotstuff => visitor.visit::<Hotstuff>(),
        }
    }
}

/// Generic code to run on a protocol chosen at run time.
pub trait ProtocolVisitor {
    /// What the visit produces.
    type Output;
    /// Called with the chosen protocol.
    fn visit<P: Protocol>(self) -> Self::Output;
}

impl fmt::Display for ProtocolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown protocol name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown protocol {name:?}; known protocols: {known}")]
pub struct UnknownProtocol {
    /// The name given.
    pub name: String,
    /// The names accepted.
    pub known: String,
}

impl FromStr for ProtocolKind {
    type Err = UnknownProtocol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProtocolKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownProtocol {
                name: s.to_string(),
                known: ProtocolKind::ALL
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for k in ProtocolKind::ALL {
            assert_eq!(k.name().parse::<ProtocolKind>(), Ok(*k));
        }
        let err = "zab".parse::<ProtocolKind>().unwrap_err();
        assert!(err.to_string().contains("unreplicated"), "{err}");
    }
}
