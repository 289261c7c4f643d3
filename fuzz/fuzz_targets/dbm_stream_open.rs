//! Profile dbm-stream-v1 (docs/profiles/dbm-stream-v1.md): the sidecar parser and the
//! two-pass `open` with its decompressors, on any bytes.
//!
//! The first byte picks what the rest is. A sidecar must survive parse → `to_json` → parse
//! unchanged. A compressed stream is sealed under the profile's own GCM with `NONE` and then
//! relabelled: the tag covers the artifact alone (no associated data), so the opener meets
//! the fuzzer's bytes as an *authentic* gzip, brotli or plain stream, which is where the
//! decompressors and the output cap are reached. Such an artifact must never be refused as
//! damaged or as the wrong key; what it yields stays within the cap, and `NONE` yields
//! exactly what was sealed. Under any other key, nothing at all reaches the dump.
#![no_main]

use std::io::Cursor;

use backproof_format::ErrorClass;
use backproof_format::profiles::dbm_stream_v1::{Compression, open, parse_sidecar, seal};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [7; 32];
const OTHER_KEY: [u8; 32] = [8; 32];
/// Small, so that a bomb reaches it in a few microseconds.
const CAP: u64 = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => sidecar_round_trip(rest),
        n => authentic_stream(
            [Compression::None, Compression::Gzip, Compression::Brotli][usize::from(n - 1)],
            selector & 0x80 != 0,
            rest,
        ),
    }
});

fn sidecar_round_trip(bytes: &[u8]) {
    let Ok(sidecar) = parse_sidecar(bytes) else {
        return;
    };
    let text = serde_json::to_vec(&sidecar.to_json()).expect("a sidecar serializes");
    let again = parse_sidecar(&text)
        .unwrap_or_else(|e| panic!("a written sidecar does not parse again: {e}"));
    assert_eq!(sidecar, again, "a sidecar changes on parse → write → parse");
}

fn authentic_stream(compression: Compression, long_iv: bool, stream: &[u8]) {
    let iv: &[u8] = if long_iv { &[3; 16] } else { &[3; 12] };
    let mut artifact = Vec::new();
    let mut sidecar = seal(
        &KEY,
        iv,
        Compression::None,
        "p",
        None,
        stream,
        &mut artifact,
    )
    .expect("sealing into memory cannot fail");
    assert_eq!(
        artifact.len(),
        stream.len(),
        "the artifact carries no tag or header"
    );
    sidecar.compression = compression;

    let mut out = Vec::new();
    match open(&KEY, &sidecar, &mut Cursor::new(&artifact), &mut out, CAP) {
        Ok(n) => {
            assert_eq!(n, out.len() as u64, "open counts what it wrote");
            assert!(n <= CAP, "open wrote {n} bytes past the cap of {CAP}");
            if compression == Compression::None {
                assert_eq!(out, stream, "a plain artifact opens to what was sealed");
            }
        }
        Err(e) => {
            assert!(
                matches!(e.class(), ErrorClass::PayloadInvalid | ErrorClass::TooLarge),
                "an authentic {compression:?} artifact refused as {:?}: {e}",
                e.class()
            );
            assert!(
                out.len() as u64 <= CAP,
                "the cap was passed before the refusal"
            );
        }
    }

    let mut leaked = Vec::new();
    let other = open(
        &OTHER_KEY,
        &sidecar,
        &mut Cursor::new(&artifact),
        &mut leaked,
        CAP,
    );
    assert!(
        other.is_err(),
        "an artifact opened under a key that did not seal it"
    );
    assert!(
        leaked.is_empty(),
        "plaintext reached the dump before the tag was checked"
    );
}
