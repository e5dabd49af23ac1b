//! Workload specs: defaults, every field, aliases, and bad input naming the
//! field.

use std::time::Duration;
use workloads::spec::{Arrival, KeyChoice, ParseError, Process, ValueSize, WorkloadSpec};

const MIN: &str = "arrival: {kind: open, rate: 500}\nduration: 10s\n";

fn parse(y: &str) -> Result<WorkloadSpec, String> {
    WorkloadSpec::from_yaml(y).map_err(|e| e.to_string())
}

#[test]
fn defaults_fill_everything_but_arrival_and_duration() {
    let s = parse(MIN).unwrap();
    assert_eq!(s.keys, 1000);
    assert_eq!(s.key_choice, KeyChoice::Uniform);
    assert_eq!(s.read_ratio, 0.5);
    assert_eq!(s.cas_ratio, 0.0);
    assert_eq!(s.value_size, ValueSize::Fixed(64));
    assert_eq!(
        s.arrival,
        Arrival::Open {
            rate: 500.0,
            process: Process::Poisson
        }
    );
    assert_eq!(s.clients, 64);
    assert_eq!(s.duration, Duration::from_secs(10));
    assert_eq!(s.warmup, Duration::from_secs(1));
    assert_eq!(s.cooldown, Duration::from_millis(500));
    assert_eq!(s.request_timeout, Duration::from_secs(1));
    assert_eq!(s.seed, 1);
    assert_eq!(
        s.measured(),
        (Duration::from_secs(1), Duration::from_millis(9_500))
    );
    assert_eq!(s.offered_rate(), Some(500.0));
    assert_eq!(s.loop_kind(), "open");
    assert_eq!(s.logical_clients(), 64);
    for missing in ["duration: 10s\n", "arrival: {kind: open, rate: 5}\n"] {
        let e = parse(missing).unwrap_err();
        assert!(e.contains("missing field"), "{e}");
    }
}

/// The YAML example in `spec.rs`'s module documentation, uncommented.
fn documented_example() -> String {
    let source = include_str!("../src/spec.rs");
    let mut lines = source
        .lines()
        .skip_while(|l| !l.starts_with("//! ```yaml"))
        .skip(1)
        .take_while(|l| !l.starts_with("//! ```"))
        .map(|l| l.trim_start_matches("//!").strip_prefix(' ').unwrap_or(""));
    let header = lines.next().unwrap();
    assert_eq!(header, "workload:");
    lines
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_documented_example_parses_and_shows_every_field() {
    let text = documented_example();
    let s = WorkloadSpec::from_yaml(&text).unwrap();
    assert_eq!(
        s.key_choice,
        KeyChoice::Zipfian {
            theta: 0.99,
            scrambled: true
        }
    );
    // Every field of the struct appears in the example.
    let back = serde_yaml::to_value(&s).unwrap();
    for (field, _) in back.as_mapping().unwrap() {
        let name = field.as_str().unwrap();
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{name}:"))),
            "{name} is not in the documented example"
        );
    }
}

