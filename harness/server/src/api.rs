//! The HTTP surface: routes, the rules of BRIEF §4, and the write path.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, delete, get, head, on, post};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;

use crate::Config;
use crate::auth;
use crate::failpoint;
use crate::problem::{Problem, ProblemKind};
use crate::storage::{self, BackupRow, NewObject, StorageError};

/// Bodies shorter than this are refused: a zero-byte or truncated upload must never replace
/// a real backup (seed 002's "accidental wipe" rule).
pub const MIN_BLOB_BYTES: u64 = 32;

#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub db: PgPool,
    pub s3: aws_sdk_s3::Client,
    /// Object keys written by requests still in flight: the sweeper must not take them for
    /// orphans even with a zero grace period.
    pub inflight: Mutex<HashSet<String>>,
}

pub type Shared = Arc<AppState>;

/// Every (path, method) the server answers, in the order docs/openapi.yaml lists them. The
/// router is built from this table, so tests that compare it with the OpenAPI document
/// compare what is really served. HEAD is listed wherever GET is: axum answers HEAD with the
/// GET handler (without the body) when no HEAD handler is set, so it is served either way.
pub const ROUTES: &[(&str, &str)] = &[
    ("/v1/backup", "GET"),
    ("/v1/backup", "HEAD"),
    ("/v1/backup", "POST"),
    ("/v1/backup", "DELETE"),
    ("/healthz", "GET"),
    ("/healthz", "HEAD"),
    ("/readyz", "GET"),
    ("/readyz", "HEAD"),
];

/// The handler of one `ROUTES` entry.
fn endpoint(path: &str, method: &str) -> MethodRouter<Shared> {
    match (path, method) {
        ("/v1/backup", "GET") => get(get_backup),
        ("/v1/backup", "HEAD") => head(head_backup),
        ("/v1/backup", "POST") => post(post_backup),
        ("/v1/backup", "DELETE") => delete(delete_backup),
        ("/healthz", "GET" | "HEAD") => on(method_filter(method), healthz),
        ("/readyz", "GET" | "HEAD") => on(method_filter(method), readyz),
        // Only reachable by adding a ROUTES entry without a handler; every test that builds
        // the router fails then.
        _ => unreachable!("ROUTES entry {method} {path} has no handler"),
    }
}

fn method_filter(method: &str) -> MethodFilter {
    if method == "HEAD" {
        MethodFilter::HEAD
    } else {
        MethodFilter::GET
    }
}

pub fn router(state: Shared) -> Router {
    let mut paths: Vec<(&str, MethodRouter<Shared>)> = Vec::new();
    for &(path, method) in ROUTES {
        let handler = endpoint(path, method);
        match paths.iter_mut().find(|(p, _)| *p == path) {
            Some((_, methods)) => {
                let merged = std::mem::take(methods).merge(handler);
                *methods = merged;
            }
            None => paths.push((path, handler)),
        }
    }
    paths
        .into_iter()
        .fold(Router::new(), |r, (path, methods)| r.route(path, methods))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), access_log))
        .with_state(state)
}

/// Body bytes a handler moved, for the access log.
#[derive(Debug, Clone, Copy)]
struct LoggedBytes(u64);

async fn access_log(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // Only the user name is logged, never the token.
    let user = auth::user_from_header(
        st.config.auth_secret.as_bytes(),
        req.headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    );
    let resp = next.run(req).await;
    let version = resp
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches('"').to_owned());
    let bytes = resp
        .extensions()
        .get::<LoggedBytes>()
        .map(|b| b.0)
        .unwrap_or(0);
    tracing::info!(
        target: "backproof_server::access",
        user = user.as_deref().unwrap_or("-"),
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        version = version.as_deref().unwrap_or("-"),
        bytes,
        latency_ms = start.elapsed().as_secs_f64() * 1000.0,
    );
    resp
}

async fn not_found() -> Problem {
    Problem::new(
        ProblemKind::NotFound,
        "no such path; the API lives at /v1/backup",
    )
}

async fn method_not_allowed(uri: axum::http::Uri) -> Problem {
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|(p, _)| *p == uri.path())
        .map(|(_, m)| *m)
        .collect();
    Problem::new(
        ProblemKind::MethodNotAllowed,
        format!(
            "method not allowed here; {} takes {}",
            uri.path(),
            allowed.join(", ")
        ),
    )
}

