//! Profile `metamask-vault` (docs/profiles/metamask-vault.md is normative): the vault
//! envelope of `@metamask/browser-passworder`, a JSON object `{"data", "iv", "salt",
//! "keyMetadata"}` holding base64 AES-256-GCM output (16-byte IV, tag appended to the
//! ciphertext, no associated data) under a PBKDF2-HMAC-SHA256 key. A vault without
//! `keyMetadata` is the legacy form, derived with 10 000 iterations.
//!
//! The plaintext is the UTF-8 JSON text of the value the vault holds; this codec keeps it as
//! bytes and only checks that it is JSON. The design has no key check: a wrong password and a
//! damaged ciphertext both end in a failed GCM tag, reported as `wrong_key` (cases accept
//! `corrupted` and `wrong_key_or_corrupted` too, advisory `no-key-check`).

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::aes::cipher::consts::U16;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::ErrorClass;

/// The profile's name on the adapter protocol and in case ids.
pub const NAME: &str = "metamask-vault";
/// The only `keyMetadata.algorithm` there is (case-sensitive, as the library writes it).
pub const PBKDF2: &str = "PBKDF2";
/// What a vault without `keyMetadata` was derived with.
pub const LEGACY_ITERATIONS: u32 = 10_000;
/// The library's current default (`DEFAULT_DERIVATION_PARAMS` of version 6.0.0), the target
/// of an update when none is given.
pub const DEFAULT_ITERATIONS: u32 = 900_000;
/// The library accepts any count WebCrypto takes; the profile keeps the low end open (a
/// cheap vault only weakens its own owner) and caps the high end, which a hostile vault
/// could otherwise use to pin a CPU for hours.
pub const MIN_ITERATIONS: u32 = 1;
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// The library always writes a 16-byte IV; GCM then derives its counter block by GHASH.
pub const IV_LEN: usize = 16;
pub const TAG_LEN: usize = 16;
/// The library writes 32 random bytes.
pub const SALT_LEN: usize = 32;
pub const MIN_SALT_LEN: usize = 16;
pub const MAX_SALT_LEN: usize = 64;
pub const KEY_LEN: usize = 32;
/// GCM's limit on one message (2^36 - 32 bytes).
pub const MAX_PLAINTEXT_LEN: u64 = (1 << 36) - 32;

type Aes256Gcm16 = AesGcm<Aes256, U16>;

/// Why a vault or an input was refused. Each variant belongs to exactly one [`ErrorClass`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "not a MetaMask vault: {0}; check that the whole vault was copied, it is the JSON object browser-passworder writes"
    )]
    Malformed(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(
        "key derivation algorithm {0:?} is not supported (the vault format knows only \"PBKDF2\"); upgrade the software that reads it"
    )]
    UnsupportedKdf(String),
    #[error(
        "key derivation parameters rejected: {0}; the vault declares unsafe or excessive parameters, re-create it with sane ones"
    )]
    KdfParamsRejected(String),
    #[error("the vault is damaged ({0}); restore an older copy of it")]
    Corrupted(String),
    #[error(
        "the password is wrong or the vault is damaged (this format has no key check, so the two cannot be told apart); retype the password, then try an older copy"
    )]
    WrongKey,
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Malformed(_) | Error::InvalidInput(_) => ErrorClass::Malformed,
            Error::UnsupportedKdf(_) => ErrorClass::UnsupportedKdf,
            Error::KdfParamsRejected(_) => ErrorClass::KdfParamsRejected,
            Error::Corrupted(_) => ErrorClass::Corrupted,
            Error::WrongKey => ErrorClass::WrongKey,
        }
    }
}

/// The key derivation a vault declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kdf {
    /// No `keyMetadata`: PBKDF2-HMAC-SHA256 at [`LEGACY_ITERATIONS`].
    Legacy,
    /// `keyMetadata: {"algorithm": "PBKDF2", "params": {"iterations": n}}`.
    Pbkdf2 { iterations: u32 },
}

impl Kdf {
    pub const DEFAULT: Kdf = Kdf::Pbkdf2 {
        iterations: DEFAULT_ITERATIONS,
    };

    pub fn iterations(&self) -> u32 {
        match self {
            Kdf::Legacy => LEGACY_ITERATIONS,
            Kdf::Pbkdf2 { iterations } => *iterations,
        }
    }

