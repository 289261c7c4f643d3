//! `backproof adapter`: the reference client's adapter.

/// the reference client's adapter.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("`backproof adapter` is not built yet")
}
