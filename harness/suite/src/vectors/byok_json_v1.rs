//! Vectors of profile `byok-json-v1` (docs/profiles/byok-json-v1.md): the seeded generator
//! of `vectors/byok-json-v1/byok-json-v1.json` and an in-process checker against
//! `backproof_format::profiles::byok_json_v1`. Confirmed independently by ci/crosscheck.
//!
//! Blobs that the codec would never write (mistyped members, bad base64, tampering) are
//! built as JSON text member by member, so that every vector spells out exactly one fault
//! and the file does not depend on serde_json's map ordering.

use backproof_format::KdfParams;
use backproof_format::profiles::byok_json_v1::{self as byok, Kdf, SealParams};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{Value, json};

use super::generate::{arr, bytes, h, quoted as s};
use super::json::to_canonical;
use super::profile_file::{Runner, check_each, unhex};
use super::{AdapterImplementation, CaseOutcome};

/// Where the file lives, relative to the vectors directory.
pub const FILE: &str = "byok-json-v1/byok-json-v1.json";
pub const SCHEMA: &str = "byok-json-v1.schema.json";
const ALGORITHM: &str = "BACKPROOF-BYOK-JSON-V1";

const PW: &str = "correct horse battery staple";
const T_CREATED: &str = "2026-03-14T09:26:53.589Z";
const T_UPDATED: &str = "2026-03-15T18:02:11.004Z";

const NOTES: &[super::generate::Note] = &[
    (
        "RoundTrip",
        "FUNCTIONALITY",
        "Sealing the plaintext with the given kdf, salt, nonce and timestamps gives a blob whose JSON value equals this one (member order and whitespace are not significant); opening gives the plaintext.",
    ),
    (
        "DesignDefaults",
        "FUNCTIONALITY",
        "The design's own parameters: PBKDF2-HMAC-SHA512 at 600000 iterations, or Argon2id with iterations 3, memory 65536 (KiB: the design's \"64 MB\") and parallelism 4.",
    ),
    (
        "NoMinimumLength",
        "FUNCTIONALITY",
        "The design has no passphrase length rule: short and empty passphrases seal and open.",
    ),
    (
        "NoNormalization",
        "WRONG_SECRET",
        "The passphrase's UTF-8 bytes are used exactly as given: no Unicode normalization, no trimming. Another spelling is another passphrase.",
    ),
    (
        "Envelope",
        "FUNCTIONALITY",
        "Accepted spellings of the envelope: extra members (ignored), other member order, whitespace, RFC 3339 offsets and fractions, a duplicated member (the last one counts).",
    ),
    (
        "Unauthenticated",
        "FUNCTIONALITY",
        "Only encrypted_data is authenticated (GCM without associated data): changed timestamps or extra members still open.",
    ),
    (
        "Malformed",
        "MALFORMED_INPUT",
        "Not UTF-8 JSON, not an object, or a member missing or of the wrong type (open steps 1 and 4).",
    ),
    (
        "UnsupportedVersion",
        "MALFORMED_INPUT",
        "version is an integer other than 1.",
    ),
    (
        "UnsupportedKdf",
        "MALFORMED_INPUT",
        "kdf.algorithm is neither \"argon2id\" nor \"pbkdf2\" (case-sensitive).",
    ),
    (
        "KdfParamsRejected",
        "DOS",
        "KDF parameters or salt length outside the profile's bounds: refused before any derivation.",
    ),
    (
        "Base64",
        "MALFORMED_INPUT",
        "A base64 member that is not canonical standard base64 with padding: corrupted.",
    ),
    (
        "Truncated",
        "TRUNCATION",
        "encrypted_data shorter than nonce + tag (28 bytes): corrupted.",
    ),
    (
        "NoKeyCheck",
        "WRONG_SECRET",
        "GCM tag failure. The design has no key check, so a wrong passphrase and a damaged ciphertext are the same failure; the reference answers wrong_key and an implementation may answer corrupted instead (advisory no-key-check).",
    ),
    (
        "Order",
        "CHECK_ORDER",
        "Two faults at once; the expected class follows the open order of docs/profiles/byok-json-v1.md.",
    ),
    (
        "Seal",
        "FUNCTIONALITY",
        "op seal: the writer's refusals (parameters out of bounds, a timestamp that is not RFC 3339).",
    ),
];

fn pbkdf2(iterations: u32) -> Kdf {
    Kdf::Pbkdf2 { iterations }
}

fn kdf_json(kdf: &Kdf) -> Value {
    match kdf {
        Kdf::Argon2id(p) => json!({
            "algorithm": "argon2id", "iterations": p.t_cost, "memory": p.m_cost, "parallelism": p.p_cost,
        }),
        Kdf::Pbkdf2 { iterations } => json!({"algorithm": "pbkdf2", "iterations": iterations}),
    }
}

fn kdf_from_json(v: &Value) -> Result<Kdf, String> {
    let num = |name: &str| {
        v[name]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("vector kdf.{name} is not a u32"))
    };
    match v["algorithm"].as_str() {
        Some("argon2id") => Ok(Kdf::Argon2id(KdfParams {
            m_cost: num("memory")?,
            t_cost: num("iterations")?,
            p_cost: num("parallelism")?,
        })),
        Some("pbkdf2") => Ok(Kdf::Pbkdf2 {
            iterations: num("iterations")?,
        }),
        other => Err(format!("vector kdf.algorithm {other:?} is unknown")),
    }
}

/// The inputs of one pinned seal.
struct Pinned {
    sealed: std::cell::OnceCell<Vec<u8>>,
    passphrase: String,
    plaintext: Vec<u8>,
    kdf: Kdf,
    salt: Vec<u8>,
    nonce: [u8; 12],
    created_at: String,
    updated_at: String,
}

