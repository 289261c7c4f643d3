//! Every scenario file parses, validates against docs/schema/scenario.schema.json, names
//! its family folder, and the suite has its families; the committed schema is the one the
//! scenario types generate; a misspelt value is refused with file, line and the allowed
//! values.

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
            .to_string()
            .contains("must start with its folder")
    );
    std::fs::write(
        dir.path().join("protocol/x.toml"),
        "id = \"protocol/x\"\ntitle = \"t\"\nwhy = \"w\"\n[[steps]]\ndo = \"explode\"\n",
    )
    .unwrap();
    assert!(backproof_suite::scenario::load_all(dir.path()).is_err());
}

/// Set this to write the generated schema over the committed one.
const UPDATE: &str = "BACKPROOF_UPDATE_SCHEMA";

#[test]
fn the_committed_schema_is_the_generated_one() {
    let path = root().join("docs/schema/scenario.schema.json");
    let generated =
        serde_json::to_string_pretty(&backproof_suite::scenario::scenario_schema()).unwrap() + "\n";
    if std::env::var_os(UPDATE).is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == generated,
        "{} is not what the scenario types (harness/scenario/src/model.rs) generate; \
         regenerate it with `{UPDATE}=1 cargo test -p backproof-suite --test scenario_files` \
         and commit it",
        path.display()
    );
}

/// Writes `text` as `protocol/x.toml` of a fresh scenarios folder and loads it.
fn load_one(text: &str) -> Result<Vec<backproof_suite::scenario::Scenario>, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("protocol")).unwrap();
    std::fs::write(dir.path().join("protocol/x.toml"), text).unwrap();
    backproof_suite::scenario::load_all(dir.path()).map_err(|e| e.to_string())
}

#[test]
fn misspelt_values_name_the_file_the_line_and_the_allowed_values() {
    let head = "id = \"protocol/x\"\ntitle = \"t\"\nwhy = \"w\"\n";
    // (the file's body after the head, the line of the mistake, words the message must hold)
    let cases: [(&str, usize, &[&str]); 6] = [
        (
            "requires = [\"server-reboot\"]\n",
            4,
            &["server-reboot", "server-restart", "op:backup"],
        ),
        (
            "[[steps]]\ndo = \"delete\"\nactor = \"a\"\nexpect = \"wrong-key\"\n",
            4,
            &["wrong-key", "wrong_key", "crashed"],
        ),
        (
            "[[steps]]\ndo = \"fault\"\nproxy = \"client\"\nat = 1\nfault = \"kill\"\n",
            4,
            &["kill", "kill-client", "kill-server", "delay"],
        ),
        (
            "[[steps]]\ndo = \"http\"\nauth = \"bearer\"\nstatus = [200]\n",
            4,
            &["bearer", "wrong-scheme", "forged"],
        ),
        (
            "[[steps]]\ndo = \"storage\"\nuser = \"alice\"\nop = \"flip\"\nfield = \"salt-len\"\n",
            4,
            &["salt-len", "salt_len", "header_digest"],
        ),
        (
            "[[steps]]\ndo = \"explode\"\n",
            5,
            &["explode", "backup", "open-stored"],
        ),
    ];
    for (body, line, words) in cases {
        let err = load_one(&format!("{head}{body}")).unwrap_err();
        assert!(err.contains("protocol/x.toml"), "no file in: {err}");
        assert!(
            err.contains(&format!("line {line}")),
            "no line {line} in: {err}"
        );
        for w in words {
            assert!(err.contains(w), "{w:?} missing in: {err}");
        }
    }
    // The same file, spelt right, loads.
    assert!(
        load_one(&format!(
            "{head}requires = [\"server-restart\"]\n[[steps]]\ndo = \"delete\"\nactor = \"a\"\nexpect = \"wrong_key\"\n"
        ))
        .is_ok()
    );
}

