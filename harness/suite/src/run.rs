//! A whole run: start the stack, ask the target what it can do, run every selected
//! scenario, and produce the report (reports/README.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use backproof_client::adapter::AdapterProcess;
use backproof_report::{CaseResult, Report, Shard, SuiteInfo, TargetInfo, Timings};
use backproof_stack::{Stack, StackChoice};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::profile::{Profile, ProfileChoice};
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
    #[error("cannot list the vectors in {}: {detail}", dir.display())]
    Vectors { dir: PathBuf, detail: String },
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
    /// Globs of case ids left out of the run and the report (`--exclude`).
    pub exclude: Vec<String>,
    pub scenarios_dir: PathBuf,
    pub vectors_dir: Option<PathBuf>,
    /// Scenarios run at the same time (each has its own database, bucket and server).
    /// Always 1 for a server given by URL: every case uses the same two accounts. The CLI
    /// defaults it to [`default_jobs`].
    pub jobs: usize,
    /// Run only this share of the selected cases ([`Shard`] says how they are dealt).
    pub shard: Option<Shard>,
    /// Run the stress cases at their large (`thorough_*`) sizes (`--thorough`).
    pub thorough: bool,
    /// Which profiles' cases run (`--profile`, default `v1`).
    pub profiles: ProfileChoice,
}

