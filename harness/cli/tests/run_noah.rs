//! `backproof run --profile noah-v0` through the reference adapter
//! (docs/profiles/noah-v0.md): every vector and every store case passes, `kdf-weak` carries
//! measured guess rates, and broken variants fail exactly the cases that pin what they get
//! wrong — a port that normalizes and trims the seedphrase, one that decodes the body as
//! leniently as Android's base64 decoder, a client that always writes slot 1
//! (docs/ADAPTER.md), and the server's three API v0 variants (docs/API-v0.md).

use backproof_report::Outcome;
use common::{profile_scenario_ids, profile_vector_ids, profile_vectors, quoted_exe, root, run};
use serde_json::Value;

mod common;

const PREFIX: &str = "noah-v0/vectors/noah-v0/";
/// Every case of the profile but its vectors (the store cases).
const STORE_CASES: &str = "noah-v0/[!v]*";
/// The case that waits for an upload URL to expire (the reference started with a short
/// expiry).
const EXPIRY_CASE: &str = "noah-v0/protocol/v0-expired-upload-url";

/// The case ids of the vectors `pick` selects, in file order.
fn ids(pick: impl Fn(&Value) -> bool) -> Vec<String> {
    profile_vector_ids("noah-v0", pick)
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

/// The ids of the profile's scenario files (`noah-v0/<family>/<name>`), sorted.
fn scenario_ids() -> Vec<String> {
    profile_scenario_ids("noah-v0")
}

/// The store cases that fail with these extra `backproof run` arguments, sorted; none may
/// end in `error` (a variant the harness cannot judge proves nothing).
fn failing_store_cases(extra: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--profile", "noah-v0", "--filter", STORE_CASES];
    args.extend_from_slice(extra);
    let out = run(dir.path(), &args);
    assert_ne!(out.code, 0, "{}", out.log());
    assert!(out.ids(Outcome::Error).is_empty(), "{:#?}", out.failures());
    let mut ids = out.ids(Outcome::Fail);
    ids.sort();
    ids
}

#[test]
fn the_reference_adapter_passes_every_vector_and_every_store_case() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = format!("{} adapter", quoted_exe());
    let out = run(
        dir.path(),
        &["--profile", "noah-v0", "--client-adapter", &adapter],
    );
    assert_eq!(out.code, 0, "{:#?}\n{}", out.failures(), out.log());
    let r = out.report();
    let vectors = r.cases.iter().filter(|c| c.id.starts_with(PREFIX)).count();
    assert_eq!(vectors, profile_vectors("noah-v0").len(), "{}", out.log());
    let mut store: Vec<String> = r
        .cases
        .iter()
        .filter(|c| !c.id.starts_with(PREFIX))
        .map(|c| c.id.clone())
        .collect();
    store.sort();
    assert_eq!(store, scenario_ids());
    assert!(store.len() >= 14, "{store:?}");
    assert!(
        r.cases
            .iter()
            .all(|c| matches!(c.outcome, Outcome::Pass | Outcome::PassAcceptable)),
        "{}",
        out.log()
    );
    let adv: Vec<&str> = r.advisories.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(adv, ["no-key-check", "kdf-weak", "deterministic-salt"]);
    guess_rates_beside_kdf_weak(&out);
    // The protocol cases tamper with presigned URLs and let one expire on purpose; the
    // embedded S3's refusals are the cases' business, not lines in the run's output.
    assert!(!out.stderr.contains("s3s"), "{}", out.stderr);
}

