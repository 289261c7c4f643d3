//! One blob per step of the open order (docs/FORMAT.md), each crafted to fail at exactly
//! that step, plus the cases where two faults meet and the order decides the class.

use backproof_format::payload::{self, BackupPayload, Contact};
use backproof_format::{
    ErrorClass, FIXED_PREFIX_LEN, KdfParams, MIN_HEADER_LEN, Policy, Secret, check_key, open,
    open_payload, parse_header, seal,
};
use sha2::{Digest, Sha256};

const PASS: &str = "correct horse battery staple";
const SALT: [u8; 16] = [0x5a; 16];
const NONCE: [u8; 12] = [0x11; 12];
const KEY_A: [u8; 32] = [0xa1; 32];
const KEY_B: [u8; 32] = [0xb2; 32];

fn pass_blob(plaintext: &[u8]) -> Vec<u8> {
    seal(
        &Secret::passphrase(PASS),
        &KdfParams::FLOOR,
        &SALT,
        &NONCE,
        plaintext,
    )
    .unwrap()
}

fn key_blob(key: [u8; 32], plaintext: &[u8]) -> Vec<u8> {
    seal(&Secret::key(key), &KdfParams::FLOOR, &[], &NONCE, plaintext).unwrap()
}

fn header_len(blob: &[u8]) -> usize {
    MIN_HEADER_LEN + usize::from(blob[15])
}

/// Recompute header_digest after editing header bytes, so that a later step is reached.
fn fix_digest(blob: &mut [u8]) {
    let end = header_len(blob) - 8;
    let d = Sha256::digest(&blob[..end]);
    blob[end..end + 8].copy_from_slice(&d[..8]);
}

fn class_of(secret: &Secret, blob: &[u8]) -> ErrorClass {
    open(secret, blob, &Policy::default())
        .expect_err("must not open")
        .class()
}

#[test]
fn well_formed_blobs_open() {
    let blob = pass_blob(b"hello");
    let pt = open(&Secret::passphrase(PASS), &blob, &Policy::default()).unwrap();
    assert_eq!(pt.as_slice(), b"hello");
    let raw = key_blob(KEY_A, b"raw");
    assert_eq!(raw.len(), MIN_HEADER_LEN + 3 + 16);
    assert_eq!(
        &raw[5..16],
        &[0u8; 11],
        "raw header: kdf_id 0, zero params, salt_len 0"
    );
    let pt = open(&Secret::key(KEY_A), &raw, &Policy::default()).unwrap();
    assert_eq!(pt.as_slice(), b"raw");
    let hex_key = Secret::key_from_hex(&hex::encode(KEY_A).to_uppercase()).unwrap();
    assert_eq!(
        open(&hex_key, &raw, &Policy::default()).unwrap().as_slice(),
        b"raw"
    );
}

#[test]
fn step1_short_or_bad_magic_is_malformed() {
    let blob = key_blob(KEY_A, b"x");
    let key = Secret::key(KEY_A);
    for len in [0, 3, 4, MIN_HEADER_LEN - 1] {
        assert_eq!(
            class_of(&key, &blob[..len]),
            ErrorClass::Malformed,
            "len {len}"
        );
    }
    let mut bad = blob.clone();
    bad[0] = b'X';
    fix_digest(&mut bad);
    assert_eq!(class_of(&key, &bad), ErrorClass::Malformed);
    // Bad magic and bad version: magic is checked first.
    bad[4] = 9;
    assert_eq!(class_of(&key, &bad), ErrorClass::Malformed);
}

#[test]
fn step2_version_then_kdf_id() {
    let blob = pass_blob(b"x");
    let secret = Secret::passphrase(PASS);
    let mut v2 = blob.clone();
    v2[4] = 2;
    assert_eq!(
        class_of(&secret, &v2),
        ErrorClass::UnsupportedVersion,
        "before the digest"
    );
    fix_digest(&mut v2);
    assert_eq!(class_of(&secret, &v2), ErrorClass::UnsupportedVersion);
    let mut kdf = blob.clone();
    kdf[5] = 2;
    assert_eq!(class_of(&secret, &kdf), ErrorClass::UnsupportedKdf);
    // Both wrong: the version decides.
    kdf[4] = 0;
    assert_eq!(class_of(&secret, &kdf), ErrorClass::UnsupportedVersion);
}

