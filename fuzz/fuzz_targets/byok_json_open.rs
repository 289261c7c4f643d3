//! Profile byok-json-v1's `open` (docs/profiles/byok-json-v1.md) on any bytes.
//!
//! The key derivation is the profile's (PBKDF2 at ≥ 100 000 iterations or Argon2id at the
//! policy floor): far too slow to run per input, so the fuzzer drives steps 1–6 (`parse`,
//! everything that needs no passphrase) and `open` wherever those steps refuse the input,
//! which must be before any derivation and with the same class. An accepted envelope must
//! satisfy what the later steps index on without checking.
#![no_main]

use backproof_format::profiles::byok_json_v1::{MAX_SALT_LEN, MIN_SALT_LEN, open, parse};
use backproof_format::{NONCE_LEN, TAG_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Err(e) => {
            let opened = open("fuzzing passphrase", data);
            assert_eq!(
                opened.err().map(|o| o.class()),
                Some(e.class()),
                "open disagrees with parse on an envelope parse refuses"
            );
        }
        Ok(env) => {
            assert!(
                env.encrypted_data.len() >= NONCE_LEN + TAG_LEN,
                "an accepted envelope is too short for nonce and tag"
            );
            assert!(
                env.kdf.check().is_ok(),
                "an accepted envelope has KDF parameters out of bounds"
            );
            assert!(
                (MIN_SALT_LEN..=MAX_SALT_LEN).contains(&env.salt.len()),
                "salt of {} bytes accepted",
                env.salt.len()
            );
            let _ = env.nonce();
        }
    }
});
