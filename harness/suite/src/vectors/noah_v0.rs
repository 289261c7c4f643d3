//! Vectors of profile `noah-v0` (docs/profiles/noah-v0.md §6): the seeded generator of
//! `vectors/noah-v0/noah-v0.json` and a checker against
//! `backproof_format::profiles::noah_v0`, in process or through an adapter. Confirmed
//! independently by ci/crosscheck/noah_v0.py.
//!
//! `result` is the profile's answer (the codec gives exactly it); `accept` lists the other
//! classes a conforming implementation may give because the design has no key check.

use backproof_format::profiles::noah_v0 as noah;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{Value, json};

use super::generate::{arr, bytes, h};
use super::json::to_canonical;
use super::profile_file::{Runner, allowed, check_each, grade, hex_answer, same_failure, unhex};
use super::{AdapterImplementation, CaseOutcome};

/// Where the file lives, relative to the vectors directory.
pub const FILE: &str = "noah-v0/noah-v0.json";
pub const SCHEMA: &str = "noah-v0.schema.json";
const ALGORITHM: &str = "BACKPROOF-NOAH-V0";
const PROFILE: &str = noah::NAME;

/// A tag failure cannot say whether the seedphrase or the body is wrong (no-key-check).
const TAG_ACCEPT: &[&str] = &["corrupted", "wrong_key_or_corrupted"];

/// The BIP-39 test mnemonics: what a Noah seedphrase looks like.
const SEED12: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const SEED24: &str = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote";
/// A seedphrase with a precomposed letter (NFC), and the same text decomposed (NFD).
const SEED_NFC: &str = "caf\u{e9} m\u{fc}sli abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const SEED_NFD: &str = "cafe\u{301} mu\u{308}sli abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
/// The first bytes of every SQLite database file, which a wallet database is.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

const NOTES: &[super::generate::Note] = &[
    (
        "NoKeyCheck",
        "AUTHENTICATION",
        "The design has no key check: a wrong seedphrase and a changed body are the same GCM tag failure. `result` is the profile's class (wrong_key); `accept` lists corrupted and wrong_key_or_corrupted (advisory no-key-check).",
    ),
    (
        "NoNormalization",
        "WRONG_SECRET",
        "The seedphrase's UTF-8 bytes are used exactly as given: a trailing newline, a doubled space, another case or the NFD form of the same text is another key and another salt.",
    ),
    (
        "DeterministicSalt",
        "WEAK_KDF",
        "The salt is SHA-256(seedphrase)[:16]: equal seedphrases give equal keys (advisory deterministic-salt).",
    ),
    (
        "StrictBase64",
        "MALFORMED_INPUT",
        "The body is canonical standard base64 with padding and nothing else; a lenient decoder that skips whitespace or foreign characters, or takes the URL-safe alphabet or missing padding, opens bytes the writers never produce.",
    ),
    (
        "ShortBody",
        "TRUNCATION",
        "A body that decodes to fewer than 28 bytes has no room for the 12-byte IV and the 16-byte tag: corrupted, before any key is derived.",
    ),
    (
        "EmptyDatabase",
        "EDGE_CASE",
        "Exactly 28 decoded bytes: an IV, an empty ciphertext and a tag. The profile opens it to an empty database.",
    ),
];

/// A wallet database of `n` bytes: the SQLite magic and random pages.
fn database(rng: &mut ChaCha20Rng, n: usize) -> Vec<u8> {
    let mut db = SQLITE_MAGIC.to_vec();
    db.extend(bytes(rng, n.saturating_sub(SQLITE_MAGIC.len())));
    db.truncate(n);
    db
}

/// A sealed body and what it holds.
struct Sealed {
    seedphrase: &'static str,
    iv: [u8; 12],
    plaintext: Vec<u8>,
    body: Vec<u8>,
}

impl Sealed {
    fn new(seedphrase: &'static str, iv: [u8; 12], plaintext: Vec<u8>) -> Sealed {
        let body = noah::seal(seedphrase, &plaintext, iv).expect("valid seal");
        Sealed {
            seedphrase,
            iv,
            plaintext,
            body,
        }
    }

