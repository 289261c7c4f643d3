//! The known-deviations file (`--deviations FILE`, docs/GATE.md).
//!
//! Accepted deviations have a non-blank case and reason, no case twice, and written back as
//! TOML they parse to the same list.
#![no_main]

use backproof_report::{Deviation, parse_deviations};
use libfuzzer_sys::fuzz_target;

#[derive(serde::Serialize)]
struct File<'a> {
    deviation: &'a [Deviation],
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(list) = parse_deviations(text, "fuzz input") else {
        return;
    };
    let mut cases: Vec<&str> = Vec::new();
    for d in &list {
        assert!(!d.case.trim().is_empty() && !d.reason.trim().is_empty());
        assert!(
            !cases.contains(&d.case.as_str()),
            "case {:?} accepted twice",
            d.case
        );
        cases.push(&d.case);
    }
    let written = toml::to_string(&File { deviation: &list }).expect("deviations serialize");
    let again = parse_deviations(&written, "rewritten")
        .unwrap_or_else(|e| panic!("rewritten deviations do not parse: {e}\n{written}"));
    assert_eq!(again, list, "deviations change on write → parse");
});
