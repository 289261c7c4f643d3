//! Profile `noah-v0` (docs/profiles/noah-v0.md is normative): the Noah wallet's database
//! backup, an S3 object whose body is ASCII base64 of `IV(12) ‖ ciphertext ‖ tag(16)`,
//! AES-256-GCM under a key PBKDF2-HMAC-SHA256 derives from the seedphrase at 10 000
//! iterations with a salt that is itself derived from the seedphrase (the first 16 bytes of
//! its SHA-256). Nothing in the body is a parameter: the iteration count, lengths and salt
//! are fixed, so the only input besides the body is the seedphrase.
//!
//! The design has no key check: a wrong seedphrase and a damaged body both end in a failed
//! GCM tag, reported as `wrong_key` (cases accept `corrupted` and `wrong_key_or_corrupted`,
//! advisory `no-key-check`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::ErrorClass;
use crate::primitives::{aes256gcm_decrypt, aes256gcm_encrypt};

/// The profile's name on the adapter protocol and in case ids.
pub const NAME: &str = "noah-v0";
/// PBKDF2-HMAC-SHA256 iterations, fixed by the design (nothing in the body says otherwise).
pub const ITERATIONS: u32 = 10_000;
/// The salt is the first 16 bytes of SHA-256 of the seedphrase's UTF-8 bytes.
pub const SALT_LEN: usize = 16;
pub const KEY_LEN: usize = 32;
pub const IV_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// The shortest decoded body: an IV and a tag around an empty ciphertext.
pub const MIN_DECODED_LEN: usize = IV_LEN + TAG_LEN;
/// The longest body (the base64 text, what S3 stores and `backup_size` counts): 64 MiB,
/// which holds a wallet database of almost 48 MiB. The design suggests a limit of about
/// 50 MB; the profile fixes one so that neither a reader nor the server holds an unbounded
/// object in memory.
pub const MAX_BODY_LEN: usize = 64 << 20;
/// The longest decoded body, `MAX_BODY_LEN / 4 * 3`.
pub const MAX_DECODED_LEN: usize = MAX_BODY_LEN / 4 * 3;
/// The largest database that seals into a body of at most [`MAX_BODY_LEN`].
pub const MAX_PLAINTEXT_LEN: usize = MAX_DECODED_LEN - MIN_DECODED_LEN;

/// Why a body or an input was refused. Each variant belongs to exactly one [`ErrorClass`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "not a Noah backup body: {0}; the object must hold exactly the standard base64 text the app wrote (no line breaks, no other characters)"
    )]
    Malformed(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(
        "the backup is {len} bytes, more than the profile's limit of {max}; it was not written by a Noah client"
    )]
    TooLarge { len: usize, max: usize },
    #[error("the backup is damaged ({0}); restore the other backup slot")]
    Corrupted(String),
    #[error(
        "the seedphrase is wrong or the backup is damaged (this format has no key check, so the two cannot be told apart); check the seedphrase word for word, then try the other backup slot"
    )]
    WrongKey,
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Malformed(_) | Error::InvalidInput(_) => ErrorClass::Malformed,
            Error::TooLarge { .. } => ErrorClass::TooLarge,
            Error::Corrupted(_) => ErrorClass::Corrupted,
            Error::WrongKey => ErrorClass::WrongKey,
        }
    }
}

/// A decoded body: the result of open steps 1–4, before any derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub iv: [u8; IV_LEN],
    pub ciphertext: Vec<u8>,
    pub tag: [u8; TAG_LEN],
}

/// What `open` returns: the database file and the body it came from.
pub type Opened = super::Opened<Envelope>;

/// Step 1 of both directions: the seedphrase is used as given, but it is never empty (a
/// wallet's seedphrase is a list of words; an empty one is a caller's bug, and the seed's
/// platform PBKDF2 calls disagree on whether an empty password is allowed at all).
fn check_seedphrase(seedphrase: &str) -> Result<(), Error> {
    if seedphrase.is_empty() {
        return Err(Error::InvalidInput(
            "the seedphrase is empty; pass the wallet's seedphrase exactly as the app holds it"
                .to_owned(),
        ));
    }
    Ok(())
}

/// `SHA-256(UTF-8(seedphrase))[..16]`: deterministic, so equal seedphrases share a salt
/// (advisory `deterministic-salt`).
pub fn salt(seedphrase: &str) -> [u8; SALT_LEN] {
    let digest = Sha256::digest(seedphrase.as_bytes());
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&digest[..SALT_LEN]);
    salt
}

/// The AES-256 key: PBKDF2-HMAC-SHA256 over the seedphrase's UTF-8 bytes exactly as given
/// (no Unicode normalization, no trimming, no case folding), [`salt`], [`ITERATIONS`].
pub fn derive_key(seedphrase: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
    check_seedphrase(seedphrase)?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    pbkdf2::pbkdf2_hmac::<Sha256>(
        seedphrase.as_bytes(),
        &salt(seedphrase),
        ITERATIONS,
        key.as_mut_slice(),
    );
    Ok(key)
}

