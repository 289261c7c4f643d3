//! `backproof run --profile metamask-vault` on the real, unmodified
//! `@metamask/browser-passworder` behind examples/adapters/metamask/adapter.mjs
//! (docs/profiles/metamask-vault.md, docs/GATE.md): every vector passes, acceptably where
//! the vector file records a documented disagreement of the library, except the ones the
//! library would derive for hours, which are `unsupported` with the reason; and the same
//! run over a wrapper that damages what `open` returns fails. Without node or the adapter's
//! node_modules (`npm ci` in examples/adapters/metamask) the tests say so and pass, unless
//! BACKPROOF_REQUIRE_TOOLS=1.

use std::process::Command;

use backproof_report::Outcome;
use common::{root, run, tool_available};
use serde_json::Value;

mod common;

const ADAPTER: &str = "node examples/adapters/metamask/adapter.mjs";
const PREFIX: &str = "metamask-vault/vectors/metamask-vault/";

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
    let text =
        std::fs::read_to_string(root().join("vectors/metamask-vault/metamask-vault.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn the_real_library_passes_every_vector_it_can_answer() {
    if !library_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["--profile", "metamask-vault", "--client-adapter", ADAPTER],
    );
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
    let out = run(
        dir.path(),
        &["--profile", "metamask-vault", "--client-adapter", &broken],
    );
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