#[test]
fn every_kind_and_alias_parses() {
    let cases = [
        (
            "key_choice: {kind: zipfian, theta: 0.5, scrambled: false}",
            "zipfian",
        ),
        (
            "key_choice: {kind: hotspot, hot_keys: 0.2, hot_ops: 0.8}",
            "hotspot",
        ),
        (
            "key_choice: {kind: hotspot, hot_fraction_of_keys: 0.2, hot_fraction_of_ops: 0.8}",
            "hotspot",
        ),
        ("key_choice: {kind: conflict, rate: 0.1}", "conflict"),
        ("key_choice: {kind: sequential}", "sequential"),
        ("value_size: {min: 8, max: 16}", "uniform sizes"),
    ];
    for (line, what) in cases {
        parse(&format!("{MIN}{line}\n")).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
    let s = parse(
        "arrival: {kind: closed_loop, outstanding_per_client: 4}\nclients: 8\nduration: 2m\n",
    )
    .unwrap();
    assert_eq!(s.arrival, Arrival::Closed { outstanding: 4 });
    assert_eq!((s.logical_clients(), s.loop_kind()), (32, "closed"));
    let s =
        parse("arrival: {kind: open_loop, rate: 7, process: constant}\nduration: 1m\n").unwrap();
    assert_eq!(s.offered_rate(), Some(7.0));
    let s = parse("arrival: {kind: closed}\nduration: 3s\n").unwrap();
    assert_eq!(s.arrival, Arrival::Closed { outstanding: 1 });
}

#[test]
fn a_spec_round_trips_through_yaml() {
    let s = parse(&format!(
        "{MIN}key_choice: {{kind: hotspot, hot_keys: 0.1, hot_ops: 0.9}}\nvalue_size: {{min: 1, max: 9}}\nwarmup: 1.5s\nseed: 42\n"
    ))
    .unwrap();
    let text = serde_yaml::to_string(&s).unwrap();
    assert_eq!(WorkloadSpec::from_yaml(&text).unwrap(), s);
}

#[test]
fn bad_specs_name_the_field_and_the_reason() {
    let cases = [
        (format!("{MIN}rat: 3\n"), "unknown field `rat`"),
        (
            MIN.replace("rate: 500", "rate: 500, burst: 3"),
            "unknown field `burst`",
        ),
        (
            MIN.replace("rate: 500", "rate: -5"),
            "workload.arrival.rate: -5 ops/s must be a positive number",
        ),
        (MIN.replace("rate: 500", "rate: 0"), "workload.arrival.rate"),
        (
            MIN.replace("rate: 500", "rate: .nan"),
            "workload.arrival.rate",
        ),
        (
            format!("{MIN}warmup: 9s\ncooldown: 1s\n"),
            "workload.warmup: warm-up (9s) plus cool-down (1s)",
        ),
        (format!("{MIN}warmup: 11s\n"), "workload.warmup"),
        (
            format!("{MIN}clients: 0\n"),
            "workload.clients: must be at least 1",
        ),
        (format!("{MIN}clients: 2000000\n"), "workload.clients"),
        (
            MIN.replace("10s", "ten seconds"),
            "duration: \"ten seconds\" is not a duration",
        ),
        (MIN.replace("10s", "10"), "10 has no unit"),
        (
            format!("{MIN}request_timeout: 5 parsecs\n"),
            "request_timeout",
        ),
        (
            format!("{MIN}request_timeout: 0s\n"),
            "workload.request_timeout",
        ),
        (
            format!("{MIN}attempt_timeout: 0s\n"),
            "workload.attempt_timeout",
        ),
        (MIN.replace("10s", "0s"), "workload.duration"),
        (
            format!("{MIN}read_ratio: 1.5\n"),
            "workload.read_ratio: 1.5",
        ),
        (format!("{MIN}read_ratio: -0.1\n"), "workload.read_ratio"),
        (format!("{MIN}cas_ratio: 2\n"), "workload.cas_ratio"),
        (
            format!("{MIN}keys: 0\n"),
            "workload.keys: must be at least 1",
        ),
        (
            format!("{MIN}key_choice: {{kind: zipfian, theta: 1.0}}\n"),
            "workload.key_choice.theta: 1 is not supported",
        ),
        (
            format!("{MIN}key_choice: {{kind: zipfian, theta: 1.2}}\n"),
            "workload.key_choice.theta: 1.2 must be strictly between 0 and 1",
        ),
        (
            format!("{MIN}key_choice: {{kind: zipfian, theta: 0}}\n"),
            "workload.key_choice.theta",
        ),
        (
            format!("{MIN}key_choice: {{kind: hotspot, hot_keys: 0, hot_ops: 0.5}}\n"),
            "workload.key_choice.hot_keys",
        ),
        (
            format!("{MIN}key_choice: {{kind: hotspot, hot_keys: 0.5, hot_ops: 1.5}}\n"),
            "workload.key_choice.hot_ops",
        ),
        (
            format!("{MIN}key_choice: {{kind: hotspot, hot_keys: 0.5}}\n"),
            "missing field `hot_ops`",
        ),
        (
            format!("{MIN}key_choice: {{kind: conflict, rate: 2}}\n"),
            "workload.key_choice.rate",
        ),
        (
            format!("{MIN}key_choice: {{kind: zipf}}\n"),
            "unknown variant `zipf`",
        ),
        (
            format!("{MIN}value_size: {{min: 9, max: 3}}\n"),
            "workload.value_size: min 9 is larger than max 3",
        ),
        (format!("{MIN}value_size: -4\n"), "-4 is negative"),
        (
            format!("{MIN}value_size: {{min: 1, mx: 3}}\n"),
            "unknown field `mx`",
        ),
        (
            format!("{MIN}value_size: {{min: 1}}\n"),
            "missing field `max`",
        ),
        (format!("{MIN}value_size: 2000000\n"), "workload.value_size"),
        (
            "arrival: {kind: closed, outstanding: 0}\nduration: 10s\n".into(),
            "workload.arrival.outstanding",
        ),
        (
            "arrival: {kind: sometimes}\nduration: 10s\n".into(),
            "unknown variant `sometimes`",
        ),
    ];
    for (yaml, expected) in cases {
        let err = parse(&yaml).unwrap_err();
        assert!(err.contains(expected), "{yaml:?}\n=> {err}");
    }
}

#[test]
fn yaml_errors_keep_the_location() {
    let e = WorkloadSpec::from_yaml("duration: 10s\narrival: {kind: open, rate: 5}\nrat: 3\n")
        .unwrap_err();
    match &e {
        ParseError::Yaml { line, column, .. } => assert_eq!((*line, *column), (Some(3), Some(1))),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("line 3"), "{e}");
    let e = WorkloadSpec::from_yaml("duration: [\n").unwrap_err();
    assert!(matches!(e, ParseError::Yaml { line: Some(_), .. }), "{e:?}");
    // Range errors are typed and name the field.
    let e = WorkloadSpec::from_yaml(&format!("{MIN}clients: 0\n")).unwrap_err();
    match e {
        ParseError::Invalid(inner) => assert_eq!(inner.field, "clients"),
        other => panic!("{other:?}"),
    }
}
