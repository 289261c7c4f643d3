//! `backproof run --profile metamask-vault` on the real, unmodified
//! `@metamask/browser-passworder` behind examples/adapters/metamask/adapter.mjs
//! (docs/profiles/metamask-vault.md, docs/GATE.md): every vector passes, acceptably where
//! the vector file records a documented disagreement of the library, except the ones the
//! library would derive for hours, which are `unsupported` with the reason; and the same
//! run over a wrapper that damages what `open` returns fails. The store cases (wrong
//! password, damaged vault, an update killed at every S3 request) pass through the library
//! and through the reference client, and fail for a client that deletes the vault before it
//! writes the update and for one that answers a failed restore from its local copy.
//! Without node or the adapter's node_modules (`npm ci` in examples/adapters/metamask) the
//! library's tests say so and pass, unless BACKPROOF_REQUIRE_TOOLS=1.

use std::collections::BTreeSet;
use std::process::Command;

use backproof_report::Outcome;
use common::{
    RunOut, profile_scenario_ids, profile_vectors, quoted_exe, root, run, tool_available,
};
use serde_json::Value;

mod common;

const ADAPTER: &str = "node examples/adapters/metamask/adapter.mjs";
const PREFIX: &str = "metamask-vault/vectors/metamask-vault/";
const VECTORS: &str = "metamask-vault/vectors/*";
/// The store families of the profile (docs/profiles/metamask-vault.md §10).
const STORE: &str = "metamask-vault/{wrong-passphrase,corrupted-blob,mid-rotation-crash}/*";

/// `backproof run --profile metamask-vault --filter FILTER`, through `adapter` (the
/// reference when `None`).
fn run_profile(dir: &std::path::Path, adapter: Option<&str>, filter: &str) -> RunOut {
    let mut args = vec!["--profile", "metamask-vault", "--filter", filter];
    if let Some(a) = adapter {
        args.extend(["--client-adapter", a]);
    }
    run(dir, &args)
}

fn library_here() -> bool {
    tool_available(Command::new("node").arg("--version"), "node")
        && tool_available(
            Command::new("test").arg("-d").arg(
                root().join("examples/adapters/metamask/node_modules/@metamask/browser-passworder"),
            ),
            "examples/adapters/metamask/node_modules (run `npm ci` there)",
        )
}

/// Every test of the vector file, by tcId.
fn vectors() -> Vec<Value> {
    profile_vectors("metamask-vault")
}

#[test]
fn the_real_library_passes_every_vector_it_can_answer() {
    if !library_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run_profile(dir.path(), Some(ADAPTER), VECTORS);
    assert_eq!(out.code, 0, "{:#?}\n{}", out.failures(), out.log());
    let r = out.report();
    let tests = vectors();
    assert_eq!(r.cases.len(), tests.len(), "{}", out.log());
    assert!(out.failures().is_empty(), "{:#?}", out.failures());
    for t in &tests {
        let id = format!("{PREFIX}{}", t["tcId"]);
        let c = r.case(&id).unwrap_or_else(|| panic!("no case {id}"));
        assert_eq!(c.profile(), "metamask-vault");
        let recorded = t["library"]["result"].as_str();
        match recorded {
            // The library would derive for minutes to hours: not sent, and said why.
            Some("unbounded" | "not-run") => {
                assert_eq!(c.outcome, Outcome::Unsupported, "{c:?}");
                assert!(
                    c.reason.contains("not sent") && c.reason.contains("D6"),
                    "{c:?}"
                );
            }
            // A documented disagreement: accepted only as recorded, and named.
            Some(_) => {
                assert_eq!(c.outcome, Outcome::PassAcceptable, "{c:?}");
                assert!(
                    c.reason.starts_with('D') && c.reason.contains("documented disagreement"),
                    "{c:?}"
                );
            }
            None => {
                assert!(c.outcome.is_passing(), "{c:?}");
                if c.outcome == Outcome::PassAcceptable {
                    // Only a class the vector lists in `accept`, for the design's reason.
                    let accepted = t["accept"].as_array().expect("an accept list");
                    assert!(
                        !accepted.is_empty() && c.reason.contains("no-key-check"),
                        "{c:?}"
                    );
                }
            }
        }
    }
    // The library opens, seals, updates and derives: plain passes are most of the file.
    let passed = r
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::Pass)
        .count();
    assert!(passed >= tests.len() / 3, "only {passed} plain passes");
    // The profile's advisories, in the report and its Markdown.
    let adv: Vec<(&str, &str)> = r
        .advisories
        .iter()
        .map(|a| (a.profile.as_str(), a.id.as_str()))
        .collect();
    assert_eq!(
        adv,
        [
            ("metamask-vault", "no-key-check"),
            ("metamask-vault", "kdf-weak"),
            ("metamask-vault", "unbounded-kdf"),
        ]
    );
    // Guess rates are measured for noah-v0's kdf-weak only.
    assert!(r.kdf_speed.is_none());
    let md = out.file("report.md");
    assert!(
        md.contains("### Advisories") && md.contains("`unbounded-kdf`"),
        "{md}"
    );
}

