//! The seeded generator. Published vectors are copied with their source named in the
//! test's comment; everything else is computed by backproof-format from inputs drawn from a
//! ChaCha20 stream with a fixed seed per file, and is confirmed independently by
//! ci/crosscheck (flag `Generated`).

use backproof_format::payload::{self, BackupPayload, Contact, IdentityKeyPair, ProfileReference};
use backproof_format::primitives::{aes256gcm_encrypt, hkdf_sha256};
use backproof_format::{KdfParams, MIN_HEADER_LEN, Secret, argon2id, derive_ikm, seal};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use super::VectorsError;
use super::json::to_canonical;

type GenResult<T> = Result<T, VectorsError>;

/// Every file as `(name, text, numberOfTests)`.
pub fn generate_all() -> GenResult<Vec<(&'static str, String, usize)>> {
    let files = [
        ("argon2id.json", argon2id_file()?),
        ("hkdf-sha256.json", hkdf_file()?),
        ("aes-256-gcm.json", aes_file()?),
        ("blob-v1.json", blob_file()?),
        ("smart-recovery.json", recovery_file()?),
    ];
    Ok(files
        .into_iter()
        .map(|(name, v)| {
            let n = v["numberOfTests"].as_u64().unwrap_or(0) as usize;
            (name, to_canonical(&v), n)
        })
        .collect())
}

fn fail(file: &'static str) -> impl Fn(backproof_format::Error) -> VectorsError {
    move |e| VectorsError::Generate {
        file,
        reason: e.to_string(),
    }
}

fn h(b: &[u8]) -> String {
    hex::encode(b)
}

fn unhex(s: &str) -> Vec<u8> {
    // Only applied to the literal published vectors below.
    hex::decode(s).expect("literal hex in the generator")
}

fn bytes(rng: &mut ChaCha20Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

fn arr<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut a = [0u8; N];
    rng.fill_bytes(&mut a);
    a
}

/// Numbers tests 1.. across groups and assembles the Wycheproof-style top level.
fn file(
    algorithm: &str,
    schema: &str,
    notes: &[(&str, &str, &str)],
    groups: Vec<(&str, Vec<Value>)>,
) -> Value {
    let mut id = 0u64;
    let mut test_groups = Vec::new();
    for (ty, tests) in groups {
        let tests: Vec<Value> = tests
            .into_iter()
            .map(|mut t| {
                id += 1;
                t["tcId"] = json!(id);
                if t.get("flags").is_none() {
                    t["flags"] = json!([]);
                }
                t
            })
            .collect();
        test_groups.push(json!({"type": ty, "tests": tests}));
    }
    let notes: Map<String, Value> = notes
        .iter()
        .map(|(flag, bug, desc)| {
            (
                (*flag).to_owned(),
                json!({"bugType": bug, "description": desc}),
            )
        })
        .collect();
    json!({
        "algorithm": algorithm,
        "schema": schema,
        "numberOfTests": id,
        "notes": notes,
        "testGroups": test_groups,
    })
}

const GENERATED_NOTE: (&str, &str, &str) = (
    "Generated",
    "KNOWN_ANSWER",
    "Computed by backproof-format from seeded inputs and confirmed by the independent Python crosscheck (ci/crosscheck), not copied from a publication.",
);

// ---------------------------------------------------------------- argon2id

