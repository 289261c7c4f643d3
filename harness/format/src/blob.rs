//! Blob format v1: header layout, key schedule, seal and the eight-step open order.

use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::kdf::{derive_ikm, normalize};
use crate::{Error, KdfParams, Policy};

pub const MAGIC: [u8; 4] = *b"BKPF";
pub const VERSION: u8 = 1;
pub const KDF_RAW: u8 = 0;
pub const KDF_ARGON2ID: u8 = 1;
pub const NONCE_LEN: usize = 12;
pub const KEY_CHECK_LEN: usize = 32;
pub const DIGEST_LEN: usize = 8;
pub const TAG_LEN: usize = 16;
pub const MIN_SALT_LEN: usize = 16;
pub const MAX_SALT_LEN: usize = 32;
/// magic, version, kdf_id, m_cost, t_cost, p_cost, salt_len.
pub const FIXED_PREFIX_LEN: usize = 4 + 1 + 1 + 4 + 4 + 1 + 1;
/// The shortest possible header (a raw-key blob, no salt).
pub const MIN_HEADER_LEN: usize = FIXED_PREFIX_LEN + NONCE_LEN + KEY_CHECK_LEN + DIGEST_LEN;
/// Sealing refuses passphrases with fewer Unicode scalar values (after NFC).
pub const MIN_PASSPHRASE_CHARS: usize = 13;

pub(crate) const INFO_ENC_KEY: &[u8] = b"backproof v1 aes-256-gcm key";
pub(crate) const INFO_KEY_CHECK: &[u8] = b"backproof v1 key check";

/// What unlocks a blob: a passphrase (through Argon2id) or a raw 256-bit key.
pub enum Secret {
    Passphrase(Zeroizing<String>),
    Key(Zeroizing<[u8; 32]>),
}

impl Secret {
    pub fn passphrase(s: &str) -> Secret {
        Secret::Passphrase(Zeroizing::new(s.to_owned()))
    }

    pub fn key(k: [u8; 32]) -> Secret {
        Secret::Key(Zeroizing::new(k))
    }

    /// A raw key as exported for people: 64 hex characters (either case).
    pub fn key_from_hex(hex: &str) -> Result<Secret, Error> {
        let invalid = || {
            Error::InvalidInput(
                "a raw key is exactly 64 hexadecimal characters (32 bytes); check the exported key for typos or missing characters".to_owned(),
            )
        };
        if hex.len() != 64 {
            return Err(invalid());
        }
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex, key.as_mut_slice()).map_err(|_| invalid())?;
        Ok(Secret::Key(key))
    }
}

// Secrets never reach logs, not even through `{:?}`.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Passphrase(_) => f.write_str("Secret::Passphrase(<redacted>)"),
            Secret::Key(_) => f.write_str("Secret::Key(<redacted>)"),
        }
    }
}

/// A parsed v1 header (the result of open steps 1–4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    /// `None` for a raw-key blob (kdf_id 0).
    pub kdf: Option<KdfParams>,
    pub salt: Vec<u8>,
    pub nonce: [u8; NONCE_LEN],
    pub key_check: [u8; KEY_CHECK_LEN],
    pub header_digest: [u8; DIGEST_LEN],
    /// Bytes from magic through header_digest: the AAD of the ciphertext.
    pub header_len: usize,
}

