//! A whole run: start the stack, ask the target what it can do, run every selected
//! scenario, and produce the report (BRIEF §9).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use backproof_client::adapter::AdapterProcess;
use backproof_report::{CaseResult, Report, SuiteInfo, TargetInfo, Timings};
use backproof_stack::{Stack, StackChoice};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::scenario::{self, Infra, Scenario, ServerTarget, Target};

/// Why a run could not start (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Scenarios(String),
    #[error("cannot start the stack: {0}")]
    Stack(String),
    #[error("the client adapter {cmd:?} does not work: {detail}")]
    Adapter { cmd: String, detail: String },
}

/// What to run against what.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub server: ServerTarget,
    pub client_adapter: String,
    /// Capabilities beyond the ones derived here (e.g. `failpoints` for a server built
    /// with them).
    pub extra_capabilities: Vec<String>,
    pub stack: StackChoice,
    pub filter: Option<String>,
    pub scenarios_dir: PathBuf,
    pub vectors_dir: Option<PathBuf>,
    /// Scenarios run at the same time (each has its own database, bucket and server).
    pub jobs: usize,
}

/// Progress events for a caller's progress bar.
#[derive(Debug, Clone)]
pub enum Event {
    Started { total: usize },
    CaseStarted { id: String },
    CaseDone { case: CaseResult, millis: u64 },
}

/// Loads and filters the scenarios (for `--list` as much as for a run).
pub fn select(dir: &Path, filter: Option<&str>) -> Result<Vec<Scenario>, RunError> {
    let all = scenario::load_all(dir).map_err(RunError::Scenarios)?;
    scenario::filter(all, filter).map_err(RunError::Scenarios)
}

/// SHA-256 over the files under `dir` with extension `ext`, by relative path, in order.
pub fn digest_dir(dir: &Path, ext: &str) -> String {
    fn walk(d: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, ext, out);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, ext, &mut files);
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        let rel = f
            .strip_prefix(dir)
            .unwrap_or(&f)
            .to_string_lossy()
            .to_string();
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(std::fs::read(&f).unwrap_or_default());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// Asks the client adapter `hello` and derives the target's capabilities.
pub fn capabilities(opts: &RunOptions) -> Result<(Vec<String>, String), RunError> {
    let mut caps = vec!["client-adapter".to_string()];
    let mut a =
        AdapterProcess::spawn(&opts.client_adapter, None).map_err(|e| RunError::Adapter {
            cmd: opts.client_adapter.clone(),
            detail: e.to_string(),
        })?;
    let hello = a.hello().map_err(|e| RunError::Adapter {
        cmd: opts.client_adapter.clone(),
        detail: e.to_string(),
    })?;
    a.shutdown(std::time::Duration::from_secs(2));
    caps.extend(hello.ops.iter().map(|o| format!("op:{o}")));
    // A server the harness starts itself can be killed, restarted and its storage reached.
    caps.push("server-restart".into());
    caps.push("storage-access".into());
    caps.extend(opts.extra_capabilities.iter().cloned());
    caps.sort();
    caps.dedup();
    Ok((caps, hello.implementation))
}

