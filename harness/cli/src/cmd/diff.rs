//! `backproof diff`: compare two reports.

/// compare two reports.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("`backproof diff` is not built yet")
}