impl Header {
    /// Number of bytes of `ciphertext ‖ tag` in a blob of `blob_len` bytes.
    pub fn body_len(&self, blob_len: usize) -> usize {
        blob_len.saturating_sub(self.header_len)
    }
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Open steps 1–4: structure, version, kdf id, lengths, header digest. No secret needed,
/// no expensive work done.
pub fn parse_header(blob: &[u8]) -> Result<Header, Error> {
    // Step 1.
    if blob.len() < MIN_HEADER_LEN {
        return Err(Error::Malformed(format!(
            "{} bytes is shorter than the smallest header ({MIN_HEADER_LEN} bytes)",
            blob.len()
        )));
    }
    if blob[..4] != MAGIC {
        return Err(Error::Malformed(
            "it does not start with the magic bytes \"BKPF\"".to_owned(),
        ));
    }
    // Step 2.
    let version = blob[4];
    if version != VERSION {
        return Err(Error::UnsupportedVersion(version));
    }
    let kdf_id = blob[5];
    if kdf_id != KDF_RAW && kdf_id != KDF_ARGON2ID {
        return Err(Error::UnsupportedKdf(kdf_id));
    }
    // Step 3.
    let m_cost = be_u32(&blob[6..10]);
    let t_cost = be_u32(&blob[10..14]);
    let p_cost = blob[14];
    let salt_len = usize::from(blob[15]);
    let kdf = if kdf_id == KDF_RAW {
        if salt_len != 0 || m_cost != 0 || t_cost != 0 || p_cost != 0 {
            return Err(Error::Malformed(
                "a raw-key header must have salt_len, m_cost, t_cost and p_cost all 0".to_owned(),
            ));
        }
        None
    } else {
        if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt_len) {
            return Err(Error::Malformed(format!(
                "salt_len {salt_len} is outside {MIN_SALT_LEN}..={MAX_SALT_LEN}"
            )));
        }
        Some(KdfParams {
            m_cost,
            t_cost,
            p_cost: u32::from(p_cost),
        })
    };
    let header_len = MIN_HEADER_LEN + salt_len;
    if blob.len() < header_len + TAG_LEN {
        return Err(Error::Malformed(format!(
            "{} bytes leaves fewer than {TAG_LEN} bytes after the {header_len}-byte header (the authentication tag is missing)",
            blob.len()
        )));
    }
    let mut at = FIXED_PREFIX_LEN;
    let salt = blob[at..at + salt_len].to_vec();
    at += salt_len;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&blob[at..at + NONCE_LEN]);
    at += NONCE_LEN;
    let mut key_check = [0u8; KEY_CHECK_LEN];
    key_check.copy_from_slice(&blob[at..at + KEY_CHECK_LEN]);
    at += KEY_CHECK_LEN;
    let mut header_digest = [0u8; DIGEST_LEN];
    header_digest.copy_from_slice(&blob[at..at + DIGEST_LEN]);
    // Step 4. The digest is public (not a MAC), so a plain compare is fine.
    if digest8(&blob[..at]) != header_digest {
        return Err(Error::Corrupted("header digest mismatch"));
    }
    Ok(Header {
        version,
        kdf,
        salt,
        nonce,
        key_check,
        header_digest,
        header_len,
    })
}

fn digest8(bytes: &[u8]) -> [u8; DIGEST_LEN] {
    let full = Sha256::digest(bytes);
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&full[..DIGEST_LEN]);
    out
}

struct Keys {
    enc_key: Zeroizing<[u8; 32]>,
    key_check: [u8; KEY_CHECK_LEN],
}

fn key_schedule(ikm: &[u8; 32]) -> Keys {
    let hk = Hkdf::<Sha256>::new(Some(&[]), ikm);
    let mut enc_key = Zeroizing::new([0u8; 32]);
    let mut key_check = [0u8; KEY_CHECK_LEN];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
    let _ = hk.expand(INFO_ENC_KEY, enc_key.as_mut_slice());
    let _ = hk.expand(INFO_KEY_CHECK, &mut key_check);
    Keys { enc_key, key_check }
}

/// Steps 5–6 that also yield the encryption key.
fn unlock(header: &Header, secret: &Secret, policy: &Policy) -> Result<Keys, Error> {
    // Step 5: before any derivation.
    if let Some(params) = &header.kdf {
        policy.check(params)?;
    }
    let keys = match (secret, &header.kdf) {
        (Secret::Passphrase(p), Some(params)) => {
            let ikm = derive_ikm(p, &header.salt, params)?;
            key_schedule(&ikm)
        }
        (Secret::Key(k), None) => key_schedule(k),
        // A passphrase cannot open a raw-key blob and a raw key cannot open a
        // passphrase blob: from the reader's side both are simply the wrong secret.
        _ => return Err(Error::WrongKey),
    };
    // Step 6.
    if bool::from(keys.key_check.ct_eq(&header.key_check)) {
        Ok(keys)
    } else {
        Err(Error::WrongKey)
    }
}

/// Open steps 5–6 (policy, then key check): whether `secret` is the key of this blob,
/// without decrypting. Smart recovery calls this once per candidate.
pub fn check_key(header: &Header, secret: &Secret, policy: &Policy) -> Result<(), Error> {
    unlock(header, secret, policy).map(|_| ())
}

/// Open steps 1–7: the plaintext of `blob`.
pub fn open(secret: &Secret, blob: &[u8], policy: &Policy) -> Result<Zeroizing<Vec<u8>>, Error> {
    let header = parse_header(blob)?;
    let keys = unlock(&header, secret, policy)?;
    // Step 7.
    let cipher = Aes256Gcm::new(&(*keys.enc_key).into());
    let nonce = Nonce::from(header.nonce);
    let (aad, body) = blob.split_at(header.header_len);
    let mut buffer = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_in_place(&nonce, aad, &mut *buffer)
        .map_err(|_| Error::Corrupted("authentication tag mismatch"))?;
    Ok(buffer)
}

/// Open steps 1–8: the decoded payload of `blob`.
pub fn open_payload(
    secret: &Secret,
    blob: &[u8],
    policy: &Policy,
) -> Result<crate::payload::BackupPayload, Error> {
    let plaintext = open(secret, blob, policy)?;
    crate::payload::decode(&plaintext)
}