    fn random(rng: &mut ChaCha20Rng, seedphrase: &'static str, n: usize) -> Sealed {
        let iv = arr::<12>(rng);
        let db = database(rng, n);
        Sealed::new(seedphrase, iv, db)
    }

    /// The decoded body.
    fn raw(&self) -> Vec<u8> {
        STANDARD.decode(&self.body).expect("own body")
    }

    fn opens(&self, comment: &str, flags: &[&str]) -> Value {
        json!({
            "op": "open",
            "comment": comment,
            "flags": flags,
            "seedphrase": self.seedphrase,
            "body": h(&self.body),
            "result": "ok",
            "plaintext": h(&self.plaintext),
        })
    }
}

fn refused(comment: &str, flags: &[&str], seedphrase: &str, body: &[u8], result: &str) -> Value {
    let mut t = json!({
        "op": "open",
        "comment": comment,
        "flags": flags,
        "seedphrase": seedphrase,
        "body": h(body),
        "result": result,
    });
    if result == "wrong_key" {
        t["accept"] = json!(TAG_ACCEPT);
    }
    t
}

fn round(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = Vec::new();
    // Three lengths per seedphrase so that the body ends in "==", "=" and no padding.
    for (seed, what) in [
        (SEED12, "12-word seedphrase"),
        (SEED24, "24-word seedphrase"),
        (SEED_NFC, "seedphrase with non-ASCII letters (NFC)"),
        (SEED_NFD, "seedphrase with combining marks (NFD)"),
    ] {
        for n in [4096, 4097, 4098] {
            let s = Sealed::random(rng, seed, n);
            out.push(s.opens(&format!("{what}, {n}-byte database"), &[]));
        }
    }
    let s = Sealed::new(SEED12, arr::<12>(rng), Vec::new());
    out.push(s.opens(
        "empty database: 28 decoded bytes, IV and tag only",
        &["EmptyDatabase"],
    ));
    for n in [1, 2, 3, 16, 100_000] {
        let s = Sealed::random(rng, SEED12, n);
        out.push(s.opens(&format!("{n}-byte database"), &[]));
    }
    let s = Sealed::new("x", arr::<12>(rng), database(rng, 64));
    out.push(s.opens(
        "a one-character seedphrase (the design checks nothing about it)",
        &[],
    ));
    out
}

fn keys(_rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = Vec::new();
    let doubled = SEED12.replacen(' ', "  ", 1);
    let newline = format!("{SEED12}\n");
    let crlf = format!("{SEED12}\r\n");
    let leading = format!(" {SEED12}");
    let upper = SEED12.to_uppercase();
    let phrases: Vec<(String, &str, &[&str])> = vec![
        (SEED12.into(), "12-word seedphrase", &["DeterministicSalt"]),
        (SEED24.into(), "24-word seedphrase", &[]),
        (newline, "with a trailing newline", &["NoNormalization"]),
        (crlf, "with a trailing CR LF", &["NoNormalization"]),
        (doubled, "with a doubled space", &["NoNormalization"]),
        (leading, "with a leading space", &["NoNormalization"]),
        (upper, "in upper case", &["NoNormalization"]),
        (SEED_NFC.into(), "non-ASCII, NFC", &[]),
        (
            SEED_NFD.into(),
            "the same text NFD (combining marks)",
            &["NoNormalization"],
        ),
        ("x".into(), "one character", &[]),
    ];
    for (p, what, flags) in phrases {
        let key = noah::derive_key(&p).expect("non-empty");
        out.push(json!({
            "op": "derive",
            "comment": format!("key and salt of the {what}"),
            "flags": flags,
            "seedphrase": p,
            "result": "ok",
            "salt": h(&noah::salt(&p)),
            "key": h(&key[..]),
        }));
    }
    out.push(json!({
        "op": "derive",
        "comment": "an empty seedphrase is refused",
        "flags": [],
        "seedphrase": "",
        "result": "malformed",
    }));
    out
}

