//! The building blocks of the key schedule, exposed for known-answer vectors only.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::Error;

/// HKDF-SHA256 (RFC 5869), `size` bytes of output (at most 8160).
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], size: usize) -> Result<Vec<u8>, Error> {
    let mut okm = vec![0u8; size];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut okm)
        .map_err(|_| Error::InvalidInput(format!("HKDF-SHA256 cannot produce {size} bytes")))?;
    Ok(okm)
}

/// AES-256-GCM with a 96-bit IV: `(ciphertext, tag)`.
pub fn aes256gcm_encrypt(
    key: &[u8; 32],
    iv: &[u8; 12],
    aad: &[u8],
    msg: &[u8],
) -> Result<(Vec<u8>, [u8; 16]), Error> {
    let cipher = Aes256Gcm::new(&(*key).into());
    let mut ct = msg.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(*iv), aad, ct.as_mut_slice().into())
        .map_err(|_| Error::InvalidInput("message too large for AES-256-GCM".to_owned()))?;
    Ok((ct, tag.into()))
}

/// AES-256-GCM decryption; a tag that does not verify is `corrupted`.
pub fn aes256gcm_decrypt(
    key: &[u8; 32],
    iv: &[u8; 12],
    aad: &[u8],
    ct: &[u8],
    tag: &[u8; 16],
) -> Result<Vec<u8>, Error> {
    let cipher = Aes256Gcm::new(&(*key).into());
    let mut msg = ct.to_vec();
    cipher
        .decrypt_inout_detached(
            &Nonce::from(*iv),
            aad,
            msg.as_mut_slice().into(),
            &(*tag).into(),
        )
        .map_err(|_| Error::Corrupted("authentication tag mismatch"))?;
    Ok(msg)
}
