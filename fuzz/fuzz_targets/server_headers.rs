//! The reference server's request-head parsers (docs/API.md): `If-Match`, `If-None-Match`
//! and the bearer token of `Authorization`, as `backproof-head` gives them to the server.
//!
//! An accepted precondition is a non-negative version that reads back the same when
//! written canonically; the header sent twice is always refused. `If-None-Match` reads a
//! value the same alone as in a list. An accepted bearer token names a valid user and is
//! exactly the token the server mints for that user (no second spelling of the same token).
#![no_main]

use backproof_head::{
    Precondition, PreconditionError, if_match, if_none_match_hits, mint_token, user_from_header,
    valid_user,
};
use libfuzzer_sys::fuzz_target;

/// The seed corpus's tokens are minted with this secret.
const SECRET: &[u8] = b"fuzz-secret";

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

    match if_match([data]) {
        Ok(None) => panic!("a present If-Match read as absent"),
        Ok(Some(Precondition::Any)) => {}
        Ok(Some(Precondition::Version(v))) => {
            assert!(v >= 0, "negative version {v}");
            let canonical = format!("\"{v}\"");
            assert_eq!(
                if_match([canonical.as_bytes()]),
                Ok(Some(Precondition::Version(v)))
            );
            // A value If-Match accepts is one If-None-Match reads, and it hits its version.
            assert_eq!(if_none_match_hits([data], v), Ok(true));
        }
        Err(e) => assert!(
            e.to_string().len() < 200,
            "a refusal quotes the value clipped: {e}"
        ),
    }
    assert_eq!(
        if_match([data, data]),
        Err(PreconditionError::IfMatchRepeated),
        "If-Match sent twice was not refused"
    );

    // Every occurrence of If-None-Match is read: the value twice hits what it hits once.
    let once = if_none_match_hits([data], 1);
    let twice = if_none_match_hits([data, data], 1);
    assert_eq!(once, twice, "If-None-Match read differently when repeated");
    if once == Ok(true) {
        assert!(if_none_match_hits([data], 2).is_ok());
    }
});
