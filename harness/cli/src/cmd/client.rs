//! `backproof client`: the reference client.

#[derive(Debug, clap::Subcommand)]
pub enum Command {}

pub fn run(command: Command) -> anyhow::Result<u8> {
    match command {}
}