    /// The profile's bounds, checked before any derivation.
    pub fn check(&self) -> Result<(), Error> {
        check_iterations(i128::from(self.iterations()))
    }
}

fn check_iterations(n: i128) -> Result<(), Error> {
    if (i128::from(MIN_ITERATIONS)..=i128::from(MAX_ITERATIONS)).contains(&n) {
        Ok(())
    } else {
        Err(Error::KdfParamsRejected(format!(
            "PBKDF2 iterations {n} outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"
        )))
    }
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

/// A parsed vault: the result of open steps 1–6, before any derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub kdf: Kdf,
    pub salt: Vec<u8>,
    pub iv: [u8; IV_LEN],
    /// `ciphertext ‖ tag`, at least [`TAG_LEN`] bytes.
    pub data: Vec<u8>,
}

/// What `open` returns: the plaintext JSON text and the vault it came from.
pub type Opened = super::Opened<Envelope>;

/// Everything sealing needs besides the password and plaintext: fresh random salt and IV for
/// every seal (fixed ones only for known-answer vectors).
#[derive(Debug, Clone)]
pub struct SealParams<'a> {
    pub kdf: Kdf,
    pub salt: &'a [u8],
    pub iv: [u8; IV_LEN],
}

/// The 32-byte AES key: PBKDF2-HMAC-SHA256 over the password's UTF-8 bytes exactly as given
/// (the library normalizes nothing). Bounds are checked first.
pub fn derive_key(password: &str, kdf: &Kdf, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, Error> {
    kdf.check()?;
    check_salt_len(salt.len())?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
        password.as_bytes(),
        salt,
        kdf.iterations(),
        key.as_mut_slice(),
    );
    Ok(key)
}

/// PBKDF2-HMAC-SHA256 without the profile's bounds: for building known-answer vaults that
/// the codec itself must refuse (a short salt, an excessive count). Readers use
/// [`derive_key`].
pub fn pbkdf2_sha256_unchecked(password: &str, salt: &[u8], iterations: u32) -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, iterations, &mut key);
    key
}

/// AES-256-GCM with a 16-byte IV: `ciphertext ‖ tag`, the decoded `data` member.
pub fn encrypt_data(key: &[u8; KEY_LEN], iv: &[u8; IV_LEN], msg: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm16::new(&(*key).into());
    let mut out = msg.to_vec();
    // GCM refuses only messages beyond 2^36 bytes, which no vault holds.
    let tag = cipher
        .encrypt_inout_detached(&Nonce::<U16>::from(*iv), &[], out.as_mut_slice().into())
        .expect("plaintext below the GCM size limit");
    out.extend_from_slice(&tag);
    out
}

/// Seal a JSON text into a vault, member order and spelling as the library writes them
/// (`data`, `iv`, `keyMetadata`, `salt`; the legacy form omits `keyMetadata`).
pub fn seal(password: &str, plaintext: &[u8], params: &SealParams<'_>) -> Result<Vec<u8>, Error> {
    params.kdf.check()?;
    check_salt_len(params.salt.len())?;
    if !is_json(plaintext) {
        return Err(Error::InvalidInput(
            "the plaintext is not UTF-8 JSON text; a vault holds a JSON value".to_owned(),
        ));
    }
    let key = derive_key(password, &params.kdf, params.salt)?;
    if plaintext.len() as u64 > MAX_PLAINTEXT_LEN {
        return Err(Error::InvalidInput(format!(
            "the plaintext is {} bytes, more than AES-GCM can take",
            plaintext.len()
        )));
    }
    let data = encrypt_data(&key, &params.iv, plaintext);
    let key_metadata = match params.kdf {
        Kdf::Legacy => String::new(),
        Kdf::Pbkdf2 { iterations } => format!(
            r#""keyMetadata":{{"algorithm":"{PBKDF2}","params":{{"iterations":{iterations}}}}},"#
        ),
    };
    // Base64 needs no JSON escaping.
    Ok(format!(
        r#"{{"data":"{}","iv":"{}",{key_metadata}"salt":"{}"}}"#,
        STANDARD.encode(&data),
        STANDARD.encode(params.iv),
        STANDARD.encode(params.salt)
    )
    .into_bytes())
}

