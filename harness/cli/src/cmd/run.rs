//! `backproof run`: the whole suite (scenarios; vectors when built in) against a server
//! and a client, with a progress bar, the report in all four formats, and the gate
//! (baseline, known deviations).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use backproof_report::{Deviation, Outcome, Report, Shard};
use backproof_stack::StackChoice;
use backproof_suite::profile::ProfileChoice;
use backproof_suite::run::{Event, RunOptions};
use backproof_suite::scenario::ServerTarget;

use crate::exit;

/// The renderings written next to the JSON report (fixed names, so CI jobs can find them).
const RENDERINGS: [&str; 3] = ["report.md", "junit.xml", "report.html"];

/// Run the whole suite against a server and a client.
///
/// By default both are the reference implementations: the server is started as a child
/// process (`backproof serve`) on a throwaway stack, the client is driven through
/// `backproof adapter`. Swap either for your own with `--server-cmd` / `--client-adapter`,
/// or point at a running server with `--server-url` and `--tokens`.
///
/// Writes the JSON report (--report) and, in the same directory, report.md, junit.xml and
/// report.html (what `backproof report md|junit|html` would render from it).
///
/// Exit codes: 0 every case passed (with --baseline: no regression against it), 1 a case
/// failed or errored (with --baseline: a case that passed there fails or errors now);
/// failures covered by --deviations never count; 2 the harness could not run (bad flags or
/// files, missing infrastructure).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Writes the JSON report (--report) and, in the same directory, report.md, junit.xml and report.html; prints their paths.\n\
Exit codes: 0 every case passed (with --baseline: no regression against it); 1 a case failed or errored (with --baseline: a case that passed there fails or errors now) — failures covered by --deviations never count; with --repeat N, 1 also when a case's outcome changed between repetitions, else the verdict of the last repetition; 2 the harness could not run (bad flags or files, missing infrastructure); 130/143 interrupted by SIGINT/SIGTERM, after tearing everything down.\n\
Cleanup: everything the run starts carries BACKPROOF_RUN_ID and keeps its temporary files in backproof-run-<id>/ ($BACKPROOF_SCRATCH_DIR, else $TMPDIR, else /dev/shm when it has 2 GiB free, else /tmp); a watchdog process stops and removes them when the run ends, even when it is killed (docs/STACK.md).\n\
Examples:\n  backproof run --filter 'protocol/*'\n  backproof run --server-url http://127.0.0.1:8080 --tokens tokens.toml --report out/report.json\n  backproof run --baseline ci/baseline.json --deviations ci/deviations.toml\n  backproof run --server-cmd ./my-server --token-cmd './my-server token {user}' --exclude 'vectors/*'\n  backproof run --filter 'conflict/*' --repeat 5"
)]
pub struct Args {
    /// Run only the cases whose id matches this glob, e.g. 'protocol/*' or '*crash*'.
    #[arg(long, value_name = "GLOB")]
    pub filter: Option<String>,
    /// Leave out the cases whose id matches this glob (repeatable): they are neither run
    /// nor reported. A server-only gate leaves out the client-only vectors with
    /// --exclude 'vectors/*'.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Run the selection N times, each time on a fresh stack, and list every case whose
    /// outcome changed between repetitions (also written to flakes.json next to the
    /// report). Exit 1 if any changed; otherwise the verdict of the last repetition, whose
    /// report is the one written.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
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
    #[arg(
        long,
        value_name = "CMD",
        requires = "token_cmd",
        conflicts_with = "server_url"
    )]
    pub server_cmd: Option<String>,
    /// With --server-cmd: prints a token for the user named `{user}` (also in
    /// BACKPROOF_USER; the server's BACKPROOF_AUTH_SECRET is in its environment).
    #[arg(long, value_name = "CMD")]
    pub token_cmd: Option<String>,
    /// A server already running at this http:// or https:// URL (needs --tokens); https
    /// trusts the system store or SSL_CERT_FILE. No process is
    /// started: restart, storage and failpoint cases are `unsupported`; cases run one at a
    /// time and each first deletes the backups of both accounts (DELETE /v1/backup).
    #[arg(long, value_name = "URL")]
    pub server_url: Option<String>,
    /// With --server-url: a TOML file with a `[users]` table of at least 2 entries
    /// (name = "bearer token"). The scenarios' users alice and bob take the entries of
    /// those names, else the first names in sorted order.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// A previous report (full, or `backproof report json --snapshot`): exit 1 only for
    /// regressions against it (pass or pass-acceptable there, fail or error now).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Known deviations, a TOML file of `[[deviation]]` entries (`case`, `reason`): copied
    /// into the report and shown in every format; a failing case they cover does not fail
    /// the run; entries naming no case or a passing one are reported as stale.
    #[arg(long, value_name = "FILE")]
    pub deviations: Option<PathBuf>,
    /// The scenarios folder (default: ./scenarios, else the one in the source tree).
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// The vectors folder, for the report's digest (default: ./vectors if present).
    #[arg(long, value_name = "DIR")]
    pub vectors: Option<PathBuf>,
    /// Where the JSON report goes; report.md, junit.xml and report.html are written in the
    /// same directory.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "reports/latest/report.json"
    )]
    pub report: PathBuf,
    /// Scenarios run at once (each has its own database, bucket and server). Default: twice
    /// the number of available cores (cases mostly wait). Always 1 with --server-url.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run only share K of N of the selected cases (scenarios and vectors, after --filter),
    /// e.g. on N CI runners at once; `backproof report merge` joins the N reports into the
    /// report of a whole run. The cases are sorted by id and dealt round-robin, so the
    /// split is the same on every machine.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Run the stress cases at their large sizes (e.g. 16 writers × 50 updates) instead
    /// of the small ones that prove the same properties in seconds; for nightly CI
    /// (docs/SCENARIOS.md, "The stress driver").
    #[arg(long)]
    pub thorough: bool,
    /// Extra flags for the reference server (debug switches that make it misbehave on
    /// purpose, to prove the suite can fail).
    #[arg(
        long = "server-arg",
        value_name = "FLAG",
        hide = true,
        allow_hyphen_values = true
    )]
    pub server_args: Vec<String>,
    /// Which backup design to check (docs/GATE.md "Profiles"): `v1` (blob v1 over API v1),
    /// `byok-json-v1` (docs/profiles/byok-json-v1.md), or `all`, which runs every profile
    /// side by side; a profile the client adapter's hello does not list is reported
    /// `unsupported`, case by case. Case ids of a profile other than v1 start with its name.
    #[arg(long, value_name = "NAME|all", default_value = "v1")]
    pub profile: ProfileChoice,
    /// Print only the failures, the summary, the files written and the gate's verdict (no
    /// progress bar, no `unsupported` lines).
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
        let vectors_dir = args.vectors.clone().or_else(|| {
            let d = default_dir("vectors");
            d.is_dir().then_some(d)
        });
        // The shard deals scenarios and vectors together, so its share of the scenarios
        // depends on the vectors too.
        let list = backproof_suite::run::select_cases(
            &scenarios_dir,
            vectors_dir.as_deref().filter(|_| args.shard.is_some()),
            args.filter.as_deref(),
            &args.exclude,
            args.shard,
            args.profile,
        )?
        .scenarios;
        for s in &list {
            println!("{}\t{}", s.id, s.title);
        }
        eprintln!("{} cases", list.len());
        return Ok(exit::OK);
    }
    // Everything given on the command line is checked before anything starts: a bad file
    // is exit 2 in a second, not after the suite ran.
    let baseline = match &args.baseline {
        Some(p) => Some(Report::load(p).with_context(|| {
            format!("--baseline {}: not a usable baseline report", p.display())
        })?),
        None => None,
    };
    let deviations: Vec<Deviation> = match &args.deviations {
        Some(p) => backproof_report::load_deviations(p)
            .with_context(|| format!("--deviations {}", p.display()))?,
        None => Vec::new(),
    };
    // Checked now, not after the suite ran.
    backproof_suite::run::exclude_matcher(&args.exclude)?;
    let outputs = output_paths(&args.report)?;
    let exe = std::env::current_exe()
        .context("cannot find this executable (for `serve` and `adapter`)")?;
    let server = match (
        &args.server_url,
        &args.tokens,
        &args.server_cmd,
        &args.token_cmd,
    ) {
        (Some(url), Some(tokens), _, _) => {
            let url = backproof_suite::tokens::parse_server_url(url).map_err(anyhow::Error::msg)?;
            let tokens = backproof_suite::tokens::load_tokens(tokens)?;
            let mapping: Vec<String> = tokens
                .mapping()
                .iter()
                .map(|(l, e)| format!("{l} → {e}"))
                .collect();
            eprintln!(
                "server given by URL: users {}; cases run one at a time and each starts by \
                 deleting both accounts' backups",
                mapping.join(", ")
            );
            ServerTarget::Url { url, tokens }
        }
        (Some(_), None, _, _) => bail!(
            "--server-url needs --tokens FILE: a TOML file with the bearer tokens of two users \
             ([users] alice = \"…\" bob = \"…\"; see docs/GATE.md A.2). To let backproof start \
             your server instead, use --server-cmd CMD --token-cmd CMD"
        ),
        (None, Some(_), _, _) => bail!(
            "--tokens is for a server given by --server-url URL; with --server-cmd, tokens come \
             from --token-cmd"
        ),
        (None, None, Some(cmd), Some(tok)) => ServerTarget::Command {
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
        exclude: args.exclude.clone(),
        scenarios_dir,
        vectors_dir,
        jobs: args.jobs.unwrap_or_else(backproof_suite::run::default_jobs),
        shard: args.shard,
        thorough: args.thorough,
        profiles: args.profile,
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
    // Failures are printed as they happen; on a terminal above the bar, else (CI logs, or
    // --quiet) as plain lines, which a hidden bar would swallow.
    let say = |line: String| {
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
    };
    let on_event = |e: Event| match e {
        Event::Started { total } => {
            bar.set_length(total as u64);
            bar.set_position(0);
        }
        Event::CaseStarted { id } | Event::Measuring(id) => bar.set_message(id),
        Event::Warning(line) => say(format!("warning: {line}")),
        Event::CaseDone { case, .. } => {
            bar.inc(1);
            if !case.outcome.is_passing() && case.outcome != Outcome::Unsupported {
                say(format!(
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
    // Listening from here on: an interrupt ends the current repetition, which tears its
    // servers and stack down as it is dropped, and then the run.
    let mut interrupt = rt.block_on(Interrupt::listen())?;
    let mut history: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    let mut last = None;
    for repetition in 1..=args.repeat {
        let result = rt.block_on(async {
            tokio::select! {
                report = backproof_suite::run::run(opts.clone(), &on_event) => Ok(report),
                signal = interrupt.recv() => Err(signal),
            }
        });
        let report = match result {
            Ok(report) => report?,
            Err(signal) => {
                bar.finish_and_clear();
                // Blocking tasks (adapter starts) may still hold processes: bounded wait.
                rt.shutdown_timeout(Duration::from_secs(10));
                eprintln!(
                    "backproof: interrupted by {}; servers, adapters and the stack are stopped",
                    signal.name
                );
                return Ok(signal.exit_code);
            }
        };
        if args.repeat > 1 {
            bar.suspend(|| {
                println!(
                    "repetition {repetition}/{}: {}",
                    args.repeat,
                    summary(&report)
                )
            });
            for c in &report.cases {
                history
                    .entry(c.id.clone())
                    .or_default()
                    .push(c.outcome.as_str());
            }
        }
        last = Some(report);
    }
    let Some(mut report) = last else {
        bail!("--repeat must be at least 1");
    };
    bar.finish_and_clear();
    // In the report before anything is written, so every format shows them.
    backproof_report::apply_deviations(&mut report, &deviations);
    write_all(&report, &outputs)?;

    if !args.quiet {
        for c in report
            .cases
            .iter()
            .filter(|c| c.outcome == Outcome::Unsupported)
        {
            eprintln!("unsupported {}: {}", c.id, c.reason);
        }
    }
    println!("{}", summary(&report));
    if let Some(k) = &report.kdf_speed {
        // The advisory's figures; the advisory itself is in every rendering.
        println!(
            "advisory {}/{}, measured on this machine: {}",
            k.profile,
            k.advisory,
            k.describe()
        );
    }
    for p in &outputs {
        println!("wrote {}", p.display());
    }
    // The report's own deviations are the ones applied above.
    let gate = backproof_report::gate(&report, baseline.as_ref(), &[]);
    if baseline.is_some() || !report.deviations.is_empty() {
        print!("{}", gate.render_text());
    }
    let flaky = flakes(&history, args.repeat);
    let flakes_path = outputs[0].with_file_name(FLAKES);
    if args.repeat > 1 {
        for (id, outcomes) in &flaky {
            println!("FLAKY {id}: {}", outcomes.join(", "));
        }
        println!(
            "{} case(s) changed outcome over {} repetitions",
            flaky.len(),
            args.repeat
        );
        let json = serde_json::json!({
            "repetitions": args.repeat,
            "flaky": flaky
                .iter()
                .map(|(id, outcomes)| serde_json::json!({"id": id, "outcomes": outcomes}))
                .collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&json).context("rendering flakes.json")? + "\n";
        std::fs::write(&flakes_path, text)
            .with_context(|| format!("cannot write {}", flakes_path.display()))?;
        println!("wrote {}", flakes_path.display());
    } else if flakes_path.exists() {
        // From an earlier --repeat run: it would describe a run that is not this one.
        std::fs::remove_file(&flakes_path)
            .with_context(|| format!("cannot remove the stale {}", flakes_path.display()))?;
    }
    Ok(if gate.passed() && flaky.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// Written next to the report by `--repeat N` (N ≥ 2).
const FLAKES: &str = "flakes.json";

/// The one-line summary: `N passed, M failed, K unsupported[, E errors] (T ms)`.
fn summary(report: &Report) -> String {
    let t = &report.totals;
    format!(
        "{} passed, {} failed, {} unsupported{} ({} ms{})",
        t.pass + t.pass_acceptable,
        t.fail,
        t.unsupported,
        if t.error > 0 {
            format!(", {} errors", t.error)
        } else {
            String::new()
        },
        report.timings.wall_ms,
        family_times(report),
    )
}

/// The cases whose outcome was not the same in every one of `repetitions` (a case missing
/// from a repetition counts as `absent` there), with their outcomes in order.
fn flakes(
    history: &BTreeMap<String, Vec<&'static str>>,
    repetitions: u32,
) -> Vec<(String, Vec<&'static str>)> {
    history
        .iter()
        .filter_map(|(id, seen)| {
            let mut outcomes = seen.clone();
            outcomes.resize(repetitions as usize, "absent");
            let changed = outcomes.iter().any(|o| *o != outcomes[0]);
            changed.then(|| (id.clone(), outcomes))
        })
        .collect()
}

/// SIGINT, SIGTERM or SIGHUP while the suite runs.
struct Interrupt {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

/// Which signal ended the run, and the exit code that says so (128 + its number).
struct Interrupted {
    name: &'static str,
    exit_code: u8,
}

impl Interrupt {
    async fn listen() -> anyhow::Result<Interrupt> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Interrupt {
            int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            hup: signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?,
        })
    }

    async fn recv(&mut self) -> Interrupted {
        let (name, exit_code) = tokio::select! {
            _ = self.int.recv() => ("SIGINT", 130),
            _ = self.term.recv() => ("SIGTERM", 143),
            _ = self.hup.recv() => ("SIGHUP", 129),
        };
        Interrupted { name, exit_code }
    }
}

/// `; conflict 40.1s · protocol 12.3s …`: time spent in each family's cases (summed, so with
/// --jobs > 1 the families add up to more than the wall time), or nothing for an empty run.
fn family_times(report: &Report) -> String {
    let parts: Vec<String> = report
        .family_millis()
        .into_iter()
        .map(|(family, ms)| format!("{family} {:.1}s", ms as f64 / 1000.0))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join(" · "))
    }
}

/// The JSON report's path and the renderings' paths next to it, in the order written.
pub(crate) fn output_paths(report: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = report.parent().unwrap_or(Path::new(""));
    let name = report.file_name().unwrap_or_default();
    if let Some(clash) = RENDERINGS.iter().find(|r| name == **r) {
        bail!(
            "--report {}: {clash} is the name of a rendering written next to the JSON report; \
             name the JSON report e.g. report.json",
            report.display()
        );
    }
    let mut out = vec![report.to_path_buf()];
    out.extend(RENDERINGS.iter().map(|r| dir.join(r)));
    Ok(out)
}

/// Writes report.json, report.md, junit.xml and report.html (paths from [`output_paths`]).
pub(crate) fn write_all(report: &Report, paths: &[PathBuf]) -> anyhow::Result<()> {
    if let Some(parent) = paths[0].parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let texts = [
        backproof_report::render_json(report),
        backproof_report::render_markdown(report),
        backproof_report::render_junit(report),
        backproof_report::render_html(std::slice::from_ref(report)),
    ];
    for (path, text) in paths.iter().zip(texts) {
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
