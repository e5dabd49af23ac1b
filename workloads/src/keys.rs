//! Key choosers: uniform, zipfian (scrambled or not), hotspot, conflict and
//! sequential.
//!
//! A [`KeySpace`] holds what is costly to compute (the zipfian constants)
//! once per workload; each logical client gets its own [`KeyChooser`] from
//! it. Choosers draw from the random generator they are handed, so the same
//! seed gives the same keys, in a driver or in a simulator alike.

use crate::spec::KeyChoice;
use crate::zipfian::{Scrambler, Zipfian};
use protocols::kv::Key;
use rand::Rng;

/// Which logical client, of how many, a chooser or generator serves.
/// Indices are global across drivers (driver `d` of `D`, each with `c`
/// clients, serves indices `d*c .. (d+1)*c` of `D*c`), so that per-client
/// key ranges and values stay disjoint across drivers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ClientSlot {
    /// This client's index, in `0..of`.
    pub index: u64,
    /// Logical clients in the whole run, at least 1.
    pub of: u64,
}

/// The shared hot key of the conflict workload.
pub const HOT_KEY: Key = 0;

#[derive(Clone, Debug)]
enum Tables {
    None,
    Zipfian(Zipfian, Option<Scrambler>),
}

/// The key space of a workload, with the precomputed tables its choosers
/// share.
#[derive(Clone, Debug)]
pub struct KeySpace {
    keys: u64,
    choice: KeyChoice,
    tables: Tables,
}

impl KeySpace {
    /// `keys` keys (at least 1) picked as `choice` says. Builds the zipfian
    /// constants, when needed, in O(min(keys, 10^6)).
    pub fn new(keys: u64, choice: &KeyChoice) -> KeySpace {
        let keys = keys.max(1);
        let tables = match choice {
            KeyChoice::Zipfian { theta, scrambled } => Tables::Zipfian(
                Zipfian::new(keys, *theta),
                scrambled.then(|| Scrambler::new(keys)),
            ),
            _ => Tables::None,
        };
        KeySpace {
            keys,
            choice: choice.clone(),
            tables,
        }
    }

    /// Number of keys.
    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// The zipfian generator, for zipfian key spaces.
    pub fn zipfian(&self) -> Option<&Zipfian> {
        match &self.tables {
            Tables::Zipfian(z, _) => Some(z),
            Tables::None => None,
        }
    }

    /// Keys private to `slot` under the conflict workload: the range
    /// `first .. first + count`, with `count = max(1, (keys - 1) / of)`.
    /// Ranges of different clients are disjoint and never contain
    /// [`HOT_KEY`]; with fewer keys than clients the ranges run past
    /// `keys` rather than overlap.
    pub fn private_range(&self, slot: ClientSlot) -> (Key, u64) {
        let count = ((self.keys - 1) / slot.of.max(1)).max(1);
        (1 + slot.index * count, count)
    }

    /// The chooser of one logical client.
    pub fn chooser(&self, slot: ClientSlot) -> KeyChooser {
        let slot = ClientSlot {
            index: slot.index,
            of: slot.of.max(1),
        };
        let kind = match (&self.choice, &self.tables) {
            (KeyChoice::Zipfian { .. }, Tables::Zipfian(z, s)) => {
                Kind::Zipfian(z.clone(), s.clone())
            }
            (KeyChoice::Hotspot { hot_keys, hot_ops }, _) => {
                let hot = ((self.keys as f64 * hot_keys).ceil() as u64).clamp(1, self.keys);
                Kind::Hotspot {
                    hot,
                    hot_ops: *hot_ops,
                }
            }
            (KeyChoice::Conflict { rate }, _) => {
                let (first, count) = self.private_range(slot);
                Kind::Conflict {
                    rate: *rate,
                    first,
                    count,
                }
            }
            (KeyChoice::Sequential, _) => Kind::Sequential {
                next: slot.index.wrapping_mul(self.keys / slot.of) % self.keys,
            },
            _ => Kind::Uniform,
        };
        KeyChooser {
            keys: self.keys,
            kind,
        }
    }
}

#[derive(Clone, Debug)]
enum Kind {
    Uniform,
    Zipfian(Zipfian, Option<Scrambler>),
    Hotspot { hot: u64, hot_ops: f64 },
    Conflict { rate: f64, first: Key, count: u64 },
    Sequential { next: Key },
}

/// Picks the keys of one logical client.
#[derive(Clone, Debug)]
pub struct KeyChooser {
    keys: u64,
    kind: Kind,
}

impl KeyChooser {
    /// Draws the next key, taking randomness from `rng` (sequential draws
    /// none).
    pub fn next<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Key {
        match &mut self.kind {
            Kind::Uniform => rng.gen_range(0..self.keys),
            Kind::Zipfian(z, scrambler) => {
                let rank = z.sample(rng);
                match scrambler {
                    Some(s) => s.permute(rank),
                    None => rank,
                }
            }
            Kind::Hotspot { hot, hot_ops } => {
                // `gen::<f64>() < p` rather than gen_bool: no panic on odd p.
                if *hot == self.keys || rng.gen::<f64>() < *hot_ops {
                    rng.gen_range(0..*hot)
                } else {
                    rng.gen_range(*hot..self.keys)
                }
            }
            Kind::Conflict { rate, first, count } => {
                if rng.gen::<f64>() < *rate {
                    HOT_KEY
                } else {
                    *first + rng.gen_range(0..*count)
                }
            }
            Kind::Sequential { next } => {
                let k = *next;
                *next = (k + 1) % self.keys;
                k
            }
        }
    }
}
