//! `backproof run --server-cmd CMD --token-cmd CMD`: a server under test that backproof
//! starts itself, with the stack in its environment (BRIEF §6). The reference started this
//! way passes every server case it can be given; the reference with a deliberate fault
//! fails exactly the cases that fault breaks. Both go through the same path an outside
//! server takes: `sh -c CMD` with `PORT` and `BACKPROOF_*` in the environment, tokens from
//! the token command with `{user}` replaced.

use std::path::{Path, PathBuf};
use std::process::Command;

use backproof_report::{Outcome, Report};

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_backproof")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn quoted_exe() -> String {
    format!("'{}'", exe().replace('\'', "'\\''"))
}

/// `--server-cmd` for the reference, with extra flags that make it misbehave.
fn server_cmd(flags: &str) -> String {
    // No --listen: `backproof serve` listens on 127.0.0.1:$PORT, as an outside server must.
    format!("exec {} serve {flags}", quoted_exe())
}

fn token_cmd() -> String {
    // The secret comes from BACKPROOF_AUTH_SECRET, which backproof sets for both commands.
    format!("{} serve token --user {{user}}", quoted_exe())
}

fn run_with(flags: &str, filter: &str, report: &Path) -> (i32, Report, String) {
    let out = Command::new(exe())
        .arg("run")
        .arg("--quiet")
        .arg("--scenarios")
        .arg(root().join("scenarios"))
        .arg("--report")
        .arg(report)
        .args(["--filter", filter])
        .args(["--server-cmd", &server_cmd(flags)])
        .args(["--token-cmd", &token_cmd()])
        .output()
        .expect("backproof runs");
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(report)
        .unwrap_or_else(|e| panic!("no report ({e}); log:\n{log}"));
    let r = Report::from_json_str(&text, "test").expect("a valid report");
    (out.status.code().unwrap_or(-1), r, log)
}

fn ids(r: &Report, outcome: Outcome) -> Vec<&str> {
    r.cases
        .iter()
        .filter(|c| c.outcome == outcome)
        .map(|c| c.id.as_str())
        .collect()
}

#[test]
fn the_reference_started_by_command_passes_every_server_case() {
    let dir = tempfile::tempdir().unwrap();
    // Every scenario family; the vectors never reach a server, so they are left out here.
    let (code, r, log) = run_with(
        "",
        "{protocol,conflict,corrupted-blob,wrong-passphrase,smart-recovery,mid-rotation-crash}/*",
        &dir.path().join("report.json"),
    );
    let failing: Vec<String> = r
        .cases
        .iter()
        .filter(|c| c.outcome.is_failing())
        .map(|c| format!("{}: {}; {}", c.id, c.observed, c.reason))
        .collect();
    assert!(failing.is_empty(), "{}\n{log}", failing.join("\n"));
    assert_eq!(code, 0, "{log}");
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
    let dir = tempfile::tempdir().unwrap();
    let (code, r, log) = run_with(
        "--unsafe-overwrite-in-place",
        "mid-rotation-crash/server-crash-every-*",
        &dir.path().join("report.json"),
    );
    assert_eq!(
        ids(&r, Outcome::Fail),
        ["mid-rotation-crash/server-crash-every-storage-step"],
        "{log}"
    );
    // Killing the server between API steps never exposes the overwrite: that case passes,
    // so the failure above is the fault's, not the command path's.
    assert_eq!(
        ids(&r, Outcome::Pass),
        ["mid-rotation-crash/server-crash-every-api-step"],
        "{log}"
    );
    assert_eq!(code, 1, "{log}");
}

#[test]
fn a_server_with_a_lower_body_limit_fails_only_the_body_limit_case() {
    let dir = tempfile::tempdir().unwrap();
    let (code, r, log) = run_with(
        "--max-blob-bytes 4096",
        "protocol/body-*",
        &dir.path().join("report.json"),
    );
    assert_eq!(ids(&r, Outcome::Fail), ["protocol/body-limit"], "{log}");
    // Too small, too large and chunked-too-large are still refused as they must be.
    assert!(ids(&r, Outcome::Pass).len() >= 4, "{log}");
    let c = r
        .cases
        .iter()
        .find(|c| c.id == "protocol/body-limit")
        .unwrap();
    assert!(c.observed.contains("413"), "observed: {}", c.observed);
    assert_eq!(code, 1, "{log}");
}

#[test]
fn a_server_command_that_does_not_start_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = Command::new(exe())
        .arg("run")
        .arg("--quiet")
        .arg("--scenarios")
        .arg(root().join("scenarios"))
        .arg("--report")
        .arg(&report)
        .args(["--filter", "protocol/create"])
        .args(["--server-cmd", "echo 'no such server' >&2; exit 3"])
        .args(["--token-cmd", &token_cmd()])
        .output()
        .unwrap();
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let r = Report::from_json_str(&std::fs::read_to_string(&report).unwrap(), "t").unwrap();
    assert_eq!(ids(&r, Outcome::Error), ["protocol/create"], "{log}");
    let c = &r.cases[0];
    assert!(
        c.reason.contains("no such server") || c.reason.contains("exit"),
        "the reason shows the server's own words: {}",
        c.reason
    );
    assert_eq!(out.status.code(), Some(1), "{log}");
}