/// Runs the suite. `on_event` sees progress.
pub async fn run(opts: RunOptions, on_event: &(dyn Fn(Event) + Sync)) -> Result<Report, RunError> {
    let started_at = chrono_now();
    let wall = Instant::now();
    let scenarios = select(&opts.scenarios_dir, opts.filter.as_deref())?;
    let (capabilities, client_impl) = {
        let o = opts.clone();
        tokio::task::spawn_blocking(move || capabilities(&o))
            .await
            .map_err(|e| RunError::Adapter {
                cmd: opts.client_adapter.clone(),
                detail: e.to_string(),
            })??
    };
    let stack = Stack::start(opts.stack)
        .await
        .map_err(|e| RunError::Stack(e.to_string()))?;
    let stack_desc = stack.describe();
    let infra = Infra {
        stack,
        target: Target {
            server: opts.server.clone(),
            client_adapter: opts.client_adapter.clone(),
            capabilities: capabilities.clone(),
        },
    };
    on_event(Event::Started {
        total: scenarios.len(),
    });
    let infra_ref = &infra;
    let mut cases = Vec::new();
    let mut times = BTreeMap::new();
    let mut stream = futures::stream::iter(scenarios.iter().map(|s| async move {
        on_event(Event::CaseStarted { id: s.id.clone() });
        let t = Instant::now();
        let case = scenario::run_scenario(infra_ref, s).await;
        (case, t.elapsed().as_millis() as u64)
    }))
    .buffer_unordered(opts.jobs.max(1));
    while let Some((case, millis)) = stream.next().await {
        on_event(Event::CaseDone {
            case: case.clone(),
            millis,
        });
        times.insert(case.id.clone(), millis);
        cases.push(case);
    }
    drop(stream);
    // A filter naming another family (`protocol/*`) selects no vector: don't start them.
    let wants_vectors = opts
        .filter
        .as_deref()
        .is_none_or(|g| g.starts_with("vectors") || g.starts_with(['*', '?', '[', '{']));
    if let Some(dir) = opts.vectors_dir.as_ref().filter(|_| wants_vectors) {
        cases.extend(run_vectors(dir, &opts).await?);
    }
    let server_desc = match &opts.server {
        ServerTarget::Reference { extra_args, .. } if extra_args.is_empty() => {
            format!("backproof-server {} (reference)", env!("CARGO_PKG_VERSION"))
        }
        ServerTarget::Reference { extra_args, .. } => format!(
            "backproof-server {} (reference, {})",
            env!("CARGO_PKG_VERSION"),
            extra_args.join(" ")
        ),
        ServerTarget::Command { cmd, .. } => format!("command: {cmd}"),
    };
    let suite = SuiteInfo {
        name: "backproof".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        vectors_digest: opts
            .vectors_dir
            .as_deref()
            .map(|d| digest_dir(d, "json"))
            .unwrap_or_default(),
        scenarios_digest: digest_dir(&opts.scenarios_dir, "toml"),
    };
    let target = TargetInfo {
        server: server_desc,
        client: client_impl,
        capabilities,
    };
    let timings = Timings {
        started_at,
        wall_ms: wall.elapsed().as_millis() as u64,
        cases: times,
    };
    Ok(Report::from_cases(
        suite,
        target,
        stack_desc,
        cases,
        vec![],
        timings,
    ))
}

/// The known-answer vectors through the client adapter, as report cases of family
/// `vectors` (ids `vectors/<file>/<tcId>`, selected by the run's `--filter` like scenarios).
async fn run_vectors(dir: &Path, opts: &RunOptions) -> Result<Vec<CaseResult>, RunError> {
    use crate::vectors::{self, CaseOutcome};
    use backproof_report::Outcome;

    let matcher = match opts.filter.as_deref() {
        Some(g) => Some(
            globset::Glob::new(g)
                .map_err(|e| RunError::Scenarios(format!("bad --filter {g:?}: {e}")))?
                .compile_matcher(),
        ),
        None => None,
    };
    let dir = dir.to_path_buf();
    let cmd = opts.client_adapter.clone();
    let results = tokio::task::spawn_blocking(move || {
        let mut imp = vectors::AdapterImplementation::start(&cmd).map_err(|e| e.to_string())?;
        vectors::check(&dir, &mut imp, None).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| RunError::Scenarios(format!("the vectors check stopped: {e}")))?
    .map_err(|detail| RunError::Adapter {
        cmd: opts.client_adapter.clone(),
        detail: format!("while checking the vectors: {detail}"),
    })?;
    Ok(results
        .into_iter()
        .map(|r| {
            let id = format!("vectors/{}", r.id);
            let (outcome, expected, observed, reason) = match r.outcome {
                CaseOutcome::Pass => (
                    Outcome::Pass,
                    "the vector's result".to_string(),
                    "as expected".to_string(),
                    String::new(),
                ),
                CaseOutcome::Fail { expected, observed } => {
                    (Outcome::Fail, expected, observed, String::new())
                }
                CaseOutcome::Unsupported { op } => (
                    Outcome::Unsupported,
                    String::new(),
                    String::new(),
                    format!("the client adapter does not offer `{op}`"),
                ),
                CaseOutcome::Error { message } => (
                    Outcome::Error,
                    String::new(),
                    "the harness could not run this case".to_string(),
                    message,
                ),
            };
            CaseResult {
                id,
                family: "vectors".into(),
                title: r.comment,
                outcome,
                expected,
                observed,
                reason,
            }
        })
        .filter(|c| matcher.as_ref().is_none_or(|m| m.is_match(&c.id)))
        .collect())
}

fn chrono_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("unix:{secs}")
}
