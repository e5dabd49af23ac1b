//! Known-answer tests with hand-built histories (times in ms).

use super::*;
use protocols::types::Time;

const MS: u64 = 1_000_000;

fn v(s: &str) -> Value {
    Value::from(s.as_bytes().to_vec())
}

fn op(command: Command, invoke: u64, ret: u64, outcome: Outcome) -> HistoryOp {
    HistoryOp {
        client: 1,
        command,
        invoke: Time(invoke * MS),
        ret: Time(ret * MS),
        outcome,
    }
}

fn put(key: Key, value: &str, invoke: u64, ret: u64) -> HistoryOp {
    let command = Command::Put {
        key,
        value: v(value),
    };
    op(
        command,
        invoke,
        ret,
        Outcome::Ok(Response::Written { version: 0 }),
    )
}

fn put_outcome(key: Key, value: &str, invoke: u64, outcome: Outcome) -> HistoryOp {
    let command = Command::Put {
        key,
        value: v(value),
    };
    op(command, invoke, invoke + 1, outcome)
}

/// A read invoked at `invoke` returning `value` (None = absent). Versions
/// are deliberately meaningless: staleness goes by values.
fn get(key: Key, invoke: u64, value: Option<&str>) -> HistoryOp {
    let response = Response::Value {
        value: value.map(v),
        version: 99,
    };
    op(
        Command::Get { key },
        invoke,
        invoke + 1,
        Outcome::Ok(response),
    )
}

fn brief(o: &ReadObservation) -> (Returned, usize, u64, Option<u64>, Option<u64>) {
    (
        o.returned,
        o.latest_acked,
        o.k,
        o.since_latest_ack_ns.map(|t| t / MS),
        o.t_visibility_ns.map(|t| t / MS),
    )
}

#[test]
fn sequential_writes_give_commit_order_staleness() {
    let h = vec![
        put(1, "a", 5, 10),
        put(1, "b", 15, 20),
        put(1, "c", 25, 30),
        get(1, 3, None),       // before any write
        get(1, 12, Some("a")), // latest acknowledged: fresh, 2 ms after
        get(1, 22, Some("a")), // misses b: k = 1, b acked 2 ms before
        get(1, 40, None),      // misses a, b, c: k = 3, a acked 30 ms before
        get(1, 27, Some("c")), // c not yet acknowledged: fresh
        get(1, 35, Some("c")), // fresh, 5 ms after c
    ];
    let obs: Vec<_> = observe(&h).iter().map(brief).collect();
    use Returned::*;
    assert_eq!(
        obs,
        vec![
            (Initial, 0, 0, None, None),
            (Acked(1), 1, 0, Some(2), None),
            (Acked(1), 2, 1, Some(2), Some(2)),
            (Initial, 3, 3, Some(10), Some(30)),
            (Acked(3), 2, 0, Some(7), None),
            (Acked(3), 3, 0, Some(5), None),
        ]
    );
    let s = summarize(&observe(&h), &[0.0, 5.0, 10.0]);
    assert_eq!((s.reads, s.judged, s.stale), (6, 6, 2));
    assert_eq!(s.k_counts, vec![4, 1, 0, 1]);
    assert!((s.stale_rate() - 2.0 / 6.0).abs() < 1e-12);
    assert!((s.mean_k() - 4.0 / 6.0).abs() < 1e-12);
    assert!((s.k_fraction(0) - 4.0 / 6.0).abs() < 1e-12);
    assert!((s.k_fraction_at_least(2) - 1.0 / 6.0).abs() < 1e-12);
    assert_eq!(s.max_k(), 3);
    assert_eq!(s.t_visibility_ms, vec![2.0, 30.0]);
    assert_eq!(s.t_visibility_quantile_ms(0.5), Some(2.0));
    assert_eq!(s.t_visibility_quantile_ms(1.0), Some(30.0));
    // Since-ack 2, 2 -> [0,5): 1 of 2 consistent; 7, 5 -> [5,10): both;
    // 10 -> [10,inf): stale. The read before any write is in no bin.
    let bins: Vec<_> = s
        .bins
        .iter()
        .map(|b| (b.t_ms, b.t_hi_ms, b.reads, b.consistent))
        .collect();
    assert_eq!(
        bins,
        vec![
            (0.0, Some(5.0), 2, 1),
            (5.0, Some(10.0), 2, 2),
            (10.0, None, 1, 0)
        ]
    );
    assert_eq!(s.bins[0].p_consistent(), Some(0.5));
}

#[test]
fn overlapping_writes_are_not_missed() {
    let h = vec![
        put(1, "x", 0, 10),
        put(1, "y", 5, 12),    // overlaps x: either order is legitimate
        get(1, 14, Some("x")), // fresh although y was acknowledged later
        put(1, "z", 15, 18),   // invoked after x was acknowledged
        get(1, 20, Some("x")), // misses z only
        get(1, 20, Some("y")), // misses z only
        get(1, 20, None),      // misses all three
    ];
    let obs: Vec<_> = observe(&h).iter().map(|o| (o.k, o.is_stale())).collect();
    assert_eq!(obs, vec![(0, false), (1, true), (1, true), (3, true)]);
    let t: Vec<_> = observe(&h)
        .iter()
        .map(|o| o.t_visibility_ns.map(|t| t / MS))
        .collect();
    assert_eq!(t, vec![None, Some(2), Some(2), Some(10)]);
}

