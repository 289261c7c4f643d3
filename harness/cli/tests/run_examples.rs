//! The example adapters of docs/GATE.md (examples/adapters/{python,typescript}) as clients
//! under test in a real `backproof run`: every case that drives a client passes, through
//! the same command line a user copies from the guide.
//!
//! They need Python with `cryptography` + `argon2-cffi` (ci/crosscheck/requirements.txt)
//! and Node ≥ 20 with `npm ci` done in examples/adapters/typescript. Without them the tests
//! say so and pass, unless BACKPROOF_REQUIRE_TOOLS=1 (as .ci/run sets), which makes a
//! missing tool a failure.

use std::process::Command;

use backproof_report::Outcome;
use common::{root, run, tool_available};

mod common;

/// The client-side families (every case with an adapter actor) and the vectors through
/// the adapter; `protocol` talks raw HTTP to the server and never starts a client.
/// `conflict/stress-raw-key` is left out: it is a load case for the *server* (and under
/// `--thorough` 800 writes from 16 processes); the
/// examples' concurrent writing is covered by `conflict/stress-passphrase` and the other
/// conflict cases, and the reference client runs the stress case in `run_reference`.
const CLIENT_CASES: &str = "{conflict/[!s]*,conflict/st[!r]*,conflict/stress-passphrase,\
corrupted-blob/*,wrong-passphrase/*,smart-recovery/*,mid-rotation-crash/*,vectors/*}";

fn run_adapter(adapter: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["--filter", CLIENT_CASES, "--client-adapter", adapter],
    );
    let log = out.log();
    let failing = out.failures();
    assert!(failing.is_empty(), "{}\n{log}", failing.join("\n"));
    assert_eq!(out.code, 0, "{log}");
    let r = out.report();
    assert!(
        r.target.client.contains("backproof-example-"),
        "the example, not the reference, was under test: {}",
        r.target.client
    );
    let families: std::collections::BTreeSet<&str> = r
        .cases
        .iter()
        .filter(|c| c.outcome.is_passing())
        .map(|c| c.family.as_str())
        .collect();
    for f in [
        "conflict",
        "corrupted-blob",
        "wrong-passphrase",
        "smart-recovery",
        "mid-rotation-crash",
        "vectors",
    ] {
        assert!(families.contains(f), "no {f} case passed: {families:?}");
    }
    // What an example does not do must be named, never passed silently.
    for c in r.cases.iter().filter(|c| c.outcome == Outcome::Unsupported) {
        assert!(
            c.reason.contains("does not offer"),
            "{}: {}",
            c.id,
            c.reason
        );
    }
    let passed = r.cases.iter().filter(|c| c.outcome.is_passing()).count();
    assert!(passed >= 150, "{passed} cases passed\n{log}");
}

#[test]
fn the_python_example_adapter_passes_the_client_cases() {
    if !tool_available(
        Command::new("python3").args(["-c", "import cryptography, argon2"]),
        "python3 with cryptography and argon2-cffi (pip install -r ci/crosscheck/requirements.txt)",
    ) {
        return;
    }
    run_adapter("python3 examples/adapters/python/adapter.py --kdf m=7168,t=5,p=1");
}

#[test]
fn the_typescript_example_adapter_passes_the_client_cases() {
    let pkg = root().join("examples/adapters/typescript/node_modules/hash-wasm");
    if !tool_available(
        Command::new("node").args(["-e", &format!("require({:?})", pkg.display().to_string())]),
        "node with hash-wasm (npm ci in examples/adapters/typescript)",
    ) {
        return;
    }
    run_adapter("node examples/adapters/typescript/adapter.mjs --kdf m=7168,t=5,p=1");
}
