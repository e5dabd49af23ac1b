//! The write-ahead log behind a node's persist action.
//!
//! File layout: an 8-byte magic, then records of
//! `[payload length: u32 LE][CRC-32 of payload: u32 LE][payload]`.
//! Appends are buffered and made durable in groups (group commit): the node
//! runtime appends every record a batch of inputs produced, then calls
//! [`Wal::commit`] once, which writes them with one `write` and, in `fsync`
//! mode, one `fdatasync`.
//!
//! Recovery reads records until the first one that is incomplete (a crash
//! mid-write), absurdly long, or fails its checksum; that record and
//! everything after it is cut off the file, never trusted, and the cut is
//! reported. Nothing in here panics on a damaged file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

const MAGIC: &[u8; 8] = b"QLABWAL1";
const HEADER: usize = 8;
/// Largest record accepted (a corrupted length field must not make recovery
/// allocate gigabytes).
pub const MAX_RECORD: usize = 64 << 20;

/// Errors of the write-ahead log.
#[derive(Debug, Error)]
pub enum WalError {
    /// An I/O operation failed.
    #[error("write-ahead log {path}: {op}: {source}")]
    Io {
        /// The log file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a quorumlab log.
    #[error("{path} is not a quorumlab write-ahead log (bad magic)")]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// A record could not be encoded.
    #[error("encoding a record: {0}")]
    Encode(postcard::Error),
    /// A record is larger than [`MAX_RECORD`].
    #[error("record of {len} bytes exceeds the {MAX_RECORD}-byte limit")]
    TooLarge {
        /// Its length.
        len: usize,
    },
}

/// What recovery found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Intact records, in order.
    pub records: Vec<Vec<u8>>,
    /// Bytes cut from the tail (0 if the log was clean).
    pub truncated_bytes: u64,
    /// Why the tail was cut, if it was.
    pub truncation_reason: Option<String>,
}

/// Whether commits wait for the disk.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// Write to the page cache only (survives a process crash, not a power
    /// failure).
    NoSync,
    /// `fdatasync` after every group.
    Fsync,
}

/// An open write-ahead log.
pub struct Wal {
    path: PathBuf,
    file: File,
    buffer: Vec<u8>,
    mode: SyncMode,
    /// Groups committed and syncs performed, for reporting.
    pub commits: u64,
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> WalError + 'a {
    move |source| WalError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

impl Wal {
    /// Opens (or creates) the log at `path`, recovering its records and
    /// cutting off a damaged tail.
    pub fn open(path: &Path, mode: SyncMode) -> Result<(Wal, Recovered), WalError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io(path, "open"))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io(path, "read"))?;
        let mut recovered = Recovered::default();
        let good_end = if bytes.len() < HEADER {
            // New file, or a crash while writing the header.
            file.set_len(0).map_err(io(path, "truncate"))?;
            file.seek(SeekFrom::Start(0)).map_err(io(path, "seek"))?;
            file.write_all(MAGIC).map_err(io(path, "write header"))?;
            file.sync_all().map_err(io(path, "sync"))?;
            HEADER
        } else {
            if &bytes[..HEADER] != MAGIC {
                return Err(WalError::BadMagic {
                    path: path.to_path_buf(),
                });
            }
            let (records, end, reason) = scan(&bytes);
            recovered.records = records;
            if end < bytes.len() {
                recovered.truncated_bytes = (bytes.len() - end) as u64;
                recovered.truncation_reason = reason;
                file.set_len(end as u64).map_err(io(path, "truncate"))?;
                file.sync_all().map_err(io(path, "sync"))?;
            }
            end
        };
        file.seek(SeekFrom::Start(good_end as u64))
            .map_err(io(path, "seek"))?;
        Ok((
            Wal {
                path: path.to_path_buf(),
                file,
                buffer: Vec::new(),
                mode,
                commits: 0,
            },
            recovered,
        ))
    }

    /// Queues one already-encoded record for the next commit (the runtime
    /// uses `append_encoded`; tests store arbitrary bytes).
    #[cfg(test)]
    pub fn append(&mut self, payload: &[u8]) -> Result<(), WalError> {
        if payload.len() > MAX_RECORD {
            return Err(WalError::TooLarge { len: payload.len() });
        }
        let len =
            u32::try_from(payload.len()).map_err(|_| WalError::TooLarge { len: payload.len() })?;
        self.buffer.extend_from_slice(&len.to_le_bytes());
        self.buffer
            .extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        self.buffer.extend_from_slice(payload);
        Ok(())
    }

    /// Encodes `record` (postcard) straight into the queue for the next
    /// commit: no intermediate buffer per record (the profile showed one
    /// `Vec` per record, then a copy). Stores the same bytes as encoding
    /// first and appending the payload.
    pub fn append_encoded<T: serde::Serialize>(&mut self, record: &T) -> Result<(), WalError> {
        let start = self.buffer.len();
        self.buffer.extend_from_slice(&[0; 8]);
        if let Err(e) = postcard::to_extend(record, Appender(&mut self.buffer)) {
            self.buffer.truncate(start);
            return Err(WalError::Encode(e));
        }
        let len = self.buffer.len() - start - 8;
        let Some(len32) = u32::try_from(len).ok().filter(|_| len <= MAX_RECORD) else {
            self.buffer.truncate(start);
            return Err(WalError::TooLarge { len });
        };
        let crc = crc32fast::hash(&self.buffer[start + 8..]);
        self.buffer[start..start + 4].copy_from_slice(&len32.to_le_bytes());
        self.buffer[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        Ok(())
    }

    /// Writes every queued record and, in `Fsync` mode, syncs the data.
    pub fn commit(&mut self) -> Result<(), WalError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.buffer)
            .map_err(io(&self.path, "write"))?;
        self.buffer.clear();
        if self.mode == SyncMode::Fsync {
            self.file.sync_data().map_err(io(&self.path, "fdatasync"))?;
        }
        self.commits += 1;
        Ok(())
    }
}

