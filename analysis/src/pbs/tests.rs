//! Known answers for the WARS Monte Carlo model.

use super::*;

fn model(n: usize, r: usize, w: usize, wars: Wars) -> PbsModel {
    PbsModel {
        n,
        r,
        w,
        latencies: wars,
        write_interval_ms: None,
        max_versions: 32,
        local_replica: 0.0,
    }
}

fn sim(trials: u64) -> Simulation {
    Simulation { trials, seed: 7 }
}

fn lat(s: &str) -> Latency {
    Latency::parse(s).unwrap()
}

/// Only the write request is slow: A = R = S = 0.
fn write_only(write: &str) -> Wars {
    Wars {
        write: lat(write),
        ..Wars::uniform(Latency::Constant(0.0))
    }
}

const TIMES: [f64; 9] = [0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0, 1000.0];

#[test]
fn strict_quorums_are_always_consistent() {
    let heavy = lat("mix:0.9*pareto:xm=0.2ms,alpha=1.5+0.1*exp:20ms");
    for (n, r, w) in [(3, 2, 2), (3, 1, 3), (3, 3, 1), (5, 3, 3), (5, 2, 4)] {
        assert!(is_strict(n, r, w));
        let mut m = model(n, r, w, Wars::uniform(heavy.clone()));
        for interval in [None, Some(0.5)] {
            m.write_interval_ms = interval;
            for p in m.predict(&TIMES, sim(20_000)).unwrap() {
                assert_eq!(p.p_consistent, 1.0, "N={n} R={r} W={w} {p:?}");
                assert_eq!(p.expected_k, 0.0, "N={n} R={r} W={w} {p:?}");
            }
        }
    }
}

#[test]
fn constant_equal_latencies_never_miss() {
    // Every replica has the write at 1 ms, the commit is at 2 ms and the
    // read reaches the replicas at 3 ms + t: always consistent.
    let m = model(3, 1, 1, Wars::uniform(lat("1ms")));
    for p in m.predict(&TIMES, sim(1000)).unwrap() {
        assert_eq!((p.p_consistent, p.expected_k), (1.0, 0.0));
    }
}

#[test]
fn two_point_write_latency_known_answer() {
    // N=3, R=W=1, W is 1 or 10 ms with equal odds, A=R=S=0. Unless all three
    // drew 10 (1/8, then everyone has it), the commit is at 1 ms and the one
    // responder (uniform, as all responses tie) misses the write iff it drew
    // 10 and t < 9: P(miss) = 1/2 - 1/8 = 3/8.
    let m = model(3, 1, 1, write_only("samples:1,10"));
    let p = m.predict(&[0.0, 8.9, 9.0, 20.0], sim(200_000)).unwrap();
    for (i, want) in [0.625, 0.625, 1.0, 1.0].into_iter().enumerate() {
        assert!((p[i].p_consistent - want).abs() < 0.005, "{:?}", p[i]);
        assert!((p[i].expected_k - (1.0 - want)).abs() < 0.005, "{:?}", p[i]);
    }
}

#[test]
fn exponential_write_latency_closed_form() {
    // N replicas, R=W=1, W ~ Exp(λ), A=R=S=0: the commit is the first
    // arrival; the responder is uniform, the first arrival itself with
    // probability 1/N, otherwise (memorylessness) it arrives Exp(λ) later.
    // P(consistent at t) = 1 - (N-1)/N e^{-λt}.
    for (n, rate) in [(2, 1.0), (3, 0.5), (5, 2.0)] {
        let m = model(n, 1, 1, write_only(&format!("exp:rate={rate}")));
        let p = m.predict(&TIMES, sim(200_000)).unwrap();
        for p in p {
            let want = 1.0 - (n - 1) as f64 / n as f64 * (-rate * p.t_ms).exp();
            assert!(
                (p.p_consistent - want).abs() < 0.006,
                "N={n} λ={rate}: {p:?}, want {want}"
            );
        }
    }
}

#[test]
fn t_zero_matches_the_closed_form_for_random_quorums() {
    // With A=R=S=0 and a continuous W, at t=0 exactly the first W arrivals
    // have the write and the R responders are a uniform random set: the
    // paper's closed form 1 - C(N-W,R)/C(N,R).
    for (n, r, w) in [(3, 1, 1), (5, 2, 1), (5, 1, 2), (7, 2, 3), (3, 1, 2)] {
        let want = k_staleness_closed_form(n, r, w, 1);
        let m = model(n, r, w, write_only("exp:1ms"));
        let got = m.predict(&[0.0], sim(100_000)).unwrap()[0].p_consistent;
        assert!(
            (got - want).abs() < 0.008,
            "N={n} R={r} W={w}: {got} vs {want}"
        );
    }
    assert!((k_staleness_closed_form(3, 1, 1, 1) - 1.0 / 3.0).abs() < 1e-12);
    assert!((k_staleness_closed_form(3, 1, 1, 2) - (1.0 - 4.0 / 9.0)).abs() < 1e-12);
    assert_eq!(k_staleness_closed_form(3, 2, 2, 1), 1.0);
}