#[test]
fn a_client_that_damages_opened_plaintexts_fails() {
    if !library_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broken = format!(
        "python3 {} {ADAPTER}",
        root()
            .join("harness/cli/tests/flip_open_adapter.py")
            .display()
    );
    let out = run_profile(dir.path(), Some(&broken), VECTORS);
    assert_eq!(out.code, 1, "{}", out.log());
    let failed = out.ids(Outcome::Fail);
    // Every vector whose vault opens fails, and only those (a refusal has nothing to flip;
    // a seal or an update fails through the check that opens what it wrote).
    for t in vectors() {
        let id = format!("{PREFIX}{}", t["tcId"]);
        let op = t["op"].as_str().unwrap_or("open");
        let answer = t["library"]["result"]
            .as_str()
            .or(t["result"].as_str())
            .unwrap();
        let should_fail = answer == "ok" && op != "derive";
        assert_eq!(
            failed.contains(&id),
            should_fail,
            "{id}: {:#?}",
            out.failures()
        );
    }
    assert!(out.ids(Outcome::Error).is_empty(), "{:#?}", out.failures());
}

/// The ids of the profile's store cases, from the scenario files themselves.
fn store_case_ids() -> BTreeSet<String> {
    profile_scenario_ids("metamask-vault").into_iter().collect()
}

const CRASH_CASES: [&str; 2] = [
    "metamask-vault/mid-rotation-crash/update-killed-at-every-s3-request",
    "metamask-vault/mid-rotation-crash/password-change-killed-at-every-s3-request",
];

/// Every store case passes; the crash cases killed the client at both S3 requests of the
/// update (GET, PUT), before and after each, and the vault survived every kill.
fn every_store_case_passes(out: &RunOut) {
    assert_eq!(out.code, 0, "{:#?}\n{}", out.failures(), out.log());
    let r = out.report();
    let ids: BTreeSet<String> = r.cases.iter().map(|c| c.id.clone()).collect();
    let want = store_case_ids();
    assert!(want.len() >= 20, "{want:?}");
    assert_eq!(ids, want, "{}", out.log());
    for c in &r.cases {
        assert!(c.outcome.is_passing(), "{c:?}");
    }
    for id in CRASH_CASES {
        let c = r.case(id).unwrap();
        assert!(
            c.observed
                .starts_with("4 crash points (2 recorded S3 steps: GET ")
                && c.observed
                    .ends_with("1 left the updated vault, 3 the vault as it was; none lost it"),
            "{c:?}"
        );
    }
}

#[test]
fn the_reference_client_passes_every_store_case_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_profile(dir.path(), None, STORE);
    every_store_case_passes(&out);
    // The profile's codec tells a wrong password (wrong_key) from damage it can see
    // (corrupted, malformed, …): nothing needs the advisory's leniency.
    let r = out.report();
    for c in &r.cases {
        assert_eq!(c.outcome, Outcome::Pass, "{c:?}");
    }
}