fn no_normalization(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = Vec::new();
    let s = Sealed::random(rng, SEED12, 1000);
    let others = [
        (format!("{SEED12}\n"), "a trailing newline"),
        (format!("{SEED12}\r\n"), "a trailing CR LF"),
        (SEED12.replacen(' ', "  ", 1), "a doubled space"),
        (format!(" {SEED12}"), "a leading space"),
        (format!("{SEED12} "), "a trailing space"),
        (SEED12.to_uppercase(), "upper case"),
        (SEED12.replace(' ', "\t"), "tabs for spaces"),
    ];
    for (p, what) in others {
        out.push(refused(
            &format!("sealed with the seedphrase, opened with {what}"),
            &["NoNormalization", "NoKeyCheck"],
            &p,
            &s.body,
            "wrong_key",
        ));
    }
    let nfc = Sealed::random(rng, SEED_NFC, 1000);
    out.push(refused(
        "sealed with the NFC form, opened with the NFD form of the same text",
        &["NoNormalization", "NoKeyCheck"],
        SEED_NFD,
        &nfc.body,
        "wrong_key",
    ));
    let nfd = Sealed::random(rng, SEED_NFD, 1000);
    out.push(refused(
        "sealed with the NFD form, opened with the NFC form of the same text",
        &["NoNormalization", "NoKeyCheck"],
        SEED_NFC,
        &nfd.body,
        "wrong_key",
    ));
    out.push(refused(
        "another wallet's seedphrase",
        &["NoKeyCheck"],
        SEED24,
        &s.body,
        "wrong_key",
    ));
    out.push(refused(
        "the last word changed",
        &["NoKeyCheck"],
        &SEED12.replace("about", "above"),
        &s.body,
        "wrong_key",
    ));
    out
}

/// A body whose base64 holds both '+' and '/', so that its URL-safe spelling differs, and
/// ends in "==" (201 + 28 bytes is 1 mod 3). The chance that 305 characters lack either
/// is about 2 · (63/64)^305 ≈ 1.7 %, so a few draws at most.
fn body_with_plus_and_slash(rng: &mut ChaCha20Rng) -> Sealed {
    for _ in 0..100 {
        let s = Sealed::random(rng, SEED12, 201);
        if s.body.contains(&b'+') && s.body.contains(&b'/') {
            assert!(s.body.ends_with(b"=="));
            return s;
        }
    }
    unreachable!("100 draws without both '+' and '/'")
}

fn base64(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = Vec::new();
    let s = body_with_plus_and_slash(rng);
    let body = String::from_utf8(s.body.clone()).expect("ASCII");
    let raw = s.raw();
    let f: &[&str] = &["StrictBase64"];
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("a trailing newline".into(), format!("{body}\n").into()),
        ("a trailing CR LF".into(), format!("{body}\r\n").into()),
        ("a leading space".into(), format!(" {body}").into()),
        ("a space in the middle".into(), {
            let (a, b) = body.split_at(40);
            format!("{a} {b}").into()
        }),
        (
            "line breaks every 76 characters (MIME)".into(),
            body.as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).expect("ASCII"))
                .collect::<Vec<_>>()
                .join("\r\n")
                .into(),
        ),
        (
            "padding removed".into(),
            STANDARD_NO_PAD.encode(&raw).into(),
        ),
        (
            "one padding character too many".into(),
            format!("{body}=").into(),
        ),
        (
            "the URL-safe alphabet ('-' and '_')".into(),
            URL_SAFE.encode(&raw).into(),
        ),
        ("a '*' in the middle".into(), {
            let (a, b) = body.split_at(40);
            format!("{a}*{b}").into()
        }),
        ("a NUL byte at the end".into(), {
            let mut v = s.body.clone();
            v.push(0);
            v
        }),
        ("a byte that is not ASCII".into(), {
            let mut v = s.body.clone();
            v[10] = 0xc3;
            v
        }),
        (
            "wrapped in JSON quotes".into(),
            format!("\"{body}\"").into(),
        ),
        ("hex instead of base64".into(), h(&raw).into()),
    ];
    // The last character before "==" carries 4 bits that must be zero.
    let mut stray = s.body.clone();
    let at = stray.len() - 3;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let pos = alphabet
        .iter()
        .position(|c| *c == stray[at])
        .expect("alphabet");
    stray[at] = alphabet[pos | 1];
    if stray != s.body {
        cases.push((
            "non-zero bits after the last byte (non-canonical)".into(),
            stray,
        ));
    }
    for (what, b) in cases {
        out.push(refused(
            &format!("the body with {what}"),
            f,
            s.seedphrase,
            &b,
            "malformed",
        ));
    }
    out
}

