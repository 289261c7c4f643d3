//! Blob format v1 `open` (docs/FORMAT.md): any bytes under any secret.
//!
//! Beyond "no panic": a blob that opens must be exactly what sealing its plaintext with its
//! own salt and nonce gives (nothing unauthenticated slips through), a key that sealed
//! nothing never opens anything, and `open` fails with the class `parse_header` gives
//! whenever the header is bad (the open order).
#![no_main]

use std::sync::LazyLock;

use backproof_format::{KdfParams, Policy, Secret, open, parse_header, seal};
use libfuzzer_sys::fuzz_target;

/// The vectors' raw keys (hex), so that their blobs open and round-trip.
static KEYS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../vectors/blob-v1.json")).expect("vectors parse");
    let mut keys: Vec<String> = doc["testGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["tests"].as_array().into_iter().flatten())
        .filter_map(|t| t["secret"]["key"].as_str().map(str::to_owned))
        .collect();
    keys.sort();
    keys.dedup();
    assert!(!keys.is_empty(), "blob-v1.json has raw-key vectors");
    keys
});
const UNUSED_KEY: [u8; 32] = [0x5a; 32];
/// Never used to seal anything.
const UNUSED_PASSPHRASE: &str = "fuzzing passphrase that sealed nothing";

/// Admits Argon2id at toy cost so that blobs the fuzzer makes reach the key check at
/// fuzzing speed; the vectors' real parameters are then refused before any derivation.
const TOY_POLICY: Policy = Policy {
    min_m_cost: 8,
    max_m_cost: 64,
    min_t_cost: 1,
    max_t_cost: 2,
    min_p_cost: 1,
    max_p_cost: 1,
    min_m_times_t: 0,
};

fuzz_target!(|data: &[u8]| {
    let header = parse_header(data);
    let unused = [
        Secret::key(UNUSED_KEY),
        Secret::passphrase(UNUSED_PASSPHRASE),
    ];
    for secret in &unused {
        let opened = open(secret, data, &TOY_POLICY);
        assert!(
            opened.is_err(),
            "a secret that sealed nothing opened a blob"
        );
        if let Err(e) = &header {
            assert_eq!(
                opened.err().map(|o| o.class()),
                Some(e.class()),
                "open disagrees with parse_header on a bad header"
            );
        }
    }
    for key in KEYS.iter() {
        let secret = Secret::key_from_hex(key).expect("vector keys are 64 hex digits");
        let Ok(plaintext) = open(&secret, data, &Policy::default()) else {
            continue;
        };
        let h = header.as_ref().expect("an opened blob has a valid header");
        assert!(h.kdf.is_none(), "a raw key opened a passphrase blob");
        let again = seal(&secret, &KdfParams::FLOOR, &h.salt, &h.nonce, &plaintext)
            .expect("what opened seals again");
        assert_eq!(again, data, "an opened blob differs from its re-seal");
    }
});
