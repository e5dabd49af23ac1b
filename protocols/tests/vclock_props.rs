//! Property tests of the version-vector module: the causal order is a
//! partial order, `compare` agrees with itself in both directions, and
//! `merge` is the least upper bound.

use proptest::prelude::*;
use protocols::vclock::{Causality, VersionVector};

/// Few actors and small counters, so that equal, ordered and concurrent
/// pairs all turn up often.
fn vv() -> impl Strategy<Value = VersionVector> {
    proptest::collection::btree_map(0u64..4, 0u64..4, 0..4).prop_map(VersionVector::from)
}

fn le(a: &VersionVector, b: &VersionVector) -> bool {
    b.descends(a)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x007c_10c4),
        ..ProptestConfig::default()
    })]

    #[test]
    fn reflexive(a in vv()) {
        prop_assert_eq!(a.compare(&a), Causality::Equal);
        prop_assert!(le(&a, &a));
        prop_assert!(!a.dominates(&a));
    }

    #[test]
    fn antisymmetric(a in vv(), b in vv()) {
        if le(&a, &b) && le(&b, &a) {
            prop_assert_eq!(&a, &b);
        }
    }

    #[test]
    fn transitive(a in vv(), b in vv(), c in vv()) {
        if le(&a, &b) && le(&b, &c) {
            prop_assert!(le(&a, &c));
        }
        if a.dominates(&b) && b.dominates(&c) {
            prop_assert!(a.dominates(&c));
        }
    }

    #[test]
    fn compare_is_consistent_both_ways(a in vv(), b in vv()) {
        let ab = a.compare(&b);
        let ba = b.compare(&a);
        let mirrored = match ab {
            Causality::Before => Causality::After,
            Causality::After => Causality::Before,
            other => other,
        };
        prop_assert_eq!(ba, mirrored);
        prop_assert_eq!(ab == Causality::Equal, a == b);
        prop_assert_eq!(ab == Causality::Before, le(&a, &b) && a != b);
        prop_assert_eq!(ab == Causality::Concurrent, !le(&a, &b) && !le(&b, &a));
        prop_assert_eq!(a.dominates(&b), ab == Causality::After);
        prop_assert_eq!(a.concurrent_with(&b), b.concurrent_with(&a));
        prop_assert_eq!(a.partial_cmp(&b).is_none(), ab == Causality::Concurrent);
    }

    #[test]
    fn merge_is_commutative_associative_idempotent(a in vv(), b in vv(), c in vv()) {
        prop_assert_eq!(a.merged(&b), b.merged(&a));
        prop_assert_eq!(a.merged(&b).merged(&c), a.merged(&b.merged(&c)));
        prop_assert_eq!(a.merged(&a), a.clone());
    }

    #[test]
    fn merge_is_the_least_upper_bound(a in vv(), b in vv(), u in vv()) {
        let m = a.merged(&b);
        prop_assert!(le(&a, &m) && le(&b, &m));
        // Any upper bound of both is above the merge; make one from `u`.
        let upper = u.merged(&a).merged(&b);
        prop_assert!(le(&m, &upper));
        if le(&a, &u) && le(&b, &u) {
            prop_assert!(le(&m, &u));
        }
        // Merging with something below changes nothing.
        if le(&b, &a) {
            prop_assert_eq!(&m, &a);
        }
    }

    #[test]
    fn increment_is_strictly_after(a in vv(), actor in 0u64..6) {
        let mut next = a.clone();
        let counter = next.increment(actor);
        prop_assert_eq!(counter, a.get(&actor) + 1);
        prop_assert_eq!(next.compare(&a), Causality::After);
        prop_assert!(next.dominates(&a));
        prop_assert_eq!(next.total(), a.total() + 1);
    }

    #[test]
    fn serde_round_trip(a in vv()) {
        let bytes = postcard::to_allocvec(&a).expect("encode");
        let back: VersionVector = postcard::from_bytes(&bytes).expect("decode");
        prop_assert_eq!(back, a);
    }
}
