//! The framing of one line (docs/ADAPTER.md "Framing"): what makes a line a request, what a
//! refused one is answered with, and what makes an object an answer to a given request.

use backproof_format::ErrorClass;
use serde_json::{Value, json};

use crate::WireError;

/// The error answer to request `id` (`None` when the line had no readable id).
pub fn error_answer(id: Option<u64>, error: &WireError) -> Value {
    json!({"id": id, "error": error})
}

fn malformed(id: Option<u64>, message: String) -> Value {
    error_answer(
        id,
        &WireError {
            class: ErrorClass::Malformed.as_str().to_owned(),
            message,
            tried: None,
        },
    )
}

/// The framing of one request line: its `id`, its `op` and the whole request object, or
/// the `malformed` error answer to send back.
pub fn parse_request(line: &[u8]) -> Result<(u64, String, Value), Value> {
    let text = std::str::from_utf8(line)
        .map_err(|e| malformed(None, format!("request line is not UTF-8: {e}")))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| malformed(None, format!("request line is not JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(malformed(
            None,
            "a request is a JSON object {\"id\": N, \"op\": NAME, ...}".into(),
        ));
    };
    let Some(id) = obj.get("id").and_then(Value::as_u64) else {
        return Err(malformed(
            None,
            "request `id` missing or not a non-negative integer".into(),
        ));
    };
    let Some(op) = obj.get("op").and_then(Value::as_str) else {
        return Err(malformed(
            Some(id),
            "request `op` missing or not a string".into(),
        ));
    };
    let op = op.to_owned();
    Ok((id, op, value))
}

/// An answer that breaks the protocol: the adapter is broken, not the operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolViolation(pub String);

/// Judges one answer object against the request it answers (`id`): the `result` object,
/// the adapter's error, or a protocol violation.
pub fn check_answer(
    id: u64,
    answer: &Value,
) -> Result<Result<Value, WireError>, ProtocolViolation> {
    let obj = answer.as_object().ok_or_else(|| {
        ProtocolViolation(format!(
            "answer is not an object: {}",
            clip(&answer.to_string())
        ))
    })?;
    match obj.get("id").and_then(Value::as_u64) {
        Some(got) if got == id => {}
        got => {
            return Err(ProtocolViolation(format!(
                "answer id {got:?} does not match request id {id} (answers must come in order)"
            )));
        }
    }
    match (obj.get("result"), obj.get("error")) {
        (Some(r), None) if r.is_object() => Ok(Ok(r.clone())),
        (None, Some(e)) => serde_json::from_value(e.clone())
            .map(Err)
            // serde quotes the offending value whole, so the message is clipped like the
            // others: an adapter's huge answer must not become a huge report line.
            .map_err(|err| {
                ProtocolViolation(format!("bad error object ({})", clip(&err.to_string())))
            }),
        _ => Err(ProtocolViolation(format!(
            "an answer has exactly one of `result` (an object) or `error`: {}",
            clip(&answer.to_string())
        ))),
    }
}

/// The first 300 bytes of `s` (cut on a character boundary), for messages quoting a line.
pub fn clip(s: &str) -> String {
    if s.len() <= 300 {
        s.to_string()
    } else {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_answer_is_quoted_clipped() {
        let long = "x".repeat(5000);
        for answer in [
            json!({"id": 7, "error": long}),
            json!({"id": 7, "error": {"class": long, "message": 5}}),
            json!({"id": 7, "result": long}),
            json!([long]),
        ] {
            let e = check_answer(7, &answer).unwrap_err();
            assert!(e.0.len() < 600, "{} bytes: {}", e.0.len(), &e.0[..200]);
        }
    }
}
