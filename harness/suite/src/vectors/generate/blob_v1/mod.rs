//! `blob-v1.json`: whole blobs. The groups are emitted in file order, each from its own
//! module, and random bytes are drawn in that order too: round trips, the base blobs the
//! negatives and truncations damage (which draw nothing more), payloads, seals.

mod negative;
mod ops;
mod round_trip;
mod truncation;

use backproof_format::{Secret, seal};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::Value;

use super::{FLOOR, GenResult, Note, PASS, arr, bytes, fail, fix_digest, header_len};
use super::{key_secret, pass_secret};

const F: &str = "blob-v1.json";
const SEED: u64 = 0xB10B_0001;

pub(super) fn file() -> GenResult<Value> {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let round = round_trip::round_trips(&mut rng)?;
    let unicode = round_trip::unicode(&mut rng)?;
    let raw = round_trip::raw_keys(&mut rng)?;
    let bases = Bases::draw(&mut rng)?;
    let neg = negative::all(&bases)?;
    let trunc = truncation::all(&bases);
    let payloads = ops::payloads(&mut rng, &bases)?;
    let seals = ops::seals(&mut rng)?;
    Ok(super::file(
        "BACKPROOF-BLOB-V1",
        "blob-v1.schema.json",
        &NOTES,
        vec![
            ("BlobRoundTrip", round),
            ("BlobUnicode", unicode),
            ("BlobRawKey", raw),
            ("BlobNegative", neg),
            ("BlobTruncation", trunc),
            ("BlobPayload", payloads),
            ("BlobSeal", seals),
        ],
    ))
}

fn seal_pass(p: &str, salt: &[u8], nonce: &[u8; 12], pt: &[u8]) -> GenResult<Vec<u8>> {
    seal(&Secret::passphrase(p), &FLOOR, salt, nonce, pt).map_err(fail(F))
}

fn seal_key(k: &[u8; 32], nonce: &[u8; 12], pt: &[u8]) -> GenResult<Vec<u8>> {
    seal(&Secret::key(*k), &FLOOR, &[], nonce, pt).map_err(fail(F))
}

/// `b` changed by `f`; with `fix`, `header_digest` recomputed so that the change gets past
/// open step 4.
fn edit(b: &[u8], f: &dyn Fn(&mut Vec<u8>), fix: bool) -> Vec<u8> {
    let mut v = b.to_vec();
    f(&mut v);
    if fix {
        fix_digest(&mut v);
    }
    v
}

/// The two valid blobs that the negative and truncation vectors damage, and their secrets.
struct Bases {
    /// Passphrase blob ([`PASS`], 16-byte salt, 40-byte payload).
    base: Vec<u8>,
    /// Raw-key blob under `key_a`, same nonce and payload.
    raw_base: Vec<u8>,
    key_a: [u8; 32],
    /// A second key, for wrong-key and key-commitment cases.
    key_b: [u8; 32],
    nonce: [u8; 12],
    pt: Vec<u8>,
}

impl Bases {
    fn draw(rng: &mut ChaCha20Rng) -> GenResult<Bases> {
        let salt = bytes(rng, 16);
        let nonce: [u8; 12] = arr(rng);
        let pt = bytes(rng, 40);
        let base = seal_pass(PASS, &salt, &nonce, &pt)?;
        let key_a: [u8; 32] = arr(rng);
        let key_b: [u8; 32] = arr(rng);
        let raw_base = seal_key(&key_a, &nonce, &pt)?;
        Ok(Bases {
            base,
            raw_base,
            key_a,
            key_b,
            nonce,
            pt,
        })
    }

    /// The right secret for `base`.
    fn ps(&self) -> Value {
        pass_secret(PASS)
    }

    /// The right secret for `raw_base`.
    fn ka(&self) -> Value {
        key_secret(&self.key_a)
    }

    /// Header length of `base`.
    fn hl(&self) -> usize {
        header_len(&self.base)
    }
}

const NOTES: [Note; 17] = [
    (
        "RoundTrip",
        "FUNCTIONALITY",
        "Sealing with the given kdf, salt and nonce gives the blob byte for byte; opening gives the plaintext.",
    ),
    (
        "RawKey",
        "FUNCTIONALITY",
        "kdf_id 0: a raw 256-bit key, no KDF; m/t/p and salt_len are 0.",
    ),
    (
        "Unicode",
        "FUNCTIONALITY",
        "Passphrases are NFC-normalized before Argon2id: composed and decomposed spellings are the same passphrase.",
    ),
    (
        "Malformed",
        "MALFORMED_INPUT",
        "Structure is broken: too short, bad magic, salt_len out of range, raw header with parameters, missing tag.",
    ),
    (
        "UnsupportedVersion",
        "MALFORMED_INPUT",
        "version byte other than 1.",
    ),
    (
        "UnsupportedKdf",
        "MALFORMED_INPUT",
        "kdf_id other than 0 or 1.",
    ),
    (
        "HeaderField",
        "MODIFIED_HEADER",
        "One header field changed; the comment says whether header_digest was recomputed.",
    ),
    (
        "Corrupted",
        "MODIFIED_CIPHERTEXT",
        "Header digest or GCM authentication fails: the data changed, the key is right.",
    ),
    (
        "Order",
        "CHECK_ORDER",
        "Two faults at once; the expected class follows the open order of docs/FORMAT.md.",
    ),
    (
        "Trailing",
        "MODIFIED_CIPHERTEXT",
        "Bytes appended after the tag are part of the GCM input and break authentication.",
    ),
    (
        "KeyCommitment",
        "KEY_COMMITMENT",
        "key_check of one key over a ciphertext of another: key_check makes the blob key-committing.",
    ),
    (
        "KdfParamsRejected",
        "DOS",
        "Parameters outside the reader's policy, with a valid digest: refused before any derivation.",
    ),
    (
        "WrongKey",
        "WRONG_SECRET",
        "The key check fails: the secret is not the blob's.",
    ),
    (
        "Truncated",
        "TRUNCATION",
        "The blob cut at a field boundary.",
    ),
    (
        "Payload",
        "FUNCTIONALITY",
        "op open_payload: open, then decode backproof.v1.BackupPayload.",
    ),
    (
        "PayloadInvalid",
        "MALFORMED_PAYLOAD",
        "Decrypts, but the plaintext is not a BackupPayload.",
    ),
    (
        "Seal",
        "FUNCTIONALITY",
        "op seal: the writer's refusals (passphrase_too_short, kdf_params_rejected) and its acceptance at the boundary.",
    ),
];