/// `kdf-weak` carries guess rates measured by the run (docs/profiles/noah-v0.md §5): in
/// report.json beside the timings, never in the snapshot, shown by every rendering and
/// the run's summary. Speeds are not judged, only that they are rates of the right KDFs
/// and that 10 000 PBKDF2 rounds are cheaper than a derivation aimed at 500 ms – 1 s.
fn guess_rates_beside_kdf_weak(out: &common::RunOut) {
    let r = out.report();
    let k = r
        .kdf_speed
        .as_ref()
        .unwrap_or_else(|| panic!("no kdf_speed\n{}", out.log()));
    assert_eq!(
        (k.profile.as_str(), k.advisory.as_str()),
        ("noah-v0", "kdf-weak")
    );
    assert_eq!(k.design.kdf, "PBKDF2-HMAC-SHA256, 10000 iterations");
    assert!(k.argon2id.kdf.starts_with("Argon2id m=") && k.argon2id.kdf.ends_with(",p=1"));
    assert_eq!(k.target_ms, [500, 1000]);
    assert_eq!(k.argon2id.derivations, 2, "the run's budget");
    assert!(k.design.derivations >= 3, "{k:?}");
    assert!(k.design.median_ns > 0 && k.argon2id.median_ns > 0, "{k:?}");
    assert!(k.argon2id.guesses_per_second > 0.0, "{k:?}");
    assert!(
        k.design.guesses_per_second > k.argon2id.guesses_per_second,
        "{k:?}"
    );
    assert!(r.snapshot().get("kdf_speed").is_none());
    assert!(!r.snapshot_json().contains("guesses_per_second"));
    // Only the measured figures say this; the advisory's fixed text does not.
    let shown = "guesses/s per core";
    for file in ["report.md", "junit.xml", "report.html"] {
        let text = out.file(file);
        assert!(text.contains(shown), "{file} lacks {shown:?}");
        // The other two advisories are there as well, deterministic-salt included.
        for id in ["no-key-check", "kdf-weak", "deterministic-salt"] {
            assert!(text.contains(id), "{file} lacks advisory {id}");
        }
    }
    assert!(
        out.stdout
            .contains("advisory noah-v0/kdf-weak, measured on this machine:")
            && out.stdout.contains(shown),
        "{}",
        out.log()
    );
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
    // Trimmed on the way to the store too: the seedphrase with its newline restores.
    let mut want = changed;
    want.push("noah-v0/wrong-passphrase/trailing-newline".to_owned());
    let mut got = failing("--normalize");
    got.sort();
    want.sort();
    assert_eq!(got, want);
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

/// Always slot 1: a second backup replaces the first, so every case where the latest
/// object is damaged or gone has nothing to fall back to, the two devices of the conflict
/// case write slot 1, and after a completed backup the one before it is gone. The crash
/// cases before the commit pass: the server's fresh key per upload keeps the old object.
#[test]
fn a_client_that_always_writes_slot_1_fails_the_fallback_cases() {
    let adapter = format!(
        "{} adapter --kdf m=7168,t=5,p=1 --unsafe-noah-always-slot-1",
        quoted_exe()
    );
    assert_eq!(
        failing_store_cases(&["--client-adapter", &adapter]),
        [
            "noah-v0/conflict/concurrent-backups-last-complete-wins",
            "noah-v0/corrupted-blob/both-damaged",
            "noah-v0/corrupted-blob/latest-deleted",
            "noah-v0/corrupted-blob/latest-flipped",
            "noah-v0/corrupted-blob/latest-replaced",
            "noah-v0/corrupted-blob/latest-truncated",
            "noah-v0/mid-rotation-crash/killed-after-complete",
        ]
    );
}

/// The server's API v0 variants (docs/API-v0.md, "Broken variants"): each fails the
/// protocol cases that provoke it, and nothing else.
#[test]
fn the_servers_v0_variants_fail_their_protocol_cases() {
    assert_eq!(
        failing_store_cases(&["--server-arg=--unsafe-any-backup-version"]),
        ["noah-v0/protocol/v0-third-slot-refused"]
    );
    // No HEAD: every complete the server should refuse for what is (not) in S3 is taken.
    assert_eq!(
        failing_store_cases(&["--server-arg=--unsafe-complete-trusts-client-size"]),
        [
            "noah-v0/protocol/v0-complete-without-upload",
            "noah-v0/protocol/v0-expired-upload-url",
            "noah-v0/protocol/v0-isolation-through-urls",
            "noah-v0/protocol/v0-size-mismatch",
        ]
    );
    assert_eq!(
        failing_store_cases(&["--server-arg=--unsafe-complete-any-key"]),
        ["noah-v0/protocol/v0-isolation-through-urls"]
    );
}

/// A Noah-style server started by command (docs/GATE.md A.1): the reference's `serve` as
/// an outside server, with the environment and tokens of `--server-cmd`/`--token-cmd`,
/// passes every store case as it does when the harness runs it itself.
#[test]
fn a_v0_server_started_by_command_passes_every_store_case() {
    let dir = tempfile::tempdir().unwrap();
    let server = format!("exec {} serve", quoted_exe());
    let token = format!("{} serve token --user {{user}}", quoted_exe());
    let out = run(
        dir.path(),
        &[
            "--profile",
            "noah-v0",
            "--filter",
            STORE_CASES,
            "--server-cmd",
            &server,
            "--token-cmd",
            &token,
        ],
    );
    assert_eq!(out.code, 0, "{:#?}\n{}", out.failures(), out.log());
    let mut ids: Vec<String> = out.ids(Outcome::Pass);
    ids.extend(out.ids(Outcome::PassAcceptable));
    ids.sort();
    // The expiry case shortens the URL expiry with `server_args`, which a server started by
    // command does not take: it says so instead of waiting out the default 15 minutes.
    let want: Vec<String> = scenario_ids()
        .into_iter()
        .filter(|id| id != EXPIRY_CASE)
        .collect();
    assert_eq!(ids, want);
    assert_eq!(out.ids(Outcome::Unsupported), [EXPIRY_CASE]);
}

/// A Noah-style server given by URL (docs/GATE.md): the reference's `serve` in a process of
/// its own, reached only through its URL and tokens. Every store case passes or is
/// `unsupported` for what a URL target cannot give (storage access for the damage cases,
/// the S3 proxy for a kill at the PUT); none fails. Run twice on the same accounts: the
/// first run leaves backups in both slots, so the second passes its empty-slot checks only
/// because each case clears the account's slots first.
#[test]
fn a_v0_server_by_url_passes_what_it_can_run_and_reports_the_rest_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::url_server::UrlServer::start(&dir.path().join("serve.log"));
    let tokens = dir.path().join("tokens.toml");
    std::fs::write(
        &tokens,
        format!(
            "[users]\nalice = \"{}\"\nbob = \"{}\"\n",
            server.token("alice"),
            server.token("bob")
        ),
    )
    .unwrap();
    for round in ["first", "second"] {
        let out = run(
            &dir.path().join(round),
            &[
                "--profile",
                "noah-v0",
                "--filter",
                STORE_CASES,
                "--server-url",
                &server.url,
                "--tokens",
                tokens.to_str().unwrap(),
            ],
        );
        let log = out.log();
        assert_eq!(out.code, 0, "{round} run: {:#?}\n{log}", out.failures());
        let report = out.report();
        let mut seen = Vec::new();
        for c in &report.cases {
            seen.push(c.id.clone());
            if c.outcome == Outcome::Unsupported {
                assert!(
                    c.reason.contains("given by URL"),
                    "{round} run, {}: {}",
                    c.id,
                    c.reason
                );
            } else {
                assert!(
                    c.outcome.is_passing(),
                    "{round} run, {}: {}",
                    c.id,
                    c.outcome
                );
            }
        }
        seen.sort();
        assert_eq!(seen, scenario_ids(), "{round} run");
        // The damage cases need the server's storage; the API-only cases must run.
        let outcome = |id: &str| report.case(id).unwrap().outcome;
        assert_eq!(
            outcome("noah-v0/corrupted-blob/latest-flipped"),
            Outcome::Unsupported
        );
        assert_eq!(outcome(EXPIRY_CASE), Outcome::Unsupported);
        for id in [
            "noah-v0/wrong-passphrase/wrong-seedphrase",
            "noah-v0/protocol/v0-third-slot-refused",
            "noah-v0/protocol/v0-complete-without-upload",
            "noah-v0/protocol/v0-size-mismatch",
            "noah-v0/protocol/v0-isolation-through-urls",
            "noah-v0/conflict/concurrent-backups-last-complete-wins",
        ] {
            assert!(outcome(id).is_passing(), "{round} run, {id}\n{log}");
        }
    }
}
