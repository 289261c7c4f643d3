//! The adapter protocol (docs/ADAPTER.md), driver end: answer lines as the suite reads them
//! from any adapter.
//!
//! An answer is judged by `check_answer` exactly as the driver does after reading a line;
//! an accepted result is an object, an accepted error has the wire shape, and a result
//! that parses into an op's result type survives serialize → parse unchanged.
#![no_main]

use backproof_adapter_protocol::{
    HelloResult, OpenResult, RecoverResult, RestoreResult, SealResult, VersionResult, WireError,
    check_answer,
};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn round_trip<T: DeserializeOwned + Serialize>(v: &Value) {
    let Ok(t) = T::deserialize(v) else { return };
    let first = serde_json::to_value(&t).expect("a parsed result serializes");
    let again = T::deserialize(&first).expect("a serialized result parses");
    let second = serde_json::to_value(&again).expect("a parsed result serializes");
    assert_eq!(first, second, "a result changes on serialize → parse");
}

fuzz_target!(|data: &[u8]| {
    for raw in data.split(|&b| b == b'\n') {
        // The driver reads lines lossily and skips blank ones.
        let line = String::from_utf8_lossy(raw);
        if line.trim().is_empty() {
            continue;
        }
        let Ok(answer) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let id = answer["id"].as_u64().unwrap_or(7);
        match check_answer(id, &answer) {
            Ok(Ok(result)) => {
                assert!(result.is_object(), "an accepted result is an object");
                round_trip::<HelloResult>(&result);
                round_trip::<SealResult>(&result);
                round_trip::<OpenResult>(&result);
                round_trip::<VersionResult>(&result);
                round_trip::<RestoreResult>(&result);
                round_trip::<RecoverResult>(&result);
            }
            Ok(Err(e)) => {
                assert!(answer.get("result").is_none());
                let wire: WireError =
                    serde_json::from_value(answer["error"].clone()).expect("it was accepted");
                assert_eq!(wire, e, "the error is the answer's, unchanged");
            }
            Err(e) => {
                // Protocol errors quote the answer clipped (on a character boundary), so a
                // huge answer never becomes a huge message.
                assert!(e.0.len() < 600, "an unclipped protocol message");
            }
        }
    }
});
