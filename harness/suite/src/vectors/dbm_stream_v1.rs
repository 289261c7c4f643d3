//! Vectors of profile `dbm-stream-v1` (docs/profiles/dbm-stream-v1.md §7): the seeded
//! generator of `vectors/dbm-stream-v1/dbm-stream-v1.json` and a checker against
//! `backproof_format::profiles::dbm_stream_v1`, in process or through an adapter. Confirmed
//! independently by ci/crosscheck/dbm_stream_v1.py.
//!
//! The smart-recovery vectors carry **decoys**: wrong keys under which the first bytes of
//! the artifact decrypt to gzip's magic `1f 8b 08` (or to printable SQL). Finding one takes
//! about 2^24 trials, so the generator does not search: it takes the counters pinned in
//! [`GZIP_DECOYS_IV12`] and the like and checks that each still is a decoy.
//! `search_decoys` (an ignored test) finds them again.

use std::io::Cursor;

use backproof_format::profiles::dbm_stream_v1::{self as dbm, Compression, Sidecar};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::generate::{bytes, h};
use super::json::to_canonical;
use super::profile_file::{
    Runner, allowed, check_each, grade, hex_answer, request_of, same_failure, unhex,
};
use super::{AdapterImplementation, CaseOutcome};

/// Where the file lives, relative to the vectors directory.
pub const FILE: &str = "dbm-stream-v1/dbm-stream-v1.json";
pub const SCHEMA: &str = "dbm-stream-v1.schema.json";
const ALGORITHM: &str = "BACKPROOF-DBM-STREAM-V1";
const PROFILE: &str = dbm::NAME;

/// A tag failure cannot say whether the key or the data is wrong (advisory no-key-check).
const TAG_ACCEPT: &[&str] = &["wrong_key", "wrong_key_or_corrupted"];
/// Smart recovery that finds no key: the artifact may be damaged rather than foreign.
const NO_MATCH_ACCEPT: &[&str] = &["corrupted", "wrong_key_or_corrupted"];

const NOTES: &[super::generate::Note] = &[
    (
        "NoKeyCheck",
        "AUTHENTICATION",
        "The design has no key check: a wrong key and a changed artifact or sidecar are the same GCM tag failure. `result` is the profile's class; `accept` lists the others a conforming implementation may give.",
    ),
    (
        "Decoy",
        "UNAUTHENTICATED_HEURISTIC",
        "A wrong key under which the artifact's first bytes decrypt to what the design's smart-recovery heuristic accepts (gzip magic 1f 8b 08, or printable text). A recovery that trusts the heuristic picks it; only the full tag tells.",
    ),
    (
        "DecompressionBomb",
        "RESOURCE_EXHAUSTION",
        "A small artifact whose dump is far larger than `maxOutput`: the restore must stop at the limit with too_large, never be killed.",
    ),
    (
        "IvLength16",
        "EDGE_CASE",
        "A 16-byte IV: GCM derives J0 by GHASH over it instead of appending a counter.",
    ),
    (
        "TagAppended",
        "FORMAT",
        "The artifact holds the ciphertext alone; the 16 tag bytes belong in the sidecar. An artifact with the tag appended is a different message and fails the tag.",
    ),
];

/// Counters `i` of the decoys `SHA-256("backproof dbm-stream-v1 decoy" ‖ i as u64 LE)` of
/// the recovery artifact with a 12-byte IV (gzip magic).
const GZIP_DECOYS_IV12: [u64; 2] = [3_100_216, 5_531_793];
/// The same with a 16-byte IV.
const GZIP_DECOYS_IV16: [u64; 1] = [17_383_241];
/// Decoys of the short uncompressed dump [`SHORT_SQL`]: its bytes all decrypt to printable.
const PRINTABLE_DECOYS: [u64; 1] = [37_498];
const SHORT_SQL: &[u8] = b"SELECT 1;\n";

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut d = Sha256::new();
    for p in parts {
        d.update(p);
    }
    d.finalize().into()
}

/// The key of the recovery artifacts and their IV (12 or 16 bytes), fixed apart from the
/// random stream so that the pinned decoys stay decoys when other vectors change.
fn recovery_key() -> [u8; 32] {
    sha(&[b"backproof dbm-stream-v1 recovery key"])
}

fn recovery_iv(len: usize) -> Vec<u8> {
    sha(&[b"backproof dbm-stream-v1 recovery iv"])[..len].to_vec()
}

fn decoy_key(i: u64) -> [u8; 32] {
    sha(&[b"backproof dbm-stream-v1 decoy", &i.to_le_bytes()])
}

/// Whether `key` is a decoy for `artifact`: its unauthenticated first bytes pass the
/// design's heuristic (`gzip`: start with the magic; else: all printable).
fn is_decoy(key: &[u8; 32], iv: &[u8], artifact: &[u8], gzip: bool) -> bool {
    let head = &artifact[..artifact.len().min(dbm::HEURISTIC_LEN)];
    let plain = dbm::decrypt_prefix_unauthenticated(key, iv, head).expect("valid iv");
    if gzip {
        plain.starts_with(&dbm::GZIP_MAGIC)
    } else {
        dbm::heuristic_accepts(&plain)
    }
}

fn key32(rng: &mut ChaCha20Rng) -> [u8; 32] {
    bytes(rng, 32).try_into().expect("32 bytes")
}

/// A dump-like plaintext: SQL lines with random values, `n` bytes.
fn sql(rng: &mut ChaCha20Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 64);
    while out.len() < n {
        let v = rng.next_u32();
        out.extend_from_slice(
            format!("INSERT INTO t VALUES ({v}, 'row {}');\n", v % 97).as_bytes(),
        );
    }
    out.truncate(n);
    out
}

struct Sealed {
    key: [u8; 32],
    artifact: Vec<u8>,
    sidecar: Sidecar,
    plaintext: Vec<u8>,
}

