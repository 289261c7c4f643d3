//! API v0 (docs/API-v0.md): the `noah-v0` profile's store. Six `POST` endpoints with JSON
//! bodies; the backup bytes never pass through the server, the client moves them with
//! presigned S3 URLs. At most two slots per user (`backup_version` 1 and 2).
//!
//! Crash safety comes from fresh keys: every upload URL names a new object
//! `v0/{user}/{version}/{uuid}`, `complete_upload` checks it (HEAD) and switches the slot's
//! row to it in one transaction, and only then deletes the object the row named before. So
//! a committed row never names an object that is missing or of another size, whatever
//! step a client or the server dies at.

mod store;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api::{Shared, unavailable};
use crate::extract::AuthUser;
use crate::problem::{Problem, ProblemKind};
use crate::storage::{self, StorageError};

pub use store::referenced;

/// Largest JSON request body. The requests are a few fields; anything bigger is not one.
pub const MAX_JSON_BYTES: usize = 16 * 1024;

/// The longest expiry SigV4 presigning allows (and the SDK accepts).
pub const MAX_URL_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// The prefix of every API v0 object key.
pub const KEY_PREFIX: &str = "v0/";

// ---------------------------------------------------------------------------------------
// Request bodies.

/// A JSON request body; every way it can be wrong is a problem of its own: not declared
/// JSON → 415, over [`MAX_JSON_BYTES`] → 413, not JSON, not an object, a field missing,
/// unknown or of the wrong type → 400 `invalid-request` (with serde's message, which names
/// the field).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let value = match Json::<Value>::from_request(req, state).await {
            Ok(Json(v)) => v,
            Err(JsonRejection::MissingJsonContentType(_)) => {
                return Err(Problem::new(
                    ProblemKind::UnsupportedMediaType,
                    "send the request as Content-Type: application/json",
                ));
            }
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(Problem::new(
                    ProblemKind::TooLarge,
                    format!("the JSON body is over {MAX_JSON_BYTES} bytes"),
                ));
            }
            Err(r) => return Err(Problem::new(ProblemKind::InvalidRequest, r.body_text())),
        };
        // Through a Value so that only an object is read as one: serde's derived structs
        // would also take an array of the fields in order.
        if !value.is_object() {
            return Err(Problem::new(
                ProblemKind::InvalidRequest,
                "the body must be a JSON object (`{}` when there is nothing to send)",
            ));
        }
        serde_json::from_value(value).map(JsonBody).map_err(|e| {
            Problem::new(
                ProblemKind::InvalidRequest,
                format!("the JSON body does not fit this endpoint: {e}"),
            )
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadUrlReq {
    #[serde(deserialize_with = "integer")]
    backup_version: i64,
    #[serde(deserialize_with = "integer")]
    backup_size: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteReq {
    s3_key: String,
    #[serde(deserialize_with = "integer")]
    backup_version: i64,
    #[serde(deserialize_with = "integer")]
    backup_size: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListReq {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadUrlReq {
    /// Absent or null: the latest slot.
    #[serde(default, deserialize_with = "optional_integer")]
    backup_version: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteReq {
    #[serde(deserialize_with = "integer")]
    backup_version: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsReq {
    /// Absent: read the settings without changing them.
    #[serde(default)]
    backup_enabled: Option<bool>,
}

/// An integer field: a JSON number with no fractional part, so `2` and `2.0` alike (JSON
/// Schema's `integer`, what docs/openapi.yaml promises, and what a JavaScript client cannot
/// tell apart); `2.5`, a string or a number past 64 bits is refused.
fn integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        // 2^63 is the first f64 past i64::MAX.
        Some(f) if f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63) => Ok(f as i64),
        _ => Err(serde::de::Error::custom(format!(
            "{n} is not an integer of at most 64 bits"
        ))),
    }
}

fn optional_integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "integer")] i64);
    Ok(Option::<Wrap>::deserialize(d)?.map(|Wrap(i)| i))
}

// ---------------------------------------------------------------------------------------
// The rules.

/// `backup_version` must name one of the two slots (any, in the broken variant).
fn check_version(st: &Shared, v: i64) -> Result<i64, Problem> {
    if (1..=2).contains(&v) || st.config.unsafe_flags.any_backup_version {
        return Ok(v);
    }
    Err(Problem::new(
        ProblemKind::InvalidBackupVersion,
        format!("backup_version {v} is not a slot; there are two, 1 and 2"),
    ))
}

/// `backup_size` must be 1 to the server's limit.
fn check_size(st: &Shared, n: i64) -> Result<i64, Problem> {
    let max = st.config.v0_max_backup_bytes;
    if n < 1 {
        return Err(Problem::new(
            ProblemKind::InvalidBackupSize,
            format!("backup_size {n} is not a size; a backup has at least 1 byte"),
        ));
    }
    if n as u64 > max {
        return Err(Problem::new(
            ProblemKind::TooLarge,
            format!("backup_size {n} exceeds the limit of {max} bytes"),
        ));
    }
    Ok(n)
}

/// The key of a fresh upload into slot `version` of `user`.
fn fresh_key(user: &str, version: i64) -> String {
    format!("{KEY_PREFIX}{user}/{version}/{}", uuid::Uuid::new_v4())
}

