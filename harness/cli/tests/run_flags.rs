//! `backproof run --quiet`, `--exclude` and `--repeat`, end to end against the reference
//! server (docs/GATE.md, "Flags for a gate").

use std::process::Command;

use backproof_report::Outcome;
use common::{exe, root, run, tool_available};

mod common;

fn lines_starting(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

fn broken_adapter(mode: &str) -> String {
    format!(
        "python3 '{}' {mode} '{}' adapter --kdf m=7168,t=5,p=1",
        root().join("harness/cli/tests/broken_adapter.py").display(),
        exe()
    )
}

fn python() -> bool {
    tool_available(Command::new("python3").arg("--version"), "python3")
}

/// A failing case and unsupported vectors: --quiet prints the failure and the summary, and
/// not one `unsupported` line; the same run without --quiet prints them.
#[test]
fn quiet_prints_the_summary_and_failures_only() {
    if !python() {
        return;
    }
    let adapter = broken_adapter("vague-wrong-key");
    let args = [
        "--client-adapter",
        adapter.as_str(),
        "--filter",
        "{wrong-passphrase/wrong-then-right,vectors/hkdf-sha256/*}",
    ];
    let dir = tempfile::tempdir().unwrap();
    let quiet = run(dir.path(), &args);
    let log = quiet.log();
    assert_eq!(quiet.code, 1, "{log}");
    let report = quiet.report();
    assert!(report.totals.unsupported > 0, "{:?}\n{log}", report.totals);
    assert_eq!(
        lines_starting(
            &quiet.stderr,
            "FAIL wrong-passphrase/wrong-then-right: expected"
        )
        .len(),
        1,
        "the failure is printed\n{log}"
    );
    let summary = format!(
        "0 passed, 1 failed, {} unsupported (",
        report.totals.unsupported
    );
    assert_eq!(
        lines_starting(&quiet.stdout, &summary).len(),
        1,
        "one summary line starting {summary:?}\n{log}"
    );
    for text in [&quiet.stdout, &quiet.stderr] {
        assert!(
            !text.lines().any(|l| l.starts_with("unsupported ")),
            "--quiet printed an unsupported line\n{log}"
        );
    }

    // Without --quiet (the helper always passes it): one line per unsupported case.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(exe())
        .current_dir(root())
        .arg("run")
        .arg("--report")
        .arg(dir.path().join("report.json"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        lines_starting(&stderr, "unsupported vectors/hkdf-sha256/").len() as u64,
        u64::from(report.totals.unsupported),
        "{stderr}"
    );
}

#[test]
fn excluded_cases_are_neither_run_nor_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "--filter",
            "{protocol/create*,vectors/hkdf-sha256/*}",
            "--exclude",
            "vectors/*",
            "--exclude",
            "protocol/create-twice",
        ],
    );
    let log = out.log();
    assert_eq!(out.code, 0, "{log}");
    let report = out.report();
    let ids: Vec<&str> = report.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["protocol/create"], "{log}");
    let timed: Vec<&String> = report.timings.cases.keys().collect();
    assert_eq!(timed, ["protocol/create"], "only the one case ran\n{log}");
    assert_eq!(report.totals.pass, 1, "{:?}", report.totals);

    // The same selection without the exclusions has all of them.
    let list = |extra: &[&str]| {
        let out = Command::new(exe())
            .current_dir(root())
            .args(["run", "--list", "--filter", "protocol/create*"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let mut all = list(&[]);
    all.sort();
    assert_eq!(all, ["protocol/create", "protocol/create-twice"]);
    assert_eq!(
        list(&["--exclude", "*-twice", "--exclude", "nothing/*"]),
        ["protocol/create"]
    );

    // A glob that does not parse stops the run before anything starts.
    let out = Command::new(exe())
        .current_dir(root())
        .args([
            "run",
            "--filter",
            "protocol/create",
            "--exclude",
            "protocol/[create",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad --exclude \"protocol/[create\""),
        "{stderr}"
    );
}

fn flakes(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("flakes.json")).expect("flakes.json");
    serde_json::from_str(&text).expect("flakes.json is JSON")
}

#[test]
fn repeat_with_no_change_exits_0_and_says_none_changed() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["--filter", "protocol/create*", "--repeat", "2"],
    );
    let log = out.log();
    assert_eq!(out.code, 0, "{log}");
    for k in 1..=2 {
        assert_eq!(
            lines_starting(
                &out.stdout,
                &format!("repetition {k}/2: 2 passed, 0 failed")
            )
            .len(),
            1,
            "{log}"
        );
    }
    assert!(
        out.stdout
            .contains("0 case(s) changed outcome over 2 repetitions"),
        "{log}"
    );
    assert_eq!(
        flakes(dir.path()),
        serde_json::json!({"repetitions": 2, "flaky": []})
    );
    assert_eq!(out.ids(Outcome::Pass).len(), 2, "{log}");

    // A single repetition leaves no flakes.json behind (not even this stale one).
    let again = run(dir.path(), &["--filter", "protocol/create"]);
    assert_eq!(again.code, 0, "{}", again.log());
    assert!(!dir.path().join("flakes.json").exists());
}

/// The case fails in the first repetition only: the run fails and names it.
#[test]
fn repeat_reports_a_case_whose_outcome_changed() {
    if !python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let adapter = format!(
        "python3 '{}' '{}' '{}' adapter --kdf m=7168,t=5,p=1",
        root().join("harness/cli/tests/flaky_adapter.py").display(),
        dir.path().join("failed-once").display(),
        exe()
    );
    let out = run(
        dir.path(),
        &[
            "--client-adapter",
            &adapter,
            "--filter",
            "wrong-passphrase/wrong-then-right",
            "--repeat",
            "2",
        ],
    );
    let log = out.log();
    assert_eq!(out.code, 1, "{log}");
    assert!(
        out.stdout
            .contains("FLAKY wrong-passphrase/wrong-then-right: fail, pass"),
        "{log}"
    );
    assert_eq!(
        flakes(dir.path()),
        serde_json::json!({"repetitions": 2, "flaky": [
            {"id": "wrong-passphrase/wrong-then-right", "outcomes": ["fail", "pass"]}
        ]})
    );
    // The report written is the last repetition's.
    assert_eq!(
        out.ids(Outcome::Pass),
        ["wrong-passphrase/wrong-then-right"]
    );
}