impl Sealed {
    fn new(key: [u8; 32], iv: &[u8], c: Compression, plaintext: &[u8]) -> Sealed {
        let mut artifact = Vec::new();
        let sidecar = dbm::seal(
            &key,
            iv,
            c,
            "9b2f6c1e-2d4a-4e8b-9c0d-5a7f3e1b8d42",
            Some("16.4"),
            plaintext,
            &mut artifact,
        )
        .expect("the generator's seals are valid");
        Sealed {
            key,
            artifact,
            sidecar,
            plaintext: plaintext.to_vec(),
        }
    }

    fn random(rng: &mut ChaCha20Rng, iv_len: usize, c: Compression, n: usize) -> Sealed {
        let key = key32(rng);
        let iv = bytes(rng, iv_len);
        let plain = sql(rng, n);
        Sealed::new(key, &iv, c, &plain)
    }

    fn sidecar_bytes(&self) -> Vec<u8> {
        self.sidecar.to_json().to_string().into_bytes()
    }

    /// An `open` test of this artifact under its own key.
    fn open(&self, comment: &str, flags: &[&str]) -> Value {
        json!({
            "op": "open",
            "comment": comment,
            "flags": flags,
            "key": h(&self.key),
            "sidecar": h(&self.sidecar_bytes()),
            "artifact": h(&self.artifact),
            "plaintext": h(&self.plaintext),
            "result": "ok",
        })
    }

    /// The same with another sidecar, artifact or key, and the class it must give.
    fn open_fails(&self, comment: &str, flags: &[&str], result: &str, accept: &[&str]) -> Value {
        let mut t = self.open(comment, flags);
        t.as_object_mut().expect("object").remove("plaintext");
        t["result"] = json!(result);
        if !accept.is_empty() {
            t["accept"] = json!(accept);
        }
        t
    }
}

fn with(mut t: Value, field: &str, value: Value) -> Value {
    t[field] = value;
    t
}

fn sidecar_hex(v: &Value) -> Value {
    json!(h(v.to_string().as_bytes()))
}

fn round(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = Vec::new();
    for c in Compression::ALL {
        for iv_len in dbm::IV_LENS {
            let s = Sealed::random(rng, iv_len, c, 3000);
            let flags: &[&str] = if iv_len == 16 { &["IvLength16"] } else { &[] };
            out.push(s.open(
                &format!("{} with a {iv_len}-byte IV, 3000-byte dump", c.as_str()),
                flags,
            ));
        }
    }
    for c in Compression::ALL {
        let s = Sealed::new(key32(rng), &bytes(rng, 12), c, b"");
        out.push(s.open(&format!("{}, empty dump", c.as_str()), &[]));
    }
    let s = Sealed::random(rng, 12, Compression::None, dbm::CHUNK + 4099);
    out.push(s.open(
        "NONE, a dump longer than one 64 KiB chunk, not a multiple of 16",
        &[],
    ));
    let s = Sealed::random(rng, 16, Compression::Gzip, 100_000);
    out.push(s.open("GZIP, 100 000-byte dump", &["IvLength16"]));
    // Accepted spellings of the sidecar.
    let s = Sealed::random(rng, 12, Compression::Gzip, 500);
    let mut v = s.sidecar.to_json();
    v["encryption"]["iv"] = json!(h(&s.sidecar.iv).to_uppercase());
    v["encryption"]["authTag"] = json!(h(&s.sidecar.auth_tag).to_uppercase());
    out.push(with(
        s.open("upper-case hex in iv and authTag", &[]),
        "sidecar",
        sidecar_hex(&v),
    ));
    let mut v = s.sidecar.to_json();
    v.as_object_mut().expect("object").remove("engineVersion");
    out.push(with(
        s.open("engineVersion absent", &[]),
        "sidecar",
        sidecar_hex(&v),
    ));
    let mut v = s.sidecar.to_json();
    v["storage"] = json!({"adapter": "s3"});
    v["encryption"]["algorithm"] = json!("aes-256-gcm");
    out.push(with(
        s.open("unknown extra members are ignored", &[]),
        "sidecar",
        sidecar_hex(&v),
    ));
    let text = format!(
        "{{\n  \"compression\": \"GZIP\",\n  \"encryption\": {{\"authTag\": \"{}\", \"iv\": \"{}\", \"profileId\": \"x\", \"enabled\": true}}\n}}\n",
        h(&s.sidecar.auth_tag),
        h(&s.sidecar.iv)
    );
    out.push(with(
        s.open("pretty-printed, members reordered, another profileId", &[]),
        "sidecar",
        json!(h(text.as_bytes())),
    ));
    out
}

