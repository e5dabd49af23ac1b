//! Operation generation: ratios, value sizes and uniqueness, CAS
//! expectations, determinism.

use protocols::kv::Command;
use std::collections::BTreeSet;
use workloads::keys::{ClientSlot, KeySpace};
use workloads::ops::{parse_value_tag, OpGenerator};
use workloads::WorkloadSpec;

fn spec(extra: &str) -> WorkloadSpec {
    WorkloadSpec::from_yaml(&format!(
        "arrival: {{kind: open, rate: 10}}\nduration: 10s\n{extra}"
    ))
    .unwrap()
}

fn generate(g: &mut OpGenerator, n: usize) -> Vec<Command> {
    (0..n).map(|_| g.next_command()).collect()
}

#[test]
fn read_and_cas_ratios_hold() {
    let s = spec("read_ratio: 0.25\ncas_ratio: 0.4\n");
    let mut g = OpGenerator::for_clients(&s, 4).remove(2);
    let n = 40_000;
    let ops = generate(&mut g, n);
    let reads = ops.iter().filter(|c| c.is_read()).count() as f64 / n as f64;
    let cas = ops
        .iter()
        .filter(|c| matches!(c, Command::Cas { .. }))
        .count() as f64;
    let writes = n as f64 * (1.0 - reads);
    assert!((reads - 0.25).abs() < 0.011, "{reads}");
    assert!((cas / writes - 0.4).abs() < 0.015, "{}", cas / writes);
    for (ratio, expect_reads, expect_cas) in [
        ("read_ratio: 1\n", true, false),
        ("read_ratio: 0\ncas_ratio: 1\n", false, true),
    ] {
        let mut g = OpGenerator::for_clients(&spec(ratio), 1).remove(0);
        for c in generate(&mut g, 1000) {
            assert_eq!(c.is_read(), expect_reads, "{ratio}");
            assert_eq!(matches!(c, Command::Cas { .. }), expect_cas, "{ratio}");
        }
    }
}

#[test]
fn values_have_the_size_and_are_unique_per_client_and_sequence() {
    let s = spec("read_ratio: 0.5\ncas_ratio: 0.5\nvalue_size: {min: 20, max: 40}\n");
    let mut gens = OpGenerator::for_clients(&s, 3);
    let mut seen = BTreeSet::new();
    let mut sizes = BTreeSet::new();
    for g in &mut gens {
        for i in 1..=2000u64 {
            let c = g.next_command();
            assert_eq!(g.seq(), i);
            let value = match c {
                Command::Put { value, .. } | Command::Cas { value, .. } => value,
                Command::Get { .. } => continue,
            };
            assert!((20..=40).contains(&value.len()), "{}", value.len());
            sizes.insert(value.len());
            assert_eq!(parse_value_tag(&value), Some((g.client_id(), i)));
            assert!(seen.insert(value), "a value was written twice");
        }
    }
    assert_eq!(sizes.len(), 21, "every size in [20, 40] is drawn");
    assert_eq!(gens[0].client_id(), 1);
    // Sizes below the tag grow to the tag, so values stay unique.
    for (size, expected) in [(0, "c1-1:"), (12, "c1-1:.......")] {
        let s = spec(&format!("read_ratio: 0\nvalue_size: {size}\n"));
        let mut g = OpGenerator::for_clients(&s, 1).remove(0);
        match g.next_command() {
            Command::Put { value, .. } => assert_eq!(&value[..], expected.as_bytes()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(parse_value_tag(b"hello"), None);
    assert_eq!(parse_value_tag(b"c12-x:"), None);
}

#[test]
fn cas_expects_the_last_version_seen() {
    let s = spec("read_ratio: 0\ncas_ratio: 1\nkeys: 1\n");
    let mut g = OpGenerator::for_clients(&s, 1).remove(0);
    assert!(matches!(
        g.next_command(),
        Command::Cas {
            key: 0,
            expected_version: 0,
            ..
        }
    ));
    g.observe_version(0, 7);
    assert!(matches!(
        g.next_command(),
        Command::Cas {
            expected_version: 7,
            ..
        }
    ));
}

#[test]
fn the_same_seed_gives_the_same_operations() {
    let s = spec("key_choice: {kind: zipfian}\nvalue_size: {min: 8, max: 64}\ncas_ratio: 0.3\n");
    let a: Vec<Vec<Command>> = OpGenerator::for_clients(&s, 4)
        .iter_mut()
        .map(|g| generate(g, 500))
        .collect();
    let b: Vec<Vec<Command>> = OpGenerator::for_clients(&s, 4)
        .iter_mut()
        .map(|g| generate(g, 500))
        .collect();
    assert_eq!(a, b);
    assert_ne!(a[0], a[1], "clients draw independent streams");
    let other = WorkloadSpec {
        seed: 2,
        ..s.clone()
    };
    assert_ne!(
        generate(&mut OpGenerator::for_clients(&other, 1).remove(0), 500),
        a[0]
    );
    // A client's operations do not depend on how many others there are or
    // which driver builds it (only on its slot index and the seed).
    let space = KeySpace::new(s.keys, &s.key_choice);
    let mut alone = OpGenerator::new(&s, &space, ClientSlot { index: 2, of: 4 }, 3);
    assert_eq!(generate(&mut alone, 500), a[2]);
    let share = OpGenerator::for_slots(&s, 2..4, 4, |i| i + 1);
    assert_eq!(share[0].client_id(), 3);
}

#[test]
fn conflict_keys_of_different_drivers_stay_private() {
    let s = spec("read_ratio: 0\nkey_choice: {kind: conflict, rate: 0}\nkeys: 101\n");
    // Two drivers with two clients each, global slots 0..4 of 4.
    let d0 = OpGenerator::for_slots(&s, 0..2, 4, |i| i + 1);
    let d1 = OpGenerator::for_slots(&s, 2..4, 4, |i| 1_000 + i);
    let mut keys_of = Vec::new();
    for mut g in d0.into_iter().chain(d1) {
        let keys: BTreeSet<u64> = generate(&mut g, 300).iter().map(Command::key).collect();
        keys_of.push(keys);
    }
    for i in 0..4 {
        for j in i + 1..4 {
            assert!(
                keys_of[i].is_disjoint(&keys_of[j]),
                "{i} and {j} share keys"
            );
        }
    }
}
