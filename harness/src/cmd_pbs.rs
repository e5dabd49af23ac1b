//! `qlab pbs`: Probabilistically Bounded Staleness. Predicts, with the PBS
//! WARS Monte Carlo model, the probability of a consistent read t ms after
//! a write's commit for N, R, W and latency distributions; or, with
//! `--history`, measures the same (plus stale-read rate, k-staleness and
//! t-visibility) from the histories a run recorded, with the model's
//! prediction beside it for Dynamo points with a `link_latency`.

use crate::cmd_pbs_model::{point_models, PointModel};
use analysis::history::read_history;
use analysis::pbs::{is_strict, parse_ms, Latency, PbsModel, Simulation, Visibility, Wars};
use analysis::staleness::{observe, summarize, StalenessSummary};
use anyhow::{bail, Context};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

const LATENCY_HELP: &str = "\
Latency distributions (times in ms unless a unit ns/us/ms/s is given):
  2ms | const:2ms                   constant
  exp:0.5ms | exp:rate=2            exponential by mean, or by rate per ms
  pareto:xm=0.235ms,alpha=10        Pareto with scale xm and shape alpha
  samples:1.2,3.4,...               drawn uniformly from measured samples
  file:PATH                         the same, samples read from a file
  mix:0.9*pareto:xm=1,alpha=3+0.1*exp:rate=0.2    a weighted mixture

Predict:  qlab pbs --n 3 --r 1 --w 1 --latency exp:0.5ms --t 0,1,5,10,50
          (CSV columns n,r,w,t_ms,p_consistent,expected_k_staleness)
Measure:  qlab pbs --history RESULTS --t 0,1,5,10,50
          (writes RESULTS/staleness.csv: one row per point, repetition and
          t bin [t_ms, t_hi_ms) of time since the last acknowledged write;
          for Dynamo points run with a link_latency, the model's prediction
          beside each bin: model_p_consistent at the bin's reads' times)";

/// Arguments of `qlab pbs`.
#[derive(Args, Debug)]
#[command(after_help = LATENCY_HELP)]
pub struct PbsArgs {
    /// Measure staleness from RESULTS/history.csv (a run with `history:
    /// true`) instead of predicting it.
    #[arg(
        long,
        value_name = "RESULTS",
        conflicts_with_all = ["n", "r", "w", "latency", "lat_w", "lat_a", "lat_r", "lat_s",
                              "write_interval", "max_versions", "local_replica"]
    )]
    history: Option<PathBuf>,
    /// With --history: only this point (its label, as in summary.csv).
    #[arg(long, requires = "history")]
    point: Option<String>,
    /// Replicas (N).
    #[arg(long, required_unless_present = "history")]
    n: Option<usize>,
    /// Read quorum (R): responses a read waits for.
    #[arg(long, required_unless_present = "history")]
    r: Option<usize>,
    /// Write quorum (W): acknowledgements a write waits for.
    #[arg(long, required_unless_present = "history")]
    w: Option<usize>,
    /// Latency of all four WARS legs (write, ack, read, response), e.g.
    /// `exp:0.5ms`; the --lat-* flags override single legs.
    #[arg(long, value_parser = parse_latency)]
    latency: Option<Latency>,
    /// W: write request, coordinator to replica.
    #[arg(long, value_parser = parse_latency)]
    lat_w: Option<Latency>,
    /// A: write acknowledgement, replica to coordinator.
    #[arg(long, value_parser = parse_latency)]
    lat_a: Option<Latency>,
    /// R: read request, coordinator to replica.
    #[arg(long, value_parser = parse_latency)]
    lat_r: Option<Latency>,
    /// S: read response, replica to coordinator.
    #[arg(long, value_parser = parse_latency)]
    lat_s: Option<Latency>,
    /// Times after the write's commit (predict), or lower edges of the bins
    /// of time since the last acknowledged write (measure), comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_time,
          allow_negative_numbers = true, default_value = "0,1,2,5,10,20,50,100")]
    t: Vec<f64>,
    /// Commits of successive writes this far apart (e.g. 5ms), for the
    /// expected k-staleness of a write stream; default: an isolated write
    /// (a read is then at most one version behind).
    #[arg(long, value_parser = parse_time)]
    write_interval: Option<f64>,
    /// Coordinators are replicas: each operation's coordinator is, with
    /// this probability (1 if no value is given), one of the N replicas,
    /// whose legs to itself take no time (any node coordinates, e.g. the
    /// Dynamo store on N nodes); write and read coordinators independently.
    #[arg(long, num_args = 0..=1, default_missing_value = "1", default_value_t = 0.0)]
    local_replica: f64,
    /// With --write-interval: versions simulated (the cap on k).
    #[arg(long, default_value_t = 32)]
    max_versions: usize,
    /// Monte Carlo trials (each evaluates every t).
    #[arg(long, default_value_t = 100_000)]
    trials: u64,
    /// Seed of the Monte Carlo generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the CSV here (predict: default standard output; measure:
    /// default RESULTS/staleness.csv).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_latency(s: &str) -> Result<Latency, String> {
    Latency::parse(s).map_err(|e| e.to_string())
}