fn tags(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = Vec::new();
    let f: &[&str] = &["NoKeyCheck"];
    for (c, iv_len) in [(Compression::Gzip, 12), (Compression::Brotli, 16)] {
        let s = Sealed::random(rng, iv_len, c, 5000);
        let name = format!("{} iv {iv_len}", c.as_str());
        let fail = |what: &str, t: Value| -> Value {
            let mut t = t;
            t["comment"] = json!(format!("{name}: {what}"));
            t
        };
        let base = s.open_fails("", f, "corrupted", TAG_ACCEPT);
        out.push(fail(
            "another key",
            with(base.clone(), "key", json!(h(&key32(rng)))),
        ));
        for (what, at) in [
            ("first", 0),
            ("middle", s.artifact.len() / 2),
            ("last", s.artifact.len() - 1),
        ] {
            let mut a = s.artifact.clone();
            a[at] ^= 0x01;
            out.push(fail(
                &format!("{what} artifact byte flipped"),
                with(base.clone(), "artifact", json!(h(&a))),
            ));
        }
        let n = s.artifact.len();
        for (what, a) in [
            ("artifact one byte short", s.artifact[..n - 1].to_vec()),
            ("artifact cut to half", s.artifact[..n / 2].to_vec()),
            ("artifact empty", Vec::new()),
            (
                "one byte appended to the artifact",
                [s.artifact.clone(), vec![0]].concat(),
            ),
        ] {
            out.push(fail(what, with(base.clone(), "artifact", json!(h(&a)))));
        }
        let appended = [s.artifact.clone(), s.sidecar.auth_tag.to_vec()].concat();
        out.push(fail(
            "the tag appended to the artifact (as one-shot AES-GCM writes it)",
            with(
                with(base.clone(), "artifact", json!(h(&appended))),
                "flags",
                json!(["NoKeyCheck", "TagAppended"]),
            ),
        ));
        for (what, edit) in [
            ("authTag first byte flipped", ("authTag", 0usize)),
            ("authTag last byte flipped", ("authTag", 15)),
            ("iv first byte flipped", ("iv", 0)),
            ("iv last byte flipped", ("iv", iv_len - 1)),
        ] {
            let mut sc = s.sidecar.clone();
            match edit.0 {
                "authTag" => sc.auth_tag[edit.1] ^= 0x80,
                _ => sc.iv[edit.1] ^= 0x80,
            }
            out.push(fail(
                what,
                with(base.clone(), "sidecar", sidecar_hex(&sc.to_json())),
            ));
        }
        let mut sc = s.sidecar.clone();
        if iv_len == 12 {
            sc.iv.extend([0, 0, 0, 1]);
            out.push(fail(
                "the 12-byte iv written as 16 bytes (iv ‖ 00000001)",
                with(base.clone(), "sidecar", sidecar_hex(&sc.to_json())),
            ));
        } else {
            sc.iv.truncate(12);
            out.push(fail(
                "the 16-byte iv cut to 12",
                with(base.clone(), "sidecar", sidecar_hex(&sc.to_json())),
            ));
        }
        let mut sc = s.sidecar.clone();
        sc.compression = if c == Compression::Gzip {
            Compression::Brotli
        } else {
            Compression::Gzip
        };
        let relabelled = s.open_fails("", &[], "payload_invalid", &[]);
        out.push(fail(
            "compression relabelled: authentic, but not that stream",
            with(relabelled, "sidecar", sidecar_hex(&sc.to_json())),
        ));
    }
    out
}

/// Seals `stream` uncompressed and relabels it: an authentic artifact whose content is
/// whatever the writer produced.
fn authentic(rng: &mut ChaCha20Rng, stream: &[u8], c: Compression) -> (Sealed, Vec<u8>) {
    let mut s = Sealed::new(key32(rng), &bytes(rng, 12), Compression::None, stream);
    s.sidecar.compression = c;
    let sc = s.sidecar_bytes();
    (s, sc)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    w.write_all(data).expect("in memory");
    w.finish().expect("in memory")
}

fn brotli(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).expect("in memory");
    }
    out
}

fn payloads(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let plain = sql(rng, 4000);
    let gz = gzip(&plain);
    let br = brotli(&plain);
    let mut out = Vec::new();
    let mut push = |rng: &mut ChaCha20Rng, comment: &str, stream: &[u8], c, ok: Option<&[u8]>| {
        let (s, sc) = authentic(rng, stream, c);
        let mut t = match ok {
            Some(p) => with(s.open(comment, &[]), "plaintext", json!(h(p))),
            None => s.open_fails(comment, &[], "payload_invalid", &[]),
        };
        t["sidecar"] = json!(h(&sc));
        out.push(t);
    };
    let g = Compression::Gzip;
    let b = Compression::Brotli;
    push(
        rng,
        "GZIP: the stream cut by one byte (its CRC trailer)",
        &gz[..gz.len() - 1],
        g,
        None,
    );
    push(
        rng,
        "GZIP: the stream cut to half",
        &gz[..gz.len() / 2],
        g,
        None,
    );
    push(
        rng,
        "GZIP: garbage after the stream",
        &[gz.clone(), b"garbage".to_vec()].concat(),
        g,
        None,
    );
    let mut crc = gz.clone();
    let at = crc.len() - 5;
    crc[at] ^= 1;
    push(rng, "GZIP: the CRC-32 of the trailer wrong", &crc, g, None);
    push(rng, "GZIP: plain SQL labelled GZIP", &plain, g, None);
    push(rng, "GZIP: empty artifact labelled GZIP", b"", g, None);
    push(
        rng,
        "BROTLI: the stream cut by one byte",
        &br[..br.len() - 1],
        b,
        None,
    );
    push(
        rng,
        "BROTLI: garbage after the stream",
        &[br.clone(), b"garbage".to_vec()].concat(),
        b,
        None,
    );
    push(rng, "BROTLI: empty artifact labelled BROTLI", b"", b, None);
    push(rng, "BROTLI: a gzip stream labelled BROTLI", &gz, b, None);
    push(
        rng,
        "GZIP: two members are one dump, as gunzip reads them",
        &[gz.clone(), gz.clone()].concat(),
        g,
        Some(&[plain.clone(), plain.clone()].concat()),
    );
    out
}

fn bombs(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let zeros = vec![0u8; 16 << 20];
    let mut out = Vec::new();
    for c in [Compression::Gzip, Compression::Brotli] {
        let s = Sealed::new(key32(rng), &bytes(rng, 12), c, &zeros);
        let mut t = s.open_fails(
            &format!(
                "{}: a {}-byte artifact of a 16 MiB dump, maxOutput 1 MiB",
                c.as_str(),
                s.artifact.len()
            ),
            &["DecompressionBomb"],
            "too_large",
            &[],
        );
        t["maxOutput"] = json!(1 << 20);
        out.push(t);
    }
    let s = Sealed::random(rng, 12, Compression::None, 100);
    let mut t = s.open_fails("NONE: a 100-byte dump, maxOutput 99", &[], "too_large", &[]);
    t["maxOutput"] = json!(99);
    out.push(t);
    out.push(with(
        s.open("NONE: a 100-byte dump, maxOutput 100", &[]),
        "maxOutput",
        json!(100),
    ));
    let s = Sealed::random(rng, 16, Compression::Gzip, 3000);
    let mut t = s.open_fails(
        "GZIP: a 3000-byte dump, maxOutput 2999",
        &[],
        "too_large",
        &[],
    );
    t["maxOutput"] = json!(2999);
    out.push(t);
    out
}