/// Seal `plaintext` into a v1 blob. The caller supplies salt and nonce (fresh random bytes
/// for every seal; fixed ones only for known-answer vectors) because this crate has no
/// randomness source of its own.
///
/// Passphrase secrets are checked in this order: length (`passphrase_too_short`), `kdf`
/// against [`Policy::default`] (`kdf_params_rejected`), salt length (`malformed`).
/// Raw-key secrets ignore `kdf` and `salt`.
pub fn seal(
    secret: &Secret,
    kdf: &KdfParams,
    salt: &[u8],
    nonce: &[u8; 12],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    SealingKey::derive(secret, kdf, salt)?.seal(nonce, plaintext)
}

/// A secret made ready to seal under one salt: [`seal`] split in its expensive half (the
/// Argon2id derivation and key schedule, done once by [`SealingKey::derive`]) and its cheap
/// half ([`SealingKey::seal`], one header and one AES-256-GCM encryption per nonce).
///
/// A writer that seals several times within one operation — the reference client's 409
/// merge loop re-seals the merged payload after every conflict — derives once and seals
/// each attempt with a fresh nonce. Every blob still carries its salt, parameters and key
/// check, so readers see no difference (docs/FORMAT.md §3).
pub struct SealingKey {
    kdf_id: u8,
    params: KdfParams,
    p_cost: u8,
    salt: Vec<u8>,
    keys: Keys,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("kdf_id", &self.kdf_id)
            .field("params", &self.params)
            .field("salt_len", &self.salt.len())
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    /// Runs the checks of [`seal`] (in its order) and derives the keys for `salt`.
    pub fn derive(secret: &Secret, kdf: &KdfParams, salt: &[u8]) -> Result<SealingKey, Error> {
        let (kdf_id, params, salt, keys) = match secret {
            Secret::Passphrase(p) => {
                let normalized = normalize(p);
                let chars = normalized.chars().count();
                if chars < MIN_PASSPHRASE_CHARS {
                    return Err(Error::PassphraseTooShort {
                        got: chars,
                        min: MIN_PASSPHRASE_CHARS,
                    });
                }
                Policy::default().check(kdf)?;
                if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt.len()) {
                    return Err(Error::InvalidInput(format!(
                        "the salt must be {MIN_SALT_LEN} to {MAX_SALT_LEN} bytes, got {}",
                        salt.len()
                    )));
                }
                let ikm = derive_ikm(&normalized, salt, kdf)?;
                (KDF_ARGON2ID, *kdf, salt, key_schedule(&ikm))
            }
            Secret::Key(k) => (
                KDF_RAW,
                KdfParams {
                    m_cost: 0,
                    t_cost: 0,
                    p_cost: 0,
                },
                &[][..],
                key_schedule(k),
            ),
        };
        let p_cost = u8::try_from(params.p_cost).map_err(|_| Error::KdfParamsRejected {
            params,
            reason: "p_cost must fit in one byte".to_owned(),
        })?;
        if u8::try_from(salt.len()).is_err() {
            return Err(Error::InvalidInput(format!(
                "the salt must be {MIN_SALT_LEN} to {MAX_SALT_LEN} bytes"
            )));
        }
        Ok(SealingKey {
            kdf_id,
            params,
            p_cost,
            salt: salt.to_vec(),
            keys,
        })
    }

    /// One v1 blob of `plaintext` under this key and `nonce`. The nonce must be fresh for
    /// every call: AES-GCM under one key is only safe while no nonce repeats.
    pub fn seal(&self, nonce: &[u8; 12], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let header_len = MIN_HEADER_LEN + self.salt.len();
        let mut blob = Vec::with_capacity(header_len + plaintext.len() + TAG_LEN);
        blob.extend_from_slice(&MAGIC);
        blob.push(VERSION);
        blob.push(self.kdf_id);
        blob.extend_from_slice(&self.params.m_cost.to_be_bytes());
        blob.extend_from_slice(&self.params.t_cost.to_be_bytes());
        blob.push(self.p_cost);
        // `derive` checked that the length fits in a byte.
        blob.push(self.salt.len() as u8);
        blob.extend_from_slice(&self.salt);
        blob.extend_from_slice(nonce);
        blob.extend_from_slice(&self.keys.key_check);
        let digest = digest8(&blob);
        blob.extend_from_slice(&digest);
        debug_assert_eq!(blob.len(), header_len);
        blob.extend_from_slice(plaintext);
        let cipher = Aes256Gcm::new(&(*self.keys.enc_key).into());
        let (aad, body) = blob.split_at_mut(header_len);
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(*nonce), aad, body.into())
            .map_err(|_| {
                Error::InvalidInput("the plaintext is too large for AES-256-GCM".to_owned())
            })?;
        blob.extend_from_slice(&tag);
        Ok(blob)
    }
}
