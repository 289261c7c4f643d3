//! Checking a report's deterministic part against the copy kept in the repository, with
//! insta (feature `insta`).
//!
//! The kept copy is an insta *binary* snapshot, so the JSON is a plain file next to insta's
//! small metadata file: `reports/reference.snap` (metadata) and `reports/reference.snap.json`
//! (the [`Report::snapshot_json`] bytes). `reports/reference.json` is a symlink to the latter,
//! the name `--baseline` and `backproof diff` are pointed at. When the run changes on
//! purpose, `cargo insta review` (or `cargo insta accept`) takes the new JSON.

use std::path::{Path, PathBuf};

use crate::Report;

/// `reports/` of this source tree (the crate lives at `harness/report`).
pub fn reports_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reports")
}

/// Asserts that `report`'s deterministic part equals `reports/reference.snap.json`.
pub fn assert_report_snapshot(report: &Report) {
    assert_report_snapshot_at(&reports_dir(), "reference", report);
}

/// Asserts that `report`'s deterministic part equals `<dir>/<name>.snap.json`. On a
/// mismatch insta writes `<name>.snap.new.json` beside it (outside CI) and the assertion
/// fails with a diff.
pub fn assert_report_snapshot_at(dir: &Path, name: &str, report: &Report) {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::assert_binary_snapshot!(
            &format!("{name}.json"),
            report.snapshot_json().into_bytes()
        );
    });
}