async fn healthz() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

async fn readyz(State(st): State<Shared>) -> Response {
    match storage::check_ready(&st.db, &st.s3, &st.config.s3_bucket).await {
        Ok(()) => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"ready"}"#,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            Problem::unavailable(e.what()).into_response()
        }
    }
}

fn authenticate(st: &AppState, headers: &HeaderMap) -> Result<String, Problem> {
    let value = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if value.is_none() {
        return Err(Problem::new(
            ProblemKind::Unauthorized,
            "send Authorization: Bearer <token> (mint one with `backproof serve token --user NAME`)",
        ));
    }
    auth::user_from_header(st.config.auth_secret.as_bytes(), value).ok_or_else(|| {
        Problem::new(
            ProblemKind::Unauthorized,
            "the bearer token is malformed or not valid for this server",
        )
    })
}

fn unavailable(e: StorageError) -> Problem {
    tracing::warn!(error = %e, "storage failure");
    Problem::unavailable(e.what())
}

/// An `If-Match` precondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any existing version.
    Any,
    /// `"<v>"` or bare `<v>`.
    Version(i64),
}

fn parse_version(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// One strong entity tag `"<digits>"`, a bare `<digits>`, or `*`.
fn parse_one_tag(s: &str) -> Option<Precondition> {
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

/// `If-Match`: absent, or exactly one tag. Weak tags, lists and anything else are 400: a
/// writer whose precondition we cannot read must not get a guessed one.
pub fn parse_if_match(headers: &HeaderMap) -> Result<Option<Precondition>, Problem> {
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

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `If-None-Match` on GET/HEAD: a list of tags (weak ones compare weakly, RFC 9110) or `*`.
/// Returns whether the current version matches.
fn if_none_match_hits(headers: &HeaderMap, current: i64) -> Result<bool, Problem> {
    let mut hit = false;
    for value in headers.get_all(header::IF_NONE_MATCH) {
        let text = value.to_str().map_err(|_| {
            Problem::new(
                ProblemKind::InvalidPrecondition,
                "If-None-Match is not ASCII",
            )
        })?;
        for tag in text.split(',') {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            match parse_one_tag(tag) {
                Some(Precondition::Any) => hit = true,
                Some(Precondition::Version(v)) => hit |= v == current,
                None => {
                    return Err(Problem::new(
                        ProblemKind::InvalidPrecondition,
                        format!("If-None-Match value {:?} is not a version", truncate(tag)),
                    ));
                }
            }
        }
    }
    Ok(hit)
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits and quotes are a valid header")
}

fn not_modified(version: i64) -> Response {
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    r.headers_mut().insert(header::ETAG, etag(version));
    r
}

fn no_backup() -> Problem {
    Problem::new(
        ProblemKind::NotFound,
        "this user has no backup; create one with POST /v1/backup",
    )
}

async fn head_backup(State(st): State<Shared>, headers: HeaderMap) -> Result<Response, Problem> {
    let user = authenticate(&st, &headers)?;
    let row = storage::current(&st.db, &user)
        .await
        .map_err(unavailable)?
        .ok_or_else(no_backup)?;
    if if_none_match_hits(&headers, row.version)? {
        return Ok(not_modified(row.version));
    }
    let mut r = StatusCode::OK.into_response();
    let h = r.headers_mut();
    h.insert(header::ETAG, etag(row.version));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(row.size as u64));
    Ok(r)
}

async fn get_backup(State(st): State<Shared>, headers: HeaderMap) -> Result<Response, Problem> {
    let user = authenticate(&st, &headers)?;
    // A concurrent writer may delete the object we just read the row for; re-read the row
    // then. A row that stays put while its object is missing is a broken invariant.
    for _ in 0..3 {
        let row: BackupRow = storage::current(&st.db, &user)
            .await
            .map_err(unavailable)?
            .ok_or_else(no_backup)?;
        if if_none_match_hits(&headers, row.version)? {
            return Ok(not_modified(row.version));
        }
        let got = st
            .s3
            .get_object()
            .bucket(&st.config.s3_bucket)
            .key(&row.object_key)
            .send()
            .await;
        match got {
            Ok(obj) => {
                // Serve what the store holds, even when it no longer matches the row: a
                // damaged object must reach the client, whose integrity checks name it
                // (`corrupted`/`malformed`); declaring the row's length instead would
                // silently cut appended bytes or abort the stream mid-body.
                let size = obj
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(row.size as u64);
                if size != row.size as u64 {
                    tracing::warn!(
                        user,
                        version = row.version,
                        stored = size,
                        expected = row.size,
                        "stored object size differs from its metadata"
                    );
                }
                let stream = tokio_util::io::ReaderStream::new(obj.body.into_async_read());
                let mut r = Response::new(Body::from_stream(stream));
                let h = r.headers_mut();
                h.insert(header::ETAG, etag(row.version));
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
                r.extensions_mut().insert(LoggedBytes(size));
                return Ok(r);
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                let now = storage::current(&st.db, &user).await.map_err(unavailable)?;
                if now.as_ref().map(|r| r.version) == Some(row.version) {
                    tracing::error!(
                        user,
                        version = row.version,
                        "row points to a missing object"
                    );
                    return Err(Problem::new(
                        ProblemKind::Internal,
                        "the stored object for this version is missing; this is a server bug",
                    ));
                }
            }
            Err(e) => return Err(unavailable(StorageError::s3(e))),
        }
    }
    Err(Problem::unavailable(
        "storage (the backup kept changing while being read)",
    ))
}

async fn delete_backup(State(st): State<Shared>, headers: HeaderMap) -> Result<Response, Problem> {
    let user = authenticate(&st, &headers)?;
    let pre = parse_if_match(&headers)?;
    let row = storage::current(&st.db, &user)
        .await
        .map_err(unavailable)?
        .ok_or_else(no_backup)?;
    if let Some(Precondition::Version(v)) = pre
        && v != row.version
    {
        return Err(Problem::conflict(
            Some(row.version),
            format!(
                "If-Match names version {v} but the current version is {}",
                row.version
            ),
        ));
    }
    let Some(key) = storage::delete_row(&st.db, &user, row.version)
        .await
        .map_err(unavailable)?
    else {
        let now = storage::current(&st.db, &user).await.map_err(unavailable)?;
        return Err(match now {
            None => no_backup(),
            Some(r) => Problem::conflict(Some(r.version), "the backup changed while deleting it"),
        });
    };
    if let Err(e) = storage::delete_object(&st.s3, &st.config.s3_bucket, &key).await {
        // The row is gone, so the object is an orphan the sweeper will remove.
        tracing::warn!(error = %e, "deleting the object failed; the sweeper will remove it");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Removes a key from the in-flight set when the request is done with it, whatever happened.
struct InflightGuard<'a> {
    st: &'a AppState,
    key: String,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.st.inflight.lock() {
            set.remove(&self.key);
        }
    }
}

#[derive(Debug, Default)]
struct Tap {
    hasher: Sha256,
    count: u64,
    finished: bool,
    client_error: Option<String>,
}

/// The request body on its way to S3: hashed and counted as it passes, with an exact size
/// hint so the S3 PUT carries `Content-Length` and the bytes are never held whole.
struct HashingBody {
    // A Mutex only to make the body `Sync` (the SDK requires it); it is never contended.
    inner: Mutex<Body>,
    tap: Arc<Mutex<Tap>>,
    expected: u64,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl hyper::body::Body for HashingBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let inner = match this.inner.get_mut() {
            Ok(b) => b,
            Err(p) => p.into_inner(),
        };
        let mut tap = match this.tap.lock() {
            Ok(t) => t,
            Err(p) => p.into_inner(),
        };
        loop {
            match Pin::new(&mut *inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        tap.count += data.len() as u64;
                        if tap.count > this.expected {
                            tap.client_error =
                                Some("the body is longer than its Content-Length".into());
                            return Poll::Ready(Some(
                                Err("body longer than Content-Length".into()),
                            ));
                        }
                        tap.hasher.update(&data);
                        // The HTTP client stops polling once the exact size hint is
                        // reached, so the end is recognised by count, not by `None`.
                        tap.finished = tap.count == this.expected;
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    // Request trailers have no meaning here; S3 must not see them.
                    Err(_) => continue,
                },
                Poll::Ready(Some(Err(e))) => {
                    tap.client_error = Some(format!("reading the request body failed: {e}"));
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(None) => {
                    if tap.count != this.expected {
                        tap.client_error = Some(format!(
                            "the body ended after {} of {} bytes",
                            tap.count, this.expected
                        ));
                        return Poll::Ready(Some(Err("body shorter than Content-Length".into())));
                    }
                    tap.finished = true;
                    return Poll::Ready(None);
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.expected)
    }
}

struct Uploaded {
    size: u64,
    sha256: String,
}

/// Streams the body to `key`. Known length: straight through to S3. Unknown length
/// (chunked): spooled to a temp file of at most `max_blob_bytes`, stopping at limit + 1.
async fn upload(
    st: &AppState,
    key: &str,
    length: Option<u64>,
    body: Body,
) -> Result<Uploaded, Problem> {
    let bucket = &st.config.s3_bucket;
    match length {
        Some(len) => {
            let tap = Arc::new(Mutex::new(Tap::default()));
            let hb = HashingBody {
                inner: Mutex::new(body),
                tap: tap.clone(),
                expected: len,
            };
            let res = storage::put_stream(
                &st.s3,
                bucket,
                key,
                len as i64,
                ByteStream::from_body_1_x(hb),
            )
            .await;
            let mut tap = match tap.lock() {
                Ok(mut t) => std::mem::take(&mut *t),
                Err(p) => std::mem::take(&mut *p.into_inner()),
            };
            if let Some(why) = tap.client_error.take() {
                // S3 PUTs are all-or-nothing, but delete anyway in case a store kept a part.
                let _ = storage::delete_object(&st.s3, bucket, key).await;
                return Err(Problem::new(ProblemKind::InvalidBody, why));
            }
            res.map_err(unavailable)?;
            if !tap.finished {
                let _ = storage::delete_object(&st.s3, bucket, key).await;
                return Err(Problem::new(
                    ProblemKind::Internal,
                    "S3 accepted a body it did not read fully",
                ));
            }
            Ok(Uploaded {
                size: tap.count,
                sha256: hex::encode(tap.hasher.finalize()),
            })
        }
        None => {
            let limit = st.config.max_blob_bytes;
            let spool = tempfile::NamedTempFile::new_in(&st.config.spool_dir).map_err(|e| {
                tracing::error!(error = %e, "cannot create a spool file");
                Problem::new(
                    ProblemKind::Internal,
                    "the server cannot create a spool file",
                )
            })?;
            let io_err = |e: std::io::Error| {
                tracing::error!(error = %e, "spool write failed");
                Problem::new(
                    ProblemKind::Internal,
                    "the server cannot write its spool file",
                )
            };
            let mut file = tokio::fs::File::from_std(spool.reopen().map_err(io_err)?);
            let mut hasher = Sha256::new();
            let mut count: u64 = 0;
            let mut body = body;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| {
                    Problem::new(
                        ProblemKind::InvalidBody,
                        format!("reading the request body failed: {e}"),
                    )
                })?;
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                count += data.len() as u64;
                if count > limit {
                    return Err(too_large(limit, None));
                }
                hasher.update(&data);
                file.write_all(&data).await.map_err(io_err)?;
            }
            file.flush().await.map_err(io_err)?;
            drop(file);
            if count < MIN_BLOB_BYTES {
                return Err(too_small(count));
            }
            storage::put_file(&st.s3, bucket, key, spool.path(), count as i64)
                .await
                .map_err(unavailable)?;
            Ok(Uploaded {
                size: count,
                sha256: hex::encode(hasher.finalize()),
            })
        }
    }
}

fn too_large(limit: u64, declared: Option<u64>) -> Problem {
    let what = match declared {
        Some(n) => format!("Content-Length {n}"),
        None => "the body".to_owned(),
    };
    Problem::new(
        ProblemKind::BodyTooLarge,
        format!("{what} exceeds the limit of {limit} bytes"),
    )
}

fn too_small(n: u64) -> Problem {
    Problem::new(
        ProblemKind::BodyTooSmall,
        format!("the body has {n} bytes; a backup needs at least {MIN_BLOB_BYTES}"),
    )
}

async fn post_backup(State(st): State<Shared>, req: Request) -> Result<Response, Problem> {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let user = authenticate(&st, headers)?;
    let pre = parse_if_match(headers)?;

    // Size rules come from Content-Length before a byte is read.
    let length = match headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    Problem::new(ProblemKind::InvalidBody, "Content-Length is not a number")
                })?,
        ),
    };
    if let Some(n) = length {
        if n > st.config.max_blob_bytes {
            return Err(too_large(st.config.max_blob_bytes, Some(n)));
        }
        if n < MIN_BLOB_BYTES {
            return Err(too_small(n));
        }
    }

    // Refuse a doomed write before uploading; the CAS below still decides races.
    let current = storage::current(&st.db, &user).await.map_err(unavailable)?;
    let expected = match (pre, &current) {
        (None, None) => None,
        (None, Some(r)) => {
            return Err(Problem::conflict(
                Some(r.version),
                format!(
                    "a backup exists (version {}); send If-Match: \"{}\" to replace it",
                    r.version, r.version
                ),
            ));
        }
        (Some(Precondition::Any), Some(r)) => Some(r.version),
        (Some(Precondition::Version(v)), Some(r)) if v == r.version => Some(v),
        (Some(Precondition::Version(v)), Some(r)) => {
            return Err(Problem::conflict(
                Some(r.version),
                format!(
                    "If-Match names version {v} but the current version is {}",
                    r.version
                ),
            ));
        }
        (Some(_), None) => {
            return Err(Problem::conflict(
                None,
                "no backup exists; create one with POST without If-Match",
            ));
        }
    };

    let key = if st.config.unsafe_overwrite_in_place {
        format!("backups/{user}")
    } else {
        format!("backups/{user}/{}", uuid::Uuid::new_v4())
    };
    st.inflight
        .lock()
        .map_err(|_| Problem::new(ProblemKind::Internal, "state lock poisoned"))?
        .insert(key.clone());
    let _guard = InflightGuard {
        st: &st,
        key: key.clone(),
    };

    let up = upload(&st, &key, length, body).await?;
    let cleanup = |st: Shared, key: String| async move {
        if st.config.unsafe_overwrite_in_place {
            return; // the one key per user is (wrongly) the live object too
        }
        if let Err(e) = storage::delete_object(&st.s3, &st.config.s3_bucket, &key).await {
            tracing::warn!(error = %e, "deleting an uncommitted object failed; the sweeper will remove it");
        }
    };
    if let Err(e) = failpoint::hit("after_s3_put") {
        cleanup(st.clone(), key.clone()).await;
        return Err(unavailable(e));
    }

    let obj = NewObject {
        user: &user,
        key: &key,
        size: up.size as i64,
        sha256: &up.sha256,
    };
    let committed = match storage::compare_and_set(&st.db, expected, &obj).await {
        Ok(c) => c,
        Err(e) => {
            // Not committed (or unknown: then the sweeper keeps the object only if a row
            // references it, so deleting here could break a committed row — leave it).
            if !matches!(e, StorageError::Database(_)) {
                cleanup(st.clone(), key.clone()).await;
            }
            return Err(unavailable(e));
        }
    };
    let Some(done) = committed else {
        cleanup(st.clone(), key.clone()).await;
        let now = storage::current(&st.db, &user).await.map_err(unavailable)?;
        return Err(Problem::conflict(
            now.as_ref().map(|r| r.version),
            "another writer replaced the backup first; fetch, merge and retry",
        ));
    };

    if let Err(e) = failpoint::hit("after_commit") {
        // Committed: the previous object is left for the sweeper.
        tracing::warn!(error = %e, "skipping the delete of the previous object");
    } else if let Some(prev) = &done.previous_key
        && let Err(e) = storage::delete_object(&st.s3, &st.config.s3_bucket, prev).await
    {
        tracing::warn!(error = %e, "deleting the previous object failed; the sweeper will remove it");
    }

    let status = if expected.is_none() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = serde_json::json!({
        "version": done.version,
        "size": up.size,
        "sha256": up.sha256,
        "updated_at": done.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().insert(header::ETAG, etag(done.version));
    r.extensions_mut().insert(LoggedBytes(up.size));
    Ok(r)
}
