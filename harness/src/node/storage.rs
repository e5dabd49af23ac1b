//! Where a node's persist records go, per the experiment's `durability`.

use super::wal::{Recovered, SyncMode, Wal, WalError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// How durable a node's persisted state is. Every result row says which.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Records stay in the node's memory: fastest, and a killed node comes
    /// back empty (which Raft and Paxos are not designed to survive; do not
    /// restart crashed nodes in this mode).
    #[default]
    Memory,
    /// Records are written to the write-ahead log but never fsynced: they
    /// survive a process crash, not a power loss (like etcd's
    /// `--unsafe-no-fsync`).
    Nosync,
    /// Records are fsynced (`fdatasync`, group commit) before anything that
    /// depends on them is sent: the safe mode, and etcd's only mode.
    Fsync,
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Durability::Memory => "memory",
            Durability::Nosync => "nosync",
            Durability::Fsync => "fsync",
        })
    }
}

impl FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "memory" => Ok(Durability::Memory),
            "nosync" => Ok(Durability::Nosync),
            "fsync" => Ok(Durability::Fsync),
            other => Err(format!(
                "unknown durability {other:?}; expected memory, nosync or fsync"
            )),
        }
    }
}

/// A node's stable storage.
pub struct Storage {
    wal: Option<Wal>,
}

impl Storage {
    /// Opens storage in `dir`, returning what survived from earlier runs.
    pub fn open(durability: Durability, dir: &Path) -> Result<(Storage, Recovered), WalError> {
        let mode = match durability {
            Durability::Memory => return Ok((Storage { wal: None }, Recovered::default())),
            Durability::Nosync => SyncMode::NoSync,
            Durability::Fsync => SyncMode::Fsync,
        };
        let (wal, recovered) = Wal::open(&dir.join("wal.log"), mode)?;
        Ok((Storage { wal: Some(wal) }, recovered))
    }

    /// Queues a record.
    pub fn append(&mut self, record: &[u8]) -> Result<(), WalError> {
        match &mut self.wal {
            Some(wal) => wal.append(record),
            None => Ok(()),
        }
    }

    /// Makes every queued record durable (one write, one sync).
    pub fn commit(&mut self) -> Result<(), WalError> {
        match &mut self.wal {
            Some(wal) => wal.commit(),
            None => Ok(()),
        }
    }
}
