//! The `storage` step: damage or inspect the object that holds a user's backup, on S3
//! directly. The object is found by content, so any key layout of a server works.

use std::time::Duration;

use backproof_format::Field;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::profile::Profile;
use crate::scenario::model::{Step, StorageOp, StoreObject};
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

/// Profile `dbm-stream-v1`: the key of the newest backup's artifact or sidecar
/// (docs/profiles/dbm-stream-v1.md §8: names sort by time).
pub(super) async fn dbm_object_key(
    world: &World,
    user: &str,
    object: StoreObject,
) -> Result<String, Verdict> {
    use backproof_client::dbm_store::{ARTIFACT_SUFFIX, SIDECAR_SUFFIX};
    let base = world.object_key(user, StoreObject::Final);
    let base = base.rsplit_once('/').map_or("", |(dir, _)| dir).to_owned() + "/";
    let newest = world
        .list_keys()
        .await?
        .into_iter()
        .filter_map(|k| {
            k.strip_prefix(&base)?
                .strip_suffix(ARTIFACT_SUFFIX)
                .map(str::to_owned)
        })
        .max()
        .ok_or_else(|| Verdict::Error(format!("user {user} has no backup artifact")))?;
    match object {
        StoreObject::Artifact => Ok(format!("{base}{newest}{ARTIFACT_SUFFIX}")),
        StoreObject::Sidecar => Ok(format!("{base}{newest}{ARTIFACT_SUFFIX}{SIDECAR_SUFFIX}")),
        other => Err(Verdict::Error(format!(
            "profile dbm-stream-v1 stores an `artifact` and a `sidecar`, not a {other} object"
        ))),
    }
}

pub(super) async fn run(world: &World, step: &Step) -> StepResult {
    let Step::Storage {
        user,
        op,
        object,
        member,
        json,
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
    let (key, mut blob) = if world.profile() == Profile::NoahV0 {
        if member.is_some() || field.is_some() {
            return Err(Verdict::Error(
                "profile noah-v0's object is base64 text: address it by `offset` or `len`, not `member` or `field`".into(),
            ));
        }
        let which = if *object == StoreObject::Final {
            StoreObject::Latest
        } else {
            *object
        };
        world.noah_object(user, which).await?
    } else if world.profile() == Profile::DbmStreamV1 {
        let key = dbm_object_key(world, user, *object).await?;
        let blob = world.get_object_if_any(&key).await?.ok_or_else(|| {
            Verdict::Error(format!("user {user} has no {object} object to damage"))
        })?;
        (key, blob)
    } else if world.is_object_store() {
        let key = world.object_key(user, *object);
        let blob = world.get_object_if_any(&key).await?.ok_or_else(|| {
            Verdict::Error(format!("user {user} has no {object} object to damage"))
        })?;
        (key, blob)
    } else {
        if member.is_some() || *object != StoreObject::Final {
            return Err(Verdict::Error(format!(
                "`member` and `object` address an object-store profile's JSON blob, not profile {}",
                world.profile()
            )));
        }
        locate(world, user).await?
    };
    if let Some(m) = member {
        // `offset` counts from the end when negative (the tag's last byte is -1).
        let at = offset.unwrap_or(index.map_or(0, |i| i as i64));
        // The dbm sidecar writes its bytes in hex, the JSON blobs of the others in base64.
        let hex_members = world.profile() == Profile::DbmStreamV1;
        let edited = edit_member(&blob, m, *op, at, json.as_deref(), hex_members)?;
        world.put_object(&key, edited).await?;
        return Ok(None);
    }
    if matches!(op, StorageOp::Set | StorageOp::Remove) {
        return Err(Verdict::Error(format!("storage op {op:?} needs `member`")));
    }
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
        StorageOp::List | StorageOp::Set | StorageOp::Remove => return Ok(None),
    }
    world.put_object(&key, blob).await?;
    Ok(None)
}

