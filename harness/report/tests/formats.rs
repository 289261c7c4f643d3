//! One crafted report with one injected failure, rendered in all four formats: the failure
//! (id, expected, observed) must be found where each format puts it, deviations must never
//! be dropped, and hostile text must not break any format.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use backproof_report::{
    Outcome, Report, apply_deviations, render_html, render_junit, render_markdown,
};
use common::*;

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report-formats")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

/// Missing tools skip with a printed reason; `BACKPROOF_REQUIRE_TOOLS=1` (set in CI) turns
/// that into a failure so a CI without the tool cannot pass by skipping.
fn require(tool: &str, package: &str) -> bool {
    if have(tool) {
        return true;
    }
    let msg = format!(
        "{tool} not installed (apt-get install -y {package}); skipping the check that needs it"
    );
    if std::env::var("BACKPROOF_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
        panic!("{msg} — but BACKPROOF_REQUIRE_TOOLS=1");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

fn xsd() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd")
}

/// Validates with xmllint against the JUnit schema; returns xmllint's complaint on failure.
fn xmllint_validate(xml: &str, name: &str) -> Result<(), String> {
    let path = out_dir(name).join("junit.xml");
    std::fs::write(&path, xml).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(xsd())
        .arg(&path)
        .output()
        .expect("xmllint runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn xpath(xml: &str, name: &str, expr: &str) -> String {
    let path = out_dir(name).join("xpath.xml");
    std::fs::write(&path, xml).unwrap();
    let out = Command::new("xmllint")
        .args(["--xpath", expr])
        .arg(&path)
        .output()
        .expect("xmllint runs");
    // xmllint ends its answer with one newline of its own.
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.strip_suffix('\n').map(str::to_string).unwrap_or(s)
}

#[test]
fn injected_failure_in_json() {
    let report = report_with_one_failure();
    let json = report.to_json();
    let back = Report::from_json_str(&json, "rendered").unwrap();
    assert_eq!(back, report, "JSON round-trips to the same model");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let failing: Vec<&serde_json::Value> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .collect();
    assert_eq!(failing.len(), 1);
    assert_eq!(failing[0]["id"], FAILING_ID);
    assert_eq!(failing[0]["expected"], FAILING_EXPECTED);
    assert_eq!(failing[0]["observed"], FAILING_OBSERVED);
    assert_eq!(v["totals"]["fail"], 1);
    assert_eq!(v["totals"]["pass"], 7);
}

#[test]
fn injected_failure_in_markdown_comes_first() {
    let md = render_markdown(&report_with_one_failure());
    assert!(md.contains("❌ 1 failing case(s)"), "{md}");
    let failures = md.find("### Failures").expect("a failures section");
    let first_family = md.find("<details").expect("per-family tables");
    assert!(
        failures < first_family,
        "failures come before the family tables"
    );
    let section = &md[failures..first_family];
    assert!(section.contains(FAILING_ID), "{section}");
    assert!(
        section.contains(&format!("expected: {FAILING_EXPECTED}")),
        "{section}"
    );
    // `'` is not Markdown-special, `;` neither: the observed text appears verbatim.
    assert!(
        section.contains(&format!("observed: {FAILING_OBSERVED}")),
        "{section}"
    );
    // Only the failure is in the failures section.
    assert!(!section.contains("conflict/two-writers"));
    // One table per family, each with its cases.
    for f in [
        "vectors",
        "conflict",
        "wrong-passphrase",
        "corrupted-blob",
        "mid-rotation-crash",
        "smart-recovery",
        "protocol",
    ] {
        assert!(
            md.contains(&format!("<summary><b>{f}</b>")),
            "family {f} has a table"
        );
    }
    let conflict = &md[md.find("<summary><b>conflict</b>").unwrap()..];
    assert!(
        conflict.starts_with("<summary><b>conflict</b> — 1 pass-acceptable, 1 fail"),
        "{conflict}"
    );
    assert!(
        md.contains("| 7 | 1 | 1 | 1 | 0 | 10 |"),
        "totals row: {md}"
    );
}

#[test]
fn injected_failure_in_junit_validates_against_the_schema() {
    let report = report_with_one_failure();
    let xml = render_junit(&report);
    if !require("xmllint", "libxml2-utils") {
        assert!(xml.contains(FAILING_ID));
        return;
    }
    xmllint_validate(&xml, "one-failure")
        .unwrap_or_else(|e| panic!("junit.xml invalid:\n{e}\n{xml}"));
    let q = |e: &str| xpath(&xml, "one-failure", e);
    assert_eq!(q("count(//testsuite[@name='conflict'])"), "1");
    assert_eq!(q("count(//testcase)"), "10", "one testcase per case");
    assert_eq!(
        q("count(//testsuite[testcase])"),
        "7",
        "one suite per family"
    );
    assert_eq!(q("count(//testcase/failure)"), "1");
    assert_eq!(q("string(//testcase[failure]/@name)"), FAILING_ID);
    assert_eq!(q("string(//testsuite[@name='conflict']/@failures)"), "1");
    let message = q("string(//testcase[failure]/failure/@message)");
    assert_eq!(
        message,
        format!("expected {FAILING_EXPECTED}; observed {FAILING_OBSERVED}")
    );
    let body = q("string(//testcase[failure]/failure)");
    assert!(
        body.contains(&format!("expected: {FAILING_EXPECTED}")),
        "{body}"
    );
    assert!(
        body.contains(&format!("observed: {FAILING_OBSERVED}")),
        "{body}"
    );
    // unsupported → skipped with its reason; nothing is an error.
    let skipped =
        q("string(//testcase[@name='mid-rotation-crash/kill-after-upload']/skipped/@message)");
    assert_eq!(
        skipped,
        "unsupported: target given by URL: cannot restart the server"
    );
    assert_eq!(q("count(//testcase/error)"), "0");
    assert_eq!(q("string(/testsuites/@failures)"), "1");
    assert_eq!(q("sum(//testsuite/@skipped)"), "1");
    assert_eq!(q("string(/testsuites/@tests)"), "10");
}

#[test]
fn injected_failure_in_html() {
    let html = render_html(&[report_with_one_failure()]);
    let cell = format!("data-case=\"{FAILING_ID}\" data-report=\"0\" data-outcome=\"fail\"");
    assert!(html.contains(&cell), "the grid has the failing cell");
    assert_eq!(
        html.matches("<a class=\"cell o-fail").count(),
        1,
        "one failing cell in the grid"
    );
    // Listed up front, readable without the script.
    let failures = &html[html
        .find("<section id=\"failures\">")
        .expect("failures section")..];
    let failures = &failures[..failures.find("</section>").unwrap()];
    assert_eq!(failures.matches("<tr class=\"failure\">").count(), 1);
    assert!(failures.contains(&format!("<code>{FAILING_ID}</code>")));
    assert!(failures.contains(&format!("<td>{FAILING_EXPECTED}</td><td>second writer got 200; the first writer&#39;s contacts were lost</td>")), "{failures}");
    // Detail data for the panel (JSON with <>& escaped, the rest verbatim).
    let data_start = html
        .find("<script type=\"application/json\" id=\"report-data\">")
        .unwrap();
    let data_end = data_start + html[data_start..].find("</script>").unwrap();
    let json = &html[data_start..data_end];
    let json = &json[json.find('>').unwrap() + 1..];
    let data: serde_json::Value = serde_json::from_str(json).unwrap();
    let case = data["reports"][0]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == FAILING_ID)
        .unwrap();
    assert_eq!(case["expected"], FAILING_EXPECTED);
    assert_eq!(case["observed"], FAILING_OBSERVED);
    assert_eq!(case["outcome"], "fail");
    // Self-contained: nothing to fetch.
    for needle in ["<link", " src=", "@import", "url("] {
        assert!(
            !html.contains(needle),
            "HTML must not load anything ({needle})"
        );
    }
}

#[test]
fn deviations_are_shown_in_every_format() {
    let mut report = report_with_one_failure();
    let reason = "our gateway answers 200 and we reconcile later";
    apply_deviations(
        &mut report,
        &[
            deviation(FAILING_ID, reason),
            deviation("protocol/not-a-case", "left over from 1.x"),
        ],
    );
    // JSON
    let back = Report::from_json_str(&report.to_json(), "json").unwrap();
    assert_eq!(back.deviations.len(), 2);
    assert_eq!(back.deviation(FAILING_ID).unwrap().reason, reason);
    // Markdown: no longer an unexcused failure, listed with its reason and what was seen.
    let md = render_markdown(&report);
    assert!(!md.contains("### Failures"), "{md}");
    assert!(md.contains("no failures beyond known deviations"));
    let devs = &md[md.find("### Known deviations").expect("deviations section")..];
    assert!(
        devs.contains(&format!(
            "| {FAILING_ID} | fail | {reason} | {FAILING_EXPECTED} | {FAILING_OBSERVED} |"
        )),
        "{devs}"
    );
    assert!(devs.contains("| protocol/not-a-case | not in this run | left over from 1.x |"));
    // A stale entry is listed as such (delete it), the live one is not.
    let stale = &devs[devs.find("Stale deviations").expect("stale list")..];
    let stale = &stale[..stale.find("<details").unwrap_or(stale.len())];
    assert!(
        stale.contains("- protocol/not-a-case: no such case in this run"),
        "{stale}"
    );
    assert!(!stale.contains(FAILING_ID), "{stale}");
    assert!(md.contains(&format!("❌ fail (known deviation: {reason})")));
    // JUnit: skipped with the deviation, the reason also as a property; still valid.
    let xml = render_junit(&report);
    if require("xmllint", "libxml2-utils") {
        xmllint_validate(&xml, "deviations").unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let q = |e: &str| xpath(&xml, "deviations", e);
        assert_eq!(q("count(//testcase/failure)"), "0");
        let msg = q(&format!(
            "string(//testcase[@name='{FAILING_ID}']/skipped/@message)"
        ));
        assert_eq!(msg, format!("known deviation (fail): {reason}"));
        let body = q(&format!("string(//testcase[@name='{FAILING_ID}']/skipped)"));
        assert!(body.contains(FAILING_OBSERVED));
        assert_eq!(
            q("string(//property[@name='deviation:protocol/not-a-case']/@value)"),
            "left over from 1.x"
        );
    } else {
        assert!(xml.contains(reason));
    }
    // HTML: a deviations section, the cell marked, the reason in the detail data.
    let html = render_html(&[report]);
    let section = &html[html
        .find("<section id=\"deviations\">")
        .expect("deviations section")..];
    assert!(section.contains(reason) && section.contains("left over from 1.x"));
    assert!(
        section.contains("<b class=\"stale\">stale: no such case in this run</b>"),
        "{section}"
    );
    assert_eq!(section.matches("class=\"stale\"").count(), 1, "{section}");
    assert!(html.contains(&format!(
        "class=\"cell o-fail dev\" href=\"#case={FAILING_ID}&amp;report=0\""
    )));
    assert!(html.contains(&format!("\"deviation\":\"{reason}\"")));
}

/// Reports written before `started_at` was RFC 3339 carry `unix:<secs>`, which made every
/// `<testsuite timestamp>` invalid; JUnit now writes the xs:dateTime form or leaves it out.
#[test]
fn junit_timestamp_is_a_datetime_or_absent() {
    let mut report = report_with_one_failure();
    let xml = render_junit(&report);
    assert!(xml.contains(" timestamp=\"2026-11-23T14:00:00\""), "{xml}");
    report.timings.started_at = "unix:1795455579".into();
    let xml = render_junit(&report);
    assert!(!xml.contains("timestamp="), "{xml}");
    if require("xmllint", "libxml2-utils") {
        xmllint_validate(&xml, "old-timestamp").unwrap_or_else(|e| panic!("{e}\n{xml}"));
    }
}

#[test]
fn hostile_text_cannot_break_any_format() {
    let nasty = "a|b <b>bold</b> </script><script>alert(1)</script> & \"q\" 'a' ]]> \u{1}ctl\nline2 *x* `y` [l](u)";
    let mut cases = cases_with_one_failure();
    for c in cases.iter_mut().filter(|c| c.id == FAILING_ID) {
        c.expected = nasty.into();
        c.observed = nasty.into();
        c.title = nasty.into();
    }
    cases.push(case(
        "protocol/<weird> & \"id\"+x",
        Outcome::Error,
        nasty,
        nasty,
        nasty,
    ));
    let t = timings(&cases);
    let report = Report::from_cases(
        suite(),
        target("x"),
        nasty,
        cases,
        vec![deviation("protocol/x", nasty)],
        t,
    );

    // JSON round trip keeps every byte.
    let back = Report::from_json_str(&report.to_json(), "json").unwrap();
    assert_eq!(back.case(FAILING_ID).unwrap().observed, nasty);

    // HTML: exactly the two scripts we wrote, and the data decodes back to the same text.
    let html = render_html(std::slice::from_ref(&report));
    assert_eq!(
        html.matches("<script").count(),
        2,
        "no injected script element"
    );
    assert!(!html.contains("<b>bold"));
    assert!(html.contains("case=protocol/%3Cweird%3E%20%26%20%22id%22%2Bx&amp;report=0"));

    // Markdown: every table row keeps its column count (6 pipes for 5 columns).
    let md = render_markdown(&report);
    for line in md
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("protocol/"))
    {
        let unescaped = line
            .match_indices('|')
            .filter(|(i, _)| *i == 0 || &line[i - 1..*i] != "\\")
            .count();
        assert_eq!(unescaped, 6, "row broke: {line}");
    }
    assert!(!md.contains("<b>bold"));
    assert!(!md.contains('\u{1}'));

    // JUnit: still schema-valid, and the text reads back intact where XML allows it.
    let xml = render_junit(&report);
    if require("xmllint", "libxml2-utils") {
        xmllint_validate(&xml, "hostile").unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let msg = xpath(
            &xml,
            "hostile",
            &format!("string(//testcase[@name='{FAILING_ID}']/failure/@message)"),
        );
        assert!(
            msg.starts_with("expected a|b <b>bold</b> </script>"),
            "{msg}"
        );
        assert!(
            msg.contains("\\u{1}ctl\nline2"),
            "control char made visible, newline kept: {msg:?}"
        );
        assert_eq!(xpath(&xml, "hostile", "count(//testcase/error)"), "1");
    }
}

