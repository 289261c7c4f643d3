//! The HTTP exchanges of API v1, with retries on transient failures and the status → class
//! mapping. Only this module talks to reqwest.

use std::time::{Duration, Instant};

use backproof_format::ErrorClass;
use reqwest::{Method, StatusCode, header};

use crate::client::Server;
use crate::error::ClientError;
use crate::retry::RetryPolicy;

/// The smallest body the server accepts (docs/API.md): a 400 for a shorter body is `too_small`.
const MIN_BODY: usize = 32;

/// What a successful POST told us.
pub(crate) enum PostResult {
    Stored(u64),
    /// 409 (or 428 Precondition Required): someone else's version is current, or none is.
    Conflict,
}

/// One request for [`Http::exchange`].
pub(crate) struct Exchange<'a> {
    pub method: Method,
    pub url: &'a str,
    /// Sent as `Authorization: Bearer`; presigned URLs carry their credential in the query.
    pub bearer: Option<&'a str>,
    pub if_match: Option<u64>,
    /// The content type (empty: no `Content-Type` header) and the bytes.
    pub body: Option<(&'a str, &'a [u8])>,
    /// Read at most this many bytes of the answer's body.
    pub limit: usize,
}

pub(crate) struct Http {
    client: reqwest::Client,
    retry: RetryPolicy,
}

fn url_of(server: &Server) -> String {
    format!("{}/v1/backup", server.url.trim_end_matches('/'))
}

