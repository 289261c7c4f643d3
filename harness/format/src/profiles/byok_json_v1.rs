//! Profile `byok-json-v1` (docs/profiles/byok-json-v1.md is normative): a UTF-8 JSON
//! envelope holding the KDF metadata (Argon2id or PBKDF2-HMAC-SHA512) and
//! `base64(nonce ‖ ciphertext ‖ tag)` of AES-256-GCM without associated data.
//!
//! The design has no key check: a wrong passphrase and a damaged ciphertext both end in a
//! failed GCM tag, which this codec reports as `wrong_key` (cases accept `corrupted` too).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::primitives::{aes256gcm_decrypt, aes256gcm_encrypt};
use crate::{ErrorClass, KdfParams, Policy};

/// The profile's name on the adapter protocol and in case ids.
pub const NAME: &str = "byok-json-v1";
/// The only `version` this codec reads and writes.
pub const VERSION: i128 = 1;
pub const ARGON2ID: &str = "argon2id";
pub const PBKDF2: &str = "pbkdf2";
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// `encrypted_data` shorter than nonce + tag cannot hold a GCM message.
pub const MIN_ENCRYPTED_LEN: usize = NONCE_LEN + TAG_LEN;
pub const MIN_SALT_LEN: usize = 16;
/// Salts cost nothing to process, but an unbounded one is a hostile blob's free lunch.
pub const MAX_SALT_LEN: usize = 64;
pub const PBKDF2_MIN_ITERATIONS: u32 = 100_000;
pub const PBKDF2_MAX_ITERATIONS: u32 = 10_000_000;
/// AES-256 key length; both KDFs produce exactly this and the output is the AES key.
pub const KEY_LEN: usize = 32;

/// Why a blob or an input was refused. Each variant belongs to exactly one [`ErrorClass`];
/// the message tells a person what they can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "not a byok-json-v1 backup: {0}; check that the whole object was downloaded and that it is a backup written by a BYOK JSON client"
    )]
    Malformed(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(
        "backup format version {0} is not supported (this build reads version 1); upgrade the software that reads it"
    )]
    UnsupportedVersion(i128),
    #[error(
        "key derivation algorithm {0:?} is not supported (known: \"argon2id\", \"pbkdf2\"); upgrade the software that reads it"
    )]
    UnsupportedKdf(String),
    #[error(
        "key derivation parameters rejected: {0}; the backup was written with unsafe or excessive parameters, re-create it with sane ones"
    )]
    KdfParamsRejected(String),
    #[error(
        "the backup is damaged ({0}); restore an older copy, or the temporary copy an interrupted rotation left behind"
    )]
    Corrupted(String),
    #[error(
        "the passphrase is wrong or the backup is damaged (this format has no key check, so the two cannot be told apart); retype the passphrase, then try an older copy"
    )]
    WrongKey,
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Malformed(_) | Error::InvalidInput(_) => ErrorClass::Malformed,
            Error::UnsupportedVersion(_) => ErrorClass::UnsupportedVersion,
            Error::UnsupportedKdf(_) => ErrorClass::UnsupportedKdf,
            Error::KdfParamsRejected(_) => ErrorClass::KdfParamsRejected,
            Error::Corrupted(_) => ErrorClass::Corrupted,
            Error::WrongKey => ErrorClass::WrongKey,
        }
    }
}

/// The key derivation a blob declares, with its cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kdf {
    /// Argon2id v1.3: `iterations` = t_cost, `memory` = m_cost in KiB, `parallelism` = p_cost.
    Argon2id(KdfParams),
    /// PBKDF2-HMAC-SHA512.
    Pbkdf2 { iterations: u32 },
}

impl Kdf {
    /// The design's mobile parameters: 3 passes, "64 MB" read as 65536 KiB, 4 lanes.
    pub const DESIGN_ARGON2ID: Kdf = Kdf::Argon2id(KdfParams::RFC9106_SECOND);
    /// The design's desktop/web parameters.
    pub const DESIGN_PBKDF2: Kdf = Kdf::Pbkdf2 {
        iterations: 600_000,
    };
    /// The cheapest Argon2id the bounds accept (the v1 policy floor), for tests and CI.
    pub const FLOOR_ARGON2ID: Kdf = Kdf::Argon2id(KdfParams::FLOOR);

