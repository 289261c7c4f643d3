//! Measured guess rates beside an advisory (reports/README.md "Measured guess rates"): in
//! the full report and every rendering, next to their advisory only; never in the
//! snapshot; through JSON, the schema and a merge of shards intact.

use backproof_report::{
    Advisory, GuessRate, KdfSpeed, Outcome, Report, merge, render_html, render_junit,
    render_markdown,
};
use common::{case, suite, target, timings};
use serde_json::Value;

mod common;

type Mutation = fn(&mut Value);

fn noah_case(rest: &str) -> backproof_report::CaseResult {
    let mut c = case(rest, Outcome::Pass, "ok", "ok", "");
    c.id = format!("noah-v0/{rest}");
    c
}

fn advisory(id: &str) -> Advisory {
    Advisory {
        profile: "noah-v0".into(),
        id: id.into(),
        title: format!("title of {id}"),
        detail: format!("detail of {id}"),
        shown_by: vec![],
    }
}

fn speed(design_ns: u64) -> KdfSpeed {
    KdfSpeed {
        profile: "noah-v0".into(),
        advisory: "kdf-weak".into(),
        design: GuessRate::new("PBKDF2-HMAC-SHA256, 10000 iterations", 90, design_ns),
        argon2id: GuessRate::new("Argon2id m=187392,t=1,p=1", 2, 750_000_000),
        target_ms: [500, 1000],
    }
}

fn noah() -> Report {
    let cases = vec![
        noah_case("vectors/noah-v0/1"),
        noah_case("vectors/noah-v0/2"),
        noah_case("vectors/noah-v0/3"),
    ];
    let t = timings(&cases);
    let mut r = Report::from_cases(suite(), target("ref"), "local", cases, vec![], t);
    r.advisories = vec![
        advisory("no-key-check"),
        advisory("kdf-weak"),
        advisory("deterministic-salt"),
    ];
    r
}

fn measured() -> Report {
    let mut r = noah();
    r.kdf_speed = Some(speed(3_000_000));
    r
}

#[test]
fn the_full_report_has_it_and_the_snapshot_does_not() {
    let r = measured();
    let json: Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["kdf_speed"]["advisory"], "kdf-weak");
    assert_eq!(json["kdf_speed"]["design"]["guesses_per_second"], 333.333);
    assert_eq!(json["kdf_speed"]["argon2id"]["guesses_per_second"], 1.333);
    assert!(r.snapshot().get("kdf_speed").is_none());
    // The deterministic part is the same whether or not (and whatever) was measured.
    assert_eq!(r.snapshot_json(), noah().snapshot_json());
    let mut other = r.clone();
    other.kdf_speed = Some(speed(7_000_000));
    assert_eq!(r.snapshot_json(), other.snapshot_json());
    // Without a measurement the field is absent, not null.
    assert!(!noah().to_json().contains("kdf_speed"));
}

#[test]
fn it_survives_json_and_a_snapshot_loads_without_it() {
    let r = measured();
    let back = Report::from_json_str(&r.to_json(), "measured").unwrap();
    assert_eq!(back, r);
    let snap = Report::from_json_str(&r.snapshot_json(), "snapshot").unwrap();
    assert_eq!(snap.kdf_speed, None);
}

#[test]
fn the_schema_takes_it_and_refuses_a_broken_one() {
    let v = jsonschema::validator_for(&common::report_schema()).unwrap();
    let json: Value = serde_json::from_str(&measured().to_json()).unwrap();
    assert!(v.is_valid(&json), "{json}");
    let broken: [(&str, Mutation); 4] = [
        ("no argon2id", |j| {
            j["kdf_speed"].as_object_mut().unwrap().remove("argon2id");
        }),
        ("a zero rate", |j| {
            j["kdf_speed"]["design"]["guesses_per_second"] = 0.into()
        }),
        ("three target bounds", |j| {
            j["kdf_speed"]["target_ms"] = serde_json::json!([500, 1000, 2000])
        }),
        ("an unknown field", |j| j["kdf_speed"]["ratio"] = 250.into()),
    ];
    for (what, mutate) in broken {
        let mut bad = json.clone();
        mutate(&mut bad);
        assert!(!v.is_valid(&bad), "{what} passed the schema");
    }
}

/// The text of `speed.describe()` the formats escape differently; these words need no
/// escaping in any of them.
const SHOWN: &str = "333 guesses/s per core";

#[test]
fn every_format_shows_it_next_to_its_advisory_only() {
    let r = measured();
    let line = r.kdf_speed.as_ref().unwrap().describe();
    assert!(
        line.contains(SHOWN) && line.contains("1.33 guesses/s per core"),
        "{line}"
    );

    let md = render_markdown(&r);
    let row = md
        .lines()
        .find(|l| l.contains("`kdf-weak`"))
        .expect("the kdf-weak row");
    assert!(row.contains(SHOWN), "{row}");
    assert_eq!(md.matches(SHOWN).count(), 1, "{md}");

    let junit = render_junit(&r);
    let out = &junit[junit.find("<system-out>").unwrap()..junit.find("</system-out>").unwrap()];
    let kdf = out.find("] kdf-weak:").unwrap();
    let next = out.find("] deterministic-salt:").unwrap();
    assert!(out[kdf..next].contains(SHOWN), "{out}");
    assert_eq!(junit.matches(SHOWN).count(), 1, "{junit}");

    let html = render_html(std::slice::from_ref(&r));
    let item = html
        .split("<li class=\"advisory\"")
        .find(|li| li.contains("data-advisory=\"kdf-weak\""))
        .expect("the kdf-weak item");
    let item = &item[..item.find("</li>").unwrap()];
    assert!(
        item.contains("<span class=\"kdf-speed\">") && item.contains(SHOWN),
        "{item}"
    );

    // Figures for an advisory the report does not have are shown nowhere.
    let mut stray = r.clone();
    stray.kdf_speed.as_mut().unwrap().profile = "metamask-vault".into();
    assert!(!render_markdown(&stray).contains(SHOWN));
    assert!(!render_junit(&stray).contains(SHOWN));
    let html = render_html(std::slice::from_ref(&stray));
    assert!(!html.contains("class=\"kdf-speed\">"), "{html}");
}

#[test]
fn a_merge_keeps_the_lowest_shards_measurement_whole() {
    let whole = noah();
    let mut shards = Vec::new();
    for k in 1..=3 {
        let mut r = common::shard_of(&whole, k, 3);
        r.advisories = whole.advisories.clone();
        // Shard 1 failed to measure; 2 and 3 measured different figures.
        if k > 1 {
            r.kdf_speed = Some(speed(k as u64 * 1_000_000));
        }
        shards.push((format!("shard-{k}.json"), r));
    }
    let want = speed(2_000_000);
    let merged = merge(&shards).unwrap();
    assert_eq!(merged.kdf_speed.as_ref(), Some(&want));
    shards.reverse();
    let merged = merge(&shards).unwrap();
    assert_eq!(merged.kdf_speed.as_ref(), Some(&want));
    assert_eq!(merged.snapshot_json(), whole.snapshot_json());
    // Through the files a merge really reads.
    let reread: Vec<(String, Report)> = shards
        .iter()
        .map(|(n, r)| (n.clone(), Report::from_json_str(&r.to_json(), n).unwrap()))
        .collect();
    assert_eq!(merge(&reread).unwrap().kdf_speed, Some(want));
}
