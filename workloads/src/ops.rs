//! Operation generation: which command each logical client issues next.
//!
//! Each logical client has its own [`OpGenerator`], seeded from the workload
//! seed and the client's slot index, so its sequence of commands does not
//! depend on timing, on other clients or on which driver runs it.
//!
//! Written values are unique per (client, sequence number): they start with
//! the tag `c<client id>-<seq>:` and are padded with `.` to the drawn size
//! (never cut below the tag). A linearizability checker can therefore tell
//! every write apart, and [`parse_value_tag`] recovers who wrote a value.

use crate::keys::{ClientSlot, KeyChooser, KeySpace};
use crate::seed::{derive_seed, Stream};
use crate::spec::{ValueSize, WorkloadSpec};
use protocols::kv::{Command, Key, Value};
use protocols::types::ClientId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::io::Write as _;

/// Generates the commands of one logical client.
#[derive(Clone, Debug)]
pub struct OpGenerator {
    id: ClientId,
    rng: ChaCha8Rng,
    keys: KeyChooser,
    read_ratio: f64,
    cas_ratio: f64,
    value_size: ValueSize,
    seq: u64,
    /// Last version seen per key: what the next CAS on it expects.
    seen: BTreeMap<Key, u64>,
}

impl OpGenerator {
    /// The generator of the client in `slot`, whose protocol client id is
    /// `id` (used in value tags). `space` is the workload's key space,
    /// built once and shared by all clients.
    pub fn new(spec: &WorkloadSpec, space: &KeySpace, slot: ClientSlot, id: ClientId) -> Self {
        OpGenerator {
            id,
            rng: ChaCha8Rng::seed_from_u64(derive_seed(spec.seed, Stream::Ops, slot.index)),
            keys: space.chooser(slot),
            read_ratio: spec.read_ratio,
            cas_ratio: spec.cas_ratio,
            value_size: spec.value_size.clone(),
            seq: 0,
            seen: BTreeMap::new(),
        }
    }

    /// Generators for slots `0..clients` of `clients`, sharing one key
    /// space; client `i` gets id `i + 1` (ids start at 1).
    pub fn for_clients(spec: &WorkloadSpec, clients: u64) -> Vec<OpGenerator> {
        Self::for_slots(spec, 0..clients, clients, |i| i + 1)
    }

    /// Generators for the slots `indices` of `of` logical clients in the
    /// whole run (a driver's share), with protocol client ids from `id_of`.
    pub fn for_slots(
        spec: &WorkloadSpec,
        indices: impl IntoIterator<Item = u64>,
        of: u64,
        id_of: impl Fn(u64) -> ClientId,
    ) -> Vec<OpGenerator> {
        let space = KeySpace::new(spec.keys, &spec.key_choice);
        indices
            .into_iter()
            .map(|index| OpGenerator::new(spec, &space, ClientSlot { index, of }, id_of(index)))
            .collect()
    }

    /// The protocol client id this generator writes into its value tags.
    pub fn client_id(&self) -> ClientId {
        self.id
    }

    /// Commands generated so far (the sequence number of the last one).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The next command: a `Get` with probability `read_ratio`, otherwise a
    /// `Cas` with probability `cas_ratio` or else a `Put`, on a key from
    /// the client's chooser.
    pub fn next_command(&mut self) -> Command {
        self.seq += 1;
        let key = self.keys.next(&mut self.rng);
        if self.rng.gen::<f64>() < self.read_ratio {
            return Command::Get { key };
        }
        let value = self.value();
        if self.rng.gen::<f64>() < self.cas_ratio {
            let expected_version = self.seen.get(&key).copied().unwrap_or(0);
            Command::Cas {
                key,
                expected_version,
                value,
            }
        } else {
            Command::Put { key, value }
        }
    }

    /// Remembers the latest version seen for `key` (from a read, a write or
    /// a failed CAS): the next CAS on `key` expects it. Without CAS in the
    /// mix nothing reads it, so nothing is kept (the map would otherwise
    /// grow to every key the client touched and cost a tree insert per
    /// operation).
    pub fn observe_version(&mut self, key: Key, version: u64) {
        if self.cas_ratio <= 0.0 {
            return;
        }
        self.seen.insert(key, version);
    }

    fn value(&mut self) -> Value {
        let size = match self.value_size {
            ValueSize::Fixed(n) => n,
            ValueSize::Uniform { min, max } => self.rng.gen_range(min..=max.max(min)),
        };
        let mut bytes = Vec::with_capacity(size.max(24));
        // Writing to a Vec cannot fail.
        let _ = write!(bytes, "c{}-{}:", self.id, self.seq);
        if bytes.len() < size {
            bytes.resize(size, b'.');
        }
        Value::from(bytes)
    }
}

/// The (client id, sequence number) a generated value was tagged with, or
/// `None` if `value` does not start with a tag.
pub fn parse_value_tag(value: &[u8]) -> Option<(ClientId, u64)> {
    let rest = value.strip_prefix(b"c")?;
    let colon = rest.iter().position(|&b| b == b':')?;
    let tag = std::str::from_utf8(&rest[..colon]).ok()?;
    let (client, seq) = tag.split_once('-')?;
    Some((client.parse().ok()?, seq.parse().ok()?))
}
