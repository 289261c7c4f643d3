//! RFC 9457 problem details: every error the server answers is `application/problem+json`
//! `{type, title, status, detail}` with a stable `type` per kind (listed in docs/API.md).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The closed list of problem kinds. Their `type` URIs are a stable part of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// 401: missing, malformed or invalid bearer token.
    Unauthorized,
    /// 400: `If-Match`/`If-None-Match` is not a single strong ETag, a bare version or `*`.
    InvalidPrecondition,
    /// 400: body shorter than 32 bytes.
    BodyTooSmall,
    /// 400: the body ended early, did not match `Content-Length`, or could not be read.
    InvalidBody,
    /// 413: body longer than the configured limit.
    BodyTooLarge,
    /// 408: no body byte arrived for the body idle timeout; nothing was committed.
    BodyTimeout,
    /// 429: this user already has the maximum number of uploads in progress.
    TooManyUploads,
    /// 503: the server has the maximum number of uploads in progress (all users).
    ServerBusy,
    /// 404: the user has no backup, or the path does not exist.
    NotFound,
    /// 405: the path exists but not with this method.
    MethodNotAllowed,
    /// 409: the precondition did not match the current version (`current_version` given).
    VersionConflict,
    /// 503: Postgres or S3 is unreachable; nothing was committed.
    StorageUnavailable,
    /// 500: an invariant broke (logged); nothing was committed.
    Internal,
    /// 400 (API v0): the JSON body is not JSON, has a field of the wrong type, misses a
    /// required field or has an unknown one.
    InvalidRequest,
    /// 415 (API v0): the body is not declared `application/json`.
    UnsupportedMediaType,
    /// 400 (API v0): `backup_version` is not one of the two slots, 1 or 2.
    InvalidBackupVersion,
    /// 400 (API v0): `backup_size` is below 1.
    InvalidBackupSize,
    /// 413 (API v0): `backup_size` (or the JSON body itself) is over the limit.
    TooLarge,
    /// 400 (API v0): `s3_key` is not a key this server minted for this user and slot.
    ForeignKey,
    /// 400 (API v0): `complete_upload` found no object at `s3_key`.
    UploadMissing,
    /// 400 (API v0): the object at `s3_key` does not have `backup_size` bytes.
    SizeMismatch,
    /// 404 (API v0): the user has no backup in the slot asked for (or none at all).
    NoBackup,
}

impl ProblemKind {
    /// Every kind, for documentation checks.
    pub const ALL: [ProblemKind; 22] = [
        ProblemKind::Unauthorized,
        ProblemKind::InvalidPrecondition,
        ProblemKind::BodyTooSmall,
        ProblemKind::InvalidBody,
        ProblemKind::BodyTooLarge,
        ProblemKind::BodyTimeout,
        ProblemKind::TooManyUploads,
        ProblemKind::ServerBusy,
        ProblemKind::NotFound,
        ProblemKind::MethodNotAllowed,
        ProblemKind::VersionConflict,
        ProblemKind::StorageUnavailable,
        ProblemKind::Internal,
        ProblemKind::InvalidRequest,
        ProblemKind::UnsupportedMediaType,
        ProblemKind::InvalidBackupVersion,
        ProblemKind::InvalidBackupSize,
        ProblemKind::TooLarge,
        ProblemKind::ForeignKey,
        ProblemKind::UploadMissing,
        ProblemKind::SizeMismatch,
        ProblemKind::NoBackup,
    ];

