//! The reference server's request-head parsers (docs/API.md): `If-Match` and the bearer
//! token of `Authorization`.
//!
//! An accepted precondition is a non-negative version that reads back the same when
//! written canonically; a refused one is always `invalid-precondition`; the header sent
//! twice is always refused. An accepted bearer token names a valid user and is exactly the
//! token the server mints for that user (no second spelling of the same token).
#![no_main]

use backproof_server::{
    Precondition, ProblemKind, if_match_kind, mint_token, user_from_header, valid_user,
};
use http::header::IF_MATCH;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

/// The seed corpus's tokens are minted with this secret.
const SECRET: &[u8] = b"fuzz-secret";

fn if_match(values: &[HeaderValue]) -> Result<Option<Precondition>, ProblemKind> {
    let mut headers = HeaderMap::new();
    for v in values {
        headers.append(IF_MATCH, v.clone());
    }
    if_match_kind(&headers)
}

fuzz_target!(|data: &[u8]| {
    if let Some(user) = user_from_header(SECRET, Some(data)) {
        assert!(
            valid_user(&user),
            "accepted a token for invalid user {user:?}"
        );
        let text = std::str::from_utf8(data).expect("an accepted header is UTF-8");
        let (_, token) = text
            .trim()
            .split_once(' ')
            .expect("an accepted header has a scheme");
        assert_eq!(
            token.trim(),
            mint_token(SECRET, &user),
            "a second spelling of a token"
        );
    }
    // Only a token minted with that secret could pass, and nothing mints one.
    assert!(user_from_header(b"another secret", Some(data)).is_none());

    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    match if_match(std::slice::from_ref(&value)) {
        Ok(None) => panic!("a present If-Match read as absent"),
        Ok(Some(Precondition::Any)) => {}
        Ok(Some(Precondition::Version(v))) => {
            assert!(v >= 0, "negative version {v}");
            let canonical = HeaderValue::from_str(&format!("\"{v}\"")).expect("ASCII");
            assert_eq!(if_match(&[canonical]), Ok(Some(Precondition::Version(v))));
        }
        Err(kind) => assert_eq!(kind, ProblemKind::InvalidPrecondition),
    }
    assert_eq!(
        if_match(&[value.clone(), value]),
        Err(ProblemKind::InvalidPrecondition),
        "If-Match sent twice was not refused"
    );
});
