//! Key choosers: uniform, zipfian (YCSB's generator), hotspot, conflict and
//! sequential. Each logical client owns one chooser with its own seeded RNG.

use crate::spec::KeyChoice;
use protocols::kv::Key;
use rand::Rng;

/// Zipfian over ranks `0..n` (Gray et al., "Quickly generating
/// billion-record synthetic databases", as in YCSB), with the zeta constants
/// computed once.
#[derive(Clone, Debug)]
pub struct Zipfian {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

fn zeta(n: u64, theta: f64) -> f64 {
    (1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum()
}

impl Zipfian {
    /// A generator for `n >= 1` items with skew `0 < theta < 1`.
    pub fn new(n: u64, theta: f64) -> Zipfian {
        let n = n.max(1);
        let zetan = zeta(n, theta);
        let zeta2 = zeta(2.min(n), theta);
        let eta = (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan);
        Zipfian {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta,
        }
    }

    /// Probability of rank 0 (the hottest item).
    pub fn p_first(&self) -> f64 {
        1.0 / self.zetan
    }

    /// Draws a rank.
    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        let u: f64 = rng.gen();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.n - 1);
        }
        let rank = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.n - 1)
    }
}

/// FNV-1a of a rank, to scramble zipfian ranks over the key space.
fn scramble(rank: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rank.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Picks keys for one logical client.
#[derive(Clone, Debug)]
pub struct KeyChooser {
    keys: u64,
    choice: KeyChoice,
    zipf: Option<Zipfian>,
    client: u64,
    clients: u64,
    next_sequential: u64,
}

impl KeyChooser {
    /// A chooser for client `client` of `clients` over `keys` keys.
    /// `shared_zipf` lets all clients share one precomputed generator.
    pub fn new(
        keys: u64,
        choice: KeyChoice,
        client: u64,
        clients: u64,
        shared_zipf: Option<Zipfian>,
    ) -> KeyChooser {
        let keys = keys.max(1);
        let zipf = match &choice {
            KeyChoice::Zipfian { theta, .. } => {
                Some(shared_zipf.unwrap_or_else(|| Zipfian::new(keys, *theta)))
            }
            _ => None,
        };
        let clients = clients.max(1);
        KeyChooser {
            keys,
            choice,
            zipf,
            client,
            clients,
            next_sequential: client.wrapping_mul(keys / clients) % keys,
        }
    }

    /// The shared hot key of the conflict workload.
    pub const HOT_KEY: Key = 0;

    /// Keys private to this client under the conflict workload: a disjoint
    /// range of `max(1, (keys - 1) / clients)` keys after the hot key (the
    /// key space grows past `keys` if it has fewer keys than clients).
    pub fn private_range(&self) -> (Key, u64) {
        let per_client = ((self.keys - 1) / self.clients).max(1);
        (1 + self.client * per_client, per_client)
    }

    /// Draws the next key.
    pub fn next(&mut self, rng: &mut impl Rng) -> Key {
        match &self.choice {
            KeyChoice::Uniform => rng.gen_range(0..self.keys),
            KeyChoice::Zipfian { scrambled, .. } => {
                let rank = self.zipf.as_ref().map_or(0, |z| z.sample(rng));
                if *scrambled {
                    scramble(rank) % self.keys
                } else {
                    rank
                }
            }
            KeyChoice::Hotspot { hot_keys, hot_ops } => {
                let hot = ((self.keys as f64 * hot_keys).ceil() as u64).clamp(1, self.keys);
                if hot == self.keys || rng.gen_bool(hot_ops.clamp(0.0, 1.0)) {
                    rng.gen_range(0..hot)
                } else {
                    rng.gen_range(hot..self.keys)
                }
            }
            KeyChoice::Conflict { rate } => {
                if rng.gen_bool(rate.clamp(0.0, 1.0)) {
                    Self::HOT_KEY
                } else {
                    let (first, count) = self.private_range();
                    first + rng.gen_range(0..count)
                }
            }
            KeyChoice::Sequential => {
                let k = self.next_sequential;
                self.next_sequential = (k + 1) % self.keys;
                k
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn draws(choice: KeyChoice, keys: u64, n: usize) -> Vec<u64> {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut c = KeyChooser::new(keys, choice, 3, 8, None);
        (0..n).map(|_| c.next(&mut rng)).collect()
    }

    #[test]
    fn zipfian_rank_zero_has_the_theoretical_frequency() {
        let z = Zipfian::new(1000, 0.99);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let n = 200_000;
        let zeros = (0..n).filter(|_| z.sample(&mut rng) == 0).count();
        let observed = zeros as f64 / n as f64;
        assert!(
            (observed - z.p_first()).abs() < 0.01,
            "{observed} vs {}",
            z.p_first()
        );
        // Monotone: rank 0 more frequent than rank 10.
        let ks = draws(
            KeyChoice::Zipfian {
                theta: 0.99,
                scrambled: false,
            },
            1000,
            50_000,
        );
        let c0 = ks.iter().filter(|&&k| k == 0).count();
        let c10 = ks.iter().filter(|&&k| k == 10).count();
        assert!(c0 > 5 * c10, "{c0} {c10}");
        assert!(ks.iter().all(|&k| k < 1000));
    }

    #[test]
    fn hotspot_and_conflict_rates_hold() {
        let ks = draws(
            KeyChoice::Hotspot {
                hot_keys: 0.1,
                hot_ops: 0.9,
            },
            1000,
            50_000,
        );
        let hot = ks.iter().filter(|&&k| k < 100).count() as f64 / ks.len() as f64;
        assert!((hot - 0.9).abs() < 0.01, "{hot}");
        let ks = draws(KeyChoice::Conflict { rate: 0.3 }, 1000, 50_000);
        let shared = ks.iter().filter(|&&k| k == 0).count() as f64 / ks.len() as f64;
        assert!((shared - 0.3).abs() < 0.01, "{shared}");
        // Private keys of client 3 of 8 over 1000 keys: 1 + 3 * 124 ..
        assert!(ks.iter().all(|&k| k == 0 || (373..497).contains(&k)));
    }

    #[test]
    fn uniform_covers_the_key_space_evenly() {
        let ks = draws(KeyChoice::Uniform, 10, 100_000);
        for key in 0..10 {
            let f = ks.iter().filter(|&&k| k == key).count() as f64 / ks.len() as f64;
            assert!((f - 0.1).abs() < 0.01, "key {key}: {f}");
        }
        let seq = draws(KeyChoice::Sequential, 5, 7);
        assert_eq!(seq[1], (seq[0] + 1) % 5);
    }
}
