//! The report JSON loader (`Report::from_json_str`, behind `backproof report`, `diff` and
//! `gate`; docs/GATE.md).
//!
//! An accepted report passes its own consistency checks and survives write → load
//! unchanged.
#![no_main]

use backproof_report::Report;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(report) = Report::from_json_str(text, "fuzz input") else {
        return;
    };
    report.validate().expect("a loaded report is consistent");
    let written = report.to_json();
    let again = Report::from_json_str(&written, "rewritten")
        .unwrap_or_else(|e| panic!("a written report does not load: {e}"));
    assert_eq!(again, report, "a report changes on write → load");
});
