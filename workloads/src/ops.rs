//! Operation generation: which command each logical client issues next.

use crate::keys::{KeyChooser, Zipfian};
use crate::spec::{KeyChoice, ValueSize, WorkloadSpec};
use protocols::kv::{Command, Key, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Generates the commands of one logical client, deterministically from the
/// workload seed and the client's index.
#[derive(Clone, Debug)]
pub struct OpGenerator {
    client: u64,
    rng: ChaCha8Rng,
    keys: KeyChooser,
    read_ratio: f64,
    cas_ratio: f64,
    value_size: ValueSize,
    seq: u64,
    /// Last version seen per key, the expectation of the next CAS on it.
    seen: BTreeMap<Key, u64>,
}

impl OpGenerator {
    /// Generators for every client of `spec` (sharing one zipfian table).
    pub fn for_clients(spec: &WorkloadSpec, clients: u64) -> Vec<OpGenerator> {
        let zipf = match spec.key_choice {
            KeyChoice::Zipfian { theta, .. } => Some(Zipfian::new(spec.keys, theta)),
            _ => None,
        };
        (0..clients)
            .map(|c| OpGenerator::new(spec, c, clients, zipf.clone()))
            .collect()
    }

    /// The generator of client `client` of `clients`.
    pub fn new(
        spec: &WorkloadSpec,
        client: u64,
        clients: u64,
        zipf: Option<Zipfian>,
    ) -> OpGenerator {
        let seed = spec.seed ^ client.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        OpGenerator {
            client,
            rng: ChaCha8Rng::seed_from_u64(seed),
            keys: KeyChooser::new(spec.keys, spec.key_choice.clone(), client, clients, zipf),
            read_ratio: spec.read_ratio,
            cas_ratio: spec.cas_ratio,
            value_size: spec.value_size.clone(),
            seq: 0,
            seen: BTreeMap::new(),
        }
    }

    /// The next command. Written values are unique per (client, sequence)
    /// so a history checker can tell every write apart.
    pub fn next_command(&mut self) -> Command {
        self.seq += 1;
        let key = self.keys.next(&mut self.rng);
        if self.rng.gen_bool(self.read_ratio.clamp(0.0, 1.0)) {
            return Command::Get { key };
        }
        let value = self.value();
        if self.rng.gen_bool(self.cas_ratio.clamp(0.0, 1.0)) {
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

    /// Remembers a version seen for `key` (feeds future CAS expectations).
    pub fn observe_version(&mut self, key: Key, version: u64) {
        self.seen.insert(key, version);
    }

    fn value(&mut self) -> Value {
        let size = match self.value_size {
            ValueSize::Fixed(n) => n,
            ValueSize::Uniform { min, max } => self.rng.gen_range(min..=max.max(min)),
        };
        let tag = format!("c{}-{}", self.client, self.seq);
        let mut bytes = tag.into_bytes();
        if bytes.len() < size {
            bytes.resize(size, b'.');
        }
        Value::from(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(y: &str) -> WorkloadSpec {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn same_seed_same_operations_and_ratios_hold() {
        let s = spec("arrival: {kind: open, rate: 10}\nduration: 10s\nread_ratio: 0.25\ncas_ratio: 0.5\nvalue_size: 32\n");
        let mut a = OpGenerator::for_clients(&s, 4);
        let mut b = OpGenerator::for_clients(&s, 4);
        let ops_a: Vec<Command> = (0..1000).map(|_| a[2].next_command()).collect();
        let ops_b: Vec<Command> = (0..1000).map(|_| b[2].next_command()).collect();
        assert_eq!(ops_a, ops_b);
        let reads = ops_a.iter().filter(|c| c.is_read()).count();
        assert!((200..300).contains(&reads), "{reads}");
        let cas = ops_a
            .iter()
            .filter(|c| matches!(c, Command::Cas { .. }))
            .count();
        assert!(cas > 300 && cas < 450, "{cas}");
        for c in &ops_a {
            if let Command::Put { value, .. } = c {
                assert_eq!(value.len(), 32);
                assert!(value.starts_with(b"c2-"));
            }
        }
    }
}