fn malformed(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let s = Sealed::random(rng, 12, Compression::Gzip, 300);
    let good = s.sidecar.to_json();
    let tag = h(&s.sidecar.auth_tag);
    let iv = h(&s.sidecar.iv);
    let mut out = Vec::new();
    let mut raw = |comment: &str, bytes: &[u8]| {
        out.push(with(
            s.open_fails(comment, &[], "malformed", &[]),
            "sidecar",
            json!(h(bytes)),
        ));
    };
    raw("not JSON", b"compression=GZIP");
    raw("not UTF-8", b"{\"compression\": \"GZIP\xff\"}");
    raw("empty file", b"");
    raw("a JSON array", b"[]");
    raw("a JSON string", b"\"GZIP\"");
    raw("cut short", &good.to_string().as_bytes()[..40]);
    raw(
        "a byte-order mark before the object",
        &[b"\xef\xbb\xbf".to_vec(), good.to_string().into_bytes()].concat(),
    );
    type Edit = Box<dyn Fn(&mut Value)>;
    let set = |path: &'static [&'static str], v: Value| -> Edit {
        Box::new(move |doc: &mut Value| {
            let mut at = doc;
            for p in &path[..path.len() - 1] {
                at = &mut at[*p];
            }
            at[path[path.len() - 1]] = v.clone();
        })
    };
    let drop_member = |path: &'static [&'static str]| -> Edit {
        Box::new(move |doc: &mut Value| {
            let mut at = doc;
            for p in &path[..path.len() - 1] {
                at = &mut at[*p];
            }
            at.as_object_mut()
                .expect("object")
                .remove(path[path.len() - 1]);
        })
    };
    let edits: Vec<(&str, Edit)> = vec![
        ("encryption missing", drop_member(&["encryption"])),
        ("encryption is a string", set(&["encryption"], json!("aes"))),
        (
            "encryption.enabled false",
            set(&["encryption", "enabled"], json!(false)),
        ),
        (
            "encryption.enabled missing",
            drop_member(&["encryption", "enabled"]),
        ),
        (
            "encryption.enabled \"true\"",
            set(&["encryption", "enabled"], json!("true")),
        ),
        (
            "encryption.enabled 1",
            set(&["encryption", "enabled"], json!(1)),
        ),
        (
            "profileId missing",
            drop_member(&["encryption", "profileId"]),
        ),
        (
            "profileId a number",
            set(&["encryption", "profileId"], json!(42)),
        ),
        (
            "profileId null",
            set(&["encryption", "profileId"], Value::Null),
        ),
        ("iv missing", drop_member(&["encryption", "iv"])),
        (
            "iv of 11 bytes",
            set(&["encryption", "iv"], json!(&iv[..22])),
        ),
        (
            "iv of 13 bytes",
            set(&["encryption", "iv"], json!(format!("{iv}00"))),
        ),
        (
            "iv of 32 bytes",
            set(
                &["encryption", "iv"],
                json!(format!("{iv}{tag}{}", &tag[..8])),
            ),
        ),
        ("iv empty", set(&["encryption", "iv"], json!(""))),
        (
            "iv of odd length",
            set(&["encryption", "iv"], json!(&iv[..23])),
        ),
        (
            "iv not hex",
            set(&["encryption", "iv"], json!(format!("{}zz", &iv[..22]))),
        ),
        (
            "iv with a 0x prefix",
            set(&["encryption", "iv"], json!(format!("0x{}", &iv[..22]))),
        ),
        (
            "iv with spaces",
            set(
                &["encryption", "iv"],
                json!(format!("{} {}", &iv[..12], &iv[12..])),
            ),
        ),
        (
            "iv base64 instead of hex",
            set(&["encryption", "iv"], json!("AAAAAAAAAAAAAAAA")),
        ),
        (
            "iv a byte array",
            set(&["encryption", "iv"], json!(s.sidecar.iv)),
        ),
        ("authTag missing", drop_member(&["encryption", "authTag"])),
        (
            "authTag of 15 bytes",
            set(&["encryption", "authTag"], json!(&tag[..30])),
        ),
        (
            "authTag of 17 bytes",
            set(&["encryption", "authTag"], json!(format!("{tag}00"))),
        ),
        (
            "authTag of 12 bytes (a truncated tag)",
            set(&["encryption", "authTag"], json!(&tag[..24])),
        ),
        (
            "authTag not hex",
            set(
                &["encryption", "authTag"],
                json!(format!("{}xx", &tag[..30])),
            ),
        ),
        ("compression missing", drop_member(&["compression"])),
        (
            "compression lower-case gzip",
            set(&["compression"], json!("gzip")),
        ),
        ("compression ZSTD", set(&["compression"], json!("ZSTD"))),
        ("compression null", set(&["compression"], Value::Null)),
        (
            "compression inside encryption only",
            Box::new(|doc: &mut Value| {
                doc["encryption"]["compression"] = doc["compression"].take();
                doc.as_object_mut().expect("object").remove("compression");
            }),
        ),
        (
            "engineVersion a number",
            set(&["engineVersion"], json!(8.0)),
        ),
    ];
    for (comment, edit) in edits {
        let mut v = good.clone();
        edit(&mut v);
        out.push(with(
            s.open_fails(comment, &[], "malformed", &[]),
            "sidecar",
            sidecar_hex(&v),
        ));
    }
    out
}

