//! `backproof run` end to end: the reference server and client pass every case, and for
//! every family a deliberately broken client or server makes at least one case fail —
//! proof that the scenarios can fail.
//!
//! Failpoint cases run only when this test is built with `--features failpoints`
//! (`cargo test -p backproof --features failpoints --test run_reference`); otherwise they
//! are reported `unsupported`, which does not fail the run.

use std::process::Command;

use backproof_report::Outcome;
use common::{exe, root, run};

mod common;

fn broken_adapter(mode: &str) -> String {
    format!(
        "python3 '{}' {mode} '{}' adapter --kdf m=7168,t=5,p=1",
        root().join("harness/cli/tests/broken_adapter.py").display(),
        exe()
    )
}

#[test]
fn the_reference_passes_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[]);
    let log = out.log();
    let bad = out.failures();
    assert!(bad.is_empty(), "{}\n{log}", bad.join("\n"));
    assert_eq!(out.code, 0, "{log}");
    let r = out.report();
    assert!(
        r.totals.pass + r.totals.pass_acceptable >= 80,
        "{:?}",
        r.totals
    );
    // Only the failpoint cases may be unsupported, and only without the feature.
    // Vectors of primitives the adapter protocol has no op for (hkdf, aes-gcm, payload
    // decoding) are unsupported through any adapter; `vectors check` covers them in-process.
    let vectors = r.cases.iter().filter(|c| c.family == "vectors");
    assert!(vectors.clone().count() >= 148, "every vector is a case");
    for c in vectors.filter(|c| c.outcome == Outcome::Unsupported) {
        assert!(
            c.reason.contains("does not offer"),
            "{}: {}",
            c.id,
            c.reason
        );
    }
    let unsupported: Vec<_> = r
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::Unsupported && c.family != "vectors")
        .collect();
    for c in &unsupported {
        assert!(c.reason.contains("failpoints"), "{}: {}", c.id, c.reason);
    }
    #[cfg(feature = "failpoints")]
    assert!(
        unsupported.is_empty(),
        "unsupported although failpoints are built: {unsupported:?}"
    );
    assert!(log.contains("passed,"), "summary line: {log}");
    // The deterministic part is kept in reports/reference.snap.json; only a build with
    // failpoints runs every case, so only that build is compared (`cargo insta review`
    // takes an intended change).
    #[cfg(feature = "failpoints")]
    backproof_report::snapshot::assert_report_snapshot(&r);
}

/// Runs `filter` against a broken variant; `must_fail` must be among the failed cases.
fn caught(args: &[&str], must_fail: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), args);
    let log = out.log();
    let failed = out.ids(Outcome::Fail);
    assert!(
        failed.iter().any(|id| id == must_fail),
        "{must_fail} did not fail; failed: {failed:?}\n{log}"
    );
    assert_eq!(out.code, 1, "{log}");
}

#[test]
fn conflict_catches_a_client_that_overwrites_instead_of_merging() {
    let a = broken_adapter("blind-overwrite");
    caught(
        &[
            "--filter",
            "conflict/two-devices-merge",
            "--client-adapter",
            &a,
        ],
        "conflict/two-devices-merge",
    );
}

#[test]
fn wrong_passphrase_catches_a_client_that_cannot_tell_wrong_key_from_damage() {
    let a = broken_adapter("vague-wrong-key");
    caught(
        &[
            "--filter",
            "wrong-passphrase/wrong-then-right",
            "--client-adapter",
            &a,
        ],
        "wrong-passphrase/wrong-then-right",
    );
}

#[test]
fn corrupted_blob_catches_a_client_that_returns_garbage() {
    let a = broken_adapter("garbage-on-corrupt");
    caught(
        &[
            "--filter",
            "corrupted-blob/flip-tag",
            "--client-adapter",
            &a,
        ],
        "corrupted-blob/flip-tag",
    );
}

#[test]
fn smart_recovery_catches_a_client_that_names_the_wrong_candidate() {
    let a = broken_adapter("first-candidate");
    caught(
        &[
            "--filter",
            "smart-recovery/imported-key-new-id",
            "--client-adapter",
            &a,
        ],
        "smart-recovery/imported-key-new-id",
    );
}

#[test]
fn mid_rotation_crash_catches_a_server_that_overwrites_in_place() {
    caught(
        &[
            "--filter",
            "mid-rotation-crash/server-crash-every-storage-step",
            "--server-arg=--unsafe-overwrite-in-place",
        ],
        "mid-rotation-crash/server-crash-every-storage-step",
    );
}

#[test]
fn protocol_catches_a_server_with_a_lower_body_limit() {
    caught(
        &[
            "--filter",
            "protocol/body-limit",
            "--server-arg=--max-blob-bytes=4096",
        ],
        "protocol/body-limit",
    );
}

#[test]
fn list_and_bad_arguments() {
    let out = Command::new(exe())
        .args(["run", "--list", "--filter", "protocol/*", "--scenarios"])
        .arg(root().join("scenarios"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().count() >= 20, "{text}");
    assert!(text.lines().all(|l| l.starts_with("protocol/")), "{text}");
    let out = Command::new(exe())
        .args(["run", "--filter", "[", "--list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--filter"));
    let out = Command::new(exe())
        .args(["run", "--server-url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--server-cmd"));
}
