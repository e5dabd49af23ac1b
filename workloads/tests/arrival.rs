//! Arrival schedules and the dispatcher, including a small discrete-event
//! run showing that an overloaded open loop keeps its intended times.

use std::collections::BTreeMap;
use std::time::Duration;
use workloads::arrival::{ArrivalSchedule, Dispatcher, Start};
use workloads::recorder::{OpOutcome, Recorder};
use workloads::spec::Process;
use workloads::WorkloadSpec;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn constant_rate_is_evenly_spaced_without_drift() {
    let s: Vec<Duration> = ArrivalSchedule::new(1000.0, Process::Constant, 1)
        .take(3)
        .collect();
    assert_eq!(s, vec![ms(1), ms(2), ms(3)]);
    let mut third = ArrivalSchedule::new(3.0, Process::Constant, 1);
    assert_eq!(third.nth(2), Some(Duration::from_secs(1)));
    // The millionth arrival at 1000/s is at exactly 1000 s.
    let mut long = ArrivalSchedule::new(1000.0, Process::Constant, 1);
    assert_eq!(long.nth(999_999), Some(Duration::from_secs(1000)));
    assert_eq!(long.produced(), 1_000_000);
}

#[test]
fn poisson_has_the_rate_and_exponential_gaps() {
    let n = 50_000;
    let a: Vec<Duration> = ArrivalSchedule::new(2000.0, Process::Poisson, 9)
        .take(n)
        .collect();
    let b: Vec<Duration> = ArrivalSchedule::new(2000.0, Process::Poisson, 9)
        .take(n)
        .collect();
    assert_eq!(a, b, "same seed, same schedule");
    let c: Vec<Duration> = ArrivalSchedule::new(2000.0, Process::Poisson, 10)
        .take(n)
        .collect();
    assert_ne!(a, c);
    assert!(a.windows(2).all(|w| w[0] <= w[1]));
    // Rate: n arrivals over the last time; sd of the sum is sqrt(n)/rate.
    let rate = n as f64 / a[n - 1].as_secs_f64();
    assert!(
        (rate - 2000.0).abs() < 2000.0 * 5.0 / (n as f64).sqrt(),
        "{rate}"
    );
    // Exponential gaps: coefficient of variation 1, median ln 2 / rate.
    let gaps: Vec<f64> = std::iter::once(a[0].as_secs_f64())
        .chain(a.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()))
        .collect();
    let mean = gaps.iter().sum::<f64>() / n as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n as f64;
    let cv = var.sqrt() / mean;
    assert!((cv - 1.0).abs() < 0.03, "cv {cv}");
    let below_median = gaps.iter().filter(|&&g| g < 2f64.ln() / 2000.0).count() as f64 / n as f64;
    assert!((below_median - 0.5).abs() < 0.012, "{below_median}");
}

#[test]
fn drivers_split_the_rate_and_closed_loop_has_no_schedule() {
    let open = WorkloadSpec::from_yaml(
        "arrival: {kind: open, rate: 900, process: constant}\nduration: 10s\n",
    )
    .unwrap();
    let mut d0 = ArrivalSchedule::for_driver(&open, 0, 3).unwrap();
    assert_eq!(d0.next(), Some(Duration::from_secs_f64(1.0 / 300.0)));
    let poisson =
        WorkloadSpec::from_yaml("arrival: {kind: open, rate: 900}\nduration: 10s\n").unwrap();
    let p0: Vec<_> = ArrivalSchedule::for_driver(&poisson, 0, 2)
        .unwrap()
        .take(10)
        .collect();
    let p1: Vec<_> = ArrivalSchedule::for_driver(&poisson, 1, 2)
        .unwrap()
        .take(10)
        .collect();
    assert_ne!(p0, p1, "drivers draw independent streams");
    let closed = WorkloadSpec::from_yaml("arrival: {kind: closed}\nduration: 10s\n").unwrap();
    assert!(ArrivalSchedule::for_driver(&closed, 0, 1).is_none());
}

