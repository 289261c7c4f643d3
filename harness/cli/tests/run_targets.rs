//! `backproof run` as a gate: against a server given by URL (`--server-url --tokens`), the
//! four files every run writes, `--baseline` and `--deviations`, and junit.xml from real
//! runs checked against the JUnit schema (harness/report/tests/data/junit.xsd).
//!
//! The URL server is the reference, started here as a separate process (`backproof serve`
//! with its own throwaway stack) and reached only through its URL and two minted tokens,
//! as a staging deployment would be. The injected failure is the reference server with a
//! lower body limit (`--server-arg=--max-blob-bytes=4096`), which fails
//! `protocol/body-limit`.
//!
//! xmllint (libxml2-utils) validates junit.xml; without it that check is skipped with a
//! note, unless BACKPROOF_REQUIRE_TOOLS=1 (CI), which makes a missing xmllint a failure.

use std::path::Path;
use std::process::Command;

use backproof_report::Outcome;
use common::url_server::UrlServer;
use common::{RunOut, root, run};

mod common;

// ---------------------------------------------------------------------------------------
// xmllint

fn require_xmllint() -> bool {
    common::tool_available(
        Command::new("xmllint").arg("--version"),
        "xmllint (apt-get install -y libxml2-utils), for the JUnit schema check",
    )
}

