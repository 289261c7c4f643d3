//! The HTTP surface: routes, handlers and the read path of docs/API.md (the write path is
//! in `write.rs`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, delete, get, head, on, post};
use sqlx::PgPool;

use crate::Config;
use crate::auth;
use crate::extract::{AuthUser, IfMatch, Precondition};
use crate::problem::{Problem, ProblemKind};
use crate::storage::{self, BackupRow, StorageError};
use crate::v0;
use crate::write::{self, UploadSlots};

/// Bodies shorter than this are refused: a zero-byte or truncated upload must never replace
/// a real backup (the "accidental wipe" rule of docs/API.md).
pub const MIN_BLOB_BYTES: u64 = 32;

#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub db: PgPool,
    pub s3: aws_sdk_s3::Client,
    /// Object keys written by requests still in flight: the sweeper must not take them for
    /// orphans even with a zero grace period.
    pub inflight: Mutex<HashSet<String>>,
    /// Uploads in progress, against `max_uploads` and `max_uploads_per_user`.
    pub uploads: UploadSlots,
    /// API v0: a `complete_upload` holds it shared from its HEAD to its commit, the sweeper
    /// exclusively from its "is this key named?" query to its deletes. A presigned upload is
    /// never in flight in this process, so this is what keeps the sweeper from deleting an
    /// object between a complete's HEAD and its commit.
    pub v0_sweep: tokio::sync::RwLock<()>,
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
    ("/v0/backup/upload_url", "POST"),
    ("/v0/backup/complete_upload", "POST"),
    ("/v0/backup/list", "POST"),
    ("/v0/backup/download_url", "POST"),
    ("/v0/backup/delete", "POST"),
    ("/v0/backup/settings", "POST"),
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
        ("/v0/backup/upload_url", "POST") => v0_json(post(v0::upload_url)),
        ("/v0/backup/complete_upload", "POST") => v0_json(post(v0::complete_upload)),
        ("/v0/backup/list", "POST") => v0_json(post(v0::list)),
        ("/v0/backup/download_url", "POST") => v0_json(post(v0::download_url)),
        ("/v0/backup/delete", "POST") => v0_json(post(v0::delete)),
        ("/v0/backup/settings", "POST") => v0_json(post(v0::settings)),
        ("/healthz", "GET" | "HEAD") => on(method_filter(method), healthz),
        ("/readyz", "GET" | "HEAD") => on(method_filter(method), readyz),
        // Only reachable by adding a ROUTES entry without a handler; every test that builds
        // the router fails then.
        _ => unreachable!("ROUTES entry {method} {path} has no handler"),
    }
}

/// API v0 bodies are a few JSON fields, never a backup: a small limit, so a large body is
/// refused (413) without being buffered.
fn v0_json(route: MethodRouter<Shared>) -> MethodRouter<Shared> {
    route.layer(DefaultBodyLimit::max(v0::MAX_JSON_BYTES))
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
        "no such path; the API lives at /v1/backup (v1) and under /v0/backup/ (v0)",
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

pub fn unavailable(e: StorageError) -> Problem {
    tracing::warn!(error = %e, "storage failure");
    Problem::unavailable(e.what())
}

/// `If-None-Match` on GET/HEAD (parsed by [`backproof_head::if_none_match_hits`]): whether
/// the current version matches.
fn if_none_match_hits(headers: &HeaderMap, current: i64) -> Result<bool, Problem> {
    backproof_head::if_none_match_hits(
        headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .map(HeaderValue::as_bytes),
        current,
    )
    .map_err(|e| Problem::new(ProblemKind::InvalidPrecondition, e.to_string()))
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

async fn head_backup(
    State(st): State<Shared>,
    AuthUser(user): AuthUser,
    headers: HeaderMap,
) -> Result<Response, Problem> {
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

async fn get_backup(
    State(st): State<Shared>,
    AuthUser(user): AuthUser,
    headers: HeaderMap,
) -> Result<Response, Problem> {
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
        if let Some(hook) = &st.config.hooks.get_after_row_read {
            hook().await;
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
                if st.config.unsafe_flags.no_reread_on_get_race {
                    return Err(Problem::new(
                        ProblemKind::Internal,
                        "the stored object for this version is missing",
                    ));
                }
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

async fn delete_backup(
    State(st): State<Shared>,
    AuthUser(user): AuthUser,
    IfMatch(pre): IfMatch,
) -> Result<Response, Problem> {
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
    if st.config.unsafe_flags.never_delete_objects {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if let Err(e) = storage::delete_object(&st.s3, &st.config.s3_bucket, &key).await {
        // The row is gone, so the object is an orphan the sweeper will remove.
        tracing::warn!(error = %e, "deleting the object failed; the sweeper will remove it");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn post_backup(
    State(st): State<Shared>,
    AuthUser(user): AuthUser,
    IfMatch(pre): IfMatch,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    // Size rules come from Content-Length before a byte is read.
    let length = write::declared_length(&headers, st.config.max_blob_bytes)?;
    let current = storage::current(&st.db, &user).await.map_err(unavailable)?;
    let expected = write::expected_version(pre, current.as_ref())?;
    let done = write::write(&st, &user, expected, length, body).await?;

    let status = if expected.is_none() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let receipt = serde_json::json!({
        "version": done.version,
        "size": done.size,
        "sha256": done.sha256,
        "updated_at": done.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    let mut r = (status, axum::Json(receipt)).into_response();
    r.headers_mut().insert(header::ETAG, etag(done.version));
    r.extensions_mut().insert(LoggedBytes(done.size));
    Ok(r)
}