    pub fn algorithm(&self) -> &'static str {
        match self {
            Kdf::Argon2id(_) => ARGON2ID,
            Kdf::Pbkdf2 { .. } => PBKDF2,
        }
    }

    /// The profile's bounds (open step 5 and every seal), checked before any derivation.
    pub fn check(&self) -> Result<(), Error> {
        match self {
            Kdf::Argon2id(params) => Policy::default().check(params).map_err(|e| match e {
                crate::Error::KdfParamsRejected { reason, .. } => {
                    Error::KdfParamsRejected(format!(
                        "argon2id memory={} KiB, iterations={}, parallelism={}: {reason}",
                        params.m_cost, params.t_cost, params.p_cost
                    ))
                }
                other => Error::KdfParamsRejected(other.to_string()),
            }),
            Kdf::Pbkdf2 { iterations } => {
                if (PBKDF2_MIN_ITERATIONS..=PBKDF2_MAX_ITERATIONS).contains(iterations) {
                    Ok(())
                } else {
                    Err(pbkdf2_out_of_bounds(i128::from(*iterations)))
                }
            }
        }
    }
}

fn pbkdf2_out_of_bounds(iterations: i128) -> Error {
    Error::KdfParamsRejected(format!(
        "pbkdf2 iterations {iterations} outside {PBKDF2_MIN_ITERATIONS}..={PBKDF2_MAX_ITERATIONS}"
    ))
}

fn check_salt_len(len: usize) -> Result<(), Error> {
    if (MIN_SALT_LEN..=MAX_SALT_LEN).contains(&len) {
        Ok(())
    } else {
        Err(Error::KdfParamsRejected(format!(
            "the salt is {len} bytes, outside {MIN_SALT_LEN}..={MAX_SALT_LEN}"
        )))
    }
}

/// A parsed envelope: the result of open steps 1–6, before any derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub kdf: Kdf,
    pub salt: Vec<u8>,
    /// `nonce ‖ ciphertext ‖ tag`, at least [`MIN_ENCRYPTED_LEN`] bytes.
    pub encrypted_data: Vec<u8>,
    pub created_at: String,
    pub updated_at: String,
}

impl Envelope {
    pub fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(&self.encrypted_data[..NONCE_LEN]);
        n
    }
}

/// What `open` returns: the plaintext and the envelope it came from (a rotation keeps its
/// `created_at`).
pub type Opened = super::Opened<Envelope>;

/// Everything sealing needs besides the passphrase and plaintext. The salt and nonce are
/// fresh random bytes for every seal (fixed ones only for known-answer vectors); the
/// timestamps are RFC 3339 strings, written verbatim.
#[derive(Debug, Clone)]
pub struct SealParams<'a> {
    pub kdf: Kdf,
    pub salt: &'a [u8],
    pub nonce: [u8; NONCE_LEN],
    pub created_at: &'a str,
    pub updated_at: &'a str,
}

/// The 32-byte AES key: the KDF output used directly, over the passphrase's UTF-8 bytes
/// exactly as given (no Unicode normalization, no trimming). Bounds are checked first.
pub fn derive_key(passphrase: &str, kdf: &Kdf, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, Error> {
    kdf.check()?;
    check_salt_len(salt.len())?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    match kdf {
        Kdf::Argon2id(params) => {
            let out = crate::argon2id(passphrase.as_bytes(), salt, &[], &[], params, KEY_LEN)
                .map_err(|e| Error::KdfParamsRejected(e.to_string()))?;
            key.copy_from_slice(&out);
        }
        Kdf::Pbkdf2 { iterations } => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha512>(
                passphrase.as_bytes(),
                salt,
                *iterations,
                key.as_mut_slice(),
            );
        }
    }
    Ok(key)
}