fn argon2id_file() -> GenResult<Value> {
    const F: &str = "argon2id.json";
    let mut published = vec![json!({
        "comment": "RFC 9106 section 5.3 Argon2id test vector (secret and associated data)",
        "flags": ["Published"],
        "password": h(&[1; 32]), "salt": h(&[2; 16]), "secret": h(&[3; 8]), "ad": h(&[4; 12]),
        "m_cost": 32, "t_cost": 3, "p_cost": 4, "tag_len": 32,
        "tag": "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659",
        "result": "ok",
    })];
    // phc-winner-argon2 src/test.c, "Test Argon2id version number: 13":
    // (t, log2 m, p, password, salt, hex tag).
    let reference: [(u32, u32, u32, &str, &str, &str); 8] = [
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
    for (t, m, p, pw, salt, tag) in reference {
        published.push(json!({
            "comment": format!("phc-winner-argon2 src/test.c Argon2id v1.3: t={t}, m=2^{m}, p={p}, {pw:?}, {salt:?}"),
            "flags": ["Published"],
            "password": h(pw.as_bytes()), "salt": h(salt.as_bytes()), "secret": "", "ad": "",
            "m_cost": 1u32 << m, "t_cost": t, "p_cost": p, "tag_len": 32,
            "tag": tag, "result": "ok",
        }));
    }
    // The blob key schedule's own use: floor parameters, NFC passphrase bytes, 16–32 byte
    // salts, 32-byte output.
    let mut rng = ChaCha20Rng::seed_from_u64(0xA2_6011);
    let mut floor = Vec::new();
    for (i, pw) in [
        "correct horse battery staple",
        "Crème brûlée à la française",
        "🔑 emoji passphrase 🔐",
    ]
    .iter()
    .enumerate()
    {
        let salt = bytes(&mut rng, 16 + 8 * i);
        let ikm = derive_ikm(pw, &salt, &KdfParams::FLOOR).map_err(fail(F))?;
        floor.push(json!({
            "comment": format!("policy floor m=7168 t=5 p=1, UTF-8 passphrase {pw:?}, {}-byte salt", salt.len()),
            "flags": ["Generated", "PolicyFloor"],
            "password": h(pw.as_bytes()), "salt": h(&salt), "secret": "", "ad": "",
            "m_cost": 7168, "t_cost": 5, "p_cost": 1, "tag_len": 32,
            "tag": h(ikm.as_slice()), "result": "ok",
        }));
    }
    // Lanes and output lengths beyond the key schedule's, to catch lane-mixing bugs.
    for (m, t, p, len) in [(64u32, 2u32, 2u32, 16usize), (256, 1, 4, 64)] {
        let pw = bytes(&mut rng, 20);
        let salt = bytes(&mut rng, 16);
        let params = KdfParams {
            m_cost: m,
            t_cost: t,
            p_cost: p,
        };
        let tag = argon2id(&pw, &salt, &[], &[], &params, len).map_err(fail(F))?;
        floor.push(json!({
            "comment": format!("m={m} t={t} p={p}, {len}-byte output"),
            "flags": ["Generated"],
            "password": h(&pw), "salt": h(&salt), "secret": "", "ad": "",
            "m_cost": m, "t_cost": t, "p_cost": p, "tag_len": len,
            "tag": h(&tag), "result": "ok",
        }));
    }
    Ok(file(
        "ARGON2ID",
        "argon2id.schema.json",
        &[
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
        ],
        vec![("Argon2idTest", published), ("Argon2idTest", floor)],
    ))
}

// ---------------------------------------------------------------- hkdf

fn hkdf_file() -> GenResult<Value> {
    const F: &str = "hkdf-sha256.json";
    let range = |a: u8, b: u8| (a..=b).collect::<Vec<u8>>();
    let published = vec![
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
    ];
    let mut rng = ChaCha20Rng::seed_from_u64(0x4B_DF);
    let mut schedule = Vec::new();
    for i in 0..3 {
        let ikm = bytes(&mut rng, 32);
        for info in ["backproof v1 aes-256-gcm key", "backproof v1 key check"] {
            let okm = hkdf_sha256(&ikm, &[], info.as_bytes(), 32).map_err(fail(F))?;
            schedule.push(json!({
                "comment": format!("v1 key schedule: empty salt, info {info:?} (ikm #{i})"),
                "flags": ["Generated", "KeySchedule"],
                "ikm": h(&ikm), "salt": "", "info": h(info.as_bytes()), "size": 32,
                "okm": h(&okm), "result": "ok",
            }));
        }
    }
    Ok(file(
        "HKDF-SHA-256",
        "hkdf-sha256.schema.json",
        &[
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
        ],
        vec![("HkdfTest", published), ("HkdfTest", schedule)],
    ))
}

// ---------------------------------------------------------------- aes-256-gcm

fn aes_file() -> GenResult<Value> {
    const F: &str = "aes-256-gcm.json";
    let k15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    let iv15 = "cafebabefacedbaddecaf888";
    let p15 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    let c15 = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
    let published = vec![
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
    ];
    // Tampered copies of the published cases: decryption must fail.
    let mut tampered = Vec::new();
    let flip = |hex_s: &str, at: usize| {
        let mut b = unhex(hex_s);
        b[at] ^= 0x01;
        h(&b)
    };
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
        tampered.push(t);
    }
    let mut rng = ChaCha20Rng::seed_from_u64(0x6C_4D);
    let mut generated = Vec::new();
    for (msg_len, aad_len) in [(0usize, 84usize), (1, 0), (17, 84), (1000, 116)] {
        let key: [u8; 32] = arr(&mut rng);
        let iv: [u8; 12] = arr(&mut rng);
        let aad = bytes(&mut rng, aad_len);
        let msg = bytes(&mut rng, msg_len);
        let (ct, tag) = aes256gcm_encrypt(&key, &iv, &aad, &msg).map_err(fail(F))?;
        generated.push(json!({
            "comment": format!("{msg_len}-byte message, {aad_len}-byte AAD (84 and 116 are v1 header sizes)"),
            "flags": ["Generated"],
            "key": h(&key), "iv": h(&iv), "aad": h(&aad), "msg": h(&msg), "ct": h(&ct), "tag": h(&tag),
            "result": "ok",
        }));
    }
    Ok(file(
        "AES-256-GCM",
        "aes-256-gcm.schema.json",
        &[
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
        ],
        vec![
            ("AeadTest", published),
            ("AeadTest", tampered),
            ("AeadTest", generated),
        ],
    ))
}

