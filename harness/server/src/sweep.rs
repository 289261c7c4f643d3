//! The orphan sweeper: deletes objects under `backups/` (API v1) and `v0/` (API v0) that no
//! row references and that are older than the grace period. Orphans come from crashes
//! between the S3 PUT and the commit, from failed deletes of previous versions, from lost
//! compare-and-sets whose cleanup failed, and (v0) from presigned uploads never completed.
//! The grace period protects uploads of *other* server processes sharing the bucket that
//! have not committed yet, and v0 uploads between the client's PUT and its
//! `complete_upload` (the grace counts from the PUT); v1 uploads of this process are also
//! protected by its in-flight set.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::api::AppState;
use crate::failpoint;
use crate::storage::{self, StorageError};

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Objects listed under `backups/` and `v0/`.
    pub listed: usize,
    /// Unreferenced objects old enough that were deleted.
    pub deleted: usize,
}

/// Which rows name the objects under a prefix.
#[derive(Debug, Clone, Copy)]
enum Area {
    /// `backups/`: the `backups` table (API v1).
    V1,
    /// `v0/`: the `backup_metadata` table (API v0).
    V0,
}

pub async fn sweep_once(st: &AppState) -> Result<SweepStats, StorageError> {
    let mut stats = SweepStats::default();
    for area in [Area::V1, Area::V0] {
        let s = sweep_area(st, area).await?;
        stats.listed += s.listed;
        stats.deleted += s.deleted;
    }
    if stats.deleted > 0 {
        tracing::info!(
            deleted = stats.deleted,
            listed = stats.listed,
            "swept orphan objects"
        );
    }
    Ok(stats)
}

async fn sweep_area(st: &AppState, area: Area) -> Result<SweepStats, StorageError> {
    let bucket = &st.config.s3_bucket;
    let prefix = match area {
        Area::V1 => "backups/",
        Area::V0 => crate::v0::KEY_PREFIX,
    };
    let objects = storage::list_objects(&st.s3, bucket, prefix).await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64;
    let grace = st.config.orphan_grace.as_secs() as i64;
    let mut stats = SweepStats {
        listed: objects.len(),
        deleted: 0,
    };
    let old: Vec<String> = objects
        .into_iter()
        .filter(|(_, modified)| modified.is_none_or(|m| now - m >= grace))
        .map(|(k, _)| k)
        .collect();
    failpoint::hit("during_sweep")?;
    if st.config.unsafe_flags.never_delete_objects {
        return Ok(stats);
    }
    for chunk in old.chunks(500) {
        // In-flight first, database second: a request leaves the in-flight set only after
        // its commit (or its cleanup), so a key not in flight now is either committed — and
        // the query below sees its row — or abandoned.
        let idle: Vec<String> = {
            let set = st
                .inflight
                .lock()
                .map_err(|_| StorageError::S3("in-flight set poisoned".into()))?;
            chunk
                .iter()
                .filter(|k| !set.contains(*k))
                .cloned()
                .collect()
        };
        // API v0: no complete_upload between this query and the deletes (see AppState).
        let _exclusive = match area {
            Area::V1 => None,
            Area::V0 => Some(st.v0_sweep.write().await),
        };
        let referenced = match area {
            Area::V1 => storage::referenced(&st.db, &idle).await?,
            Area::V0 => crate::v0::referenced(&st.db, &idle).await?,
        };
        for key in idle.iter().filter(|k| !referenced.contains(k)) {
            storage::delete_object(&st.s3, bucket, key).await?;
            stats.deleted += 1;
        }
    }
    Ok(stats)
}
