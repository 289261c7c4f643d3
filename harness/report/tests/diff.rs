//! diff, the baseline gate, and the deviations file, on crafted reports.

mod common;

use backproof_report::{Outcome, Report, diff, gate, load_deviations, parse_deviations};
use common::*;

fn with(base: &Report, edits: &[(&str, Option<Outcome>)]) -> Report {
    let mut cases = base.cases.clone();
    for (id, outcome) in edits {
        match outcome {
            Some(o) => match cases.iter_mut().find(|c| c.id == *id) {
                Some(c) => {
                    c.outcome = *o;
                    c.observed = format!("observed for {o}");
                }
                None => cases.push(case(id, *o, "exp", "obs", "why")),
            },
            None => cases.retain(|c| c.id != *id),
        }
    }
    let t = timings(&cases);
    Report::from_cases(
        base.suite.clone(),
        base.target.clone(),
        base.stack.clone(),
        cases,
        base.deviations.clone(),
        t,
    )
}

#[test]
fn regression_fix_new_removed_and_other_changes() {
    let old = report_with_one_failure();
    let new = with(
        &old,
        &[
            ("vectors/blob-v1/1", Some(Outcome::Fail)), // pass → fail
            ("conflict/two-writers", Some(Outcome::Error)), // pass-acceptable → error
            (FAILING_ID, Some(Outcome::Pass)),          // fail → pass
            ("protocol/hello", Some(Outcome::Unsupported)), // pass → unsupported
            ("protocol/brand-new", Some(Outcome::Fail)), // new
            ("smart-recovery/second-candidate", None),  // removed
        ],
    );
    let d = diff(&old, &new);
    let ids = |v: &[backproof_report::Change]| v.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&d.regressions),
        ["conflict/two-writers", "vectors/blob-v1/1"]
    );
    assert_eq!(d.regressions[1].old, Outcome::Pass);
    assert_eq!(d.regressions[1].new, Outcome::Fail);
    assert_eq!(d.regressions[1].observed, "observed for fail");
    assert_eq!(ids(&d.fixes), [FAILING_ID]);
    assert_eq!(ids(&d.other_changes), ["protocol/hello"]);
    assert_eq!(
        d.new.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["protocol/brand-new"]
    );
    assert_eq!(
        d.removed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["smart-recovery/second-candidate"]
    );
    assert_eq!(d.unchanged, old.cases.len() - 5);
    assert!(d.has_regressions());

    let text = d.render_text();
    assert!(
        text.starts_with("2 regression(s), 1 fix(es), 1 other change(s), 1 new, 1 removed"),
        "{text}"
    );
    assert!(text.contains("REGRESSION vectors/blob-v1/1: pass -> fail"));
    assert!(text.contains("fixed      conflict/lost-update: fail -> pass"));
    assert!(text.contains("removed    smart-recovery/second-candidate (was pass)"));
    let md = d.render_markdown();
    assert!(
        md.contains("| regression | vectors/blob-v1/1 | pass | fail |"),
        "{md}"
    );
    assert!(md.contains("| new | protocol/brand-new | — | fail |"));

    // Reversed, the regressions are fixes.
    let back = diff(&new, &old);
    assert_eq!(
        ids(&back.fixes),
        ["conflict/two-writers", "vectors/blob-v1/1"]
    );
    assert_eq!(ids(&back.regressions), [FAILING_ID]);
}

#[test]
fn identical_reports_have_no_changes() {
    let r = report_with_one_failure();
    let d = diff(&r, &r);
    assert!(
        d.regressions.is_empty() && d.fixes.is_empty() && d.new.is_empty() && d.removed.is_empty()
    );
    assert_eq!(d.unchanged, r.cases.len());
}

#[test]
fn gate_without_baseline_fails_on_any_failure_unless_excused() {
    let r = report_with_one_failure();
    let g = gate(&r, None, &[]);
    assert_eq!(g.exit_code(), 1);
    assert_eq!(g.blocking, [FAILING_ID]);
    assert!(
        g.render_text()
            .contains("gate: FAILED, 1 unexcused failing case(s): conflict/lost-update")
    );

    let g = gate(&r, None, &[deviation(FAILING_ID, "on purpose")]);
    assert_eq!(g.exit_code(), 0);
    assert_eq!(g.excused, [deviation(FAILING_ID, "on purpose")]);
    assert!(
        g.render_text()
            .contains("excused by deviation conflict/lost-update: on purpose")
    );

    assert_eq!(gate(&all_passing("x"), None, &[]).exit_code(), 0);
}