/// `"<v>"` (or a bare `<v>`) → v.
pub(crate) fn parse_etag(value: &str) -> Option<u64> {
    let v = value.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

impl Http {
    pub(crate) fn new(
        retry: RetryPolicy,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Http, ClientError> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .user_agent(concat!("backproof-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http { client, retry })
    }

    pub(crate) fn validate(server: &Server) -> Result<(), ClientError> {
        let parsed = reqwest::Url::parse(&server.url).map_err(|e| ClientError::BadServer {
            what: "URL",
            detail: format!("{:?} is not a URL: {e}", server.url),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::BadServer {
                what: "URL",
                detail: format!("{:?} must start with http:// or https://", server.url),
            });
        }
        if server.token.is_empty() || server.token.chars().any(|c| c.is_control() || c == ' ') {
            return Err(ClientError::BadServer {
                what: "token",
                detail: "the token must be non-empty, without spaces or control characters".into(),
            });
        }
        Ok(())
    }

    /// Sends one request to API v1's backup resource (see [`Http::exchange`]).
    async fn send(
        &self,
        server: &Server,
        method: Method,
        body: Option<&[u8]>,
        if_match: Option<u64>,
    ) -> Result<(StatusCode, header::HeaderMap, Vec<u8>), ClientError> {
        self.exchange(Exchange {
            method,
            url: &url_of(server),
            bearer: Some(&server.token),
            if_match,
            body: body.map(|b| ("application/octet-stream", b)),
            limit: usize::MAX,
        })
        .await
    }

    /// Sends one request, retrying network errors and 5xx per the policy. Returns the final
    /// status, headers and body (at most `limit` bytes of it: the rest is never read); 4xx
    /// are returned to the caller, never retried.
    pub(crate) async fn exchange(
        &self,
        x: Exchange<'_>,
    ) -> Result<(StatusCode, header::HeaderMap, Vec<u8>), ClientError> {
        let url = x.url.to_owned();
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut req = self.client.request(x.method.clone(), &url);
            if let Some(token) = x.bearer {
                req = req.bearer_auth(token);
            }
            if let Some(v) = x.if_match {
                req = req.header(header::IF_MATCH, format!("\"{v}\""));
            }
            if let Some((content_type, b)) = x.body {
                if !content_type.is_empty() {
                    req = req.header(header::CONTENT_TYPE, content_type);
                }
                req = req.body(b.to_vec());
            }
            let outcome = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    match read_body(resp, x.limit).await {
                        Ok(b) => Ok((status, headers, b)),
                        Err(e) => Err(describe(&e)),
                    }
                }
                Err(e) => Err(describe(&e)),
            };
            let retryable = match &outcome {
                Ok((status, ..)) => status.is_server_error(),
                Err(_) => true,
            };
            let elapsed = started.elapsed();
            if !retryable || attempt >= self.retry.max_attempts || elapsed >= self.retry.max_total {
                return match outcome {
                    Ok(r) => Ok(r),
                    Err(detail) => Err(ClientError::Network {
                        url,
                        detail,
                        attempts: attempt,
                    }),
                };
            }
            let delay = self
                .retry
                .delay(attempt - 1, crate::client::random_u32())
                .min(self.retry.max_total.saturating_sub(elapsed));
            // Without the query: a presigned URL's signature is a credential.
            let logged = url.split('?').next().unwrap_or_default();
            tracing::debug!(
                url = logged,
                attempt,
                ?delay,
                "retrying after a transient failure"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// GET the current blob and its version. `Ok(None)` on 404.
    pub(crate) async fn get(&self, server: &Server) -> Result<Option<(Vec<u8>, u64)>, ClientError> {
        let (status, headers, body) = self.send(server, Method::GET, None, None).await?;
        match status {
            StatusCode::OK => {
                let version = headers
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_etag)
                    .ok_or_else(|| {
                        ClientError::Protocol(
                            "GET /v1/backup answered 200 without an ETag \"<version>\"".into(),
                        )
                    })?;
                Ok(Some((body, version)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(status_error(s, &body, "GET", &url_of(server), None)),
        }
    }

    /// POST a blob, creating (no `if_match`) or replacing version `if_match`.
    pub(crate) async fn post(
        &self,
        server: &Server,
        blob: &[u8],
        if_match: Option<u64>,
    ) -> Result<PostResult, ClientError> {
        let (status, headers, body) = self
            .send(server, Method::POST, Some(blob), if_match)
            .await?;
        match status {
            StatusCode::OK | StatusCode::CREATED => {
                let from_json = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("version").and_then(|v| v.as_u64()));
                let from_etag = headers
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_etag);
                from_json.or(from_etag).map(PostResult::Stored).ok_or_else(|| {
                    ClientError::Protocol(format!(
                        "POST /v1/backup answered {status} without a version (JSON `version` or ETag)"
                    ))
                })
            }
            StatusCode::CONFLICT | StatusCode::PRECONDITION_REQUIRED => Ok(PostResult::Conflict),
            s => Err(status_error(
                s,
                &body,
                "POST",
                &url_of(server),
                Some(blob.len()),
            )),
        }
    }

    /// DELETE the backup. `Ok(false)` on 404.
    pub(crate) async fn delete(&self, server: &Server) -> Result<bool, ClientError> {
        let (status, _, body) = self.send(server, Method::DELETE, None, None).await?;
        match status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(status_error(s, &body, "DELETE", &url_of(server), None)),
        }
    }
}

/// The body, cut after `limit` bytes: a peer cannot make the client hold more than it asked
/// for.
async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = limit - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "transport error".to_string()
    };
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Maps a final non-success status onto its class (docs/CLIENT.md has the table).
pub(crate) fn status_error(
    status: StatusCode,
    body: &[u8],
    method: &str,
    url: &str,
    sent_len: Option<usize>,
) -> ClientError {
    let problem = serde_json::from_slice::<serde_json::Value>(body).ok();
    let field = |k: &str| {
        problem
            .as_ref()
            .and_then(|p| p.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let problem_type = field("type").unwrap_or_default();
    let detail = match (field("title"), field("detail")) {
        (Some(t), Some(d)) => format!("{t}: {d}"),
        (Some(t), None) => t,
        (None, Some(d)) => d,
        (None, None) => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.chars().take(200).collect();
            if text.trim().is_empty() {
                status.canonical_reason().unwrap_or("no detail").to_string()
            } else {
                text
            }
        }
    };
    let class = match status.as_u16() {
        401 | 403 => ErrorClass::Unauthorized,
        404 => ErrorClass::NotFound,
        409 | 412 | 428 => ErrorClass::Conflict,
        413 => ErrorClass::TooLarge,
        400 if sent_len.is_some_and(|n| n < MIN_BODY) || problem_type.contains("too-small") => {
            ErrorClass::TooSmall
        }
        400..=499 => ErrorClass::Malformed,
        _ => ErrorClass::ServerError,
    };
    ClientError::Status {
        class,
        status: status.as_u16(),
        method: method.to_string(),
        url: url.to_string(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags() {
        assert_eq!(parse_etag("\"7\""), Some(7));
        assert_eq!(parse_etag("12"), Some(12));
        assert_eq!(parse_etag(" \"0\" "), Some(0));
        for bad in ["", "\"\"", "W/\"1\"", "\"-1\"", "abc", "\"1", "1,2"] {
            assert_eq!(parse_etag(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn status_classes() {
        let c = |code: u16, body: &[u8], sent: Option<usize>| {
            status_error(StatusCode::from_u16(code).unwrap(), body, "POST", "u", sent).class()
        };
        assert_eq!(c(401, b"", None), ErrorClass::Unauthorized);
        assert_eq!(c(404, b"", None), ErrorClass::NotFound);
        assert_eq!(c(409, b"", None), ErrorClass::Conflict);
        assert_eq!(c(413, b"", Some(3_000_000)), ErrorClass::TooLarge);
        assert_eq!(c(400, b"", Some(5)), ErrorClass::TooSmall);
        assert_eq!(
            c(400, br#"{"type":"urn:backproof:problem:too-small"}"#, None),
            ErrorClass::TooSmall
        );
        assert_eq!(c(400, b"", Some(500)), ErrorClass::Malformed);
        assert_eq!(c(500, b"", None), ErrorClass::ServerError);
        assert_eq!(c(503, b"", None), ErrorClass::ServerError);
    }

    #[test]
    fn problem_detail_is_reported() {
        let e = status_error(
            StatusCode::UNAUTHORIZED,
            br#"{"type":"urn:backproof:problem:unauthorized","title":"Unauthorized","status":401,"detail":"token expired"}"#,
            "GET",
            "http://h/v1/backup",
            None,
        );
        let s = e.to_string();
        assert!(s.contains("401") && s.contains("token expired"), "{s}");
    }
}
