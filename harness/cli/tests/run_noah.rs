//! `backproof run --profile noah-v0` through the reference adapter
//! (docs/profiles/noah-v0.md): every vector passes, and two broken ports fail exactly the
//! vectors that pin the readings they get wrong — one that normalizes and trims the
//! seedphrase, one that decodes the body as leniently as Android's base64 decoder.

use backproof_report::Outcome;
use common::{quoted_exe, root, run};
use serde_json::Value;

mod common;

const PREFIX: &str = "noah-v0/vectors/noah-v0/";

fn tests() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("vectors/noah-v0/noah-v0.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap().clone())
        .collect()
}

/// The case ids of the vectors `pick` selects, in file order.
fn ids(pick: impl Fn(&Value) -> bool) -> Vec<String> {
    tests()
        .iter()
        .filter(|t| pick(t))
        .map(|t| format!("{PREFIX}{}", t["tcId"]))
        .collect()
}

fn flagged(t: &Value, flag: &str) -> bool {
    t["flags"].as_array().unwrap().iter().any(|f| f == flag)
}

fn failing(mode: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let adapter = format!(
        "python3 {} {mode} {} adapter",
        root()
            .join("harness/cli/tests/noah_port_adapter.py")
            .display(),
        quoted_exe()
    );
    let out = run(
        dir.path(),
        &["--profile", "noah-v0", "--client-adapter", &adapter],
    );
    assert_ne!(out.code, 0, "{}", out.log());
    assert!(out.ids(Outcome::Error).is_empty(), "{:#?}", out.failures());
    out.ids(Outcome::Fail)
}

#[test]
fn the_reference_adapter_passes_every_vector() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = format!("{} adapter", quoted_exe());
    let out = run(
        dir.path(),
        &["--profile", "noah-v0", "--client-adapter", &adapter],
    );
    assert_eq!(out.code, 0, "{:#?}\n{}", out.failures(), out.log());
    let r = out.report();
    assert_eq!(r.cases.len(), tests().len(), "{}", out.log());
    assert!(
        r.cases
            .iter()
            .all(|c| matches!(c.outcome, Outcome::Pass | Outcome::PassAcceptable)),
        "{}",
        out.log()
    );
    let adv: Vec<&str> = r.advisories.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(adv, ["no-key-check", "kdf-weak", "deterministic-salt"]);
}

#[test]
fn a_port_that_normalizes_the_seedphrase_fails_every_vector_it_changes() {
    // NFC and trimming change exactly the seedphrases with white space around them and
    // the decomposed (NFD) one; each of those vectors must fail, and no other.
    let changed = ids(|t| {
        let s = t["seedphrase"].as_str().unwrap();
        s.trim() != s || s.contains('\u{301}')
    });
    assert!(changed.len() >= 10, "{changed:?}");
    assert_eq!(failing("--normalize"), changed);
}

#[test]
fn a_port_with_a_lenient_base64_decoder_fails_the_strict_base64_vectors() {
    let strict = ids(|t| flagged(t, "StrictBase64"));
    let failed = failing("--lenient-base64");
    assert!(
        failed.iter().all(|id| strict.contains(id)),
        "{failed:?} outside {strict:?}"
    );
    // All but at most the body with a non-ASCII byte in it, which even a lenient decoder
    // may be unable to read.
    assert!(failed.len() + 1 >= strict.len(), "{failed:?} of {strict:?}");
}
