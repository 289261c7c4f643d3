//! The payload codec (`backproof.v1.BackupPayload`, prost): open step 8 on any plaintext.
//!
//! What decodes must encode to bytes that decode to the same payload (prost's canonical
//! form is a fixed point), and a payload merges with itself into itself up to the sorting
//! and de-duplication of contacts that the merge rule defines.
#![no_main]

use backproof_format::payload::{decode, encode, merge};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = decode(data) else { return };
    let canonical = encode(&p);
    let again = decode(&canonical).expect("an encoded payload decodes");
    assert_eq!(again, p, "decode(encode(p)) != p");
    assert_eq!(
        encode(&again),
        canonical,
        "the canonical encoding is not a fixed point"
    );
    let merged = merge(&p, &p).expect("a payload never conflicts with itself");
    assert_eq!(merged.identity, p.identity);
    assert_eq!(merged.schema, p.schema);
    assert_eq!(merged.profile, p.profile);
    assert!(
        merged.contacts.windows(2).all(|w| w[0].uuid < w[1].uuid),
        "merged contacts are not sorted and unique by uuid"
    );
    for c in &p.contacts {
        assert!(
            merged.contacts.iter().any(|m| m.uuid == c.uuid),
            "merge lost contact uuid {:?}",
            c.uuid
        );
    }
});
