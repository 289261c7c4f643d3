//! A real tuning run on this machine with a window short enough for CI, and the round trip
//! of its `--json` result into the client's parameters and a blob that opens.
//!
//! The one timing assertion here measures the tune command's own claim (its reported median
//! lies in the window it was asked for), which is what the search guarantees when it returns
//! Ok; the parameters themselves depend on the machine and are only checked for validity.

use std::time::Duration;

use backproof_format::{KdfParams, Policy, Secret, open, parse_header, seal};
use backproof_tune::{
    Config, LocalMeasure, RunInfo, TuneReport, Window, load_kdf_file, parse_kdf, tune,
};

fn small_run() -> (RunInfo, backproof_tune::Tuned) {
    // The floor (7 MiB × 5 passes, one lane) takes a few tens of ms here; a window a little
    // above it makes the search scale memory at least once.
    let window = Window {
        low: Duration::from_millis(40),
        high: Duration::from_millis(160),
    };
    let cfg = Config::new(window, 64 * 1024, 1, 5);
    let tuned = tune(&mut LocalMeasure::default(), &cfg, &mut |_| {})
        .unwrap_or_else(|e| panic!("tuning into {window:?} failed: {e}"));
    let info = RunInfo {
        window,
        max_memory_kib: cfg.max_memory_kib,
        lanes: cfg.lanes,
        runs: cfg.runs,
        adapter: None,
    };
    (info, tuned)
}

#[test]
fn real_tune_lands_in_its_window_and_its_json_seals_blobs_that_open() {
    let (info, tuned) = small_run();
    assert!(
        info.window.contains(tuned.median()),
        "median {:?} outside {:?}",
        tuned.median(),
        info.window
    );
    assert_eq!(tuned.samples.len(), 5);
    assert!(tuned.probes() >= 1);
    Policy::default()
        .check(&tuned.params)
        .expect("within policy");
    assert!(tuned.params.m_cost <= 64 * 1024);

    // The --json document, written and read back the way the client reads it.
    let report = TuneReport::success(&info, &tuned);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kdf.json");
    std::fs::write(&path, report.to_json()).unwrap();
    let from_file: KdfParams = load_kdf_file(&path).expect("client accepts the file");
    assert_eq!(from_file, tuned.params);
    let from_arg = parse_kdf(report.kdf_arg.as_deref().unwrap()).expect("client accepts --kdf");
    assert_eq!(from_arg, tuned.params);
    let parsed = TuneReport::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(parsed.median_ms, report.median_ms);

    // Blobs sealed with them open, and carry them in the header.
    let secret = Secret::passphrase("tuned parameters, sealed and opened");
    let plaintext = b"contacts and identity, serialized".to_vec();
    let blob = seal(&secret, &from_file, &[7u8; 16], &[9u8; 12], &plaintext).expect("seal");
    assert_eq!(parse_header(&blob).expect("header").kdf, Some(from_file));
    let opened = open(&secret, &blob, &Policy::default()).expect("open");
    assert_eq!(opened.as_slice(), plaintext.as_slice());
    let wrong = open(
        &Secret::passphrase("not the passphrase used"),
        &blob,
        &Policy::default(),
    );
    assert_eq!(
        wrong.expect_err("wrong passphrase").class(),
        backproof_format::ErrorClass::WrongKey
    );
}