/// `xmllint --noout --schema junit.xsd FILE` must accept the file.
fn assert_junit_valid(path: &Path) {
    let xsd = root().join("harness/report/tests/data/junit.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg(path)
        .output()
        .expect("xmllint runs");
    assert!(
        out.status.success(),
        "{} does not validate against {}:\n{}\n{}",
        path.display(),
        xsd.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(path).unwrap_or_default()
    );
}

fn xpath(path: &Path, expr: &str) -> String {
    let out = Command::new("xmllint")
        .args(["--xpath", expr])
        .arg(path)
        .output()
        .expect("xmllint runs");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// API cases, client cases through the proxy, and cases a URL target cannot run (restart,
/// storage, failpoints, the S3 proxy). `protocol/create` after `protocol/create-twice` on the
/// same account passes only if every case starts from an empty account.
const URL_FILTER: &str = "{protocol/auth-missing,protocol/isolation-*,protocol/create*,\
                          conflict/two-devices-merge,mid-rotation-crash/lost-answer-retry,\
                          corrupted-blob/flip-tag,mid-rotation-crash/server-crash-every-api-step,\
                          mid-rotation-crash/failpoint-after-commit,\
                          mid-rotation-crash/storage-503-retry}";

#[test]
fn server_by_url_runs_the_api_cases_and_reports_the_rest_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let server = UrlServer::start(&dir.path().join("serve.log"));
    // Entries not named alice/bob: alice → carol, bob → dave (sorted order).
    let (carol, dave) = (server.token("carol"), server.token("dave"));
    let tokens = dir.path().join("tokens.toml");
    std::fs::write(
        &tokens,
        format!("[users]\ndave = \"{dave}\"\ncarol = \"{carol}\"\n"),
    )
    .unwrap();
    // Left-over state on the shared account: without the clearing DELETE, `protocol/create`
    // would get 409.
    assert_eq!(server.request("POST", &carol, &[7u8; 100]), 201);

    let out_dir = dir.path().join("out");
    let r = run(
        &out_dir,
        &[
            "--server-url",
            &server.url,
            "--tokens",
            tokens.to_str().unwrap(),
            "--filter",
            URL_FILTER,
        ],
    );
    let report = r.report();
    let log = r.log();
    assert_eq!(r.code, 0, "{log}");
    assert!(
        r.stderr.contains("alice → carol") && r.stderr.contains("bob → dave"),
        "{log}"
    );
    assert!(!r.stderr.contains(&carol), "a token was printed:\n{log}");

    let outcome = |id: &str| {
        report
            .case(id)
            .unwrap_or_else(|| panic!("{id} not in the report\n{log}"))
    };
    for id in [
        "protocol/auth-missing",
        "protocol/isolation-read",
        "protocol/isolation-write",
        "protocol/create",
        "protocol/create-twice",
        "conflict/two-devices-merge",
        "mid-rotation-crash/lost-answer-retry",
    ] {
        let c = outcome(id);
        assert!(
            c.outcome.is_passing(),
            "{id}: {} ({}; {})\n{log}",
            c.outcome,
            c.observed,
            c.reason
        );
    }
    for (id, missing) in [
        ("corrupted-blob/flip-tag", "storage-access"),
        (
            "mid-rotation-crash/server-crash-every-api-step",
            "server-restart",
        ),
        ("mid-rotation-crash/failpoint-after-commit", "failpoints"),
        ("mid-rotation-crash/storage-503-retry", "storage-access"),
    ] {
        let c = outcome(id);
        assert_eq!(c.outcome, Outcome::Unsupported, "{id}\n{log}");
        assert!(
            c.reason.contains(missing) && c.reason.contains("given by URL"),
            "{id}: {}",
            c.reason
        );
    }
    // 11 + the five protocol/isolation-override-* cases that `protocol/isolation-*` selects.
    assert_eq!(report.cases.len(), 16, "no vectors, no other case\n{log}");
    assert_eq!(report.target.server, format!("url: {}", server.url));
    for absent in ["server-restart", "storage-access", "failpoints"] {
        assert!(
            !report.target.capabilities.iter().any(|c| c == absent),
            "{:?}",
            report.target.capabilities
        );
    }
    assert!(report.stack.contains("given by URL"), "{}", report.stack);
    // The run wrote all four files and said so.
    for f in ["report.json", "report.md", "junit.xml", "report.html"] {
        let p = out_dir.join(f);
        assert!(p.is_file(), "{f} missing\n{log}");
        assert!(
            r.stdout.contains(&format!("wrote {}", p.display())),
            "{log}"
        );
    }
    if require_xmllint() {
        let junit = out_dir.join("junit.xml");
        assert_junit_valid(&junit);
        assert_eq!(
            xpath(
                &junit,
                "count(//testcase[@name='corrupted-blob/flip-tag']/skipped)"
            ),
            "1"
        );
    }
    // The server was not restarted: it still has carol's account and answers.
    assert!(matches!(server.request("GET", &carol, &[]), 200 | 404));

    // A token the server refuses: clearing the account fails, so the case is an `error`
    // that says why (not a pass, not a fail of the server).
    let bad = dir.path().join("bad-tokens.toml");
    std::fs::write(
        &bad,
        format!("[users]\nalice = \"{carol}\"\nbob = \"not-a-valid-token\"\n"),
    )
    .unwrap();
    let r = run(
        &dir.path().join("out-bad"),
        &[
            "--server-url",
            &server.url,
            "--tokens",
            bad.to_str().unwrap(),
            "--filter",
            "protocol/create",
        ],
    );
    let log = r.log();
    assert_eq!(r.code, 1, "{log}");
    let c = r.report().case("protocol/create").cloned().unwrap();
    assert_eq!(c.outcome, Outcome::Error, "{log}");
    assert!(
        c.reason.contains("clearing user bob") && c.reason.contains("answered 401"),
        "{}",
        c.reason
    );
}

#[test]
fn bad_url_targets_and_gate_files_exit_2_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let one_user = write("one.toml", "[users]\nalice = \"tok\"\n");
    let not_toml = write("garbage.toml", "this is = = not toml\n");
    let missing = dir.path().join("missing.toml");
    let missing = missing.to_str().unwrap();
    let two_users = write("two.toml", "[users]\nalice = \"a\"\nbob = \"b\"\n");
    let bad_devs = write("devs.toml", "[[deviation]]\ncase = \"protocol/x\"\n");
    let bad_baseline = write("baseline.json", "{\"not\": \"a report\"}");
    let url = "http://127.0.0.1:9";
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--server-url", url, "--tokens", missing],
            vec!["cannot read the tokens file", missing],
        ),
        (
            vec!["--server-url", url, "--tokens", &one_user],
            vec![&one_user, "1 entry", "at least 2 users"],
        ),
        (
            vec!["--server-url", url, "--tokens", &not_toml],
            vec![&not_toml, "not a valid tokens file"],
        ),
        (
            vec!["--server-url", url],
            vec!["--server-url needs --tokens FILE", "--server-cmd"],
        ),
        (
            vec!["--tokens", &two_users],
            vec!["--tokens is for a server given by --server-url"],
        ),
        (
            vec![
                "--server-url",
                "ftp://backup.example",
                "--tokens",
                &two_users,
            ],
            vec!["not supported", "https://host"],
        ),
        (
            vec!["--deviations", &bad_devs],
            vec![&bad_devs, "missing field `reason`"],
        ),
        (
            vec!["--baseline", &bad_baseline],
            vec!["--baseline", &bad_baseline, "not a backproof report"],
        ),
        (
            vec!["--baseline", missing],
            vec!["--baseline", "cannot read report", missing],
        ),
    ];
    for (args, needles) in cases {
        let r = run(&dir.path().join("out"), &args);
        assert_eq!(r.code, 2, "{args:?}\n{}", r.log());
        for n in needles {
            assert!(
                r.stderr.contains(n),
                "{args:?}: {n:?} not said\n{}",
                r.log()
            );
        }
        // Refused before anything ran: no report.
        assert!(!dir.path().join("out/report.json").exists(), "{args:?}");
    }
}

