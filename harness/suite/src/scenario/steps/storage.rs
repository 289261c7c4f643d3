//! The `storage` step: damage or inspect the object that holds a user's backup, on S3
//! directly. The object is found by content, so any key layout of a server works.

use std::time::Duration;

use backproof_format::Field;

use crate::scenario::model::{Step, StorageOp};
use crate::scenario::verdict::{StepResult, Verdict};
use crate::scenario::world::World;

/// Finds the S3 object that holds `user`'s current backup, by content.
async fn locate(world: &World, user: &str) -> Result<(String, Vec<u8>), Verdict> {
    let (_, blob) = world
        .fetch(user)
        .await?
        .ok_or_else(|| Verdict::Error(format!("user {user} has no backup to damage")))?;
    for key in world.list_keys().await? {
        let obj = world.get_object(&key).await?;
        if obj == blob {
            return Ok((key, obj));
        }
    }
    Err(Verdict::Error(
        "no object in the bucket holds the served blob byte for byte".into(),
    ))
}

pub(super) async fn run(world: &World, step: &Step) -> StepResult {
    let Step::Storage {
        user,
        op,
        offset,
        field,
        index,
        len,
        hex: hex_bytes,
        expect_count,
        within_ms,
    } = step
    else {
        return Err(Verdict::Error("not a storage step".into()));
    };
    if let StorageOp::List = op {
        let want = expect_count.unwrap_or(1);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(within_ms.unwrap_or(0));
        loop {
            let keys = world.list_keys().await?;
            if keys.len() == want {
                return Ok(None);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Verdict::fail(
                    format!("{want} object(s) in storage"),
                    format!("{} object(s): {keys:?}", keys.len()),
                    "orphan objects must be removed (never the live one)",
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let (key, mut blob) = locate(world, user).await?;
    // The byte a flip or a cut aims at: byte `index` of `field`, or `offset` (negative =
    // from the end).
    let at = |blob: &[u8]| -> Result<usize, Verdict> {
        if let Some(f) = field {
            let f = Field::from(*f);
            let range = backproof_format::field_range(blob, f)
                .ok_or_else(|| Verdict::Error("blob too short".into()))?;
            let i = index.unwrap_or(0);
            let pos = range.start + i;
            // A cut may sit right after the field's last byte.
            if pos >= range.end && !(*op == StorageOp::Truncate && pos == range.end) {
                return Err(Verdict::Error(format!("field {f} has no byte {i}")));
            }
            Ok(pos)
        } else if let Some(o) = offset {
            let n = blob.len() as i64;
            let o = if *o < 0 { n + o } else { *o };
            usize::try_from(o).map_err(|_| Verdict::Error("offset before the start".into()))
        } else {
            Err(Verdict::Error(
                "storage step needs `field` or `offset`".into(),
            ))
        }
    };
    match op {
        StorageOp::Flip => {
            let i = at(&blob)?;
            let b = blob
                .get_mut(i)
                .ok_or_else(|| Verdict::Error(format!("offset {i} past the end")))?;
            *b ^= 0x01;
        }
        StorageOp::Truncate => {
            let n = match len {
                Some(n) => *n,
                None => at(&blob)?,
            };
            blob.truncate(n);
        }
        StorageOp::Append => {
            blob.extend(
                hex::decode(hex_bytes.as_deref().unwrap_or("00"))
                    .map_err(|e| Verdict::Error(e.to_string()))?,
            );
        }
        StorageOp::Replace => {
            blob = hex::decode(hex_bytes.as_deref().unwrap_or(""))
                .map_err(|e| Verdict::Error(e.to_string()))?;
        }
        StorageOp::Delete => {
            world.delete_object(&key).await?;
            return Ok(None);
        }
        StorageOp::List => return Ok(None),
    }
    world.put_object(&key, blob).await?;
    Ok(None)
}