/// Seal a database file into the object body (ASCII base64, standard alphabet, padded, one
/// line). `iv` must be fresh and random for every seal; fixed ones are for vectors only.
pub fn seal(seedphrase: &str, plaintext: &[u8], iv: [u8; IV_LEN]) -> Result<Vec<u8>, Error> {
    let key = derive_key(seedphrase)?;
    seal_with_key(&key, plaintext, iv)
}

/// [`seal`] with a key already derived (a client sealing many backups derives once).
pub fn seal_with_key(
    key: &[u8; KEY_LEN],
    plaintext: &[u8],
    iv: [u8; IV_LEN],
) -> Result<Vec<u8>, Error> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(Error::TooLarge {
            len: plaintext.len(),
            max: MAX_PLAINTEXT_LEN,
        });
    }
    let (ct, tag) = aes256gcm_encrypt(key, &iv, &[], plaintext)
        .map_err(|e| Error::InvalidInput(e.to_string()))?;
    let mut raw = Vec::with_capacity(MIN_DECODED_LEN + ct.len());
    raw.extend_from_slice(&iv);
    raw.extend_from_slice(&ct);
    raw.extend_from_slice(&tag);
    Ok(STANDARD.encode(raw).into_bytes())
}

/// Open steps 2–4: everything that needs no seedphrase and costs nothing.
pub fn parse(body: &[u8]) -> Result<Envelope, Error> {
    // Step 2: bounded before anything is decoded.
    if body.len() > MAX_BODY_LEN {
        return Err(Error::TooLarge {
            len: body.len(),
            max: MAX_BODY_LEN,
        });
    }
    // Step 3: canonical standard base64 with padding, nothing else (no whitespace, no line
    // break, no URL-safe alphabet, no stray bits in the last character).
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::Malformed("the body is not ASCII text".to_owned()))?;
    let raw = STANDARD.decode(text).map_err(|e| {
        Error::Malformed(format!(
            "the body is not standard base64 with padding ({e})"
        ))
    })?;
    if STANDARD.encode(&raw).as_bytes() != body {
        return Err(Error::Malformed(
            "the body is not canonical base64 (non-zero bits after the last byte)".to_owned(),
        ));
    }
    // Step 4: room for the IV and the tag.
    if raw.len() < MIN_DECODED_LEN {
        return Err(Error::Corrupted(format!(
            "the body decodes to {} bytes, fewer than the {MIN_DECODED_LEN} of an IV and a tag",
            raw.len()
        )));
    }
    let (iv, rest) = raw.split_at(IV_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    Ok(Envelope {
        iv: iv.try_into().expect("12 bytes"),
        ciphertext: ct.to_vec(),
        tag: tag.try_into().expect("16 bytes"),
    })
}

/// Open steps 1–5: the database file and its envelope.
pub fn open(seedphrase: &str, body: &[u8]) -> Result<Opened, Error> {
    check_seedphrase(seedphrase)?;
    let envelope = parse(body)?;
    let key = derive_key(seedphrase)?;
    open_envelope(&key, envelope)
}

/// [`open`] with a key already derived.
pub fn open_with_key(key: &[u8; KEY_LEN], body: &[u8]) -> Result<Opened, Error> {
    open_envelope(key, parse(body)?)
}

