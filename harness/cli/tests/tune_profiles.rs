//! `backproof tune --profile`: each profile's writer KDF is tuned, and a KDF the profile
//! does not have is refused with the ones it has (docs/TUNING.md "Profiles").

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
