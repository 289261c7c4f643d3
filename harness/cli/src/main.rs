#![forbid(unsafe_code)]
//! `backproof`: the one binary. Each subcommand lives in `cmd/<name>.rs` and only parses
//! arguments and reports; the work is done by the library crates (see docs/ARCHITECTURE.md).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod guard;

/// Exit codes shared by every subcommand (README.md, "Exit codes").
pub mod exit {
    /// Every case passed, or matched the baseline.
    pub const OK: u8 = 0;
    /// A case failed or regressed.
    pub const FAILED: u8 = 1;
    /// The harness could not run: bad arguments or missing infrastructure.
    pub const HARNESS: u8 = 2;
}

/// Conformance suite for client-side-encrypted cloud backups.
///
/// Exit codes: 0 every case passed (or matched the baseline), 1 a case failed or
/// regressed, 2 the harness could not run (bad arguments, missing infrastructure).
#[derive(Debug, Parser)]
#[command(name = "backproof", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole suite (vectors + scenarios) against a server and a client.
    Run(cmd::run::Args),
    /// Generate or check the known-answer vectors.
    #[command(subcommand)]
    Vectors(cmd::vectors::Command),
    /// Run the reference server (or mint a token for it).
    Serve(cmd::serve::Args),
    /// Start the infrastructure (Postgres + S3) and print how to reach it.
    #[command(subcommand)]
    Stack(cmd::stack::Command),
    /// The reference client: backup, restore, rotate, recover, delete, against a backproof
    /// server (profile v1) or S3 (--profile byok-json-v1 or metamask-vault).
    #[command(subcommand)]
    Client(cmd::client::Command),
    /// Speak the JSON Lines adapter protocol on stdin/stdout (reference client).
    Adapter(cmd::adapter::Args),
    /// Find Argon2id parameters that take 500 ms – 1 s on this device.
    Tune(cmd::tune::Args),
    /// Render reports (Markdown, JUnit, HTML) from report JSON files.
    #[command(subcommand)]
    Report(cmd::report::Command),
    /// Compare two report JSON files: regressions, fixes, new and removed cases.
    Diff(cmd::diff::Args),
    /// Cleans up after a run that could not (started by the run itself; see
    /// docs/STACK.md, "Nothing outlives a run").
    #[command(hide = true)]
    Watchdog(guard::WatchdogArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands that start a stack run under a supervisor and a watchdog, so that nothing
    // they start outlives them, even when they are killed (guard.rs).
    let starts_stack = match &cli.command {
        Command::Run(args) => !args.list,
        Command::Serve(args) => args.starts_stack(),
        Command::Stack(_) => true,
        _ => false,
    };
    if starts_stack && !guard::inside_run() {
        return finish(guard::supervise());
    }
    // `serve` is a server: its one line per request (and the sweeper's) should show without
    // RUST_LOG. Other commands run servers in-process and would drown their output in them.
    // In a run the embedded S3 logs a 500 for every upload a case aborts on purpose (a
    // stalled body, a killed server) and an error for every presigned URL a case tampers
    // with or lets expire; the cases judge S3's answers themselves.
    cmd::init_tracing(match cli.command {
        Command::Serve(_) => "warn,backproof_server=info",
        Command::Run(_) => "warn,s3s::service=off,s3s::ops=off",
        _ => "warn",
    });
    let result = match cli.command {
        Command::Run(args) => cmd::run::run(args),
        Command::Vectors(c) => cmd::vectors::run(c),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Stack(c) => cmd::stack::run(c),
        Command::Client(c) => cmd::client::run(c),
        Command::Adapter(args) => cmd::adapter::run(args),
        Command::Tune(args) => cmd::tune::run(args),
        Command::Report(c) => cmd::report::run(c),
        Command::Diff(args) => cmd::diff::run(args),
        Command::Watchdog(args) => guard::watchdog(args),
    };
    finish(result)
}

fn finish(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("backproof: error: {err:#}");
            ExitCode::from(exit::HARNESS)
        }
    }
}
