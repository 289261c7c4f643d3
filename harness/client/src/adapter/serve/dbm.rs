//! The ops of profile `dbm-stream-v1` (docs/profiles/dbm-stream-v1.md §8): the pure codec
//! behind `open`, `seal` and `recover`; the device's keys behind `import_key` and
//! `export_key`; the `artifact+sidecar` store on S3 behind `backup` and `restore`.

use std::io::{BufWriter, Cursor};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use backproof_format::ErrorClass;
use backproof_format::profiles::dbm_stream_v1::{self as dbm, Compression};

use super::{OpError, parse};
use crate::adapter::protocol::{Hex, STORE_KIND_OBJECT_STORE, WireStore};
use crate::dbm_store::{DbmError, DbmStore, DbmStoreBroken, Keyring};

/// What `open` and `recover` restore at most when the request names no `maxOutput`: the
/// dump travels back in the answer line, so it is held in memory.
pub const DEFAULT_MAX_OUTPUT: u64 = 64 << 20;

/// Hidden broken variants (docs/ADAPTER.md, "Broken variants of the reference adapter").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbmBroken {
    /// Smart recovery takes the first key whose unauthenticated first bytes pass the
    /// design's heuristic, as the design writes it.
    pub heuristic_recovery: bool,
    /// Seal appends the tag to the artifact, as one-shot AES-GCM APIs return it.
    pub append_tag: bool,
    /// A restore to an output path decrypts in one pass, writing as it goes, and checks
    /// the tag at the end, as a GCM decipher piped into the database CLI does.
    pub plaintext_before_tag: bool,
    /// The store writes every backup under one name, the new artifact over the old one.
    pub overwrite_in_place: bool,
}

impl From<DbmError> for OpError {
    fn from(e: DbmError) -> OpError {
        OpError::new(e.class(), e.to_string())
    }
}

#[derive(Deserialize)]
struct BackupRequest {
    store: WireStore,
    payload: Hex,
    /// The master key to seal with (the device keeps it, under a new id if it is new).
    key: Option<Hex>,
    /// A local key's id; with neither, the device's first key (generated if it has none).
    #[serde(rename = "keyId")]
    key_id: Option<String>,
    /// Tests only: a pinned IV (12 or 16 bytes); absent, 12 fresh random bytes.
    iv: Option<Hex>,
    /// `GZIP` (default), `BROTLI` or `NONE`.
    compression: Option<String>,
}

#[derive(Deserialize)]
struct RestoreRequest {
    store: WireStore,
    output: PathBuf,
    name: Option<String>,
    #[serde(rename = "maxOutput")]
    max_output: Option<u64>,
}

#[derive(Deserialize)]
struct ExportRequest {
    #[serde(rename = "keyId")]
    key_id: String,
}

impl From<dbm::Error> for OpError {
    fn from(e: dbm::Error) -> OpError {
        OpError::new(e.class(), e.to_string())
    }
}

#[derive(Deserialize)]
struct OpenRequest {
    key: Hex,
    sidecar: Hex,
    artifact: Hex,
    #[serde(rename = "maxOutput")]
    max_output: Option<u64>,
    /// Where to write the dump instead of answering it (docs/profiles/dbm-stream-v1.md §8).
    output: Option<PathBuf>,
}

#[derive(Deserialize)]
struct SealRequest {
    key: Hex,
    iv: Hex,
    compression: String,
    #[serde(rename = "profileId")]
    profile_id: String,
    plaintext: Hex,
}

#[derive(Deserialize)]
struct ImportRequest {
    input: String,
}

#[derive(Deserialize)]
struct RecoverCandidate {
    id: String,
    key: Hex,
}

#[derive(Deserialize)]
struct RecoverRequest {
    sidecar: Hex,
    artifact: Hex,
    candidates: Vec<RecoverCandidate>,
}

fn key(h: &Hex, what: &str) -> Result<[u8; dbm::KEY_LEN], OpError> {
    h.0.as_slice().try_into().map_err(|_| {
        OpError::malformed(format!(
            "`{what}` must be {} bytes, got {}",
            dbm::KEY_LEN,
            h.0.len()
        ))
    })
}

