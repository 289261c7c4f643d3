//! Every scenario file parses, validates against docs/schema/scenario.schema.json, names
//! its family folder, and the suite meets the issue's counts.

use std::collections::BTreeMap;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_scenario_validates_against_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/schema/scenario.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let scenarios = backproof_suite::scenario::load_all(&root().join("scenarios")).unwrap();
    assert!(!scenarios.is_empty());
    for s in &scenarios {
        let text = std::fs::read_to_string(&s.path).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        let json = serde_json::to_value(value).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{}: {}",
            s.path.display(),
            errors.join("; ")
        );
    }
}

#[test]
fn families_and_counts() {
    let scenarios = backproof_suite::scenario::load_all(&root().join("scenarios")).unwrap();
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for s in &scenarios {
        *per.entry(s.family.clone()).or_default() += 1;
        assert!(!s.why.trim().is_empty(), "{} says why", s.id);
    }
    for fam in [
        "conflict",
        "wrong-passphrase",
        "corrupted-blob",
        "mid-rotation-crash",
        "smart-recovery",
        "protocol",
    ] {
        assert!(
            per.get(fam).copied().unwrap_or(0) >= 3,
            "family {fam} has few cases: {per:?}"
        );
    }
    assert!(scenarios.len() >= 40, "{per:?}");
}

#[test]
fn the_schema_rejects_what_the_engine_rejects() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/schema/scenario.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let bad = [
        // unknown step kind
        r#"{"id":"protocol/x","title":"t","why":"w","steps":[{"do":"explode"}]}"#,
        // expectation outside the closed classes
        r#"{"id":"protocol/x","title":"t","why":"w","steps":[{"do":"delete","actor":"a","expect":"oops"}]}"#,
        // unknown family
        r#"{"id":"misc/x","title":"t","why":"w"}"#,
        // unknown field
        r#"{"id":"protocol/x","title":"t","why":"w","colour":"red"}"#,
    ];
    for b in bad {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        assert!(!validator.is_valid(&v), "schema accepted {b}");
    }
    // The engine rejects a file outside its family folder.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("protocol")).unwrap();
    std::fs::write(
        dir.path().join("protocol/x.toml"),
        "id = \"conflict/x\"\ntitle = \"t\"\nwhy = \"w\"\n",
    )
    .unwrap();
    assert!(
        backproof_suite::scenario::load_all(dir.path())
            .unwrap_err()
            .contains("must start with its folder")
    );
    std::fs::write(
        dir.path().join("protocol/x.toml"),
        "id = \"protocol/x\"\ntitle = \"t\"\nwhy = \"w\"\n[[steps]]\ndo = \"explode\"\n",
    )
    .unwrap();
    assert!(backproof_suite::scenario::load_all(dir.path()).is_err());
}
