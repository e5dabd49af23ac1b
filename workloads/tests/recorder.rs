//! The recorder's windows and measured interval, on known inputs.

use std::time::Duration;
use workloads::recorder::{OpOutcome, Recorder};

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[test]
fn windows_keep_large_latencies_after_small_ones() {
    let mut r = Recorder::new(ms(50), (ms(0), ms(10_000)));
    // A quiet window with 1 ms operations, then an outage: operations that
    // waited 200 ms all end in one window.
    for i in 0..10 {
        r.record(ms(i), ms(i), ms(i + 1), OpOutcome::Ok);
    }
    for i in 0..100 {
        let intended = ms(100 + i);
        r.record(intended, intended, ms(310), OpOutcome::Ok);
    }
    let rows = r.timeseries();
    let first = &rows[0];
    assert_eq!(first.completed, 10);
    assert!((999..=1001).contains(&first.p99_us), "{first:?}");
    let burst = &rows[6];
    assert_eq!(burst.start_ms, 300);
    assert_eq!(burst.completed, 100);
    // Waited 110..210 ms: the median about 160 ms, p99 about 209 ms.
    assert!((159_000..=161_500).contains(&burst.p50_us), "{burst:?}");
    assert!((208_000..=210_500).contains(&burst.p99_us), "{burst:?}");
    assert!((209_000..=210_500).contains(&burst.max_us), "{burst:?}");
}

#[test]
fn the_summary_counts_only_the_measured_interval() {
    let mut r = Recorder::new(ms(100), (ms(1_000), ms(2_000)));
    r.record(ms(0), ms(0), ms(500), OpOutcome::Ok); // warm-up
    for i in 0..50 {
        r.record(ms(1_000 + i), ms(1_000 + i), ms(1_002 + i), OpOutcome::Ok);
    }
    r.record(ms(1_500), ms(1_500), ms(1_600), OpOutcome::Timeout);
    r.record(ms(1_500), ms(1_500), ms(1_600), OpOutcome::Error);
    r.record(ms(2_100), ms(2_100), ms(2_101), OpOutcome::Ok); // cool-down
    let s = r.summary();
    assert_eq!((s.completed, s.timeouts, s.errors), (50, 1, 1));
    assert!((s.achieved_ops_per_s - 50.0).abs() < 1e-9);
    assert!((1_999..=2_001).contains(&s.p50_us), "{s:?}");
    let total: u64 = r.timeseries().iter().map(|w| w.completed).sum();
    assert_eq!(total, 52, "time series keep warm-up and cool-down");
}
