//! Nothing outlives a run (docs/STACK.md, "Nothing outlives a run"). A command that starts
//! a stack (`run`, demo `serve`, `stack up`) is run twice over: this process, the
//! *supervisor*, creates the run's folder and id, starts a watchdog, and runs the same
//! command line again as its child with `BACKPROOF_RUN_ID=<id>` and `TMPDIR=<folder>` in
//! the child's environment — so every server, adapter, `pg_ctl` and postmaster below it
//! inherits both. (Setting them in our own environment instead would need
//! `std::env::set_var`, which is unsafe in a multi-threaded program.)
//!
//! - The supervisor forwards SIGINT, SIGTERM and SIGHUP to the child, which tears down
//!   normally; when the child has exited, for whatever reason, it sweeps what is left and
//!   exits with the child's code (128 + signal when the child was killed).
//! - The watchdog, in a session of its own (a terminal's Ctrl-C and a CI runner's group
//!   kill do not reach it, and it ignores SIGINT, SIGTERM and SIGHUP), holds the read end
//!   of a pipe from the supervisor. The pipe closes when the supervisor exits, however it
//!   exits — SIGKILL included; the watchdog then sweeps and exits.

use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use backproof_stack::reaper::{self, RUN_ID_VAR, RunScope};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};

/// How long a sweep waits for the run's processes to go.
const SWEEP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the child may take to tear down after a forwarded signal before it is killed
/// (its leftovers are then swept).
const TEARDOWN_GRACE: Duration = Duration::from_secs(30);

/// `backproof watchdog` (hidden): started by the supervisor, never by hand.
#[derive(Debug, clap::Args)]
pub struct WatchdogArgs {
    /// The run id: processes whose environment has BACKPROOF_RUN_ID=<id> are the run's.
    #[arg(long)]
    run_id: String,
    /// The run's folder, removed last.
    #[arg(long)]
    dir: PathBuf,
}

/// Whether this process already runs inside a run (under a supervisor, or as a child of
/// one): then it neither supervises nor changes the marker, and the outer run's sweep
/// covers it.
pub fn inside_run() -> bool {
    std::env::var_os(RUN_ID_VAR).is_some()
}

/// Runs this process's own command line again as a supervised child; returns the exit
/// code to leave with.
pub fn supervise() -> anyhow::Result<u8> {
    let scope = RunScope::create().context("cannot create the run's temporary folder")?;
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let spawned = std::process::Command::new(&exe)
        .arg("watchdog")
        .args(["--run-id", &scope.id])
        .arg("--dir")
        .arg(&scope.dir)
        // Not the caller's directory: the watchdog must not keep a folder in use.
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn();
    let mut watchdog = match spawned {
        Ok(w) => w,
        Err(e) => {
            let _ = reaper::sweep(&scope, &[], SWEEP_TIMEOUT);
            anyhow::bail!("cannot start the run's watchdog: {e}");
        }
    };
    // Held until we exit: the kernel closes it then, whatever ends us, and the watchdog
    // takes that as its cue.
    let _pipe = watchdog.stdin.take();
    let watchdog_pid = watchdog.id() as i32;

    let code = run_child(&exe, &scope);
    let swept = reaper::sweep(&scope, &[watchdog_pid], SWEEP_TIMEOUT);
    match &swept {
        Ok(s) if s.found_processes() => eprintln!(
            "backproof: the run left processes behind; stopped {} PostgreSQL cluster(s), \
             killed {} process(es){} and removed {}",
            s.postmasters.len(),
            s.killed.len(),
            if s.survivors.is_empty() {
                String::new()
            } else {
                format!(", {} still alive: {:?}", s.survivors.len(), s.survivors)
            },
            scope.dir.display()
        ),
        Ok(_) => {}
        Err(e) => eprintln!("backproof: {e}"),
    }
    code
}

/// Starts the child and waits for it, forwarding interrupts; its exit code.
fn run_child(exe: &std::path::Path, scope: &RunScope) -> anyhow::Result<u8> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        // Listening before the child exists: an interrupt in between is forwarded too.
        let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
        let mut child = tokio::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(RUN_ID_VAR, &scope.id)
            .env("TMPDIR", &scope.dir)
            .spawn()
            .context("cannot start the run")?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok());
        let mut give_up: Option<tokio::time::Instant> = None;
        let status = loop {
            let forward = tokio::select! {
                status = child.wait() => break status.context("cannot wait for the run")?,
                _ = int.recv() => Signal::SIGINT,
                _ = term.recv() => Signal::SIGTERM,
                _ = hup.recv() => Signal::SIGHUP,
                () = sleep_until(give_up) => Signal::SIGKILL,
            };
            if let Some(pid) = pid {
                let _ = kill(Pid::from_raw(pid), forward);
            }
            give_up.get_or_insert_with(|| tokio::time::Instant::now() + TEARDOWN_GRACE);
        };
        Ok(match (status.code(), status.signal()) {
            (Some(code), _) => u8::try_from(code).unwrap_or(crate::exit::HARNESS),
            (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(crate::exit::HARNESS),
            (None, None) => crate::exit::HARNESS,
        })
    })
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The watchdog: waits for the supervisor's pipe to close, then sweeps.
pub fn watchdog(args: WatchdogArgs) -> anyhow::Result<u8> {
    // A session of our own, away from the terminal and the supervisor's process group.
    let _ = nix::unistd::setsid();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Listening replaces the default action (exit) for good: these signals are ignored.
    let _ignored = rt.block_on(async {
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        )
    });
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 64];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let scope = RunScope {
        id: args.run_id,
        dir: args.dir,
    };
    let swept = reaper::sweep(&scope, &[], SWEEP_TIMEOUT)
        .with_context(|| format!("cleaning up after run {}", scope.id))?;
    if swept.found_processes() {
        eprintln!(
            "backproof watchdog: run {} ended without tearing down; stopped {} PostgreSQL \
             cluster(s), killed {} process(es){}, removed {}",
            scope.id,
            swept.postmasters.len(),
            swept.killed.len(),
            if swept.survivors.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} still alive: {:?})",
                    swept.survivors.len(),
                    swept.survivors
                )
            },
            scope.dir.display()
        );
    }
    Ok(crate::exit::OK)
}
