//! `backproof run` against variants of the reference adapter (docs/ADAPTER.md, "Broken
//! variants of the reference adapter"): the transient-fault cases grade a client that
//! surfaces a retryable class `pass-acceptable`, not `fail`, and fail one whose retry is not
//! idempotent; the hygiene cases fail a client that reuses its nonce or its salt, and pass
//! the reference and the independent Python example.

use std::process::Command;

use backproof_report::{CaseResult, Outcome};
use common::{quoted_exe, run, tool_available};

mod common;

/// The cases whose fault is transient: the client may retry inside the call or surface a
/// retryable class for the harness to call again.
const TRANSIENT: [&str; 3] = [
    "mid-rotation-crash/lost-answer-retry",
    "mid-rotation-crash/lost-request-retry",
    "mid-rotation-crash/server-503-retry",
];

/// `--filter` for [`TRANSIENT`], with `more` (comma-separated globs) added.
fn filter(more: &str) -> String {
    let mut globs: Vec<&str> = TRANSIENT.to_vec();
    if !more.is_empty() {
        globs.push(more);
    }
    format!("{{{}}}", globs.join(","))
}

const HYGIENE: [&str; 3] = [
    "hygiene/backup-fresh-nonce-and-salt",
    "hygiene/seal-key-fresh-nonce",
    "hygiene/seal-passphrase-fresh-nonce-and-salt",
];

/// The reference adapter at the policy floor (as `backproof run` starts it) with `flags`.
fn adapter(flags: &str) -> String {
    format!("{} adapter --kdf m=7168,t=5,p=1 {flags}", quoted_exe())
}

/// `(id, outcome, reason)` of every case of one run of `filter` with `adapter_cmd` (the
/// reference when `None`).
fn outcomes(filter: &str, adapter_cmd: Option<&str>) -> Vec<(String, Outcome, String)> {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--filter", filter];
    if let Some(a) = adapter_cmd {
        args.extend(["--client-adapter", a]);
    }
    let out = run(dir.path(), &args);
    let r = out.report();
    assert!(!r.cases.is_empty(), "no case ran\n{}", out.log());
    let errors: Vec<&CaseResult> = r
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::Error)
        .collect();
    assert!(
        errors.is_empty(),
        "harness errors: {errors:?}\n{}",
        out.log()
    );
    r.cases
        .into_iter()
        .map(|c| (c.id, c.outcome, c.reason))
        .collect()
}

fn ids_with(cases: &[(String, Outcome, String)], o: Outcome) -> Vec<&str> {
    cases
        .iter()
        .filter(|c| c.1 == o)
        .map(|c| c.0.as_str())
        .collect()
}

#[test]
fn the_reference_passes_the_transient_and_hygiene_cases_outright() {
    for _ in 0..2 {
        let cases = outcomes(&filter("hygiene/*"), None);
        let mut want: Vec<&str> = TRANSIENT.iter().chain(&HYGIENE).copied().collect();
        want.sort();
        assert_eq!(ids_with(&cases, Outcome::Pass), want, "{cases:?}");
    }
}

#[test]
fn a_client_that_surfaces_retryable_classes_passes_acceptably() {
    let cmd = adapter("--no-internal-retries");
    for _ in 0..2 {
        let cases = outcomes(&filter(""), Some(&cmd));
        assert_eq!(
            ids_with(&cases, Outcome::PassAcceptable),
            TRANSIENT,
            "{cases:?}"
        );
        for (id, _, reason) in &cases {
            let class = if id.ends_with("server-503-retry") {
                "server_error"
            } else {
                "network"
            };
            assert_eq!(
                reason,
                &format!("client surfaced {class}; the retried call succeeded"),
                "{id}"
            );
        }
    }
}

#[test]
fn a_surfaced_retry_that_is_not_idempotent_fails() {
    // The rotation landed but its answer was lost: the harness calls rotate again, and a
    // client that does not see that the stored blob already opens with the new secret
    // tries the old one and fails.
    let cmd = adapter("--no-internal-retries --unsafe-rotate-not-idempotent");
    for _ in 0..2 {
        let cases = outcomes("mid-rotation-crash/lost-answer-retry", Some(&cmd));
        assert_eq!(
            ids_with(&cases, Outcome::Fail),
            ["mid-rotation-crash/lost-answer-retry"],
            "{cases:?}"
        );
        assert!(cases[0].2.contains("retried by the harness"), "{cases:?}");
    }
}

#[test]
fn a_fixed_nonce_fails_every_hygiene_case() {
    let cmd = adapter("--unsafe-fixed-nonce");
    for _ in 0..2 {
        let cases = outcomes("hygiene/*", Some(&cmd));
        assert_eq!(ids_with(&cases, Outcome::Fail), HYGIENE, "{cases:?}");
        for (id, _, reason) in &cases {
            assert!(reason.contains("reused one nonce"), "{id}: {reason}");
        }
    }
}

#[test]
fn a_fixed_salt_fails_the_passphrase_hygiene_cases() {
    let cmd = adapter("--unsafe-fixed-salt");
    for _ in 0..2 {
        let cases = outcomes("hygiene/*", Some(&cmd));
        // A raw key has no salt: only the nonce keeps its seals apart, and it is fresh.
        assert_eq!(
            ids_with(&cases, Outcome::Fail),
            [
                "hygiene/backup-fresh-nonce-and-salt",
                "hygiene/seal-passphrase-fresh-nonce-and-salt"
            ],
            "{cases:?}"
        );
        assert_eq!(
            ids_with(&cases, Outcome::Pass),
            ["hygiene/seal-key-fresh-nonce"]
        );
        for (id, o, reason) in &cases {
            if *o == Outcome::Fail {
                assert!(reason.contains("reused one salt"), "{id}: {reason}");
            }
        }
    }
}

#[test]
fn the_python_example_passes_the_hygiene_cases() {
    let probe = "import cryptography, argon2";
    if !tool_available(
        Command::new("python3").args(["-c", probe]),
        "python3 with cryptography and argon2-cffi",
    ) {
        return;
    }
    let cmd = "python3 examples/adapters/python/adapter.py --kdf m=7168,t=5,p=1";
    let cases = outcomes("hygiene/*", Some(cmd));
    assert_eq!(ids_with(&cases, Outcome::Pass), HYGIENE, "{cases:?}");
}