/// Open steps 1–8: the plaintext and its envelope.
pub fn open(password: &str, vault: &[u8]) -> Result<Opened, Error> {
    let envelope = parse(vault)?;
    let key = derive_key(password, &envelope.kdf, &envelope.salt)?;
    // Step 7: no key check exists, so a failed tag is reported as the wrong password (the
    // library's "Incorrect password"); damage looks exactly the same.
    let plaintext = gcm_decrypt(&key, &envelope.iv, &envelope.data).ok_or(Error::WrongKey)?;
    // Step 8: an authentic plaintext that is not JSON was written by something other than
    // the library; the library itself answers "Incorrect password" here too.
    if !is_json(&plaintext) {
        return Err(Error::Corrupted(
            "the decrypted contents are not UTF-8 JSON text".to_owned(),
        ));
    }
    Ok(Opened {
        plaintext: Zeroizing::new(plaintext),
        envelope,
    })
}

/// What an update did: the library's `updateVault` returns a vault that already has the
/// target parameters unchanged (`isVaultUpdated`), and re-encrypts any other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated {
    pub vault: Vec<u8>,
    pub changed: bool,
}

/// Whether `vault` already declares `target` (the library's `isVaultUpdated`: a
/// `keyMetadata` with `algorithm` "PBKDF2" and exactly the target iteration count). A legacy
/// vault never is; the target is never [`Kdf::Legacy`].
pub fn is_updated(vault: &[u8], target: u32) -> Result<bool, Error> {
    Ok(parse(vault)?.kdf == Kdf::Pbkdf2 { iterations: target })
}

/// The library's vault update (a rotation of the KDF parameters under the same password):
/// open with the declared parameters, seal again with `target` iterations and fresh salt and
/// IV. A vault already at the target is returned as it is, byte for byte.
pub fn update(
    password: &str,
    vault: &[u8],
    target: u32,
    salt: &[u8],
    iv: [u8; IV_LEN],
) -> Result<Updated, Error> {
    check_iterations(i128::from(target))?;
    if is_updated(vault, target)? {
        return Ok(Updated {
            vault: vault.to_vec(),
            changed: false,
        });
    }
    let opened = open(password, vault)?;
    let sealed = seal(
        password,
        &opened.plaintext,
        &SealParams {
            kdf: Kdf::Pbkdf2 { iterations: target },
            salt,
            iv,
        },
    )?;
    Ok(Updated {
        vault: sealed,
        changed: true,
    })
}

/// Open steps 1–6: everything that needs no password and costs nothing.
pub fn parse(vault: &[u8]) -> Result<Envelope, Error> {
    let malformed = |s: &str| Error::Malformed(s.to_owned());
    // Step 1: one JSON object.
    let text = std::str::from_utf8(vault).map_err(|_| malformed("the bytes are not UTF-8"))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::Malformed(format!("not a JSON document ({e})")))?;
    let Value::Object(top) = value else {
        return Err(malformed("the JSON document is not an object"));
    };
    // Step 2: the three strings, and `keyMetadata` absent or fully typed.
    let data = string(&top, "data", "")?;
    let iv = string(&top, "iv", "")?;
    let salt = string(&top, "salt", "")?;
    let declared = match top.get("keyMetadata") {
        None => None,
        Some(Value::Object(meta)) => {
            let algorithm = string(meta, "algorithm", "keyMetadata.")?;
            let params = match meta.get("params") {
                Some(Value::Object(p)) => p,
                Some(_) => return Err(malformed("`keyMetadata.params` is not an object")),
                None => return Err(malformed("`keyMetadata.params` is missing")),
            };
            let iterations = integer(params, "iterations", "keyMetadata.params.")?;
            Some((algorithm, iterations))
        }
        Some(_) => return Err(malformed("`keyMetadata` is not an object")),
    };
    // Step 3: the algorithm.
    let kdf = match declared {
        None => Kdf::Legacy,
        Some((algorithm, _)) if algorithm != PBKDF2 => {
            return Err(Error::UnsupportedKdf(algorithm.to_owned()));
        }
        // Step 4: bounds, before any derivation.
        Some((_, iterations)) => {
            check_iterations(iterations)?;
            Kdf::Pbkdf2 {
                iterations: u32::try_from(iterations)
                    .map_err(|_| Error::KdfParamsRejected(format!("iterations {iterations}")))?,
            }
        }
    };
    // Step 5: encodings, then the salt's length (a bound, like the iterations).
    let salt = canonical_base64(salt).map_err(|why| Error::Corrupted(format!("salt {why}")))?;
    let iv = canonical_base64(iv).map_err(|why| Error::Corrupted(format!("iv {why}")))?;
    let data = canonical_base64(data).map_err(|why| Error::Corrupted(format!("data {why}")))?;
    check_salt_len(salt.len())?;
    // Step 6: lengths the cipher needs.
    let iv: [u8; IV_LEN] = iv.as_slice().try_into().map_err(|_| {
        Error::Corrupted(format!("iv holds {} bytes instead of {IV_LEN}", iv.len()))
    })?;
    if data.len() < TAG_LEN {
        return Err(Error::Corrupted(format!(
            "data holds {} bytes, fewer than the {TAG_LEN} of a tag",
            data.len()
        )));
    }
    Ok(Envelope {
        kdf,
        salt,
        iv,
        data,
    })
}

