//! What an experiment's `protocol:` names: one of quorumlab's own sans-IO
//! protocols, run as `qlab node` processes, or an external system run as
//! its own processes (etcd, see [`crate::etcd`]). Result rows name either
//! the same way, in the `protocol` column.

use protocols::registry::ProtocolKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The system under test.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    /// A quorumlab protocol, run by `qlab node`.
    Native(ProtocolKind),
    /// A real etcd v3 cluster (the `etcd` binary), driven over gRPC.
    Etcd,
}

impl Target {
    /// The name used in experiment files and result rows.
    pub fn name(self) -> &'static str {
        match self {
            Target::Native(k) => k.name(),
            Target::Etcd => "etcd",
        }
    }

    /// The quorumlab protocol, if this is one.
    pub fn native(self) -> Option<ProtocolKind> {
        match self {
            Target::Native(k) => Some(k),
            Target::Etcd => None,
        }
    }

    /// Every name accepted, comma-separated.
    pub fn known() -> String {
        ProtocolKind::ALL
            .iter()
            .map(|k| k.name())
            .chain(["etcd"])
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "etcd" {
            return Ok(Target::Etcd);
        }
        s.parse::<ProtocolKind>()
            .map(Target::Native)
            .map_err(|_| format!("unknown variant `{s}`, expected one of {}", Target::known()))
    }
}

impl TryFrom<String> for Target {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        t.name().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_etcd_too() {
        for k in ProtocolKind::ALL {
            assert_eq!(k.name().parse::<Target>(), Ok(Target::Native(*k)));
        }
        assert_eq!("etcd".parse::<Target>(), Ok(Target::Etcd));
        let t: Target = serde_yaml::from_str("etcd").unwrap();
        assert_eq!(serde_yaml::to_string(&t).unwrap().trim(), "etcd");
        let err = "zab".parse::<Target>().unwrap_err();
        assert!(
            err.contains("unknown variant `zab`") && err.contains("etcd"),
            "{err}"
        );
    }
}
