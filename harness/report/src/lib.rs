#![forbid(unsafe_code)]
//! The result model of one `backproof run` and everything made from it: the JSON report
//! (schema in `reports/schema.json`), Markdown for a CI step summary, JUnit XML, one
//! self-contained HTML page (several reports side by side), the diff between two reports,
//! the baseline gate, and the known-deviations file.
//!
//! A report has a deterministic part (what [`Report::snapshot`] returns) and the parts that
//! change between two identical runs, `timings` and `kdf_speed` (measured guess rates); the
//! reference report kept in `reports/` is the deterministic part, so it can be compared byte
//! for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod deviations;
mod diff;
mod html;
mod junit;
mod kdf_speed;
mod markdown;
mod merge;
#[cfg(feature = "insta")]
pub mod snapshot;

pub use deviations::{DeviationsError, apply_deviations, load_deviations, parse_deviations};
pub use diff::{Change, Diff, Gate, diff, gate};
pub use html::render_html;
pub use junit::render_junit;
pub use kdf_speed::{GuessRate, KdfSpeed};
pub use markdown::render_markdown;
pub use merge::{MergeError, Shard, ShardError, merge};

/// The case families, in the order reports list them (docs/SCENARIOS.md). A family not listed here
/// is still reported, after these, alphabetically.
pub const FAMILIES: [&str; 8] = [
    "vectors",
    "conflict",
    "wrong-passphrase",
    "corrupted-blob",
    "mid-rotation-crash",
    "smart-recovery",
    "hygiene",
    "protocol",
];

/// One run of the suite against one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub suite: SuiteInfo,
    pub target: TargetInfo,
    /// Which infrastructure ran the cases, e.g. "local (initdb + s3s-fs)".
    pub stack: String,
    pub cases: Vec<CaseResult>,
    /// Where the target deliberately differs (from `--deviations FILE`). Kept in the report
    /// so that every rendering shows them.
    #[serde(default)]
    pub deviations: Vec<Deviation>,
    pub totals: Totals,
    /// What the suite knows to be weak in the designs (profiles) this run checked: shown in
    /// a section of their own by every format, never counted as failures. Absent when no
    /// profile of the run has one (so a v1-only report is as it always was).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advisories: Vec<Advisory>,
    /// Which share of the selected cases this run ran (`backproof run --shard K/N`); absent
    /// from a whole run and from a merge of all N shards (`backproof report merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Wall-clock facts; absent from snapshots (and so defaulted on load).
    #[serde(default)]
    pub timings: Timings,
    /// Guess rates measured on the machine that ran the report, shown next to the advisory
    /// they belong to (the `kdf-weak` of noah-v0). Present when that advisory is; like
    /// `timings`, machine-dependent and absent from snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf_speed: Option<KdfSpeed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteInfo {
    pub name: String,
    pub version: String,
    pub vectors_digest: String,
    pub scenarios_digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetInfo {
    pub server: String,
    pub client: String,
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseResult {
    /// Unique in a report, stable across runs (diffs and baselines match on it).
    pub id: String,
    pub family: String,
    pub title: String,
    pub outcome: Outcome,
    pub expected: String,
    pub observed: String,
    /// Why the outcome is what it is: the failed check, the accepted alternative, the
    /// missing capability, the infrastructure problem. Empty for a plain pass.
    pub reason: String,
}

impl CaseResult {
    /// The profile (backup design) the case belongs to: `v1` for an id that starts with
    /// its family (`conflict/x`, as ids always were), else the part before `/<family>/`
    /// (`byok-json-v1/conflict/x`).
    pub fn profile(&self) -> &str {
        if self.id.starts_with(&format!("{}/", self.family)) {
            return "v1";
        }
        match self.id.find(&format!("/{}/", self.family)) {
            Some(i) => &self.id[..i],
            None => "v1",
        }
    }
}

/// A known weakness of a conformant design (reports/README.md "Advisories").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advisory {
    /// The profile whose design has it.
    pub profile: String,
    /// Stable id, e.g. `no-key-check`.
    pub id: String,
    pub title: String,
    pub detail: String,
    /// Ids of the cases of this run that show it happening (they passed: the design does
    /// what it documents).
    #[serde(default)]
    pub shown_by: Vec<String>,
}