// ---------------------------------------------------------------- blob-v1

const PASS: &str = "correct horse battery staple";
const FLOOR: KdfParams = KdfParams::FLOOR;

fn kdf_json(k: &KdfParams) -> Value {
    json!({"m_cost": k.m_cost, "t_cost": k.t_cost, "p_cost": k.p_cost})
}

fn pass_secret(p: &str) -> Value {
    json!({"passphrase": p})
}

fn key_secret(k: &[u8; 32]) -> Value {
    json!({"key": h(k)})
}

fn header_len(blob: &[u8]) -> usize {
    MIN_HEADER_LEN + usize::from(blob[15])
}

fn fix_digest(blob: &mut [u8]) {
    let end = header_len(blob) - 8;
    let d = Sha256::digest(&blob[..end]);
    blob[end..end + 8].copy_from_slice(&d[..8]);
}

/// An ok vector that pins sealing: sealing `pt` under these inputs gives `blob`.
// A vector row is all of its inputs; a struct for them would only restate the schema.
#[allow(clippy::too_many_arguments)]
fn pinned(
    comment: String,
    flags: &[&str],
    secret: Value,
    kdf: Option<&KdfParams>,
    salt: &[u8],
    nonce: &[u8; 12],
    pt: &[u8],
    blob: &[u8],
) -> Value {
    let mut t = json!({
        "comment": comment, "flags": flags, "secret": secret,
        "nonce": h(nonce), "salt": h(salt), "plaintext": h(pt), "blob": h(blob), "result": "ok",
    });
    if let Some(k) = kdf {
        t["kdf"] = kdf_json(k);
    }
    t
}

fn negative(
    comment: impl Into<String>,
    flags: &[&str],
    secret: Value,
    blob: &[u8],
    class: &str,
) -> Value {
    json!({"comment": comment.into(), "flags": flags, "secret": secret, "blob": h(blob), "result": class})
}

