//! Comparing two reports (`backproof diff`) and gating a run on a baseline
//! (`backproof run --baseline FILE --deviations FILE`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::{CaseResult, Deviation, Outcome, Report};

/// One case whose outcome differs between the old and the new report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: String,
    pub family: String,
    pub title: String,
    pub old: Outcome,
    pub new: Outcome,
    /// From the new report.
    pub expected: String,
    pub observed: String,
    pub reason: String,
}

/// What changed from `old` to `new`, every list in case-id order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// pass / pass-acceptable → fail / error.
    pub regressions: Vec<Change>,
    /// fail / error → pass / pass-acceptable.
    pub fixes: Vec<Change>,
    /// Any other outcome change, e.g. pass → unsupported (coverage lost, not a regression:
    /// a target given by URL cannot run the restart cases), fail → error, pass →
    /// pass-acceptable.
    pub other_changes: Vec<Change>,
    /// Cases only in the new report (with their outcome).
    pub new: Vec<CaseResult>,
    /// Cases only in the old report.
    pub removed: Vec<CaseResult>,
    /// Cases present in both with the same outcome.
    pub unchanged: usize,
}

pub fn diff(old: &Report, new: &Report) -> Diff {
    let old_by_id: BTreeMap<&str, &CaseResult> =
        old.cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let new_by_id: BTreeMap<&str, &CaseResult> =
        new.cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut d = Diff::default();
    for (id, n) in &new_by_id {
        let Some(o) = old_by_id.get(id) else {
            d.new.push((*n).clone());
            continue;
        };
        if o.outcome == n.outcome {
            d.unchanged += 1;
            continue;
        }
        let change = Change {
            id: n.id.clone(),
            family: n.family.clone(),
            title: n.title.clone(),
            old: o.outcome,
            new: n.outcome,
            expected: n.expected.clone(),
            observed: n.observed.clone(),
            reason: n.reason.clone(),
        };
        if o.outcome.is_passing() && n.outcome.is_failing() {
            d.regressions.push(change);
        } else if o.outcome.is_failing() && n.outcome.is_passing() {
            d.fixes.push(change);
        } else {
            d.other_changes.push(change);
        }
    }
    for (id, o) in &old_by_id {
        if !new_by_id.contains_key(id) {
            d.removed.push((*o).clone());
        }
    }
    d
}

impl Diff {
    pub fn has_regressions(&self) -> bool {
        !self.regressions.is_empty()
    }

    /// Pretty JSON with a final newline (`backproof diff --format json`).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("the diff model always serializes");
        s.push('\n');
        s
    }

    /// Plain text for a terminal: one line per case, regressions first.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} regression(s), {} fix(es), {} other change(s), {} new, {} removed, {} unchanged",
            self.regressions.len(),
            self.fixes.len(),
            self.other_changes.len(),
            self.new.len(),
            self.removed.len(),
            self.unchanged
        );
        let changes = [
            ("REGRESSION", &self.regressions),
            ("fixed", &self.fixes),
            ("changed", &self.other_changes),
        ];
        for (label, list) in changes {
            for c in list {
                let _ = writeln!(out, "{label:<10} {}: {} -> {}", c.id, c.old, c.new);
                if c.new.is_failing() || label == "changed" {
                    write_detail(&mut out, &c.expected, &c.observed, &c.reason);
                }
            }
        }
        for c in &self.new {
            let _ = writeln!(out, "{:<10} {}: {}", "new", c.id, c.outcome);
            if c.outcome.is_failing() {
                write_detail(&mut out, &c.expected, &c.observed, &c.reason);
            }
        }
        for c in &self.removed {
            let _ = writeln!(out, "{:<10} {} (was {})", "removed", c.id, c.outcome);
        }
        out
    }

    /// Markdown (appended to a step summary when a run is gated on a baseline).
    pub fn render_markdown(&self) -> String {
        use crate::markdown::esc;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### Compared with the baseline\n\n{} regression(s) · {} fix(es) · {} other change(s) · {} new · {} removed · {} unchanged\n",
            self.regressions.len(),
            self.fixes.len(),
            self.other_changes.len(),
            self.new.len(),
            self.removed.len(),
            self.unchanged
        );
        let rows: Vec<(&str, &str, String, String, &str, &str)> = self
            .regressions
            .iter()
            .map(|c| ("regression", c))
            .chain(self.fixes.iter().map(|c| ("fix", c)))
            .chain(self.other_changes.iter().map(|c| ("changed", c)))
            .map(|(k, c)| {
                (
                    k,
                    c.id.as_str(),
                    c.old.to_string(),
                    c.new.to_string(),
                    c.expected.as_str(),
                    c.observed.as_str(),
                )
            })
            .chain(self.new.iter().map(|c| {
                (
                    "new",
                    c.id.as_str(),
                    "—".to_string(),
                    c.outcome.to_string(),
                    c.expected.as_str(),
                    c.observed.as_str(),
                )
            }))
            .chain(self.removed.iter().map(|c| {
                (
                    "removed",
                    c.id.as_str(),
                    c.outcome.to_string(),
                    "—".to_string(),
                    "",
                    "",
                )
            }))
            .collect();
        if !rows.is_empty() {
            out.push_str("| change | case | before | after | expected | observed |\n");
            out.push_str("|---|---|---|---|---|---|\n");
            for (k, id, before, after, e, o) in rows {
                let _ = writeln!(
                    out,
                    "| {k} | {} | {before} | {after} | {} | {} |",
                    esc(id),
                    esc(e),
                    esc(o)
                );
            }
        }
        out
    }
}