fn parse_time(s: &str) -> Result<f64, String> {
    parse_ms(s)
}

/// `qlab pbs --history RESULTS` with every other option at its default
/// (what `qlab report` runs when `staleness.csv` is missing).
pub fn measure_defaults(results: &std::path::Path) -> anyhow::Result<()> {
    #[derive(clap::Parser)]
    struct Defaults {
        #[command(flatten)]
        args: PbsArgs,
    }
    let history = results.as_os_str();
    let parsed = <Defaults as clap::Parser>::try_parse_from([
        std::ffi::OsStr::new("pbs"),
        std::ffi::OsStr::new("--history"),
        history,
    ])
    .context("building the default `qlab pbs --history` arguments")?;
    run(parsed.args)
}

/// Runs `qlab pbs`.
pub fn run(args: PbsArgs) -> anyhow::Result<()> {
    match args.history.clone() {
        Some(results) => measure(&args, results),
        None => predict(&args),
    }
}

fn leg(specific: &Option<Latency>, all: &Option<Latency>, name: &str) -> anyhow::Result<Latency> {
    match specific.as_ref().or(all.as_ref()) {
        Some(l) => Ok(l.clone()),
        None => bail!("no latency for {name}: give --latency (all legs) or --lat-{name}"),
    }
}

fn predict(args: &PbsArgs) -> anyhow::Result<()> {
    let (Some(n), Some(r), Some(w)) = (args.n, args.r, args.w) else {
        bail!("give --n, --r and --w (or --history RESULTS to measure)");
    };
    let all = &args.latency;
    let model = PbsModel {
        n,
        r,
        w,
        latencies: Wars {
            write: leg(&args.lat_w, all, "w")?,
            ack: leg(&args.lat_a, all, "a")?,
            read: leg(&args.lat_r, all, "r")?,
            response: leg(&args.lat_s, all, "s")?,
        },
        write_interval_ms: args.write_interval,
        max_versions: args.max_versions,
        local_replica: args.local_replica,
    };
    let sim = Simulation {
        trials: args.trials,
        seed: args.seed,
    };
    let predictions = model.predict(&args.t, sim)?;
    let mut csv = String::from("n,r,w,t_ms,p_consistent,expected_k_staleness\n");
    for p in &predictions {
        csv.push_str(&format!(
            "{n},{r},{w},{},{:.6},{:.6}\n",
            p.t_ms, p.p_consistent, p.expected_k
        ));
    }
    if let Some(p) = predictions.iter().find(|p| p.capped > 0.0) {
        eprintln!(
            "note: at t = {} ms, {:.2}% of reads saw none of the {} simulated versions \
             (expected k is a lower bound; raise --max-versions)",
            p.t_ms,
            100.0 * p.capped,
            args.max_versions
        );
    }
    let Some(out) = &args.out else {
        print!("{csv}");
        return Ok(());
    };
    std::fs::write(out, &csv).with_context(|| format!("writing {}", out.display()))?;
    let kind = if is_strict(n, r, w) {
        "strict quorums (R + W > N): always consistent"
    } else {
        "partial quorums (R + W <= N)"
    };
    println!(
        "N={n} R={r} W={w}, {kind}; {} trials, seed {}",
        args.trials, args.seed
    );
    println!("{:>10} {:>13} {:>11}", "t_ms", "p_consistent", "expected_k");
    for p in &predictions {
        println!(
            "{:>10} {:>13.4} {:>11.4}",
            p.t_ms, p.p_consistent, p.expected_k
        );
    }
    println!("wrote {}", out.display());
    Ok(())
}

const STALENESS_HEADER: [&str; 23] = [
    "point",
    "repetition",
    "reads",
    "judged_reads",
    "unmatched_reads",
    "unknown_write_reads",
    "stale_reads",
    "stale_read_rate",
    "frac_k0",
    "frac_k1",
    "frac_k2",
    "frac_k3plus",
    "mean_k",
    "max_k",
    "t_visibility_p50_ms",
    "t_visibility_p99_ms",
    "t_visibility_max_ms",
    "t_ms",
    "t_hi_ms",
    "bin_reads",
    "p_consistent",
    "model_p_consistent",
    "model_p_at_t_ms",
];

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map(|x| format!("{x:.digits$}")).unwrap_or_default()
}