/// One edit of a member of a JSON blob (`kdf.salt`): flip byte `at` (negative: from the
/// end) of its
/// base64-decoded value (re-encoded canonically, so only the bytes differ), set it to the
/// JSON text `json`, or remove it. The rest of the object is written back as parsed.
fn edit_member(
    blob: &[u8],
    member: &str,
    op: StorageOp,
    at: i64,
    json: Option<&str>,
    hex_members: bool,
) -> Result<Vec<u8>, Verdict> {
    let mut doc: Value = serde_json::from_slice(blob)
        .map_err(|e| Verdict::Error(format!("the stored blob is not JSON: {e}")))?;
    let (parents, last) = match member.rsplit_once('.') {
        Some((p, l)) => (p.split('.').collect::<Vec<_>>(), l),
        None => (Vec::new(), member),
    };
    let mut node = &mut doc;
    for p in parents {
        node = node
            .get_mut(p)
            .ok_or_else(|| Verdict::Error(format!("the stored blob has no member {p:?}")))?;
    }
    let obj = node
        .as_object_mut()
        .ok_or_else(|| Verdict::Error(format!("the parent of {member:?} is not an object")))?;
    match op {
        StorageOp::Flip => {
            let text = obj
                .get(last)
                .and_then(Value::as_str)
                .ok_or_else(|| Verdict::Error(format!("member {member:?} is not a string")))?;
            let mut bytes = if hex_members {
                hex::decode(text)
                    .map_err(|e| Verdict::Error(format!("member {member:?} is not hex: {e}")))?
            } else {
                STANDARD
                    .decode(text)
                    .map_err(|e| Verdict::Error(format!("member {member:?} is not base64: {e}")))?
            };
            let n = bytes.len() as i64;
            let i = if at < 0 { n + at } else { at };
            let b = usize::try_from(i)
                .ok()
                .and_then(|i| bytes.get_mut(i))
                .ok_or_else(|| Verdict::Error(format!("member {member:?} has no byte {at}")))?;
            *b ^= 0x01;
            let text = if hex_members {
                hex::encode(bytes)
            } else {
                STANDARD.encode(bytes)
            };
            obj.insert(last.to_string(), Value::String(text));
        }
        StorageOp::Set => {
            let text = json.ok_or_else(|| Verdict::Error("`set` needs `json`".into()))?;
            let v: Value = serde_json::from_str(text)
                .map_err(|e| Verdict::Error(format!("`json` is not JSON: {e}")))?;
            obj.insert(last.to_string(), v);
        }
        StorageOp::Remove => {
            obj.remove(last).ok_or_else(|| {
                Verdict::Error(format!("the stored blob has no member {member:?}"))
            })?;
        }
        other => {
            return Err(Verdict::Error(format!(
                "storage op {other:?} does not take `member` (flip, set, remove do)"
            )));
        }
    }
    serde_json::to_vec(&doc).map_err(|e| Verdict::Error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOB: &str = r#"{"version":1,"kdf":{"algorithm":"pbkdf2","salt":"AAECAwQFBgcICQoLDA0ODw==","iterations":100000},"encrypted_data":"AAAA","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#;

    fn edited(member: &str, op: StorageOp, at: i64, json: Option<&str>) -> Value {
        serde_json::from_slice(&edit_member(BLOB.as_bytes(), member, op, at, json, false).unwrap())
            .unwrap()
    }

    #[test]
    fn members_are_flipped_set_and_removed_by_path() {
        let v = edited("kdf.salt", StorageOp::Flip, 2, None);
        let salt = STANDARD.decode(v["kdf"]["salt"].as_str().unwrap()).unwrap();
        assert_eq!(salt[..4], [0, 1, 3, 3]);
        let v = edited("kdf.salt", StorageOp::Flip, -1, None);
        let salt = STANDARD.decode(v["kdf"]["salt"].as_str().unwrap()).unwrap();
        assert_eq!(salt[14..], [14, 14]);
        assert_eq!(v["version"], 1);
        let v = edited("version", StorageOp::Set, 0, Some("\"1\""));
        assert_eq!(v["version"], "1");
        let v = edited("created_at", StorageOp::Remove, 0, None);
        assert!(v.get("created_at").is_none() && v.get("updated_at").is_some());
        for (m, op) in [
            ("kdf.nothing", StorageOp::Remove),
            ("version", StorageOp::Flip),
            ("missing.salt", StorageOp::Flip),
            ("version", StorageOp::Truncate),
        ] {
            assert!(
                edit_member(BLOB.as_bytes(), m, op, 0, None, false).is_err(),
                "{m}"
            );
        }
        assert!(edit_member(b"not json", "version", StorageOp::Remove, 0, None, false).is_err());
    }
}
