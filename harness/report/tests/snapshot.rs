//! How a report's deterministic part is kept in the repository and checked with insta:
//! the same call the reference run uses for reports/reference.json (`assert_report_snapshot`),
//! here on a crafted report kept in tests/snapshots/example.snap(.json).
//! When the output changes on purpose: `cargo insta review` (or
//! `INSTA_UPDATE=always cargo test -p backproof-report --features insta --test snapshot`).

mod common;

use std::path::Path;

use backproof_report::Report;
use backproof_report::snapshot::assert_report_snapshot_at;
use common::*;

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

#[test]
fn crafted_report_matches_its_kept_snapshot() {
    let report = report_with_one_failure();
    assert_report_snapshot_at(&dir(), "example", &report);
}

#[test]
fn the_kept_snapshot_is_a_loadable_report_without_timings() {
    let kept = dir().join("example.snap.json");
    let Ok(text) = std::fs::read_to_string(&kept) else {
        // First run: the assertion above writes the file.
        return;
    };
    let loaded = Report::from_json_str(&text, "example.snap.json").unwrap();
    assert!(
        !text.contains("timings") && !text.contains("wall_ms"),
        "no timings in a snapshot"
    );
    assert_eq!(loaded.case(FAILING_ID).unwrap().observed, FAILING_OBSERVED);
    // Timings differ between runs; the kept bytes do not depend on them.
    let mut other = report_with_one_failure();
    other.timings.wall_ms += 1;
    assert_eq!(other.snapshot_json(), text);
}