fn short(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = Vec::new();
    let s = Sealed::random(rng, SEED12, 100);
    let raw = s.raw();
    out.push(refused(
        "an empty object",
        &["ShortBody"],
        SEED12,
        b"",
        "corrupted",
    ));
    for n in [1, 12, 16, 27] {
        out.push(refused(
            &format!("decodes to {n} bytes"),
            &["ShortBody"],
            SEED12,
            STANDARD.encode(&raw[..n]).as_bytes(),
            "corrupted",
        ));
    }
    out.push(refused(
        "28 random bytes: long enough, but the tag fails",
        &["NoKeyCheck", "EmptyDatabase"],
        SEED12,
        STANDARD.encode(bytes(rng, 28)).as_bytes(),
        "wrong_key",
    ));
    out
}

fn tags(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = Vec::new();
    let s = Sealed::random(rng, SEED12, 3000);
    let raw = s.raw();
    let enc = |r: &[u8]| STANDARD.encode(r).into_bytes();
    let flip = |i: usize| {
        let mut r = raw.clone();
        r[i] ^= 0x01;
        enc(&r)
    };
    let last = raw.len() - 1;
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("first IV byte flipped", flip(0)),
        ("last IV byte flipped", flip(11)),
        ("first ciphertext byte flipped", flip(12)),
        ("middle ciphertext byte flipped", flip(raw.len() / 2)),
        ("first tag byte flipped", flip(last - 15)),
        ("last tag byte flipped", flip(last)),
        ("one byte cut from the end", enc(&raw[..last])),
        ("one byte appended", enc(&[&raw[..], &[0]].concat())),
        (
            "the tag in front of the IV",
            enc(&[&raw[last - 15..], &raw[..last - 15]].concat()),
        ),
        (
            "without the tag (IV ‖ ciphertext only)",
            enc(&raw[..last - 15]),
        ),
    ];
    let other = Sealed::new(SEED12, arr::<12>(rng), s.plaintext.clone());
    cases.push((
        "the IV of another seal of the same database",
        enc(&[&other.raw()[..12], &raw[12..]].concat()),
    ));
    for (what, b) in cases {
        out.push(refused(what, &["NoKeyCheck"], SEED12, &b, "wrong_key"));
    }
    out
}

fn order(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let s = Sealed::random(rng, SEED12, 500);
    let short = STANDARD.encode(&s.raw()[..20]);
    vec![
        refused(
            "an empty seedphrase with a good body",
            &[],
            "",
            &s.body,
            "malformed",
        ),
        refused(
            "an empty seedphrase and a short body: the seedphrase is checked first",
            &[],
            "",
            short.as_bytes(),
            "malformed",
        ),
        refused(
            "a wrong seedphrase and a body that is not base64: the body's form comes first",
            &["StrictBase64"],
            SEED24,
            format!("{}\n", String::from_utf8_lossy(&s.body)).as_bytes(),
            "malformed",
        ),
        refused(
            "a wrong seedphrase and a short body: corrupted before any key is derived",
            &["ShortBody"],
            SEED24,
            short.as_bytes(),
            "corrupted",
        ),
    ]
}

