//! `backproof stack`: the infrastructure (docs/STACK.md).

use std::io::Write;

use anyhow::Context;
use backproof_stack::{Stack, StackChoice};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Start PostgreSQL + S3, print the variables that reach them, keep them until Ctrl-C.
    ///
    /// stdout gets one `NAME=value` line per variable (shell-sourceable, comments start
    /// with `#`), ending with `# ready`; everything is torn down (cluster stopped, temporary
    /// directories removed) on Ctrl-C or SIGTERM. Example:
    ///
    ///   backproof stack up > stack.env &  …  set -a; . ./stack.env; set +a
    Up(UpArgs),
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Which providers: auto (env vars, then local binaries, then Docker, then embedded S3),
    /// local (throwaway initdb + minio on PATH or embedded S3), containers (Docker), env.
    #[arg(long, value_enum, default_value_t = StackChoice::Auto)]
    pub stack: StackChoice,

    /// Prefix each line with `export ` so `. ./file` exports the variables.
    #[arg(long)]
    pub export: bool,
}

pub fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Up(args) => up(args),
    }
}

fn up(args: UpArgs) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let stack = match Stack::start(args.stack).await {
            Ok(stack) => stack,
            Err(e) if e.is_missing_infrastructure() => {
                eprintln!("backproof: cannot start the {} stack: {e}", args.stack);
                return Ok(crate::exit::HARNESS);
            }
            Err(e) => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("cannot start the {} stack", args.stack));
            }
        };
        let prefix = if args.export { "export " } else { "" };
        let mut out = std::io::stdout().lock();
        writeln!(out, "# backproof stack: {}", stack.describe())?;
        for (name, value) in stack.env() {
            writeln!(out, "{prefix}{name}={}", shell_quote(&value))?;
        }
        writeln!(out, "# ready")?;
        out.flush()?;
        drop(out);
        eprintln!("backproof: stack is up; press Ctrl-C to tear it down");

        wait_for_shutdown().await?;
        eprintln!("backproof: tearing the stack down");
        drop(stack);
        Ok(crate::exit::OK)
    })
}

/// Ctrl-C (SIGINT) or SIGTERM: a parent test process stops us with the latter.
async fn wait_for_shutdown() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

/// Values are URLs and keys; quote only when a shell would otherwise split or expand them.
fn shell_quote(value: &str) -> String {
    let plain = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b));
    if plain && !value.is_empty() {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_quote_leaves_urls_alone_and_quotes_the_rest() {
        assert_eq!(
            shell_quote("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("x&y=1?z"), "'x&y=1?z'");
        assert_eq!(shell_quote(""), "''");
    }
}
