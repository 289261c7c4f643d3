//! The adapter protocol (docs/ADAPTER.md), adapter end: request lines as the reference
//! adapter reads them.
//!
//! Each line is framed by `parse_request`; a refused line's error answer must be one the
//! driver end accepts as a `malformed` error (both ends agree on the wire), and a request
//! body that parses into its op's type must survive serialize → parse unchanged.
#![no_main]

use backproof_adapter_protocol::{
    BackupRequest, DeleteRequest, DeriveRequest, OpenRequest, RecoverRequest, RestoreRequest,
    RotateRequest, SealRequest, WireError, check_answer, parse_request,
};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Parse → serialize → parse → serialize gives the first serialization again.
fn round_trip<T: DeserializeOwned + Serialize>(v: &Value) {
    let Ok(t) = T::deserialize(v) else { return };
    let first = serde_json::to_value(&t).expect("a parsed request serializes");
    let again = T::deserialize(&first).expect("a serialized request parses");
    let second = serde_json::to_value(&again).expect("a parsed request serializes");
    assert_eq!(first, second, "a request changes on serialize → parse");
}

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_request(line) {
            Err(answer) => {
                let wire = serde_json::to_string(&answer).expect("answers serialize");
                let back: Value = serde_json::from_str(&wire).expect("answers are JSON");
                match back["id"].as_u64() {
                    Some(id) => {
                        let judged = check_answer(id, &back)
                            .expect("the driver accepts the adapter's error answer");
                        let e = judged.expect_err("a refused line is answered with an error");
                        assert_eq!(e.class, "malformed");
                    }
                    None => {
                        assert!(back["id"].is_null(), "an answer id is a number or null");
                        let e: WireError = serde_json::from_value(back["error"].clone())
                            .expect("the error object has the wire shape");
                        assert_eq!(e.class, "malformed");
                    }
                }
            }
            Ok((id, op, value)) => {
                assert_eq!(value["id"].as_u64(), Some(id));
                assert_eq!(value["op"].as_str(), Some(op.as_str()));
                match op.as_str() {
                    "derive" => round_trip::<DeriveRequest>(&value),
                    "seal" => round_trip::<SealRequest>(&value),
                    "open" => round_trip::<OpenRequest>(&value),
                    "backup" => round_trip::<BackupRequest>(&value),
                    "restore" => round_trip::<RestoreRequest>(&value),
                    "rotate" => round_trip::<RotateRequest>(&value),
                    "recover" => round_trip::<RecoverRequest>(&value),
                    "delete" => round_trip::<DeleteRequest>(&value),
                    _ => {}
                }
            }
        }
    }
});
