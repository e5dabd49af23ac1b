//! `qlab run EXPERIMENT.yaml`: expand the sweep, run every point on the
//! local backend (or, with `--inventory`, on a testbed deployed by
//! Ansible), append results point by point, resume where a previous run
//! stopped.

pub mod inject;
pub mod point;
pub mod rows;
pub mod side_rows;
pub mod sim_trials;
pub mod trial_rows;
pub mod trials;

// File names of points follow the same rule as the figures' names.
use crate::backend::Backend;
use crate::experiment::load::{load_plan, Plan, Point};
use crate::provenance::{sha256_bytes, Provenance};
use crate::results::{PointKey, ResultsDir};
use crate::target::Target;
use crate::testbed::{Testbed, TestbedOptions};
use analysis::plot::figures::sanitize;
use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use net::{ClusterCa, PeerIdentity};
use point::{run_point, PointEnv, PointOutcome};
use protocols::registry::ProtocolVisitor;
use protocols::Protocol;
use std::path::{Path, PathBuf};
use std::time::Duration;
use trials::{run_trials, TrialsOutcome};

/// Arguments of `qlab run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The experiment file.
    pub experiment: PathBuf,
    /// Results folder (default: `results/<experiment name>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Start over: move existing results aside instead of resuming.
    #[arg(long)]
    pub fresh: bool,
    /// Validate the file and list the points, run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run on the hosts of this Ansible inventory (group `nodes`) instead
    /// of on this machine: deploy with ansible/deploy.yml, then drive each
    /// host's `qlab agent`.
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// The folder of the playbooks (with --inventory).
    #[arg(long, default_value = "ansible")]
    pub ansible_dir: PathBuf,
    /// With --inventory: do not run the deploy playbook, only check that
    /// every agent answers and runs this very binary.
    #[arg(long)]
    pub no_deploy: bool,
}

/// Most replicas a local cluster certificate set is issued for.
const MAX_LOCAL_NODES: u32 = 64;

/// Creates the cluster CA and every certificate a local run needs, once per
/// results folder.
fn ensure_credentials(dir: &Path) -> anyhow::Result<()> {
    if dir.join("ca.pem").exists() && dir.join("control.pem").exists() {
        return Ok(());
    }
    let ca = ClusterCa::generate("quorumlab-local").context("generating the cluster CA")?;
    ca.save(dir).context("saving the cluster CA")?;
    let mut ids: Vec<PeerIdentity> = (0..MAX_LOCAL_NODES).map(PeerIdentity::Node).collect();
    ids.push(PeerIdentity::Driver(0));
    ids.push(PeerIdentity::Control);
    for id in ids {
        ca.issue(id)
            .and_then(|i| i.save(dir))
            .with_context(|| format!("issuing the certificate of {id}"))?;
    }
    Ok(())
}

struct RunOne<'a> {
    point: &'a Point,
    env: PointEnv<'a>,
}

/// What a point produced: a load run or a series of trials.
enum Outcome {
    Load(Box<PointOutcome>),
    Trials(TrialsOutcome),
}

impl ProtocolVisitor for RunOne<'_> {
    type Output = anyhow::Result<Outcome>;
    fn visit<P: Protocol>(self) -> anyhow::Result<Outcome> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        runtime.block_on(async {
            let work = async {
                match &self.point.experiment.trials {
                    Some(t) if t.simulate => {
                        sim_trials::run_sim_trials::<P>(self.point, t, self.env.repetition)
                            .map(Outcome::Trials)
                    }
                    Some(t) => run_trials::<P>(self.point, t, &self.env)
                        .await
                        .map(Outcome::Trials),
                    None => run_point::<P>(self.point, &self.env)
                        .await
                        .map(|o| Outcome::Load(Box::new(o))),
                }
            };
            tokio::select! {
                r = work => r,
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!(Interrupted)),
            }
        })
    }
}

/// Runs an etcd point (see [`crate::etcd`]) on its own runtime, like
/// [`RunOne`] does for quorumlab protocols.
fn run_etcd(point: &Point, env: &PointEnv<'_>) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        tokio::select! {
            r = crate::etcd::point::run_etcd_point(point, env) => r.map(|o| Outcome::Load(Box::new(o))),
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!(Interrupted)),
        }
    })
}

/// Marker error for Ctrl-C.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
struct Interrupted;

