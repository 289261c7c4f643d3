//! `smart-recovery.json`: candidate lists tried in order against one passphrase blob and
//! one raw-key blob.

use backproof_format::{Secret, seal};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{Value, json};

use super::{FLOOR, GenResult, PASS, arr, bytes, fail, h};

const F: &str = "smart-recovery.json";
const SEED: u64 = 0x5EC0_7E41;

pub(super) fn file() -> GenResult<Value> {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let keys: Vec<[u8; 32]> = (0..4).map(|_| arr(&mut rng)).collect();
    let salt = bytes(&mut rng, 16);
    let nonce: [u8; 12] = arr(&mut rng);
    let pt = bytes(&mut rng, 24);
    let pass_blob = seal(&Secret::passphrase(PASS), &FLOOR, &salt, &nonce, &pt).map_err(fail(F))?;
    let key_blob = seal(&Secret::key(keys[2]), &FLOOR, &[], &nonce, &pt).map_err(fail(F))?;
    let kc = |id: &str, k: &[u8; 32]| json!({"id": id, "key": h(k)});
    let pc = |id: &str, p: &str| json!({"id": id, "passphrase": p});
    let ok = |comment: &str, blob: &[u8], candidates: Vec<Value>, matched: &str| json!({"comment": comment, "blob": h(blob), "candidates": candidates, "matched": matched, "plaintext": h(&pt), "result": "ok"});
    let none = |comment: &str, blob: &[u8], candidates: Vec<Value>| {
        let tried: Vec<Value> = candidates.iter().map(|c| c["id"].clone()).collect();
        json!({"comment": comment, "blob": h(blob), "candidates": candidates, "tried": tried, "result": "wrong_key"})
    };
    let tests = vec![
        ok(
            "raw-key blob, the third of four keys matches",
            &key_blob,
            vec![
                kc("k0", &keys[0]),
                kc("k1", &keys[1]),
                kc("k2", &keys[2]),
                kc("k3", &keys[3]),
            ],
            "k2",
        ),
        ok(
            "raw-key blob, the only candidate matches",
            &key_blob,
            vec![kc("imported", &keys[2])],
            "imported",
        ),
        ok(
            "passphrase blob, keys and passphrases mixed, the passphrase matches",
            &pass_blob,
            vec![
                kc("k0", &keys[0]),
                pc("old", "an older passphrase"),
                pc("current", PASS),
                kc("k2", &keys[2]),
            ],
            "current",
        ),
        ok(
            "passphrase blob, a near-miss passphrase first, then the right one",
            &pass_blob,
            vec![pc("typo", "correct horse battery stable"), pc("same", PASS)],
            "same",
        ),
        ok(
            "two candidates with the same secret: the first in order is reported",
            &key_blob,
            vec![kc("first", &keys[2]), kc("second", &keys[2])],
            "first",
        ),
        none(
            "raw-key blob, no candidate matches",
            &key_blob,
            vec![kc("k0", &keys[0]), kc("k1", &keys[1]), pc("p", PASS)],
        ),
        none(
            "passphrase blob, no candidate matches",
            &pass_blob,
            vec![pc("a", "correct horse battery stapler"), kc("k2", &keys[2])],
        ),
        none("no candidates at all", &key_blob, vec![]),
    ];
    Ok(super::file(
        "BACKPROOF-SMART-RECOVERY-V1",
        "smart-recovery.schema.json",
        &[],
        vec![("SmartRecoveryTest", tests)],
    ))
}