fn write_detail(out: &mut String, expected: &str, observed: &str, reason: &str) {
    let _ = writeln!(out, "           expected: {expected}");
    let _ = writeln!(out, "           observed: {observed}");
    if !reason.is_empty() {
        let _ = writeln!(out, "           reason:   {reason}");
    }
}

/// The verdict of a run: with a baseline, only regressions fail it; without one, any
/// `fail`/`error` does. Either way a case covered by a deviation never fails it (and the
/// deviation is reported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gate {
    /// Case ids that make the gate fail, in id order.
    pub blocking: Vec<String>,
    /// Failing (or regressed) cases let through by a deviation, with its reason.
    pub excused: Vec<Deviation>,
    /// Present when a baseline was given.
    pub diff: Option<Diff>,
    /// Deviations that name no case, or a passing one.
    pub stale_deviations: Vec<(Deviation, String)>,
}

/// Judges `report` (whose own `deviations` count too) against an optional baseline.
pub fn gate(report: &Report, baseline: Option<&Report>, deviations: &[Deviation]) -> Gate {
    let mut all: BTreeMap<&str, &Deviation> = report
        .deviations
        .iter()
        .map(|d| (d.case.as_str(), d))
        .collect();
    for d in deviations {
        all.insert(d.case.as_str(), d);
    }
    let candidates: Vec<&str> = match baseline {
        Some(_) => Vec::new(),
        None => report
            .cases
            .iter()
            .filter(|c| c.outcome.is_failing())
            .map(|c| c.id.as_str())
            .collect(),
    };
    let diff = baseline.map(|b| diff(b, report));
    let candidates: Vec<&str> = match &diff {
        Some(d) => d.regressions.iter().map(|c| c.id.as_str()).collect(),
        None => candidates,
    };
    let mut blocking = Vec::new();
    let mut excused = Vec::new();
    for id in candidates {
        match all.get(id) {
            Some(d) => excused.push((*d).clone()),
            None => blocking.push(id.to_string()),
        }
    }
    let stale_deviations = all
        .values()
        .filter_map(|d| match report.case(&d.case) {
            None => Some(((*d).clone(), "no such case in this run".to_string())),
            Some(c) if c.outcome.is_passing() => Some((
                (*d).clone(),
                "the case passes now; the deviation can go".to_string(),
            )),
            Some(_) => None,
        })
        .collect();
    Gate {
        blocking,
        excused,
        diff,
        stale_deviations,
    }
}

impl Gate {
    /// 1 when a case blocks, else 0 (the exit codes of README.md).
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.blocking.is_empty())
    }

    pub fn passed(&self) -> bool {
        self.blocking.is_empty()
    }

    /// Human-readable verdict for stderr/stdout.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if let Some(d) = &self.diff {
            out.push_str(&d.render_text());
        }
        let what = if self.diff.is_some() {
            "regression(s) against the baseline"
        } else {
            "failing case(s)"
        };
        if self.blocking.is_empty() {
            let _ = writeln!(out, "gate: passed (0 unexcused {what})");
        } else {
            let _ = writeln!(
                out,
                "gate: FAILED, {} unexcused {what}: {}",
                self.blocking.len(),
                self.blocking.join(", ")
            );
        }
        for d in &self.excused {
            let _ = writeln!(out, "gate: excused by deviation {}: {}", d.case, d.reason);
        }
        for (d, why) in &self.stale_deviations {
            let _ = writeln!(out, "gate: note: deviation {} ({why})", d.case);
        }
        out
    }
}