fn record_trials(
    results: &mut ResultsDir,
    plan: &Plan,
    point: &Point,
    rep: u32,
    out: &TrialsOutcome,
) -> anyhow::Result<()> {
    results.append(
        &trial_rows::trials_table(),
        &trial_rows::trial_rows(point, rep, out),
    )?;
    results.append(
        &trial_rows::cdf_table(),
        &trial_rows::cdf_rows(point, rep, out),
    )?;
    let events = rows::event_rows_of(point, rep, &out.events);
    results.append(&rows::events_table(), &events)?;
    results.finish_point(
        PointKey {
            point: point.label.clone(),
            repetition: rep,
        },
        &trial_rows::trials_summary_table(&plan.swept),
        &[trial_rows::trials_summary_row(point, rep, out)],
    )
}

/// One line for the terminal about a finished trial point.
fn trials_line(point: &Point, rep: u32, out: &TrialsOutcome) -> String {
    let times = trial_rows::sorted_times(out);
    let show = |v: Option<f64>| match v {
        Some(x) if x.is_finite() => format!("{x:.0} ms"),
        Some(_) => "no leader".into(),
        None => "-".into(),
    };
    let short = if (times.len() as u32) < out.requested {
        format!(" (of {} requested)", out.requested)
    } else {
        String::new()
    };
    format!(
        "{} r{rep}: {} trials{short}, time without leader p50 {}, p99 {}, max {}",
        point.label,
        times.len(),
        show(trial_rows::nearest_rank(&times, 0.5)),
        show(trial_rows::nearest_rank(&times, 0.99)),
        show(times.last().copied()),
    )
}

fn record(
    results: &mut ResultsDir,
    plan: &Plan,
    point: &Point,
    rep: u32,
    out: &PointOutcome,
) -> anyhow::Result<()> {
    results.append(
        &rows::timeseries_table(),
        &rows::timeseries_rows(point, rep, out),
    )?;
    results.append(&rows::events_table(), &rows::event_rows(point, rep, out))?;
    if !point.experiment.faults.is_empty() {
        results.append(
            &rows::recovery_table(),
            &rows::recovery_rows(point, rep, out),
        )?;
    }
    if point.experiment.history {
        results.append(&rows::history_table(), &rows::history_rows(point, rep, out))?;
    }
    if point.experiment.client_partitions {
        results.append(
            &side_rows::availability_table(),
            &side_rows::availability_rows(point, rep, out),
        )?;
    }
    let name = format!("{}-r{rep}.hgrm", sanitize(&point.label));
    results.write_latency(&name, &out.driver.recorder.hgrm())?;
    let key = PointKey {
        point: point.label.clone(),
        repetition: rep,
    };
    results.finish_point(
        key,
        &rows::summary_table(&plan.swept),
        &[rows::summary_row(point, rep, out)],
    )
}

