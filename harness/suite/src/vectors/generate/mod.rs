//! The seeded generator, one module per vector file. Published vectors are copied with
//! their source named in the test's comment; everything else is computed by
//! backproof-format from inputs drawn from a ChaCha20 stream with a fixed seed per file, and
//! is confirmed independently by ci/crosscheck (flag `Generated`).
//!
//! Byte-identical output is the contract (`regeneration_gives_the_committed_files`): within
//! a file, rows are emitted and random bytes drawn in one fixed order, so a module may be
//! reorganized but never reordered.

mod aes_256_gcm;
mod argon2id;
mod blob_v1;
mod hkdf_sha256;
mod smart_recovery;

use backproof_format::{KdfParams, MIN_HEADER_LEN};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::RngCore;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::VectorsError;
use super::json::to_canonical;

type GenResult<T> = Result<T, VectorsError>;

/// Every file as `(name, text, numberOfTests)`.
pub fn generate_all() -> GenResult<Vec<(&'static str, String, usize)>> {
    let files = [
        ("argon2id.json", argon2id::file()?),
        ("hkdf-sha256.json", hkdf_sha256::file()?),
        ("aes-256-gcm.json", aes_256_gcm::file()?),
        ("blob-v1.json", blob_v1::file()?),
        ("smart-recovery.json", smart_recovery::file()?),
    ];
    Ok(files
        .into_iter()
        .map(|(name, v)| {
            let n = v["numberOfTests"].as_u64().unwrap_or(0) as usize;
            (name, to_canonical(&v), n)
        })
        .collect())
}

fn fail(file: &'static str) -> impl Fn(backproof_format::Error) -> VectorsError {
    move |e| VectorsError::Generate {
        file,
        reason: e.to_string(),
    }
}

/// Bytes as the lower-case hex every vector file writes them in.
pub(super) fn h(b: &[u8]) -> String {
    hex::encode(b)
}

fn unhex(s: &str) -> Vec<u8> {
    // Only applied to the literal published vectors.
    hex::decode(s).expect("literal hex in the generator")
}

/// `x` as a JSON string literal, for the hand-written JSON of the profile files' blobs.
pub(super) fn quoted(x: &str) -> String {
    Value::String(x.to_owned()).to_string()
}

/// `n` bytes drawn from a file's seeded stream.
pub(super) fn bytes(rng: &mut ChaCha20Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

/// [`bytes`] as an array, for a nonce, an IV or a key.
pub(super) fn arr<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut a = [0u8; N];
    rng.fill_bytes(&mut a);
    a
}

/// A note of a file's `notes`: `(flag, bugType, description)`.
pub(super) type Note = (&'static str, &'static str, &'static str);

/// Numbers tests 1.. across groups and assembles the Wycheproof-style top level.
pub(super) fn file(
    algorithm: &str,
    schema: &str,
    notes: &[Note],
    groups: Vec<(&str, Vec<Value>)>,
) -> Value {
    let mut id = 0u64;
    let mut test_groups = Vec::new();
    for (ty, tests) in groups {
        let tests: Vec<Value> = tests
            .into_iter()
            .map(|mut t| {
                id += 1;
                t["tcId"] = json!(id);
                if t.get("flags").is_none() {
                    t["flags"] = json!([]);
                }
                t
            })
            .collect();
        test_groups.push(json!({"type": ty, "tests": tests}));
    }
    let notes: Map<String, Value> = notes
        .iter()
        .map(|(flag, bug, desc)| {
            (
                (*flag).to_owned(),
                json!({"bugType": bug, "description": desc}),
            )
        })
        .collect();
    json!({
        "algorithm": algorithm,
        "schema": schema,
        "numberOfTests": id,
        "notes": notes,
        "testGroups": test_groups,
    })
}

const GENERATED_NOTE: Note = (
    "Generated",
    "KNOWN_ANSWER",
    "Computed by backproof-format from seeded inputs and confirmed by the independent Python crosscheck (ci/crosscheck), not copied from a publication.",
);

// ------------------------------------------------ rows of the blob-level files

/// The passphrase of the blob and smart-recovery vectors.
const PASS: &str = "correct horse battery staple";
/// Every passphrase blob is sealed at the policy floor, so a whole file checks in seconds.
const FLOOR: KdfParams = KdfParams::FLOOR;

fn kdf_json(k: &KdfParams) -> Value {
    json!({"m_cost": k.m_cost, "t_cost": k.t_cost, "p_cost": k.p_cost})
}

fn pass_secret(p: &str) -> Value {
    json!({"passphrase": p})
}

fn key_secret(k: &[u8; 32]) -> Value {
    json!({"key": h(k)})
}

fn header_len(blob: &[u8]) -> usize {
    MIN_HEADER_LEN + usize::from(blob[15])
}

fn fix_digest(blob: &mut [u8]) {
    let end = header_len(blob) - 8;
    let d = Sha256::digest(&blob[..end]);
    blob[end..end + 8].copy_from_slice(&d[..8]);
}

/// An ok vector that pins sealing: sealing `pt` under these inputs gives `blob`.
// A vector row is all of its inputs; a struct for them would only restate the schema.
#[allow(clippy::too_many_arguments)]
fn pinned(
    comment: String,
    flags: &[&str],
    secret: Value,
    kdf: Option<&KdfParams>,
    salt: &[u8],
    nonce: &[u8; 12],
    pt: &[u8],
    blob: &[u8],
) -> Value {
    let mut t = json!({
        "comment": comment, "flags": flags, "secret": secret,
        "nonce": h(nonce), "salt": h(salt), "plaintext": h(pt), "blob": h(blob), "result": "ok",
    });
    if let Some(k) = kdf {
        t["kdf"] = kdf_json(k);
    }
    t
}

/// A vector that opening `blob` with `secret` must fail with `class`.
fn negative(
    comment: impl Into<String>,
    flags: &[&str],
    secret: Value,
    blob: &[u8],
    class: &str,
) -> Value {
    json!({"comment": comment.into(), "flags": flags, "secret": secret, "blob": h(blob), "result": class})
}
