//! `qlab`: the one binary of quorumlab.
//!
//! Subcommands: `run` (experiments on a local cluster or an Ansible
//! testbed), `node` (one replica), `agent` (a testbed host's node manager),
//! `sim` (randomized simulator runs with safety and linearizability checks).
//! `drive` (a stand-alone driver), `plot` (figures), `report` (one HTML
//! page), `compare` (ratios between runs), `check` (linearizability of
//! recorded histories), `pbs` (staleness: PBS predictions and
//! measurements from recorded histories), `cap` (the CAP/PACELC table of a
//! partition run) and `conflicts` (contention, siblings and stale reads).

mod agent;
mod backend;
mod cmd_cap;
mod cmd_check;
mod cmd_compare;
mod cmd_conflicts;
mod cmd_drive;
mod cmd_pbs;
mod cmd_pbs_model;
mod cmd_plot;
mod cmd_report;
mod cmd_sim;
mod etcd;
mod experiment;
mod local;
mod node;
mod provenance;
mod results;
mod run;
mod target;
mod testbed;

use clap::{Parser, Subcommand};

/// quorumlab: a performance lab for distributed protocols.
#[derive(Parser, Debug)]
#[command(name = "qlab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a protocol in the deterministic simulator over many seeds, with
    /// randomized crashes, partitions, delays and drops, and check safety,
    /// durability, liveness and linearizability.
    Sim(cmd_sim::SimArgs),
    /// Run an experiment file: every sweep point on a local cluster (or,
    /// with --inventory, on a testbed deployed by Ansible), results to CSV;
    /// resumes where an interrupted run stopped.
    Run(run::RunArgs),
    /// Run one replica (started by `qlab run`'s cluster backends).
    Node(node::cli::NodeArgs),
    /// Run the agent of a testbed host: starts, signals and restarts that
    /// host's replicas for `qlab run --inventory` (started by Ansible).
    Agent(agent::server::AgentArgs),
    /// Drive a workload against running nodes and write its measurements.
    Drive(cmd_drive::DriveArgs),
    /// Compare two runs' summaries point by point (ratios B/A), or with
    /// `--by protocol` the points of one run that differ only in protocol.
    Compare(cmd_compare::CompareArgs),
    /// Check a run's recorded histories for linearizability and stale reads.
    Check(cmd_check::CheckArgs),
    /// Draw the figures of a results folder (SVG and PNG) into its plots/.
    Plot(cmd_plot::PlotArgs),
    /// Write one self-contained report.html for a results folder.
    Report(cmd_report::ReportArgs),
    /// Probabilistically Bounded Staleness: predict P(consistent read) t ms
    /// after a write with the PBS WARS model, or measure stale reads,
    /// k-staleness and t-visibility from a run's histories (--history).
    Pbs(cmd_pbs::PbsArgs),
    /// The CAP/PACELC table of a run with `client_partitions: true` and
    /// `history: true`: availability per side of the partition,
    /// linearizability, stale reads and latency outside it (cap.csv).
    Cap(cmd_cap::CapArgs),
    /// Contention and its consequences per point of a run with `history:
    /// true`: the measured write-conflict rate, the sibling rate and the
    /// stale-read rate (conflicts.csv).
    Conflicts(cmd_conflicts::ConflictsArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Sim(args) => cmd_sim::run(args),
        Command::Node(args) => node::cli::run(args),
        Command::Agent(args) => agent::server::run(args),
        Command::Run(args) => run::run(args),
        Command::Drive(args) => cmd_drive::run(args),
        Command::Compare(args) => cmd_compare::run(args),
        Command::Check(args) => cmd_check::run(args),
        Command::Plot(args) => cmd_plot::run(args),
        Command::Report(args) => cmd_report::run(args),
        Command::Pbs(args) => cmd_pbs::run(args),
        Command::Cap(args) => cmd_cap::run(args),
        Command::Conflicts(args) => cmd_conflicts::run(args),
    }
}
