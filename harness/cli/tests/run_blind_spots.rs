//! The blind spots the reference's broken variants (docs/API.md, "Broken variants") used to
//! slip through: a server that commits a version whose S3 write failed, one that never
//! deletes objects, one that lets a request name its user. For each, `backproof run` over
//! the cases that must catch it exits 1 with exactly those cases failing for that reason,
//! and the reference passes the same selection. (Early answers that the kernel destroys by
//! a reset are proven against a deliberately rude server in the suite's own tests,
//! `harness/suite/src/scenario/steps/http.rs`: the reference no longer has that bug.)

use backproof_report::{Outcome, Report};
use common::run;

mod common;

const USER_OVERRIDE: &str = "protocol/isolation-override-*";
const STORAGE_LISTS: &str = "protocol/{delete-removes-object,update-leaves-one-object}";
const S3_WINDOW: &str = "mid-rotation-crash/storage-503-retry";
const EARLY_ANSWERS: &str = "protocol/body-too-large*";
const STALLS: &str = "protocol/stall-*";
const TRICKLE: &str = "protocol/trickle-upload";

/// The cases of `filter` run against the reference with `flag` (none: the reference itself).
fn run_variant(flag: Option<&str>, filter: &str) -> (tempfile::TempDir, common::RunOut) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--filter", filter];
    if let Some(f) = flag {
        args.push(f);
    }
    let out = run(dir.path(), &args);
    (dir, out)
}

fn case<'a>(r: &'a Report, id: &str) -> &'a backproof_report::CaseResult {
    r.cases
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no case {id} in the report"))
}

/// `flag` makes exactly `must_fail` fail, each with a reason containing `reason`; the rest of
/// `filter` passes. Then the reference passes all of `filter`.
fn caught_exactly(flag: &str, filter: &str, must_fail: &[&str], reason: &str) {
    let (_dir, out) = run_variant(Some(flag), filter);
    let log = out.log();
    let r = out.report();
    let mut failed = out.ids(Outcome::Fail);
    failed.sort();
    let mut want: Vec<String> = must_fail.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(failed, want, "{flag}\n{}\n{log}", out.failures().join("\n"));
    for id in must_fail {
        let c = case(&r, id);
        assert!(
            c.reason.contains(reason),
            "{id} failed for another reason: expected {}; observed {}; {}",
            c.expected,
            c.observed,
            c.reason
        );
    }
    assert!(
        out.ids(Outcome::Error).is_empty(),
        "{}\n{log}",
        out.failures().join("\n")
    );
    assert_eq!(out.code, 1, "{log}");

    let (_dir, out) = run_variant(None, filter);
    let log = out.log();
    let bad = out.failures();
    assert!(bad.is_empty(), "{}\n{log}", bad.join("\n"));
    assert_eq!(out.code, 0, "{log}");
    let r = out.report();
    for id in must_fail {
        assert_eq!(case(&r, id).outcome, Outcome::Pass, "{id}\n{log}");
    }
}

#[test]
fn a_server_that_lets_a_request_name_its_user_fails_the_override_cases_it_honours() {
    // The variant honours `?user=` and `X-Backproof-User`; the other three spellings are
    // ignored by it as by the reference, so those cases pass against both.
    caught_exactly(
        "--server-arg=--unsafe-user-override",
        USER_OVERRIDE,
        &[
            "protocol/isolation-override-query-user",
            "protocol/isolation-override-header-backproof-user",
        ],
        "status",
    );
}

#[test]
fn a_server_that_never_deletes_objects_fails_the_storage_listings() {
    caught_exactly(
        "--server-arg=--unsafe-never-delete-objects",
        STORAGE_LISTS,
        &[
            "protocol/delete-removes-object",
            "protocol/update-leaves-one-object",
        ],
        "orphan objects must be removed",
    );
}

#[test]
fn a_server_that_commits_a_failed_s3_write_fails_the_s3_window_case() {
    caught_exactly(
        "--server-arg=--unsafe-commit-on-failed-put",
        S3_WINDOW,
        &[S3_WINDOW],
        "unexpected outcome",
    );
}

#[test]
fn a_server_that_answers_a_stalled_body_with_a_5xx_fails_every_stall_case() {
    // The bug the reference had while its S3 client judged the client's pace: a stalled
    // upload became 503 "S3 is unreachable", which tells the client to retry elsewhere.
    caught_exactly(
        "--server-arg=--unsafe-stall-is-unavailable",
        STALLS,
        &[
            "protocol/stall-chunked",
            "protocol/stall-create",
            "protocol/stall-orphan-swept",
            "protocol/stall-update",
        ],
        "status",
    );
}

#[test]
fn a_server_that_cuts_off_a_trickling_body_fails_the_trickle_case() {
    // The trickle pauses 400 ms between pieces; a 150 ms body timeout cuts it off with 408.
    caught_exactly(
        "--server-arg=--body-idle-timeout=150ms",
        TRICKLE,
        &[TRICKLE],
        "status",
    );
}

#[test]
fn the_reference_answers_every_early_answer_case() {
    let (_dir, out) = run_variant(None, EARLY_ANSWERS);
    let log = out.log();
    assert!(
        out.failures().is_empty(),
        "{}\n{log}",
        out.failures().join("\n")
    );
    let mut passed = out.ids(Outcome::Pass);
    passed.sort();
    assert_eq!(
        passed,
        [
            "protocol/body-too-large",
            "protocol/body-too-large-blocking",
            "protocol/body-too-large-chunked",
        ],
        "{log}"
    );
    assert_eq!(out.code, 0, "{log}");
}