#[test]
fn gate_with_baseline_fails_only_on_regressions() {
    let baseline = report_with_one_failure();
    // The known failure alone: not a regression.
    assert_eq!(gate(&baseline, Some(&baseline), &[]).exit_code(), 0);
    // A new failing case is reported but does not block; a fix does not either.
    let r = with(
        &baseline,
        &[
            ("protocol/brand-new", Some(Outcome::Fail)),
            (FAILING_ID, Some(Outcome::Pass)),
        ],
    );
    let g = gate(&r, Some(&baseline), &[]);
    assert_eq!(g.exit_code(), 0, "{}", g.render_text());
    assert_eq!(g.diff.as_ref().unwrap().new.len(), 1);
    // pass → fail blocks, unless a deviation covers it (here given in the report itself).
    let mut r = with(&baseline, &[("vectors/blob-v1/2", Some(Outcome::Fail))]);
    let g = gate(&r, Some(&baseline), &[]);
    assert_eq!(g.exit_code(), 1);
    assert_eq!(g.blocking, ["vectors/blob-v1/2"]);
    backproof_report::apply_deviations(&mut r, &[deviation("vectors/blob-v1/2", "known")]);
    assert_eq!(gate(&r, Some(&baseline), &[]).exit_code(), 0);
    // pass → unsupported (coverage lost) does not block.
    let r = with(&baseline, &[("protocol/hello", Some(Outcome::Unsupported))]);
    assert_eq!(gate(&r, Some(&baseline), &[]).exit_code(), 0);
}

#[test]
fn stale_deviations_are_reported() {
    let r = report_with_one_failure();
    let g = gate(
        &r,
        None,
        &[
            deviation("nope/none", "old"),
            deviation("protocol/hello", "fixed since"),
        ],
    );
    let stale: Vec<(&str, &str)> = g
        .stale_deviations
        .iter()
        .map(|(d, why)| (d.case.as_str(), why.as_str()))
        .collect();
    assert_eq!(
        stale,
        [
            ("nope/none", "no such case in this run"),
            (
                "protocol/hello",
                "the case passes now; the deviation can go"
            )
        ]
    );
}

#[test]
fn deviations_file_parses_and_rejects_bad_files_clearly() {
    let ok = "# why we differ\n[[deviation]]\ncase = \"conflict/a\"\nreason = \"gateway\"\n\n[[deviation]]\ncase = \"protocol/b\"\nreason = \"legacy\"\n";
    let devs = parse_deviations(ok, "d.toml").unwrap();
    assert_eq!(
        devs,
        [
            deviation("conflict/a", "gateway"),
            deviation("protocol/b", "legacy")
        ]
    );
    assert!(parse_deviations("", "empty.toml").unwrap().is_empty());

    let cases = [
        ("[[deviation]]\ncase = \"a\"\n", "missing field `reason`"),
        (
            "[[deviation]]\ncase = \"a\"\nreason = \"  \"\n",
            "deviation #1 has an empty reason",
        ),
        (
            "[[deviation]]\ncase = \"a\"\nreason = \"r\"\nseverity = 1\n",
            "unknown field `severity`",
        ),
        (
            "[[deviations]]\ncase = \"a\"\nreason = \"r\"\n",
            "unknown field `deviations`",
        ),
        (
            "[[deviation]]\ncase = \"a\"\nreason = \"r\"\n[[deviation]]\ncase = \"a\"\nreason = \"s\"\n",
            "case \"a\" is listed twice (deviations #1 and #2)",
        ),
        ("[[deviation]\ncase = ", "is not a valid deviations file"),
    ];
    for (text, needle) in cases {
        let err = parse_deviations(text, "bad.toml").unwrap_err().to_string();
        assert!(err.contains(needle), "for {text:?}: {err}");
        assert!(err.contains("bad.toml"), "{err}");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deviations.toml");
    std::fs::write(&path, ok).unwrap();
    assert_eq!(load_deviations(&path).unwrap().len(), 2);
    let err = load_deviations(&dir.path().join("missing.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read deviations file") && err.contains("missing.toml"),
        "{err}"
    );
}
