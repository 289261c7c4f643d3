//! Blob format v1: header layout, key schedule, seal and the eight-step open order.

use std::fmt;
use std::ops::Range;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::kdf::{derive_ikm, derive_ikm_normalized, normalize};
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
                let ikm = derive_ikm_normalized(&normalized, salt, kdf)?;
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

/// A named field of a v1 blob (docs/FORMAT.md §1), for tools that point at bytes of a blob
/// (damage them, highlight them) without parsing it: a damaged blob has no valid header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Magic,
    Version,
    KdfId,
    MCost,
    TCost,
    PCost,
    SaltLen,
    Salt,
    Nonce,
    KeyCheck,
    HeaderDigest,
    /// Everything between the header and the tag.
    Ciphertext,
    /// The last `TAG_LEN` bytes.
    Tag,
}

impl Field {
    /// Every field, in blob order.
    pub const ALL: [Field; 13] = [
        Field::Magic,
        Field::Version,
        Field::KdfId,
        Field::MCost,
        Field::TCost,
        Field::PCost,
        Field::SaltLen,
        Field::Salt,
        Field::Nonce,
        Field::KeyCheck,
        Field::HeaderDigest,
        Field::Ciphertext,
        Field::Tag,
    ];

    /// The field's name in docs/FORMAT.md.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Magic => "magic",
            Field::Version => "version",
            Field::KdfId => "kdf_id",
            Field::MCost => "m_cost",
            Field::TCost => "t_cost",
            Field::PCost => "p_cost",
            Field::SaltLen => "salt_len",
            Field::Salt => "salt",
            Field::Nonce => "nonce",
            Field::KeyCheck => "key_check",
            Field::HeaderDigest => "header_digest",
            Field::Ciphertext => "ciphertext",
            Field::Tag => "tag",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Offset of `salt_len`, the one byte the position of every later field depends on.
const SALT_LEN_OFFSET: usize = FIXED_PREFIX_LEN - 1;

/// The bytes `field` occupies in `blob`, as the layout places them given the blob's
/// `salt_len` byte and length; nothing else is checked, so this works on damaged blobs.
/// `None` when the blob is too short to hold `salt_len`. Ranges may reach past the end of
/// a truncated blob; `Ciphertext` and `Tag` are placed from the end.
pub fn field_range(blob: &[u8], field: Field) -> Option<Range<usize>> {
    let salt_len = usize::from(*blob.get(SALT_LEN_OFFSET)?);
    Some(layout(salt_len, blob.len(), field))
}

impl Header {
    /// Where `field` lies in a blob of `blob_len` bytes with this header.
    pub fn field_range(&self, field: Field, blob_len: usize) -> Range<usize> {
        layout(self.salt.len(), blob_len, field)
    }
}

fn layout(salt_len: usize, blob_len: usize, field: Field) -> Range<usize> {
    let salt = FIXED_PREFIX_LEN;
    let nonce = salt + salt_len;
    let key_check = nonce + NONCE_LEN;
    let digest = key_check + KEY_CHECK_LEN;
    let header_len = digest + DIGEST_LEN;
    let tag = blob_len.saturating_sub(TAG_LEN);
    let at = |start: usize, len: usize| start..start + len;
    match field {
        Field::Magic => at(0, MAGIC.len()),
        Field::Version => at(4, 1),
        Field::KdfId => at(5, 1),
        Field::MCost => at(6, 4),
        Field::TCost => at(10, 4),
        Field::PCost => at(14, 1),
        Field::SaltLen => at(SALT_LEN_OFFSET, 1),
        Field::Salt => at(salt, salt_len),
        Field::Nonce => at(nonce, NONCE_LEN),
        Field::KeyCheck => at(key_check, KEY_CHECK_LEN),
        Field::HeaderDigest => at(digest, DIGEST_LEN),
        Field::Ciphertext => header_len..tag.max(header_len),
        Field::Tag => tag..blob_len,
    }
}

#[cfg(test)]
mod field_tests {
    use super::*;

    /// The table of docs/FORMAT.md §1, as (field, offset with S = salt_len, length).
    fn documented(s: usize, n: usize) -> Vec<(Field, usize, usize)> {
        vec![
            (Field::Magic, 0, 4),
            (Field::Version, 4, 1),
            (Field::KdfId, 5, 1),
            (Field::MCost, 6, 4),
            (Field::TCost, 10, 4),
            (Field::PCost, 14, 1),
            (Field::SaltLen, 15, 1),
            (Field::Salt, 16, s),
            (Field::Nonce, 16 + s, 12),
            (Field::KeyCheck, 28 + s, 32),
            (Field::HeaderDigest, 60 + s, 8),
            (Field::Ciphertext, 68 + s, n - 68 - s - 16),
            (Field::Tag, n - 16, 16),
        ]
    }

    #[test]
    fn ranges_follow_the_documented_layout() {
        let salt = [9u8; 16];
        let raw = seal(
            &Secret::key([7; 32]),
            &KdfParams::FLOOR,
            &[],
            &[1; 12],
            b"hello",
        )
        .unwrap();
        let pass = seal(
            &Secret::passphrase("correct horse battery staple"),
            &KdfParams::FLOOR,
            &salt,
            &[2; 12],
            b"hello",
        )
        .unwrap();
        for (blob, s) in [(&raw, 0), (&pass, 16)] {
            let header = parse_header(blob).unwrap();
            for (field, start, len) in documented(s, blob.len()) {
                let want = start..start + len;
                assert_eq!(field_range(blob, field), Some(want.clone()), "{field}");
                assert_eq!(header.field_range(field, blob.len()), want, "{field}");
            }
            assert_eq!(
                header.header_len,
                field_range(blob, Field::Ciphertext).unwrap().start
            );
        }
        assert_eq!(&raw[field_range(&raw, Field::Magic).unwrap()], b"BKPF");
        assert_eq!(&raw[field_range(&raw, Field::Nonce).unwrap()], &[1; 12]);
        assert_eq!(&pass[field_range(&pass, Field::Salt).unwrap()], &salt);
        // The fields tile the blob: each starts where the previous one ends.
        let ends: Vec<_> = Field::ALL
            .iter()
            .map(|f| field_range(&pass, *f).unwrap())
            .collect();
        assert_eq!(ends[0].start, 0);
        assert!(ends.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(ends[12].end, pass.len());
    }

    #[test]
    fn damaged_blobs_still_have_a_layout() {
        assert_eq!(field_range(&[], Field::Magic), None);
        assert_eq!(field_range(&[0; 15], Field::Magic), None);
        // salt_len 200 is out of range for a valid header, yet names where the salt would be.
        let mut b = vec![0u8; 20];
        b[15] = 200;
        assert_eq!(field_range(&b, Field::Salt), Some(16..216));
        // 16 fixed bytes + 200 salt + 12 nonce + 32 key_check + 8 digest: the ciphertext
        // would start at 268, past the end of these 20 bytes, so it is empty there.
        assert_eq!(field_range(&b, Field::Ciphertext), Some(268..268));
    }
}