fn open_envelope(key: &[u8; KEY_LEN], envelope: Envelope) -> Result<Opened, Error> {
    // Step 5: no key check exists, so a failed tag is reported as the wrong seedphrase;
    // damage looks exactly the same.
    let plaintext = aes256gcm_decrypt(key, &envelope.iv, &[], &envelope.ciphertext, &envelope.tag)
        .map_err(|_| Error::WrongKey)?;
    Ok(Opened {
        plaintext: Zeroizing::new(plaintext),
        envelope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
    const IV: [u8; 12] = [7; 12];

    fn class(r: Result<Opened, Error>) -> ErrorClass {
        r.map(|_| ()).unwrap_err().class()
    }

    /// HMAC-SHA256 (RFC 2104) and PBKDF2 (RFC 8018 §5.2, one block) written out over
    /// SHA-256, so the key schedule is not only checked against the crates that compute it.
    fn hmac_by_hand(key: &[u8], data: &[u8]) -> [u8; 32] {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
        let inner = Sha256::digest([pad(0x36), data.to_vec()].concat());
        Sha256::digest([pad(0x5c), inner.to_vec()].concat()).into()
    }

    fn pbkdf2_by_hand(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
        let mut u = hmac_by_hand(password, &[salt, &1u32.to_be_bytes()].concat());
        let mut t = u;
        for _ in 1..iterations {
            u = hmac_by_hand(password, &u);
            for (a, b) in t.iter_mut().zip(u.iter()) {
                *a ^= b;
            }
        }
        t
    }

    #[test]
    fn key_schedule_matches_an_independent_computation() {
        let s: [u8; 16] = Sha256::digest(SEED.as_bytes())[..16].try_into().unwrap();
        assert_eq!(salt(SEED), s);
        let want = pbkdf2_by_hand(SEED.as_bytes(), &s, ITERATIONS);
        assert_eq!(*derive_key(SEED).unwrap(), want);
        // A count off by one is another key: the count is really 10 000.
        assert_ne!(pbkdf2_by_hand(SEED.as_bytes(), &s, ITERATIONS - 1), want);
    }

    #[test]
    fn body_layout_is_base64_of_iv_ciphertext_tag() {
        let body = seal(SEED, b"SQLite format 3\0", IV).unwrap();
        let raw = STANDARD.decode(&body).unwrap();
        assert_eq!(raw.len(), 12 + 16 + 16);
        assert_eq!(raw[..12], IV);
        let key = derive_key(SEED).unwrap();
        let (ct, tag) = aes256gcm_encrypt(&key, &IV, &[], b"SQLite format 3\0").unwrap();
        assert_eq!(raw[12..28], ct[..]);
        assert_eq!(raw[28..], tag);
        assert!(body.iter().all(|b| b.is_ascii_graphic()));
    }

    #[test]
    fn round_trips_including_an_empty_database() {
        for plain in [&b""[..], b"x", &[0u8; 1000][..]] {
            let body = seal(SEED, plain, IV).unwrap();
            let opened = open(SEED, &body).unwrap();
            assert_eq!(&opened.plaintext[..], plain);
            assert_eq!(opened.envelope.iv, IV);
        }
    }

    #[test]
    fn the_seedphrase_is_used_exactly_as_given() {
        let body = seal(SEED, b"db", IV).unwrap();
        for other in [
            format!("{SEED}\n"),
            SEED.replacen(' ', "  ", 1),
            SEED.to_uppercase(),
            format!(" {SEED}"),
        ] {
            assert_eq!(
                class(open(&other, &body)),
                ErrorClass::WrongKey,
                "{other:?}"
            );
        }
        // NFC "é" against NFD "e\u{301}".
        let body = seal("caf\u{e9} wallet", b"db", IV).unwrap();
        assert_eq!(
            class(open("cafe\u{301} wallet", &body)),
            ErrorClass::WrongKey
        );
        assert!(open("caf\u{e9} wallet", &body).is_ok());
    }

    #[test]
    fn open_order_and_classes() {
        let body = seal(SEED, b"database!", IV).unwrap();
        let mut flipped = STANDARD.decode(&body).unwrap();
        flipped[14] ^= 1;
        let flipped = STANDARD.encode(flipped).into_bytes();
        assert_eq!(class(open(SEED, &flipped)), ErrorClass::WrongKey);
        let mut with_newline = body.clone();
        with_newline.push(b'\n');
        assert_eq!(class(open(SEED, &with_newline)), ErrorClass::Malformed);
        let unpadded = body.strip_suffix(b"=").unwrap_or(&body).to_vec();
        assert_ne!(unpadded, body, "the test body must end in padding");
        assert_eq!(class(open(SEED, &unpadded)), ErrorClass::Malformed);
        assert_eq!(class(open(SEED, b"!!!!")), ErrorClass::Malformed);
        assert_eq!(class(open(SEED, &[0xff, 0xfe])), ErrorClass::Malformed);
        // "AB==" decodes to one byte but its second character carries stray bits.
        assert_eq!(class(open(SEED, b"AB==")), ErrorClass::Malformed);
        assert_eq!(class(open(SEED, b"")), ErrorClass::Corrupted);
        let short = STANDARD.encode([0u8; 27]).into_bytes();
        assert_eq!(class(open(SEED, &short)), ErrorClass::Corrupted);
        // Steps 1 before 3, 3 before 5.
        assert_eq!(class(open("", b"!!!!")), ErrorClass::Malformed);
        assert!(matches!(open("", &body), Err(Error::InvalidInput(_))));
        assert_eq!(class(open("other", &short)), ErrorClass::Corrupted);
    }

    #[test]
    fn bounds() {
        let big = vec![b'A'; MAX_BODY_LEN + 4];
        assert_eq!(
            open(SEED, &big).map(|_| ()).unwrap_err(),
            Error::TooLarge {
                len: MAX_BODY_LEN + 4,
                max: MAX_BODY_LEN
            }
        );
        // Exactly at the limit is decoded (and here fails only at the tag).
        let at = vec![b'A'; MAX_BODY_LEN];
        assert_eq!(class(open(SEED, &at)), ErrorClass::WrongKey);
        let key = [1u8; 32];
        assert!(matches!(
            seal_with_key(&key, &vec![0u8; MAX_PLAINTEXT_LEN + 1], IV),
            Err(Error::TooLarge { .. })
        ));
        assert_eq!(
            seal(SEED, b"", IV).unwrap().len(),
            STANDARD.encode([0u8; MIN_DECODED_LEN]).len()
        );
        assert_eq!(MAX_DECODED_LEN % 3, 0);
        assert_eq!(
            STANDARD.encode(vec![0u8; MAX_DECODED_LEN]).len(),
            MAX_BODY_LEN
        );
        assert!(matches!(seal("", b"x", IV), Err(Error::InvalidInput(_))));
    }
}
