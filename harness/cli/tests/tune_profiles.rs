//! `backproof tune --profile`: each profile's writer KDF is tuned, a KDF the profile does
//! not have is refused with the ones it has, and noah-v0, with nothing to tune, gets what a
//! guess costs instead (docs/TUNING.md "Profiles").

use std::process::{Command, Output};

fn tune(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backproof"))
        .arg("tune")
        .args(args)
        .output()
        .expect("run backproof tune")
}

#[test]
fn a_pbkdf2_profile_gets_an_iteration_count_inside_the_window() {
    // A wide, short window: the search lands in it on a loaded machine, and quickly.
    let out = tune(&[
        "--profile",
        "metamask-vault",
        "--target",
        "20ms..400ms",
        "--runs",
        "3",
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(r["schema"], "backproof-tune/1");
    assert_eq!(r["ok"], true);
    assert_eq!(r["profile"], "metamask-vault");
    assert_eq!(r["kdf"]["algorithm"], "pbkdf2-sha256");
    let n = r["kdf"]["iterations"].as_u64().unwrap();
    assert!((10_000..=10_000_000).contains(&n), "{n}");
    let median = r["median_ms"].as_f64().unwrap();
    assert!((20.0..=400.0).contains(&median), "{median}");
    assert_eq!(r["samples_ms"].as_array().unwrap().len(), 3);
}

#[test]
fn a_kdf_the_profile_lacks_is_refused_naming_the_ones_it_has() {
    let out = tune(&["--profile", "metamask-vault", "--kdf", "argon2id"]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("profile metamask-vault has no KDF \"argon2id\"")
            && stderr.contains("pbkdf2-sha256"),
        "{stderr}"
    );
    let out = tune(&["--profile", "v1", "--kdf", "pbkdf2-sha512"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("uses argon2id"));
}

#[test]
fn a_profile_without_a_passphrase_kdf_has_nothing_to_tune() {
    let out = tune(&["--profile", "dbm-stream-v1"]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("profile dbm-stream-v1 has no key derivation")
            && stderr.contains("nothing to tune"),
        "{stderr}"
    );
}

#[test]
fn noah_v0_has_nothing_to_tune_and_prints_what_a_guess_costs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("noah.json");
    let out = tune(&[
        "--profile",
        "noah-v0",
        "--runs",
        "2",
        "--json",
        file.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("profile noah-v0 has no key derivation")
            && stdout.contains("nothing to tune")
            && stdout.contains("advisory noah-v0/kdf-weak")
            && stdout.contains("PBKDF2-HMAC-SHA256, 10000 iterations at ")
            && stdout.contains("guesses/s per core")
            && stdout.contains("× cheaper"),
        "{stdout}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(r["schema"], "backproof-tune/1");
    assert_eq!(r["ok"], false, "there are no parameters to use");
    assert!(r["kdf"].is_null());
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing to tune"),
        "{r}"
    );
    // The report's own shape, so the same code reads both.
    let k: backproof_report::KdfSpeed =
        serde_json::from_value(r["guess_rates"].clone()).expect("the report's kdf_speed");
    assert_eq!(
        (k.profile.as_str(), k.advisory.as_str()),
        ("noah-v0", "kdf-weak")
    );
    assert_eq!(k.argon2id.derivations, 2, "--runs");
    assert!(k.argon2id.kdf.ends_with(",p=1"), "{k:?}");
    assert!(k.argon2id.guesses_per_second > 0.0, "{k:?}");
    assert!(
        k.design.guesses_per_second > k.argon2id.guesses_per_second,
        "{k:?}"
    );
    // A client given this file is told why it has no parameters in it.
    let e = backproof_tune::load_kdf_file(&file)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nothing to tune"), "{e}");

    let out = tune(&[
        "--profile",
        "noah-v0",
        "--client-adapter",
        "./never-started",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot time noah-v0's PBKDF2"), "{stderr}");
}

#[test]
fn pbkdf2_cannot_be_timed_through_an_adapter() {
    let out = tune(&[
        "--profile",
        "byok-json-v1",
        "--kdf",
        "pbkdf2-sha512",
        "--client-adapter",
        "./never-started",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("derives blob v1's Argon2id only"),
        "{stderr}"
    );
}

#[test]
fn help_lists_the_profile_and_kdf_options() {
    let out = tune(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--profile <NAME>") && help.contains("--kdf <KDF>"),
        "{help}"
    );
    assert!(help.contains("pbkdf2-sha512"), "{help}");
}
