//! `backproof run`: the whole suite (scenarios; vectors when built in) against a server
//! and a client, with a progress bar and a report.

use std::path::PathBuf;

use anyhow::{Context, bail};
use backproof_report::Outcome;
use backproof_stack::StackChoice;
use backproof_suite::run::{Event, RunOptions};
use backproof_suite::scenario::ServerTarget;

use crate::exit;

/// Run the whole suite against a server and a client.
///
/// By default both are the reference implementations: the server is started as a child
/// process (`backproof serve`) on a throwaway stack, the client is driven through
/// `backproof adapter`. Swap either for your own with `--server-cmd` / `--client-adapter`.
/// Exit codes: 0 every case passed, 1 a case failed, 2 the harness could not run.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run only the cases whose id matches this glob, e.g. 'protocol/*' or '*crash*'.
    #[arg(long, value_name = "GLOB")]
    pub filter: Option<String>,
    /// List the selected cases (id, title) and exit.
    #[arg(long)]
    pub list: bool,
    /// Where Postgres and S3 come from.
    #[arg(long, value_enum, default_value_t = StackChoice::Auto)]
    pub stack: StackChoice,
    /// The client under test: a command speaking the JSON Lines adapter protocol
    /// (docs/ADAPTER.md). Default: this binary's `adapter` at the policy-floor KDF.
    #[arg(long, value_name = "CMD")]
    pub client_adapter: Option<String>,
    /// The server under test: a command started with the stack in its environment
    /// (BACKPROOF_DATABASE_URL, BACKPROOF_S3_*, PORT). Needs --token-cmd.
    #[arg(long, value_name = "CMD", requires = "token_cmd")]
    pub server_cmd: Option<String>,
    /// With --server-cmd: prints a token for the user named `{user}` (also in
    /// BACKPROOF_USER; the server's BACKPROOF_AUTH_SECRET is in its environment).
    #[arg(long, value_name = "CMD")]
    pub token_cmd: Option<String>,
    /// A server already running at this URL (with --tokens). Not available in this
    /// version: use --server-cmd.
    #[arg(long, value_name = "URL")]
    pub server_url: Option<String>,
    /// With --server-url: a TOML file of user tokens.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// The scenarios folder (default: ./scenarios, else the one in the source tree).
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// The vectors folder, for the report's digest (default: ./vectors if present).
    #[arg(long, value_name = "DIR")]
    pub vectors: Option<PathBuf>,
    /// Where the JSON report goes.
    #[arg(long, value_name = "FILE", default_value = "reports/latest.json")]
    pub report: PathBuf,
    /// Scenarios run at once (each has its own database, bucket and server).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Extra flags for the reference server (debug switches that make it misbehave on
    /// purpose, to prove the suite can fail).
    #[arg(
        long = "server-arg",
        value_name = "FLAG",
        hide = true,
        allow_hyphen_values = true
    )]
    pub server_args: Vec<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn default_dir(name: &str) -> PathBuf {
    let here = PathBuf::from(name);
    if here.is_dir() {
        return here;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(name)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let scenarios_dir = args
        .scenarios
        .clone()
        .unwrap_or_else(|| default_dir("scenarios"));
    if args.list {
        let list = backproof_suite::run::select(&scenarios_dir, args.filter.as_deref())?;
        for s in &list {
            println!("{}\t{}", s.id, s.title);
        }
        eprintln!("{} cases", list.len());
        return Ok(exit::OK);
    }
    if args.server_url.is_some() || args.tokens.is_some() {
        bail!(
            "--server-url/--tokens are not available in this version; start your server with \
             --server-cmd CMD --token-cmd CMD instead"
        );
    }
    let exe = std::env::current_exe()
        .context("cannot find this executable (for `serve` and `adapter`)")?;
    let server = match (&args.server_cmd, &args.token_cmd) {
        (Some(cmd), Some(tok)) => ServerTarget::Command {
            cmd: cmd.clone(),
            token_cmd: tok.clone(),
        },
        _ => ServerTarget::Reference {
            exe: exe.clone(),
            extra_args: args.server_args.clone(),
        },
    };
    let client_adapter = args.client_adapter.clone().unwrap_or_else(|| {
        format!(
            "{} adapter --kdf m=7168,t=5,p=1",
            quote(&exe.to_string_lossy())
        )
    });
    let mut extra = Vec::new();
    if cfg!(feature = "failpoints") && matches!(server, ServerTarget::Reference { .. }) {
        extra.push("failpoints".to_string());
    }
    let vectors_dir = args.vectors.clone().or_else(|| {
        let d = default_dir("vectors");
        d.is_dir().then_some(d)
    });
    let opts = RunOptions {
        server,
        client_adapter,
        extra_capabilities: extra,
        stack: args.stack,
        filter: args.filter.clone(),
        scenarios_dir,
        vectors_dir,
        jobs: args.jobs,
    };

    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let b =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    };
    let on_event = |e: Event| match e {
        Event::Started { total } => bar.set_length(total as u64),
        Event::CaseStarted { id } => bar.set_message(id),
        Event::CaseDone { case, .. } => {
            bar.inc(1);
            if !case.outcome.is_passing() && case.outcome != Outcome::Unsupported {
                bar.println(format!(
                    "{} {}: expected {}; observed {}; {}",
                    case.outcome.as_str().to_uppercase(),
                    case.id,
                    case.expected,
                    case.observed,
                    case.reason
                ));
            }
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = rt.block_on(backproof_suite::run::run(opts, &on_event))?;
    bar.finish_and_clear();

    if let Some(parent) = args.report.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&args.report, report.to_json())
        .with_context(|| format!("cannot write the report to {}", args.report.display()))?;

    let t = &report.totals;
    for c in report
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::Unsupported)
    {
        eprintln!("unsupported {}: {}", c.id, c.reason);
    }
    println!(
        "{} passed, {} failed, {} unsupported{} ({} ms; report: {})",
        t.pass + t.pass_acceptable,
        t.fail,
        t.unsupported,
        if t.error > 0 {
            format!(", {} errors", t.error)
        } else {
            String::new()
        },
        report.timings.wall_ms,
        args.report.display()
    );
    Ok(if t.fail > 0 || t.error > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}
