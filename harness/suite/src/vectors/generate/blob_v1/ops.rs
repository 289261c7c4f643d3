//! The groups that carry an `op` other than `open`: `BlobPayload` (`open_payload`, open
//! step 8) and `BlobSeal` (the writer's refusals and its acceptance at the boundary).

use backproof_format::KdfParams;
use backproof_format::payload::{self, BackupPayload, Contact, IdentityKeyPair, ProfileReference};
use rand_chacha::ChaCha20Rng;
use serde_json::{Value, json};

use super::super::{
    FLOOR, GenResult, PASS, arr, bytes, h, kdf_json, negative, pass_secret, pinned,
};
use super::{Bases, seal_key, seal_pass};

/// A full payload, an empty one, and three plaintexts that are not payloads, all sealed
/// under the raw key of `b`.
pub(super) fn payloads(rng: &mut ChaCha20Rng, b: &Bases) -> GenResult<Vec<Value>> {
    let mut payloads = Vec::new();
    let good = BackupPayload {
        schema: 1,
        identity: Some(IdentityKeyPair {
            public_key: bytes(rng, 32),
            private_key: bytes(rng, 32),
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
            decryption_key: bytes(rng, 32),
        }),
    };
    let good_pt = payload::encode(&good);
    let nonce: [u8; 12] = arr(rng);
    let blob = seal_key(&b.key_a, &nonce, &good_pt)?;
    let mut t = pinned(
        "BackupPayload with identity, two contacts and a profile".into(),
        &["Payload", "RawKey"],
        b.ka(),
        None,
        &[],
        &nonce,
        &good_pt,
        &blob,
    );
    t["op"] = json!("open_payload");
    payloads.push(t);
    let empty_blob = seal_key(&b.key_a, &nonce, &[])?;
    let mut t = pinned(
        "an empty payload decodes (all fields default)".into(),
        &["Payload", "RawKey"],
        b.ka(),
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
        let blob = seal_key(&b.key_a, &nonce, &bad)?;
        let mut t = negative(
            format!("payload: {what}"),
            &["PayloadInvalid", "RawKey"],
            b.ka(),
            &blob,
            "payload_invalid",
        );
        t["op"] = json!("open_payload");
        payloads.push(t);
    }
    Ok(payloads)
}

/// Passphrases too short, parameters out of policy, and the shortest passphrase that seals.
pub(super) fn seals(rng: &mut ChaCha20Rng) -> GenResult<Vec<Value>> {
    let seal_neg = |comment: &str, p: &str, kdf: &KdfParams, class: &str| {
        json!({"op": "seal", "comment": comment, "flags": ["Seal"], "secret": pass_secret(p), "kdf": kdf_json(kdf),
               "salt": h(&[0x5a; 16]), "nonce": h(&[0x11; 12]), "plaintext": h(b"payload"), "result": class})
    };
    let mut seals = vec![
        seal_neg(
            "12-character passphrase",
            "twelve chars",
            &FLOOR,
            "passphrase_too_short",
        ),
        seal_neg(
            "13 code points in NFD, 12 after NFC",
            "cafe\u{301}12345678",
            &FLOOR,
            "passphrase_too_short",
        ),
        seal_neg("empty passphrase", "", &FLOOR, "passphrase_too_short"),
        seal_neg(
            "m_cost 4096 below the policy floor",
            PASS,
            &KdfParams {
                m_cost: 4096,
                t_cost: 5,
                p_cost: 1,
            },
            "kdf_params_rejected",
        ),
        seal_neg(
            "m_cost*t_cost below 35840",
            PASS,
            &KdfParams {
                m_cost: 7168,
                t_cost: 4,
                p_cost: 1,
            },
            "kdf_params_rejected",
        ),
        seal_neg(
            "p_cost 17",
            PASS,
            &KdfParams {
                m_cost: 65536,
                t_cost: 1,
                p_cost: 17,
            },
            "kdf_params_rejected",
        ),
    ];
    let salt13 = bytes(rng, 16);
    let nonce13: [u8; 12] = arr(rng);
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

    Ok(seals)
}
