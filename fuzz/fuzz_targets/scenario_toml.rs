//! Scenario files (docs/SCENARIOS.md): the TOML a scenario author or another team writes.
//!
//! `Scenario::load` is this parse plus reading the file and checking the family against
//! the folder. A scenario that parses must survive serialize → parse unchanged, so that
//! what the suite reports (and the schema describes) is what the author wrote.
#![no_main]

use backproof_scenario::model::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = toml::from_str::<Scenario>(text) else {
        return;
    };
    let first = serde_json::to_value(&scenario).expect("a parsed scenario serializes");
    let again: Scenario = serde_json::from_value(first.clone())
        .unwrap_or_else(|e| panic!("a serialized scenario does not parse again: {e}\n{first:#}"));
    let second = serde_json::to_value(&again).expect("a parsed scenario serializes");
    assert_eq!(first, second, "a scenario changes on serialize → parse");
});
