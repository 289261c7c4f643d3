//! Typed extractors for what every `/v1/backup` handler needs from the request head: the
//! bearer user ([`AuthUser`]) and the `If-Match` precondition ([`IfMatch`]). Put `AuthUser`
//! first in a handler's arguments: axum runs extractors in order, so a request without a
//! valid token gets 401 before anything else is judged.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
pub use backproof_head::Precondition;

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

/// `If-Match`: absent (`None`), or exactly one tag (parsed by [`backproof_head::if_match`]).
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<Precondition>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        backproof_head::if_match(
            parts
                .headers
                .get_all(header::IF_MATCH)
                .iter()
                .map(HeaderValue::as_bytes),
        )
        .map(IfMatch)
        .map_err(|e| Problem::new(ProblemKind::InvalidPrecondition, e.to_string()))
    }
}
