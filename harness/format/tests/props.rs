//! Property tests: round trips, and that no damage ever opens as ok or panics.

use backproof_format::{KdfParams, Policy, Secret, open, parse_header, seal};
use proptest::prelude::*;

const NONCE: [u8; 12] = [0x22; 12];

fn raw_blob(key: [u8; 32], pt: &[u8]) -> Vec<u8> {
    seal(&Secret::key(key), &KdfParams::FLOOR, &[], &NONCE, pt).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn raw_key_round_trip(key in any::<[u8; 32]>(), nonce in any::<[u8; 12]>(),
                          pt in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let blob = seal(&Secret::key(key), &KdfParams::FLOOR, &[], &nonce, &pt).unwrap();
        prop_assert_eq!(blob.len(), backproof_format::MIN_HEADER_LEN + pt.len() + 16);
        let back = open(&Secret::key(key), &blob, &Policy::default()).unwrap();
        prop_assert_eq!(back.as_slice(), pt.as_slice());
    }

    #[test]
    fn single_byte_change_never_opens(pt in proptest::collection::vec(any::<u8>(), 0..64),
                                      index in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let key = [0x42; 32];
        let mut blob = raw_blob(key, &pt);
        let i = index.index(blob.len());
        blob[i] ^= flip;
        prop_assert!(open(&Secret::key(key), &blob, &Policy::default()).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_header(&bytes);
        prop_assert!(open(&Secret::key([0; 32]), &bytes, &Policy::default()).is_err());
    }
}

proptest! {
    // Each case runs Argon2id at the policy floor, so few cases.
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn passphrase_round_trip(pass in "\\PC{13,40}", salt in proptest::collection::vec(any::<u8>(), 16..=32),
                             pt in proptest::collection::vec(any::<u8>(), 0..512)) {
        let blob = seal(&Secret::passphrase(&pass), &KdfParams::FLOOR, &salt, &NONCE, &pt);
        // Fewer than 13 scalar values can remain after NFC (composition); then sealing refuses.
        match blob {
            Ok(blob) => {
                let back = open(&Secret::passphrase(&pass), &blob, &Policy::default()).unwrap();
                prop_assert_eq!(back.as_slice(), pt.as_slice());
            }
            Err(e) => prop_assert_eq!(e.class(), backproof_format::ErrorClass::PassphraseTooShort),
        }
    }

    #[test]
    fn passphrase_blob_single_byte_change_never_opens(index in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let pass = "a passphrase long enough";
        let mut blob = seal(&Secret::passphrase(pass), &KdfParams::FLOOR, &[9; 16], &NONCE, b"payload").unwrap();
        let i = index.index(blob.len());
        blob[i] ^= flip;
        prop_assert!(open(&Secret::passphrase(pass), &blob, &Policy::default()).is_err());
    }
}

/// Every truncation of a blob, from empty to one byte short, fails without panicking,
/// for both header shapes.
#[test]
fn every_truncation_fails() {
    let key = [7u8; 32];
    let raw = raw_blob(key, b"truncate me please");
    for len in 0..raw.len() {
        assert!(
            open(&Secret::key(key), &raw[..len], &Policy::default()).is_err(),
            "len {len}"
        );
    }
    let pass = "a passphrase long enough";
    let blob = seal(
        &Secret::passphrase(pass),
        &KdfParams::FLOOR,
        &[3; 32],
        &NONCE,
        b"abc",
    )
    .unwrap();
    let header_len = backproof_format::MIN_HEADER_LEN + 32;
    for len in 0..blob.len() {
        // Below header + tag nothing is derived (malformed), so only the last few lengths
        // cost an Argon2id run each.
        let err = open(&Secret::passphrase(pass), &blob[..len], &Policy::default()).unwrap_err();
        if len < header_len + 16 {
            assert_eq!(
                err.class(),
                backproof_format::ErrorClass::Malformed,
                "len {len}"
            );
        } else {
            assert_eq!(
                err.class(),
                backproof_format::ErrorClass::Corrupted,
                "len {len}"
            );
        }
    }
}