/// How one case ended (reports/README.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    /// An allowed alternative behaviour, e.g. 428 where 409 is the reference.
    PassAcceptable,
    Fail,
    /// The target lacks what the case needs (an op, restart control, storage access).
    Unsupported,
    /// The harness or its infrastructure failed, not the target.
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Pass,
        Outcome::PassAcceptable,
        Outcome::Fail,
        Outcome::Unsupported,
        Outcome::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::PassAcceptable => "pass-acceptable",
            Outcome::Fail => "fail",
            Outcome::Unsupported => "unsupported",
            Outcome::Error => "error",
        }
    }

    /// `pass` or `pass-acceptable`.
    pub fn is_passing(self) -> bool {
        matches!(self, Outcome::Pass | Outcome::PassAcceptable)
    }

    /// `fail` or `error`: what makes a run (or a gate without baseline) exit 1.
    pub fn is_failing(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Error)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                ReportError::Invalid(format!(
                    "unknown outcome {s:?}; expected one of pass, pass-acceptable, fail, unsupported, error"
                ))
            })
    }
}

/// A case where the target deliberately differs from the reference, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    pub case: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    pub pass: u32,
    pub pass_acceptable: u32,
    pub fail: u32,
    pub unsupported: u32,
    pub error: u32,
}

impl Totals {
    pub fn from_cases(cases: &[CaseResult]) -> Totals {
        let mut t = Totals::default();
        for c in cases {
            t.add(c.outcome);
        }
        t
    }

    pub fn add(&mut self, outcome: Outcome) {
        *self.slot(outcome) += 1;
    }

    pub fn get(&self, outcome: Outcome) -> u32 {
        match outcome {
            Outcome::Pass => self.pass,
            Outcome::PassAcceptable => self.pass_acceptable,
            Outcome::Fail => self.fail,
            Outcome::Unsupported => self.unsupported,
            Outcome::Error => self.error,
        }
    }

    fn slot(&mut self, outcome: Outcome) -> &mut u32 {
        match outcome {
            Outcome::Pass => &mut self.pass,
            Outcome::PassAcceptable => &mut self.pass_acceptable,
            Outcome::Fail => &mut self.fail,
            Outcome::Unsupported => &mut self.unsupported,
            Outcome::Error => &mut self.error,
        }
    }

    pub fn total(&self) -> u32 {
        Outcome::ALL.into_iter().map(|o| self.get(o)).sum()
    }
}

/// Wall-clock facts of a run; never part of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timings {
    /// RFC 3339 UTC, e.g. "2026-01-31T12:00:00Z".
    pub started_at: String,
    pub wall_ms: u64,
    /// Case id → milliseconds.
    pub cases: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read report {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{origin} is not a backproof report JSON (see reports/schema.json): {cause}")]
    Json {
        origin: String,
        cause: serde_json::Error,
    },
    #[error("invalid report: {0}")]
    Invalid(String),
}

impl Report {
    /// Builds a report, computing the totals and putting cases and deviations in id order
    /// (so two runs of the same suite list them identically).
    pub fn from_cases(
        suite: SuiteInfo,
        target: TargetInfo,
        stack: impl Into<String>,
        mut cases: Vec<CaseResult>,
        mut deviations: Vec<Deviation>,
        timings: Timings,
    ) -> Report {
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        deviations.sort();
        deviations.dedup();
        let totals = Totals::from_cases(&cases);
        Report {
            suite,
            target,
            stack: stack.into(),
            cases,
            deviations,
            totals,
            advisories: Vec::new(),
            shard: None,
            timings,
            kdf_speed: None,
        }
    }