#[test]
fn large_markdown_stays_under_the_step_summary_limit() {
    let mut cases = Vec::new();
    for i in 0..6000 {
        cases.push(case(
            &format!("vectors/big/{i:05}"),
            Outcome::Pass,
            &"x".repeat(80),
            &"x".repeat(80),
            "",
        ));
    }
    cases.push(case(
        FAILING_ID,
        Outcome::Fail,
        FAILING_EXPECTED,
        FAILING_OBSERVED,
        "r",
    ));
    let t = timings(&cases);
    let report = Report::from_cases(suite(), target("x"), "s", cases, vec![], t);
    let md = render_markdown(&report);
    assert!(md.len() < 1024 * 1024, "{} bytes", md.len());
    assert!(md.contains(&format!("observed: {FAILING_OBSERVED}")));
    assert!(md.contains("6000 passing case(s) left out"));
}

#[test]
fn the_junit_schema_is_not_vacuous() {
    if !require("xmllint", "libxml2-utils") {
        return;
    }
    let good = render_junit(&report_with_one_failure());
    // Each mutation breaks a rule CI readers rely on.
    let broken = [
        good.replacen(" tests=\"1\"", "", 1),
        good.replacen(
            "<failure type=\"fail\"",
            "<error/><failure type=\"fail\"",
            1,
        ),
        good.replacen("failures=\"1\"", "failures=\"one\"", 1),
        good.replacen("<testcase ", "<case ", 1),
    ];
    for (i, xml) in broken.iter().enumerate() {
        assert_ne!(xml, &good, "mutation {i} applies");
        assert!(
            xmllint_validate(xml, &format!("broken-{i}")).is_err(),
            "mutation {i} must be rejected"
        );
    }
}
