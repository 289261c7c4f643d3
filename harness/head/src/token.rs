//! Reference bearer tokens: `bpt1.<user>.<base64url(HMAC-SHA256(secret, user))>` (docs/API.md).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const PREFIX: &str = "bpt1.";

/// User names are 1–64 characters of `[A-Za-z0-9_-]`: they appear in S3 keys and logs, and
/// keeping `.` out makes the token split unambiguous.
pub fn valid_user(user: &str) -> bool {
    (1..=64).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn mac(secret: &[u8], user: &str) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(user.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// Mints the reference token for `user`. The caller is expected to pass a valid user name
/// (see [`valid_user`]); a token for an invalid name is never accepted by the server.
pub fn mint_token(secret: &[u8], user: &str) -> String {
    format!(
        "{PREFIX}{user}.{}",
        URL_SAFE_NO_PAD.encode(mac(secret, user))
    )
}

/// Returns the user a token names, or `None` when it is not a valid token for `secret`.
pub fn verify_token(secret: &[u8], token: &str) -> Option<String> {
    let rest = token.strip_prefix(PREFIX)?;
    let (user, tag) = rest.split_once('.')?;
    if !valid_user(user) {
        return None;
    }
    let given = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let expected = mac(secret, user);
    // Constant time so the MAC cannot be guessed byte by byte from response timing.
    if given.len() == expected.len() && bool::from(given.ct_eq(&expected)) {
        Some(user.to_owned())
    } else {
        None
    }
}

/// Extracts the user from an `Authorization` header value (`Bearer <token>`, scheme
/// case-insensitive per RFC 7235).
pub fn user_from_header(secret: &[u8], value: Option<&[u8]>) -> Option<String> {
    let value = std::str::from_utf8(value?).ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    verify_token(secret, token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_token_verifies_only_with_its_secret() {
        let t = mint_token(b"s1", "alice");
        assert_eq!(verify_token(b"s1", &t).as_deref(), Some("alice"));
        assert_eq!(verify_token(b"s2", &t), None);
    }

    #[test]
    fn token_for_other_user_or_tampered_mac_is_rejected() {
        let t = mint_token(b"s", "alice");
        let forged = t.replace("alice", "bob");
        assert_eq!(verify_token(b"s", &forged), None);
        let mut chars: Vec<char> = t.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(verify_token(b"s", &tampered), None);
    }

    #[test]
    fn garbage_tokens_are_rejected() {
        for t in [
            "",
            "bpt1.",
            "bpt1.alice",
            "bpt1..x",
            "bpt2.alice.AAAA",
            "bpt1.al ice.AAAA",
            "bpt1.alice.!!!",
        ] {
            assert_eq!(verify_token(b"s", t), None, "{t:?}");
        }
    }

    #[test]
    fn user_names_are_restricted() {
        assert!(valid_user("alice_B-9"));
        assert!(!valid_user(""));
        assert!(!valid_user("a.b"));
        assert!(!valid_user("a/b"));
        assert!(!valid_user(&"x".repeat(65)));
        assert!(valid_user(&"x".repeat(64)));
    }

    #[test]
    fn header_scheme_is_case_insensitive() {
        let t = mint_token(b"s", "alice");
        let h = format!("bEaReR {t}");
        assert_eq!(
            user_from_header(b"s", Some(h.as_bytes())).as_deref(),
            Some("alice")
        );
        let basic = format!("Basic {t}");
        assert_eq!(user_from_header(b"s", Some(basic.as_bytes())), None);
        assert_eq!(user_from_header(b"s", None), None);
    }
}