    /// The deterministic part: everything but `timings` and `kdf_speed`, cases and
    /// deviations sorted by case id. Two runs of the same suite on the same target give equal snapshots. A shard
    /// keeps its `shard` (it is a part, and says so); a whole run and a merge of all shards
    /// have none, so their snapshots are equal.
    pub fn snapshot(&self) -> serde_json::Value {
        let mut cases = self.cases.clone();
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        let mut deviations = self.deviations.clone();
        deviations.sort();
        deviations.dedup();
        let mut snap = serde_json::json!({
            "suite": self.suite,
            "target": self.target,
            "stack": self.stack,
            "cases": cases,
            "deviations": deviations,
            "totals": Totals::from_cases(&cases),
        });
        if !self.advisories.is_empty() {
            let mut advisories = self.advisories.clone();
            advisories.sort();
            snap["advisories"] = serde_json::json!(advisories);
        }
        if let Some(shard) = self.shard {
            snap["shard"] = serde_json::json!(shard);
        }
        snap
    }

    /// Milliseconds per family, summed over the cases' `timings` (cases run in parallel, so
    /// this is time spent in cases, not wall time), families in report order. A family whose
    /// cases have no timing (a snapshot) counts 0.
    pub fn family_millis(&self) -> Vec<(String, u64)> {
        self.families()
            .into_iter()
            .map(|(family, cases)| {
                let ms = cases
                    .iter()
                    .filter_map(|c| self.timings.cases.get(&c.id))
                    .sum();
                (family, ms)
            })
            .collect()
    }

    /// [`Report::snapshot`] as pretty JSON with a final newline: the bytes kept in
    /// `reports/reference.json`.
    pub fn snapshot_json(&self) -> String {
        let mut s =
            serde_json::to_string_pretty(&self.snapshot()).expect("a JSON value always serializes");
        s.push('\n');
        s
    }