/// The rows of one history's summary: one per t bin, with the model's
/// P(consistent) averaged over the bin's reads and at its lower edge.
fn rows(
    point: &str,
    repetition: u32,
    s: &StalenessSummary,
    model: Option<&Visibility>,
) -> Vec<Vec<String>> {
    let head = vec![
        point.to_string(),
        repetition.to_string(),
        s.reads.to_string(),
        s.judged.to_string(),
        s.unmatched.to_string(),
        s.unknown_write_reads.to_string(),
        s.stale.to_string(),
        format!("{:.6}", s.stale_rate()),
        format!("{:.6}", s.k_fraction(0)),
        format!("{:.6}", s.k_fraction(1)),
        format!("{:.6}", s.k_fraction(2)),
        format!("{:.6}", s.k_fraction_at_least(3)),
        format!("{:.6}", s.mean_k()),
        s.max_k().to_string(),
        opt(s.t_visibility_quantile_ms(0.5), 3),
        opt(s.t_visibility_quantile_ms(0.99), 3),
        opt(s.t_visibility_quantile_ms(1.0), 3),
    ];
    s.bins
        .iter()
        .map(|b| {
            let mut row = head.clone();
            row.push(b.t_ms.to_string());
            row.push(b.t_hi_ms.map(|t| t.to_string()).unwrap_or_default());
            row.push(b.reads.to_string());
            row.push(opt(b.p_consistent(), 6));
            row.push(opt(model.and_then(|m| m.mean_p_consistent(&b.times_ms)), 6));
            row.push(opt(model.map(|m| m.p_consistent(b.t_ms)), 6));
            row
        })
        .collect()
}

fn measure(args: &PbsArgs, results: PathBuf) -> anyhow::Result<()> {
    if args.t.is_empty() || args.t.windows(2).any(|p| p[0] >= p[1]) {
        bail!("--t must list increasing bin edges (e.g. 0,1,2,5,10)");
    }
    let path = results.join("history.csv");
    if !path.exists() {
        bail!(
            "{} has no history.csv: run the experiment with `history: true`",
            results.display()
        );
    }
    let histories = read_history(&path).with_context(|| format!("reading {}", path.display()))?;
    let selected: Vec<_> = histories
        .iter()
        .filter(|((p, _), _)| args.point.as_ref().is_none_or(|want| want == p))
        .collect();
    if selected.is_empty() {
        match &args.point {
            Some(p) => bail!("{}: no history for point {p:?}", path.display()),
            None => bail!("{}: no operations recorded", path.display()),
        }
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| results.join("staleness.csv"));
    let mut w =
        csv::Writer::from_path(&out).with_context(|| format!("creating {}", out.display()))?;
    w.write_record(STALENESS_HEADER)?;
    let curves = model_curves(args, &results)?;
    let mut stdout = std::io::stdout().lock();
    for ((point, repetition), ops) in selected {
        let s = summarize(&observe(ops), &args.t);
        let model = curves.get(point);
        for row in rows(point, *repetition, &s, model.map(|(_, v)| v)) {
            w.write_record(&row)?;
        }
        if let Some((m, v)) = model {
            let predicted: Vec<String> = s
                .bins
                .iter()
                .map(|b| format!("{}:{}", b.t_ms, opt(v.mean_p_consistent(&b.times_ms), 3)))
                .collect();
            writeln!(
                stdout,
                "{point} model N={} R={} W={}, {} on every leg, coordinator a replica \
                 with probability {:.2}: {}",
                m.model.n,
                m.model.r,
                m.model.w,
                m.latency,
                m.model.local_replica,
                predicted.join(" ")
            )?;
        }
        let curve: Vec<String> = s
            .bins
            .iter()
            .map(|b| format!("{}:{}", b.t_ms, opt(b.p_consistent(), 3)))
            .collect();
        writeln!(
            stdout,
            "{point} rep {repetition}: {} reads, {} stale ({:.3}%), mean k {:.4}, max k {}, \
             P(consistent) by ms since ack {}",
            s.judged,
            s.stale,
            100.0 * s.stale_rate(),
            s.mean_k(),
            s.max_k(),
            curve.join(" ")
        )?;
    }
    w.flush()
        .with_context(|| format!("writing {}", out.display()))?;
    writeln!(stdout, "wrote {}", out.display())?;
    Ok(())
}

/// The model curve of every point that has one (see `cmd_pbs_model`); a
/// run whose settings cannot be rebuilt gets none, with a note.
fn model_curves(
    args: &PbsArgs,
    results: &std::path::Path,
) -> anyhow::Result<std::collections::BTreeMap<String, (PointModel, Visibility)>> {
    let models = match point_models(results) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("note: no predictions: the run's settings cannot be rebuilt ({e:#})");
            return Ok(Default::default());
        }
    };
    let sim = Simulation {
        trials: args.trials,
        seed: args.seed,
    };
    let mut out = std::collections::BTreeMap::new();
    for (label, m) in models {
        let curve = m.model.visibility(sim)?;
        out.insert(label, (m, curve));
    }
    Ok(out)
}
