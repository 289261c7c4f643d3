//! Postgres (metadata, compare-and-set) and S3 (blob bytes) access.

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    RequestChecksumCalculation, ResponseChecksumValidation, StalledStreamProtectionConfig,
};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};

use crate::Config;

/// The live backup of one user, as the row says.
#[derive(Debug, Clone)]
pub struct BackupRow {
    pub version: i64,
    pub object_key: String,
    pub size: i64,
}

/// Why a storage call failed. `Unavailable` maps to 503.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("Postgres is unreachable or failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("S3 is unreachable or failed: {0}")]
    S3(String),
    #[error("injected failure at failpoint {0}")]
    Injected(&'static str),
}

impl StorageError {
    pub fn s3(err: impl std::error::Error) -> StorageError {
        // The SDK's Display is terse ("dispatch failure"); the source chain says why.
        let mut msg = err.to_string();
        let mut src = err.source();
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        StorageError::S3(msg)
    }

    /// Which dependency to name in a 503.
    pub fn what(&self) -> &'static str {
        match self {
            StorageError::Database(_) => "Postgres",
            StorageError::S3(_) => "S3",
            StorageError::Injected(_) => "storage (injected failure)",
        }
    }
}

pub fn db_pool(config: &Config) -> Result<PgPool, sqlx::Error> {
    // Lazy so a server can start its listener while Postgres is briefly away; acquire
    // timeout bounds how long a request waits before answering 503.
    PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy(&config.database_url)
}

const S3_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub fn s3_client(config: &Config) -> aws_sdk_s3::Client {
    let endpoint = backproof_s3::Endpoint {
        url: &config.s3_endpoint,
        region: &config.s3_region,
        access_key: &config.s3_access_key,
        secret_key: &config.s3_secret_key,
    };
    let conf = backproof_s3::config(endpoint, "backproof-config")
        // Checksums "when supported" would wrap streamed bodies in aws-chunked trailers that
        // not every S3 implementation accepts; the server computes its own SHA-256 anyway.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(S3_CONNECT_TIMEOUT)
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        // The bodies the server moves are paced by its HTTP client (uploads) or read by it
        // (downloads): a pause there is not a stalled S3, and the SDK's protection would turn
        // a slow phone into a 503 or a cut download. The server judges the client's pace
        // itself (body idle timeout) and S3's separately (write.rs).
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        // Streamed bodies cannot be replayed anyway; a dead S3 should become a 503 quickly.
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub async fn current(pool: &PgPool, user: &str) -> Result<Option<BackupRow>, StorageError> {
    let row = sqlx::query("SELECT version, object_key, size FROM backups WHERE user_id = $1")
        .bind(user)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| BackupRow {
        version: r.get("version"),
        object_key: r.get("object_key"),
        size: r.get("size"),
    }))
}

/// What a successful compare-and-set committed.
#[derive(Debug)]
pub struct Committed {
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    /// The object the previous version pointed to (to delete), if any and different.
    pub previous_key: Option<String>,
}

/// The new object to install for `user`.
#[derive(Debug)]
pub struct NewObject<'a> {
    pub user: &'a str,
    pub key: &'a str,
    pub size: i64,
    pub sha256: &'a str,
}