    /// The stable `type` URI.
    pub fn type_uri(self) -> &'static str {
        match self {
            ProblemKind::Unauthorized => "urn:backproof:problem:unauthorized",
            ProblemKind::InvalidPrecondition => "urn:backproof:problem:invalid-precondition",
            ProblemKind::BodyTooSmall => "urn:backproof:problem:body-too-small",
            ProblemKind::InvalidBody => "urn:backproof:problem:invalid-body",
            ProblemKind::BodyTooLarge => "urn:backproof:problem:body-too-large",
            ProblemKind::BodyTimeout => "urn:backproof:problem:body-timeout",
            ProblemKind::TooManyUploads => "urn:backproof:problem:too-many-uploads",
            ProblemKind::ServerBusy => "urn:backproof:problem:server-busy",
            ProblemKind::NotFound => "urn:backproof:problem:not-found",
            ProblemKind::MethodNotAllowed => "urn:backproof:problem:method-not-allowed",
            ProblemKind::VersionConflict => "urn:backproof:problem:version-conflict",
            ProblemKind::StorageUnavailable => "urn:backproof:problem:storage-unavailable",
            ProblemKind::Internal => "urn:backproof:problem:internal",
            ProblemKind::InvalidRequest => "urn:backproof:problem:invalid-request",
            ProblemKind::UnsupportedMediaType => "urn:backproof:problem:unsupported-media-type",
            ProblemKind::InvalidBackupVersion => "urn:backproof:problem:invalid-backup-version",
            ProblemKind::InvalidBackupSize => "urn:backproof:problem:invalid-backup-size",
            ProblemKind::TooLarge => "urn:backproof:problem:too-large",
            ProblemKind::ForeignKey => "urn:backproof:problem:foreign-key",
            ProblemKind::UploadMissing => "urn:backproof:problem:upload-missing",
            ProblemKind::SizeMismatch => "urn:backproof:problem:size-mismatch",
            ProblemKind::NoBackup => "urn:backproof:problem:no-backup",
        }
    }

    /// The HTTP status this kind is always answered with.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemKind::InvalidPrecondition
            | ProblemKind::BodyTooSmall
            | ProblemKind::InvalidBody
            | ProblemKind::InvalidRequest
            | ProblemKind::InvalidBackupVersion
            | ProblemKind::InvalidBackupSize
            | ProblemKind::ForeignKey
            | ProblemKind::UploadMissing
            | ProblemKind::SizeMismatch => StatusCode::BAD_REQUEST,
            ProblemKind::BodyTooLarge | ProblemKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ProblemKind::TooManyUploads => StatusCode::TOO_MANY_REQUESTS,
            ProblemKind::ServerBusy => StatusCode::SERVICE_UNAVAILABLE,
            ProblemKind::NotFound | ProblemKind::NoBackup => StatusCode::NOT_FOUND,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::VersionConflict => StatusCode::CONFLICT,
            ProblemKind::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ProblemKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short human title, constant per kind.
    pub fn title(self) -> &'static str {
        match self {
            ProblemKind::Unauthorized => "Missing or invalid bearer token",
            ProblemKind::InvalidPrecondition => "Malformed precondition header",
            ProblemKind::BodyTooSmall => "Backup body too small",
            ProblemKind::InvalidBody => "Backup body could not be read",
            ProblemKind::BodyTooLarge => "Backup body too large",
            ProblemKind::BodyTimeout => "Backup body stalled",
            ProblemKind::TooManyUploads => "Too many uploads for this user",
            ProblemKind::ServerBusy => "Too many uploads in progress",
            ProblemKind::NotFound => "Not found",
            ProblemKind::MethodNotAllowed => "Method not allowed",
            ProblemKind::VersionConflict => "Version conflict",
            ProblemKind::StorageUnavailable => "Storage unavailable",
            ProblemKind::Internal => "Internal server error",
            ProblemKind::InvalidRequest => "Invalid JSON request",
            ProblemKind::UnsupportedMediaType => "Request body is not JSON",
            ProblemKind::InvalidBackupVersion => "No such backup slot",
            ProblemKind::InvalidBackupSize => "Invalid backup size",
            ProblemKind::TooLarge => "Backup too large",
            ProblemKind::ForeignKey => "Not an upload key of this user and slot",
            ProblemKind::UploadMissing => "Uploaded object not found",
            ProblemKind::SizeMismatch => "Uploaded object has another size",
            ProblemKind::NoBackup => "No backup",
        }
    }
}

/// A problem response. `current_version` is set on 409 (null when the user has no backup).
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: ProblemKind,
    pub detail: String,
    pub current_version: Option<Option<i64>>,
    /// Seconds for a `Retry-After` header (429 and busy 503).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    type_: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_version: Option<Option<i64>>,
}

impl Problem {
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Problem {
        Problem {
            kind,
            detail: detail.into(),
            current_version: None,
            retry_after: None,
        }
    }

    /// The same problem with a `Retry-After: <secs>` header.
    pub fn retry_after(mut self, secs: u64) -> Problem {
        self.retry_after = Some(secs);
        self
    }

    /// A 409 naming the version the client should fetch and merge with.
    pub fn conflict(current: Option<i64>, detail: impl Into<String>) -> Problem {
        Problem {
            kind: ProblemKind::VersionConflict,
            detail: detail.into(),
            current_version: Some(current),
            retry_after: None,
        }
    }

    pub fn unavailable(what: &str) -> Problem {
        Problem::new(
            ProblemKind::StorageUnavailable,
            format!("{what} is unreachable; nothing was changed, retry later"),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        let body = Body {
            type_: self.kind.type_uri(),
            title: self.kind.title(),
            status: status.as_u16(),
            detail: &self.detail,
            current_version: self.current_version,
        };
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = (status, json).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.kind == ProblemKind::Unauthorized {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(Some(v)) = self.current_version
            && let Ok(etag) = HeaderValue::from_str(&format!("\"{v}\""))
        {
            h.insert(header::ETAG, etag);
        }
        resp
    }
}
