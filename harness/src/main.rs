//! `qlab`: the one binary of quorumlab.
//!
//! Subcommands built so far: `sim` (randomized simulator runs with safety and
//! linearizability checks). `node`, `drive`, `run`, `plot`, `report` and
//! `check` arrive with the runtime and analysis work.

mod cmd_sim;
mod experiment;
mod local;
mod node;
mod provenance;
mod results;

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
    /// Run one replica (started by `qlab run`'s cluster backends).
    Node(node::cli::NodeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Sim(args) => cmd_sim::run(args),
        Command::Node(args) => node::cli::run(args),
    }
}
