//! `backproof serve`: the reference server.

/// the reference server.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("`backproof serve` is not built yet")
}