#[test]
fn step3_lengths_are_malformed() {
    let secret = Secret::passphrase(PASS);
    let blob = pass_blob(b"x");
    for salt_len in [0u8, 15, 33, 255] {
        let mut b = blob.clone();
        b[15] = salt_len;
        assert_eq!(
            class_of(&secret, &b),
            ErrorClass::Malformed,
            "salt_len {salt_len}"
        );
    }
    // Raw-key blobs: every parameter byte and salt_len must be zero.
    let raw = key_blob(KEY_A, b"x");
    for i in 6..FIXED_PREFIX_LEN {
        let mut b = raw.clone();
        b[i] = 1;
        assert_eq!(
            class_of(&Secret::key(KEY_A), &b),
            ErrorClass::Malformed,
            "byte {i}"
        );
    }
    // Header complete but the tag is cut short.
    let h = header_len(&blob);
    assert_eq!(class_of(&secret, &blob[..h + 15]), ErrorClass::Malformed);
    // Empty plaintext: exactly header + tag is well-formed.
    let empty = pass_blob(b"");
    assert_eq!(empty.len(), h + 16);
    assert!(
        open(&secret, &empty, &Policy::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn step4_digest_mismatch_is_corrupted() {
    let blob = pass_blob(b"x");
    let secret = Secret::passphrase(PASS);
    let h = header_len(&blob);
    // Any byte of salt, nonce, key_check or the digest itself.
    for i in FIXED_PREFIX_LEN..h {
        let mut b = blob.clone();
        b[i] ^= 0x01;
        assert_eq!(class_of(&secret, &b), ErrorClass::Corrupted, "byte {i}");
        assert_eq!(parse_header(&b).unwrap_err().class(), ErrorClass::Corrupted);
    }
    // Bad digest AND out-of-policy parameters: the digest decides (step 4 before 5).
    let mut b = blob.clone();
    b[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(class_of(&secret, &b), ErrorClass::Corrupted);
}

#[test]
fn step5_policy_before_any_derivation() {
    let secret = Secret::passphrase(PASS);
    let blob = pass_blob(b"x");
    // t_cost = 2^32-1 with a valid digest: deriving would never finish, so returning at
    // all shows the policy was checked first.
    let mut b = blob.clone();
    b[10..14].copy_from_slice(&u32::MAX.to_be_bytes());
    fix_digest(&mut b);
    assert_eq!(class_of(&secret, &b), ErrorClass::KdfParamsRejected);
    // 4 GiB of memory: same argument.
    let mut b = blob.clone();
    b[6..10].copy_from_slice(&(4u32 << 20).to_be_bytes());
    fix_digest(&mut b);
    assert_eq!(class_of(&secret, &b), ErrorClass::KdfParamsRejected);
    // p_cost 0 would make Argon2 itself fail; the policy answers first.
    let mut b = blob.clone();
    b[14] = 0;
    fix_digest(&mut b);
    assert_eq!(class_of(&secret, &b), ErrorClass::KdfParamsRejected);
    // A stricter reader refuses what the default accepts, even with a wrong passphrase.
    let strict = Policy {
        min_m_cost: 65536,
        ..Policy::default()
    };
    let err = open(
        &Secret::passphrase("not the passphrase at all"),
        &blob,
        &strict,
    )
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::KdfParamsRejected);
    let header = parse_header(&blob).unwrap();
    assert_eq!(
        check_key(&header, &secret, &strict).unwrap_err().class(),
        ErrorClass::KdfParamsRejected
    );
}

#[test]
fn step6_wrong_secret_is_wrong_key() {
    let blob = pass_blob(b"x");
    let header = parse_header(&blob).unwrap();
    assert_eq!(
        class_of(&Secret::passphrase("correct horse battery stapler"), &blob),
        ErrorClass::WrongKey
    );
    // Opening never applies the minimum length.
    assert_eq!(
        class_of(&Secret::passphrase("short"), &blob),
        ErrorClass::WrongKey
    );
    assert_eq!(class_of(&Secret::key(KEY_A), &blob), ErrorClass::WrongKey);
    assert!(check_key(&header, &Secret::passphrase(PASS), &Policy::default()).is_ok());
    let raw = key_blob(KEY_A, b"x");
    assert_eq!(class_of(&Secret::key(KEY_B), &raw), ErrorClass::WrongKey);
    assert_eq!(
        class_of(&Secret::passphrase(PASS), &raw),
        ErrorClass::WrongKey
    );
}

#[test]
fn step7_body_damage_is_corrupted_and_the_two_key_case() {
    let blob = key_blob(KEY_A, b"some plaintext");
    let h = header_len(&blob);
    for i in h..blob.len() {
        let mut b = blob.clone();
        b[i] ^= 0x80;
        assert_eq!(
            class_of(&Secret::key(KEY_A), &b),
            ErrorClass::Corrupted,
            "byte {i}"
        );
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert_eq!(
        class_of(&Secret::key(KEY_A), &longer),
        ErrorClass::Corrupted,
        "trailing byte"
    );

    // key_check of key A over a ciphertext that authenticates under key B: A passes the
    // key check and fails authentication; B fails the key check. Neither opens.
    let under_b = key_blob(KEY_B, b"some plaintext");
    let mut two_key = under_b.clone();
    two_key[28..60].copy_from_slice(&blob[28..60]);
    fix_digest(&mut two_key);
    assert_eq!(
        class_of(&Secret::key(KEY_A), &two_key),
        ErrorClass::Corrupted
    );
    assert_eq!(
        class_of(&Secret::key(KEY_B), &two_key),
        ErrorClass::WrongKey
    );
}

#[test]
fn step8_undecodable_payload_is_payload_invalid() {
    let good = BackupPayload {
        schema: 1,
        contacts: vec![Contact {
            uuid: "u".into(),
            username: "n".into(),
        }],
        ..Default::default()
    };
    let blob = key_blob(KEY_A, &payload::encode(&good));
    assert_eq!(
        open_payload(&Secret::key(KEY_A), &blob, &Policy::default()).unwrap(),
        good
    );
    let bad = key_blob(KEY_A, &[0xff, 0xff, 0xff, 0xff]);
    assert!(open(&Secret::key(KEY_A), &bad, &Policy::default()).is_ok());
    let err = open_payload(&Secret::key(KEY_A), &bad, &Policy::default()).unwrap_err();
    assert_eq!(err.class(), ErrorClass::PayloadInvalid);
}

#[test]
fn seal_refuses_short_passphrases_and_weak_params() {
    let seal_with = |p: &str, kdf: KdfParams, salt: &[u8]| {
        seal(&Secret::passphrase(p), &kdf, salt, &NONCE, b"x")
            .map(|_| ())
            .map_err(|e| e.class())
    };
    assert_eq!(
        seal_with("twelve chars", KdfParams::FLOOR, &SALT),
        Err(ErrorClass::PassphraseTooShort)
    );
    assert_eq!(seal_with("thirteen char", KdfParams::FLOOR, &SALT), Ok(()));
    // Counted after NFC: e + combining acute is one scalar value there.
    assert_eq!(
        seal_with("cafe\u{301}123456789", KdfParams::FLOOR, &SALT),
        Ok(())
    );
    assert_eq!(
        seal_with("cafe\u{301}12345678", KdfParams::FLOOR, &SALT),
        Err(ErrorClass::PassphraseTooShort)
    );
    let weak = KdfParams {
        m_cost: 4096,
        t_cost: 3,
        p_cost: 1,
    };
    assert_eq!(
        seal_with(PASS, weak, &SALT),
        Err(ErrorClass::KdfParamsRejected)
    );
    assert_eq!(
        seal_with(PASS, KdfParams::FLOOR, &[0; 15]),
        Err(ErrorClass::Malformed)
    );
    assert_eq!(
        seal_with(PASS, KdfParams::FLOOR, &[0; 33]),
        Err(ErrorClass::Malformed)
    );
    // Raw keys ignore kdf and salt entirely.
    assert!(seal(&Secret::key(KEY_A), &weak, &[0; 3], &NONCE, b"x").is_ok());
    assert_eq!(
        Secret::key_from_hex("abcd").unwrap_err().class(),
        ErrorClass::Malformed
    );
    assert_eq!(
        Secret::key_from_hex(&"zz".repeat(32)).unwrap_err().class(),
        ErrorClass::Malformed
    );
}

#[test]
fn secrets_are_redacted_in_debug_and_errors_say_what_to_do() {
    let s = format!("{:?}{:?}", Secret::passphrase(PASS), Secret::key(KEY_A));
    assert!(!s.contains("horse") && !s.contains("a1a1"), "{s}");
    let blob = pass_blob(b"x");
    let msg = open(
        &Secret::passphrase("correct horse battery stapler"),
        &blob,
        &Policy::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("try another passphrase"), "{msg}");
}
