//! Profile metamask-vault (docs/profiles/metamask-vault.md): `parse` and `open` on any bytes.
//!
//! As for byok-json-v1, the key derivation (≥ 10 000 PBKDF2 iterations) is too slow per
//! input, so the fuzzer drives open steps 1–6 (`parse`): `open` must refuse whatever
//! `parse` refuses, with the same class and before deriving anything, and an accepted vault
//! must hold what the later steps index on without checking.
#![no_main]

use backproof_format::profiles::metamask_vault::{
    MAX_SALT_LEN, MIN_SALT_LEN, TAG_LEN, open, parse,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Err(e) => {
            let opened = open("fuzzing password", data);
            assert_eq!(
                opened.err().map(|o| o.class()),
                Some(e.class()),
                "open disagrees with parse on a vault parse refuses"
            );
        }
        Ok(env) => {
            assert!(
                env.kdf.check().is_ok(),
                "an accepted vault has iterations out of bounds"
            );
            assert!(
                (MIN_SALT_LEN..=MAX_SALT_LEN).contains(&env.salt.len()),
                "salt of {} bytes accepted",
                env.salt.len()
            );
            assert!(
                env.data.len() >= TAG_LEN,
                "an accepted vault has no room for the tag"
            );
        }
    }
});
