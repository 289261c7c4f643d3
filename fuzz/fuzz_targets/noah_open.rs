//! Profile noah-v0 (docs/profiles/noah-v0.md): `parse` and `open_with_key` on any bytes.
//!
//! The key derivation (10 000 PBKDF2 rounds) is per seedphrase, not per body, so the target
//! holds one derived key. A body `parse` accepts is canonical base64: re-encoding what it
//! decoded gives the body back byte for byte (no second spelling of a backup). `open`
//! refuses whatever `parse` refuses, with the same class. Sealing the fuzzer's bytes and
//! opening them gives them back, through a body `parse` accepts.
#![no_main]

use backproof_format::profiles::noah_v0::{IV_LEN, KEY_LEN, open_with_key, parse, seal_with_key};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;

const KEY: [u8; KEY_LEN] = [9; KEY_LEN];

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(env) => {
            let mut raw = env.iv.to_vec();
            raw.extend_from_slice(&env.ciphertext);
            raw.extend_from_slice(&env.tag);
            assert_eq!(
                STANDARD.encode(&raw).as_bytes(),
                data,
                "an accepted body is not the canonical encoding of what it decodes to"
            );
        }
        Err(e) => {
            let opened = open_with_key(&KEY, data);
            assert_eq!(
                opened.err().map(|o| o.class()),
                Some(e.class()),
                "open disagrees with parse on a body parse refuses"
            );
        }
    }

    let body = seal_with_key(&KEY, data, [5; IV_LEN]).expect("a fuzz input is far below the limit");
    let env = parse(&body).expect("a sealed body parses");
    assert_eq!(env.ciphertext.len(), data.len(), "GCM changed the length");
    let opened = open_with_key(&KEY, &body).expect("a sealed body opens");
    assert_eq!(
        &opened.plaintext[..],
        data,
        "a round trip changed the bytes"
    );
});