/// Prints a line above the progress bar, or plainly when there is no
/// terminal to draw the bar on (CI, logs).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// Writes `published.csv`: the experiment's published numbers, for the
/// report to set beside ours.
fn write_published(
    out: &Path,
    published: &[crate::experiment::schema::Published],
) -> anyhow::Result<()> {
    let path = out.join("published.csv");
    if published.is_empty() {
        return Ok(());
    }
    let mut w =
        csv::Writer::from_path(&path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record(["source", "where", "metric", "value", "note"])?;
    for p in published {
        let at: Vec<String> =
            p.at.iter()
                .map(|(k, v)| format!("{k}={}", crate::experiment::sweep::value_label(v)))
                .collect();
        w.write_record([
            p.source.as_str(),
            at.join(";").as_str(),
            p.metric.as_str(),
            p.value.to_string().as_str(),
            p.note.as_str(),
        ])?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Runs `qlab run`.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut plan = load_plan(&args.experiment)?;
    if args.inventory.is_none() && args.no_deploy {
        bail!("--no-deploy needs --inventory");
    }
    let first = &plan.points[0].experiment;
    let reps = first.repetitions;
    let total = plan.points.len() * reps as usize;
    if args.dry_run {
        println!(
            "{}: {} point(s) x {} repetition(s)",
            args.experiment.display(),
            plan.points.len(),
            reps
        );
        for p in &plan.points {
            println!("  {}", p.label);
        }
        return Ok(());
    }
    let mut external = Vec::new();
    if plan
        .points
        .iter()
        .any(|p| p.experiment.protocol == Target::Etcd)
    {
        if args.inventory.is_some() {
            bail!(
                "protocol etcd: the ansible testbed backend cannot run etcd yet; run etcd experiments without --inventory"
            );
        }
        external.push(crate::provenance::ExternalBinary::describe(
            "etcd",
            &crate::etcd::cluster::find_etcd()?,
        ));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&first.name));
    let mut results = ResultsDir::open(&out, args.fresh)?;
    let digest = sha256_bytes(plan.text.as_bytes());
    let backend = match &args.inventory {
        None => Backend::Local,
        Some(inventory) => Backend::Testbed(Box::new(Testbed::prepare(&TestbedOptions {
            inventory,
            ansible_dir: &args.ansible_dir,
            deploy: !args.no_deploy,
            out: &out,
        })?)),
    };
    match Provenance::read(&out)? {
        Some(p) if p.experiment_sha256 != digest && results.done_count() > 0 => bail!(
            "{} holds results of a different version of {}; rerun with --fresh (old results are moved aside, not deleted) or --out",
            out.display(),
            args.experiment.display()
        ),
        Some(_) => {}
        None => {
            let mut p = Provenance::collect(plan.document.clone(), digest);
            p.sweep = plan.sweep.clone();
            p.external = external;
            if let Backend::Testbed(tb) = &backend {
                for h in &mut p.hosts {
                    h.role = "controller,driver".into();
                }
                p.hosts.extend(tb.host_facts());
            }
            p.write(&out)?
        }
    }
    write_published(&out, &first.published)?;
    let cluster_dir = match &backend {
        Backend::Local => {
            let dir = out.join("cluster");
            ensure_credentials(&dir)?;
            dir
        }
        Backend::Testbed(tb) => tb.credentials.controller.clone(),
    };
    for p in &mut plan.points {
        p.backend = backend.name();
    }
    let exe = std::env::current_exe().context("locating the qlab binary")?;
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} points, eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let resumed = results.done_count();
    if resumed > 0 {
        say(
            &bar,
            format!("resuming: {resumed} point(s) already in {}", out.display()),
        );
    }
    let mut failures = Vec::new();
    for point in &plan.points {
        for rep in 0..reps {
            let key = PointKey {
                point: point.label.clone(),
                repetition: rep,
            };
            if results.is_done(&key) {
                bar.inc(1);
                continue;
            }
            bar.set_message(format!("{} r{rep}", point.label));
            let work_dir = out
                .join("work")
                .join(format!("{}-r{rep}", sanitize(&point.label)));
            let _ = std::fs::remove_dir_all(&work_dir);
            let env = PointEnv {
                exe: &exe,
                cluster_dir: &cluster_dir,
                work_dir: &work_dir,
                repetition: rep,
                backend: &backend,
            };
            let outcome = match point.experiment.protocol {
                Target::Native(kind) => kind.visit(RunOne { point, env }),
                Target::Etcd => run_etcd(point, &env),
            };
            match outcome {
                Ok(Outcome::Trials(o)) => {
                    record_trials(&mut results, &plan, point, rep, &o)?;
                    say(&bar, trials_line(point, rep, &o));
                }
                Ok(Outcome::Load(o)) => {
                    record(&mut results, &plan, point, rep, &o)?;
                    let s = o.driver.recorder.summary();
                    say(
                        &bar,
                        format!(
                            "{} r{rep}: {:.0} ops/s, p50 {} us, p99 {} us, {} errors, {} timeouts",
                            point.label,
                            s.achieved_ops_per_s,
                            s.p50_us,
                            s.p99_us,
                            s.errors,
                            s.timeouts
                        ),
                    );
                    if o.driver.cpu_utilisation > 0.9 {
                        say(
                            &bar,
                            format!(
                            "warning: the driver used {:.0}% of a core: it may be the bottleneck",
                            o.driver.cpu_utilisation * 100.0
                        ),
                        );
                    }
                }
                Err(e) if e.downcast_ref::<Interrupted>().is_some() => {
                    bar.abandon_with_message("interrupted");
                    if let Backend::Testbed(tb) = &backend {
                        tb.stop_replicas();
                    }
                    eprintln!(
                        "interrupted: every node was stopped; {} finished point(s) are kept in {}; rerun the same command to resume",
                        results.done_count(),
                        out.display()
                    );
                    std::process::exit(130);
                }
                Err(e) => {
                    say(&bar, format!("{} r{rep}: FAILED: {e:#}", point.label));
                    failures.push(format!("{} r{rep}: {e:#}", point.label));
                }
            }
            bar.inc(1);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    bar.finish_with_message("done");
    if let Backend::Testbed(tb) = &backend {
        if let Err(e) = tb.collect() {
            eprintln!("warning: collecting the hosts' logs failed: {e:#}");
        }
    }
    println!("results in {}", out.display());
    if !failures.is_empty() {
        bail!(
            "{} point(s) failed (finished points are kept; rerun to retry the failed ones):\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(())
}