fn seals(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = Vec::new();
    for (seed, n) in [
        (SEED12, 0),
        (SEED12, 2048),
        (SEED24, 2049),
        (SEED_NFD, 2050),
    ] {
        let s = Sealed::random(rng, seed, n);
        out.push(json!({
            "op": "seal",
            "comment": format!("a {n}-byte database with a fixed IV: exactly this body"),
            "flags": if n == 0 { vec!["EmptyDatabase"] } else { vec![] },
            "seedphrase": s.seedphrase,
            "iv": h(&s.iv),
            "plaintext": h(&s.plaintext),
            "result": "ok",
            "body": h(&s.body),
        }));
    }
    out.push(json!({
        "op": "seal",
        "comment": "an empty seedphrase is refused",
        "flags": [],
        "seedphrase": "",
        "iv": h(&arr::<12>(rng)),
        "plaintext": h(SQLITE_MAGIC),
        "result": "malformed",
    }));
    out
}

pub fn generate() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(0x6e6f_6168_2d76_3030);
    type Group = fn(&mut ChaCha20Rng) -> Vec<Value>;
    let groups: [(&str, Group); 8] = [
        ("NoahRoundTrip", round),
        ("NoahKeySchedule", keys),
        ("NoahWrongSeedphrase", no_normalization),
        ("NoahBase64", base64),
        ("NoahShortBody", short),
        ("NoahTagFailure", tags),
        ("NoahOrder", order),
        ("NoahSeal", seals),
    ];
    let groups = groups.map(|(ty, make)| (ty, make(&mut rng))).to_vec();
    super::generate::file(ALGORITHM, SCHEMA, NOTES, groups)
}

/// The file's text as committed: canonical JSON (vectors/README.md).
pub fn generate_text() -> String {
    to_canonical(&generate())
}

fn seedphrase(t: &Value) -> Result<&str, String> {
    t["seedphrase"]
        .as_str()
        .ok_or_else(|| "vector has no seedphrase".to_owned())
}

fn iv_of(t: &Value) -> Result<[u8; noah::IV_LEN], String> {
    unhex(t, "iv")?
        .try_into()
        .map_err(|_| "vector iv is not 12 bytes".to_owned())
}