/// The default for [`RunOptions::jobs`]: two scenarios per available core. A scenario
/// spends most of its time waiting (a server starting, a restart after a kill, a paced
/// upload, its adapter's Argon2id in another process), so one per core left the cores
/// half idle: on 2 cores the release suite took 54.8 s at `--jobs 2` and 41.9 s at
/// `--jobs 4` (docs/PERFORMANCE.md).
pub fn default_jobs() -> usize {
    2 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What one run (or one shard of it) runs.
#[derive(Debug, Clone)]
pub struct Selection {
    pub scenarios: Vec<Scenario>,
    /// Per profile, vector ids as the checker names them (`blob-v1/12`,
    /// `byok-json-v1/7`); the case id is [`vector_case_id`] of one.
    pub vectors: BTreeMap<Profile, BTreeSet<String>>,
}

/// The report's case id of a vector: `vectors/blob-v1/12` for v1, as always;
/// `byok-json-v1/vectors/byok-json-v1/7` for another profile.
pub fn vector_case_id(profile: Profile, checker_id: &str) -> String {
    profile.case_id(&format!("vectors/{checker_id}"))
}

impl Selection {
    pub fn len(&self) -> usize {
        self.scenarios.len() + self.vectors.values().map(BTreeSet::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Progress events for a caller's progress bar.
#[derive(Debug, Clone)]
pub enum Event {
    Started {
        total: usize,
    },
    CaseStarted {
        id: String,
    },
    CaseDone {
        case: CaseResult,
        millis: u64,
    },
    /// After the cases: measuring what the report shows beside an advisory (a second or two).
    Measuring(String),
    /// Something the user should know that is no case's outcome.
    Warning(String),
}

/// Loads the scenarios, one instance per selected profile each applies to, and filters
/// them by case id (for `--list` as much as for a run).
pub fn select(
    dir: &Path,
    filter: Option<&str>,
    profiles: ProfileChoice,
) -> Result<Vec<Scenario>, RunError> {
    let all = scenario::load_all(dir).map_err(|e| RunError::Scenarios(e.to_string()))?;
    let all = scenario::expand(all, &profiles.profiles())
        .map_err(|e| RunError::Scenarios(e.to_string()))?;
    scenario::filter(all, filter).map_err(|e| RunError::Scenarios(e.to_string()))
}

/// The scenarios and vectors `--filter` selects and no `--exclude` glob matches, cut to
/// `shard`'s share: the shard deals the whole selection (scenario and vector ids together)
/// round-robin in id order.
pub fn select_cases(
    scenarios_dir: &Path,
    vectors_dir: Option<&Path>,
    filter: Option<&str>,
    exclude: &[String],
    shard: Option<Shard>,
    profiles: ProfileChoice,
) -> Result<Selection, RunError> {
    let excluded = exclude_matcher(exclude)?;
    let mut scenarios = select(scenarios_dir, filter, profiles)?;
    scenarios.retain(|s| !excluded.is_match(&s.id));
    let matcher = match filter {
        Some(g) => Some(
            globset::Glob::new(g)
                .map_err(|e| RunError::Scenarios(format!("bad --filter {g:?}: {e}")))?
                .compile_matcher(),
        ),
        None => None,
    };
    let mut vectors = BTreeMap::new();
    for profile in profiles.profiles() {
        let family = profile.case_id("vectors/");
        // A filter naming another family (`protocol/*`), or an exclusion of every vector,
        // selects no vector: don't read them.
        let wants = filter.is_none_or(|g| may_match_vectors(g, &family))
            && !exclude.iter().any(|g| excludes_every_vector(g, &family));
        let Some(dir) = vectors_dir.filter(|_| wants) else {
            continue;
        };
        let ids: BTreeSet<String> = vector_ids(dir, profile)?
            .into_iter()
            .filter(|id| {
                let case_id = vector_case_id(profile, id);
                matcher.as_ref().is_none_or(|m| m.is_match(&case_id))
                    && !excluded.is_match(&case_id)
            })
            .collect();
        if !ids.is_empty() {
            vectors.insert(profile, ids);
        }
    }
    let Some(shard) = shard else {
        return Ok(Selection { scenarios, vectors });
    };
    let vector_case_ids: Vec<String> = vectors
        .iter()
        .flat_map(|(p, ids)| ids.iter().map(|v| vector_case_id(*p, v)))
        .collect();
    let mine: BTreeSet<String> = shard
        .select(
            scenarios
                .iter()
                .map(|s| s.id.as_str())
                .chain(vector_case_ids.iter().map(String::as_str)),
        )
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok(Selection {
        scenarios: scenarios
            .into_iter()
            .filter(|s| mine.contains(s.id.as_str()))
            .collect(),
        vectors: vectors
            .into_iter()
            .map(|(p, ids)| {
                let ids = ids
                    .into_iter()
                    .filter(|v| mine.contains(&vector_case_id(p, v)))
                    .collect::<BTreeSet<_>>();
                (p, ids)
            })
            .filter(|(_, ids)| !ids.is_empty())
            .collect(),
    })
}

/// The vector files of a profile, relative to the vectors folder.
pub fn vector_files(profile: Profile) -> Vec<&'static str> {
    match profile {
        Profile::V1 => crate::vectors::FILES.to_vec(),
        Profile::ByokJsonV1 => vec![crate::vectors::byok_json_v1::FILE],
        Profile::MetamaskVault => vec![crate::vectors::metamask_vault::FILE],
        Profile::DbmStreamV1 => vec![crate::vectors::dbm_stream_v1::FILE],
        Profile::NoahV0 => vec![crate::vectors::noah_v0::FILE],
    }
}

/// Every vector id (`<file stem>/<tcId>`) of a profile in `dir`, as the checker names them,
/// without running anything. Reads only the ids (blob-v1.json is several MB).
fn vector_ids(dir: &Path, profile: Profile) -> Result<Vec<String>, RunError> {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(rename = "testGroups")]
        test_groups: Vec<Group>,
    }
    #[derive(serde::Deserialize)]
    struct Group {
        #[serde(default)]
        tests: Vec<Test>,
    }
    #[derive(serde::Deserialize)]
    struct Test {
        #[serde(rename = "tcId", default)]
        tc_id: u64,
    }
    let mut ids = Vec::new();
    for name in vector_files(profile) {
        let path = dir.join(name);
        let err = |detail: String| RunError::Vectors {
            dir: dir.to_path_buf(),
            detail: format!("{name}: {detail}"),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
        let file: File = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        let stem = Path::new(name)
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        ids.extend(
            file.test_groups
                .iter()
                .flat_map(|g| &g.tests)
                .map(|t| format!("{stem}/{}", t.tc_id)),
        );
    }
    Ok(ids)
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

/// What the client adapter's `hello` says about the target.
#[derive(Debug, Clone)]
pub struct TargetHello {
    /// Capabilities derived from it and from the server target.
    pub capabilities: Vec<String>,
    /// The implementation's "name version".
    pub implementation: String,
    /// The profiles it offers.
    pub profiles: Vec<String>,
}

/// Asks the client adapter `hello` and derives the target's capabilities.
pub fn capabilities(opts: &RunOptions) -> Result<TargetHello, RunError> {
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
    // A server the harness starts itself can be killed, restarted and its storage reached;
    // one given by URL cannot.
    if opts.server.is_owned() {
        caps.push("server-restart".into());
        caps.push("storage-access".into());
    }
    caps.extend(opts.extra_capabilities.iter().cloned());
    caps.sort();
    caps.dedup();
    Ok(TargetHello {
        capabilities: caps,
        implementation: hello.implementation,
        profiles: hello.profiles,
    })
}

/// Runs the suite. `on_event` sees progress.
pub async fn run(opts: RunOptions, on_event: &(dyn Fn(Event) + Sync)) -> Result<Report, RunError> {
    let started_at = chrono_now();
    let wall = Instant::now();
    let Selection { scenarios, vectors } = select_cases(
        &opts.scenarios_dir,
        opts.vectors_dir.as_deref(),
        opts.filter.as_deref(),
        &opts.exclude,
        opts.shard,
        opts.profiles,
    )?;
    let TargetHello {
        capabilities,
        implementation: client_impl,
        profiles: offered,
    } = {
        let o = opts.clone();
        tokio::task::spawn_blocking(move || capabilities(&o))
            .await
            .map_err(|e| RunError::Adapter {
                cmd: opts.client_adapter.clone(),
                detail: e.to_string(),
            })??
    };
    // A server given by URL has storage of its own: no stack (and no initdb) needed.
    let (stack, stack_desc) = if opts.server.is_owned() {
        let stack = Stack::start(opts.stack)
            .await
            .map_err(|e| RunError::Stack(e.to_string()))?;
        let desc = stack.describe();
        (Some(stack), desc)
    } else {
        (None, "the server's own (given by URL)".to_string())
    };
    // The cases share the URL server's two accounts, so they cannot overlap.
    let jobs = if opts.server.is_owned() {
        opts.jobs.max(1)
    } else {
        1
    };
    let infra = Infra {
        stack,
        target: Target {
            server: opts.server.clone(),
            client_adapter: opts.client_adapter.clone(),
            capabilities: capabilities.clone(),
            profiles: offered.clone(),
        },
        thorough: opts.thorough,
    };
    on_event(Event::Started {
        total: scenarios.len(),
    });
    let infra_ref = &infra;
    // Longest first: a crash enumeration started last would run alone on an otherwise idle
    // machine at the end of the run. The report is sorted by id, so only the progress
    // output sees this order.
    let mut scenarios = scenarios;
    scenarios.sort_by_key(|s| std::cmp::Reverse(expected_weight(s)));
    let scenarios_done = async {
        let mut cases = Vec::new();
        let mut times = BTreeMap::new();
        let mut stream = futures::stream::iter(scenarios.iter().map(|s| async move {
            on_event(Event::CaseStarted { id: s.id.clone() });
            let t = Instant::now();
            let case = scenario::run_scenario(infra_ref, s).await;
            (case, t.elapsed().as_millis() as u64)
        }))
        .buffer_unordered(jobs);
        while let Some((case, millis)) = stream.next().await {
            on_event(Event::CaseDone {
                case: case.clone(),
                millis,
            });
            times.insert(case.id.clone(), millis);
            cases.push(case);
        }
        (cases, times)
    };
    // The vectors go through one adapter process of their own, beside the scenarios: the
    // scenarios mostly wait on processes and sockets, the vectors on Argon2, so running
    // them one after the other left a core idle for the whole vectors check.
    let vectors_done = async {
        let mut out = Vec::new();
        if let Some(dir) = opts.vectors_dir.as_ref() {
            for (profile, selected) in vectors {
                if offered.iter().any(|p| p == profile.as_str()) {
                    out.extend(run_vectors(dir, &opts, profile, selected).await?);
                } else {
                    out.extend(
                        selected
                            .iter()
                            .map(|id| (not_offered_vector(profile, id, &offered), 0)),
                    );
                }
            }
        }
        Ok::<_, RunError>(out)
    };
    let ((mut cases, mut times), vector_results) = tokio::join!(scenarios_done, vectors_done);
    for (case, millis) in vector_results? {
        times.insert(case.id.clone(), millis);
        cases.push(case);
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
        ServerTarget::Url { url, .. } => format!("url: {url}"),
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
    let mut report = Report::from_cases(suite, target, stack_desc, cases, vec![], timings);
    report.shard = opts.shard;
    let shows: BTreeMap<String, Vec<String>> = scenarios
        .iter()
        .map(|s| (s.id.clone(), s.shows.clone()))
        .collect();
    report.advisories = advisories(&report.cases, &shows);
    report.kdf_speed = measure_kdf_speed(&report, on_event).await;
    report.timings.wall_ms = wall.elapsed().as_millis() as u64;
    Ok(report)
}

/// The guess rates of noah-v0's `kdf-weak` advisory, measured once, after the cases (so no
/// case competes for the cores), when the report has that advisory; `None` otherwise, or
/// with a warning when the measurement fails (it decides no outcome).
async fn measure_kdf_speed(
    report: &Report,
    on_event: &(dyn Fn(Event) + Sync),
) -> Option<backproof_report::KdfSpeed> {
    let noah = Profile::NoahV0.as_str();
    if !report
        .advisories
        .iter()
        .any(|a| a.profile == noah && a.id == crate::kdf_speed::ADVISORY)
    {
        return None;
    }
    on_event(Event::Measuring(format!(
        "{noah} {}: guesses per second",
        crate::kdf_speed::ADVISORY
    )));
    let mut budget = backproof_tune::guesses::GuessBudget::RUN;
    // As `backproof tune` does: never more than half of the machine's memory.
    if let Some(total) = backproof_tune::physical_memory_kib() {
        let half = u32::try_from(total / 2).unwrap_or(u32::MAX);
        budget.max_memory_kib = budget.max_memory_kib.min(half);
    }
    let outcome =
        tokio::task::spawn_blocking(move || crate::kdf_speed::measure_noah_v0(&budget)).await;
    match outcome {
        Ok(Ok((_, speed))) => Some(speed),
        Ok(Err(e)) => {
            on_event(Event::Warning(format!(
                "the {noah} {} advisory goes without its guess rates: {e}",
                crate::kdf_speed::ADVISORY
            )));
            None
        }
        Err(e) => {
            on_event(Event::Warning(format!(
                "the {noah} guess-rate measurement stopped: {e}"
            )));
            None
        }
    }
}

/// A rough rank of how long a scenario runs, for scheduling only: a crash enumeration
/// runs the operation once per recorded step, a stress run many cycles, a plain case a
/// few steps.
fn expected_weight(s: &Scenario) -> u8 {
    use crate::scenario::Driver;
    match &s.driver {
        Some(Driver::Enumerate { .. }) => 3,
        Some(Driver::Stress { .. }) => 2,
        None => 1,
    }
}

/// The advisories of every profile that has a case in the report, each with the ids of
/// the cases that show it: those whose scenario `shows` it (case id → advisory ids in
/// `shows`) and that passed, so the design did what it documents.
pub fn advisories(
    cases: &[CaseResult],
    shows: &BTreeMap<String, Vec<String>>,
) -> Vec<backproof_report::Advisory> {
    let mut out = Vec::new();
    for profile in Profile::ALL {
        let mine: Vec<&CaseResult> = cases
            .iter()
            .filter(|c| Profile::of_case_id(&c.id) == profile)
            .collect();
        if mine.is_empty() {
            continue;
        }
        for a in profile.advisories() {
            out.push(backproof_report::Advisory {
                id: a.id.to_string(),
                profile: profile.as_str().to_string(),
                title: a.title.to_string(),
                detail: a.detail.to_string(),
                shown_by: mine
                    .iter()
                    .filter(|c| {
                        c.outcome.is_passing()
                            && shows
                                .get(&c.id)
                                .is_some_and(|ids| ids.iter().any(|x| x == a.id))
                    })
                    .map(|c| c.id.clone())
                    .collect(),
            });
        }
    }
    out
}

/// A vector of a profile the client adapter does not offer: `unsupported`, with why.
fn not_offered_vector(profile: Profile, id: &str, offered: &[String]) -> CaseResult {
    CaseResult {
        id: vector_case_id(profile, id),
        family: "vectors".into(),
        title: format!("{profile} vector {id}"),
        outcome: backproof_report::Outcome::Unsupported,
        expected: String::new(),
        observed: "not run".into(),
        reason: not_offered_reason(profile, offered),
    }
}

/// Why the cases of a profile are `unsupported` when the adapter's hello lacks it.
pub fn not_offered_reason(profile: Profile, offered: &[String]) -> String {
    format!(
        "the client adapter does not offer profile {profile} (its hello lists: {})",
        if offered.is_empty() {
            "none".to_string()
        } else {
            offered.join(", ")
        }
    )
}

/// Whether a `--filter` glob may select a vector whose case id starts with `family`
/// (`vectors/`, `byok-json-v1/vectors/`), judged from its literal start; a top-level
/// `{a,b}` alternation is judged by each alternative, so `{protocol/*,conflict/*}` does
/// not start the vectors check.
fn may_match_vectors(glob: &str, family: &str) -> bool {
    if let Some(inner) = glob.strip_prefix('{').and_then(|g| g.strip_suffix('}'))
        && !inner.contains(['{', '}', '\\'])
    {
        return inner.split(',').any(|g| may_match_vectors(g, family));
    }
    let literal: String = glob
        .chars()
        .take_while(|c| !matches!(c, '*' | '?' | '[' | '{' | '\\'))
        .collect();
    family.starts_with(&literal) || literal.starts_with(family)
}

/// One matcher for every `--exclude` glob (`*` crosses `/`, as in `--filter`).
pub fn exclude_matcher(globs: &[String]) -> Result<globset::GlobSet, RunError> {
    let mut set = globset::GlobSetBuilder::new();
    for g in globs {
        set.add(
            globset::GlobBuilder::new(g)
                .literal_separator(false)
                .build()
                .map_err(|e| RunError::Scenarios(format!("bad --exclude {g:?}: {e}")))?,
        );
    }
    set.build()
        .map_err(|e| RunError::Scenarios(format!("bad --exclude: {e}")))
}

/// Whether an `--exclude` glob matches every vector id under `family` (`vectors/*`,
/// `vec*`, `*`): then that vectors check is not started at all.
fn excludes_every_vector(glob: &str, family: &str) -> bool {
    let literal = glob.trim_end_matches('*');
    !literal.contains(['*', '?', '[', '{', '\\'])
        && literal.len() < glob.len()
        && family.starts_with(literal)
}

/// The selected known-answer vectors (ids without the `vectors/` prefix) through the client
/// adapter, as report cases of family `vectors` (ids `vectors/<file>/<tcId>`), each with its
/// milliseconds.
async fn run_vectors(
    dir: &Path,
    opts: &RunOptions,
    profile: Profile,
    selected: BTreeSet<String>,
) -> Result<Vec<(CaseResult, u64)>, RunError> {
    use crate::vectors::{self, CaseOutcome};
    use backproof_report::Outcome;

    let dir = dir.to_path_buf();
    let cmd = opts.client_adapter.clone();
    let results = tokio::task::spawn_blocking(move || {
        let mut imp = vectors::AdapterImplementation::start(&cmd).map_err(|e| e.to_string())?;
        vectors::check_profile_through(profile, &dir, &mut imp, &|id| selected.contains(id))
            .map_err(|e| e.to_string())
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
            let id = vector_case_id(profile, &r.id);
            let (outcome, expected, observed, reason) = match r.outcome {
                CaseOutcome::PassAcceptable { reason } => (
                    Outcome::PassAcceptable,
                    "the vector's result".to_string(),
                    "an accepted alternative".to_string(),
                    reason,
                ),
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
                CaseOutcome::NotRun { reason } => (
                    Outcome::Unsupported,
                    String::new(),
                    "not run".to_string(),
                    reason,
                ),
                CaseOutcome::Error { message } => (
                    Outcome::Error,
                    String::new(),
                    "the harness could not run this case".to_string(),
                    message,
                ),
            };
            let case = CaseResult {
                id,
                family: "vectors".into(),
                title: r.comment,
                outcome,
                expected,
                observed,
                reason,
            };
            (case, r.millis)
        })
        .collect())
}

/// Now as RFC 3339 UTC to the second (`2026-01-31T12:00:00Z`), as `timings.started_at` is
/// specified (reports/schema.json); JUnit's `timestamp` is made from it.
fn chrono_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339_utc(secs)
}

/// Unix seconds → `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian; Howard Hinnant's
/// days-to-civil algorithm).
fn rfc3339_utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::{excludes_every_vector, may_match_vectors, rfc3339_utc};

    #[test]
    fn excluding_the_whole_vectors_family_is_recognised() {
        for g in ["vectors/*", "vectors/**", "vectors*", "vec*", "*", "**"] {
            assert!(excludes_every_vector(g, "vectors/"), "{g}");
        }
        for g in [
            "vectors/blob-v1/*",
            "vectors",
            "vectors/",
            "protocol/*",
            "*/x",
            "vectors/?*",
            "{vectors/*,x}",
        ] {
            assert!(!excludes_every_vector(g, "vectors/"), "{g}");
        }
    }

    #[test]
    fn start_times_are_rfc3339_utc() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339_utc(1_795_455_579), "2026-11-23T17:39:39Z");
        assert_eq!(rfc3339_utc(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn filters_that_cannot_select_a_vector_skip_the_check() {
        for g in [
            "*",
            "*crash*",
            "vectors/*",
            "vec*",
            "vectors",
            "?ectors/x",
            "{protocol/*,vectors/blob-v1/*}",
            "vectors/blob-v1/{1,2}",
        ] {
            assert!(may_match_vectors(g, "vectors/"), "{g}");
        }
        for g in [
            "protocol/*",
            "conflict/two-devices-merge",
            "{protocol/*,conflict/*}",
            "{protocol/auth-*,mid-rotation-crash/x}",
        ] {
            assert!(!may_match_vectors(g, "vectors/"), "{g}");
        }
    }
}