fn keys(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let key = key32(rng);
    let lower = h(&key);
    let upper = lower.to_uppercase();
    let mixed: String = lower
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let ok = |comment: &str, input: &str| json!({"op": "import_key", "comment": comment, "flags": [], "input": input, "key": lower, "result": "ok"});
    let bad = |comment: &str, input: String| json!({"op": "import_key", "comment": comment, "flags": [], "input": input, "result": "malformed"});
    vec![
        ok("64 lower-case hex digits, as exported", &lower),
        ok("64 upper-case hex digits", &upper),
        ok("64 hex digits of mixed case", &mixed),
        bad("63 digits", lower[..63].to_owned()),
        bad("65 digits", format!("{lower}0")),
        bad("128 digits (the key twice)", format!("{lower}{lower}")),
        bad("32 digits (a 16-byte key)", lower[..32].to_owned()),
        bad("empty", String::new()),
        bad("a leading space", format!(" {}", &lower[1..])),
        bad("a trailing newline", format!("{lower}\n")),
        bad("a 0x prefix", format!("0x{lower}")),
        bad("a 0x prefix, 62 digits", format!("0x{}", &lower[2..])),
        bad("a g among the digits", format!("{}g", &lower[..63])),
        bad(
            "grouped with dashes",
            format!("{}-{}", &lower[..31], &lower[32..]),
        ),
        bad("base64 of the key", base64_of(&key)),
        bad("64 non-ASCII digits", "٠".repeat(64)),
        bad("fullwidth digits", "０".repeat(64)),
    ]
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

struct Candidate {
    id: &'static str,
    key: [u8; 32],
}

fn recovery_test(
    comment: &str,
    flags: &[&str],
    s: &Sealed,
    sidecar: &Sidecar,
    candidates: &[Candidate],
    matched: Option<&str>,
    decoys: &[&str],
) -> Value {
    let mut t = json!({
        "op": "recover",
        "comment": comment,
        "flags": flags,
        "sidecar": h(sidecar.to_json().to_string().as_bytes()),
        "artifact": h(&s.artifact),
        "candidates": candidates.iter().map(|c| json!({"id": c.id, "key": h(&c.key)})).collect::<Vec<_>>(),
        "decoys": decoys,
    });
    match matched {
        Some(id) => {
            t["result"] = json!("ok");
            t["matched"] = json!(id);
            t["plaintext"] = json!(h(&s.plaintext));
        }
        None => {
            t["result"] = json!("wrong_key");
            t["accept"] = json!(NO_MATCH_ACCEPT);
        }
    }
    t
}

/// The decoys of `s` pinned in `counters`; a counter that is no longer a decoy means the
/// artifact's first bytes changed: run `search_decoys` and pin its output.
fn pinned_decoys(s: &Sealed, counters: &[u64], gzip: bool) -> Vec<[u8; 32]> {
    counters
        .iter()
        .map(|&i| {
            let k = decoy_key(i);
            assert!(
                is_decoy(&k, &s.sidecar.iv, &s.artifact, gzip),
                "decoy counter {i} is not a decoy of the recovery artifact any more; run `cargo test --release --all-features --lib search_decoys -- --ignored --nocapture` and pin what it prints"
            );
            k
        })
        .collect()
}

fn recovery_artifact(iv_len: usize) -> Sealed {
    let mut rng = ChaCha20Rng::seed_from_u64(0x6462_6d72_6563_0000 + iv_len as u64);
    let plain = sql(&mut rng, 6000);
    Sealed::new(
        recovery_key(),
        &recovery_iv(iv_len),
        Compression::Gzip,
        &plain,
    )
}

fn short_sql_artifact() -> Sealed {
    Sealed::new(
        recovery_key(),
        &recovery_iv(12),
        Compression::None,
        SHORT_SQL,
    )
}

fn recoveries(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let s = recovery_artifact(12);
    let d = pinned_decoys(&s, &GZIP_DECOYS_IV12, true);
    let stranger = key32(rng);
    let mut unknown = s.sidecar.clone();
    unknown.profile_id = "8c1d2f7a-0000-4000-8000-00000000dead".into();
    let right = Candidate {
        id: "imported",
        key: s.key,
    };
    let decoy = |id, i: usize| Candidate { id, key: d[i] };
    let mut out = vec![
        recovery_test(
            "profileId names a local key: it is used without a search",
            &[],
            &s,
            &s.sidecar,
            &[
                Candidate {
                    id: "other",
                    key: stranger,
                },
                Candidate {
                    id: "9b2f6c1e-2d4a-4e8b-9c0d-5a7f3e1b8d42",
                    key: s.key,
                },
            ],
            Some("9b2f6c1e-2d4a-4e8b-9c0d-5a7f3e1b8d42"),
            &[],
        ),
        recovery_test(
            "unknown profileId: two gzip-magic decoys before the imported key",
            &["Decoy"],
            &s,
            &unknown,
            &[decoy("decoy-a", 0), decoy("decoy-b", 1), right],
            Some("imported"),
            &["decoy-a", "decoy-b"],
        ),
        recovery_test(
            "unknown profileId: a stranger, a decoy, the imported key, another stranger",
            &["Decoy"],
            &s,
            &unknown,
            &[
                Candidate {
                    id: "stranger",
                    key: stranger,
                },
                decoy("decoy-a", 0),
                Candidate {
                    id: "imported",
                    key: s.key,
                },
                Candidate {
                    id: "late",
                    key: key32(rng),
                },
            ],
            Some("imported"),
            &["decoy-a"],
        ),
        recovery_test(
            "unknown profileId: only decoys, no key verifies",
            &["Decoy"],
            &s,
            &unknown,
            &[decoy("decoy-a", 0), decoy("decoy-b", 1)],
            None,
            &["decoy-a", "decoy-b"],
        ),
        recovery_test(
            "unknown profileId: no local keys at all",
            &[],
            &s,
            &unknown,
            &[],
            None,
            &[],
        ),
    ];
    // The sidecar names a local key that does not verify: damage (or a wrong key stored
    // under that id), not a reason to search the others.
    let mut t = recovery_test(
        "profileId names a decoy: its tag fails, the right key later in the list is not tried",
        &["Decoy", "NoKeyCheck"],
        &s,
        &s.sidecar,
        &[
            Candidate {
                id: "9b2f6c1e-2d4a-4e8b-9c0d-5a7f3e1b8d42",
                key: d[0],
            },
            Candidate {
                id: "imported",
                key: s.key,
            },
        ],
        None,
        &[],
    );
    t["result"] = json!("corrupted");
    t["accept"] = json!(TAG_ACCEPT);
    out.push(t);
    let mut tampered = recovery_artifact(12);
    let last = tampered.artifact.len() - 1;
    tampered.artifact[last] ^= 1;
    out.push(recovery_test(
        "unknown profileId: the artifact's last byte flipped, the right key among the candidates",
        &["Decoy", "NoKeyCheck"],
        &tampered,
        &unknown,
        &[decoy("decoy-a", 0), right_again(&s)],
        None,
        &["decoy-a", "imported"],
    ));
    let s16 = recovery_artifact(16);
    let d16 = pinned_decoys(&s16, &GZIP_DECOYS_IV16, true);
    let mut unknown16 = s16.sidecar.clone();
    unknown16.profile_id = unknown.profile_id.clone();
    out.push(recovery_test(
        "unknown profileId, 16-byte IV: a gzip-magic decoy before the imported key",
        &["Decoy", "IvLength16"],
        &s16,
        &unknown16,
        &[
            Candidate {
                id: "decoy",
                key: d16[0],
            },
            right_again(&s16),
        ],
        Some("imported"),
        &["decoy"],
    ));
    let short = short_sql_artifact();
    let dp = pinned_decoys(&short, &PRINTABLE_DECOYS, false);
    let mut unknown_short = short.sidecar.clone();
    unknown_short.profile_id = unknown.profile_id.clone();
    out.push(recovery_test(
        "unknown profileId, NONE: a decoy under which the short dump decrypts to printable text",
        &["Decoy"],
        &short,
        &unknown_short,
        &[
            Candidate {
                id: "printable",
                key: dp[0],
            },
            right_again(&short),
        ],
        Some("imported"),
        &["printable"],
    ));
    out
}

fn right_again(s: &Sealed) -> Candidate {
    Candidate {
        id: "imported",
        key: s.key,
    }
}

fn seals(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = Vec::new();
    for (c, iv_len) in [
        (Compression::None, 12),
        (Compression::None, 16),
        (Compression::Gzip, 12),
        (Compression::Brotli, 16),
    ] {
        let s = Sealed::random(rng, iv_len, c, 2000);
        let mut t = json!({
            "op": "seal",
            "comment": format!("{} with a {iv_len}-byte IV: the artifact is the ciphertext alone, the tag in the sidecar", c.as_str()),
            "flags": ["TagAppended"],
            "key": h(&s.key),
            "iv": h(&s.sidecar.iv),
            "compression": c.as_str(),
            "profileId": s.sidecar.profile_id,
            "plaintext": h(&s.plaintext),
            "result": "ok",
        });
        // Compressors differ in their bytes; the uncompressed artifact is exact.
        if c == Compression::None {
            t["artifact"] = json!(h(&s.artifact));
            t["authTag"] = json!(h(&s.sidecar.auth_tag));
        }
        out.push(t);
    }
    out
}

pub fn generate() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(0x6462_6d2d_7374_7265);
    type Group = fn(&mut ChaCha20Rng) -> Vec<Value>;
    let groups: [(&str, Group); 8] = [
        ("DbmRoundTrip", round),
        ("DbmTagFailure", tags),
        ("DbmPayload", payloads),
        ("DbmBomb", bombs),
        ("DbmMalformedSidecar", malformed),
        ("DbmKey", keys),
        ("DbmRecovery", recoveries),
        ("DbmSeal", seals),
    ];
    let groups = groups.map(|(ty, make)| (ty, make(&mut rng))).to_vec();
    super::generate::file(ALGORITHM, SCHEMA, NOTES, groups)
}