/// Lets postcard append to the borrowed queue (its `to_extend` takes the
/// sink by value).
struct Appender<'a>(&'a mut Vec<u8>);

impl Extend<u8> for Appender<'_> {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

/// Parses records after the header; returns them, where the intact part
/// ends, and why the rest (if any) was rejected.
fn scan(bytes: &[u8]) -> (Vec<Vec<u8>>, usize, Option<String>) {
    let mut records = Vec::new();
    let mut at = HEADER;
    loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            return (records, at, None);
        }
        if rest.len() < 8 {
            return (
                records,
                at,
                Some(format!("torn record header at byte {at}")),
            );
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len > MAX_RECORD {
            return (
                records,
                at,
                Some(format!("record length {len} at byte {at} is implausible")),
            );
        }
        let Some(payload) = rest.get(8..8 + len) else {
            return (
                records,
                at,
                Some(format!("torn record of {len} bytes at byte {at}")),
            );
        };
        if crc32fast::hash(payload) != crc {
            return (records, at, Some(format!("checksum mismatch at byte {at}")));
        }
        records.push(payload.to_vec());
        at += 8 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("qlab-wal-{tag}-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn records_survive_reopen_in_order() {
        let path = tmp("reopen");
        {
            let (mut wal, rec) = Wal::open(&path, SyncMode::Fsync).unwrap();
            assert!(rec.records.is_empty());
            wal.append(b"one").unwrap();
            wal.append(b"").unwrap();
            wal.commit().unwrap();
            wal.append(b"three").unwrap();
            wal.commit().unwrap();
            assert_eq!(wal.commits, 2);
        }
        let (_, rec) = Wal::open(&path, SyncMode::NoSync).unwrap();
        assert_eq!(
            rec.records,
            vec![b"one".to_vec(), vec![], b"three".to_vec()]
        );
        assert_eq!(rec.truncated_bytes, 0);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn encoded_appends_store_the_same_bytes_as_plain_appends() {
        let records: Vec<(u64, Vec<u8>)> = vec![(1, vec![]), (u64::MAX, vec![7; 300])];
        let (a, b) = (tmp("enc-a"), tmp("enc-b"));
        {
            let (mut plain, _) = Wal::open(&a, SyncMode::NoSync).unwrap();
            let (mut encoded, _) = Wal::open(&b, SyncMode::NoSync).unwrap();
            for r in &records {
                plain.append(&postcard::to_stdvec(r).unwrap()).unwrap();
                encoded.append_encoded(r).unwrap();
            }
            plain.commit().unwrap();
            encoded.commit().unwrap();
        }
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let (_, rec) = Wal::open(&b, SyncMode::NoSync).unwrap();
        let back: Vec<(u64, Vec<u8>)> = rec
            .records
            .iter()
            .map(|r| postcard::from_bytes(r).unwrap())
            .collect();
        assert_eq!(back, records);
        std::fs::remove_file(&a).unwrap();
        std::fs::remove_file(&b).unwrap();
    }

    #[test]
    fn a_torn_last_record_is_cut_and_appends_continue_after_it() {
        let path = tmp("torn");
        {
            let (mut wal, _) = Wal::open(&path, SyncMode::Fsync).unwrap();
            wal.append(b"kept").unwrap();
            wal.append(b"torn-away").unwrap();
            wal.commit().unwrap();
        }
        let full = std::fs::metadata(&path).unwrap().len();
        // Crash mid-write: the last record loses its final 3 bytes.
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(full - 3)
            .unwrap();
        {
            let (mut wal, rec) = Wal::open(&path, SyncMode::Fsync).unwrap();
            assert_eq!(rec.records, vec![b"kept".to_vec()]);
            assert_eq!(rec.truncated_bytes, 8 + 9 - 3);
            assert!(rec.truncation_reason.unwrap().contains("torn"));
            wal.append(b"after").unwrap();
            wal.commit().unwrap();
        }
        let (_, rec) = Wal::open(&path, SyncMode::Fsync).unwrap();
        assert_eq!(rec.records, vec![b"kept".to_vec(), b"after".to_vec()]);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn corruption_is_detected_by_checksum_and_garbage_never_panics() {
        let path = tmp("corrupt");
        {
            let (mut wal, _) = Wal::open(&path, SyncMode::NoSync).unwrap();
            wal.append(b"good").unwrap();
            wal.append(b"flipped").unwrap();
            wal.commit().unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (_, rec) = Wal::open(&path, SyncMode::NoSync).unwrap();
        assert_eq!(rec.records, vec![b"good".to_vec()]);
        assert!(rec.truncation_reason.unwrap().contains("checksum"));
        // Random garbage after a valid header.
        let mut garbage = MAGIC.to_vec();
        let mut x: u32 = 12345;
        for _ in 0..4096 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            garbage.push((x >> 16) as u8);
        }
        std::fs::write(&path, &garbage).unwrap();
        let (_, rec) = Wal::open(&path, SyncMode::NoSync).unwrap();
        assert!(rec.truncated_bytes > 0);
        // Not a log at all.
        std::fs::write(&path, b"hello world, not a log").unwrap();
        assert!(matches!(
            Wal::open(&path, SyncMode::NoSync),
            Err(WalError::BadMagic { .. })
        ));
        std::fs::remove_file(&path).unwrap();
    }
}
