//! Unit tests of the consistent-hashing ring: preference lists, stability
//! and balance.

use super::ring::Ring;
use std::collections::BTreeSet;

#[test]
fn preference_lists_have_n_distinct_members_and_are_stable() {
    let ring = Ring::new(0..7, 32);
    let again = Ring::new([6, 5, 4, 3, 2, 1, 0, 3], 32);
    assert_eq!(ring, again, "same members, same ring, whatever the order");
    for key in 0..500 {
        let list = ring.preference_list(key, 3);
        assert_eq!(list.len(), 3);
        let distinct: BTreeSet<_> = list.iter().collect();
        assert_eq!(distinct.len(), 3, "{list:?}");
        assert_eq!(list, again.preference_list(key, 3));
        let walk = ring.walk(key);
        assert_eq!(&walk[..3], &list[..]);
        assert_eq!(walk.iter().collect::<BTreeSet<_>>().len(), 7);
        assert_eq!(ring.primary(key), Some(list[0]));
    }
    // Asking for more replicas than members gives every member once.
    assert_eq!(Ring::new(0..2, 8).preference_list(9, 3).len(), 2);
    assert!(Ring::new(std::iter::empty(), 8).walk(1).is_empty());
}

#[test]
fn with_exactly_n_members_every_node_is_in_every_list() {
    let ring = Ring::new(0..3, 16);
    for key in 0..300 {
        let mut list = ring.preference_list(key, 3);
        list.sort_unstable();
        assert_eq!(list, vec![0, 1, 2]);
    }
}

#[test]
fn virtual_nodes_balance_the_load() {
    let members = 5u32;
    let keys = 20_000u64;
    let ring = Ring::new(0..members, 128);
    let mut primaries = vec![0u64; members as usize];
    let mut replicas = vec![0u64; members as usize];
    for key in 0..keys {
        for (i, m) in ring.preference_list(key, 3).into_iter().enumerate() {
            if i == 0 {
                primaries[m as usize] += 1;
            }
            replicas[m as usize] += 1;
        }
    }
    let fair = keys as f64 / f64::from(members);
    for (m, &count) in primaries.iter().enumerate() {
        let ratio = count as f64 / fair;
        assert!((0.75..1.25).contains(&ratio), "member {m}: {ratio:.2}");
    }
    for (m, &count) in replicas.iter().enumerate() {
        let ratio = count as f64 / (3.0 * fair);
        assert!((0.85..1.15).contains(&ratio), "member {m}: {ratio:.2}");
    }
    // One token each is far less even: virtual nodes are what balances.
    let coarse = Ring::new(0..members, 1);
    let mut coarse_primaries = vec![0u64; members as usize];
    for key in 0..keys {
        if let Some(p) = coarse.primary(key) {
            coarse_primaries[p as usize] += 1;
        }
    }
    let spread = |v: &[u64]| v.iter().max().unwrap_or(&0) - v.iter().min().unwrap_or(&0);
    assert!(spread(&primaries) < spread(&coarse_primaries));
}
