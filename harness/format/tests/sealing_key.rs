//! `SealingKey` is `seal` split in two: deriving once and sealing several times gives,
//! for each nonce, exactly the bytes `seal` gives, and rejects what `seal` rejects.

use backproof_format::{ErrorClass, KdfParams, SealingKey, Secret, seal};

#[test]
fn one_derivation_seals_like_seal_for_every_nonce() {
    for secret in [
        Secret::passphrase("correct horse battery staple"),
        Secret::key([0x42; 32]),
    ] {
        let salt = [3u8; 16];
        let key = SealingKey::derive(&secret, &KdfParams::FLOOR, &salt).unwrap();
        for (i, nonce) in [[1u8; 12], [2u8; 12], [0xff; 12]].iter().enumerate() {
            let plaintext = vec![i as u8; 40 + i];
            assert_eq!(
                key.seal(nonce, &plaintext).unwrap(),
                seal(&secret, &KdfParams::FLOOR, &salt, nonce, &plaintext).unwrap(),
                "nonce {i}"
            );
        }
    }
}

#[test]
fn derive_refuses_what_seal_refuses() {
    let cases = [
        (
            Secret::passphrase("short"),
            KdfParams::FLOOR,
            vec![0u8; 16],
            ErrorClass::PassphraseTooShort,
        ),
        (
            Secret::passphrase("correct horse battery staple"),
            KdfParams {
                m_cost: 1024,
                t_cost: 1,
                p_cost: 1,
            },
            vec![0u8; 16],
            ErrorClass::KdfParamsRejected,
        ),
        (
            Secret::passphrase("correct horse battery staple"),
            KdfParams::FLOOR,
            vec![0u8; 8],
            ErrorClass::Malformed,
        ),
    ];
    for (secret, kdf, salt, class) in cases {
        let a = SealingKey::derive(&secret, &kdf, &salt).unwrap_err();
        let b = seal(&secret, &kdf, &salt, &[0; 12], b"x").unwrap_err();
        assert_eq!((a.class(), b.class()), (class, class));
    }
}
