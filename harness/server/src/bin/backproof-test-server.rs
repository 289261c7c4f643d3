#![forbid(unsafe_code)]
//! The reference server configured from the same flags and `BACKPROOF_*` variables as
//! `backproof serve` (docs/API.md, "Configuration"), without the throwaway stack. Crash tests
//! and the bench run it as a child process; people run `backproof serve`.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "backproof-test-server",
    about = "backproof reference server (for harnesses)"
)]
struct Cli {
    #[command(flatten)]
    server: backproof_server::ServerArgs,
}

#[tokio::main]
async fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Err(e) = backproof_server::serve(cli.server.into_config()).await {
        eprintln!("backproof-test-server: {e}");
        std::process::exit(2);
    }
}
