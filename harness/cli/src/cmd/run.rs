//! `backproof run`: run the whole suite.

/// run the whole suite.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("`backproof run` is not built yet")
}