#[test]
fn unknown_and_failed_writes() {
    let h = vec![
        put_outcome(1, "u", 0, Outcome::Unknown),
        put(1, "a", 1, 5),
        put_outcome(1, "f", 6, Outcome::Fail),
        op(
            Command::Cas {
                key: 1,
                expected_version: 7,
                value: v("cf"),
            },
            6,
            7,
            Outcome::Ok(Response::CasFailed { current_version: 1 }),
        ),
        op(
            Command::Cas {
                key: 1,
                expected_version: 1,
                value: v("cas"),
            },
            8,
            9,
            Outcome::Ok(Response::Written { version: 2 }),
        ),
        put_outcome(1, "u2", 10, Outcome::Unknown),
        get(1, 20, Some("u")),   // unknown write: credited, fresh
        get(1, 20, Some("a")),   // misses the cas (the unknown u2 is not counted)
        get(1, 20, Some("cas")), // fresh
        get(1, 20, Some("f")),   // a failed write's value: unmatched
        get(1, 20, Some("cf")),  // a failed cas's value: unmatched
        get(1, 20, None),        // misses a and cas
        op(Command::Get { key: 1 }, 20, 21, Outcome::Unknown), // not a read result
        op(Command::Get { key: 1 }, 20, 21, Outcome::Fail),
    ];
    let obs: Vec<_> = observe(&h).iter().map(|o| (o.returned, o.k)).collect();
    use Returned::*;
    assert_eq!(
        obs,
        vec![
            (Unknown, 0),
            (Acked(1), 1),
            (Acked(2), 0),
            (Unmatched, 0),
            (Unmatched, 0),
            (Initial, 2)
        ]
    );
    let s = summarize(&observe(&h), &DEFAULT_BINS_MS);
    assert_eq!(
        (
            s.reads,
            s.judged,
            s.unmatched,
            s.unknown_write_reads,
            s.stale
        ),
        (6, 4, 2, 1, 2)
    );
}

#[test]
fn keys_are_separate_and_duplicates_credit_the_freshest() {
    let h = vec![
        put(1, "same", 0, 2),
        put(2, "other", 0, 2),
        put(1, "mid", 3, 4),
        put(1, "same", 5, 6), // the value written again
        get(1, 10, Some("same")),
        get(2, 10, Some("other")),
        get(2, 10, None),
        get(3, 10, None), // never written
    ];
    let obs: Vec<_> = observe(&h)
        .iter()
        .map(|o| (o.key, o.returned, o.k))
        .collect();
    use Returned::*;
    assert_eq!(
        obs,
        vec![
            (1, Acked(3), 0),
            (2, Acked(1), 0),
            (2, Initial, 1),
            (3, Initial, 0)
        ]
    );
}

#[test]
fn empty_history_summary() {
    let s = summarize(&[], &DEFAULT_BINS_MS);
    assert_eq!(s.reads, 0);
    assert_eq!(s.stale_rate(), 0.0);
    assert_eq!(s.mean_k(), 0.0);
    assert_eq!(s.t_visibility_quantile_ms(0.5), None);
    assert!(s.bins.iter().all(|b| b.p_consistent().is_none()));
}

#[test]
fn siblings_are_credited_with_the_freshest() {
    let siblings = |invoke: u64, values: &[&str]| {
        let response = Response::Siblings {
            values: values.iter().map(|s| v(s)).collect(),
            context: Default::default(),
        };
        op(
            Command::Get { key: 1 },
            invoke,
            invoke + 1,
            Outcome::Ok(response),
        )
    };
    let stored = |value: &str, invoke: u64, ret: u64| {
        let command = Command::Put {
            key: 1,
            value: v(value),
        };
        let response = Response::Stored {
            context: Default::default(),
        };
        op(command, invoke, ret, Outcome::Ok(response))
    };
    let h = vec![
        stored("a", 0, 2),
        stored("b", 3, 5),
        siblings(10, &["a", "b"]),  // b is the latest: fresh
        siblings(10, &["a"]),       // misses b
        siblings(10, &[]),          // absent: misses both
        siblings(10, &["a", "zz"]), // an unmatched sibling does not hide a
    ];
    let obs: Vec<_> = observe(&h).iter().map(|o| (o.returned, o.k)).collect();
    use Returned::*;
    assert_eq!(
        obs,
        vec![(Acked(2), 0), (Acked(1), 1), (Initial, 2), (Acked(1), 1)]
    );
}

#[test]
fn read_values_knows_reads_only() {
    let r = Response::Value {
        value: None,
        version: 0,
    };
    assert_eq!(read_values(&r), Some(vec![None]));
    assert_eq!(read_values(&Response::Written { version: 1 }), None);
}
