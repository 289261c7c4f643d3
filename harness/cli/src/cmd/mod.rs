//! One module per subcommand. Each exposes its clap `Args`/`Command` and a `run` that
//! returns the process exit code (see `crate::exit`); an `Err` means exit 2.

pub mod adapter;
pub mod client;
pub mod client_store;
pub mod diff;
pub mod report;
pub mod run;
pub mod serve;
pub mod stack;
pub mod tune;
pub mod vectors;

/// Logs go to stderr (stdout belongs to reports and the adapter protocol); `RUST_LOG`
/// overrides `default_filter` (an `EnvFilter` directive such as `warn`). Colours only on a
/// terminal: redirected logs (files, journald, CI) stay plain text that grep can match.
pub fn init_tracing(default_filter: &str) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