impl Pinned {
    fn new(
        rng: &mut ChaCha20Rng,
        passphrase: &str,
        plaintext: &[u8],
        kdf: Kdf,
        salt_len: usize,
    ) -> Pinned {
        Pinned {
            sealed: std::cell::OnceCell::new(),
            passphrase: passphrase.to_owned(),
            plaintext: plaintext.to_vec(),
            kdf,
            salt: bytes(rng, salt_len),
            nonce: arr(rng),
            created_at: T_CREATED.to_owned(),
            updated_at: T_UPDATED.to_owned(),
        }
    }

    fn seal(&self) -> Result<Vec<u8>, byok::Error> {
        byok::seal(
            &self.passphrase,
            &self.plaintext,
            &SealParams {
                kdf: self.kdf,
                salt: &self.salt,
                nonce: self.nonce,
                created_at: &self.created_at,
                updated_at: &self.updated_at,
            },
        )
    }

    fn blob(&self) -> Vec<u8> {
        self.sealed
            .get_or_init(|| {
                self.seal()
                    .expect("the generator's pinned inputs are within the profile's bounds")
            })
            .clone()
    }

    fn env(&self) -> Env {
        Env::from_blob(&self.blob())
    }

    /// A round-trip vector: the pinned inputs, the blob, and `ok`.
    fn vector(&self, comment: &str, flags: &[&str]) -> Value {
        let mut t = self.inputs(comment, flags);
        t["blob"] = json!(h(&self.blob()));
        t["result"] = json!("ok");
        t
    }

