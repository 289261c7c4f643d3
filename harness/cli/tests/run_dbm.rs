//! `backproof run --profile dbm-stream-v1` through the reference adapter
//! (docs/profiles/dbm-stream-v1.md, docs/ADAPTER.md "Broken variants"): every vector
//! passes, and each broken variant fails exactly the vectors that exist to catch it — a
//! heuristic-only smart recovery the decoy vectors, a seal that appends the tag the seal
//! vectors, a restore that writes plaintext before the tag every refused open.

use backproof_report::Outcome;
use common::{quoted_exe, root, run};
use serde_json::Value;

mod common;

const PREFIX: &str = "dbm-stream-v1/vectors/dbm-stream-v1/";

fn tests() -> Vec<Value> {
    let text =
        std::fs::read_to_string(root().join("vectors/dbm-stream-v1/dbm-stream-v1.json")).unwrap();
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

fn failing(switch: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let adapter = format!("{} adapter {switch}", quoted_exe());
    let out = run(
        dir.path(),
        &["--profile", "dbm-stream-v1", "--client-adapter", &adapter],
    );
    assert_ne!(out.code, 0, "{}", out.log());
    out.ids(Outcome::Fail)
}

#[test]
fn the_reference_adapter_passes_every_vector() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = format!("{} adapter", quoted_exe());
    let out = run(
        dir.path(),
        &["--profile", "dbm-stream-v1", "--client-adapter", &adapter],
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
}

#[test]
fn a_heuristic_only_recovery_fails_the_decoy_vectors() {
    let decoyed = ids(|t| {
        t["op"] == "recover" && t["result"] == "ok" && !t["decoys"].as_array().unwrap().is_empty()
    });
    assert_eq!(decoyed.len(), 4);
    assert_eq!(failing("--unsafe-dbm-heuristic-recovery"), decoyed);
}

#[test]
fn a_seal_that_appends_the_tag_fails_the_seal_vectors() {
    let seals = ids(|t| t["op"] == "seal");
    assert_eq!(seals.len(), 4);
    assert_eq!(failing("--unsafe-dbm-append-tag"), seals);
}

#[test]
fn a_restore_that_writes_before_the_tag_fails_every_refused_open() {
    // Every open the profile refuses after reading the key: tag failures, broken streams
    // and bombs. A malformed sidecar or an empty artifact leaves nothing to release.
    let refused = ids(|t| {
        t["op"] == "open"
            && t["result"] != "ok"
            && t["result"] != "malformed"
            && !t["artifact"].as_str().unwrap().is_empty()
    });
    assert!(refused.len() > 30, "{}", refused.len());
    assert_eq!(failing("--unsafe-dbm-plaintext-before-tag"), refused);
}
