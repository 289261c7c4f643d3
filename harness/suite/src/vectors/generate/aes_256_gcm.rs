//! `aes-256-gcm.json`: the 256-bit cases of the GCM specification, tampered copies of them,
//! then seeded messages with AADs of the v1 header sizes.

use backproof_format::primitives::aes256gcm_encrypt;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{Value, json};

use super::{GENERATED_NOTE, GenResult, Note, arr, bytes, fail, h, unhex};

const F: &str = "aes-256-gcm.json";
const SEED: u64 = 0x6C_4D;

const NOTES: [Note; 3] = [
    (
        "Published",
        "KNOWN_ANSWER",
        "The 256-bit test cases 13-16 of McGrew and Viega, The Galois/Counter Mode of Operation (GCM), also in NIST SP 800-38D validation material.",
    ),
    (
        "Tampered",
        "AUTH_BYPASS",
        "One bit of tag, ciphertext or AAD flipped: decryption must fail (class corrupted), never return plaintext.",
    ),
    GENERATED_NOTE,
];

pub(super) fn file() -> GenResult<Value> {
    let published = published();
    let tampered = tampered(&published);
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let generated = generated(&mut rng)?;
    Ok(super::file(
        "AES-256-GCM",
        "aes-256-gcm.schema.json",
        &NOTES,
        vec![
            ("AeadTest", published),
            ("AeadTest", tampered),
            ("AeadTest", generated),
        ],
    ))
}

fn published() -> Vec<Value> {
    let k15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    let iv15 = "cafebabefacedbaddecaf888";
    let p15 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    let c15 = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
    vec![
        json!({"comment": "McGrew-Viega GCM spec test case 13 (AES-256, empty)", "flags": ["Published"],
            "key": h(&[0; 32]), "iv": h(&[0; 12]), "aad": "", "msg": "", "ct": "",
            "tag": "530f8afbc74536b9a963b4f1c4cb738b", "result": "ok"}),
        json!({"comment": "McGrew-Viega GCM spec test case 14 (AES-256, one zero block)", "flags": ["Published"],
            "key": h(&[0; 32]), "iv": h(&[0; 12]), "aad": "", "msg": h(&[0; 16]),
            "ct": "cea7403d4d606b6e074ec5d3baf39d18", "tag": "d0d1c8a799996bf0265b98b5d48ab919", "result": "ok"}),
        json!({"comment": "McGrew-Viega GCM spec test case 15 (AES-256, 64 bytes)", "flags": ["Published"],
            "key": k15, "iv": iv15, "aad": "", "msg": p15, "ct": c15,
            "tag": "b094dac5d93471bdec1a502270e3cc6c", "result": "ok"}),
        json!({"comment": "McGrew-Viega GCM spec test case 16 (AES-256, 60 bytes, 20 bytes AAD)", "flags": ["Published"],
            "key": k15, "iv": iv15, "aad": "feedfacedeadbeeffeedfacedeadbeefabaddad2", "msg": &p15[..120], "ct": &c15[..120],
            "tag": "76fc6ece0f4e1768cddf8853bb2d551b", "result": "ok"}),
    ]
}

/// Copies of the published cases with one bit flipped: decryption must fail.
fn tampered(published: &[Value]) -> Vec<Value> {
    let flip = |hex_s: &str, at: usize| {
        let mut b = unhex(hex_s);
        b[at] ^= 0x01;
        h(&b)
    };
    let mut rows = Vec::new();
    for (base, what) in [
        (&published[3], "tag"),
        (&published[3], "ct"),
        (&published[3], "aad"),
        (&published[2], "tag"),
        (&published[0], "tag"),
        (&published[1], "ct"),
    ] {
        let mut t = base.clone();
        let field = t[what].as_str().unwrap_or_default().to_owned();
        let at = if what == "tag" { 15 } else { 0 };
        t[what] = json!(flip(&field, at));
        t["comment"] = json!(format!(
            "{} with one bit of the {what} flipped",
            base["comment"].as_str().unwrap_or_default()
        ));
        t["flags"] = json!(["Published", "Tampered"]);
        t["result"] = json!("corrupted");
        rows.push(t);
    }
    rows
}

fn generated(rng: &mut ChaCha20Rng) -> GenResult<Vec<Value>> {
    let mut rows = Vec::new();
    for (msg_len, aad_len) in [(0usize, 84usize), (1, 0), (17, 84), (1000, 116)] {
        let key: [u8; 32] = arr(rng);
        let iv: [u8; 12] = arr(rng);
        let aad = bytes(rng, aad_len);
        let msg = bytes(rng, msg_len);
        let (ct, tag) = aes256gcm_encrypt(&key, &iv, &aad, &msg).map_err(fail(F))?;
        rows.push(json!({
            "comment": format!("{msg_len}-byte message, {aad_len}-byte AAD (84 and 116 are v1 header sizes)"),
            "flags": ["Generated"],
            "key": h(&key), "iv": h(&iv), "aad": h(&aad), "msg": h(&msg), "ct": h(&ct), "tag": h(&tag),
            "result": "ok",
        }));
    }
    Ok(rows)
}
