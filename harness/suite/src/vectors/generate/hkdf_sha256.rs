//! `hkdf-sha256.json`: RFC 5869's SHA-256 cases, then the two expansions of the v1 key
//! schedule over seeded `ikm`.

use backproof_format::primitives::hkdf_sha256;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{Value, json};

use super::{GENERATED_NOTE, GenResult, Note, bytes, fail, h};

const F: &str = "hkdf-sha256.json";
const SEED: u64 = 0x4B_DF;

const NOTES: [Note; 3] = [
    (
        "Published",
        "KNOWN_ANSWER",
        "RFC 5869 Appendix A, the SHA-256 cases.",
    ),
    GENERATED_NOTE,
    (
        "KeySchedule",
        "KNOWN_ANSWER",
        "The two expansions of the v1 key schedule (enc_key and key_check).",
    ),
];

pub(super) fn file() -> GenResult<Value> {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let schedule = key_schedule(&mut rng)?;
    Ok(super::file(
        "HKDF-SHA-256",
        "hkdf-sha256.schema.json",
        &NOTES,
        vec![("HkdfTest", published()), ("HkdfTest", schedule)],
    ))
}

fn published() -> Vec<Value> {
    let range = |a: u8, b: u8| (a..=b).collect::<Vec<u8>>();
    vec![
        json!({"comment": "RFC 5869 A.1: basic test case with SHA-256", "flags": ["Published"],
            "ikm": h(&[0x0b; 22]), "salt": h(&range(0x00, 0x0c)), "info": h(&range(0xf0, 0xf9)), "size": 42,
            "okm": "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
            "result": "ok"}),
        json!({"comment": "RFC 5869 A.2: SHA-256 with longer inputs/outputs", "flags": ["Published"],
            "ikm": h(&range(0x00, 0x4f)), "salt": h(&range(0x60, 0xaf)), "info": h(&range(0xb0, 0xff)), "size": 82,
            "okm": "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
            "result": "ok"}),
        json!({"comment": "RFC 5869 A.3: SHA-256 with zero-length salt/info", "flags": ["Published"],
            "ikm": h(&[0x0b; 22]), "salt": "", "info": "", "size": 42,
            "okm": "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
            "result": "ok"}),
    ]
}

fn key_schedule(rng: &mut ChaCha20Rng) -> GenResult<Vec<Value>> {
    let mut rows = Vec::new();
    for i in 0..3 {
        let ikm = bytes(rng, 32);
        for info in ["backproof v1 aes-256-gcm key", "backproof v1 key check"] {
            let okm = hkdf_sha256(&ikm, &[], info.as_bytes(), 32).map_err(fail(F))?;
            rows.push(json!({
                "comment": format!("v1 key schedule: empty salt, info {info:?} (ikm #{i})"),
                "flags": ["Generated", "KeySchedule"],
                "ikm": h(&ikm), "salt": "", "info": h(info.as_bytes()), "size": 32,
                "okm": h(&okm), "result": "ok",
            }));
        }
    }
    Ok(rows)
}
