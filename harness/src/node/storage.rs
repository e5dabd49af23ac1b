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

    /// Queues `record`, encoded (postcard) straight into the log's queue;
    /// in memory mode it is not encoded at all.
    pub fn append_encoded<T: Serialize>(&mut self, record: &T) -> Result<(), WalError> {
        match &mut self.wal {
            Some(wal) => wal.append_encoded(record),
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

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::core::{Cluster, Protocol};
    use protocols::raft::{Entry, Payload, Raft, RaftConfig, RaftRecord};

    #[test]
    fn a_raft_node_recovers_from_a_log_with_a_torn_last_record() {
        let dir = std::env::temp_dir().join(format!("qlab-torn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let records = vec![
            RaftRecord::HardState {
                term: 3,
                voted_for: Some(1),
            },
            RaftRecord::Append {
                first_index: 1,
                entries: vec![
                    Entry {
                        term: 3,
                        payload: Payload::Noop
                    };
                    2
                ],
            },
            RaftRecord::Append {
                first_index: 3,
                entries: vec![
                    Entry {
                        term: 3,
                        payload: Payload::Noop
                    };
                    5
                ],
            },
        ];
        {
            let (mut s, _) = Storage::open(Durability::Fsync, &dir).unwrap();
            for r in &records {
                s.append_encoded(r).unwrap();
            }
            s.commit().unwrap();
        }
        // A crash in the middle of writing the last record.
        let wal = dir.join("wal.log");
        let len = std::fs::metadata(&wal).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&wal)
            .unwrap()
            .set_len(len - 4)
            .unwrap();
        let (_, recovered) = Storage::open(Durability::Fsync, &dir).unwrap();
        assert!(recovered.truncated_bytes > 0);
        let decoded: Vec<RaftRecord> = recovered
            .records
            .iter()
            .map(|b| postcard::from_bytes(b).unwrap())
            .collect();
        assert_eq!(decoded, records[..2].to_vec());
        let node = Raft::recover(0, &Cluster::new(3), &RaftConfig::default(), decoded);
        let status = node.status();
        assert_eq!(status.term, 3);
        assert_eq!(
            status.commit_index, 0,
            "commitment is relearned from the leader"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
