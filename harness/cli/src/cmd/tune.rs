//! `backproof tune`: Argon2id tuning.

/// Argon2id tuning.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("`backproof tune` is not built yet")
}
