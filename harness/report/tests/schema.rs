//! reports/schema.json describes what the model produces (full reports and snapshots),
//! and rejects what it must.

mod common;

use backproof_report::{Report, apply_deviations};
use common::*;
use serde_json::{Value, json};

fn schema() -> Value {
    common::report_schema()
}

type Mutation = Box<dyn Fn(&mut Value)>;

fn errors(instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&schema()).expect("the schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema() {
    assert!(jsonschema::meta::is_valid(&schema()));
}

#[test]
fn full_reports_and_snapshots_validate() {
    let mut report = report_with_one_failure();
    apply_deviations(&mut report, &[deviation(FAILING_ID, "on purpose")]);
    let full: Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(errors(&full), Vec::<String>::new());
    let snap = report.snapshot();
    assert!(snap.get("timings").is_none(), "snapshots carry no timings");
    assert_eq!(errors(&snap), Vec::<String>::new());
    let large = serde_json::to_value(large_report("x", true)).unwrap();
    assert_eq!(errors(&large), Vec::<String>::new());
}

#[test]
fn the_schema_rejects_what_the_model_rejects() {
    let good: Value = serde_json::from_str(&report_with_one_failure().to_json()).unwrap();
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "unknown outcome",
            Box::new(|v| v["cases"][0]["outcome"] = json!("passed")),
        ),
        (
            "missing observed",
            Box::new(|v| {
                v["cases"][0].as_object_mut().unwrap().remove("observed");
            }),
        ),
        (
            "negative total",
            Box::new(|v| v["totals"]["pass"] = json!(-1)),
        ),
        (
            "extra top-level field",
            Box::new(|v| v["verdict"] = json!("ok")),
        ),
        (
            "deviation without reason",
            Box::new(|v| v["deviations"] = json!([{"case": "x"}])),
        ),
        (
            "empty case id",
            Box::new(|v| v["cases"][0]["id"] = json!("")),
        ),
    ];
    for (what, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        assert!(!errors(&bad).is_empty(), "schema accepted: {what}");
        let text = serde_json::to_string(&bad).unwrap();
        assert!(
            Report::from_json_str(&text, what).is_err(),
            "loader accepted: {what}"
        );
    }
}

#[test]
fn loader_checks_what_the_schema_cannot() {
    let mut v: Value = serde_json::from_str(&report_with_one_failure().to_json()).unwrap();
    v["totals"]["fail"] = json!(0);
    let err = Report::from_json_str(&v.to_string(), "edited.json")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("edited.json") && err.contains("do not match"),
        "{err}"
    );

    let mut v: Value = serde_json::from_str(&report_with_one_failure().to_json()).unwrap();
    let dup = v["cases"][0].clone();
    v["cases"].as_array_mut().unwrap().push(dup);
    v["totals"]["pass"] = json!(v["totals"]["pass"].as_u64().unwrap() + 1);
    let err = Report::from_json_str(&v.to_string(), "dup.json")
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than once"), "{err}");

    let err = Report::from_json_str("{\"suite\": 1}", "garbage.json")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("garbage.json is not a backproof report JSON"),
        "{err}"
    );
}

#[test]
fn snapshot_is_deterministic_and_order_independent() {
    let a = report_with_one_failure();
    let mut cases = cases_with_one_failure();
    cases.reverse();
    let mut t = timings(&cases);
    t.wall_ms = 99_999;
    t.started_at = "2030-01-01T00:00:00Z".into();
    let b = Report::from_cases(
        suite(),
        target("acme-backup 2.3"),
        "local (initdb + s3s-fs)",
        cases,
        vec![],
        t,
    );
    assert_ne!(a.timings, b.timings);
    assert_eq!(a.snapshot_json(), b.snapshot_json());
    // A snapshot loads back as a report (timings defaulted) with the same deterministic part.
    let loaded = Report::from_json_str(&a.snapshot_json(), "snap").unwrap();
    assert_eq!(loaded.snapshot_json(), a.snapshot_json());
    assert!(loaded.timings.cases.is_empty());
}