#[test]
fn the_real_library_passes_every_store_case() {
    if !library_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run_profile(dir.path(), Some(ADAPTER), STORE);
    every_store_case_passes(&out);
    let r = out.report();
    // The library's "Incorrect password" is wrong_key_or_corrupted: accepted where the
    // reference says wrong_key, or corrupted for damage the codec sees (lenient base64, a
    // short IV: §6 D1, D7), always naming the advisory.
    for c in r
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::PassAcceptable)
    {
        assert!(
            c.reason.starts_with("wrong_key_or_corrupted where ")
                && c.reason.contains("advisory no-key-check"),
            "{c:?}"
        );
    }
    for id in [
        "metamask-vault/wrong-passphrase/wrong-password",
        "metamask-vault/corrupted-blob/flip-data",
        "metamask-vault/corrupted-blob/base64-foreign-characters",
        "metamask-vault/corrupted-blob/iv-short",
    ] {
        assert_eq!(r.case(id).unwrap().outcome, Outcome::PassAcceptable, "{id}");
    }
    for id in [
        "metamask-vault/corrupted-blob/not-json",
        "metamask-vault/corrupted-blob/iterations-zero",
        "metamask-vault/corrupted-blob/deleted",
    ] {
        assert_eq!(r.case(id).unwrap().outcome, Outcome::Pass, "{id}");
    }
}

/// The reference with `--unsafe-vault-delete-before-put`: an update DELETEs the vault and
/// then PUTs the new one. Killed between the two, or with the PUT refused, it leaves no vault.
#[test]
fn a_client_that_deletes_the_vault_before_writing_the_update_fails_the_crash_cases() {
    let dir = tempfile::tempdir().unwrap();
    let broken = format!(
        "{} adapter --kdf m=7168,t=5,p=1 --unsafe-vault-delete-before-put",
        quoted_exe()
    );
    let out = run_profile(
        dir.path(),
        Some(&broken),
        "metamask-vault/mid-rotation-crash/*",
    );
    assert_eq!(out.code, 1, "{}", out.log());
    let failed: BTreeSet<String> = out.ids(Outcome::Fail).into_iter().collect();
    let all: BTreeSet<String> = store_case_ids()
        .into_iter()
        .filter(|id| id.contains("/mid-rotation-crash/"))
        .collect();
    assert_eq!(failed, all, "{:#?}", out.failures());
    let r = out.report();
    for id in CRASH_CASES {
        let c = r.case(id).unwrap();
        assert!(
            c.reason.contains("(DELETE ") && c.reason.contains("the crash lost the vault"),
            "{c:?}"
        );
    }
    let c = r
        .case("metamask-vault/mid-rotation-crash/update-put-fails")
        .unwrap();
    assert!(c.observed.contains("not_found"), "{c:?}");
}

/// A client that answers a failed restore with its local copy hides a wrong password, a
/// damaged vault and a deleted one: every case whose restore must be refused fails, and only
/// those.
#[test]
fn a_client_that_restores_from_its_cache_on_failure_fails_the_refusal_cases() {
    let dir = tempfile::tempdir().unwrap();
    let broken = format!(
        "python3 {} {} adapter --kdf m=7168,t=5,p=1",
        root()
            .join("harness/cli/tests/cached_restore_adapter.py")
            .display(),
        quoted_exe()
    );
    let out = run_profile(
        dir.path(),
        Some(&broken),
        "metamask-vault/{wrong-passphrase,corrupted-blob}/*",
    );
    assert_eq!(out.code, 1, "{}", out.log());
    let failed: BTreeSet<String> = out.ids(Outcome::Fail).into_iter().collect();
    let mut want: BTreeSet<String> = store_case_ids()
        .into_iter()
        .filter(|id| id.contains("/corrupted-blob/"))
        .collect();
    for name in [
        "wrong-password",
        "not-normalized",
        "password-change",
        "update-at-target-skips-the-password",
    ] {
        want.insert(format!("metamask-vault/wrong-passphrase/{name}"));
    }
    assert_eq!(failed, want, "{:#?}", out.failures());
    // The two whose refusals are not restores still pass: a refused backup and update.
    let passed = out.ids(Outcome::Pass);
    assert!(
        passed
            .contains(&"metamask-vault/wrong-passphrase/other-password-does-not-overwrite".into())
            && passed
                .contains(&"metamask-vault/wrong-passphrase/update-with-wrong-password".into()),
        "{passed:?}"
    );
}
