//! `backproof run --profile` (docs/SCENARIOS.md "Profiles", docs/GATE.md): v1 and
//! byok-json-v1 cases side by side in one report with v1's ids unchanged, the advisories in
//! a section of their own in all four formats (never counted), a profile the adapter does
//! not offer reported `unsupported` with the reason, and an unknown profile refused with the
//! list of known ones.

use std::process::Command;

use backproof_report::Outcome;
use common::{exe, root, run};

mod common;

/// One v1 scenario, two byok-json-v1 scenarios, one vector of each (byok tcId 12 derives
/// at 100 000 PBKDF2 rounds, not the design's 600 000, to stay quick on a loaded machine).
const FILTER: &str = "{protocol/get-none,byok-json-v1/wrong-passphrase/wrong-passphrase,byok-json-v1/conflict/last-writer-wins,vectors/blob-v1/1,byok-json-v1/vectors/byok-json-v1/12}";

#[test]
fn profile_all_puts_v1_and_byok_side_by_side_with_advisories_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--profile", "all", "--filter", FILTER]);
    let r = out.report();
    let ids: Vec<&str> = r.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "byok-json-v1/conflict/last-writer-wins",
            "byok-json-v1/vectors/byok-json-v1/12",
            "byok-json-v1/wrong-passphrase/wrong-passphrase",
            "protocol/get-none",
            "vectors/blob-v1/1",
        ],
        "{}",
        out.log()
    );
    for c in &r.cases {
        let expected_profile = if c.id.starts_with("byok-json-v1/") {
            "byok-json-v1"
        } else {
            "v1"
        };
        assert_eq!(c.profile(), expected_profile, "{}", c.id);
        if expected_profile == "v1" {
            assert_eq!(c.outcome, Outcome::Pass, "{c:?}\n{}", out.log());
        } else {
            // Passing when the reference adapter serves the profile; until then every case
            // of it says why it did not run — never a silent skip, never a failure.
            assert!(
                c.outcome.is_passing()
                    || (c.outcome == Outcome::Unsupported
                        && c.reason.contains("does not offer profile byok-json-v1")),
                "{c:?}\n{}",
                out.log()
            );
        }
    }
    // Advisories: the profile's three, never counted as cases.
    let adv: Vec<(&str, &str)> = r
        .advisories
        .iter()
        .map(|a| (a.profile.as_str(), a.id.as_str()))
        .collect();
    assert_eq!(
        adv,
        [
            ("byok-json-v1", "no-key-check"),
            ("byok-json-v1", "last-writer-wins"),
            ("byok-json-v1", "final-path-gap"),
        ]
    );
    assert_eq!(r.totals.total() as usize, r.cases.len());
    // Guess rates are measured for noah-v0's kdf-weak only: no noah-v0 case, none.
    assert!(r.kdf_speed.is_none(), "{:?}", r.kdf_speed);
    // Each advisory lists the passing cases whose scenario `shows` it, and no other.
    let conflict = r.case("byok-json-v1/conflict/last-writer-wins").unwrap();
    let wrong = r
        .case("byok-json-v1/wrong-passphrase/wrong-passphrase")
        .unwrap();
    let listed = |i: usize| -> Vec<String> { r.advisories[i].shown_by.clone() };
    fn if_passing(c: &backproof_report::CaseResult) -> Vec<String> {
        if c.outcome.is_passing() {
            vec![c.id.clone()]
        } else {
            vec![]
        }
    }
    assert_eq!(listed(0), if_passing(wrong));
    assert_eq!(listed(1), if_passing(conflict));
    assert!(listed(2).is_empty());
    let json = out.file("report.json");
    assert!(json.contains("\"advisories\""), "report.json");
    let md = out.file("report.md");
    assert!(
        md.contains("### Advisories") && md.contains("`last-writer-wins`"),
        "{md}"
    );
    assert!(md.contains("byok-json-v1 · conflict"), "{md}");
    let junit = out.file("junit.xml");
    assert!(
        junit.contains("<testsuite name=\"advisories\" tests=\"0\" failures=\"0\"")
            && junit.contains("advisory:byok-json-v1/no-key-check"),
        "{junit}"
    );
    assert!(junit.contains("name=\"v1 · protocol\""), "{junit}");
    let html = out.file("report.html");
    assert!(
        html.contains("<section id=\"advisories\">")
            && html.contains("data-advisory=\"final-path-gap\""),
        "report.html has no advisories section"
    );
    assert!(
        html.contains("<tr class=\"fam\" data-profile=\"byok-json-v1\">"),
        "report.html has no profile axis"
    );
}

#[test]
fn a_v1_run_has_no_advisories_and_keeps_its_ids() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--filter", "protocol/get-none"]);
    let r = out.report();
    assert_eq!(r.cases.len(), 1, "{}", out.log());
    assert_eq!(r.cases[0].id, "protocol/get-none");
    assert!(r.advisories.is_empty());
    assert!(r.kdf_speed.is_none());
    assert!(!out.file("report.json").contains("advisories"));
    assert!(!out.file("report.json").contains("kdf_speed"));
    assert!(!out.file("report.md").contains("Advisories"));
    assert!(!out.file("junit.xml").contains("advisories"));
}

#[test]
fn an_unknown_profile_is_refused_with_the_known_ones() {
    for sub in [&["run", "--list"][..], &["vectors", "check"][..]] {
        let out = Command::new(exe())
            .current_dir(root())
            .args(sub)
            .args(["--profile", "bogus"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{sub:?}: {err}");
        assert!(
            err.contains("unknown profile \"bogus\"") && err.contains("v1, byok-json-v1"),
            "{sub:?}: {err}"
        );
    }
}

#[test]
fn byok_vectors_check_in_process_and_list_the_profile_ids() {
    let out = Command::new(exe())
        .current_dir(root())
        .args([
            "vectors",
            "check",
            "--profile",
            "byok-json-v1",
            "--verbose",
            "--filter",
            "byok-json-v1/1[0-9][0-9]",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // tcIds 100..=122 of the file, each checked against the reference codec.
    assert!(stdout.contains("pass byok-json-v1/100 "), "{stdout}");
    assert!(
        stdout
            .trim_end()
            .ends_with("23 passed, 0 failed, 0 unsupported"),
        "{stdout}"
    );
}
