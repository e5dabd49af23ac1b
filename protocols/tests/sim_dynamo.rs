//! The Dynamo store under the simulator's randomized crashes, partitions,
//! delays, drops and duplicates. Its histories are not linearizable
//! (siblings), so instead: every acknowledged put must be held durably by
//! W of its key's owners (strict quorums) or by at least one owner after
//! hinted hand-off (sloppy quorum); with R + W > N and strict quorums no
//! read may miss a put acknowledged before it was invoked, and elsewhere
//! stale reads are counted; every request must complete after the heal.
//! A deliberately broken variant (gets answered one reply short of R) must
//! be caught by the stale-read check. A failing seed prints itself; rerun
//! it with `QLAB_SEED=<seed> cargo test -p protocols --test sim_dynamo`.

use protocols::dynamo::{Dynamo, DynamoConfig};
use protocols::kv::{Command, Response};
use protocols::sim::{run_seeds, SimConfig, Simulation, SuiteSummary, Violation};
use protocols::{Protocol, Replication};
use std::ops::Range;

/// The Dynamo paper's common configuration: N = 3, R = 2, W = 2, strict.
fn strict() -> DynamoConfig {
    DynamoConfig::default()
}

/// N = 3, R = 2, W = 2 with a sloppy quorum and hinted hand-off.
fn sloppy() -> DynamoConfig {
    DynamoConfig {
        sloppy_quorum: true,
        ..DynamoConfig::default()
    }
}

/// N = 3, R = W = 1: fast, available, and stale.
fn one_one() -> DynamoConfig {
    DynamoConfig {
        r: 1,
        w: 1,
        ..DynamoConfig::default()
    }
}

fn randomized_5(seed: u64) -> SimConfig {
    SimConfig::randomized(seed, 5)
}

#[test]
fn dynamo_is_judged_by_versions_not_linearizability() {
    assert_eq!(Dynamo::REPLICATION, Replication::Versioned);
    const { assert!(!Dynamo::LINEARIZABLE && !Dynamo::SUPPORTS_CAS) };
    let cluster = protocols::core::Cluster::new(5);
    let promises = |c: &DynamoConfig| Dynamo::versioned_promises(&cluster, c);
    assert_eq!(promises(&strict()).durable_owners, 2);
    assert!(promises(&strict()).fresh_reads);
    assert_eq!(promises(&sloppy()).durable_owners, 1);
    assert!(!promises(&sloppy()).fresh_reads);
    assert_eq!(promises(&one_one()).durable_owners, 1);
    assert!(!promises(&one_one()).fresh_reads);
}

#[test]
fn simulated_puts_carry_the_clients_causal_context() {
    // The simulator's client prepares every request as the real driver
    // does, so a put carries the clock its client last saw for the key and
    // its new clock extends that: a clock with entries of several
    // coordinators can only come from a context.
    let report = Simulation::<Dynamo>::new(SimConfig::calm(1, 5), strict()).run();
    assert!(report.passed(), "{report}");
    let mut sim = Simulation::<Dynamo>::new(SimConfig::calm(1, 5), strict());
    sim.run_until(protocols::Time::from_millis(3_000));
    let history = sim.history();
    let puts: Vec<usize> = history
        .iter()
        .filter_map(|op| match &op.outcome {
            protocols::check::Outcome::Ok(Response::Stored { context }) => {
                Some(context.iter().count())
            }
            _ => None,
        })
        .collect();
    assert!(puts.len() > 50, "{} acknowledged puts", puts.len());
    let causal = puts.iter().filter(|&&actors| actors > 1).count();
    assert!(
        causal * 2 > puts.len(),
        "{causal} of {} puts extend another coordinator's clock",
        puts.len()
    );
    assert!(history
        .iter()
        .all(|op| !matches!(op.command, Command::Cas { .. })));
}

#[test]
fn dynamo_strict_n3_r2_w2_5_nodes_200_randomized_seeds() {
    let s = run_seeds::<Dynamo>("dynamo-strict", 0..200, randomized_5, strict());
    eprintln!("dynamo-strict: {s:?}");
    // Fresh reads are promised, so a stale one would have failed its seed.
    assert_eq!(s.stale_reads, 0, "{s:?}");
    assert!(
        s.crashes > 100 && s.link_faults > 100 && s.ops > 20_000 && s.reads_judged > 5_000,
        "{s:?}"
    );
    assert_eq!(s.elections, 0);
}

#[test]
fn dynamo_strict_3_nodes_randomized_seeds() {
    // N equals the cluster size: every node owns every key.
    let s = run_seeds::<Dynamo>(
        "dynamo-strict-3",
        1_000..1_060,
        |seed| SimConfig::randomized(seed, 3),
        strict(),
    );
    eprintln!("dynamo-strict-3: {s:?}");
    assert_eq!(s.stale_reads, 0, "{s:?}");
}

#[test]
fn dynamo_sloppy_quorum_keeps_every_acknowledged_put_after_hand_off() {
    // Durability here means: once the cluster healed and every hint was
    // handed off, an owner holds every acknowledged put (the run waits for
    // the hand-off within the liveness bound). Stale reads are allowed.
    let s = run_seeds::<Dynamo>("dynamo-sloppy", 2_000..2_100, randomized_5, sloppy());
    eprintln!("dynamo-sloppy: {s:?}");
    assert!(
        s.crashes > 50 && s.link_faults > 50 && s.ops > 10_000,
        "{s:?}"
    );
}

