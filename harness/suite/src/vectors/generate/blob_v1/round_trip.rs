//! The `ok` groups that pin sealing: `BlobRoundTrip`, `BlobUnicode`, `BlobRawKey`.

use rand_chacha::ChaCha20Rng;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::super::{FLOOR, GenResult, PASS, arr, bytes, key_secret, pass_secret, pinned};
use super::{F, seal_key, seal_pass};
use crate::vectors::VectorsError;

/// Passphrase payloads of several sizes, the largest salt, and raw-key payloads up to the
/// server's size limit.
pub(super) fn round_trips(rng: &mut ChaCha20Rng) -> GenResult<Vec<Value>> {
    let mut round = Vec::new();
    for size in [0usize, 1, 31, 32, 4096] {
        let salt = bytes(rng, 16);
        let nonce: [u8; 12] = arr(rng);
        let pt = bytes(rng, size);
        let blob = seal_pass(PASS, &salt, &nonce, &pt)?;
        round.push(pinned(
            format!("passphrase, {size}-byte payload"),
            &["RoundTrip"],
            pass_secret(PASS),
            Some(&FLOOR),
            &salt,
            &nonce,
            &pt,
            &blob,
        ));
    }
    let salt32 = bytes(rng, 32);
    let nonce: [u8; 12] = arr(rng);
    let pt = bytes(rng, 100);
    let blob = seal_pass(PASS, &salt32, &nonce, &pt)?;
    round.push(pinned(
        "passphrase, 32-byte salt (the maximum)".into(),
        &["RoundTrip"],
        pass_secret(PASS),
        Some(&FLOOR),
        &salt32,
        &nonce,
        &pt,
        &blob,
    ));
    round.extend(raw_key_rows(
        rng,
        &[65_536, 2_000_000],
        &["RoundTrip", "RawKey"],
    )?);
    Ok(round)
}

/// NFC / NFD: both spellings derive the same key, so they seal the same bytes.
pub(super) fn unicode(rng: &mut ChaCha20Rng) -> GenResult<Vec<Value>> {
    let mut unicode = Vec::new();
    for (nfc, what) in [
        ("Crème brûlée à la française", "Latin with accents"),
        (
            "비밀번호는 안전해야 합니다",
            "Hangul syllables vs conjoining jamo",
        ),
    ] {
        let nfd: String = nfc.nfd().collect();
        let nfd = nfd.as_str();
        if nfd == nfc {
            return Err(VectorsError::Generate {
                file: F,
                reason: format!("{what}: NFD equals NFC"),
            });
        }
        let salt = bytes(rng, 16);
        let nonce: [u8; 12] = arr(rng);
        let pt = bytes(rng, 48);
        let blob = seal_pass(nfc, &salt, &nonce, &pt)?;
        unicode.push(pinned(
            format!("{what}: NFC passphrase"),
            &["Unicode"],
            pass_secret(nfc),
            Some(&FLOOR),
            &salt,
            &nonce,
            &pt,
            &blob,
        ));
        unicode.push(pinned(
            format!("{what}: the same passphrase in NFD seals and opens the same blob"),
            &["Unicode"],
            pass_secret(nfd),
            Some(&FLOOR),
            &salt,
            &nonce,
            &pt,
            &blob,
        ));
    }
    Ok(unicode)
}

/// `kdf_id 0` blobs of a few sizes.
pub(super) fn raw_keys(rng: &mut ChaCha20Rng) -> GenResult<Vec<Value>> {
    raw_key_rows(rng, &[0, 17, 300], &["RawKey"])
}

/// One pinned raw-key blob per payload size, each drawing its key, nonce and payload in
/// that order (the order the committed file was drawn in).
fn raw_key_rows(rng: &mut ChaCha20Rng, sizes: &[usize], flags: &[&str]) -> GenResult<Vec<Value>> {
    let mut rows = Vec::new();
    for &size in sizes {
        let key: [u8; 32] = arr(rng);
        let nonce: [u8; 12] = arr(rng);
        let pt = bytes(rng, size);
        let blob = seal_key(&key, &nonce, &pt)?;
        rows.push(pinned(
            format!("raw key, {size}-byte payload"),
            flags,
            key_secret(&key),
            None,
            &[],
            &nonce,
            &pt,
            &blob,
        ));
    }
    Ok(rows)
}