#[test]
fn the_dispatcher_queues_arrivals_that_find_no_idle_client() {
    let mut d = Dispatcher::open(2);
    assert_eq!(
        d.arrive(ms(1)),
        Some(Start {
            client: 0,
            intended: ms(1)
        })
    );
    assert_eq!(
        d.arrive(ms(2)),
        Some(Start {
            client: 1,
            intended: ms(2)
        })
    );
    assert_eq!(d.arrive(ms(3)), None);
    assert_eq!(d.arrive(ms(4)), None);
    assert_eq!(
        (d.backlog_len(), d.queued_total(), d.busy_count()),
        (2, 2, 2)
    );
    // The freed client takes the oldest arrival, with its intended time.
    assert_eq!(
        d.complete(1, ms(10)),
        Some(Start {
            client: 1,
            intended: ms(3)
        })
    );
    assert_eq!(
        d.complete(0, ms(11)),
        Some(Start {
            client: 0,
            intended: ms(4)
        })
    );
    assert_eq!(d.complete(0, ms(12)), None);
    assert!(!d.is_busy(0) && d.is_busy(1));
    // Completing an idle client again changes nothing.
    assert_eq!(d.complete(0, ms(13)), None);
    assert_eq!(d.complete(9, ms(13)), None);
    // The longest-idle client goes first.
    assert_eq!(d.complete(1, ms(14)), None);
    assert_eq!(d.arrive(ms(15)).map(|s| s.client), Some(0));
    assert_eq!(d.arrive(ms(16)).map(|s| s.client), Some(1));
    assert_eq!(d.arrive(ms(17)), None);
    assert_eq!(d.abandon(), vec![ms(17)]);
    assert_eq!(d.max_backlog(), 2);
    assert!(
        d.start_all(ms(0)).is_empty(),
        "open loop starts on arrivals"
    );
}

#[test]
fn closed_loop_reissues_on_completion_until_abandoned() {
    let spec = WorkloadSpec::from_yaml(
        "arrival: {kind: closed, outstanding: 2}\nclients: 3\nduration: 10s\n",
    )
    .unwrap();
    let mut d = Dispatcher::for_spec(&spec);
    let starts = d.start_all(ms(5));
    assert_eq!(starts.len(), 6);
    assert!(starts.iter().all(|s| s.intended == ms(5)));
    assert_eq!(d.arrive(ms(6)), None, "closed loop ignores arrivals");
    assert_eq!(
        d.complete(4, ms(9)),
        Some(Start {
            client: 4,
            intended: ms(9)
        })
    );
    assert!(d.abandon().is_empty());
    assert_eq!(d.complete(4, ms(12)), None);
    assert_eq!(d.busy_count(), 5);
}

/// An open loop at 1000 ops/s against a server that takes 5 ms per op with
/// two clients (capacity 400 ops/s): every arrival is still started, in
/// order, on a client that is idle, and response times (from the intended
/// start) grow with the backlog while service times stay at 5 ms.
#[test]
fn an_overloaded_open_loop_keeps_intended_times() {
    let service = ms(5);
    let end = ms(200);
    let mut schedule = ArrivalSchedule::new(1000.0, Process::Constant, 1).peekable();
    let mut d = Dispatcher::open(2);
    let mut rec = Recorder::new(ms(10), (Duration::ZERO, ms(10_000)));
    // Completion time -> (client, intended, sent).
    let mut in_flight: BTreeMap<(Duration, usize), (Duration, Duration)> = BTreeMap::new();
    let mut started = Vec::new();
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < 10_000, "bounded");
        let next_arrival = schedule.peek().copied().filter(|&t| t < end);
        let next_done = in_flight.keys().next().copied();
        let start = |s: Start, now: Duration, fl: &mut BTreeMap<_, _>, started: &mut Vec<_>| {
            assert!(
                fl.keys().all(|&(_, c)| c != s.client),
                "client {} busy",
                s.client
            );
            fl.insert((now + service, s.client), (s.intended, now));
            started.push(s.intended);
        };
        match (next_arrival, next_done) {
            (Some(t), done) if done.is_none_or(|(dt, _)| t < dt) => {
                schedule.next();
                if let Some(s) = d.arrive(t) {
                    start(s, t, &mut in_flight, &mut started);
                }
            }
            (_, Some((now, client))) => {
                let (intended, sent) = in_flight.remove(&(now, client)).unwrap();
                rec.record(intended, sent, now, OpOutcome::Ok);
                if let Some(s) = d.complete(client, now) {
                    start(s, now, &mut in_flight, &mut started);
                }
            }
            _ => break,
        }
    }
    assert_eq!(started.len(), 199, "every arrival before the end started");
    assert!(started.windows(2).all(|w| w[0] < w[1]), "in arrival order");
    assert_eq!(d.backlog_len(), 0);
    assert!(d.queued_total() > 150, "{}", d.queued_total());
    let s = rec.summary();
    assert_eq!(s.completed, 199);
    assert!((4_900..=5_100).contains(&s.service_p99_us), "{s:?}");
    // The last arrival (199 ms) waits for ~119 others at 2.5 ms each.
    assert!(s.max_us > 250_000, "{s:?}");
    assert!(s.p50_us > 100_000, "{s:?}");
}