/// The file's text as committed: canonical JSON (vectors/README.md).
pub fn generate_text() -> String {
    to_canonical(&generate())
}

fn key_of(t: &Value, name: &str) -> Result<[u8; 32], String> {
    unhex(t, name)?
        .try_into()
        .map_err(|_| format!("vector {name} is not 32 bytes"))
}

fn max_output(t: &Value) -> u64 {
    t["maxOutput"].as_u64().unwrap_or(u64::MAX)
}

fn class_of(got: Result<(), dbm::Error>) -> String {
    match got {
        Ok(()) => "ok".into(),
        Err(e) => e.class().as_str().into(),
    }
}

/// One test against the reference codec: exactly `result`, and for `ok` exactly the
/// plaintext, the matched key or the pinned bytes.
fn check_one(t: &Value) -> Result<(), String> {
    let want = t["result"].as_str().ok_or("vector has no result")?;
    let mut plain = Vec::new();
    let got: Result<(), dbm::Error> = match t["op"].as_str().unwrap_or("open") {
        "open" => (|| {
            let sc = dbm::parse_sidecar(&unhex(t, "sidecar").map_err(dbm::Error::InvalidInput)?)?;
            let key = key_of(t, "key").map_err(dbm::Error::InvalidInput)?;
            let art = unhex(t, "artifact").map_err(dbm::Error::InvalidInput)?;
            dbm::open(&key, &sc, &mut Cursor::new(art), &mut plain, max_output(t)).map(|_| ())
        })(),
        "import_key" => {
            let input = t["input"].as_str().ok_or("vector has no input")?;
            dbm::import_key(input).map(|k| {
                plain = k.to_vec();
            })
        }
        "recover" => (|| {
            let sc = dbm::parse_sidecar(&unhex(t, "sidecar").map_err(dbm::Error::InvalidInput)?)?;
            let art = unhex(t, "artifact").map_err(dbm::Error::InvalidInput)?;
            let mut cands = Vec::new();
            for c in t["candidates"].as_array().into_iter().flatten() {
                let id = c["id"].as_str().unwrap_or_default().to_owned();
                cands.push((id, key_of(c, "key").map_err(dbm::Error::InvalidInput)?));
            }
            let refs: Vec<(&str, &[u8; 32])> = cands.iter().map(|(i, k)| (i.as_str(), k)).collect();
            let r = dbm::recover(&sc, &mut Cursor::new(&art), &refs)?;
            let decoys: Vec<&str> = t["decoys"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if r.id != t["matched"].as_str().unwrap_or_default() || r.decoys_skipped != decoys {
                return Err(dbm::Error::InvalidInput(format!(
                    "matched {} skipping {:?}",
                    r.id, r.decoys_skipped
                )));
            }
            let key = cands.iter().find(|(i, _)| *i == r.id).expect("matched").1;
            dbm::open(&key, &sc, &mut Cursor::new(&art), &mut plain, u64::MAX).map(|_| ())
        })(),
        "seal" => (|| {
            let key = key_of(t, "key").map_err(dbm::Error::InvalidInput)?;
            let iv = unhex(t, "iv").map_err(dbm::Error::InvalidInput)?;
            let c = Compression::ALL
                .into_iter()
                .find(|c| Some(c.as_str()) == t["compression"].as_str())
                .ok_or_else(|| dbm::Error::InvalidInput("compression".into()))?;
            let input = unhex(t, "plaintext").map_err(dbm::Error::InvalidInput)?;
            let mut art = Vec::new();
            let sc = dbm::seal(&key, &iv, c, "p", None, &input[..], &mut art)?;
            if let Some(want) = t.get("artifact") {
                let want = hex::decode(want.as_str().unwrap_or_default()).unwrap_or_default();
                if art != want || Some(h(&sc.auth_tag).as_str()) != t["authTag"].as_str() {
                    return Err(dbm::Error::InvalidInput("sealed other bytes".into()));
                }
            }
            dbm::open(&key, &sc, &mut Cursor::new(&art), &mut plain, u64::MAX).map(|_| ())
        })(),
        other => return Err(format!("unknown op {other:?}")),
    };
    let class = class_of(got);
    if class != want {
        return Err(format!("expected {want}, got {class}"));
    }
    let expected = match t["op"].as_str() {
        Some("import_key") => t.get("key").map(|_| unhex(t, "key")).transpose()?,
        _ => t
            .get("plaintext")
            .map(|_| unhex(t, "plaintext"))
            .transpose()?,
    };
    match expected {
        Some(p) if want == "ok" && p != plain => Err(format!("gave {}", h(&plain))),
        _ => Ok(()),
    }
}

/// Every test of the file against the reference codec, as `(tcId, outcome)`.
pub fn check(file_json: &Value) -> Vec<(u64, Result<(), String>)> {
    check_each(file_json, check_one)
}

/// The request an adapter gets for a test (docs/profiles/dbm-stream-v1.md §8).
fn request(t: &Value, op: &str) -> Result<Value, String> {
    let fields: &[&str] = match op {
        "open" => &["key", "sidecar", "artifact", "maxOutput"],
        "seal" => &["key", "iv", "compression", "profileId", "plaintext"],
        "import_key" => &["input"],
        "recover" => &["sidecar", "artifact", "candidates"],
        other => return Err(format!("unknown op {other:?}")),
    };
    Ok(request_of(PROFILE, t, fields))
}

/// What is wrong with an `ok` answer, if anything.
fn wrong_ok(t: &Value, op: &str, result: &Value) -> Result<Option<String>, String> {
    Ok(match op {
        "import_key" => {
            let got = result["key"].as_str().unwrap_or_default();
            (got != t["key"].as_str().unwrap_or_default())
                .then(|| format!("exported {got:?}, expected the lower-case key"))
        }
        "recover" if result["matched"] != t["matched"] => Some(format!(
            "matched {}, expected {}",
            result["matched"], t["matched"]
        )),
        "seal" => {
            let art = hex_answer(result, "artifact")?;
            let sc = dbm::parse_sidecar(&hex_answer(result, "sidecar")?)
                .map_err(|e| format!("the sidecar it wrote: {e}"))?;
            let key = key_of(t, "key")?;
            let mut plain = Vec::new();
            if let Some(want) = t.get("artifact")
                && Some(h(&art).as_str()) != want.as_str()
            {
                return Ok(Some(format!(
                    "an artifact of {} bytes, expected {} (the ciphertext alone)",
                    art.len(),
                    want.as_str().unwrap_or_default().len() / 2
                )));
            }
            match dbm::open(&key, &sc, &mut Cursor::new(&art), &mut plain, u64::MAX) {
                Ok(_) if plain == unhex(t, "plaintext")? => None,
                Ok(_) => Some("what it sealed opens to another dump".into()),
                Err(e) => Some(format!("what it sealed does not open: {e}")),
            }
        }
        _ => {
            let got = hex_answer(result, "plaintext")?;
            (got != unhex(t, "plaintext")?)
                .then(|| format!("restored {} bytes that differ", got.len()))
        }
    })
}

/// Why another class a tag-failure or no-match vector `accept`s passes.
const NO_KEY_CHECK_REASON: &str = "the design has no key check, so a wrong key and damage are the same tag failure (advisory no-key-check; docs/profiles/dbm-stream-v1.md §5)";

fn run_through(t: &Value, imp: &mut AdapterImplementation) -> Result<CaseOutcome, String> {
    let op = t["op"].as_str().unwrap_or("open");
    if !imp.offers(PROFILE, op) {
        return Ok(CaseOutcome::Unsupported { op: op.into() });
    }
    let allowed = allowed(t)?;
    let expected = allowed[0];
    // Every open restores to a fresh output path: after a failure it must hold nothing.
    let output = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
    let dump = output.path().join("restored.sql");
    let mut req = request(t, op)?;
    if op == "open" {
        req["output"] = json!(dump.to_string_lossy());
    }
    let mut answer = imp.call_json(op, req)?;
    let released = std::fs::read(&dump).unwrap_or_default();
    match &mut answer {
        Err(e) if !released.is_empty() => {
            return Ok(CaseOutcome::Fail {
                expected: format!("{} and nothing at the output path", allowed.join(" or ")),
                observed: format!(
                    "{} with {} bytes of unauthenticated plaintext left at the output path (advisory plaintext-before-tag)",
                    e.class,
                    released.len()
                ),
            });
        }
        // The dump went to the file: check it as if it had come in the answer.
        Ok(result) if op == "open" && result.get("plaintext").is_none() => {
            result["plaintext"] = json!(h(&released));
        }
        _ => {}
    }
    grade(op, &allowed, &answer, &mut |r| wrong_ok(t, op, r), &|got| {
        same_failure(got, expected, NO_KEY_CHECK_REASON)
    })
}

/// How `backproof vectors check` and `backproof run` check this file (`super::check_profile`).
pub(super) const RUNNER: Runner<'static> = Runner {
    file: FILE,
    profile: PROFILE,
    through: &|_, t, a| run_through(t, a),
    local: &check_one,
};

