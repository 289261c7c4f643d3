//! Typed extractors for what every `/v1/backup` handler needs from the request head: the
//! bearer user ([`AuthUser`]) and the `If-Match` precondition ([`IfMatch`]). Put `AuthUser`
//! first in a handler's arguments: axum runs extractors in order, so a request without a
//! valid token gets 401 before anything else is judged.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};

use crate::api::Shared;
use crate::auth;
use crate::problem::{Problem, ProblemKind};

/// The user the bearer token names.
#[derive(Debug, Clone)]
pub struct AuthUser(pub String);

/// The header a broken server (`--unsafe-user-override`) takes the user from.
const USER_OVERRIDE_HEADER: &str = "x-backproof-user";

impl FromRequestParts<Shared> for AuthUser {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, st: &Shared) -> Result<Self, Problem> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        if value.is_none() {
            return Err(Problem::new(
                ProblemKind::Unauthorized,
                "send Authorization: Bearer <token> (mint one with `backproof serve token --user NAME`)",
            ));
        }
        let user =
            auth::user_from_header(st.config.auth_secret.as_bytes(), value).ok_or_else(|| {
                Problem::new(
                    ProblemKind::Unauthorized,
                    "the bearer token is malformed or not valid for this server",
                )
            })?;
        if st.config.unsafe_flags.user_override
            && let Some(other) = overriding_user(parts)
        {
            return Ok(AuthUser(other));
        }
        Ok(AuthUser(user))
    }
}

/// `X-Backproof-User: NAME` or `?user=NAME` — honoured only by the broken variant.
fn overriding_user(parts: &Parts) -> Option<String> {
    let from_header = parts
        .headers
        .get(USER_OVERRIDE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_query = parts.uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("user="))
            .map(str::to_owned)
    });
    from_header.or(from_query).filter(|u| auth::valid_user(u))
}

/// An `If-Match` precondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any existing version.
    Any,
    /// `"<v>"` or bare `<v>`.
    Version(i64),
}

/// `If-Match`: absent (`None`), or exactly one tag.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<Precondition>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parse_if_match(&parts.headers).map(IfMatch)
    }
}

fn parse_version(s: &str) -> Option<i64> {
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
    parse_version(inner).map(Precondition::Version)
}

/// Weak tags, lists and anything else are 400: a writer whose precondition we cannot read
/// must not get a guessed one.
fn parse_if_match(headers: &HeaderMap) -> Result<Option<Precondition>, Problem> {
    let mut values = headers.get_all(header::IF_MATCH).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let bad = |why: &str| {
        Problem::new(
            ProblemKind::InvalidPrecondition,
            format!("If-Match {why}; send exactly one version as \"<v>\" (or <v>, or *)"),
        )
    };
    if values.next().is_some() {
        return Err(bad("appears more than once"));
    }
    let text = first.to_str().map_err(|_| bad("is not ASCII"))?;
    if text.contains(',') {
        return Err(bad("lists several values"));
    }
    parse_one_tag(text)
        .map(Some)
        .ok_or_else(|| bad(&format!("value {:?} is not a version", truncate(text))))
}

/// What [`IfMatch`] makes of the `If-Match` values of a request: the precondition, or the
/// kind of problem it answers. Public for the fuzz targets, which have no `Parts` to give.
pub fn if_match_kind(headers: &HeaderMap) -> Result<Option<Precondition>, ProblemKind> {
    parse_if_match(headers).map_err(|p| p.kind)
}

pub fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}
