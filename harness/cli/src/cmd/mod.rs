//! One module per subcommand. Each exposes its clap `Args`/`Command` and a `run` that
//! returns the process exit code (see `crate::exit`); an `Err` means exit 2.

pub mod adapter;
pub mod client;
pub mod diff;
pub mod report;
pub mod run;
pub mod serve;
pub mod stack;
pub mod tune;
pub mod vectors;

/// Logs go to stderr (stdout belongs to reports and the adapter protocol); `RUST_LOG`
/// overrides the default `warn` level.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