fn gcm_decrypt(key: &[u8; 32], iv: &[u8; IV_LEN], data: &[u8]) -> Option<Vec<u8>> {
    let (ct, tag) = data.split_at(data.len() - TAG_LEN);
    let tag: [u8; TAG_LEN] = tag.try_into().ok()?;
    let cipher = Aes256Gcm16::new(&(*key).into());
    let mut msg = ct.to_vec();
    cipher
        .decrypt_inout_detached(
            &Nonce::<U16>::from(*iv),
            &[],
            msg.as_mut_slice().into(),
            &tag.into(),
        )
        .ok()?;
    Some(msg)
}

fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// A JSON integer: a number without fraction or exponent. `2.5` and `"2"` are refused
/// although WebCrypto would truncate or convert them (see the profile doc).
fn integer(obj: &Map<String, Value>, name: &str, prefix: &str) -> Result<i128, Error> {
    let mistyped = || Error::Malformed(format!("`{prefix}{name}` is not an integer"));
    match obj.get(name) {
        None => Err(Error::Malformed(format!("`{prefix}{name}` is missing"))),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(i128::from)
            .or_else(|| n.as_i64().map(i128::from))
            .ok_or_else(mistyped),
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

/// Standard base64 with padding, canonical: the only spelling the library writes. The
/// library itself reads with Node's lenient decoder (see the profile doc).
fn canonical_base64(s: &str) -> Result<Vec<u8>, &'static str> {
    let bytes = STANDARD
        .decode(s)
        .map_err(|_| "is not canonical standard base64 with padding")?;
    if STANDARD.encode(&bytes) != s {
        return Err("is not canonical standard base64 with padding");
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str = "correct horse battery staple";
    const PLAIN: &[u8] =
        br#"[{"type":"HD Key Tree","data":{"mnemonic":"test","numberOfAccounts":1}}]"#;

    fn params(kdf: Kdf) -> SealParams<'static> {
        SealParams {
            kdf,
            salt: &[7u8; SALT_LEN],
            iv: [9u8; IV_LEN],
        }
    }

    fn vault(kdf: Kdf) -> Vec<u8> {
        seal(PW, PLAIN, &params(kdf)).unwrap()
    }

    fn edit(v: &[u8], f: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
        let mut obj: Map<String, Value> = serde_json::from_slice(v).unwrap();
        f(&mut obj);
        serde_json::to_vec(&obj).unwrap()
    }

    fn class(r: Result<Opened, Error>) -> ErrorClass {
        r.unwrap_err().class()
    }

    // Key and ciphertext computed independently with Python's hashlib.pbkdf2_hmac and
    // cryptography's AESGCM (16-byte nonce) for PW, salt 32×07, iv 16×09, 2 iterations.
    #[test]
    fn seal_matches_an_independent_computation() {
        let key = derive_key(PW, &Kdf::Pbkdf2 { iterations: 2 }, &[7u8; 32]).unwrap();
        assert_eq!(
            hex::encode(*key),
            "5e9a774b7892aebb041b7cf0df8b3e5c7bb478a812a106c60226978dd8a09178"
        );
        let v = String::from_utf8(vault(Kdf::Pbkdf2 { iterations: 2 })).unwrap();
        assert_eq!(
            v,
            concat!(
                r#"{"data":"/pPSpQNtajlxO6Crg53jzGq/3kBPQiZertr1gHxFkr8D9TixeMyeeye+lOuytdLZZWTrevkdrr/VpmqFgGduHZ3WluggF8qRQXo6dyzeBPqKhSN/q9GeQw==","#,
                r#""iv":"CQkJCQkJCQkJCQkJCQkJCQ==","keyMetadata":{"algorithm":"PBKDF2","params":{"iterations":2}},"#,
                r#""salt":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="}"#
            )
        );
    }

    #[test]
    fn round_trip_current_and_legacy() {
        for kdf in [Kdf::Pbkdf2 { iterations: 3 }, Kdf::Legacy] {
            let v = vault(kdf);
            let opened = open(PW, &v).unwrap();
            assert_eq!(opened.plaintext.as_slice(), PLAIN);
            assert_eq!(opened.envelope.kdf, kdf);
        }
        let legacy = String::from_utf8(vault(Kdf::Legacy)).unwrap();
        assert!(!legacy.contains("keyMetadata"), "{legacy}");
        let current = String::from_utf8(vault(Kdf::Pbkdf2 { iterations: 3 })).unwrap();
        assert!(
            current.contains(
                r#","keyMetadata":{"algorithm":"PBKDF2","params":{"iterations":3}},"salt":"#
            ),
            "{current}"
        );
    }

    #[test]
    fn legacy_means_ten_thousand_iterations() {
        let legacy = vault(Kdf::Legacy);
        let as_current = edit(&legacy, |o| {
            o.insert(
                "keyMetadata".into(),
                serde_json::json!({"algorithm": "PBKDF2", "params": {"iterations": 10000}}),
            );
        });
        assert_eq!(open(PW, &as_current).unwrap().plaintext.as_slice(), PLAIN);
        let other = edit(&legacy, |o| {
            o.insert(
                "keyMetadata".into(),
                serde_json::json!({"algorithm": "PBKDF2", "params": {"iterations": 10001}}),
            );
        });
        assert_eq!(class(open(PW, &other)), ErrorClass::WrongKey);
    }

    #[test]
    fn wrong_password_and_tampering_are_tag_failures() {
        let v = vault(Kdf::Pbkdf2 { iterations: 2 });
        assert_eq!(
            class(open("correct horse battery stapler", &v)),
            ErrorClass::WrongKey
        );
        for field in ["data", "iv", "salt"] {
            let t = edit(&v, |o| {
                let mut b = STANDARD.decode(o[field].as_str().unwrap()).unwrap();
                b[0] ^= 1;
                o.insert(field.into(), Value::String(STANDARD.encode(&b)));
            });
            assert_eq!(class(open(PW, &t)), ErrorClass::WrongKey, "{field}");
        }
    }

    #[test]
    fn malformed_fields() {
        let v = vault(Kdf::Pbkdf2 { iterations: 2 });
        assert_eq!(class(open(PW, b"not json")), ErrorClass::Malformed);
        assert_eq!(class(open(PW, b"[]")), ErrorClass::Malformed);
        assert_eq!(class(open(PW, b"\xff")), ErrorClass::Malformed);
        for field in ["data", "iv", "salt"] {
            let missing = edit(&v, |o| {
                o.remove(field);
            });
            assert_eq!(class(open(PW, &missing)), ErrorClass::Malformed, "{field}");
            let number = edit(&v, |o| {
                o.insert(field.into(), Value::from(5));
            });
            assert_eq!(class(open(PW, &number)), ErrorClass::Malformed, "{field}");
        }
        for meta in [
            serde_json::json!(null),
            serde_json::json!("PBKDF2"),
            serde_json::json!({"params": {"iterations": 2}}),
            serde_json::json!({"algorithm": "PBKDF2"}),
            serde_json::json!({"algorithm": "PBKDF2", "params": {}}),
            serde_json::json!({"algorithm": "PBKDF2", "params": {"iterations": "2"}}),
            serde_json::json!({"algorithm": "PBKDF2", "params": {"iterations": 2.5}}),
        ] {
            let t = edit(&v, |o| {
                o.insert("keyMetadata".into(), meta.clone());
            });
            assert_eq!(class(open(PW, &t)), ErrorClass::Malformed, "{meta}");
        }
    }

    #[test]
    fn algorithm_bounds_and_lengths() {
        let v = vault(Kdf::Pbkdf2 { iterations: 2 });
        let meta = |alg: &str, it: i64| {
            edit(&v, |o| {
                o.insert(
                    "keyMetadata".into(),
                    serde_json::json!({"algorithm": alg, "params": {"iterations": it}}),
                );
            })
        };
        assert_eq!(
            class(open(PW, &meta("scrypt", 2))),
            ErrorClass::UnsupportedKdf
        );
        assert_eq!(
            class(open(PW, &meta("pbkdf2", 2))),
            ErrorClass::UnsupportedKdf
        );
        for it in [0, -1, 10_000_001, 4_294_967_295, 4_294_967_296] {
            assert_eq!(
                class(open(PW, &meta("PBKDF2", it))),
                ErrorClass::KdfParamsRejected,
                "{it}"
            );
        }
        // The bound comes before any base64 is looked at.
        let both = edit(&meta("PBKDF2", 0), |o| {
            o.insert("data".into(), Value::from("!!"));
        });
        assert_eq!(class(open(PW, &both)), ErrorClass::KdfParamsRejected);
        let set = |field: &str, s: String| {
            edit(&v, |o| {
                o.insert(field.into(), Value::String(s));
            })
        };
        let d = v.clone();
        let data = serde_json::from_slice::<Value>(&d).unwrap()["data"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            class(open(PW, &set("data", data.replace('=', "")))),
            ErrorClass::Corrupted
        );
        assert_eq!(
            class(open(PW, &set("iv", STANDARD.encode([9u8; 12])))),
            ErrorClass::Corrupted
        );
        assert_eq!(
            class(open(PW, &set("data", STANDARD.encode([1u8; 15])))),
            ErrorClass::Corrupted
        );
        assert_eq!(
            class(open(PW, &set("salt", STANDARD.encode([7u8; 15])))),
            ErrorClass::KdfParamsRejected
        );
    }

    #[test]
    fn authentic_non_json_plaintext_is_corrupted() {
        let key = derive_key(PW, &Kdf::Pbkdf2 { iterations: 2 }, &[7u8; 32]).unwrap();
        let data = encrypt_data(&key, &[9u8; 16], b"not json");
        let v = vault(Kdf::Pbkdf2 { iterations: 2 });
        let t = edit(&v, |o| {
            o.insert("data".into(), Value::String(STANDARD.encode(&data)));
        });
        assert_eq!(class(open(PW, &t)), ErrorClass::Corrupted);
        let refused = seal(PW, b"not json", &params(Kdf::Legacy)).unwrap_err();
        assert_eq!(refused.class(), ErrorClass::Malformed);
    }

    #[test]
    fn update_from_legacy_and_noop_at_target() {
        let legacy = vault(Kdf::Legacy);
        assert!(!is_updated(&legacy, DEFAULT_ITERATIONS).unwrap());
        let up = update(PW, &legacy, 5, &[1u8; 32], [2u8; 16]).unwrap();
        assert!(up.changed);
        assert_eq!(parse(&up.vault).unwrap().kdf, Kdf::Pbkdf2 { iterations: 5 });
        assert_eq!(open(PW, &up.vault).unwrap().plaintext.as_slice(), PLAIN);
        let again = update("not even the password", &up.vault, 5, &[3u8; 32], [4u8; 16]).unwrap();
        assert_eq!(
            again,
            Updated {
                vault: up.vault.clone(),
                changed: false
            }
        );
        assert_eq!(
            update("wrong", &legacy, 5, &[1u8; 32], [2u8; 16]).unwrap_err(),
            Error::WrongKey
        );
        assert_eq!(
            update(PW, &legacy, 0, &[1u8; 32], [2u8; 16])
                .unwrap_err()
                .class(),
            ErrorClass::KdfParamsRejected
        );
    }

    #[test]
    fn seal_refuses_out_of_bounds() {
        let short = SealParams {
            kdf: Kdf::Legacy,
            salt: &[0u8; 8],
            iv: [0u8; 16],
        };
        assert_eq!(
            seal(PW, PLAIN, &short).unwrap_err().class(),
            ErrorClass::KdfParamsRejected
        );
        assert_eq!(
            seal(PW, PLAIN, &params(Kdf::Pbkdf2 { iterations: 0 }))
                .unwrap_err()
                .class(),
            ErrorClass::KdfParamsRejected
        );
    }
}
