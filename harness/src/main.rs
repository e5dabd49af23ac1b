//! `qlab`: the one binary of quorumlab.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("qlab: no subcommands are built yet")
}