/// Seal `plaintext` into a compact JSON envelope. Checks, in order: KDF bounds and salt
/// length (`kdf_params_rejected`), timestamps (`malformed`). There is no passphrase length
/// rule: the design has none (see the profile doc).
pub fn seal(passphrase: &str, plaintext: &[u8], params: &SealParams<'_>) -> Result<Vec<u8>, Error> {
    params.kdf.check()?;
    check_salt_len(params.salt.len())?;
    for (name, value) in [
        ("created_at", params.created_at),
        ("updated_at", params.updated_at),
    ] {
        if !is_rfc3339(value) {
            return Err(Error::InvalidInput(format!(
                "{name} {value:?} is not an RFC 3339 date-time such as 2026-01-15T10:30:00.000Z"
            )));
        }
    }
    let key = derive_key(passphrase, &params.kdf, params.salt)?;
    let (ct, tag) = aes256gcm_encrypt(&key, &params.nonce, &[], plaintext)
        .map_err(|e| Error::InvalidInput(e.to_string()))?;
    let mut data = Vec::with_capacity(NONCE_LEN + ct.len() + TAG_LEN);
    data.extend_from_slice(&params.nonce);
    data.extend_from_slice(&ct);
    data.extend_from_slice(&tag);
    let kdf = match params.kdf {
        Kdf::Argon2id(p) => format!(
            r#"{{"algorithm":"{ARGON2ID}","salt":"{}","iterations":{},"memory":{},"parallelism":{}}}"#,
            STANDARD.encode(params.salt),
            p.t_cost,
            p.m_cost,
            p.p_cost
        ),
        Kdf::Pbkdf2 { iterations } => format!(
            r#"{{"algorithm":"{PBKDF2}","salt":"{}","iterations":{iterations}}}"#,
            STANDARD.encode(params.salt)
        ),
    };
    // Base64 and validated RFC 3339 strings are plain ASCII without quotes or
    // backslashes, so they need no escaping.
    Ok(format!(
        r#"{{"version":1,"kdf":{kdf},"encrypted_data":"{}","created_at":"{}","updated_at":"{}"}}"#,
        STANDARD.encode(&data),
        params.created_at,
        params.updated_at
    )
    .into_bytes())
}

/// Open steps 1–7: the plaintext and its envelope.
pub fn open(passphrase: &str, blob: &[u8]) -> Result<Opened, Error> {
    let envelope = parse(blob)?;
    let key = derive_key(passphrase, &envelope.kdf, &envelope.salt)?;
    let data = &envelope.encrypted_data;
    let nonce = envelope.nonce();
    let (ct, tag) = data[NONCE_LEN..].split_at(data.len() - NONCE_LEN - TAG_LEN);
    let mut tag_arr = [0u8; TAG_LEN];
    tag_arr.copy_from_slice(tag);
    // Step 7: no key check exists, so a failed tag is reported as the wrong passphrase
    // (the design's `wrongPassphrase`); damage looks exactly the same.
    let plaintext =
        aes256gcm_decrypt(&key, &nonce, &[], ct, &tag_arr).map_err(|_| Error::WrongKey)?;
    Ok(Opened {
        plaintext: Zeroizing::new(plaintext),
        envelope,
    })
}

/// Open steps 1–6: everything that needs no passphrase and costs nothing.
pub fn parse(blob: &[u8]) -> Result<Envelope, Error> {
    let malformed = |s: &str| Error::Malformed(s.to_owned());
    // Step 1: one JSON object with the five members, each of its type.
    let text = std::str::from_utf8(blob).map_err(|_| malformed("the bytes are not UTF-8"))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::Malformed(format!("not a JSON document ({e})")))?;
    let Value::Object(top) = value else {
        return Err(malformed("the JSON document is not an object"));
    };
    let version = integer(&top, "version", "")?;
    let kdf = match top.get("kdf") {
        Some(Value::Object(k)) => k,
        Some(_) => return Err(malformed("`kdf` is not an object")),
        None => return Err(malformed("`kdf` is missing")),
    };
    let algorithm = string(kdf, "algorithm", "kdf.")?;
    let encrypted_data = string(&top, "encrypted_data", "")?;
    let created_at = timestamp(&top, "created_at")?;
    let updated_at = timestamp(&top, "updated_at")?;
    // Step 2.
    if version != VERSION {
        return Err(Error::UnsupportedVersion(version));
    }
    // Step 3.
    if algorithm != ARGON2ID && algorithm != PBKDF2 {
        return Err(Error::UnsupportedKdf(algorithm.to_owned()));
    }
    // Step 4: the algorithm's own members.
    let salt_b64 = string(kdf, "salt", "kdf.")?;
    let iterations = integer(kdf, "iterations", "kdf.")?;
    let argon = if algorithm == ARGON2ID {
        Some((
            integer(kdf, "memory", "kdf.")?,
            integer(kdf, "parallelism", "kdf.")?,
        ))
    } else {
        None
    };
    // Step 5: bounds, before any derivation; then the salt's encoding and length.
    let kdf = match argon {
        Some((memory, parallelism)) => {
            let u = |v: i128, name: &str| {
                u32::try_from(v).map_err(|_| {
                    Error::KdfParamsRejected(format!("argon2id {name} {v} is outside 0..=2^32-1"))
                })
            };
            Kdf::Argon2id(KdfParams {
                m_cost: u(memory, "memory")?,
                t_cost: u(iterations, "iterations")?,
                p_cost: u(parallelism, "parallelism")?,
            })
        }
        None => Kdf::Pbkdf2 {
            iterations: u32::try_from(iterations).map_err(|_| pbkdf2_out_of_bounds(iterations))?,
        },
    };
    kdf.check()?;
    let salt =
        canonical_base64(salt_b64).map_err(|why| Error::Corrupted(format!("kdf.salt {why}")))?;
    check_salt_len(salt.len())?;
    // Step 6.
    let encrypted_data = canonical_base64(encrypted_data)
        .map_err(|why| Error::Corrupted(format!("encrypted_data {why}")))?;
    if encrypted_data.len() < MIN_ENCRYPTED_LEN {
        return Err(Error::Corrupted(format!(
            "encrypted_data holds {} bytes, fewer than the {MIN_ENCRYPTED_LEN} of a nonce and a tag",
            encrypted_data.len()
        )));
    }
    Ok(Envelope {
        kdf,
        salt,
        encrypted_data,
        created_at: created_at.to_owned(),
        updated_at: updated_at.to_owned(),
    })
}

