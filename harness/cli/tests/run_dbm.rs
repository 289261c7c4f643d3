//! `backproof run --profile dbm-stream-v1` through the reference adapter
//! (docs/profiles/dbm-stream-v1.md, docs/ADAPTER.md "Broken variants"): every vector and
//! store scenario passes, and each broken variant fails exactly the cases that exist to
//! catch it — a heuristic-only smart recovery the decoy vectors and the decoy scenario, a
//! seal that appends the tag the seal vectors and every scenario that reads its stored
//! backup back, a restore that writes plaintext before the tag every refused open and
//! every refused restore of a tampered artifact, a store that overwrites the artifact in
//! place the crash cases.

use backproof_report::Outcome;
use common::{profile_scenario_ids, profile_vector_ids, profile_vectors, quoted_exe, run};
use serde_json::Value;

mod common;

const PROFILE: &str = "dbm-stream-v1";

fn tests() -> Vec<Value> {
    profile_vectors(PROFILE)
}

/// The case ids of the vectors `pick` selects, in file order.
fn ids(pick: impl Fn(&Value) -> bool) -> Vec<String> {
    profile_vector_ids(PROFILE, pick)
}

fn scenario_ids() -> Vec<String> {
    profile_scenario_ids(PROFILE)
}

/// Scenario case ids from `dbm-stream-v1/<family>/<name>` suffixes.
fn named(suffixes: &[&str]) -> Vec<String> {
    suffixes
        .iter()
        .map(|s| format!("dbm-stream-v1/{s}"))
        .collect()
}

/// The failing case ids, sorted (as [`failing`] gives them).
fn expected(mut scenarios: Vec<String>, vectors: Vec<String>) -> Vec<String> {
    scenarios.extend(vectors);
    scenarios.sort();
    scenarios
}

fn failing(switch: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let adapter = format!("{} adapter {switch}", quoted_exe());
    let out = run(
        dir.path(),
        &["--profile", "dbm-stream-v1", "--client-adapter", &adapter],
    );
    assert_ne!(out.code, 0, "{}", out.log());
    let mut ids = out.ids(Outcome::Fail);
    ids.sort();
    ids
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
    assert_eq!(
        r.cases.len(),
        tests().len() + scenario_ids().len(),
        "{}",
        out.log()
    );
    assert!(scenario_ids().len() >= 15);
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
    let scenarios = named(&["smart-recovery/decoys-imported-before-the-key"]);
    assert_eq!(
        failing("--unsafe-dbm-heuristic-recovery"),
        expected(scenarios, decoyed)
    );
}

#[test]
fn a_seal_that_appends_the_tag_fails_the_seal_vectors() {
    let seals = ids(|t| t["op"] == "seal");
    assert_eq!(seals.len(), 4);
    // Every scenario whose backup names its key: the harness opens what was stored with
    // the reference reader. Only the case that backs up with the device's own key, unknown
    // to the harness, is left.
    let scenarios: Vec<String> = scenario_ids()
        .into_iter()
        .filter(|id| id != "dbm-stream-v1/smart-recovery/profile-id-names-the-key")
        .collect();
    assert_eq!(scenarios.len(), 14);
    assert_eq!(
        failing("--unsafe-dbm-append-tag"),
        expected(scenarios, seals)
    );
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
    // Every tampered artifact or sidecar whose key the sidecar names, and the bomb: a
    // missing or unreadable sidecar and a wrong key leave nothing to stream.
    let scenarios = named(&[
        "corrupted-blob/artifact-appended",
        "corrupted-blob/artifact-flipped",
        "corrupted-blob/artifact-truncated",
        "corrupted-blob/auth-tag-flipped",
        "corrupted-blob/decompression-bomb",
        "corrupted-blob/iv-flipped",
    ]);
    assert_eq!(
        failing("--unsafe-dbm-plaintext-before-tag"),
        expected(scenarios, refused)
    );
}

#[test]
fn a_store_that_overwrites_the_artifact_in_place_fails_the_crash_cases() {
    let scenarios = named(&[
        "mid-rotation-crash/killed-after-the-artifact-put",
        "mid-rotation-crash/killed-before-the-sidecar-put",
    ]);
    assert_eq!(
        failing("--unsafe-dbm-overwrite-in-place"),
        expected(scenarios, Vec::new())
    );
}