    fn inputs(&self, comment: &str, flags: &[&str]) -> Value {
        json!({
            "comment": comment,
            "flags": flags,
            "secret": {"passphrase": self.passphrase},
            "plaintext": h(&self.plaintext),
            "kdf": kdf_json(&self.kdf),
            "salt": h(&self.salt),
            "nonce": h(&self.nonce),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// An envelope as raw JSON members, so that a vector can change exactly one of them.
#[derive(Clone)]
struct Env {
    top: Vec<(String, String)>,
    kdf: Vec<(String, String)>,
}

impl Env {
    fn from_blob(blob: &[u8]) -> Env {
        let v: Value = serde_json::from_slice(blob).expect("the codec writes JSON");
        let raw = |v: &Value| v.to_string();
        let kdf = ["algorithm", "salt", "iterations", "memory", "parallelism"]
            .iter()
            .filter(|k| v["kdf"].get(**k).is_some())
            .map(|k| ((*k).to_owned(), raw(&v["kdf"][*k])))
            .collect();
        let top = [
            "version",
            "kdf",
            "encrypted_data",
            "created_at",
            "updated_at",
        ]
        .iter()
        .map(|k| {
            (
                (*k).to_owned(),
                if *k == "kdf" {
                    String::new()
                } else {
                    raw(&v[*k])
                },
            )
        })
        .collect();
        Env { top, kdf }
    }

    fn put(list: &mut Vec<(String, String)>, name: &str, raw: String) {
        match list.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = raw,
            None => list.push((name.to_owned(), raw)),
        }
    }

    fn set(mut self, name: &str, raw: impl Into<String>) -> Env {
        Env::put(&mut self.top, name, raw.into());
        self
    }

    fn set_kdf(mut self, name: &str, raw: impl Into<String>) -> Env {
        Env::put(&mut self.kdf, name, raw.into());
        self
    }

    fn remove(mut self, name: &str) -> Env {
        self.top.retain(|(k, _)| k != name);
        self
    }

    fn remove_kdf(mut self, name: &str) -> Env {
        self.kdf.retain(|(k, _)| k != name);
        self
    }

    fn encrypted_data(&self) -> Vec<u8> {
        let raw = &self
            .top
            .iter()
            .find(|(k, _)| k == "encrypted_data")
            .expect("present")
            .1;
        let b64: String = serde_json::from_str(raw).expect("a JSON string");
        STANDARD.decode(b64).expect("the codec writes base64")
    }

    fn with_data(self, data: &[u8]) -> Env {
        self.set("encrypted_data", s(&STANDARD.encode(data)))
    }

    fn object(members: &[(String, String)], sep: &str) -> String {
        let inner: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{}:{v}", s(k)))
            .collect();
        format!("{{{}}}", inner.join(sep))
    }

    fn text(&self) -> String {
        let kdf = Env::object(&self.kdf, ",");
        let top: Vec<(String, String)> = self
            .top
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if k == "kdf" && v.is_empty() {
                        kdf.clone()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        Env::object(&top, ",")
    }

    fn bytes(&self) -> Vec<u8> {
        self.text().into_bytes()
    }
}

fn open_vector(comment: &str, flags: &[&str], pw: &str, blob: &[u8], result: &str) -> Value {
    json!({
        "comment": comment,
        "flags": flags,
        "secret": {"passphrase": pw},
        "blob": h(blob),
        "result": result,
    })
}

fn ok_vector(comment: &str, flags: &[&str], pw: &str, blob: &[u8], plaintext: &[u8]) -> Value {
    let mut t = open_vector(comment, flags, pw, blob, "ok");
    t["plaintext"] = json!(h(plaintext));
    t
}

fn config_json(rng: &mut ChaCha20Rng) -> Vec<u8> {
    // The design backs up its API-key configuration as JSON; the suite treats it as bytes.
    let key: String = bytes(rng, 20).iter().map(|b| format!("{b:02x}")).collect();
    let idem = h(&bytes(rng, 16));
    format!(
        r#"{{"apiKey":"AIzaSy{key}","projectId":"byok-demo-4711","createdAt":"{T_CREATED}","lastValidated":"{T_UPDATED}","cloudBackupEnabled":true,"idempotencyKey":"{idem}"}}"#
    )
    .into_bytes()
}

/// The whole vector file as a JSON value.
pub fn generate() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(0xB7_0C);
    let config = config_json(&mut rng);
    let p100k = pbkdf2(byok::PBKDF2_MIN_ITERATIONS);
    let floor = Kdf::FLOOR_ARGON2ID;

    // ------------------------------------------------------------ round trips
    let seed_pbkdf2 = Pinned::new(&mut rng, PW, &config, Kdf::DESIGN_PBKDF2, 16);
    let seed_argon = Pinned::new(&mut rng, PW, &config, Kdf::DESIGN_ARGON2ID, 16);
    let base_p = Pinned::new(&mut rng, PW, b"{\"apiKey\":\"AIzaSyExample1\"}", p100k, 16);
    let base_a = Pinned::new(&mut rng, PW, b"{\"apiKey\":\"AIzaSyExample\"}", floor, 16);
    let big = bytes(&mut rng, 1000);
    let unicode_pw = "cr\u{e8}me br\u{fb}l\u{e9}e \u{d55c}\u{ad6d}\u{c5b4}";
    let round = vec![
        seed_pbkdf2.vector(
            "PBKDF2-HMAC-SHA512, the design's 600000 iterations, a configuration JSON",
            &["RoundTrip", "DesignDefaults"],
        ),
        seed_argon.vector(
            "Argon2id with the design's iterations 3, memory 65536 KiB, parallelism 4",
            &["RoundTrip", "DesignDefaults"],
        ),
        base_p.vector(
            "PBKDF2 at the lower bound, 100000 iterations",
            &["RoundTrip"],
        ),
        base_a.vector(
            "Argon2id at the v1 policy floor (memory 7168, iterations 5, parallelism 1)",
            &["RoundTrip"],
        ),
        Pinned::new(&mut rng, PW, b"", p100k, 16).vector(
            "PBKDF2, empty plaintext (28-byte encrypted_data)",
            &["RoundTrip"],
        ),
        Pinned::new(&mut rng, PW, b"", floor, 16)
            .vector("Argon2id, empty plaintext", &["RoundTrip"]),
        Pinned::new(&mut rng, PW, b"x", pbkdf2(123_457), 64).vector(
            "PBKDF2 at 123457 iterations, 64-byte salt (the maximum), 1-byte plaintext",
            &["RoundTrip"],
        ),
        Pinned::new(&mut rng, PW, &big, floor, 33).vector(
            "Argon2id, 33-byte salt, 1000-byte plaintext",
            &["RoundTrip"],
        ),
        Pinned::new(&mut rng, unicode_pw, &config, p100k, 16)
            .vector("a non-ASCII passphrase (NFC), PBKDF2", &["RoundTrip"]),
        Pinned::new(&mut rng, "pass", b"short", p100k, 16).vector(
            "a 4-character passphrase seals: no length rule",
            &["RoundTrip", "NoMinimumLength"],
        ),
        Pinned::new(&mut rng, "", b"empty", floor, 16).vector(
            "the empty passphrase seals: no length rule",
            &["RoundTrip", "NoMinimumLength"],
        ),
    ];

    // ------------------------------------------------------------ accepted spellings
    let pe = base_p.env();
    let plain = base_p.plaintext.clone();
    let pretty = {
        let data = &pe.top[2].1;
        let salt = &pe.kdf[1].1;
        format!(
            "{{\n  \"updated_at\": {},\n  \"created_at\": {},\n  \"encrypted_data\": {data},\n  \"kdf\": {{\n    \"iterations\": 100000,\n    \"salt\": {salt},\n    \"algorithm\": \"pbkdf2\"\n  }},\n  \"version\": 1\n}}\n",
            s(T_UPDATED),
            s(T_CREATED)
        )
    };
    let duplicated = pe
        .text()
        .replacen("{\"version\":1", "{\"version\":2,\"version\":1", 1);
    let envelope = vec![
        ok_vector(
            "extra top-level members are ignored",
            &["Envelope"],
            PW,
            &pe.clone()
                .set("device", s("pixel-9"))
                .set("note", "{\"nested\":[1,2.5,null,true]}")
                .bytes(),
            &plain,
        ),
        ok_vector(
            "pbkdf2 with memory and parallelism members as an Argon2id-shaped writer leaves them: ignored",
            &["Envelope"],
            PW,
            &pe.clone()
                .set_kdf("memory", "65536")
                .set_kdf("parallelism", "4")
                .bytes(),
            &plain,
        ),
        ok_vector(
            "pretty-printed, members in reverse order, trailing newline",
            &["Envelope"],
            PW,
            pretty.as_bytes(),
            &plain,
        ),
        ok_vector(
            "a non-ASCII extra member (UTF-8)",
            &["Envelope"],
            PW,
            &pe.clone()
                .set("label", s("Sch\u{fc}ssel \u{1f511}"))
                .bytes(),
            &plain,
        ),
        ok_vector(
            "timestamps with a +05:30 offset and microseconds",
            &["Envelope"],
            PW,
            &pe.clone()
                .set("created_at", s("2026-03-14T14:56:53.589123+05:30"))
                .set("updated_at", s("2026-03-15T18:02:11-00:00"))
                .bytes(),
            &plain,
        ),
        ok_vector(
            "lower-case t and z separators (RFC 3339 section 5.6)",
            &["Envelope"],
            PW,
            &pe.clone()
                .set("created_at", s("2026-03-14t09:26:53z"))
                .bytes(),
            &plain,
        ),
        ok_vector(
            "a leap second, 23:59:60",
            &["Envelope"],
            PW,
            &pe.clone()
                .set("updated_at", s("2016-12-31T23:59:60Z"))
                .bytes(),
            &plain,
        ),
        ok_vector(
            "version given twice, 2 then 1: the last member counts",
            &["Envelope"],
            PW,
            duplicated.as_bytes(),
            &plain,
        ),
        ok_vector(
            "created_at changed after sealing still opens: the timestamps are not authenticated",
            &["Unauthenticated"],
            PW,
            &pe.clone()
                .set("created_at", s("1999-01-01T00:00:00Z"))
                .bytes(),
            &plain,
        ),
    ];

    // ------------------------------------------------------------ malformed
    let mal =
        |comment: &str, blob: Vec<u8>| open_vector(comment, &["Malformed"], PW, &blob, "malformed");
    let ae = base_a.env();
    let text = pe.text();
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(text.as_bytes());
    let mut not_utf8 = text.clone().into_bytes();
    let at = not_utf8.len() - 2;
    not_utf8.insert(at, 0xff);
    let malformed = vec![
        mal("empty input", Vec::new()),
        mal("not JSON", b"api_key_backup".to_vec()),
        mal(
            "a JSON array holding the envelope",
            format!("[{text}]").into_bytes(),
        ),
        mal("a JSON string", s(&text).into_bytes()),
        mal("JSON null", b"null".to_vec()),
        mal("a byte that is not UTF-8 inside a string", not_utf8),
        mal("a UTF-8 byte order mark before the object", bom),
        mal(
            "a second value after the object",
            format!("{text} {{}}").into_bytes(),
        ),
        mal(
            "the object cut before its closing brace",
            text.as_bytes()[..text.len() - 1].to_vec(),
        ),
        mal("version missing", pe.clone().remove("version").bytes()),
        mal("kdf missing", pe.clone().remove("kdf").bytes()),
        mal(
            "encrypted_data missing",
            pe.clone().remove("encrypted_data").bytes(),
        ),
        mal(
            "created_at missing",
            pe.clone().remove("created_at").bytes(),
        ),
        mal(
            "updated_at missing",
            pe.clone().remove("updated_at").bytes(),
        ),
        mal(
            "version as a string \"1\"",
            pe.clone().set("version", "\"1\"").bytes(),
        ),
        mal(
            "version 1.0: a number with a fraction is not an integer",
            pe.clone().set("version", "1.0").bytes(),
        ),
        mal(
            "version 1e0: a number with an exponent is not an integer",
            pe.clone().set("version", "1e0").bytes(),
        ),
        mal("version true", pe.clone().set("version", "true").bytes()),
        mal(
            "kdf as a string",
            pe.clone().set("kdf", "\"pbkdf2\"").bytes(),
        ),
        mal("kdf null", pe.clone().set("kdf", "null").bytes()),
        mal(
            "kdf.algorithm missing",
            pe.clone().remove_kdf("algorithm").bytes(),
        ),
        mal(
            "kdf.algorithm a number",
            pe.clone().set_kdf("algorithm", "2").bytes(),
        ),
        mal(
            "encrypted_data an array of numbers",
            pe.clone().set("encrypted_data", "[1,2,3]").bytes(),
        ),
        mal(
            "created_at a number (Unix time)",
            pe.clone().set("created_at", "1773480413").bytes(),
        ),
        mal(
            "created_at without an offset (a local time)",
            pe.clone()
                .set("created_at", s("2026-03-14T09:26:53.589"))
                .bytes(),
        ),
        mal(
            "created_at a date only",
            pe.clone().set("created_at", s("2026-03-14")).bytes(),
        ),
        mal(
            "updated_at on 30 February",
            pe.clone()
                .set("updated_at", s("2026-02-30T00:00:00Z"))
                .bytes(),
        ),
        mal(
            "updated_at with a space instead of T",
            pe.clone()
                .set("updated_at", s("2026-03-15 18:02:11Z"))
                .bytes(),
        ),
        mal("pbkdf2 without salt", pe.clone().remove_kdf("salt").bytes()),
        mal(
            "pbkdf2 without iterations",
            pe.clone().remove_kdf("iterations").bytes(),
        ),
        mal(
            "pbkdf2 iterations as a string",
            pe.clone().set_kdf("iterations", "\"100000\"").bytes(),
        ),
        mal(
            "pbkdf2 iterations 100000.0",
            pe.clone().set_kdf("iterations", "100000.0").bytes(),
        ),
        mal(
            "pbkdf2 iterations 2^64, beyond any 64-bit integer",
            pe.clone()
                .set_kdf("iterations", "18446744073709551616")
                .bytes(),
        ),
        mal(
            "salt as an array of bytes",
            pe.clone()
                .set_kdf("salt", "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]")
                .bytes(),
        ),
        mal(
            "argon2id without memory",
            ae.clone().remove_kdf("memory").bytes(),
        ),
        mal(
            "argon2id without parallelism",
            ae.clone().remove_kdf("parallelism").bytes(),
        ),
        mal(
            "argon2id memory as the string \"64 MB\"",
            ae.clone().set_kdf("memory", s("64 MB")).bytes(),
        ),
        mal(
            "an extra member holding NaN, which JSON does not have",
            pe.clone().set("x", "NaN").bytes(),
        ),
        mal(
            "an extra member holding a lone UTF-16 surrogate escape",
            pe.clone().set("x", "\"\\ud800\"").bytes(),
        ),
    ];

    // ------------------------------------------------------------ unsupported
    let unsup = vec![
        open_vector(
            "version 2",
            &["UnsupportedVersion"],
            PW,
            &pe.clone().set("version", "2").bytes(),
            "unsupported_version",
        ),
        open_vector(
            "version 0",
            &["UnsupportedVersion"],
            PW,
            &pe.clone().set("version", "0").bytes(),
            "unsupported_version",
        ),
        open_vector(
            "version -1",
            &["UnsupportedVersion"],
            PW,
            &pe.clone().set("version", "-1").bytes(),
            "unsupported_version",
        ),
        open_vector(
            "algorithm scrypt",
            &["UnsupportedKdf"],
            PW,
            &pe.clone().set_kdf("algorithm", s("scrypt")).bytes(),
            "unsupported_kdf",
        ),
        open_vector(
            "algorithm PBKDF2 in capitals: names are case-sensitive",
            &["UnsupportedKdf"],
            PW,
            &pe.clone().set_kdf("algorithm", s("PBKDF2")).bytes(),
            "unsupported_kdf",
        ),
        open_vector(
            "algorithm argon2i",
            &["UnsupportedKdf"],
            PW,
            &ae.clone().set_kdf("algorithm", s("argon2i")).bytes(),
            "unsupported_kdf",
        ),
        open_vector(
            "algorithm empty",
            &["UnsupportedKdf"],
            PW,
            &pe.clone().set_kdf("algorithm", s("")).bytes(),
            "unsupported_kdf",
        ),
    ];

    // ------------------------------------------------------------ kdf_params_rejected
    let rej = |comment: &str, env: Env| {
        open_vector(
            comment,
            &["KdfParamsRejected"],
            PW,
            &env.bytes(),
            "kdf_params_rejected",
        )
    };
    let salt_b64 = |n: usize| s(&STANDARD.encode(vec![0x5a; n]));
    let params = vec![
        rej(
            "pbkdf2 99999 iterations, one under the bound",
            pe.clone().set_kdf("iterations", "99999"),
        ),
        rej(
            "pbkdf2 10000 iterations (a legacy count)",
            pe.clone().set_kdf("iterations", "10000"),
        ),
        rej(
            "pbkdf2 10000001 iterations, one over the bound",
            pe.clone().set_kdf("iterations", "10000001"),
        ),
        rej(
            "pbkdf2 2^63-1 iterations: refused without being attempted",
            pe.clone().set_kdf("iterations", "9223372036854775807"),
        ),
        rej("pbkdf2 0 iterations", pe.clone().set_kdf("iterations", "0")),
        rej(
            "pbkdf2 -600000 iterations",
            pe.clone().set_kdf("iterations", "-600000"),
        ),
        rej(
            "argon2id memory 64: \"64 MB\" written in MB instead of KiB",
            ae.clone().set_kdf("memory", "64"),
        ),
        rej(
            "argon2id memory 7167 KiB, under the floor",
            ae.clone().set_kdf("memory", "7167"),
        ),
        rej(
            "argon2id memory 2^32 KiB, beyond u32",
            ae.clone().set_kdf("memory", "4294967296"),
        ),
        rej(
            "argon2id memory 2^31 KiB: refused without being attempted",
            ae.clone().set_kdf("memory", "2147483648"),
        ),
        rej(
            "argon2id iterations 0",
            ae.clone().set_kdf("iterations", "0"),
        ),
        rej(
            "argon2id iterations 2^32-1: refused without being attempted",
            ae.clone().set_kdf("iterations", "4294967295"),
        ),
        rej(
            "argon2id iterations 4 at memory 7168: memory x iterations under 35840",
            ae.clone().set_kdf("iterations", "4"),
        ),
        rej(
            "argon2id parallelism 0",
            ae.clone().set_kdf("parallelism", "0"),
        ),
        rej(
            "argon2id parallelism 17",
            ae.clone().set_kdf("parallelism", "17"),
        ),
        rej("salt of 15 bytes", pe.clone().set_kdf("salt", salt_b64(15))),
        rej("salt of 65 bytes", pe.clone().set_kdf("salt", salt_b64(65))),
        rej("empty salt", pe.clone().set_kdf("salt", s(""))),
    ];

    // ------------------------------------------------------------ corrupted
    let data = pe.encrypted_data();
    let good = STANDARD.encode(&data);
    let bad64 = |comment: &str, b64: String| {
        open_vector(
            comment,
            &["Base64"],
            PW,
            &pe.clone().set("encrypted_data", s(&b64)).bytes(),
            "corrupted",
        )
    };
    let mut noncanon = good.clone();
    // The last character before "=" carries unused low bits; setting one is non-canonical.
    let last = noncanon.trim_end_matches('=').len() - 1;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let pos = alphabet
        .iter()
        .position(|c| *c == noncanon.as_bytes()[last])
        .expect("base64 letter");
    noncanon.replace_range(last..=last, &(alphabet[pos | 1] as char).to_string());
    assert!(
        good.ends_with('='),
        "the generator needs a padded encrypted_data"
    );
    let corrupted = vec![
        bad64(
            "encrypted_data with a character outside the alphabet",
            format!("{}!{}", &good[..4], &good[5..]),
        ),
        bad64(
            "encrypted_data in the URL-safe alphabet",
            good.replace('+', "-")
                .replace('/', "_")
                .replacen(&good[..1], "-", 1),
        ),
        bad64(
            "encrypted_data without its padding",
            good.trim_end_matches('=').to_owned(),
        ),
        bad64("encrypted_data with one = too many", format!("{good}=")),
        bad64(
            "encrypted_data with non-zero unused bits before the padding",
            noncanon,
        ),
        bad64(
            "encrypted_data broken into lines (MIME style)",
            format!("{}\n{}", &good[..20], &good[20..]),
        ),
        bad64("encrypted_data with a leading space", format!(" {good}")),
        open_vector(
            "salt that is not base64",
            &["Base64"],
            PW,
            &pe.clone().set_kdf("salt", s("not*base64*salt*")).bytes(),
            "corrupted",
        ),
        open_vector(
            "encrypted_data of 27 bytes",
            &["Truncated"],
            PW,
            &pe.clone().with_data(&data[..27]).bytes(),
            "corrupted",
        ),
        open_vector(
            "encrypted_data of 12 bytes (a nonce only)",
            &["Truncated"],
            PW,
            &pe.clone().with_data(&data[..12]).bytes(),
            "corrupted",
        ),
        open_vector(
            "encrypted_data empty",
            &["Truncated"],
            PW,
            &pe.clone().set("encrypted_data", s("")).bytes(),
            "corrupted",
        ),
    ];

    // ------------------------------------------------------------ tag failures
    let wk = |comment: &str, flags: &[&str], pw: &str, blob: &[u8]| {
        open_vector(comment, flags, pw, blob, "wrong_key")
    };
    let flip = |at: usize| {
        let mut d = data.clone();
        d[at] ^= 0x01;
        pe.clone().with_data(&d).bytes()
    };
    let unicode_blob = Pinned::new(&mut rng, unicode_pw, b"nfc", p100k, 16).blob();
    let nfd = "cre\u{300}me bru\u{302}le\u{301}e \u{1112}\u{1161}\u{11ab}\u{1100}\u{116e}\u{11a8}\u{110b}\u{1165}";
    let mut other_salt = base_p.salt.clone();
    other_salt[0] ^= 0x80;
    let tags = vec![
        wk(
            "wrong passphrase, PBKDF2",
            &["NoKeyCheck"],
            "correct horse battery stapler",
            &base_p.blob(),
        ),
        wk(
            "wrong passphrase, Argon2id",
            &["NoKeyCheck"],
            "Correct horse battery staple",
            &base_a.blob(),
        ),
        wk(
            "wrong passphrase at the design's 600000 iterations",
            &["NoKeyCheck"],
            "incorrect horse battery staple",
            &seed_pbkdf2.blob(),
        ),
        wk(
            "sealed under an NFC passphrase, opened with its NFD spelling",
            &["NoKeyCheck", "NoNormalization"],
            nfd,
            &unicode_blob,
        ),
        wk(
            "the passphrase with a trailing newline",
            &["NoKeyCheck", "NoNormalization"],
            "correct horse battery staple\n",
            &base_p.blob(),
        ),
        wk(
            "the passphrase with a trailing space",
            &["NoKeyCheck", "NoNormalization"],
            "correct horse battery staple ",
            &base_p.blob(),
        ),
        wk(
            "the last byte of the tag flipped",
            &["NoKeyCheck"],
            PW,
            &flip(data.len() - 1),
        ),
        wk(
            "the first ciphertext byte flipped",
            &["NoKeyCheck"],
            PW,
            &flip(12),
        ),
        wk(
            "the first nonce byte flipped",
            &["NoKeyCheck"],
            PW,
            &flip(0),
        ),
        wk(
            "encrypted_data one byte short",
            &["NoKeyCheck"],
            PW,
            &pe.clone().with_data(&data[..data.len() - 1]).bytes(),
        ),
        wk(
            "a byte appended to encrypted_data",
            &["NoKeyCheck"],
            PW,
            &pe.clone()
                .with_data(&[data.clone(), vec![0u8]].concat())
                .bytes(),
        ),
        wk(
            "a different salt of the same length",
            &["NoKeyCheck"],
            PW,
            &pe.clone()
                .set_kdf("salt", s(&STANDARD.encode(&other_salt)))
                .bytes(),
        ),
        wk(
            "iterations changed within bounds (100000 to 100001)",
            &["NoKeyCheck"],
            PW,
            &pe.clone().set_kdf("iterations", "100001").bytes(),
        ),
        wk(
            "algorithm changed from pbkdf2 to argon2id with valid parameters",
            &["NoKeyCheck"],
            PW,
            &pe.clone()
                .set_kdf("algorithm", s("argon2id"))
                .set_kdf("memory", "7168")
                .set_kdf("parallelism", "1")
                .set_kdf("iterations", "5")
                .bytes(),
        ),
    ];

    // ------------------------------------------------------------ order
    let ord = |comment: &str, env: Env, result: &str| {
        open_vector(comment, &["Order"], PW, &env.bytes(), result)
    };
    let order = vec![
        ord(
            "version 2 and created_at missing: malformed comes first",
            pe.clone().set("version", "2").remove("created_at"),
            "malformed",
        ),
        ord(
            "version 2 and algorithm scrypt: the version comes first",
            pe.clone()
                .set("version", "2")
                .set_kdf("algorithm", s("scrypt")),
            "unsupported_version",
        ),
        ord(
            "algorithm scrypt without iterations: the algorithm comes before its members",
            pe.clone()
                .set_kdf("algorithm", s("scrypt"))
                .remove_kdf("iterations"),
            "unsupported_kdf",
        ),
        ord(
            "algorithm scrypt and encrypted_data not base64",
            pe.clone()
                .set_kdf("algorithm", s("scrypt"))
                .set("encrypted_data", s("***")),
            "unsupported_kdf",
        ),
        ord(
            "iterations as a string and encrypted_data too short: malformed first",
            pe.clone()
                .set_kdf("iterations", "\"x\"")
                .with_data(&data[..5]),
            "malformed",
        ),
        ord(
            "iterations 1 and a salt that is not base64: bounds before the salt's encoding",
            pe.clone()
                .set_kdf("iterations", "1")
                .set_kdf("salt", s("***")),
            "kdf_params_rejected",
        ),
        ord(
            "iterations 1 and encrypted_data truncated: bounds before encrypted_data",
            pe.clone().set_kdf("iterations", "1").with_data(&data[..5]),
            "kdf_params_rejected",
        ),
        ord(
            "an 8-byte salt and encrypted_data not base64: the salt's length comes first",
            pe.clone()
                .set_kdf("salt", salt_b64(8))
                .set("encrypted_data", s("***")),
            "kdf_params_rejected",
        ),
        open_vector(
            "a salt that is not base64 and a wrong passphrase: corrupted, no derivation is attempted",
            &["Order"],
            "not the passphrase",
            &pe.clone().set_kdf("salt", s("***")).bytes(),
            "corrupted",
        ),
    ];

    // ------------------------------------------------------------ seal refusals
    let seal_refused = |comment: &str, p: Pinned, result: &str| {
        let mut t = p.inputs(comment, &["Seal"]);
        t["op"] = json!("seal");
        t["result"] = json!(result);
        t
    };
    let mut bad_time = Pinned::new(&mut rng, PW, b"x", p100k, 16);
    bad_time.created_at = "2026-03-14 09:26:53".to_owned();
    let seals = vec![
        seal_refused(
            "pbkdf2 at 99999 iterations",
            Pinned::new(&mut rng, PW, b"x", pbkdf2(99_999), 16),
            "kdf_params_rejected",
        ),
        seal_refused(
            "argon2id memory 7167 KiB",
            Pinned::new(
                &mut rng,
                PW,
                b"x",
                Kdf::Argon2id(KdfParams {
                    m_cost: 7167,
                    t_cost: 5,
                    p_cost: 1,
                }),
                16,
            ),
            "kdf_params_rejected",
        ),
        seal_refused(
            "a 15-byte salt",
            Pinned::new(&mut rng, PW, b"x", p100k, 15),
            "kdf_params_rejected",
        ),
        seal_refused("created_at that is not RFC 3339", bad_time, "malformed"),
    ];

    let groups = vec![
        ("ByokRoundTrip", round),
        ("ByokEnvelope", envelope),
        ("ByokMalformed", malformed),
        ("ByokUnsupported", unsup),
        ("ByokKdfParams", params),
        ("ByokCorrupted", corrupted),
        ("ByokTagFailure", tags),
        ("ByokOrder", order),
        ("ByokSeal", seals),
    ];
    super::generate::file(ALGORITHM, SCHEMA, NOTES, groups)
}

/// The file's text as committed: canonical JSON (vectors/README.md).
pub fn generate_text() -> String {
    to_canonical(&generate())
}

fn text(t: &Value, name: &str) -> Result<String, String> {
    t[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("vector has no {name}"))
}

fn pinned_from(t: &Value) -> Result<Pinned, String> {
    let nonce = unhex(t, "nonce")?;
    Ok(Pinned {
        sealed: std::cell::OnceCell::new(),
        passphrase: text(&t["secret"], "passphrase")?,
        plaintext: unhex(t, "plaintext")?,
        kdf: kdf_from_json(&t["kdf"])?,
        salt: unhex(t, "salt")?,
        nonce: nonce
            .try_into()
            .map_err(|_| "vector nonce is not 12 bytes".to_owned())?,
        created_at: text(t, "created_at")?,
        updated_at: text(t, "updated_at")?,
    })
}

/// Sealed bytes and the vector's blob must be the same JSON value.
fn same_json(sealed: &[u8], blob: &[u8]) -> Result<(), String> {
    let a: Value =
        serde_json::from_slice(sealed).map_err(|e| format!("sealed blob is not JSON: {e}"))?;
    let b: Value =
        serde_json::from_slice(blob).map_err(|e| format!("vector blob is not JSON: {e}"))?;
    if a == b {
        Ok(())
    } else {
        Err(format!(
            "sealing gives {} but the vector's blob is {}",
            String::from_utf8_lossy(sealed),
            String::from_utf8_lossy(blob)
        ))
    }
}

fn check_one(t: &Value) -> Result<(), String> {
    let expected = t["result"].as_str().ok_or("vector has no result")?;
    let pw = text(&t["secret"], "passphrase")?;
    match t["op"].as_str().unwrap_or("open") {
        "open" => {
            let blob = unhex(t, "blob")?;
            match (byok::open(&pw, &blob), expected) {
                (Ok(opened), "ok") => {
                    let want = unhex(t, "plaintext")?;
                    if opened.plaintext.as_slice() != want.as_slice() {
                        return Err(format!(
                            "opened to {} instead of {}",
                            h(&opened.plaintext),
                            h(&want)
                        ));
                    }
                    if t.get("nonce").is_some() {
                        let sealed = pinned_from(t)?
                            .seal()
                            .map_err(|e| format!("pinned seal failed: {e}"))?;
                        same_json(&sealed, &blob)?;
                    }
                    Ok(())
                }
                (Ok(_), want) => Err(format!("expected {want}, but it opened")),
                (Err(e), want) if e.class().as_str() == want => Ok(()),
                (Err(e), want) => Err(format!("expected {want}, got {}: {e}", e.class())),
            }
        }
        "seal" => match (pinned_from(t)?.seal(), expected) {
            (Ok(sealed), "ok") => match t.get("blob") {
                Some(_) => same_json(&sealed, &unhex(t, "blob")?),
                None => Ok(()),
            },
            (Ok(_), want) => Err(format!("expected {want}, but it sealed")),
            (Err(e), want) if e.class().as_str() == want => Ok(()),
            (Err(e), want) => Err(format!("expected {want}, got {}: {e}", e.class())),
        },
        other => Err(format!("unknown op {other:?}")),
    }
}

/// Every test of the file against the reference codec, as `(tcId, outcome)`.
pub fn check(file_json: &Value) -> Vec<(u64, Result<(), String>)> {
    check_each(file_json, check_one)
}

/// The profile's name in adapter requests.
const PROFILE: &str = "byok-json-v1";

/// Why a `corrupted` answer passes a tag-failure vector.
pub const NO_KEY_CHECK_REASON: &str = "corrupted for a tag failure: the profile has no key check, so a wrong passphrase and damage are the same failure (advisory no-key-check)";

/// Judges an answer (`Ok(plaintext)` or an error class) against the vector's result.
fn judge(expected: &str, got: Result<Vec<u8>, String>, want_plain: &[u8]) -> CaseOutcome {
    match (got, expected) {
        (Ok(p), "ok") if p == want_plain => CaseOutcome::Pass,
        (Ok(p), "ok") => CaseOutcome::Fail {
            expected: format!("plaintext {}", h(want_plain)),
            observed: format!("plaintext {}", h(&p)),
        },
        (Ok(_), want) => CaseOutcome::Fail {
            expected: want.to_string(),
            observed: "ok".into(),
        },
        (Err(c), want) if c == want => CaseOutcome::Pass,
        (Err(c), "wrong_key") if c == "corrupted" => CaseOutcome::PassAcceptable {
            reason: NO_KEY_CHECK_REASON.into(),
        },
        (Err(c), want) => CaseOutcome::Fail {
            expected: want.to_string(),
            observed: c,
        },
    }
}

/// One test through an adapter: `open` (and, for a pinned round trip, `seal` too) or
/// `seal`, with `"profile": "byok-json-v1"` (docs/profiles/byok-json-v1.md §8).
fn run_through(t: &Value, imp: &mut AdapterImplementation) -> Result<CaseOutcome, String> {
    let expected = t["result"].as_str().ok_or("vector has no result")?;
    let op = t["op"].as_str().unwrap_or("open");
    let plaintext = if t.get("plaintext").is_some() {
        unhex(t, "plaintext")?
    } else {
        Vec::new()
    };
    let seal_request = || -> Value {
        let mut r = json!({"profile": PROFILE, "secret": t["secret"], "plaintext": t["plaintext"]});
        for k in ["kdf", "salt", "nonce", "created_at", "updated_at"] {
            if let Some(v) = t.get(k) {
                r[k] = v.clone();
            }
        }
        r
    };
    let class = |e: super::ClassError| e.class;
    match op {
        "open" => {
            if !imp.offers(PROFILE, "open") {
                return Ok(CaseOutcome::Unsupported { op: "open".into() });
            }
            let request = json!({"profile": PROFILE, "secret": t["secret"], "blob": t["blob"]});
            let got = imp
                .call_json("open", request)?
                .map_err(class)
                .and_then(|r| {
                    r["plaintext"]
                        .as_str()
                        .and_then(|p| hex::decode(p).ok())
                        .ok_or_else(|| "an answer without hex `plaintext`".to_string())
                });
            let verdict = judge(expected, got, &plaintext);
            if verdict != CaseOutcome::Pass || t.get("nonce").is_none() {
                return Ok(verdict);
            }
            // A pinned round trip also says what sealing these inputs gives.
            if !imp.offers(PROFILE, "seal") {
                return Ok(CaseOutcome::Unsupported { op: "seal".into() });
            }
            Ok(match imp.call_json("seal", seal_request())? {
                Ok(r) => {
                    let sealed = r["blob"]
                        .as_str()
                        .and_then(|b| hex::decode(b).ok())
                        .unwrap_or_default();
                    match same_json(&sealed, &unhex(t, "blob")?) {
                        Ok(()) => CaseOutcome::Pass,
                        Err(e) => CaseOutcome::Fail {
                            expected: "sealing the pinned inputs gives the vector's blob".into(),
                            observed: e,
                        },
                    }
                }
                Err(e) => CaseOutcome::Fail {
                    expected: "sealing the pinned inputs gives the vector's blob".into(),
                    observed: e.class,
                },
            })
        }
        "seal" => {
            if !imp.offers(PROFILE, "seal") {
                return Ok(CaseOutcome::Unsupported { op: "seal".into() });
            }
            Ok(match (imp.call_json("seal", seal_request())?, expected) {
                (Ok(_), "ok") => CaseOutcome::Pass,
                (Ok(_), want) => CaseOutcome::Fail {
                    expected: want.into(),
                    observed: "ok".into(),
                },
                (Err(e), want) if e.class == want => CaseOutcome::Pass,
                (Err(e), want) => CaseOutcome::Fail {
                    expected: want.into(),
                    observed: e.class,
                },
            })
        }
        other => Err(format!("unknown op {other:?}")),
    }
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
    use super::super::profile_file::{
        assert_envelope_consistent, assert_matches_schema, assert_regenerates,
    };
    use super::*;

    #[test]
    fn regeneration_gives_the_committed_file_and_every_vector_checks() {
        assert_regenerates(FILE, &generate(), "BACKPROOF_WRITE_BYOK_VECTORS", check);
    }

    #[test]
    fn the_checker_notices_wrong_expectations() {
        let doc = generate();
        let mut tampered = doc.clone();
        // One wrong plaintext, one wrong class, one pinned input that no longer reseals.
        let round = &mut tampered["testGroups"][0]["tests"];
        round[2]["plaintext"] = json!("00");
        round[3]["nonce"] = json!(h(&[0u8; 12]));
        tampered["testGroups"][2]["tests"][0]["result"] = json!("corrupted");
        let bad: Vec<u64> = check(&tampered)
            .into_iter()
            .filter(|(_, r)| r.is_err())
            .map(|(id, _)| id)
            .collect();
        let id = |g: usize, i: usize| doc["testGroups"][g]["tests"][i]["tcId"].as_u64().unwrap();
        assert_eq!(bad, vec![id(0, 2), id(0, 3), id(2, 0)]);
    }

    #[test]
    fn file_envelope_is_consistent() {
        assert_envelope_consistent(&generate(), |t, _| {
            let r = t["result"].as_str().unwrap();
            assert!(
                r == "ok" || r.parse::<backproof_format::ErrorClass>().is_ok(),
                "{r}"
            );
        });
    }

    #[test]
    fn file_matches_its_schema() {
        assert_matches_schema(
            SCHEMA,
            &generate(),
            &[
                ("result", json!("wrong_key_or_whatever")),
                ("blob", json!("ABCD")),
            ],
        );
    }
}