/// A JSON integer: a number written without fraction or exponent, in -2^63..=2^64-1 (what
/// a JSON parser can hold as a 64-bit integer). `1.0`, `1e0` and `true` are not integers.
fn integer(obj: &Map<String, Value>, name: &str, prefix: &str) -> Result<i128, Error> {
    let mistyped = || Error::Malformed(format!("`{prefix}{name}` is not an integer"));
    match obj.get(name) {
        None => Err(Error::Malformed(format!("`{prefix}{name}` is missing"))),
        Some(Value::Number(n)) => {
            // `to_string` gives the literal as written for integers; a float that happens
            // to be whole (`1.0`) is stored as f64 and refused here.
            if let Some(u) = n.as_u64() {
                Ok(i128::from(u))
            } else if let Some(i) = n.as_i64() {
                Ok(i128::from(i))
            } else {
                Err(mistyped())
            }
        }
        Some(_) => Err(mistyped()),
    }
}

fn string<'a>(obj: &'a Map<String, Value>, name: &str, prefix: &str) -> Result<&'a str, Error> {
    match obj.get(name) {
        None => Err(Error::Malformed(format!("`{prefix}{name}` is missing"))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Error::Malformed(format!(
            "`{prefix}{name}` is not a string"
        ))),
    }
}

fn timestamp<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, Error> {
    let s = string(obj, name, "")?;
    if is_rfc3339(s) {
        Ok(s)
    } else {
        Err(Error::Malformed(format!(
            "`{name}` {s:?} is not an RFC 3339 date-time"
        )))
    }
}

/// Standard base64 (RFC 4648 §4) with padding, canonical: the string must be exactly the
/// encoding of the bytes it decodes to (no whitespace, no URL-safe letters, padding
/// present, unused bits zero), so every byte string has one accepted spelling.
fn canonical_base64(s: &str) -> Result<Vec<u8>, &'static str> {
    let bytes = STANDARD
        .decode(s)
        .map_err(|_| "is not canonical standard base64 with padding")?;
    if STANDARD.encode(&bytes) != s {
        return Err("is not canonical standard base64 with padding");
    }
    Ok(bytes)
}