/// One test against the reference codec: exactly `result`, and for `ok` exactly the
/// plaintext, the key and salt, or the body.
fn check_one(t: &Value) -> Result<(), String> {
    let want = t["result"].as_str().ok_or("vector has no result")?;
    let seed = seedphrase(t)?;
    type Outputs = Vec<(&'static str, Vec<u8>)>;
    let (got, out): (Result<(), noah::Error>, Outputs) = match t["op"].as_str() {
        Some("open") => match noah::open(seed, &unhex(t, "body")?) {
            Ok(o) => (Ok(()), vec![("plaintext", o.plaintext.to_vec())]),
            Err(e) => (Err(e), vec![]),
        },
        Some("derive") => match noah::derive_key(seed) {
            Ok(k) => (
                Ok(()),
                vec![("key", k.to_vec()), ("salt", noah::salt(seed).to_vec())],
            ),
            Err(e) => (Err(e), vec![]),
        },
        Some("seal") => match noah::seal(seed, &unhex(t, "plaintext")?, iv_of(t)?) {
            Ok(b) => (Ok(()), vec![("body", b)]),
            Err(e) => (Err(e), vec![]),
        },
        other => return Err(format!("unknown op {other:?}")),
    };
    let class = match &got {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.class().as_str().to_owned(),
    };
    if class != want {
        return Err(format!("expected {want}, got {class}"));
    }
    for (name, value) in out {
        if unhex(t, name)? != value {
            return Err(format!("gave {name} {}", h(&value)));
        }
    }
    Ok(())
}

/// Every test of the file against the reference codec, as `(tcId, outcome)`.
pub fn check(file_json: &Value) -> Vec<(u64, Result<(), String>)> {
    check_each(file_json, check_one)
}

/// The request an adapter gets for a test (docs/profiles/noah-v0.md §7).
fn request(t: &Value, op: &str) -> Result<Value, String> {
    let seed = seedphrase(t)?;
    let mut r = json!({ "profile": PROFILE });
    match op {
        "open" => {
            r["secret"] = json!({ "passphrase": seed });
            r["blob"] = t["body"].clone();
        }
        "seal" => {
            r["secret"] = json!({ "passphrase": seed });
            r["plaintext"] = t["plaintext"].clone();
            r["nonce"] = t["iv"].clone();
        }
        "derive" => r["passphrase"] = json!(seed),
        other => return Err(format!("unknown op {other:?}")),
    }
    Ok(r)
}

/// What is wrong with an `ok` answer, if anything.
fn wrong_ok(t: &Value, op: &str, result: &Value) -> Result<Option<String>, String> {
    let (answer, vector) = match op {
        "open" => ("plaintext", "plaintext"),
        "seal" => ("blob", "body"),
        _ => ("ikm", "key"),
    };
    let got = hex_answer(result, answer)?;
    Ok((got != unhex(t, vector)?).then(|| {
        format!(
            "{op} gave {} bytes of `{answer}` that differ from the vector's `{vector}`",
            got.len()
        )
    }))
}

/// Why another class a tag-failure vector `accept`s passes.
const NO_KEY_CHECK_REASON: &str = "the design has no key check, so a wrong seedphrase and damage are the same tag failure (advisory no-key-check; docs/profiles/noah-v0.md §4)";

fn run_through(t: &Value, imp: &mut AdapterImplementation) -> Result<CaseOutcome, String> {
    let op = t["op"].as_str().unwrap_or("open");
    if !imp.offers(PROFILE, op) {
        return Ok(CaseOutcome::Unsupported { op: op.into() });
    }
    let allowed = allowed(t)?;
    let expected = allowed[0];
    let answer = imp.call_json(op, request(t, op)?)?;
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
        assert_regenerates(FILE, generated(), "BACKPROOF_WRITE_NOAH_VECTORS", check);
    }

    /// Each group's first test with its expectation changed must fail the checker, and so
    /// must a changed plaintext, key, salt or body.
    #[test]
    fn the_checker_notices_wrong_expectations() {
        let doc = generated();
        for (g, group) in doc["testGroups"].as_array().unwrap().iter().enumerate() {
            let t = &group["tests"][0];
            let mut bad = t.clone();
            bad["result"] = json!(if t["result"] == "ok" {
                "corrupted"
            } else {
                "ok"
            });
            assert!(check_one(&bad).is_err(), "group {g}: {}", t["comment"]);
        }
        for (op, field) in [
            ("open", "plaintext"),
            ("derive", "key"),
            ("derive", "salt"),
            ("seal", "body"),
        ] {
            let t = tests(doc)
                .find(|t| t["op"] == op && t["result"] == "ok")
                .unwrap();
            let mut bad = t.clone();
            let mut v = unhex(t, field).unwrap();
            v[0] ^= 1;
            bad[field] = json!(h(&v));
            assert!(check_one(&bad).is_err(), "{op} {field}");
        }
    }

    /// The readings the profile doc lists are each pinned by at least one vector.
    #[test]
    fn every_reading_is_pinned() {
        let doc = generated();
        let flagged = |flag: &str| {
            tests(doc)
                .filter(|t| t["flags"].as_array().unwrap().contains(&json!(flag)))
                .count()
        };
        for flag in [
            "NoNormalization",
            "StrictBase64",
            "ShortBody",
            "EmptyDatabase",
            "DeterministicSalt",
        ] {
            assert!(flagged(flag) > 0, "{flag}");
        }
        // The NFD and NFC forms really are different strings and give different keys.
        assert_ne!(SEED_NFC, SEED_NFD);
        assert_ne!(
            *noah::derive_key(SEED_NFC).unwrap(),
            *noah::derive_key(SEED_NFD).unwrap()
        );
    }

    #[test]
    fn file_matches_its_schema() {
        assert_matches_schema(
            SCHEMA,
            generated(),
            &[
                ("result", json!("tag_mismatch")),
                ("body", json!("ABCD")),
                ("op", json!("restore")),
            ],
        );
    }
}
