//! Who is at the other end of a connection: the identity carried in a
//! certificate's subject alternative name.

use protocols::{ClientId, NodeId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The DNS suffix under which every identity is named (`node-3.quorumlab`).
pub const DOMAIN: &str = "quorumlab";

/// A participant of a cluster, as certified by the cluster CA.
///
/// Encoded in a certificate as the DNS subject alternative name
/// `<kind>-<n>.quorumlab` (`control.quorumlab` for the harness), so the
/// identity of a remote end is read back from its verified certificate.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum PeerIdentity {
    /// A replica.
    Node(NodeId),
    /// One logical client with its own certificate.
    Client(ClientId),
    /// A load driver process (multiplexes many logical clients).
    Driver(u32),
    /// The harness' control channel.
    Control,
    /// The `qlab agent` of testbed host `n` (it starts and signals that
    /// host's nodes on the harness' behalf).
    Agent(u32),
}

/// A string that does not name a [`PeerIdentity`].
#[derive(Debug, Error, PartialEq, Eq)]
#[error("`{0}` does not name a quorumlab peer (expected node-N, client-N, driver-N, agent-N or control, optionally with .quorumlab)")]
pub struct IdentityParseError(pub String);

impl PeerIdentity {
    /// The certificate DNS name, e.g. `node-3.quorumlab`.
    pub fn dns_name(&self) -> String {
        format!("{self}.{DOMAIN}")
    }

    /// Parses a certificate DNS name produced by [`PeerIdentity::dns_name`].
    pub fn from_dns_name(name: &str) -> Result<Self, IdentityParseError> {
        let stem = name
            .strip_suffix(DOMAIN)
            .and_then(|s| s.strip_suffix('.'))
            .ok_or_else(|| IdentityParseError(name.to_string()))?;
        stem.parse()
    }
}

impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerIdentity::Node(n) => write!(f, "node-{n}"),
            PeerIdentity::Client(c) => write!(f, "client-{c}"),
            PeerIdentity::Driver(d) => write!(f, "driver-{d}"),
            PeerIdentity::Control => write!(f, "control"),
            PeerIdentity::Agent(a) => write!(f, "agent-{a}"),
        }
    }
}

impl FromStr for PeerIdentity {
    type Err = IdentityParseError;

    /// Accepts the short form (`node-3`) and the DNS form (`node-3.quorumlab`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdentityParseError(s.to_string());
        let short = s
            .strip_suffix(DOMAIN)
            .and_then(|x| x.strip_suffix('.'))
            .unwrap_or(s);
        if short == "control" {
            return Ok(PeerIdentity::Control);
        }
        let (kind, num) = short.split_once('-').ok_or_else(err)?;
        // Reject signs and leading '+' that `parse` would accept.
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        match kind {
            "node" => num.parse().map(PeerIdentity::Node).map_err(|_| err()),
            "client" => num.parse().map(PeerIdentity::Client).map_err(|_| err()),
            "driver" => num.parse().map(PeerIdentity::Driver).map_err(|_| err()),
            "agent" => num.parse().map(PeerIdentity::Agent).map_err(|_| err()),
            _ => Err(err()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for id in [
            PeerIdentity::Node(0),
            PeerIdentity::Node(u32::MAX),
            PeerIdentity::Client(7),
            PeerIdentity::Client(u64::MAX),
            PeerIdentity::Driver(2),
            PeerIdentity::Agent(4),
            PeerIdentity::Control,
        ] {
            assert_eq!(PeerIdentity::from_dns_name(&id.dns_name()), Ok(id));
            assert_eq!(id.to_string().parse(), Ok(id));
        }
        assert_eq!(PeerIdentity::Node(3).dns_name(), "node-3.quorumlab");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "node",
            "node-",
            "node-+3",
            "node--3",
            "node-3.example",
            "node-99999999999",
            "peer-1",
            "control.other",
        ] {
            assert!(PeerIdentity::from_dns_name(bad).is_err(), "{bad}");
        }
        assert!("node-3.example".parse::<PeerIdentity>().is_err());
    }
}
