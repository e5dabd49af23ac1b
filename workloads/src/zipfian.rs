//! The zipfian generator of Gray et al. ("Quickly generating billion-record
//! synthetic databases", SIGMOD 1994), as YCSB implements it, and the
//! permutation that scrambles its ranks over the key space.
//!
//! Ranks 0 and 1 come out with exactly the zipfian probabilities
//! `1/zeta(n)` and `0.5^theta/zeta(n)`; the rest follow Gray's closed-form
//! approximation of the inverse CDF, as in YCSB.

use rand::Rng;

/// Terms of `zeta(n, theta)` summed one by one; past this the tail is
/// computed with the Euler-Maclaurin formula, so key spaces of billions
/// cost no more than a million.
const EXACT_TERMS: u64 = 1_000_000;

/// `zeta(n, theta) = sum over i in 1..=n of 1 / i^theta`.
pub fn zeta(n: u64, theta: f64) -> f64 {
    let exact = n.min(EXACT_TERMS);
    let head: f64 = (1..=exact).map(|i| (i as f64).powf(-theta)).sum();
    if n <= EXACT_TERMS {
        return head;
    }
    // Euler-Maclaurin for sum over i in a..=b of f(i), f(x) = x^-theta:
    // integral + (f(a) + f(b))/2 + (f'(b) - f'(a))/12 - (f'''(b) - f'''(a))/720.
    // The next term is O(a^(-theta-5)): far below f64 precision here.
    let (a, b) = ((exact + 1) as f64, n as f64);
    let f = |x: f64| x.powf(-theta);
    let f1 = |x: f64| -theta * x.powf(-theta - 1.0);
    let f3 = |x: f64| -theta * (theta + 1.0) * (theta + 2.0) * x.powf(-theta - 3.0);
    let integral = if (theta - 1.0).abs() < 1e-12 {
        (b / a).ln()
    } else {
        (b.powf(1.0 - theta) - a.powf(1.0 - theta)) / (1.0 - theta)
    };
    head + integral + (f(a) + f(b)) / 2.0 + (f1(b) - f1(a)) / 12.0 - (f3(b) - f3(a)) / 720.0
}

/// Zipfian over ranks `0..n` with skew `theta` in (0, 1), constants
/// precomputed once (building one costs O(min(n, 10^6)); share it between
/// clients by cloning).
#[derive(Clone, Debug, PartialEq)]
pub struct Zipfian {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
    rank1_bound: f64,
}

impl Zipfian {
    /// A generator over `n` ranks (at least 1) with skew `0 < theta < 1`
    /// (checked by [`crate::spec::WorkloadSpec::validate`]).
    pub fn new(n: u64, theta: f64) -> Zipfian {
        let n = n.max(1);
        let zetan = zeta(n, theta);
        let eta = if n <= 2 {
            // Ranks 0 and 1 are drawn exactly; the formula is never reached.
            0.0
        } else {
            let zeta2 = zeta(2, theta);
            (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan)
        };
        Zipfian {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta,
            rank1_bound: 1.0 + 0.5f64.powf(theta),
        }
    }

    /// Number of ranks.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// `zeta(n, theta)`, the normalising constant.
    pub fn zetan(&self) -> f64 {
        self.zetan
    }

    /// The zipfian probability of `rank` (0 is the hottest):
    /// `(rank + 1)^-theta / zeta(n, theta)`.
    pub fn probability(&self, rank: u64) -> f64 {
        ((rank + 1) as f64).powf(-self.theta) / self.zetan
    }

    /// Draws a rank in `0..n`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        let u: f64 = rng.gen();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < self.rank1_bound {
            return 1.min(self.n - 1);
        }
        let rank = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.n - 1)
    }
}

/// A fixed pseudo-random permutation of `0..n`: a 4-round Feistel network
/// over the smallest even number of bits covering `n`, with cycle-walking
/// to stay inside `0..n` (fewer than 4 steps on average).
///
/// YCSB's ScrambledZipfian hashes ranks modulo n instead, which merges
/// some ranks and leaves some keys unused; a permutation keeps the zipfian
/// frequencies exact while still spreading the hot ranks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scrambler {
    n: u64,
    half_bits: u32,
    mask: u64,
}

const ROUND_KEYS: [u64; 4] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
];

/// splitmix64's finaliser: a cheap, well-mixing 64-bit hash.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Scrambler {
    /// The permutation of `0..n` (`n` at least 1).
    pub fn new(n: u64) -> Scrambler {
        let n = n.max(1);
        let bits = (64 - (n - 1).leading_zeros()).max(2);
        let half_bits = bits.div_ceil(2);
        Scrambler {
            n,
            half_bits,
            mask: (1u64 << half_bits) - 1,
        }
    }

    fn feistel(&self, x: u64) -> u64 {
        let (mut l, mut r) = (x >> self.half_bits, x & self.mask);
        for k in ROUND_KEYS {
            let f = mix64(r ^ k) & self.mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half_bits) | r
    }

    /// Where `rank` (in `0..n`) goes.
    pub fn permute(&self, rank: u64) -> u64 {
        if self.n == 1 {
            return 0;
        }
        // The Feistel network permutes 0..2^(2*half_bits); following the
        // cycle from a point inside 0..n always comes back inside 0..n.
        let mut x = self.feistel(rank % self.n);
        while x >= self.n {
            x = self.feistel(x);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeta_tail_formula_matches_the_exact_sum() {
        for theta in [0.5, 0.99] {
            let n = EXACT_TERMS + 2_000_000;
            let exact: f64 = (1..=n).map(|i| (i as f64).powf(-theta)).sum();
            let approx = zeta(n, theta);
            assert!(
                ((approx - exact) / exact).abs() < 1e-9,
                "theta {theta}: {approx} vs {exact}"
            );
        }
        assert_eq!(zeta(1, 0.99), 1.0);
        assert!((zeta(2, 0.5) - (1.0 + 0.5f64.sqrt())).abs() < 1e-12);
    }

    #[test]
    fn the_scrambler_is_a_permutation() {
        for n in [1u64, 2, 3, 4, 5, 7, 16, 17, 1000, 4099] {
            let s = Scrambler::new(n);
            let mut seen = vec![false; n as usize];
            for r in 0..n {
                let k = s.permute(r);
                assert!(k < n, "n {n}: {r} -> {k}");
                assert!(!seen[k as usize], "n {n}: {k} hit twice");
                seen[k as usize] = true;
            }
        }
    }

    #[test]
    fn tiny_key_spaces_work() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for n in [1, 2, 3] {
            let z = Zipfian::new(n, 0.99);
            let mut hits = vec![0u32; n as usize];
            for _ in 0..3000 {
                hits[z.sample(&mut rng) as usize] += 1;
            }
            assert!(hits.iter().all(|&h| h > 0), "n {n}: {hits:?}");
        }
    }
}