/// v1 keeps the case ids it always had, so reports/reference.json and every baseline stay
/// comparable: the v1 selection of today's scenario files is exactly the reference
/// report's scenario ids, and `--profile all` adds only ids under another profile's name.
#[test]
fn v1_case_ids_are_unchanged_and_other_profiles_are_prefixed() {
    use backproof_suite::profile::{Profile, ProfileChoice};
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("reports/reference.json")).unwrap(),
    )
    .unwrap();
    let want: std::collections::BTreeSet<String> = reference["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .filter(|id| !id.starts_with("vectors/"))
        .collect();
    let dir = root().join("scenarios");
    let v1: std::collections::BTreeSet<String> =
        backproof_suite::run::select(&dir, None, ProfileChoice::One(Profile::V1))
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
    assert_eq!(v1, want);
    let all = backproof_suite::run::select(&dir, None, ProfileChoice::All).unwrap();
    let mut others = std::collections::BTreeMap::new();
    for s in &all {
        if s.profile == Profile::V1 {
            assert!(v1.contains(&s.id), "{}", s.id);
        } else {
            let rest =
                s.id.strip_prefix(&format!("{}/", s.profile))
                    .unwrap_or_else(|| panic!("{} without its profile's name", s.id));
            assert!(rest.starts_with(&format!("{}/", s.family)), "{}", s.id);
            assert!(s.profile.applies_to(&s.family), "{}", s.id);
            *others.entry(s.profile).or_insert(0) += 1;
        }
    }
    let byok = others.get(&Profile::ByokJsonV1).copied().unwrap_or(0);
    assert!(byok >= 10, "{byok} byok-json-v1 cases");
    assert_eq!(all.len(), v1.len() + others.values().sum::<usize>());
}

/// A file's `profiles` is checked at load: unknown names, an empty list, a family the
/// profile has no part in, and a file under a profile's folder that names another.
#[test]
fn profiles_are_checked_at_load() {
    let refused = |folder: &str, text: &str, needle: &str| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        std::fs::write(dir.path().join(folder).join("x.toml"), text).unwrap();
        let e = backproof_suite::scenario::load_all(dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{folder}: {e}");
        assert!(e.contains("x.toml"), "{folder}: {e}");
    };
    let head = |id: &str, profiles: &str| {
        format!("id = \"{id}\"\ntitle = \"t\"\nwhy = \"w\"\nprofiles = {profiles}\n")
    };
    refused("protocol", &head("protocol/x", "[\"v2\"]"), "byok-json-v1");
    refused("protocol", &head("protocol/x", "[]"), "names no profile");
    refused(
        "protocol",
        &head("protocol/x", "[\"byok-json-v1\"]"),
        "does not apply to profile byok-json-v1",
    );
    refused(
        "byok-json-v1/conflict",
        &head("conflict/x", "[\"v1\"]"),
        "profiles = [\"byok-json-v1\"]",
    );
    refused(
        "protocol",
        &format!(
            "{}shows = [\"no-key-check\"]\n",
            head("protocol/x", "[\"v1\"]")
        ),
        "no advisory of its profiles",
    );
    // A backup's `kdf` is metamask-vault's, and `legacy = false` means nothing.
    let backup = |kdf: &str| {
        format!(
            "[[actors]]\nname = \"phone\"\nuser = \"alice\"\n\n[[steps]]\ndo = \"backup\"\nactor = \"phone\"\nsecret = {{ passphrase = \"p\" }}\nkdf = {kdf}\n"
        )
    };
    refused(
        "wrong-passphrase",
        &format!(
            "{}{}",
            head("wrong-passphrase/x", "[\"byok-json-v1\"]"),
            backup("{ legacy = true }")
        ),
        "metamask-vault only",
    );
    refused(
        "wrong-passphrase",
        &format!(
            "{}{}",
            head("wrong-passphrase/x", "[\"metamask-vault\"]"),
            backup("{ legacy = false }")
        ),
        "legacy = false",
    );
    // The same id may exist once per profile: the case ids differ.
    let dir = tempfile::tempdir().unwrap();
    for (folder, profiles) in [
        ("conflict", "[\"v1\"]"),
        ("byok-json-v1/conflict", "[\"byok-json-v1\"]"),
    ] {
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        std::fs::write(
            dir.path().join(folder).join("x.toml"),
            head("conflict/x", profiles),
        )
        .unwrap();
    }
    let ids: Vec<String> = backproof_suite::run::select(
        dir.path(),
        None,
        backproof_suite::profile::ProfileChoice::All,
    )
    .unwrap()
    .into_iter()
    .map(|s| s.id)
    .collect();
    assert_eq!(ids, ["byok-json-v1/conflict/x", "conflict/x"]);
}
