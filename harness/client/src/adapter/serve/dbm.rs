//! The ops of profile `dbm-stream-v1` (docs/profiles/dbm-stream-v1.md §8): the pure codec
//! behind `open`, `seal`, `import_key` and `recover`, with no store.

use std::io::{BufWriter, Cursor};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use backproof_format::ErrorClass;
use backproof_format::profiles::dbm_stream_v1::{self as dbm, Compression};

use super::{OpError, parse};
use crate::adapter::protocol::Hex;

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

pub(super) fn dispatch(op: &str, v: &Value, broken: DbmBroken) -> Result<Value, OpError> {
    match op {
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
            let compression = Compression::ALL
                .into_iter()
                .find(|c| c.as_str() == r.compression)
                .ok_or_else(|| {
                    OpError::malformed(format!(
                        "`compression` {:?} is none of GZIP, BROTLI, NONE",
                        r.compression
                    ))
                })?;
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
            let k = dbm::import_key(&r.input)?;
            Ok(json!({"key": dbm::export_key(&k).as_str()}))
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
            "unknown op {other:?} for profile {}; its ops: open, seal, import_key, recover",
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
