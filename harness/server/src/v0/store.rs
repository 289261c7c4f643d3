//! API v0's Postgres side: the `backup_metadata` slots and `backup_settings` of
//! migrations/0002_v0_backups.sql.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use crate::storage::StorageError;

/// One slot's row.
#[derive(Debug, Clone)]
pub struct Slot {
    pub backup_version: i64,
    pub s3_key: String,
    pub backup_size: i64,
    pub created_at: DateTime<Utc>,
}

fn slot(r: &sqlx::postgres::PgRow) -> Slot {
    Slot {
        backup_version: r.get("backup_version"),
        s3_key: r.get("s3_key"),
        backup_size: r.get("backup_size"),
        created_at: r.get("created_at"),
    }
}

/// Every slot of `user`, ascending by version.
pub async fn list(pool: &PgPool, user: &str) -> Result<Vec<Slot>, StorageError> {
    let rows = sqlx::query(
        "SELECT backup_version, s3_key, backup_size, created_at FROM backup_metadata \
         WHERE pubkey = $1 ORDER BY backup_version",
    )
    .bind(user)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(slot).collect())
}

/// The slot `version`, or with `None` the latest: the greatest `created_at`, a tie going to
/// the greater version.
pub async fn find(
    pool: &PgPool,
    user: &str,
    version: Option<i64>,
) -> Result<Option<Slot>, StorageError> {
    let row = sqlx::query(
        "SELECT backup_version, s3_key, backup_size, created_at FROM backup_metadata \
         WHERE pubkey = $1 AND ($2::BIGINT IS NULL OR backup_version = $2) \
         ORDER BY created_at DESC, backup_version DESC LIMIT 1",
    )
    .bind(user)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(slot))
}

/// What [`commit`] did.
#[derive(Debug)]
pub struct Committed {
    pub created_at: DateTime<Utc>,
    /// The object the slot named before, to delete after the commit (never the new key).
    pub replaced_key: Option<String>,
}

/// Points slot `version` of `user` at `key` (inserting or replacing its row) and sets
/// `last_backup_at`, in one transaction.
pub async fn commit(
    pool: &PgPool,
    user: &str,
    version: i64,
    key: &str,
    size: i64,
) -> Result<Committed, StorageError> {
    let mut tx = pool.begin().await?;
    // The settings row first: upserting it locks it, so two completes of one user run one
    // after the other, and the old key read below is the one this transaction replaces.
    // clock_timestamp(), not now(): taken after the lock, so the later commit is the later
    // `created_at` ("latest" must be the one written last).
    let at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO backup_settings (pubkey, last_backup_at) VALUES ($1, clock_timestamp()) \
         ON CONFLICT (pubkey) DO UPDATE SET last_backup_at = EXCLUDED.last_backup_at \
         RETURNING last_backup_at",
    )
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    let old: Option<String> = sqlx::query_scalar(
        "SELECT s3_key FROM backup_metadata WHERE pubkey = $1 AND backup_version = $2 FOR UPDATE",
    )
    .bind(user)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO backup_metadata (pubkey, s3_key, backup_size, created_at, backup_version) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (pubkey, backup_version) DO UPDATE \
         SET s3_key = EXCLUDED.s3_key, backup_size = EXCLUDED.backup_size, \
             created_at = EXCLUDED.created_at",
    )
    .bind(user)
    .bind(key)
    .bind(size)
    .bind(at)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Committed {
        created_at: at,
        replaced_key: old.filter(|k| k != key),
    })
}

/// Deletes slot `version` of `user`; returns the key its row named, `None` if there was none.
pub async fn delete(
    pool: &PgPool,
    user: &str,
    version: i64,
) -> Result<Option<String>, StorageError> {
    let key = sqlx::query_scalar(
        "DELETE FROM backup_metadata WHERE pubkey = $1 AND backup_version = $2 RETURNING s3_key",
    )
    .bind(user)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    Ok(key)
}

/// `(backup_enabled, last_backup_at)`; with `enabled` set first. A user without a row has
/// the design's defaults: disabled, never backed up.
pub async fn settings(
    pool: &PgPool,
    user: &str,
    enabled: Option<bool>,
) -> Result<(bool, Option<DateTime<Utc>>), StorageError> {
    let row = match enabled {
        Some(e) => Some(
            sqlx::query(
                "INSERT INTO backup_settings (pubkey, backup_enabled) VALUES ($1, $2) \
                 ON CONFLICT (pubkey) DO UPDATE SET backup_enabled = EXCLUDED.backup_enabled \
                 RETURNING backup_enabled, last_backup_at",
            )
            .bind(user)
            .bind(e)
            .fetch_one(pool)
            .await?,
        ),
        None => {
            sqlx::query(
                "SELECT backup_enabled, last_backup_at FROM backup_settings WHERE pubkey = $1",
            )
            .bind(user)
            .fetch_optional(pool)
            .await?
        }
    };
    Ok(row.map_or((false, None), |r| {
        (r.get("backup_enabled"), r.get("last_backup_at"))
    }))
}

/// Which of `keys` some slot names.
pub async fn referenced(pool: &PgPool, keys: &[String]) -> Result<Vec<String>, StorageError> {
    let rows = sqlx::query_scalar("SELECT s3_key FROM backup_metadata WHERE s3_key = ANY($1)")
        .bind(keys)
        .fetch_all(pool)
        .await?;
    Ok(rows)
}
