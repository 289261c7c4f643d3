//! `argon2id.json`: the RFC 9106 vector and the reference implementation's Argon2id cases,
//! then seeded cases at the policy floor and with other lane counts and output lengths.

use backproof_format::{KdfParams, argon2id, derive_ikm};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{Value, json};

use super::{GENERATED_NOTE, GenResult, Note, bytes, fail, h};

const F: &str = "argon2id.json";
const SEED: u64 = 0xA2_6011;

const NOTES: [Note; 3] = [
    (
        "Published",
        "KNOWN_ANSWER",
        "Copied from a publication named in the comment (RFC 9106, or the reference implementation's test suite).",
    ),
    GENERATED_NOTE,
    (
        "PolicyFloor",
        "KNOWN_ANSWER",
        "The parameters every passphrase blob vector uses: m=7168 KiB, t=5, p=1.",
    ),
];

/// phc-winner-argon2 src/test.c, "Test Argon2id version number: 13":
/// (t, log2 m, p, password, salt, hex tag).
const PHC_REFERENCE: [(u32, u32, u32, &str, &str, &str); 8] = [
    (
        2,
        16,
        1,
        "password",
        "somesalt",
        "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7",
    ),
    (
        2,
        18,
        1,
        "password",
        "somesalt",
        "78fe1ec91fb3aa5657d72e710854e4c3d9b9198c742f9616c2f085bed95b2e8c",
    ),
    (
        2,
        8,
        1,
        "password",
        "somesalt",
        "9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe",
    ),
    (
        2,
        8,
        2,
        "password",
        "somesalt",
        "6d093c501fd5999645e0ea3bf620d7b8be7fd2db59c20d9fff9539da2bf57037",
    ),
    (
        1,
        16,
        1,
        "password",
        "somesalt",
        "f6a5adc1ba723dddef9b5ac1d464e180fcd9dffc9d1cbf76cca2fed795d9ca98",
    ),
    (
        4,
        16,
        1,
        "password",
        "somesalt",
        "9025d48e68ef7395cca9079da4c4ec3affb3c8911fe4f86d1a2520856f63172c",
    ),
    (
        2,
        16,
        1,
        "differentpassword",
        "somesalt",
        "0b84d652cf6b0c4beaef0dfe278ba6a80df6696281d7e0d2891b817d8c458fde",
    ),
    (
        2,
        16,
        1,
        "password",
        "diffsalt",
        "bdf32b05ccc42eb15d58fd19b1f856b113da1e9a5874fdcc544308565aa8141c",
    ),
];

pub(super) fn file() -> GenResult<Value> {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let generated = generated(&mut rng)?;
    Ok(super::file(
        "ARGON2ID",
        "argon2id.schema.json",
        &NOTES,
        vec![("Argon2idTest", published()), ("Argon2idTest", generated)],
    ))
}

fn published() -> Vec<Value> {
    let mut published = vec![json!({
        "comment": "RFC 9106 section 5.3 Argon2id test vector (secret and associated data)",
        "flags": ["Published"],
        "password": h(&[1; 32]), "salt": h(&[2; 16]), "secret": h(&[3; 8]), "ad": h(&[4; 12]),
        "m_cost": 32, "t_cost": 3, "p_cost": 4, "tag_len": 32,
        "tag": "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659",
        "result": "ok",
    })];
    for (t, m, p, pw, salt, tag) in PHC_REFERENCE {
        published.push(json!({
            "comment": format!("phc-winner-argon2 src/test.c Argon2id v1.3: t={t}, m=2^{m}, p={p}, {pw:?}, {salt:?}"),
            "flags": ["Published"],
            "password": h(pw.as_bytes()), "salt": h(salt.as_bytes()), "secret": "", "ad": "",
            "m_cost": 1u32 << m, "t_cost": t, "p_cost": p, "tag_len": 32,
            "tag": tag, "result": "ok",
        }));
    }
    published
}

fn generated(rng: &mut ChaCha20Rng) -> GenResult<Vec<Value>> {
    // The blob key schedule's own use: floor parameters, NFC passphrase bytes, 16–32 byte
    // salts, 32-byte output.
    let mut rows = Vec::new();
    for (i, pw) in [
        "correct horse battery staple",
        "Crème brûlée à la française",
        "🔑 emoji passphrase 🔐",
    ]
    .iter()
    .enumerate()
    {
        let salt = bytes(rng, 16 + 8 * i);
        let ikm = derive_ikm(pw, &salt, &KdfParams::FLOOR).map_err(fail(F))?;
        rows.push(json!({
            "comment": format!("policy floor m=7168 t=5 p=1, UTF-8 passphrase {pw:?}, {}-byte salt", salt.len()),
            "flags": ["Generated", "PolicyFloor"],
            "password": h(pw.as_bytes()), "salt": h(&salt), "secret": "", "ad": "",
            "m_cost": 7168, "t_cost": 5, "p_cost": 1, "tag_len": 32,
            "tag": h(ikm.as_slice()), "result": "ok",
        }));
    }
    // Lanes and output lengths beyond the key schedule's, to catch lane-mixing bugs.
    for (m, t, p, len) in [(64u32, 2u32, 2u32, 16usize), (256, 1, 4, 64)] {
        let pw = bytes(rng, 20);
        let salt = bytes(rng, 16);
        let params = KdfParams {
            m_cost: m,
            t_cost: t,
            p_cost: p,
        };
        let tag = argon2id(&pw, &salt, &[], &[], &params, len).map_err(fail(F))?;
        rows.push(json!({
            "comment": format!("m={m} t={t} p={p}, {len}-byte output"),
            "flags": ["Generated"],
            "password": h(&pw), "salt": h(&salt), "secret": "", "ad": "",
            "m_cost": m, "t_cost": t, "p_cost": p, "tag_len": len,
            "tag": h(&tag), "result": "ok",
        }));
    }
    Ok(rows)
}
