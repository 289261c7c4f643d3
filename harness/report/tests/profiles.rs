//! Profiles and advisories in the report model (reports/README.md, "Profiles and
//! advisories"): the profile is read from the case id, every format groups by it and shows
//! the advisories in a section of their own without counting them, the schema takes them,
//! and a merge of shards joins their `shown_by` lists.

use backproof_report::{
    Advisory, Outcome, Report, merge, render_html, render_junit, render_markdown,
};
use common::{case, suite, target, timings};
use serde_json::Value;

mod common;

fn byok_case(rest: &str, outcome: Outcome) -> backproof_report::CaseResult {
    let mut c = case(rest, outcome, "e", "o", "");
    c.id = format!("byok-json-v1/{rest}");
    c
}

fn advisory(id: &str, shown_by: &[&str]) -> Advisory {
    Advisory {
        profile: "byok-json-v1".into(),
        id: id.into(),
        title: format!("title of {id}"),
        detail: format!("detail of {id}"),
        shown_by: shown_by.iter().map(|s| s.to_string()).collect(),
    }
}

fn mixed() -> Report {
    let cases = vec![
        case("conflict/two-devices-merge", Outcome::Pass, "e", "o", ""),
        byok_case("conflict/last-writer-wins", Outcome::Pass),
        byok_case("wrong-passphrase/wrong-passphrase", Outcome::PassAcceptable),
    ];
    let t = timings(&cases);
    let mut r = Report::from_cases(suite(), target("ref"), "local", cases, vec![], t);
    r.advisories = vec![
        advisory(
            "no-key-check",
            &["byok-json-v1/wrong-passphrase/wrong-passphrase"],
        ),
        advisory(
            "last-writer-wins",
            &["byok-json-v1/conflict/last-writer-wins"],
        ),
    ];
    r
}

#[test]
fn the_profile_comes_from_the_id_and_v1_keeps_its_ids() {
    let r = mixed();
    let profiles: Vec<&str> = r.cases.iter().map(|c| c.profile()).collect();
    assert_eq!(profiles, ["byok-json-v1", "byok-json-v1", "v1"]);
    assert_eq!(r.profiles(), ["v1", "byok-json-v1"]);
    let groups: Vec<(String, String)> = r
        .profile_families()
        .into_iter()
        .map(|(p, f, _)| (p, f))
        .collect();
    assert_eq!(
        groups,
        [
            ("v1".to_string(), "conflict".to_string()),
            ("byok-json-v1".into(), "conflict".into()),
            ("byok-json-v1".into(), "wrong-passphrase".into()),
        ]
    );
    assert_eq!(r.group_label("v1", "conflict"), "v1 · conflict");
}

#[test]
fn advisories_have_their_own_section_in_every_format_and_count_nowhere() {
    let r = mixed();
    assert_eq!(r.totals.total(), 3);
    assert!(r.unexcused_failures().is_empty());
    let md = render_markdown(&r);
    let section = md.find("### Advisories").expect("markdown section");
    assert!(md[section..].contains("`last-writer-wins`"));
    assert!(
        md.contains("byok\\-json\\-v1/conflict/last\\-writer\\-wins")
            || md.contains("byok-json-v1/conflict/last-writer-wins")
    );
    assert!(
        md.contains("<b>byok-json-v1 · wrong-passphrase</b>"),
        "{md}"
    );
    let junit = render_junit(&r);
    assert!(
        junit.contains("<testsuite name=\"advisories\" tests=\"0\" failures=\"0\" errors=\"0\"")
    );
    assert!(junit.contains("advisory:byok-json-v1/no-key-check"));
    // The JUnit totals are the cases', advisories add no test.
    assert!(
        junit.contains("tests=\"3\" failures=\"0\" errors=\"0\""),
        "{junit}"
    );
    let html = render_html(std::slice::from_ref(&r));
    assert!(html.contains("<section id=\"advisories\">"));
    assert!(html.contains("data-advisory=\"no-key-check\""));
    assert!(html.contains("<tr class=\"fam\" data-profile=\"byok-json-v1\">"));
    // A v1-only report renders as it always did: no section, no profile in the headings.
    let mut v1 = r.clone();
    v1.cases.retain(|c| c.profile() == "v1");
    v1.totals = backproof_report::Totals::from_cases(&v1.cases);
    v1.advisories.clear();
    assert!(!render_markdown(&v1).contains("Advisories"));
    assert!(render_markdown(&v1).contains("<b>conflict</b>"));
    assert!(!render_junit(&v1).contains("advisories"));
    assert!(!v1.to_json().contains("advisories"));
}

#[test]
fn advisories_validate_and_round_trip() {
    let v = jsonschema::validator_for(&common::report_schema()).unwrap();
    let r = mixed();
    let json: Value = serde_json::from_str(&r.to_json()).unwrap();
    assert!(v.is_valid(&json), "{json}");
    assert!(v.is_valid(&r.snapshot()));
    let mut bad = json.clone();
    bad["advisories"][0]["id"] = Value::String("Not An Id".into());
    assert!(!v.is_valid(&bad));
    let mut bad = json;
    bad["advisories"][0]
        .as_object_mut()
        .unwrap()
        .remove("shown_by");
    assert!(!v.is_valid(&bad));
    let back = Report::from_json_str(&r.to_json(), "mixed").unwrap();
    assert_eq!(back.advisories, r.advisories);
}

#[test]
fn merging_shards_joins_their_advisories() {
    let whole = mixed();
    let mut shards = Vec::new();
    for k in 1..=2 {
        let mut r = common::shard_of(&whole, k, 2);
        let mine: Vec<&str> = r.cases.iter().map(|c| c.id.as_str()).collect();
        // Each shard names only the cases it ran.
        r.advisories = whole
            .advisories
            .iter()
            .map(|a| Advisory {
                shown_by: a
                    .shown_by
                    .iter()
                    .filter(|id| mine.contains(&id.as_str()))
                    .cloned()
                    .collect(),
                ..a.clone()
            })
            .collect();
        shards.push((format!("shard-{k}.json"), r));
    }
    let merged = merge(&shards).unwrap();
    let mut want = whole.advisories.clone();
    want.sort();
    assert_eq!(merged.advisories, want);
}