fn restore(
    k: &[u8; dbm::KEY_LEN],
    sidecar: &dbm::Sidecar,
    artifact: &[u8],
    max_output: u64,
) -> Result<Vec<u8>, OpError> {
    let mut out = Vec::new();
    dbm::open(k, sidecar, &mut Cursor::new(artifact), &mut out, max_output)?;
    Ok(out)
}

fn local_io(path: &Path, e: std::io::Error) -> OpError {
    // The list has no class for the adapter's own disk (docs/ADAPTER.md §5).
    OpError::new(ErrorClass::Network, format!("{}: {e}", path.display()))
}

/// Restores into a temporary file beside `path` and renames it there only when the whole
/// restore succeeded: after any failure `path` does not exist.
fn restore_to(
    k: &[u8; dbm::KEY_LEN],
    sidecar: &dbm::Sidecar,
    artifact: &[u8],
    path: &Path,
    max_output: u64,
) -> Result<u64, OpError> {
    let name = path
        .file_name()
        .ok_or_else(|| OpError::malformed("`output` must name a file"))?;
    let tmp = path.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    let file = std::fs::File::create(&tmp).map_err(|e| local_io(&tmp, e))?;
    let result = dbm::open(
        k,
        sidecar,
        &mut Cursor::new(artifact),
        BufWriter::new(file),
        max_output,
    );
    match result {
        Ok(n) => {
            std::fs::rename(&tmp, path).map_err(|e| local_io(path, e))?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e.into())
        }
    }
}

fn compression(name: &str) -> Result<Compression, OpError> {
    Compression::ALL
        .into_iter()
        .find(|c| c.as_str() == name)
        .ok_or_else(|| {
            OpError::malformed(format!(
                "`compression` {name:?} is none of GZIP, BROTLI, NONE"
            ))
        })
}

fn store(w: &WireStore, broken: DbmBroken) -> Result<DbmStore, OpError> {
    if w.kind != STORE_KIND_OBJECT_STORE {
        return Err(OpError::malformed(format!(
            "invalid store kind {:?}: profile {} writes to {STORE_KIND_OBJECT_STORE:?}",
            w.kind,
            dbm::NAME
        )));
    }
    Ok(DbmStore::new(&w.into())?.with_broken(DbmStoreBroken {
        overwrite_in_place: broken.overwrite_in_place,
        heuristic_recovery: broken.heuristic_recovery,
        plaintext_before_tag: broken.plaintext_before_tag,
        append_tag: broken.append_tag,
    }))
}

