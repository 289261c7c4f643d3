//! `If-Match` and `If-None-Match` (docs/API.md "Versions and preconditions"). Each takes the
//! raw values of every occurrence of its header, in order, as the server received them.

/// The advice every refused `If-Match` carries.
const SEND_ONE: &str = "send exactly one version as \"<v>\" (or <v>, or *)";

/// A precondition tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any existing version.
    Any,
    /// `"<v>"` or bare `<v>`.
    Version(i64),
}

/// Why a precondition header was refused; the server answers each with
/// `invalid-precondition` and this sentence as the detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreconditionError {
    #[error("If-Match appears more than once; {SEND_ONE}")]
    IfMatchRepeated,
    #[error("If-Match is not ASCII; {SEND_ONE}")]
    IfMatchNotAscii,
    #[error("If-Match lists several values; {SEND_ONE}")]
    IfMatchList,
    /// The value, cut to 40 characters.
    #[error("If-Match value {0:?} is not a version; {SEND_ONE}")]
    IfMatchNotAVersion(String),
    #[error("If-None-Match is not ASCII")]
    IfNoneMatchNotAscii,
    /// The offending tag, cut to 40 characters.
    #[error("If-None-Match value {0:?} is not a version")]
    IfNoneMatchNotAVersion(String),
}

/// The text of a header value, under the rule `http::HeaderValue::to_str` applies (visible
/// ASCII, space and tab), so that the server refuses exactly what it cannot read as text.
fn header_text(value: &[u8]) -> Option<&str> {
    if value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

fn version(s: &str) -> Option<i64> {
    // 18 digits always fit an i64, so no accepted tag can overflow.
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// One strong entity tag `"<digits>"`, a bare `<digits>`, or `*`.
pub fn parse_one_tag(s: &str) -> Option<Precondition> {
    let s = s.trim();
    if s == "*" {
        return Some(Precondition::Any);
    }
    let inner = match s.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => s,
    };
    version(inner).map(Precondition::Version)
}

/// Cuts a refused value for the error message, so a huge header does not become a huge answer.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `If-Match`: absent (`None`), or exactly one tag. Weak tags, lists and anything else are
/// refused: a writer whose precondition we cannot read must not get a guessed one.
pub fn if_match<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Option<Precondition>, PreconditionError> {
    let mut values = values.into_iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(PreconditionError::IfMatchRepeated);
    }
    let text = header_text(first).ok_or(PreconditionError::IfMatchNotAscii)?;
    if text.contains(',') {
        return Err(PreconditionError::IfMatchList);
    }
    parse_one_tag(text)
        .map(Some)
        .ok_or_else(|| PreconditionError::IfMatchNotAVersion(clip(text)))
}

/// `If-None-Match` on GET/HEAD: lists of tags (weak ones compare weakly, RFC 9110) or `*`,
/// over every occurrence of the header. Returns whether `current` matches any of them.
pub fn if_none_match_hits<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
    current: i64,
) -> Result<bool, PreconditionError> {
    let mut hit = false;
    for value in values {
        let text = header_text(value).ok_or(PreconditionError::IfNoneMatchNotAscii)?;
        for tag in text.split(',') {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            match parse_one_tag(tag) {
                Some(Precondition::Any) => hit = true,
                Some(Precondition::Version(v)) => hit |= v == current,
                None => return Err(PreconditionError::IfNoneMatchNotAVersion(clip(tag))),
            }
        }
    }
    Ok(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: &str) -> Result<Option<Precondition>, PreconditionError> {
        if_match([v.as_bytes()])
    }

    #[test]
    fn if_match_reads_one_strong_bare_or_any_tag() {
        assert_eq!(if_match([]), Ok(None));
        assert_eq!(one("\"7\""), Ok(Some(Precondition::Version(7))));
        assert_eq!(one(" 12 "), Ok(Some(Precondition::Version(12))));
        assert_eq!(one("*"), Ok(Some(Precondition::Any)));
        assert_eq!(
            one(&"9".repeat(18)),
            Ok(Some(Precondition::Version(999_999_999_999_999_999)))
        );
    }

    #[test]
    fn if_match_refuses_what_it_cannot_read_with_the_reason() {
        assert_eq!(
            if_match([b"1".as_slice(), b"1".as_slice()]),
            Err(PreconditionError::IfMatchRepeated)
        );
        assert_eq!(one("\"1\", \"2\""), Err(PreconditionError::IfMatchList));
        assert_eq!(
            if_match([b"\"1\x80\"".as_slice()]),
            Err(PreconditionError::IfMatchNotAscii)
        );
        assert_eq!(
            one("\u{7f}1"),
            Err(PreconditionError::IfMatchNotAscii),
            "DEL is not visible ASCII"
        );
        for bad in ["W/\"1\"", "-1", "\"1", "", "\"\"", &"9".repeat(19), "1.0"] {
            assert!(
                matches!(one(bad), Err(PreconditionError::IfMatchNotAVersion(_))),
                "{bad:?}"
            );
        }
        let long = "x".repeat(100);
        assert_eq!(
            one(&long),
            Err(PreconditionError::IfMatchNotAVersion("x".repeat(40)))
        );
    }

    #[test]
    fn if_none_match_compares_weak_tags_and_lists() {
        let hits = |v: &str, cur| if_none_match_hits([v.as_bytes()], cur);
        assert_eq!(hits("W/\"3\", \"4\"", 3), Ok(true));
        assert_eq!(hits("\"4\"", 3), Ok(false));
        assert_eq!(hits("*", 3), Ok(true));
        assert_eq!(
            if_none_match_hits([b"1".as_slice(), b"3".as_slice()], 3),
            Ok(true)
        );
        assert_eq!(
            hits("\"3\", nope", 3),
            Err(PreconditionError::IfNoneMatchNotAVersion("nope".into()))
        );
        assert_eq!(
            if_none_match_hits([b"\xff".as_slice()], 3),
            Err(PreconditionError::IfNoneMatchNotAscii)
        );
    }
}
