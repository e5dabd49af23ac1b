//! Key choosers against their known statistical properties. Seeds are
//! fixed, so every run draws the same keys and the bounds never flake; the
//! bounds are still several standard deviations wide, so they would hold
//! for other seeds too.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use workloads::keys::{ClientSlot, KeySpace, HOT_KEY};
use workloads::spec::KeyChoice;
use workloads::zipfian::{zeta, Zipfian};

const DRAWS: usize = 100_000;

fn draws(space: &KeySpace, slot: ClientSlot, seed: u64, n: usize) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut c = space.chooser(slot);
    (0..n).map(|_| c.next(&mut rng)).collect()
}

fn counts(keys: &[u64], space: u64) -> Vec<usize> {
    let mut c = vec![0; space as usize];
    for &k in keys {
        c[k as usize] += 1;
    }
    c
}

fn slot(index: u64, of: u64) -> ClientSlot {
    ClientSlot { index, of }
}

/// Binomial standard deviation of a frequency `p` over `n` draws.
fn sd(p: f64, n: usize) -> f64 {
    (p * (1.0 - p) / n as f64).sqrt()
}

#[test]
fn zipfian_hottest_ranks_have_the_theoretical_frequencies() {
    for (n, theta) in [(1000u64, 0.99), (10_000, 0.5), (100, 0.8)] {
        let choice = KeyChoice::Zipfian {
            theta,
            scrambled: false,
        };
        let space = KeySpace::new(n, &choice);
        let ks = draws(&space, slot(0, 1), 7, DRAWS);
        let c = counts(&ks, n);
        let z = zeta(n, theta);
        for rank in [0u64, 1] {
            let expected = ((rank + 1) as f64).powf(-theta) / z;
            let observed = c[rank as usize] as f64 / DRAWS as f64;
            assert!(
                (observed - expected).abs() < 5.0 * sd(expected, DRAWS),
                "n {n} theta {theta} rank {rank}: {observed} vs {expected}"
            );
        }
        // Gray's generator approximates the rest of the distribution: the
        // mass of the top 10% of ranks is close to zeta(n/10)/zeta(n).
        let top = n / 10;
        let expected = zeta(top, theta) / z;
        let observed = ks.iter().filter(|&&k| k < top).count() as f64 / DRAWS as f64;
        assert!(
            (observed - expected).abs() < 0.02,
            "n {n} theta {theta} top 10%: {observed} vs {expected}"
        );
        // Frequencies fall with rank.
        assert!(c[0] > c[1] && c[1] > c[5] && c[5] > c[(n / 2) as usize]);
    }
}

#[test]
fn scrambled_zipfian_keeps_the_frequencies_but_spreads_the_hot_keys() {
    let n = 1000;
    let space = KeySpace::new(
        n,
        &KeyChoice::Zipfian {
            theta: 0.99,
            scrambled: true,
        },
    );
    let z = space.zipfian().unwrap().clone();
    let ks = draws(&space, slot(0, 1), 8, DRAWS);
    let mut c = counts(&ks, n);
    assert!(ks.iter().all(|&k| k < n));
    c.sort_unstable_by(|a, b| b.cmp(a));
    let hottest = c[0] as f64 / DRAWS as f64;
    let expected = z.probability(0);
    assert!(
        (hottest - expected).abs() < 5.0 * sd(expected, DRAWS),
        "{hottest} vs {expected}"
    );
    // The ten hottest keys are spread over the key space, not 0..10.
    let ks_counts = counts(&ks, n);
    let mut by_heat: Vec<u64> = (0..n).collect();
    by_heat.sort_unstable_by_key(|&k| std::cmp::Reverse(ks_counts[k as usize]));
    let hot10 = &by_heat[..10];
    assert!(hot10.iter().filter(|&&k| k < 100).count() <= 4, "{hot10:?}");
    let spread = hot10.iter().max().unwrap() - hot10.iter().min().unwrap();
    assert!(spread > n / 2, "{hot10:?}");
}

#[test]
fn zipfian_works_on_large_key_spaces() {
    let n = 1_000_000_000;
    let z = Zipfian::new(n, 0.99);
    // zeta(1e9, 0.99) is about 23.6 (sum of 1/i^0.99).
    assert!((z.zetan() - 23.6).abs() < 0.2, "{}", z.zetan());
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let draws: Vec<u64> = (0..DRAWS).map(|_| z.sample(&mut rng)).collect();
    assert!(draws.iter().all(|&r| r < n));
    let zeros = draws.iter().filter(|&&r| r == 0).count() as f64 / DRAWS as f64;
    let p = z.probability(0);
    assert!((zeros - p).abs() < 5.0 * sd(p, DRAWS), "{zeros} vs {p}");
}