pub(super) async fn dispatch(
    op: &str,
    v: &Value,
    broken: DbmBroken,
    keyring: &Keyring,
) -> Result<Value, OpError> {
    match op {
        "backup" => {
            let r: BackupRequest = parse(op, v)?;
            let compression = compression(r.compression.as_deref().unwrap_or("GZIP"))?;
            let key_id = match (&r.key, r.key_id) {
                (Some(_), Some(_)) => {
                    return Err(OpError::malformed("give `key` or `keyId`, not both"));
                }
                (Some(k), None) => keyring.ensure(&key(k, "key")?)?,
                (None, Some(id)) => id,
                (None, None) => keyring.default_key()?,
            };
            let w = store(&r.store, broken)?
                .backup(
                    keyring,
                    &key_id,
                    r.iv.as_ref().map(|iv| iv.0.as_slice()),
                    compression,
                    &r.payload.0,
                )
                .await?;
            Ok(json!({"name": w.name, "keyId": w.key_id}))
        }
        "restore" => {
            let r: RestoreRequest = parse(op, v)?;
            let out = store(&r.store, broken)?
                .restore(
                    keyring,
                    r.name.as_deref(),
                    &r.output,
                    r.max_output.unwrap_or(u64::MAX),
                )
                .await?;
            Ok(json!({
                "name": out.name,
                "matched": out.matched,
                "searched": out.searched,
                "decoys": out.decoys,
                "skipped": out.skipped,
                "bytes": out.bytes,
            }))
        }
        "export_key" => {
            let r: ExportRequest = parse(op, v)?;
            Ok(json!({"key": keyring.export(&r.key_id)?.as_str()}))
        }
        "open" => {
            let r: OpenRequest = parse(op, v)?;
            let sidecar = dbm::parse_sidecar(&r.sidecar.0)?;
            let k = key(&r.key, "key")?;
            let Some(path) = r.output else {
                let max = r.max_output.unwrap_or(DEFAULT_MAX_OUTPUT);
                let plain = restore(&k, &sidecar, &r.artifact.0, max)?;
                return Ok(json!({"plaintext": hex::encode(plain)}));
            };
            if broken.plaintext_before_tag {
                let raw = dbm::decrypt_prefix_unauthenticated(&k, &sidecar.iv, &r.artifact.0)?;
                std::fs::write(&path, raw).map_err(|e| local_io(&path, e))?;
                dbm::verify(&k, &sidecar, &mut Cursor::new(&r.artifact.0))?;
            }
            let max = r.max_output.unwrap_or(u64::MAX);
            let n = restore_to(&k, &sidecar, &r.artifact.0, &path, max)?;
            Ok(json!({"bytes": n}))
        }
        "seal" => {
            let r: SealRequest = parse(op, v)?;
            let compression = compression(&r.compression)?;
            let mut artifact = Vec::new();
            let sidecar = dbm::seal(
                &key(&r.key, "key")?,
                &r.iv.0,
                compression,
                &r.profile_id,
                None,
                r.plaintext.0.as_slice(),
                &mut artifact,
            )?;
            if broken.append_tag {
                artifact.extend_from_slice(&sidecar.auth_tag);
            }
            Ok(json!({
                "artifact": hex::encode(artifact),
                "sidecar": hex::encode(sidecar.to_json().to_string()),
            }))
        }
        "import_key" => {
            let r: ImportRequest = parse(op, v)?;
            let (id, k) = keyring.import(&r.input)?;
            Ok(json!({"key": dbm::export_key(&k).as_str(), "id": id}))
        }
        "recover" => {
            let r: RecoverRequest = parse(op, v)?;
            let sidecar = dbm::parse_sidecar(&r.sidecar.0)?;
            let mut keys = Vec::with_capacity(r.candidates.len());
            for c in &r.candidates {
                keys.push((c.id.as_str(), key(&c.key, "candidates[].key")?));
            }
            let refs: Vec<(&str, &[u8; dbm::KEY_LEN])> =
                keys.iter().map(|(id, k)| (*id, k)).collect();
            let matched = if broken.heuristic_recovery {
                heuristic_pick(&sidecar, &r.artifact.0, &refs)?
            } else {
                dbm::recover(&sidecar, &mut Cursor::new(&r.artifact.0), &refs)?.id
            };
            let k = refs
                .iter()
                .find(|(id, _)| *id == matched)
                .map(|(_, k)| *k)
                .ok_or_else(|| OpError::malformed("matched a key that is not a candidate"))?;
            let plain = restore(k, &sidecar, &r.artifact.0, DEFAULT_MAX_OUTPUT)?;
            Ok(json!({"matched": matched, "plaintext": hex::encode(plain)}))
        }
        other => Err(OpError::malformed(format!(
            "unknown op {other:?} for profile {}; its ops: open, seal, import_key, export_key, recover, backup, restore",
            dbm::NAME
        ))),
    }
}

/// The broken variant's recovery: the id the sidecar names, else the first key whose
/// first 1 KiB passes the heuristic, without looking at the tag.
fn heuristic_pick(
    sidecar: &dbm::Sidecar,
    artifact: &[u8],
    keys: &[(&str, &[u8; dbm::KEY_LEN])],
) -> Result<String, OpError> {
    if let Some((id, _)) = keys.iter().find(|(id, _)| *id == sidecar.profile_id) {
        return Ok((*id).to_owned());
    }
    let head = &artifact[..artifact.len().min(dbm::HEURISTIC_LEN)];
    for (id, k) in keys {
        if dbm::heuristic_accepts(&dbm::decrypt_prefix_unauthenticated(k, &sidecar.iv, head)?) {
            return Ok((*id).to_owned());
        }
    }
    Err(OpError::new(
        ErrorClass::WrongKey,
        format!(
            "no key's first bytes look like a dump ({} tried)",
            keys.len()
        ),
    ))
}