/// RFC 3339 §5.6 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, with `T` and `Z` in
/// either case (§5.6's note), a real calendar day, hour ≤ 23, minute ≤ 59, second ≤ 60
/// (a leap second) and an offset of at most 23:59.
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        part.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0, 4),
        digits(5, 2),
        digits(8, 2),
        digits(11, 2),
        digits(14, 2),
        digits(17, 2),
    ) else {
        return false;
    };
    if !(at(4, b'-')
        && at(7, b'-')
        && (at(10, b'T') || at(10, b't'))
        && at(13, b':')
        && at(16, b':'))
    {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len()
                && at(i + 3, b':')
                && digits(i + 1, 2).is_some_and(|h| h <= 23)
                && digits(i + 4, 2).is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: &str = "2026-01-15T10:30:00.000Z";
    const PW: &str = "correct horse battery staple";

    fn params(kdf: Kdf) -> SealParams<'static> {
        SealParams {
            kdf,
            salt: &[7u8; 16],
            nonce: [9u8; 12],
            created_at: T0,
            updated_at: T0,
        }
    }

    fn pbkdf2_min() -> Kdf {
        Kdf::Pbkdf2 {
            iterations: PBKDF2_MIN_ITERATIONS,
        }
    }

    fn class(blob: &[u8], pw: &str) -> Result<Vec<u8>, ErrorClass> {
        open(pw, blob)
            .map(|o| o.plaintext.to_vec())
            .map_err(|e| e.class())
    }

    /// A sealed blob's JSON with `edit` applied to the parsed object.
    fn edited(kdf: Kdf, edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
        let blob = seal(PW, b"config", &params(kdf)).unwrap();
        let mut v: Value = serde_json::from_slice(&blob).unwrap();
        edit(v.as_object_mut().unwrap());
        serde_json::to_vec(&v).unwrap()
    }

    fn kdf_mut(m: &mut Map<String, Value>) -> &mut Map<String, Value> {
        m.get_mut("kdf").unwrap().as_object_mut().unwrap()
    }

    #[test]
    fn pbkdf2_key_is_the_kdf_output_used_directly() {
        // RFC 6070-style check against a published PBKDF2-HMAC-SHA512 answer
        // (password "password", salt "salt", 1 iteration, first 32 bytes of the 64).
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(b"password", b"salt", 1, &mut out);
        assert_eq!(
            hex::encode(out),
            "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252"
        );
        // And the codec's key is that output with no further expansion.
        let salt = [1u8; 16];
        let key = derive_key(PW, &pbkdf2_min(), &salt).unwrap();
        let mut direct = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(PW.as_bytes(), &salt, 100_000, &mut direct);
        assert_eq!(*key, direct);
    }

    #[test]
    fn round_trips_with_both_kdfs_and_keeps_the_timestamps() {
        for kdf in [pbkdf2_min(), Kdf::FLOOR_ARGON2ID] {
            let mut p = params(kdf);
            p.updated_at = "2026-02-01T00:00:00Z";
            let blob = seal(PW, b"{\"apiKey\":\"AIza\"}", &p).unwrap();
            let opened = open(PW, &blob).unwrap();
            assert_eq!(opened.plaintext.as_slice(), b"{\"apiKey\":\"AIza\"}");
            assert_eq!(opened.envelope.kdf, kdf);
            assert_eq!(opened.envelope.created_at, T0);
            assert_eq!(opened.envelope.updated_at, "2026-02-01T00:00:00Z");
            assert_eq!(opened.envelope.salt, [7u8; 16]);
            assert_eq!(opened.envelope.nonce(), [9u8; 12]);
        }
    }

    #[test]
    fn sealed_json_has_the_design_shape() {
        let blob = seal(PW, b"", &params(Kdf::FLOOR_ARGON2ID)).unwrap();
        let v: Value = serde_json::from_slice(&blob).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["kdf"]["algorithm"], "argon2id");
        assert_eq!(v["kdf"]["iterations"], 5);
        assert_eq!(v["kdf"]["memory"], 7168);
        assert_eq!(v["kdf"]["parallelism"], 1);
        assert_eq!(v["kdf"]["salt"], STANDARD.encode([7u8; 16]));
        let data = STANDARD
            .decode(v["encrypted_data"].as_str().unwrap())
            .unwrap();
        assert_eq!(data.len(), MIN_ENCRYPTED_LEN);
        assert_eq!(&data[..12], &[9u8; 12]);
        let blob = seal(PW, b"", &params(pbkdf2_min())).unwrap();
        let v: Value = serde_json::from_slice(&blob).unwrap();
        assert_eq!(
            v["kdf"].as_object().unwrap().keys().count(),
            3,
            "pbkdf2 writes algorithm, salt and iterations only"
        );
    }

    #[test]
    fn passphrase_is_not_normalized() {
        let blob = seal("cr\u{e8}me br\u{fb}l\u{e9}e", b"x", &params(pbkdf2_min())).unwrap();
        assert_eq!(
            class(&blob, "cre\u{300}me bru\u{302}le\u{301}e"),
            Err(ErrorClass::WrongKey)
        );
        assert_eq!(
            class(&blob, "cr\u{e8}me br\u{fb}l\u{e9}e "),
            Err(ErrorClass::WrongKey)
        );
        assert!(class(&blob, "cr\u{e8}me br\u{fb}l\u{e9}e").is_ok());
    }

    #[test]
    fn no_passphrase_length_rule() {
        for pw in ["", "a"] {
            let blob = seal(pw, b"x", &params(pbkdf2_min())).unwrap();
            assert_eq!(class(&blob, pw), Ok(b"x".to_vec()));
        }
    }

    #[test]
    fn step1_malformed() {
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\xff{}".to_vec(),
            b"not json".to_vec(),
            b"[1]".to_vec(),
            b"\"text\"".to_vec(),
            b"\xef\xbb\xbf{}".to_vec(),
            edited(pbkdf2_min(), |m| {
                m.remove("updated_at");
            }),
            edited(pbkdf2_min(), |m| {
                m.insert("version".into(), Value::from("1"));
            }),
            edited(pbkdf2_min(), |m| {
                m.insert("version".into(), serde_json::json!(1.0));
            }),
            edited(pbkdf2_min(), |m| {
                m.insert("version".into(), Value::Bool(true));
            }),
            edited(pbkdf2_min(), |m| {
                m.insert("kdf".into(), Value::from("pbkdf2"));
            }),
            edited(pbkdf2_min(), |m| {
                kdf_mut(m).remove("algorithm");
            }),
            edited(pbkdf2_min(), |m| {
                m.insert("encrypted_data".into(), Value::from(5));
            }),
            edited(pbkdf2_min(), |m| {
                m.insert("created_at".into(), Value::from("2024-02-30T00:00:00Z"));
            }),
            edited(pbkdf2_min(), |m| {
                m.insert("created_at".into(), Value::from("2024-01-15T10:30:00"));
            }),
        ];
        for blob in cases {
            assert_eq!(
                class(&blob, PW),
                Err(ErrorClass::Malformed),
                "{}",
                String::from_utf8_lossy(&blob)
            );
        }
        let mut trailing = seal(PW, b"", &params(pbkdf2_min())).unwrap();
        trailing.extend_from_slice(b" x");
        assert_eq!(class(&trailing, PW), Err(ErrorClass::Malformed));
        // Python-style NaN and a lone surrogate are not JSON.
        let nan = String::from_utf8(seal(PW, b"", &params(pbkdf2_min())).unwrap())
            .unwrap()
            .replacen('{', "{\"x\":NaN,", 1);
        assert_eq!(class(nan.as_bytes(), PW), Err(ErrorClass::Malformed));
        let sur = String::from_utf8(seal(PW, b"", &params(pbkdf2_min())).unwrap())
            .unwrap()
            .replacen('{', "{\"x\":\"\\ud800\",", 1);
        assert_eq!(class(sur.as_bytes(), PW), Err(ErrorClass::Malformed));
    }

    #[test]
    fn step1_integers_beyond_64_bits_are_mistyped() {
        let blob = String::from_utf8(seal(PW, b"", &params(pbkdf2_min())).unwrap())
            .unwrap()
            .replace(
                "\"iterations\":100000",
                "\"iterations\":18446744073709551616",
            );
        assert_eq!(class(blob.as_bytes(), PW), Err(ErrorClass::Malformed));
        let blob = blob.replace("18446744073709551616", "18446744073709551615");
        assert_eq!(
            class(blob.as_bytes(), PW),
            Err(ErrorClass::KdfParamsRejected)
        );
    }

    #[test]
    fn step2_and_3_version_then_algorithm() {
        for v in [0, 2, -1] {
            let blob = edited(pbkdf2_min(), |m| {
                m.insert("version".into(), Value::from(v));
            });
            assert_eq!(class(&blob, PW), Err(ErrorClass::UnsupportedVersion));
        }
        for alg in ["scrypt", "PBKDF2", "argon2i", ""] {
            let blob = edited(pbkdf2_min(), |m| {
                kdf_mut(m).insert("algorithm".into(), Value::from(alg));
            });
            assert_eq!(class(&blob, PW), Err(ErrorClass::UnsupportedKdf), "{alg}");
        }
        // Order: malformed before version, version before algorithm, algorithm before the
        // algorithm's own members.
        let blob = edited(pbkdf2_min(), |m| {
            m.insert("version".into(), Value::from(2));
            m.remove("created_at");
        });
        assert_eq!(class(&blob, PW), Err(ErrorClass::Malformed));
        let blob = edited(pbkdf2_min(), |m| {
            m.insert("version".into(), Value::from(2));
            kdf_mut(m).insert("algorithm".into(), Value::from("scrypt"));
        });
        assert_eq!(class(&blob, PW), Err(ErrorClass::UnsupportedVersion));
        let blob = edited(pbkdf2_min(), |m| {
            kdf_mut(m).insert("algorithm".into(), Value::from("scrypt"));
            kdf_mut(m).remove("iterations");
        });
        assert_eq!(class(&blob, PW), Err(ErrorClass::UnsupportedKdf));
    }

    #[test]
    fn step4_algorithm_members() {
        let cases = [
            edited(pbkdf2_min(), |m| {
                kdf_mut(m).remove("salt");
            }),
            edited(pbkdf2_min(), |m| {
                kdf_mut(m).insert("iterations".into(), Value::from("600000"));
            }),
            edited(Kdf::FLOOR_ARGON2ID, |m| {
                kdf_mut(m).remove("memory");
            }),
            edited(Kdf::FLOOR_ARGON2ID, |m| {
                kdf_mut(m).insert("parallelism".into(), serde_json::json!(1.5));
            }),
        ];
        for blob in cases {
            assert_eq!(class(&blob, PW), Err(ErrorClass::Malformed));
        }
        // pbkdf2 ignores Argon2id members it does not use.
        let blob = edited(pbkdf2_min(), |m| {
            kdf_mut(m).insert("memory".into(), Value::from("ignored"));
        });
        assert_eq!(class(&blob, PW), Ok(b"config".to_vec()));
    }

    #[test]
    fn step5_bounds_before_derivation() {
        let set = |name: &'static str, v: Value| {
            move |m: &mut Map<String, Value>| {
                kdf_mut(m).insert(name.into(), v);
            }
        };
        let cases = [
            edited(pbkdf2_min(), set("iterations", Value::from(99_999))),
            edited(pbkdf2_min(), set("iterations", Value::from(10_000_001))),
            edited(pbkdf2_min(), set("iterations", Value::from(-1))),
            edited(pbkdf2_min(), set("iterations", Value::from(u64::MAX))),
            // Argon2id at 2^32-1 passes or 4 TiB would hang or crash a reader that tried.
            edited(
                Kdf::FLOOR_ARGON2ID,
                set("iterations", Value::from(u32::MAX)),
            ),
            edited(Kdf::FLOOR_ARGON2ID, set("memory", Value::from(1u64 << 32))),
            edited(Kdf::FLOOR_ARGON2ID, set("memory", Value::from(64))),
            edited(Kdf::FLOOR_ARGON2ID, set("iterations", Value::from(4))),
            edited(Kdf::FLOOR_ARGON2ID, set("parallelism", Value::from(0))),
            edited(
                pbkdf2_min(),
                set("salt", Value::from(STANDARD.encode([0u8; 15]))),
            ),
            edited(
                pbkdf2_min(),
                set("salt", Value::from(STANDARD.encode([0u8; 65]))),
            ),
            edited(pbkdf2_min(), set("salt", Value::from(""))),
        ];
        for blob in cases {
            assert_eq!(
                class(&blob, PW),
                Err(ErrorClass::KdfParamsRejected),
                "{}",
                String::from_utf8_lossy(&blob)
            );
        }
        let bad_salt = edited(pbkdf2_min(), set("salt", Value::from("!!!!")));
        assert_eq!(class(&bad_salt, PW), Err(ErrorClass::Corrupted));
        // Numeric bounds come before the salt's encoding.
        let both = edited(pbkdf2_min(), |m| {
            kdf_mut(m).insert("salt".into(), Value::from("!!!!"));
            kdf_mut(m).insert("iterations".into(), Value::from(1));
        });
        assert_eq!(class(&both, PW), Err(ErrorClass::KdfParamsRejected));
        // The salt's length comes before encrypted_data.
        let both = edited(pbkdf2_min(), |m| {
            kdf_mut(m).insert("salt".into(), Value::from(STANDARD.encode([0u8; 8])));
            m.insert("encrypted_data".into(), Value::from("!!!!"));
        });
        assert_eq!(class(&both, PW), Err(ErrorClass::KdfParamsRejected));
    }

    #[test]
    fn step6_encoding_and_length() {
        let blob = seal(PW, b"", &params(pbkdf2_min())).unwrap();
        let v: Value = serde_json::from_slice(&blob).unwrap();
        let good = v["encrypted_data"].as_str().unwrap().to_owned();
        let with = |s: String| {
            edited(pbkdf2_min(), move |m| {
                m.insert("encrypted_data".into(), Value::from(s));
            })
        };
        let stripped = good.trim_end_matches('=').to_owned();
        let cases = [
            with(stripped.clone()),
            with(format!("{good}=")),
            with(format!(" {good}")),
            with(format!("{}\n{}", &good[..8], &good[8..])),
            with(good.replace('+', "-").replace('/', "_") + "-"),
            with("QR==".to_owned()), // non-zero unused bits (canonical: "QQ==")
            with(STANDARD.encode([0u8; 27])),
            with(String::new()),
        ];
        for blob in cases {
            assert_eq!(
                class(&blob, PW),
                Err(ErrorClass::Corrupted),
                "{}",
                String::from_utf8_lossy(&blob)
            );
        }
    }

    #[test]
    fn step7_tag_failures_are_wrong_key() {
        let blob = seal(PW, b"secret config", &params(pbkdf2_min())).unwrap();
        assert_eq!(
            class(&blob, "another passphrase"),
            Err(ErrorClass::WrongKey)
        );
        let v: Value = serde_json::from_slice(&blob).unwrap();
        let data = STANDARD
            .decode(v["encrypted_data"].as_str().unwrap())
            .unwrap();
        for at in [0, NONCE_LEN, data.len() - 1] {
            let mut d = data.clone();
            d[at] ^= 1;
            let tampered = edited(pbkdf2_min(), |m| {
                m.insert("encrypted_data".into(), Value::from(STANDARD.encode(&d)));
            });
            assert_eq!(class(&tampered, PW), Err(ErrorClass::WrongKey), "byte {at}");
        }
        // Metadata is not authenticated: a changed timestamp still opens.
        let moved = edited(pbkdf2_min(), |m| {
            m.insert("created_at".into(), Value::from("2000-01-01T00:00:00Z"));
            m.insert("extra".into(), serde_json::json!({"any": [1, 2]}));
        });
        assert_eq!(class(&moved, PW), Ok(b"config".to_vec()));
    }

    #[test]
    fn seal_refusals() {
        let mut p = params(Kdf::Pbkdf2 { iterations: 99_999 });
        assert_eq!(
            seal(PW, b"", &p).unwrap_err().class(),
            ErrorClass::KdfParamsRejected
        );
        p.kdf = Kdf::Argon2id(KdfParams {
            m_cost: 7167,
            t_cost: 5,
            p_cost: 1,
        });
        assert_eq!(
            seal(PW, b"", &p).unwrap_err().class(),
            ErrorClass::KdfParamsRejected
        );
        p.kdf = pbkdf2_min();
        p.salt = &[0u8; 15];
        assert_eq!(
            seal(PW, b"", &p).unwrap_err().class(),
            ErrorClass::KdfParamsRejected
        );
        p.salt = &[0u8; 16];
        p.created_at = "yesterday";
        assert_eq!(
            seal(PW, b"", &p).unwrap_err().class(),
            ErrorClass::Malformed
        );
    }

    #[test]
    fn rfc3339_grammar() {
        for ok in [
            "2026-01-15T10:30:00Z",
            "2026-01-15t10:30:00z",
            "2026-01-15T10:30:00.123456Z",
            "2024-02-29T23:59:59+02:00",
            "2016-12-31T23:59:60-00:30",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "",
            "2026-01-15",
            "2026-01-15T10:30:00",
            "2026-01-15 10:30:00Z",
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-15T24:00:00Z",
            "2026-01-15T10:30:00.Z",
            "2026-01-15T10:30:00+0200",
            "2026-01-15T10:30:00+24:00",
            "2026-01-15T10:30:00Z ",
            "+2026-01-15T10:30:00Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn seal_open_round_trip(
            plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
            pw in "\\PC{0,24}",
            salt in proptest::collection::vec(any::<u8>(), MIN_SALT_LEN..=MAX_SALT_LEN),
            nonce in any::<[u8; 12]>(),
            argon in any::<bool>(),
        ) {
            let kdf = if argon { Kdf::FLOOR_ARGON2ID } else { pbkdf2_min() };
            let p = SealParams { kdf, salt: &salt, nonce, created_at: T0, updated_at: T0 };
            let blob = seal(&pw, &plaintext, &p).unwrap();
            let opened = open(&pw, &blob).unwrap();
            prop_assert_eq!(opened.plaintext.as_slice(), plaintext.as_slice());
            prop_assert_eq!(&opened.envelope.salt, &salt);
            prop_assert_eq!(opened.envelope.kdf, kdf);
        }
    }
}