/// Whether `key` is one [`fresh_key`] could have minted for `user` and `version`: the exact
/// prefix and a UUID in its canonical (lower-case, hyphenated) form, nothing around it.
fn is_key_of(key: &str, user: &str, version: i64) -> bool {
    let prefix = format!("{KEY_PREFIX}{user}/{version}/");
    key.strip_prefix(&prefix).is_some_and(|rest| {
        uuid::Uuid::parse_str(rest).is_ok_and(|u| u.hyphenated().to_string() == rest)
    })
}

/// The broken variant's rule: a key of the layout for any user at all.
fn any_users_key(st: &Shared, key: &str, version: i64) -> bool {
    st.config.unsafe_flags.complete_any_key
        && key
            .strip_prefix(KEY_PREFIX)
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(owner, _)| is_key_of(key, owner, version))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Presigning: a start time in whole seconds (what `X-Amz-Date` carries), so that
/// `start + expiry` is exactly when S3 starts refusing the URL.
fn presigning(expiry: Duration) -> Result<(PresigningConfig, DateTime<Utc>), Problem> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let start = UNIX_EPOCH + Duration::from_secs(now);
    let config = PresigningConfig::builder()
        .start_time(start)
        .expires_in(expiry)
        .build()
        .map_err(|e| {
            // `bind` checks the expiries, so this is a bug.
            tracing::error!(error = %e, "presigning configuration refused");
            Problem::new(ProblemKind::Internal, "the server cannot presign URLs")
        })?;
    let expires_at = DateTime::<Utc>::from(start + expiry);
    Ok((config, expires_at))
}

fn presign_failed(e: impl std::error::Error) -> Problem {
    tracing::error!(error = %StorageError::s3(e), "presigning failed");
    Problem::new(
        ProblemKind::Internal,
        "the server could not presign the URL",
    )
}

fn no_backup(version: Option<i64>) -> Problem {
    let detail = match version {
        Some(v) => format!("slot {v} holds no backup; list the slots with /v0/backup/list"),
        None => "this user has no backup; upload one with /v0/backup/upload_url".to_owned(),
    };
    Problem::new(ProblemKind::NoBackup, detail)
}

/// What a slot lookup (`version`, or the latest with None) comes to: the slot, 503 when
/// Postgres fails, 404 no-backup when the slot is empty. download_url and delete answer an
/// empty slot alike (docs/API-v0.md).
fn found<T>(r: Result<Option<T>, StorageError>, version: Option<i64>) -> Result<T, Problem> {
    r.map_err(unavailable)?.ok_or_else(|| no_backup(version))
}

/// The answer of upload_url and download_url once `presign` has signed the URL: the URL
/// under `url_field`, then `fields`, then `expires_at` (docs/API-v0.md), in the order the
/// document lists them.
async fn url_answer<E: std::error::Error>(
    presign: impl Future<Output = Result<PresignedRequest, E>>,
    expires_at: DateTime<Utc>,
    url_field: &str,
    fields: &[(&str, Value)],
) -> Result<Response, Problem> {
    let presigned = presign.await.map_err(presign_failed)?;
    let mut body = serde_json::Map::new();
    body.insert(url_field.to_owned(), presigned.uri().into());
    for (k, v) in fields {
        body.insert((*k).to_owned(), v.clone());
    }
    body.insert("expires_at".to_owned(), rfc3339(expires_at).into());
    Ok(Json(Value::Object(body)).into_response())
}

/// Deletes an object a row no longer names; on failure the sweeper will.
async fn delete_unnamed(st: &Shared, key: &str) {
    if st.config.unsafe_flags.never_delete_objects {
        return;
    }
    if let Err(e) = storage::delete_object(&st.s3, &st.config.s3_bucket, key).await {
        tracing::warn!(error = %e, "deleting a replaced v0 object failed; the sweeper will remove it");
    }
}

// ---------------------------------------------------------------------------------------
// Handlers.

pub async fn upload_url(
    State(st): State<Shared>,
    AuthUser(user): AuthUser,
    JsonBody(req): JsonBody<UploadUrlReq>,
) -> Result<Response, Problem> {
    let version = check_version(&st, req.backup_version)?;
    let size = check_size(&st, req.backup_size)?;
    let key = fresh_key(&user, version);
    let (config, expires_at) = presigning(st.config.v0_upload_url_expiry)?;
    // Content-Length is signed (it is a header of the presigned request), so S3 refuses a
    // PUT of another length with 403 before storing anything.
    let presign = st
        .s3
        .put_object()
        .bucket(&st.config.s3_bucket)
        .key(&key)
        .content_length(size)
        .presigned(config);
    url_answer(presign, expires_at, "upload_url", &[("s3_key", key.into())]).await
}