// ---------------------------------------------------------------------------------------
// One injected failure, the four files, the gate

const FAILING: &str = "protocol/body-limit";
const GATE_FILTER: &str = "{protocol/body-limit,protocol/create,protocol/auth-missing}";

fn broken_run(dir: &Path, extra: &[&str]) -> RunOut {
    let mut args = vec![
        "--filter",
        GATE_FILTER,
        "--server-arg=--max-blob-bytes=4096",
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

#[test]
fn one_injected_failure_is_in_all_four_files_and_drives_the_gate() {
    let tmp = tempfile::tempdir().unwrap();

    // 1. No baseline: the failure fails the run, and every file shows it.
    let r = broken_run(&tmp.path().join("plain"), &[]);
    let log = r.log();
    assert_eq!(r.code, 1, "{log}");
    let report = r.report();
    let failed: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| c.outcome.is_failing())
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(failed, [FAILING], "{log}");
    let case = report.case(FAILING).unwrap();
    assert_eq!(case.outcome, Outcome::Fail);
    assert!(
        case.observed.starts_with("413"),
        "{}: {}",
        case.expected,
        case.observed
    );
    assert!(report.timings.started_at.ends_with('Z'), "RFC 3339 UTC");

    let md = r.file("report.md");
    let failures = &md[md.find("### Failures").expect("failures section")..];
    let failures = &failures[..failures.find("<details").unwrap_or(failures.len())];
    assert!(failures.contains(FAILING), "{md}");
    assert!(
        failures.contains(&format!("expected: {}", case.expected)),
        "{md}"
    );

    let junit_path = r.dir.join("junit.xml");
    let junit = r.file("junit.xml");
    assert!(junit.contains(&format!("name=\"{FAILING}\"")), "{junit}");
    if require_xmllint() {
        assert_junit_valid(&junit_path);
        assert_eq!(
            xpath(
                &junit_path,
                &format!("count(//testcase[@name='{FAILING}']/failure)")
            ),
            "1"
        );
        assert_eq!(xpath(&junit_path, "count(//failure)"), "1");
        assert_eq!(
            xpath(
                &junit_path,
                "string(//testsuite[@name='backproof']/@timestamp)"
            ),
            report.timings.started_at.trim_end_matches('Z')
        );
    }

    let html = r.file("report.html");
    assert!(
        html.contains(&format!(
            "class=\"cell o-fail\" href=\"#case={FAILING}&amp;report=0\""
        )),
        "no failing cell for {FAILING}"
    );

    // The three gated runs below are independent: run them at once to keep the test short.
    let mut passed = report.clone();
    for c in &mut passed.cases {
        if c.id == FAILING {
            c.outcome = Outcome::Pass;
        }
    }
    passed.totals = backproof_report::Totals::from_cases(&passed.cases);
    let passing_baseline = tmp.path().join("baseline-pass.json");
    std::fs::write(&passing_baseline, passed.snapshot_json()).unwrap();
    let failing_baseline = tmp.path().join("baseline-fail.json");
    std::fs::write(&failing_baseline, report.snapshot_json()).unwrap();
    let devs = tmp.path().join("deviations.toml");
    std::fs::write(
        &devs,
        format!(
            "[[deviation]]\ncase = \"{FAILING}\"\nreason = \"our proxy caps bodies at 4 KiB\"\n\n\
             [[deviation]]\ncase = \"protocol/no-such-case\"\nreason = \"left over\"\n"
        ),
    )
    .unwrap();
    let (regressed, known, deviated) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            broken_run(
                &tmp.path().join("regressed"),
                &["--baseline", passing_baseline.to_str().unwrap()],
            )
        });
        let b = s.spawn(|| {
            broken_run(
                &tmp.path().join("known"),
                &["--baseline", failing_baseline.to_str().unwrap()],
            )
        });
        let c = s.spawn(|| {
            broken_run(
                &tmp.path().join("deviated"),
                &["--deviations", devs.to_str().unwrap()],
            )
        });
        (a.join().unwrap(), b.join().unwrap(), c.join().unwrap())
    });

    // 2. A baseline in which the case passed: a regression, exit 1, named.
    let r = regressed;
    assert_eq!(r.code, 1, "{}", r.log());
    assert!(
        r.stdout
            .contains(&format!("REGRESSION {FAILING}: pass -> fail")),
        "{}",
        r.log()
    );
    assert!(
        r.stdout.contains("gate: FAILED, 1 unexcused regression(s)"),
        "{}",
        r.log()
    );

    // 3. A baseline in which it already failed: no regression, exit 0.
    let r = known;
    assert_eq!(r.code, 0, "{}", r.log());
    assert!(r.stdout.contains("gate: passed"), "{}", r.log());
    assert_eq!(r.report().case(FAILING).unwrap().outcome, Outcome::Fail);

    // 4. A deviation for the case: exit 0, shown in the files; a stale one is reported.
    let r = deviated;
    let log = r.log();
    assert_eq!(r.code, 0, "{log}");
    assert!(
        r.stdout.contains(&format!(
            "gate: excused by deviation {FAILING}: our proxy caps"
        )),
        "{log}"
    );
    assert!(
        r.stdout
            .contains("gate: note: deviation protocol/no-such-case (no such case in this run)"),
        "{log}"
    );
    let dev_report = r.report();
    assert_eq!(dev_report.deviations.len(), 2, "never dropped");
    assert_eq!(
        dev_report.deviation(FAILING).unwrap().reason,
        "our proxy caps bodies at 4 KiB"
    );
    assert_eq!(dev_report.case(FAILING).unwrap().outcome, Outcome::Fail);
    let md = r.file("report.md");
    let known = &md[md.find("### Known deviations").expect("deviations section")..];
    assert!(
        known.contains(&format!(
            "| {FAILING} | fail | our proxy caps bodies at 4 KiB |"
        )),
        "{md}"
    );
    assert!(
        known.contains("- protocol/no-such-case: no such case in this run"),
        "{md}"
    );
    assert!(!md.contains("### Failures"), "{md}");
    let junit_path = r.dir.join("junit.xml");
    if require_xmllint() {
        assert_junit_valid(&junit_path);
        assert_eq!(
            xpath(
                &junit_path,
                &format!("string(//testcase[@name='{FAILING}']/skipped/@type)")
            ),
            "known-deviation"
        );
    }
    assert!(
        r.file("report.html")
            .contains("our proxy caps bodies at 4 KiB")
    );
}