    /// The full report (with timings) as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("the report model always serializes");
        s.push('\n');
        s
    }

    /// Parses a full report or a snapshot (timings absent) and checks what the schema
    /// cannot: unique case ids and totals that match the cases.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Report, ReportError> {
        let report: Report = serde_json::from_str(text).map_err(|cause| ReportError::Json {
            origin: origin.to_string(),
            cause,
        })?;
        report.validate().map_err(|e| match e {
            ReportError::Invalid(m) => ReportError::Invalid(format!("{origin}: {m}")),
            other => other,
        })?;
        Ok(report)
    }

    pub fn load(path: &Path) -> Result<Report, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ReportError::Io {
            path: path.to_path_buf(),
            cause,
        })?;
        Report::from_json_str(&text, &path.display().to_string())
    }

    /// Consistency checks beyond the JSON shape.
    pub fn validate(&self) -> Result<(), ReportError> {
        let mut seen = BTreeSet::new();
        for c in &self.cases {
            if c.id.trim().is_empty() {
                return Err(ReportError::Invalid(format!(
                    "a case of family {:?} has an empty id",
                    c.family
                )));
            }
            if !seen.insert(c.id.as_str()) {
                return Err(ReportError::Invalid(format!(
                    "case id {:?} appears more than once",
                    c.id
                )));
            }
        }
        let computed = Totals::from_cases(&self.cases);
        if computed != self.totals {
            return Err(ReportError::Invalid(format!(
                "totals {:?} do not match the cases, which count {:?}",
                self.totals, computed
            )));
        }
        Ok(())
    }

    pub fn case(&self, id: &str) -> Option<&CaseResult> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// The measured guess rates that belong next to `advisory`, if the run measured them.
    pub fn kdf_speed_for(&self, advisory: &Advisory) -> Option<&KdfSpeed> {
        self.kdf_speed
            .as_ref()
            .filter(|k| k.profile == advisory.profile && k.advisory == advisory.id)
    }

    pub fn deviation(&self, case: &str) -> Option<&Deviation> {
        self.deviations.iter().find(|d| d.case == case)
    }

    /// Cases grouped by family, families in [`FAMILIES`] order then alphabetical, cases in
    /// id order.
    pub fn families(&self) -> Vec<(String, Vec<&CaseResult>)> {
        let mut map: BTreeMap<(usize, &str), Vec<&CaseResult>> = BTreeMap::new();
        for c in &self.cases {
            map.entry((family_rank(&c.family), c.family.as_str()))
                .or_default()
                .push(c);
        }
        map.into_iter()
            .map(|((_, f), mut cs)| {
                cs.sort_by(|a, b| a.id.cmp(&b.id));
                (f.to_string(), cs)
            })
            .collect()
    }

    /// The profiles of the report's cases, `v1` first, then alphabetical.
    pub fn profiles(&self) -> Vec<String> {
        let set: BTreeSet<(bool, &str)> = self
            .cases
            .iter()
            .map(|c| (c.profile() != "v1", c.profile()))
            .collect();
        set.into_iter().map(|(_, p)| p.to_string()).collect()
    }

    /// Cases grouped by profile ([`Report::profiles`] order), then by family as
    /// [`Report::families`] orders them.
    pub fn profile_families(&self) -> Vec<(String, String, Vec<&CaseResult>)> {
        let mut out = Vec::new();
        for p in self.profiles() {
            for (family, cases) in self.families() {
                let mine: Vec<&CaseResult> =
                    cases.into_iter().filter(|c| c.profile() == p).collect();
                if !mine.is_empty() {
                    out.push((p.clone(), family, mine));
                }
            }
        }
        out
    }

    /// A heading for a group of [`Report::profile_families`]: the family alone when the
    /// report has only v1 cases (as reports always were), else `profile · family`.
    pub fn group_label(&self, profile: &str, family: &str) -> String {
        if self.profiles().iter().all(|p| p == "v1") {
            family.to_string()
        } else {
            format!("{profile} · {family}")
        }
    }

    /// Failing cases that no deviation covers: what makes a run without baseline exit 1.
    pub fn unexcused_failures(&self) -> Vec<&CaseResult> {
        self.cases
            .iter()
            .filter(|c| c.outcome.is_failing() && self.deviation(&c.id).is_none())
            .collect()
    }

    /// Deviations naming no case of this report, or a case that passes: worth cleaning up.
    pub fn stale_deviations(&self) -> Vec<(&Deviation, &'static str)> {
        self.deviations
            .iter()
            .filter_map(|d| match self.case(&d.case) {
                None => Some((d, "no such case in this run")),
                Some(c) if c.outcome.is_passing() => {
                    Some((d, "the case passes now; the deviation can go"))
                }
                Some(_) => None,
            })
            .collect()
    }

    /// A short name for the target, used as a column header when reports sit side by side.
    pub fn label(&self) -> String {
        if self.target.server == self.target.client {
            self.target.server.clone()
        } else {
            format!("{} / {}", self.target.server, self.target.client)
        }
    }
}

/// The full report as pretty JSON (same as [`Report::to_json`]), named like the other
/// renderers.
pub fn render_json(report: &Report) -> String {
    report.to_json()
}

pub(crate) fn family_rank(family: &str) -> usize {
    FAMILIES
        .iter()
        .position(|f| *f == family)
        .unwrap_or(FAMILIES.len())
}

/// (profile, family) groups of several reports together: `v1` first, then by profile
/// name; families in report order within a profile.
pub(crate) fn all_groups(reports: &[Report]) -> Vec<(String, String)> {
    let set: BTreeSet<(bool, String, usize, String)> = reports
        .iter()
        .flat_map(|r| r.cases.iter())
        .map(|c| {
            (
                c.profile() != "v1",
                c.profile().to_string(),
                family_rank(&c.family),
                c.family.clone(),
            )
        })
        .collect();
    set.into_iter().map(|(_, p, _, f)| (p, f)).collect()
}