#[cfg(test)]
mod tests {
    use super::super::profile_file::{assert_matches_schema, assert_regenerates, tests};
    use super::*;

    fn generated() -> &'static Value {
        static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
        DOC.get_or_init(generate)
    }

    #[test]
    fn regeneration_gives_the_committed_file_and_every_vector_checks() {
        assert_regenerates(FILE, generated(), "BACKPROOF_WRITE_DBM_VECTORS", check);
    }

    /// Each group's first test with its expectation changed must fail the checker.
    #[test]
    fn the_checker_notices_wrong_expectations() {
        let doc = generated();
        let groups = doc["testGroups"].as_array().unwrap();
        for (g, group) in groups.iter().enumerate() {
            let t = &group["tests"][0];
            let mut bad = t.clone();
            if t["result"] == "ok" {
                bad["result"] = json!("corrupted");
            } else {
                bad["result"] = json!("ok");
            }
            assert!(check_one(&bad).is_err(), "group {g}: {}", t["comment"]);
        }
        // A wrong plaintext, a wrong match, a wrong decoy list.
        let rec = groups.iter().find(|g| g["type"] == "DbmRecovery").unwrap();
        let mut bad = rec["tests"][1].clone();
        bad["matched"] = json!("decoy-a");
        assert!(check_one(&bad).is_err());
        let mut bad = rec["tests"][1].clone();
        bad["decoys"] = json!([]);
        assert!(check_one(&bad).is_err());
        let mut bad = groups[0]["tests"][0].clone();
        bad["plaintext"] = json!("00");
        assert!(check_one(&bad).is_err());
    }

    #[test]
    fn file_matches_its_schema() {
        assert_matches_schema(
            SCHEMA,
            generated(),
            &[
                ("result", json!("tag_mismatch")),
                ("artifact", json!("ABCD")),
                ("op", json!("restore")),
            ],
        );
    }

    /// The decoys are real: a heuristic-only recovery (the first candidate whose first
    /// bytes look like a dump) takes a decoy in every decoy vector that has a match.
    #[test]
    fn a_heuristic_only_recovery_takes_a_decoy() {
        let mut decoy_vectors = 0;
        for t in tests(generated()).filter(|t| t["op"] == "recover" && t["result"] == "ok") {
            let art = unhex(t, "artifact").unwrap();
            let sc = dbm::parse_sidecar(&unhex(t, "sidecar").unwrap()).unwrap();
            let head = &art[..art.len().min(dbm::HEURISTIC_LEN)];
            let first = t["candidates"].as_array().unwrap().iter().find(|c| {
                let k = key_of(c, "key").unwrap();
                dbm::heuristic_accepts(
                    &dbm::decrypt_prefix_unauthenticated(&k, &sc.iv, head).unwrap(),
                ) || c["id"] == sc.profile_id.as_str()
            });
            if t["decoys"].as_array().unwrap().is_empty() {
                continue;
            }
            decoy_vectors += 1;
            assert_ne!(first.unwrap()["id"], t["matched"], "{}", t["comment"]);
        }
        assert_eq!(decoy_vectors, 4);
    }

    /// Finds decoy counters again (about 2^24 trials per gzip decoy: run it in release).
    #[test]
    #[ignore]
    fn search_decoys() {
        for (what, s, gzip, want) in [
            ("GZIP_DECOYS_IV12", recovery_artifact(12), true, 2),
            ("GZIP_DECOYS_IV16", recovery_artifact(16), true, 1),
            ("PRINTABLE_DECOYS", short_sql_artifact(), false, 1),
        ] {
            let found: Vec<u64> = (0u64..)
                .filter(|&i| is_decoy(&decoy_key(i), &s.sidecar.iv, &s.artifact, gzip))
                .take(want)
                .collect();
            println!("{what}: {found:?}");
        }
    }
}
