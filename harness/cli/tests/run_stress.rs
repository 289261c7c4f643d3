//! The stress cases end to end: the reference passes them, and a server that answers 500
//! when a GET races an update (instead of reading the row again) fails them, the failure
//! naming the 5xx read (docs/SCENARIOS.md, "The stress driver").

use backproof_report::Outcome;
use common::run;

mod common;

const STRESS: &str = "conflict/stress-*";

#[test]
fn the_reference_passes_the_stress_cases() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--filter", STRESS]);
    let log = out.log();
    let bad = out.failures();
    assert!(bad.is_empty(), "{}\n{log}", bad.join("\n"));
    assert_eq!(out.code, 0, "{log}");
    assert_eq!(
        out.ids(Outcome::Pass),
        ["conflict/stress-passphrase", "conflict/stress-raw-key"],
        "{log}"
    );
}

#[test]
fn stress_catches_a_server_that_answers_500_when_a_get_races_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "--filter",
            STRESS,
            "--server-arg=--unsafe-no-reread-on-get-race",
        ],
    );
    let log = out.log();
    assert_eq!(out.code, 1, "{log}");
    let report = out.report();
    let case = report
        .cases
        .iter()
        .find(|c| c.id == "conflict/stress-raw-key")
        .unwrap_or_else(|| panic!("no stress-raw-key case\n{log}"));
    assert_eq!(case.outcome, Outcome::Fail, "{log}");
    assert_eq!(case.reason, "history checker: server-error", "{log}");
    assert!(case.observed.contains("read → 500"), "{}", case.observed);
}
