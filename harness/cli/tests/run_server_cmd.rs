//! `backproof run --server-cmd CMD --token-cmd CMD`: a server under test that backproof
//! starts itself, with the stack in its environment (docs/GATE.md). The reference started this
//! way passes every server case it can be given; the reference with a deliberate fault
//! fails exactly the cases that fault breaks. Both go through the same path an outside
//! server takes: `sh -c CMD` with `PORT` and `BACKPROOF_*` in the environment, tokens from
//! the token command with `{user}` replaced.

use backproof_report::Outcome;
use common::{RunOut, quoted_exe, run};

mod common;

/// `--server-cmd` for the reference, with extra flags that make it misbehave.
fn server_cmd(flags: &str) -> String {
    // No --listen: `backproof serve` listens on 127.0.0.1:$PORT, as an outside server must.
    format!("exec {} serve {flags}", quoted_exe())
}

fn token_cmd() -> String {
    // The secret comes from BACKPROOF_AUTH_SECRET, which backproof sets for both commands.
    format!("{} serve token --user {{user}}", quoted_exe())
}

fn run_with(flags: &str, filter: &str) -> (tempfile::TempDir, RunOut) {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "--filter",
            filter,
            "--server-cmd",
            &server_cmd(flags),
            "--token-cmd",
            &token_cmd(),
        ],
    );
    (dir, out)
}

#[test]
fn the_reference_started_by_command_passes_every_server_case() {
    // Every scenario but the 16x50 stress (a load case the reference target runs in
    // run_reference; it adds minutes and nothing about the command path); the vectors never
    // reach a server.
    let (_dir, out) = run_with(
        "",
        "{protocol/*,conflict/[!s]*,conflict/st[!r]*,conflict/stress-passphrase-*,\
         corrupted-blob/*,wrong-passphrase/*,smart-recovery/*,mid-rotation-crash/*}",
    );
    let failing = out.failures();
    assert!(failing.is_empty(), "{}\n{}", failing.join("\n"), out.log());
    assert_eq!(out.code, 0, "{}", out.log());
    let r = out.report();
    assert!(r.cases.len() >= 90, "{} cases", r.cases.len());
    assert!(
        r.target.server.starts_with("command: "),
        "the report names the command: {}",
        r.target.server
    );
    // Crash, restart and storage-damage cases run against a server by command; only the
    // failpoints are the reference binary's own and cannot be asked of a command.
    for c in r.cases.iter().filter(|c| c.outcome == Outcome::Unsupported) {
        assert!(
            c.reason.contains("failpoints") && !c.reason.contains("server-restart"),
            "{}: {}",
            c.id,
            c.reason
        );
    }
    let crash_cases_passed = r
        .cases
        .iter()
        .filter(|c| c.id.contains("server-crash") && c.outcome.is_passing())
        .count();
    assert!(crash_cases_passed >= 2, "server crash cases ran and passed");
}

#[test]
fn a_server_that_overwrites_in_place_fails_the_storage_crash_case() {
    let (_dir, out) = run_with(
        "--unsafe-overwrite-in-place",
        "mid-rotation-crash/server-crash-every-*",
    );
    let log = out.log();
    // A crash after the in-place PUT always exposes the new blob under the old version.
    assert!(
        out.ids(Outcome::Fail)
            .contains(&"mid-rotation-crash/server-crash-every-storage-step".to_string()),
        "{log}"
    );
    // Between API steps the same fault shows only when the read after the restart races
    // the client's retry (in-place PUT done, row not yet updated); whichever case fails,
    // it fails for this fault and nothing else.
    for c in out.report().cases {
        assert!(
            c.outcome == Outcome::Pass || c.reason.contains("out of agreement"),
            "{} failed for another reason: {}\n{log}",
            c.id,
            c.reason
        );
    }
    assert_eq!(out.code, 1, "{log}");
}

#[test]
fn a_server_with_a_lower_body_limit_fails_only_the_body_limit_case() {
    let (_dir, out) = run_with("--max-blob-bytes 4096", "protocol/body-*");
    let log = out.log();
    assert_eq!(out.ids(Outcome::Fail), ["protocol/body-limit"], "{log}");
    // Too small, too large and chunked-too-large are still refused as they must be.
    assert!(out.ids(Outcome::Pass).len() >= 4, "{log}");
    let r = out.report();
    let c = r
        .cases
        .iter()
        .find(|c| c.id == "protocol/body-limit")
        .unwrap();
    assert!(c.observed.contains("413"), "observed: {}", c.observed);
    assert_eq!(out.code, 1, "{log}");
}

#[test]
fn a_server_command_that_does_not_start_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "--filter",
            "protocol/create",
            "--server-cmd",
            "echo 'no such server' >&2; exit 3",
            "--token-cmd",
            &token_cmd(),
        ],
    );
    let log = out.log();
    assert_eq!(out.ids(Outcome::Error), ["protocol/create"], "{log}");
    let r = out.report();
    let c = &r.cases[0];
    assert!(
        c.reason.contains("no such server") || c.reason.contains("exit"),
        "the reason shows the server's own words: {}",
        c.reason
    );
    assert_eq!(out.code, 1, "{log}");
}