fn blob_file() -> GenResult<Value> {
    const F: &str = "blob-v1.json";
    let mut rng = ChaCha20Rng::seed_from_u64(0xB10B_0001);
    let seal_pass = |p: &str, salt: &[u8], nonce: &[u8; 12], pt: &[u8]| {
        seal(&Secret::passphrase(p), &FLOOR, salt, nonce, pt).map_err(fail(F))
    };
    let seal_key = |k: &[u8; 32], nonce: &[u8; 12], pt: &[u8]| {
        seal(&Secret::key(*k), &FLOOR, &[], nonce, pt).map_err(fail(F))
    };

    // Round trips.
    let mut round = Vec::new();
    for size in [0usize, 1, 31, 32, 4096] {
        let salt = bytes(&mut rng, 16);
        let nonce: [u8; 12] = arr(&mut rng);
        let pt = bytes(&mut rng, size);
        let blob = seal_pass(PASS, &salt, &nonce, &pt)?;
        round.push(pinned(
            format!("passphrase, {size}-byte payload"),
            &["RoundTrip"],
            pass_secret(PASS),
            Some(&FLOOR),
            &salt,
            &nonce,
            &pt,
            &blob,
        ));
    }
    let salt32 = bytes(&mut rng, 32);
    let nonce: [u8; 12] = arr(&mut rng);
    let pt = bytes(&mut rng, 100);
    let blob = seal_pass(PASS, &salt32, &nonce, &pt)?;
    round.push(pinned(
        "passphrase, 32-byte salt (the maximum)".into(),
        &["RoundTrip"],
        pass_secret(PASS),
        Some(&FLOOR),
        &salt32,
        &nonce,
        &pt,
        &blob,
    ));
    for size in [65_536usize, 2_000_000] {
        let key: [u8; 32] = arr(&mut rng);
        let nonce: [u8; 12] = arr(&mut rng);
        let pt = bytes(&mut rng, size);
        let blob = seal_key(&key, &nonce, &pt)?;
        round.push(pinned(
            format!("raw key, {size}-byte payload"),
            &["RoundTrip", "RawKey"],
            key_secret(&key),
            None,
            &[],
            &nonce,
            &pt,
            &blob,
        ));
    }

    // NFC / NFD: both spellings derive the same key, so they seal the same bytes.
    let mut unicode = Vec::new();
    for (nfc, what) in [
        ("Crème brûlée à la française", "Latin with accents"),
        (
            "비밀번호는 안전해야 합니다",
            "Hangul syllables vs conjoining jamo",
        ),
    ] {
        let nfd: String = nfc.nfd().collect();
        let nfd = nfd.as_str();
        if nfd == nfc {
            return Err(VectorsError::Generate {
                file: F,
                reason: format!("{what}: NFD equals NFC"),
            });
        }
        let salt = bytes(&mut rng, 16);
        let nonce: [u8; 12] = arr(&mut rng);
        let pt = bytes(&mut rng, 48);
        let blob = seal_pass(nfc, &salt, &nonce, &pt)?;
        unicode.push(pinned(
            format!("{what}: NFC passphrase"),
            &["Unicode"],
            pass_secret(nfc),
            Some(&FLOOR),
            &salt,
            &nonce,
            &pt,
            &blob,
        ));
        unicode.push(pinned(
            format!("{what}: the same passphrase in NFD seals and opens the same blob"),
            &["Unicode"],
            pass_secret(nfd),
            Some(&FLOOR),
            &salt,
            &nonce,
            &pt,
            &blob,
        ));
    }

    // Raw-key blobs.
    let mut raw = Vec::new();
    for size in [0usize, 17, 300] {
        let key: [u8; 32] = arr(&mut rng);
        let nonce: [u8; 12] = arr(&mut rng);
        let pt = bytes(&mut rng, size);
        let blob = seal_key(&key, &nonce, &pt)?;
        raw.push(pinned(
            format!("raw key, {size}-byte payload"),
            &["RawKey"],
            key_secret(&key),
            None,
            &[],
            &nonce,
            &pt,
            &blob,
        ));
    }

    // The base blobs that the negatives damage.
    let salt = bytes(&mut rng, 16);
    let nonce: [u8; 12] = arr(&mut rng);
    let pt = bytes(&mut rng, 40);
    let base = seal_pass(PASS, &salt, &nonce, &pt)?;
    let key_a: [u8; 32] = arr(&mut rng);
    let key_b: [u8; 32] = arr(&mut rng);
    let raw_base = seal_key(&key_a, &nonce, &pt)?;
    let ps = || pass_secret(PASS);
    let ka = || key_secret(&key_a);
    let hl = header_len(&base);
    let mut neg = Vec::new();
    let edit = |b: &[u8], f: &dyn Fn(&mut Vec<u8>), fix: bool| {
        let mut v = b.to_vec();
        f(&mut v);
        if fix {
            fix_digest(&mut v);
        }
        v
    };

    // malformed
    neg.push(negative(
        "empty input",
        &["Malformed"],
        ps(),
        &[],
        "malformed",
    ));
    neg.push(negative(
        "three bytes",
        &["Malformed"],
        ps(),
        &base[..3],
        "malformed",
    ));
    neg.push(negative(
        "magic \"BKPG\"",
        &["Malformed", "HeaderField"],
        ps(),
        &edit(&base, &|v| v[3] = b'G', true),
        "malformed",
    ));
    neg.push(negative(
        "magic \"bkpf\" (case matters)",
        &["Malformed", "HeaderField"],
        ps(),
        &edit(&base, &|v| v[..4].copy_from_slice(b"bkpf"), true),
        "malformed",
    ));
    for sl in [0u8, 15, 33, 255] {
        neg.push(negative(
            format!("salt_len {sl} for Argon2id"),
            &["Malformed", "HeaderField"],
            ps(),
            &edit(&base, &|v| v[15] = sl, false),
            "malformed",
        ));
    }
    neg.push(negative(
        "raw-key header with m_cost 1",
        &["Malformed", "HeaderField", "RawKey"],
        ka(),
        &edit(&raw_base, &|v| v[9] = 1, false),
        "malformed",
    ));
    neg.push(negative(
        "raw-key header with t_cost 1",
        &["Malformed", "HeaderField", "RawKey"],
        ka(),
        &edit(&raw_base, &|v| v[13] = 1, false),
        "malformed",
    ));
    neg.push(negative(
        "raw-key header with p_cost 1",
        &["Malformed", "HeaderField", "RawKey"],
        ka(),
        &edit(&raw_base, &|v| v[14] = 1, false),
        "malformed",
    ));
    neg.push(negative(
        "raw-key header with salt_len 16",
        &["Malformed", "HeaderField", "RawKey"],
        ka(),
        &edit(&raw_base, &|v| v[15] = 16, false),
        "malformed",
    ));

    // unsupported_version / unsupported_kdf (checked before the digest)
    for ver in [0u8, 2, 255] {
        neg.push(negative(
            format!("version {ver}"),
            &["UnsupportedVersion", "HeaderField"],
            ps(),
            &edit(&base, &|v| v[4] = ver, true),
            "unsupported_version",
        ));
    }
    neg.push(negative(
        "version 2 with a stale header digest: the version is reported",
        &["UnsupportedVersion", "Order"],
        ps(),
        &edit(&base, &|v| v[4] = 2, false),
        "unsupported_version",
    ));
    for id in [2u8, 0x13, 255] {
        neg.push(negative(
            format!("kdf_id {id}"),
            &["UnsupportedKdf", "HeaderField"],
            ps(),
            &edit(&base, &|v| v[5] = id, true),
            "unsupported_kdf",
        ));
    }

    // corrupted: the header digest
    let fields: [(&str, usize); 8] = [
        ("m_cost", 9),
        ("t_cost", 13),
        ("p_cost", 14),
        ("salt", 16),
        ("nonce", 16 + 16),
        ("key_check", 16 + 16 + 12),
        ("header_digest", hl - 8),
        ("header_digest (last byte)", hl - 1),
    ];
    for (name, at) in fields {
        neg.push(negative(
            format!("{name} changed, header digest not updated"),
            &["Corrupted", "HeaderField"],
            ps(),
            &edit(&base, &|v| v[at] ^= 0x01, false),
            "corrupted",
        ));
    }
    neg.push(negative(
        "out-of-policy m_cost and a stale digest: the digest is checked first",
        &["Corrupted", "Order"],
        ps(),
        &edit(
            &base,
            &|v| v[6..10].copy_from_slice(&1024u32.to_be_bytes()),
            false,
        ),
        "corrupted",
    ));
    // corrupted: the body
    neg.push(negative(
        "first ciphertext byte flipped",
        &["Corrupted"],
        ps(),
        &edit(&base, &|v| v[hl] ^= 0x01, false),
        "corrupted",
    ));
    neg.push(negative(
        "last ciphertext byte flipped",
        &["Corrupted"],
        ps(),
        &edit(
            &base,
            &|v| {
                let i = v.len() - 17;
                v[i] ^= 0x80
            },
            false,
        ),
        "corrupted",
    ));
    neg.push(negative(
        "tag byte flipped",
        &["Corrupted"],
        ps(),
        &edit(
            &base,
            &|v| {
                let i = v.len() - 1;
                v[i] ^= 0x01
            },
            false,
        ),
        "corrupted",
    ));
    neg.push(negative(
        "one trailing byte appended",
        &["Corrupted", "Trailing"],
        ps(),
        &edit(&base, &|v| v.push(0), false),
        "corrupted",
    ));
    neg.push(negative(
        "a second copy of the tag appended",
        &["Corrupted", "Trailing"],
        ka(),
        &edit(
            &raw_base,
            &|v| {
                let t = v[v.len() - 16..].to_vec();
                v.extend_from_slice(&t)
            },
            false,
        ),
        "corrupted",
    ));
    neg.push(negative(
        "nonce changed with a valid digest: key check passes, authentication fails",
        &["Corrupted", "HeaderField"],
        ps(),
        &edit(&base, &|v| v[32] ^= 0x01, true),
        "corrupted",
    ));
    neg.push(negative(
        "raw key: tag byte flipped",
        &["Corrupted", "RawKey"],
        ka(),
        &edit(
            &raw_base,
            &|v| {
                let i = v.len() - 8;
                v[i] ^= 0x20
            },
            false,
        ),
        "corrupted",
    ));

    // The two-key case: key_check of key A, ciphertext authenticating under key B.
    let under_b = seal_key(&key_b, &nonce, &pt)?;
    let mut two_key = under_b.clone();
    two_key[28..60].copy_from_slice(&raw_base[28..60]);
    fix_digest(&mut two_key);
    neg.push(negative(
        "two keys: key_check of key A, ciphertext under key B, opened with A",
        &["Corrupted", "KeyCommitment"],
        ka(),
        &two_key,
        "corrupted",
    ));
    neg.push(negative(
        "two keys: key_check of key A, ciphertext under key B, opened with B",
        &["WrongKey", "KeyCommitment"],
        key_secret(&key_b),
        &two_key,
        "wrong_key",
    ));

    // kdf_params_rejected: valid digest, parameters outside the default policy
    let params_cases: [(&str, u32, u32, u8); 7] = [
        ("m_cost 4096 KiB, below the 7168 floor", 4096, 5, 1),
        (
            "m_cost 2^31 KiB, above the 1 GiB bound (must not be attempted)",
            1 << 31,
            5,
            1,
        ),
        ("t_cost 0", 7168, 0, 1),
        ("t_cost 2^32-1 (must not be attempted)", 7168, u32::MAX, 1),
        ("t_cost 17", 7168, 17, 1),
        ("p_cost 0", 7168, 5, 0),
        ("p_cost 17", 65536, 5, 17),
    ];
    for (what, m, t, p) in params_cases {
        neg.push(negative(
            what,
            &["KdfParamsRejected", "HeaderField"],
            ps(),
            &edit(
                &base,
                &|v| {
                    v[6..10].copy_from_slice(&m.to_be_bytes());
                    v[10..14].copy_from_slice(&t.to_be_bytes());
                    v[14] = p;
                },
                true,
            ),
            "kdf_params_rejected",
        ));
    }
    neg.push(negative(
        "m_cost*t_cost 28672, below the 35840 floor",
        &["KdfParamsRejected"],
        ps(),
        &edit(
            &base,
            &|v| v[10..14].copy_from_slice(&4u32.to_be_bytes()),
            true,
        ),
        "kdf_params_rejected",
    ));
    neg.push(negative(
        "out-of-policy parameters and a wrong passphrase: the policy answers first",
        &["KdfParamsRejected", "Order"],
        pass_secret("not the passphrase at all"),
        &edit(
            &base,
            &|v| v[6..10].copy_from_slice(&4096u32.to_be_bytes()),
            true,
        ),
        "kdf_params_rejected",
    ));

    // wrong_key
    neg.push(negative(
        "wrong passphrase (one letter appended)",
        &["WrongKey"],
        pass_secret("correct horse battery staples"),
        &base,
        "wrong_key",
    ));
    neg.push(negative(
        "passphrase shorter than 13 characters: opening does not enforce the sealing minimum",
        &["WrongKey"],
        pass_secret("short"),
        &base,
        "wrong_key",
    ));
    neg.push(negative(
        "raw key for a passphrase blob",
        &["WrongKey"],
        ka(),
        &base,
        "wrong_key",
    ));
    neg.push(negative(
        "passphrase for a raw-key blob",
        &["WrongKey", "RawKey"],
        ps(),
        &raw_base,
        "wrong_key",
    ));
    neg.push(negative(
        "wrong raw key",
        &["WrongKey", "RawKey"],
        key_secret(&key_b),
        &raw_base,
        "wrong_key",
    ));
    for (name, at) in [("salt", 20usize), ("key_check", 50)] {
        neg.push(negative(
            format!("{name} changed with a valid digest"),
            &["WrongKey", "HeaderField"],
            ps(),
            &edit(&base, &|v| v[at] ^= 0x01, true),
            "wrong_key",
        ));
    }
    for (name, m, t, p) in [
        ("m_cost 8192", 8192u32, 5u32, 1u8),
        ("t_cost 6", 7168, 6, 1),
        ("p_cost 2", 7168, 5, 2),
    ] {
        neg.push(negative(
            format!("{name} (in policy) with a valid digest: derives another key"),
            &["WrongKey", "HeaderField"],
            ps(),
            &edit(
                &base,
                &|v| {
                    v[6..10].copy_from_slice(&m.to_be_bytes());
                    v[10..14].copy_from_slice(&t.to_be_bytes());
                    v[14] = p;
                },
                true,
            ),
            "wrong_key",
        ));
    }

    // Truncation at every field boundary.
    let mut trunc = Vec::new();
    let bounds = [
        ("inside magic", 2usize),
        ("after magic", 4),
        ("after version", 5),
        ("after kdf_id", 6),
        ("after m_cost", 10),
        ("after t_cost", 14),
        ("after p_cost", 15),
        ("after salt_len", 16),
        ("after salt", 32),
        ("after nonce", 44),
        ("after key_check", 76),
        ("after header_digest", hl),
        ("15 bytes after the header", hl + 15),
    ];
    for (what, len) in bounds {
        trunc.push(negative(
            format!("passphrase blob truncated {what} ({len} bytes)"),
            &["Truncated"],
            ps(),
            &base[..len],
            "malformed",
        ));
    }
    trunc.push(negative(
        "passphrase blob without its last byte",
        &["Truncated"],
        ps(),
        &base[..base.len() - 1],
        "corrupted",
    ));
    trunc.push(negative(
        "passphrase blob without its ciphertext (header + tag only)",
        &["Truncated"],
        ps(),
        &[&base[..hl], &base[base.len() - 16..]].concat(),
        "corrupted",
    ));
    for (what, len) in [
        ("after nonce", 28usize),
        ("after key_check", 60),
        ("after header_digest", 68),
        ("15 bytes after the header", 83),
    ] {
        trunc.push(negative(
            format!("raw-key blob truncated {what} ({len} bytes)"),
            &["Truncated", "RawKey"],
            ka(),
            &raw_base[..len],
            "malformed",
        ));
    }
    trunc.push(negative(
        "raw-key blob without its last byte",
        &["Truncated", "RawKey"],
        ka(),
        &raw_base[..raw_base.len() - 1],
        "corrupted",
    ));

    // Payload decoding (op open_payload).
    let mut payloads = Vec::new();
    let good = BackupPayload {
        schema: 1,
        identity: Some(IdentityKeyPair {
            public_key: bytes(&mut rng, 32),
            private_key: bytes(&mut rng, 32),
        }),
        contacts: vec![
            Contact {
                uuid: "0b7c2f7e-1f0e-4a43-9a38-0c1f6b0f3a01".into(),
                username: "alice".into(),
            },
            Contact {
                uuid: "5d1e5a3c-8e0b-4f6e-b2b4-7f2b1d9c4e02".into(),
                username: "bob".into(),
            },
        ],
        profile: Some(ProfileReference {
            attachment_id: "att-0001".into(),
            decryption_key: bytes(&mut rng, 32),
        }),
    };
    let good_pt = payload::encode(&good);
    let nonce: [u8; 12] = arr(&mut rng);
    let blob = seal_key(&key_a, &nonce, &good_pt)?;
    let mut t = pinned(
        "BackupPayload with identity, two contacts and a profile".into(),
        &["Payload", "RawKey"],
        ka(),
        None,
        &[],
        &nonce,
        &good_pt,
        &blob,
    );
    t["op"] = json!("open_payload");
    payloads.push(t);
    let empty_blob = seal_key(&key_a, &nonce, &[])?;
    let mut t = pinned(
        "an empty payload decodes (all fields default)".into(),
        &["Payload", "RawKey"],
        ka(),
        None,
        &[],
        &nonce,
        &[],
        &empty_blob,
    );
    t["op"] = json!("open_payload");
    payloads.push(t);
    for (what, bad) in [
        ("field 1 with wire type 7", vec![0x0f, 0x01]),
        (
            "contacts entry longer than the input",
            vec![0x1a, 0x10, 0x0a, 0x01],
        ),
        (
            "contact uuid that is not UTF-8",
            vec![0x1a, 0x04, 0x0a, 0x02, 0xc3, 0x28],
        ),
    ] {
        let blob = seal_key(&key_a, &nonce, &bad)?;
        let mut t = negative(
            format!("payload: {what}"),
            &["PayloadInvalid", "RawKey"],
            ka(),
            &blob,
            "payload_invalid",
        );
        t["op"] = json!("open_payload");
        payloads.push(t);
    }

    // Sealing refusals (op seal).
    let mut seals = Vec::new();
    let seal_neg = |comment: &str, p: &str, kdf: &KdfParams, class: &str| {
        json!({"op": "seal", "comment": comment, "flags": ["Seal"], "secret": pass_secret(p), "kdf": kdf_json(kdf),
               "salt": h(&[0x5a; 16]), "nonce": h(&[0x11; 12]), "plaintext": h(b"payload"), "result": class})
    };
    seals.push(seal_neg(
        "12-character passphrase",
        "twelve chars",
        &FLOOR,
        "passphrase_too_short",
    ));
    seals.push(seal_neg(
        "13 code points in NFD, 12 after NFC",
        "cafe\u{301}12345678",
        &FLOOR,
        "passphrase_too_short",
    ));
    seals.push(seal_neg(
        "empty passphrase",
        "",
        &FLOOR,
        "passphrase_too_short",
    ));
    seals.push(seal_neg(
        "m_cost 4096 below the policy floor",
        PASS,
        &KdfParams {
            m_cost: 4096,
            t_cost: 5,
            p_cost: 1,
        },
        "kdf_params_rejected",
    ));
    seals.push(seal_neg(
        "m_cost*t_cost below 35840",
        PASS,
        &KdfParams {
            m_cost: 7168,
            t_cost: 4,
            p_cost: 1,
        },
        "kdf_params_rejected",
    ));
    seals.push(seal_neg(
        "p_cost 17",
        PASS,
        &KdfParams {
            m_cost: 65536,
            t_cost: 1,
            p_cost: 17,
        },
        "kdf_params_rejected",
    ));
    let salt13 = bytes(&mut rng, 16);
    let nonce13: [u8; 12] = arr(&mut rng);
    let pass13 = "cafe\u{301}123456789";
    let blob13 = seal_pass(pass13, &salt13, &nonce13, b"x")?;
    seals.push(pinned(
        "exactly 13 scalar values after NFC (14 code points before) seals".into(),
        &["Seal", "Unicode"],
        pass_secret(pass13),
        Some(&FLOOR),
        &salt13,
        &nonce13,
        b"x",
        &blob13,
    ));

    Ok(file(
        "BACKPROOF-BLOB-V1",
        "blob-v1.schema.json",
        &[
            (
                "RoundTrip",
                "FUNCTIONALITY",
                "Sealing with the given kdf, salt and nonce gives the blob byte for byte; opening gives the plaintext.",
            ),
            (
                "RawKey",
                "FUNCTIONALITY",
                "kdf_id 0: a raw 256-bit key, no KDF; m/t/p and salt_len are 0.",
            ),
            (
                "Unicode",
                "FUNCTIONALITY",
                "Passphrases are NFC-normalized before Argon2id: composed and decomposed spellings are the same passphrase.",
            ),
            (
                "Malformed",
                "MALFORMED_INPUT",
                "Structure is broken: too short, bad magic, salt_len out of range, raw header with parameters, missing tag.",
            ),
            (
                "UnsupportedVersion",
                "MALFORMED_INPUT",
                "version byte other than 1.",
            ),
            (
                "UnsupportedKdf",
                "MALFORMED_INPUT",
                "kdf_id other than 0 or 1.",
            ),
            (
                "HeaderField",
                "MODIFIED_HEADER",
                "One header field changed; the comment says whether header_digest was recomputed.",
            ),
            (
                "Corrupted",
                "MODIFIED_CIPHERTEXT",
                "Header digest or GCM authentication fails: the data changed, the key is right.",
            ),
            (
                "Order",
                "CHECK_ORDER",
                "Two faults at once; the expected class follows the open order of docs/FORMAT.md.",
            ),
            (
                "Trailing",
                "MODIFIED_CIPHERTEXT",
                "Bytes appended after the tag are part of the GCM input and break authentication.",
            ),
            (
                "KeyCommitment",
                "KEY_COMMITMENT",
                "key_check of one key over a ciphertext of another: key_check makes the blob key-committing.",
            ),
            (
                "KdfParamsRejected",
                "DOS",
                "Parameters outside the reader's policy, with a valid digest: refused before any derivation.",
            ),
            (
                "WrongKey",
                "WRONG_SECRET",
                "The key check fails: the secret is not the blob's.",
            ),
            (
                "Truncated",
                "TRUNCATION",
                "The blob cut at a field boundary.",
            ),
            (
                "Payload",
                "FUNCTIONALITY",
                "op open_payload: open, then decode backproof.v1.BackupPayload.",
            ),
            (
                "PayloadInvalid",
                "MALFORMED_PAYLOAD",
                "Decrypts, but the plaintext is not a BackupPayload.",
            ),
            (
                "Seal",
                "FUNCTIONALITY",
                "op seal: the writer's refusals (passphrase_too_short, kdf_params_rejected) and its acceptance at the boundary.",
            ),
        ],
        vec![
            ("BlobRoundTrip", round),
            ("BlobUnicode", unicode),
            ("BlobRawKey", raw),
            ("BlobNegative", neg),
            ("BlobTruncation", trunc),
            ("BlobPayload", payloads),
            ("BlobSeal", seals),
        ],
    ))
}

// ---------------------------------------------------------------- smart recovery

fn recovery_file() -> GenResult<Value> {
    const F: &str = "smart-recovery.json";
    let mut rng = ChaCha20Rng::seed_from_u64(0x5EC0_7E41);
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
    Ok(file(
        "BACKPROOF-SMART-RECOVERY-V1",
        "smart-recovery.schema.json",
        &[],
        vec![("SmartRecoveryTest", tests)],
    ))
}