/// Compare-and-set in one transaction: create version 1 when `expected` is `None`, else
/// replace version `expected` with `expected + 1`. `Ok(None)` means the CAS lost.
pub async fn compare_and_set(
    pool: &PgPool,
    expected: Option<i64>,
    obj: &NewObject<'_>,
) -> Result<Option<Committed>, StorageError> {
    let mut tx: Transaction<'_, Postgres> = pool.begin().await?;
    let committed = match expected {
        None => {
            let row = sqlx::query(
                "INSERT INTO backups (user_id, version, object_key, size, sha256) \
                 VALUES ($1, 1, $2, $3, $4) ON CONFLICT (user_id) DO NOTHING \
                 RETURNING version, updated_at",
            )
            .bind(obj.user)
            .bind(obj.key)
            .bind(obj.size)
            .bind(obj.sha256)
            .fetch_optional(&mut *tx)
            .await?;
            row.map(|r| Committed {
                version: r.get("version"),
                updated_at: r.get("updated_at"),
                previous_key: None,
            })
        }
        Some(v) => {
            // Lock the row at the expected version so the key we delete afterwards is exactly
            // the one this CAS replaced.
            let old: Option<String> = sqlx::query_scalar(
                "SELECT object_key FROM backups WHERE user_id = $1 AND version = $2 FOR UPDATE",
            )
            .bind(obj.user)
            .bind(v)
            .fetch_optional(&mut *tx)
            .await?;
            match old {
                None => None,
                Some(old_key) => {
                    let r = sqlx::query(
                        "UPDATE backups SET version = version + 1, object_key = $3, size = $4, \
                         sha256 = $5, updated_at = now() \
                         WHERE user_id = $1 AND version = $2 RETURNING version, updated_at",
                    )
                    .bind(obj.user)
                    .bind(v)
                    .bind(obj.key)
                    .bind(obj.size)
                    .bind(obj.sha256)
                    .fetch_one(&mut *tx)
                    .await?;
                    Some(Committed {
                        version: r.get("version"),
                        updated_at: r.get("updated_at"),
                        previous_key: (old_key != obj.key).then_some(old_key),
                    })
                }
            }
        }
    };
    if committed.is_none() {
        tx.rollback().await?;
        return Ok(None);
    }
    crate::failpoint::hit("before_commit")?;
    tx.commit().await?;
    Ok(committed)
}

/// Deletes the row when it is at `version`; returns its object key, `None` if it was not.
pub async fn delete_row(
    pool: &PgPool,
    user: &str,
    version: i64,
) -> Result<Option<String>, StorageError> {
    let key: Option<String> = sqlx::query_scalar(
        "DELETE FROM backups WHERE user_id = $1 AND version = $2 RETURNING object_key",
    )
    .bind(user)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    Ok(key)
}

/// Which of `keys` some row references.
pub async fn referenced(pool: &PgPool, keys: &[String]) -> Result<Vec<String>, StorageError> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT object_key FROM backups WHERE object_key = ANY($1)")
            .bind(keys)
            .fetch_all(pool)
            .await?;
    Ok(rows)
}

/// A backup object's PUT, whatever the body's source: the declared length and the one
/// content type every object is stored with. The callers choose the timeouts.
fn put_request(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    length: i64,
    body: ByteStream,
) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_length(length)
        .content_type("application/octet-stream")
        .body(body)
}

/// PUTs a body that streams from the client: no attempt timeout, since a slow but
/// progressing client must not be cut off (the caller watches both sides instead).
pub async fn put_stream(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    length: i64,
    body: ByteStream,
) -> Result<(), StorageError> {
    put_request(s3, bucket, key, length, body)
        .customize()
        .config_override(
            aws_sdk_s3::Config::builder().timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(S3_CONNECT_TIMEOUT)
                    .disable_operation_attempt_timeout()
                    .build(),
            ),
        )
        .send()
        .await
        .map_err(StorageError::s3)?;
    Ok(())
}

pub async fn put_file(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    path: &Path,
    length: i64,
) -> Result<(), StorageError> {
    let body = ByteStream::from_path(path)
        .await
        .map_err(StorageError::s3)?;
    // From a local file: the default attempt timeout bounds S3 alone.
    put_request(s3, bucket, key, length, body)
        .send()
        .await
        .map_err(StorageError::s3)?;
    Ok(())
}

pub async fn delete_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<(), StorageError> {
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(StorageError::s3)?;
    Ok(())
}

/// Every object under `prefix` with its last-modified time (seconds since the epoch).
pub async fn list_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, Option<i64>)>, StorageError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let resp = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(StorageError::s3)?;
        for obj in resp.contents() {
            if let Some(k) = obj.key() {
                out.push((k.to_owned(), obj.last_modified().map(|t| t.secs())));
            }
        }
        match resp.next_continuation_token() {
            Some(t) if resp.is_truncated().unwrap_or(false) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

/// `SELECT 1` on Postgres and `HeadBucket` on S3: what `/readyz` reports.
pub async fn check_ready(
    pool: &PgPool,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<(), StorageError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    s3.head_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(StorageError::s3)?;
    Ok(())
}