pub async fn complete_upload(
    State(st): State<Shared>,
    AuthUser(user): AuthUser,
    JsonBody(req): JsonBody<CompleteReq>,
) -> Result<Response, Problem> {
    let version = check_version(&st, req.backup_version)?;
    let size = check_size(&st, req.backup_size)?;
    if !is_key_of(&req.s3_key, &user, version) && !any_users_key(&st, &req.s3_key, version) {
        // Whether the key exists is not said: that would reveal other users' objects.
        return Err(Problem::new(
            ProblemKind::ForeignKey,
            format!(
                "s3_key is not a key /v0/backup/upload_url gave this user for slot {version}; \
                 ask it for a new one"
            ),
        ));
    }
    let sweep = st.v0_sweep.read().await;
    if !st.config.unsafe_flags.complete_trusts_client_size {
        let head = st
            .s3
            .head_object()
            .bucket(&st.config.s3_bucket)
            .key(&req.s3_key)
            .send()
            .await;
        let stored = match head {
            Ok(h) => h.content_length().unwrap_or(-1),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                return Err(Problem::new(
                    ProblemKind::UploadMissing,
                    "nothing was uploaded to s3_key: PUT the backup to upload_url first",
                ));
            }
            Err(e) => return Err(unavailable(StorageError::s3(e))),
        };
        if stored != size {
            return Err(Problem::new(
                ProblemKind::SizeMismatch,
                format!(
                    "the object at s3_key has {stored} bytes, not backup_size {size}; \
                     upload again"
                ),
            ));
        }
    } else {
        tracing::warn!("--unsafe-complete-trusts-client-size: recording the client's size");
    }
    if let Some(hook) = &st.config.hooks.v0_complete_after_head {
        hook().await;
    }
    let done = store::commit(&st.db, &user, version, &req.s3_key, size)
        .await
        .map_err(unavailable)?;
    drop(sweep);
    if let Some(old) = &done.replaced_key {
        delete_unnamed(&st, old).await;
    }
    Ok(Json(json!({
        "backup_version": version,
        "created_at": rfc3339(done.created_at),
        "backup_size": size,
    }))
    .into_response())
}

pub async fn list(
    State(st): State<Shared>,
    AuthUser(user): AuthUser,
    JsonBody(ListReq {}): JsonBody<ListReq>,
) -> Result<Response, Problem> {
    let slots = store::list(&st.db, &user).await.map_err(unavailable)?;
    let out: Vec<Value> = slots
        .iter()
        .map(|s| {
            json!({
                "backup_version": s.backup_version,
                "created_at": rfc3339(s.created_at),
                "backup_size": s.backup_size,
            })
        })
        .collect();
    Ok(Json(out).into_response())
}

pub async fn download_url(
    State(st): State<Shared>,
    AuthUser(user): AuthUser,
    JsonBody(req): JsonBody<DownloadUrlReq>,
) -> Result<Response, Problem> {
    let version = req
        .backup_version
        .map(|v| check_version(&st, v))
        .transpose()?;
    let slot = found(store::find(&st.db, &user, version).await, version)?;
    let (config, expires_at) = presigning(st.config.v0_download_url_expiry)?;
    let presign = st
        .s3
        .get_object()
        .bucket(&st.config.s3_bucket)
        .key(&slot.s3_key)
        .presigned(config);
    let fields = [
        ("backup_version", slot.backup_version.into()),
        ("backup_size", slot.backup_size.into()),
    ];
    url_answer(presign, expires_at, "download_url", &fields).await
}

pub async fn delete(
    State(st): State<Shared>,
    AuthUser(user): AuthUser,
    JsonBody(req): JsonBody<DeleteReq>,
) -> Result<Response, Problem> {
    let version = check_version(&st, req.backup_version)?;
    let key = found(store::delete(&st.db, &user, version).await, Some(version))?;
    delete_unnamed(&st, &key).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn settings(
    State(st): State<Shared>,
    AuthUser(user): AuthUser,
    JsonBody(req): JsonBody<SettingsReq>,
) -> Result<Response, Problem> {
    let (enabled, last) = store::settings(&st.db, &user, req.backup_enabled)
        .await
        .map_err(unavailable)?;
    Ok(Json(json!({
        "backup_enabled": enabled,
        "last_backup_at": last.map(rfc3339),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_minted_keys_of_the_user_and_slot_are_accepted() {
        let k = fresh_key("alice", 1);
        assert!(is_key_of(&k, "alice", 1));
        assert!(!is_key_of(&k, "alice", 2), "another slot");
        assert!(!is_key_of(&k, "alic", 1), "a user that is a prefix");
        assert!(!is_key_of(&k, "bob", 1), "another user");
        assert!(!is_key_of(&k.to_uppercase(), "alice", 1));
        assert!(!is_key_of(&format!("{k}/x"), "alice", 1));
        assert!(!is_key_of(&format!("/{k}"), "alice", 1));
        assert!(!is_key_of(&k.replace('-', ""), "alice", 1), "simple form");
        assert!(!is_key_of("v0/alice/1/", "alice", 1));
        assert!(!is_key_of("v0/alice/1/../../bob/1/x", "alice", 1));
        assert!(!is_key_of(
            "v0/alice/01/00000000-0000-4000-8000-000000000000",
            "alice",
            1
        ));
        assert!(is_key_of(
            "v0/alice/1/00000000-0000-4000-8000-000000000000",
            "alice",
            1
        ));
    }
}