#[test]
fn monotone_in_t_and_deterministic() {
    let wars = Wars {
        write: lat("mix:0.38*pareto:xm=1.05ms,alpha=1.51+0.62*exp:rate=0.183"),
        ..Wars::uniform(lat(
            "mix:0.91*pareto:xm=0.235ms,alpha=10+0.09*exp:rate=1.66",
        ))
    };
    let mut m = model(3, 1, 1, wars);
    let ts: Vec<f64> = (0..60).map(|i| i as f64 * 0.5).collect();
    for interval in [None, Some(2.0)] {
        m.write_interval_ms = interval;
        let a = m.predict(&ts, sim(20_000)).unwrap();
        for pair in a.windows(2) {
            assert!(pair[0].p_consistent <= pair[1].p_consistent, "{pair:?}");
            assert!(pair[0].expected_k >= pair[1].expected_k, "{pair:?}");
        }
        assert!(a[0].p_consistent < 0.9 && a[59].p_consistent > a[0].p_consistent);
        assert_eq!(a, m.predict(&ts, sim(20_000)).unwrap());
        let other = m
            .predict(
                &ts,
                Simulation {
                    trials: 20_000,
                    seed: 8,
                },
            )
            .unwrap();
        assert_ne!(a, other);
    }
}

#[test]
fn write_stream_known_answer() {
    // N=2, R=W=1, W is 1 or 10 ms, A=R=S=0, writes commit 3 ms apart, read
    // at t=0. Version j is missed iff the responder drew 10 and the other
    // replica 1 (probability 1/4) and 9 > 3j: versions 0, 1, 2 can be
    // missed, independently. E[k] = 3/16 + 2*3/64 + 3/64 = 21/64.
    let mut m = model(2, 1, 1, write_only("samples:1ms,10ms"));
    m.write_interval_ms = Some(3.0);
    let p = m.predict(&[0.0], sim(400_000)).unwrap()[0];
    assert!((p.p_consistent - 0.75).abs() < 0.004, "{p:?}");
    assert!((p.expected_k - 21.0 / 64.0).abs() < 0.005, "{p:?}");
    assert_eq!(p.capped, 0.0);
    // Far apart writes behave like an isolated one.
    m.write_interval_ms = Some(1e6);
    let p = m.predict(&[0.0], sim(100_000)).unwrap()[0];
    assert!((p.expected_k - (1.0 - p.p_consistent)).abs() < 1e-12);
    // Writes 1 us apart, two simulated: both missed with probability 1/16,
    // and such reads are reported as capped.
    m.write_interval_ms = Some(1e-3);
    m.max_versions = 2;
    let p = m.predict(&[0.0], sim(100_000)).unwrap()[0];
    assert!((p.capped - 1.0 / 16.0).abs() < 0.005, "{p:?}");
}

#[test]
fn bad_input_is_refused() {
    let ok = model(3, 1, 1, Wars::uniform(lat("1ms")));
    for (n, r, w) in [(3, 4, 1), (3, 1, 4), (3, 0, 1), (0, 0, 0)] {
        let m = PbsModel {
            n,
            r,
            w,
            ..ok.clone()
        };
        let e = m.predict(&[0.0], sim(10)).unwrap_err();
        assert!(e.to_string().contains("between 1 and N"), "{e}");
    }
    assert!(ok.predict(&[-1.0], sim(10)).is_err());
    assert!(ok.predict(&[f64::NAN], sim(10)).is_err());
    assert!(ok.predict(&[0.0], sim(0)).is_err());
    let m = PbsModel {
        write_interval_ms: Some(0.0),
        ..ok.clone()
    };
    assert!(m.predict(&[0.0], sim(10)).is_err());
    for bad in [
        "exp:0",
        "exp:-1ms",
        "exp:rate=0",
        "pareto:xm=1ms",
        "pareto:xm=0,alpha=2",
        "gauss:1ms",
        "samples:",
        "samples:1,x",
        "mix:1*exp:1ms+0*exp:2ms",
        "mix:exp:1ms",
        "-1ms",
        "1parsec",
        "file:/nonexistent/pbs-samples",
    ] {
        assert!(Latency::parse(bad).is_err(), "{bad} parsed");
    }
}

#[test]
fn local_replicas_known_answers() {
    // Writes take 10 ms to remote replicas, everything else is instant.
    let wars = write_only("10ms");
    let mut m = model(3, 1, 1, wars);
    m.local_replica = 1.0;
    // W = 1 commits at once on the writer's own copy; an R = 1 read answers
    // from the reader's own copy, which has the write iff it is the
    // writer's (1/3) until the remote copies have it at 10 ms.
    let p = m.predict(&[0.0, 5.0, 9.9, 10.0], sim(60_000)).unwrap();
    for (got, want) in p.iter().zip([1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0]) {
        assert!((got.p_consistent - want).abs() < 0.01, "{got:?} vs {want}");
    }
    // Without local replicas the same model always waits 10 ms for the
    // commit, so every replica has the write by then.
    m.local_replica = 0.0;
    let p = m.predict(&[0.0], sim(1_000)).unwrap();
    assert_eq!(p[0].p_consistent, 1.0);
    // Half the coordinators local: in between.
    m.local_replica = 0.5;
    let got = m.predict(&[0.0], sim(20_000)).unwrap()[0].p_consistent;
    assert!(got > 0.4 && got < 0.99, "{got}");
    m.local_replica = 1.5;
    assert!(m.predict(&[0.0], sim(10)).is_err());
}
