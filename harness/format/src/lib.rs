#![forbid(unsafe_code)]
//! backproof blob format v1 (docs/FORMAT.md is the normative description): the key
//! schedule, seal/open with the eight-step check order, the payload codec and merge rule,
//! and the closed list of error classes.
//!
//! Pure: no I/O, no randomness source (callers pass salt and nonce), no threads of its own
//! beyond Argon2's lanes. Secrets live in `Zeroizing` buffers and are redacted in `Debug`.

pub mod blob;
mod error;
mod kdf;
pub mod payload;
pub mod primitives;
pub mod profiles;

pub use blob::{
    DIGEST_LEN, FIXED_PREFIX_LEN, Field, Header, KDF_ARGON2ID, KDF_RAW, KEY_CHECK_LEN, MAGIC,
    MAX_SALT_LEN, MIN_HEADER_LEN, MIN_PASSPHRASE_CHARS, MIN_SALT_LEN, NONCE_LEN, SealingKey,
    Secret, TAG_LEN, VERSION, check_key, field_range, open, open_payload, parse_header, seal,
};
pub use error::{Error, ErrorClass, UnknownClass};
pub use kdf::{KdfParams, Policy, argon2id, derive_ikm};
pub use zeroize::Zeroizing;