#[test]
fn sloppy_quorum_runs_do_hand_hints_off() {
    // The sloppy suite is only meaningful if stand-ins do take puts: find
    // hints held during the fault phase; the rest of the run (which waits
    // for their hand-off) must still pass every check.
    let mut with_hints = 0;
    for seed in 2_000..2_010 {
        let cfg = randomized_5(seed);
        let heal = cfg.fault_phase;
        let mut sim = Simulation::<Dynamo>::new(cfg, sloppy());
        let mut most = 0;
        let mut t = protocols::Time::ZERO;
        while t < protocols::Time::ZERO.plus(heal) {
            t = t.plus(std::time::Duration::from_millis(50));
            sim.run_until(t);
            let hints: usize = (0..5)
                .filter_map(|n| sim.core(n))
                .map(Dynamo::pending_hints)
                .sum();
            most = most.max(hints);
        }
        if most > 0 {
            with_hints += 1;
        }
        let report = sim.run();
        assert!(report.passed(), "{report}");
    }
    assert!(with_hints >= 5, "hints seen on {with_hints} of 10 seeds");
}

#[test]
fn dynamo_r1_w1_stale_reads_are_counted_not_failed() {
    let s = run_seeds::<Dynamo>("dynamo-r1-w1", 3_000..3_100, randomized_5, one_one());
    eprintln!("dynamo-r1-w1: {s:?}");
    // The detector works: R + W <= N does read stale under faults.
    assert!(s.stale_reads > 0, "{s:?}");
    assert!(s.reads_judged > 2_000, "{s:?}");
}

/// Runs the broken `config` on `seeds`: the seeds where a violation
/// `wanted` says yes to was found, every kind of violation seen (the text
/// before the first colon of its message), and totals.
fn caught(
    seeds: Range<u64>,
    make: impl Fn(u64) -> SimConfig,
    config: &DynamoConfig,
    wanted: impl Fn(&Violation) -> bool,
) -> (Vec<u64>, Vec<String>, SuiteSummary) {
    let mut caught = Vec::new();
    let mut kinds = Vec::new();
    let mut summary = SuiteSummary::default();
    for seed in seeds {
        let report = Simulation::<Dynamo>::new(make(seed), config.clone()).run();
        summary.seeds += 1;
        summary.stale_reads += report.stats.stale_reads;
        if report.violations.iter().any(&wanted) {
            caught.push(seed);
        }
        for v in &report.violations {
            let kind = format!("{v}").split(':').next().unwrap_or("").to_string();
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    (caught, kinds, summary)
}

#[test]
fn reading_one_reply_short_of_r_is_caught() {
    // N = 3, W = 2, gets answered after one reply: a get can miss both
    // replicas of an acknowledged put. The configuration still promises
    // fresh reads (R + W > N on paper), so the stale-read check must fail
    // it; nothing else is broken, so nothing else may complain.
    let broken = DynamoConfig {
        unsafe_read_one_short: true,
        ..strict()
    };
    let stale = |v: &Violation| matches!(v, Violation::StaleRead { .. });
    let (caught, kinds, s) = caught(0..40, randomized_5, &broken, stale);
    eprintln!(
        "read-one-short caught on {} of {} seeds ({caught:?}); {} stale reads; violations: {kinds:?}",
        caught.len(),
        s.seeds,
        s.stale_reads
    );
    assert!(
        caught.len() >= 10,
        "the broken store was caught on {} of 40 seeds",
        caught.len()
    );
    assert_eq!(kinds, vec!["stale read".to_string()]);
}

#[test]
fn acknowledging_one_store_short_of_w_is_caught() {
    // N = 3, W = 2, puts acknowledged after one durable store: when the
    // other stores are lost (drops, crashes, partitions) only one owner
    // holds an acknowledged put, fewer than the W promised. Read repair
    // and later puts that supersede it heal most such puts before the end
    // of the run, so the broken store runs without read repair on a lossy
    // network with many keys (many last puts).
    let broken = DynamoConfig {
        unsafe_ack_one_short: true,
        read_repair: false,
        ..strict()
    };
    let lossy = |seed| {
        let mut c = randomized_5(seed);
        c.network.loss = 0.2;
        c.keys = 20;
        c
    };
    let lost = |v: &Violation| matches!(v, Violation::OwnerDurability { .. });
    let (caught, kinds, s) = caught(0..40, lossy, &broken, lost);
    eprintln!(
        "ack-one-short caught on {} of {} seeds ({caught:?}); {} stale reads; violations: {kinds:?}",
        caught.len(),
        s.seeds,
        s.stale_reads
    );
    assert!(
        caught.len() >= 10,
        "the broken store was caught on {} of 40 seeds",
        caught.len()
    );
    // The same network and configuration do not fault the correct store.
    let correct = DynamoConfig {
        read_repair: false,
        ..strict()
    };
    let s = run_seeds::<Dynamo>("dynamo-lossy-no-repair", 0..40, lossy, correct);
    eprintln!("dynamo-lossy-no-repair: {s:?}");
}