#[test]
fn hotspot_sends_the_right_share_to_the_hot_keys() {
    for (hot_keys, hot_ops) in [(0.1, 0.9), (0.2, 0.8), (0.01, 0.5), (1.0, 0.3)] {
        let n = 1000;
        let space = KeySpace::new(n, &KeyChoice::Hotspot { hot_keys, hot_ops });
        let ks = draws(&space, slot(2, 4), 9, DRAWS);
        let hot = (n as f64 * hot_keys).ceil() as u64;
        let share = ks.iter().filter(|&&k| k < hot).count() as f64 / DRAWS as f64;
        // With every key hot, every op is hot.
        let expected = if hot == n { 1.0 } else { hot_ops };
        assert!(
            (share - expected).abs() <= 5.0 * sd(expected, DRAWS),
            "{hot_keys}/{hot_ops}: {share}"
        );
        assert!(ks.iter().all(|&k| k < n));
        // Uniform inside the hot set: every hot key is used.
        let c = counts(&ks, n);
        assert!(c[..hot as usize].iter().all(|&x| x > 0));
    }
}

#[test]
fn conflict_hits_the_shared_key_at_the_rate_and_private_keys_never_collide() {
    let (n, clients) = (1000, 8);
    for rate in [0.0, 0.02, 0.3, 1.0] {
        let space = KeySpace::new(n, &KeyChoice::Conflict { rate });
        let mut owner = vec![None; n as usize];
        for c in 0..clients {
            let ks = draws(&space, slot(c, clients), 100 + c, DRAWS / 4);
            let shared = ks.iter().filter(|&&k| k == HOT_KEY).count() as f64 / ks.len() as f64;
            assert!(
                (shared - rate).abs() <= 5.0 * sd(rate, ks.len()),
                "rate {rate} client {c}: {shared}"
            );
            for k in ks.into_iter().filter(|&k| k != HOT_KEY) {
                assert!(k < n);
                let o = owner[k as usize].get_or_insert(c);
                assert_eq!(*o, c, "key {k} used by clients {o} and {c}");
            }
        }
    }
    // Fewer keys than clients: ranges run past the key space, disjoint.
    let space = KeySpace::new(4, &KeyChoice::Conflict { rate: 0.0 });
    let ranges: Vec<_> = (0..10).map(|c| space.private_range(slot(c, 10))).collect();
    for (c, &(first, count)) in ranges.iter().enumerate() {
        assert_eq!((first, count), (1 + c as u64, 1));
    }
}

#[test]
fn uniform_passes_a_chi_square_test() {
    let n = 100;
    let space = KeySpace::new(n, &KeyChoice::Uniform);
    let ks = draws(&space, slot(0, 1), 10, DRAWS);
    let expected = DRAWS as f64 / n as f64;
    let chi2: f64 = counts(&ks, n)
        .iter()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum();
    // 99 degrees of freedom: mean 99, sd 14; 170 is five sd out.
    assert!(chi2 < 170.0, "chi-square {chi2}");
    // And not suspiciously perfect either (a constant sequence would be 0).
    assert!(chi2 > 40.0, "chi-square {chi2}");
}

#[test]
fn sequential_walks_the_key_space_from_a_per_client_offset() {
    let space = KeySpace::new(10, &KeyChoice::Sequential);
    let a = draws(&space, slot(0, 2), 1, 12);
    let b = draws(&space, slot(1, 2), 1, 3);
    assert_eq!(a, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    assert_eq!(b, vec![5, 6, 7]);
}

#[test]
fn the_same_seed_draws_the_same_keys() {
    for choice in [
        KeyChoice::Uniform,
        KeyChoice::Zipfian {
            theta: 0.99,
            scrambled: true,
        },
        KeyChoice::Hotspot {
            hot_keys: 0.2,
            hot_ops: 0.8,
        },
        KeyChoice::Conflict { rate: 0.5 },
    ] {
        let space = KeySpace::new(500, &choice);
        let a = draws(&space, slot(1, 3), 77, 1000);
        assert_eq!(a, draws(&space, slot(1, 3), 77, 1000), "{choice:?}");
        assert_ne!(a, draws(&space, slot(1, 3), 78, 1000), "{choice:?}");
    }
}
