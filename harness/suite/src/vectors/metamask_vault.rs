//! Vectors of profile `metamask-vault` (docs/profiles/metamask-vault.md): the seeded
//! generator of `vectors/metamask-vault/metamask-vault.json` and an in-process checker
//! against `backproof_format::profiles::metamask_vault`. Confirmed independently by
//! ci/crosscheck/metamask_vault.py, and by the real `@metamask/browser-passworder` through
//! ci/crosscheck/test_metamask.py.
//!
//! `result` is the profile's answer (the codec gives exactly it), `accept` lists the other
//! classes a conforming implementation may give because the design cannot tell the causes
//! apart, and `library` records what browser-passworder does where that is neither: every
//! such vector is a disagreement written up in the profile doc.

use backproof_format::profiles::metamask_vault::{self as mm, Kdf, SealParams};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{Value, json};

use super::generate::{arr, bytes, h, quoted as s};
use super::json::to_canonical;
use super::profile_file::{
    Runner, allowed, check_each, grade, hex_answer, request_of, same_failure, unhex,
};
use super::{AdapterImplementation, CaseOutcome};

/// Where the file lives, relative to the vectors directory.
pub const FILE: &str = "metamask-vault/metamask-vault.json";
pub const SCHEMA: &str = "metamask-vault.schema.json";
const ALGORITHM: &str = "BACKPROOF-METAMASK-VAULT";

const PW: &str = "correct horse battery staple";
/// What MetaMask's keyring controller stores in a vault: a JSON array of keyrings.
const KEYRINGS: &str = r#"[{"type":"HD Key Tree","data":{"mnemonic":"test test test test test test test test test test test junk","numberOfAccounts":1,"hdPath":"m/44'/60'/0'/0"}},{"type":"Simple Key Pair","data":[]}]"#;
/// Tag failures: the codec answers `wrong_key`; the library answers "Incorrect password".
const TAG_ACCEPT: &[&str] = &["corrupted", "wrong_key_or_corrupted"];
/// Damage the codec can see but the library only meets as a failed decryption.
const DAMAGE_ACCEPT: &[&str] = &["wrong_key", "wrong_key_or_corrupted"];

const NOTES: &[super::generate::Note] = &[
    (
        "RoundTrip",
        "FUNCTIONALITY",
        "Sealing the plaintext with the given kdf, salt and iv gives exactly this vault (the library's member order: data, iv, keyMetadata, salt); opening gives the plaintext. The library draws its own IV, so it is checked by opening only.",
    ),
    (
        "LibraryDefault",
        "FUNCTIONALITY",
        "The library's current default: PBKDF2-HMAC-SHA256 at 900000 iterations.",
    ),
    (
        "Legacy",
        "FUNCTIONALITY",
        "A vault without keyMetadata: PBKDF2-HMAC-SHA256 at 10000 iterations.",
    ),
    (
        "NoNormalization",
        "WRONG_SECRET",
        "The password's UTF-8 bytes are used exactly as given: no Unicode normalization, no trimming.",
    ),
    (
        "Envelope",
        "FUNCTIONALITY",
        "Accepted spellings of the vault: extra members (ignored), member order, whitespace, a duplicated member (the last one counts).",
    ),
    (
        "Malformed",
        "MALFORMED_INPUT",
        "Not UTF-8 JSON, not an object, or a member missing or of the wrong type (open steps 1 and 2).",
    ),
    (
        "UnsupportedKdf",
        "MALFORMED_INPUT",
        "keyMetadata.algorithm is not \"PBKDF2\" (case-sensitive).",
    ),
    (
        "KdfParamsRejected",
        "DOS",
        "Iterations outside 1..=10000000 or a salt outside 16..=64 bytes: refused before any derivation.",
    ),
    (
        "Base64",
        "MALFORMED_INPUT",
        "A member that is not canonical standard base64 with padding: corrupted.",
    ),
    (
        "Truncated",
        "TRUNCATION",
        "An iv that is not 16 bytes or data shorter than the 16-byte tag: corrupted.",
    ),
    (
        "NoKeyCheck",
        "WRONG_SECRET",
        "GCM tag failure: wrong password and damaged data, iv or salt are the same failure. The codec answers wrong_key; corrupted and wrong_key_or_corrupted conform too (advisory no-key-check).",
    ),
    (
        "OneErrorForAll",
        "WRONG_SECRET",
        "Damage the profile names corrupted, which the library reports as \"Incorrect password\" like a wrong password: wrong_key and wrong_key_or_corrupted are accepted.",
    ),
    (
        "Order",
        "CHECK_ORDER",
        "Two faults at once; the expected class follows the open order of the profile doc.",
    ),
    (
        "Update",
        "FUNCTIONALITY",
        "op rotate, the library's updateVault: a vault not at the target iterations is re-encrypted with them (fresh salt and IV); one already at the target comes back byte for byte, without the password being checked.",
    ),
    ("Seal", "FUNCTIONALITY", "op seal: the writer's refusals."),
    (
        "Derive",
        "FUNCTIONALITY",
        "op derive: the 32-byte AES key, PBKDF2-HMAC-SHA256 (kdf absent or legacy: 10000 iterations).",
    ),
    (
        "LibraryLenientBase64",
        "MALFORMED_INPUT",
        "Disagreement: the library decodes base64 with Node's Buffer, which accepts the URL-safe alphabet, missing padding and skips characters outside the alphabet, so the vault opens.",
    ),
    (
        "LibraryIgnoresAlgorithm",
        "MALFORMED_INPUT",
        "Disagreement: the library never reads keyMetadata.algorithm for decryption; any value opens with PBKDF2.",
    ),
    (
        "LibraryMissingAlgorithm",
        "FUNCTIONALITY",
        "Disagreement: keyMetadata without algorithm makes the library pass its key wrapper to WebCrypto, and even the right password gets \"Incorrect password\".",
    ),
    (
        "LibraryCoercesIterations",
        "MALFORMED_INPUT",
        "Disagreement: WebCrypto converts a string or fractional iteration count (\"2\", 2.5) to an integer and the vault opens.",
    ),
    (
        "LibraryUnbounded",
        "DOS",
        "Disagreement: the library has no upper bound on iterations; a vault declaring a huge count keeps it deriving for minutes to hours (the library check sees no answer within its wait).",
    ),
    (
        "LibraryLengths",
        "FUNCTIONALITY",
        "Disagreement: the library opens a correctly sealed vault whose salt or IV length the profile refuses (WebCrypto takes any salt and any IV of 1 byte or more).",
    ),
    (
        "LibraryMistyped",
        "MALFORMED_INPUT",
        "Disagreement: a mistyped member that Node's Buffer still turns into bytes (an array of numbers) or that WebCrypto reports differently.",
    ),
    (
        "LibraryOrder",
        "CHECK_ORDER",
        "Disagreement: the library derives the key (and refuses the iterations) before it looks at data and iv.",
    ),
    (
        "LibraryJsonValue",
        "FUNCTIONALITY",
        "The library returns the JSON value, not the text: it comes back as JSON.stringify writes it (whitespace dropped, 1.0 as 1, the last duplicate member).",
    ),
    (
        "LibraryNumberPrecision",
        "FUNCTIONALITY",
        "Disagreement: JSON numbers beyond 2^53 come back rounded by the library (JavaScript doubles), so the plaintext it returns is another value.",
    ),
    (
        "LibrarySaltLength",
        "FUNCTIONALITY",
        "Disagreement: the library seals with any salt it is given; the profile refuses one outside 16..=64 bytes.",
    ),
];

fn kdf_json(kdf: &Kdf) -> Value {
    match kdf {
        Kdf::Legacy => json!({"legacy": true}),
        Kdf::Pbkdf2 { iterations } => json!({ "iterations": iterations }),
    }
}

fn kdf_from_json(v: &Value) -> Result<Kdf, String> {
    if v.get("legacy") == Some(&Value::Bool(true)) {
        return Ok(Kdf::Legacy);
    }
    v["iterations"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .map(|iterations| Kdf::Pbkdf2 { iterations })
        .ok_or_else(|| {
            format!("vector kdf {v} is neither {{\"legacy\": true}} nor {{\"iterations\": u32}}")
        })
}

/// A vault as raw JSON members in order, so that a vector can change exactly one of them.
#[derive(Clone)]
struct Vault(Vec<(String, String)>);

impl Vault {
    fn from_bytes(b: &[u8]) -> Vault {
        // The codec writes members in this order; `keyMetadata` only for the current form.
        let v: Value = serde_json::from_slice(b).expect("the codec writes JSON");
        Vault(
            ["data", "iv", "keyMetadata", "salt"]
                .iter()
                .filter(|k| v.get(**k).is_some())
                .map(|k| ((*k).to_owned(), v[*k].to_string()))
                .collect(),
        )
    }

    fn text(&self) -> Vec<u8> {
        let members: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| format!("{}:{v}", s(k)))
            .collect();
        format!("{{{}}}", members.join(",")).into_bytes()
    }

    fn get(&self, k: &str) -> String {
        let raw = &self
            .0
            .iter()
            .find(|(n, _)| n == k)
            .expect("member present")
            .1;
        serde_json::from_str::<String>(raw).expect("a string member")
    }

    fn set_raw(&self, k: &str, raw: &str) -> Vault {
        let mut v = self.clone();
        match v.0.iter_mut().find(|(n, _)| n == k) {
            Some(m) => m.1 = raw.to_owned(),
            None => v.0.push((k.to_owned(), raw.to_owned())),
        }
        v
    }

    fn set(&self, k: &str, value: &str) -> Vault {
        self.set_raw(k, &s(value))
    }

    fn without(&self, k: &str) -> Vault {
        Vault(self.0.iter().filter(|(n, _)| n != k).cloned().collect())
    }

    fn meta(&self, raw: &str) -> Vault {
        // keyMetadata sits before salt, where the library writes it.
        let mut v = self.without("keyMetadata");
        let at =
            v.0.iter()
                .position(|(n, _)| n == "salt")
                .unwrap_or(v.0.len());
        v.0.insert(at, ("keyMetadata".to_owned(), raw.to_owned()));
        v
    }

    fn flip(&self, k: &str, index: usize) -> Vault {
        let mut b = STANDARD.decode(self.get(k)).expect("canonical base64");
        let i = index.min(b.len() - 1);
        b[i] ^= 0x01;
        self.set(k, &STANDARD.encode(&b))
    }
}

/// The inputs of one pinned seal.
struct Pinned {
    password: String,
    plaintext: Vec<u8>,
    kdf: Kdf,
    salt: Vec<u8>,
    iv: [u8; 16],
}

impl Pinned {
    fn new(rng: &mut ChaCha20Rng, password: &str, plaintext: &str, kdf: Kdf) -> Pinned {
        Pinned {
            password: password.to_owned(),
            plaintext: plaintext.as_bytes().to_vec(),
            kdf,
            salt: bytes(rng, mm::SALT_LEN),
            iv: arr(rng),
        }
    }

    fn seal(&self) -> Result<Vec<u8>, mm::Error> {
        mm::seal(
            &self.password,
            &self.plaintext,
            &SealParams {
                kdf: self.kdf,
                salt: &self.salt,
                iv: self.iv,
            },
        )
    }

    fn vault(&self) -> Vault {
        Vault::from_bytes(
            &self
                .seal()
                .expect("pinned inputs within the profile's bounds"),
        )
    }

    fn vector(&self, comment: &str, flags: &[&str]) -> Value {
        json!({
            "comment": comment,
            "flags": flags,
            "secret": {"passphrase": self.password},
            "plaintext": h(&self.plaintext),
            "kdf": kdf_json(&self.kdf),
            "salt": h(&self.salt),
            "iv": h(&self.iv),
            "blob": h(&self.vault().text()),
            "result": "ok",
        })
    }
}

fn open_vector(comment: &str, flags: &[&str], pw: &str, v: &Vault, result: &str) -> Value {
    json!({
        "comment": comment,
        "flags": flags,
        "secret": {"passphrase": pw},
        "blob": h(&v.text()),
        "result": result,
    })
}

fn ok_vector(comment: &str, flags: &[&str], v: &Vault, plaintext: &str) -> Value {
    let mut t = open_vector(comment, flags, PW, v, "ok");
    t["plaintext"] = json!(h(plaintext.as_bytes()));
    t
}

fn with_accept(mut t: Value, accept: &[&str]) -> Value {
    t["accept"] = json!(accept);
    t
}

/// What the unmodified library answers where it is neither `result` nor in `accept`.
fn with_library(mut t: Value, result: &str, plaintext: Option<&str>) -> Value {
    t["library"] = json!({ "result": result });
    if let Some(p) = plaintext {
        t["library"]["plaintext"] = json!(h(p.as_bytes()));
    }
    t
}

/// A vault the codec refuses to write (salt or IV length outside the profile), built from
/// the raw primitives so that the library can show it opens.
fn raw_vault(rng: &mut ChaCha20Rng, salt_len: usize, iv_len: usize, iterations: u32) -> Vault {
    let salt = bytes(rng, salt_len);
    let iv = bytes(rng, iv_len);
    let key = mm::pbkdf2_sha256_unchecked(PW, &salt, iterations);
    let data = match iv_len {
        16 => mm::encrypt_data(&key, &iv.clone().try_into().expect("16 bytes"), b"{}"),
        12 => {
            let (mut ct, tag) = backproof_format::primitives::aes256gcm_encrypt(
                &key,
                &iv.clone().try_into().expect("12 bytes"),
                &[],
                b"{}",
            )
            .expect("a small message");
            ct.extend_from_slice(&tag);
            ct
        }
        other => unreachable!("no vector uses a {other}-byte IV"),
    };
    Vault(vec![
        ("data".to_owned(), s(&STANDARD.encode(&data))),
        ("iv".to_owned(), s(&STANDARD.encode(&iv))),
        (
            "keyMetadata".to_owned(),
            format!(r#"{{"algorithm":"PBKDF2","params":{{"iterations":{iterations}}}}}"#),
        ),
        ("salt".to_owned(), s(&STANDARD.encode(&salt))),
    ])
}

fn round(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = vec![Pinned::new(rng, PW, KEYRINGS, Kdf::DEFAULT).vector(
        "the library's default, 900000 iterations, a keyring array",
        &["RoundTrip", "LibraryDefault"],
    )];
    for (it, plain) in [
        (1, r#"{"a":1}"#),
        (2, KEYRINGS),
        (3, "{}"),
        (1000, r#""a string value""#),
        (5000, "null"),
    ] {
        out.push(
            Pinned::new(rng, PW, plain, Kdf::Pbkdf2 { iterations: it }).vector(
                &format!("{it} iteration(s), plaintext {plain:.20}"),
                &["RoundTrip"],
            ),
        );
    }
    out.push(
        Pinned::new(rng, "", "[]", Kdf::Pbkdf2 { iterations: 2 }).vector(
            "the empty password (the library has no length rule)",
            &["RoundTrip"],
        ),
    );
    out.push(
        Pinned::new(
            rng,
            "pässwörd 🔑",
            r#"{"ünï":"cödé ✓"}"#,
            Kdf::Pbkdf2 { iterations: 2 },
        )
        .vector("non-ASCII password and plaintext, UTF-8", &["RoundTrip"]),
    );
    out
}

fn legacy(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let p = Pinned::new(rng, PW, KEYRINGS, Kdf::Legacy);
    let v = p.vault();
    vec![
        p.vector(
            "a legacy vault: no keyMetadata, 10000 iterations",
            &["RoundTrip", "Legacy"],
        ),
        Pinned::new(rng, PW, r#"{"x":[1,2,3]}"#, Kdf::Legacy)
            .vector("another legacy vault", &["RoundTrip", "Legacy"]),
        ok_vector(
            "the legacy vault with keyMetadata declaring 10000 iterations added",
            &["Legacy"],
            &v.meta(r#"{"algorithm":"PBKDF2","params":{"iterations":10000}}"#),
            KEYRINGS,
        ),
        with_accept(
            open_vector(
                "the legacy vault with keyMetadata declaring 10001 iterations",
                &["Legacy", "NoKeyCheck"],
                PW,
                &v.meta(r#"{"algorithm":"PBKDF2","params":{"iterations":10001}}"#),
                "wrong_key",
            ),
            TAG_ACCEPT,
        ),
        with_accept(
            open_vector(
                "legacy vault, wrong password",
                &["Legacy", "NoKeyCheck"],
                "correct horse battery stapler",
                &v,
                "wrong_key",
            ),
            TAG_ACCEPT,
        ),
    ]
}

fn envelope(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let p = Pinned::new(rng, PW, r#"{"a":1}"#, Kdf::Pbkdf2 { iterations: 2 });
    let v = p.vault();
    let text = String::from_utf8(v.text()).expect("ASCII");
    let mut reordered = v.clone();
    reordered.0.reverse();
    let spaced = text.replace(',', " ,\n ").replace(':', " : ");
    vec![
        ok_vector(
            "extra members are ignored",
            &["Envelope"],
            &v.set("note", "x").set_raw("version", "7"),
            r#"{"a":1}"#,
        ),
        ok_vector(
            "members in reverse order",
            &["Envelope"],
            &reordered,
            r#"{"a":1}"#,
        ),
        json!({
            "comment": "whitespace between tokens",
            "flags": ["Envelope"],
            "secret": {"passphrase": PW},
            "blob": h(spaced.as_bytes()),
            "plaintext": h(br#"{"a":1}"#),
            "result": "ok",
        }),
        ok_vector(
            "keyMetadata with extra members",
            &["Envelope"],
            &v.meta(r#"{"algorithm":"PBKDF2","params":{"iterations":2,"hash":"SHA-256"},"x":1}"#),
            r#"{"a":1}"#,
        ),
        json!({
            "comment": "iv written twice, the last one counts",
            "flags": ["Envelope"],
            "secret": {"passphrase": PW},
            "blob": h(text.replacen("\"iv\":", &format!("\"iv\":{},\"iv\":", s("AAAAAAAAAAAAAAAAAAAAAA==")), 1).as_bytes()),
            "plaintext": h(br#"{"a":1}"#),
            "result": "ok",
        }),
    ]
}

fn malformed(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let v = Pinned::new(rng, PW, r#"{"a":1}"#, Kdf::Pbkdf2 { iterations: 2 }).vault();
    let m = |c: &str, v: &Vault| open_vector(c, &["Malformed"], PW, v, "malformed");
    let raw = |c: &str, b: &[u8]| json!({"comment": c, "flags": ["Malformed"], "secret": {"passphrase": PW}, "blob": h(b), "result": "malformed"});
    let mut out = vec![
        raw("empty input", b""),
        raw("not JSON", b"vault"),
        raw("not UTF-8", b"\xff\xfe{}"),
        raw("a JSON array", b"[]"),
        raw("JSON null", b"null"),
        raw("a JSON number", b"5"),
        raw("a JSON string", br#""vault""#),
        raw("truncated JSON", &v.text()[..40]),
    ];
    for field in ["data", "iv", "salt"] {
        out.push(m(&format!("{field} missing"), &v.without(field)));
        out.push(m(&format!("{field} a number"), &v.set_raw(field, "5")));
        out.push(m(&format!("{field} null"), &v.set_raw(field, "null")));
    }
    out.push(with_library(
        m("salt an array of numbers", &v.set_raw("salt", "[1,2,3]")),
        "wrong_key_or_corrupted",
        None,
    ));
    let last = out.len() - 1;
    out[last]["flags"] = json!(["Malformed", "LibraryMistyped"]);
    for (c, meta) in [
        ("keyMetadata null", "null"),
        ("keyMetadata a string", r#""PBKDF2""#),
        ("keyMetadata without params", r#"{"algorithm":"PBKDF2"}"#),
        (
            "keyMetadata.params null",
            r#"{"algorithm":"PBKDF2","params":null}"#,
        ),
    ] {
        out.push(m(c, &v.meta(meta)));
    }
    let lib = |t: Value, flag: &str, result: &str, plain: Option<&str>| {
        let mut t = with_library(t, result, plain);
        t["flags"] = json!(["Malformed", flag]);
        t
    };
    for (c, meta) in [
        (
            "keyMetadata.params a number",
            r#"{"algorithm":"PBKDF2","params":2}"#,
        ),
        (
            "keyMetadata.params without iterations",
            r#"{"algorithm":"PBKDF2","params":{}}"#,
        ),
    ] {
        out.push(lib(
            m(c, &v.meta(meta)),
            "LibraryMistyped",
            "kdf_params_rejected",
            None,
        ));
    }
    // WebCrypto converts these iteration counts to an integer and the library opens.
    for (c, meta) in [
        (
            "iterations a string \"2\"",
            r#"{"algorithm":"PBKDF2","params":{"iterations":"2"}}"#,
        ),
        (
            "iterations 2.5",
            r#"{"algorithm":"PBKDF2","params":{"iterations":2.5}}"#,
        ),
        (
            "iterations 2.0 (a float, though whole)",
            r#"{"algorithm":"PBKDF2","params":{"iterations":2.0}}"#,
        ),
    ] {
        out.push(lib(
            m(c, &v.meta(meta)),
            "LibraryCoercesIterations",
            "ok",
            Some(r#"{"a":1}"#),
        ));
    }
    out.push(lib(
        m(
            "keyMetadata without algorithm, right password",
            &v.meta(r#"{"params":{"iterations":2}}"#),
        ),
        "LibraryMissingAlgorithm",
        "wrong_key_or_corrupted",
        None,
    ));
    out.push(lib(
        m(
            "keyMetadata.algorithm a number",
            &v.meta(r#"{"algorithm":5,"params":{"iterations":2}}"#),
        ),
        "LibraryIgnoresAlgorithm",
        "ok",
        Some(r#"{"a":1}"#),
    ));
    out
}

fn kdf(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let v = Pinned::new(rng, PW, r#"{"a":1}"#, Kdf::Pbkdf2 { iterations: 2 }).vault();
    let meta = |alg: &str, it: &str| {
        v.meta(&format!(
            r#"{{"algorithm":{},"params":{{"iterations":{it}}}}}"#,
            s(alg)
        ))
    };
    let unsup = |c: &str, alg: &str| {
        with_library(
            open_vector(
                c,
                &["UnsupportedKdf", "LibraryIgnoresAlgorithm"],
                PW,
                &meta(alg, "2"),
                "unsupported_kdf",
            ),
            "ok",
            Some(r#"{"a":1}"#),
        )
    };
    let rej = |c: &str, it: &str| {
        open_vector(
            c,
            &["KdfParamsRejected"],
            PW,
            &meta("PBKDF2", it),
            "kdf_params_rejected",
        )
    };
    let unbounded = |c: &str, it: &str| {
        let mut t = with_library(rej(c, it), "unbounded", None);
        t["flags"] = json!(["KdfParamsRejected", "LibraryUnbounded"]);
        t
    };
    let mut out = vec![
        unsup("algorithm scrypt", "scrypt"),
        unsup("algorithm pbkdf2 in lower case", "pbkdf2"),
        unsup("algorithm argon2id", "argon2id"),
        rej("0 iterations", "0"),
        rej("-1 iterations", "-1"),
        rej(
            "2^32 iterations (beyond WebCrypto's unsigned long)",
            "4294967296",
        ),
        unbounded("10000001 iterations, one over the bound", "10000001"),
        unbounded("100000000 iterations", "100000000"),
        unbounded("2147483647 iterations (2^31-1)", "2147483647"),
        rej(
            "4294967295 iterations (2^32-1; OpenSSL takes at most 2^31-1)",
            "4294967295",
        ),
    ];
    // The library would answer for 10000001 after some seconds; the suite does not wait
    // that long, only for the counts that would take minutes.
    out[6]["library"] = json!({"result": "not-run"});
    for (c, salt_len) in [
        ("a 15-byte salt", 15),
        ("a 65-byte salt", 65),
        ("an empty salt", 0),
    ] {
        let t = with_library(
            open_vector(
                c,
                &["KdfParamsRejected", "LibraryLengths"],
                PW,
                &raw_vault(rng, salt_len, 16, 2),
                "kdf_params_rejected",
            ),
            "ok",
            Some("{}"),
        );
        out.push(t);
    }
    out
}

fn corrupted(rng: &mut ChaCha20Rng) -> Vec<Value> {
    // A long plaintext, so that the data member holds both '+' and '/' to rewrite.
    let v = Pinned::new(rng, PW, KEYRINGS, Kdf::Pbkdf2 { iterations: 2 }).vault();
    let b64 = |c: &str, field: &str, value: String| {
        with_library(
            open_vector(
                c,
                &["Base64", "LibraryLenientBase64"],
                PW,
                &v.set(field, &value),
                "corrupted",
            ),
            "ok",
            Some(KEYRINGS),
        )
    };
    let data = v.get("data");
    assert!(
        data.contains('+') && data.contains('/'),
        "the seed gives a data member without + or /: {data}"
    );
    let mut out = vec![
        b64(
            "data in the URL-safe alphabet",
            "data",
            data.replace('+', "-").replace('/', "_"),
        ),
        b64(
            "data without padding",
            "data",
            data.trim_end_matches('=').to_owned(),
        ),
        b64(
            "data with a character outside the alphabet",
            "data",
            format!("!{data}"),
        ),
        b64(
            "data with a line break inside",
            "data",
            format!("{}\n{}", &data[..8], &data[8..]),
        ),
        b64(
            "iv without padding",
            "iv",
            v.get("iv").trim_end_matches('=').to_owned(),
        ),
        b64(
            "salt without padding",
            "salt",
            v.get("salt").trim_end_matches('=').to_owned(),
        ),
    ];
    let trunc = |c: &str, field: &str, bytes: &[u8]| {
        with_accept(
            open_vector(
                c,
                &["Truncated", "OneErrorForAll"],
                PW,
                &v.set(field, &STANDARD.encode(bytes)),
                "corrupted",
            ),
            DAMAGE_ACCEPT,
        )
    };
    let iv = STANDARD.decode(v.get("iv")).expect("base64");
    let d = STANDARD.decode(&data).expect("base64");
    out.push(trunc("iv cut to 12 bytes", "iv", &iv[..12]));
    out.push(trunc("iv empty", "iv", &[]));
    out.push(trunc(
        "iv of 17 bytes",
        "iv",
        &[iv.as_slice(), &[0]].concat(),
    ));
    out.push(trunc("data empty", "data", &[]));
    out.push(trunc("data of 15 bytes", "data", &d[..15]));
    let mut t = with_library(
        open_vector(
            "a correctly sealed vault with a 12-byte IV",
            &["Truncated", "LibraryLengths"],
            PW,
            &raw_vault(rng, 32, 12, 2),
            "corrupted",
        ),
        "ok",
        Some("{}"),
    );
    t["accept"] = json!(DAMAGE_ACCEPT);
    out.push(t);
    out
}

fn tags(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let p = Pinned::new(rng, PW, KEYRINGS, Kdf::Pbkdf2 { iterations: 2 });
    let v = p.vault();
    let tag = |c: &str, flags: &[&str], pw: &str, v: &Vault| {
        with_accept(open_vector(c, flags, pw, v, "wrong_key"), TAG_ACCEPT)
    };
    let nk = &["NoKeyCheck"][..];
    let data_len = STANDARD.decode(v.get("data")).expect("base64").len();
    let mut out = vec![
        tag("wrong password", nk, "correct horse battery stapler", &v),
        tag(
            "password with a trailing space",
            &["NoKeyCheck", "NoNormalization"],
            "correct horse battery staple ",
            &v,
        ),
        tag("empty password", nk, "", &v),
        tag("first ciphertext byte flipped", nk, PW, &v.flip("data", 0)),
        tag(
            "last tag byte flipped",
            nk,
            PW,
            &v.flip("data", data_len - 1),
        ),
        tag("iv byte flipped", nk, PW, &v.flip("iv", 5)),
        tag("salt byte flipped", nk, PW, &v.flip("salt", 31)),
        tag(
            "keyMetadata removed: read as legacy, 10000 iterations",
            nk,
            PW,
            &v.without("keyMetadata"),
        ),
        tag(
            "iterations changed from 2 to 3",
            nk,
            PW,
            &v.meta(r#"{"algorithm":"PBKDF2","params":{"iterations":3}}"#),
        ),
        tag(
            "data from another vault",
            nk,
            PW,
            &v.set(
                "data",
                &Pinned::new(rng, PW, KEYRINGS, Kdf::Pbkdf2 { iterations: 2 })
                    .vault()
                    .get("data"),
            ),
        ),
    ];
    // NFC and NFD spellings of the same word are different passwords.
    let nfc = Pinned::new(rng, "caf\u{e9}", "{}", Kdf::Pbkdf2 { iterations: 2 });
    out.push(nfc.vector(
        "password in NFC (é as one code point)",
        &["RoundTrip", "NoNormalization"],
    ));
    out.push(tag(
        "the same vault opened with the NFD spelling",
        &["NoKeyCheck", "NoNormalization"],
        "cafe\u{301}",
        &nfc.vault(),
    ));
    // Authentic ciphertexts whose plaintext is not what the library writes.
    let key = mm::pbkdf2_sha256_unchecked(PW, &STANDARD.decode(v.get("salt")).expect("b64"), 2);
    let iv: [u8; 16] = STANDARD
        .decode(v.get("iv"))
        .expect("b64")
        .try_into()
        .expect("16");
    for (c, plain) in [
        ("authentic plaintext that is not JSON", &b"not json"[..]),
        ("authentic plaintext that is not UTF-8", &b"\xff\xfe"[..]),
        ("authentic empty plaintext", &b""[..]),
    ] {
        let data = mm::encrypt_data(&key, &iv, plain);
        out.push(with_accept(
            open_vector(
                c,
                &["OneErrorForAll"],
                PW,
                &v.set("data", &STANDARD.encode(&data)),
                "corrupted",
            ),
            DAMAGE_ACCEPT,
        ));
    }
    out
}

fn plaintexts(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let mut out = Vec::new();
    for (c, plain, library, flag) in [
        (
            "whitespace inside the JSON text",
            r#"{ "a" : [ 1, 2 ] }"#,
            r#"{"a":[1,2]}"#,
            "LibraryJsonValue",
        ),
        (
            "1.0 and 1e2",
            r#"[1.0,1e2]"#,
            r#"[1,100]"#,
            "LibraryJsonValue",
        ),
        (
            "an escaped non-ASCII character",
            r#""\u00e9""#,
            "\"\u{e9}\"",
            "LibraryJsonValue",
        ),
        (
            "a duplicated member",
            r#"{"a":1,"a":2}"#,
            r#"{"a":2}"#,
            "LibraryJsonValue",
        ),
        (
            "an integer beyond 2^53",
            r#"{"n":12345678901234567891}"#,
            r#"{"n":12345678901234567000}"#,
            "LibraryNumberPrecision",
        ),
        (
            "a balance in wei beyond 2^53",
            r#"{"wei":9007199254740993}"#,
            r#"{"wei":9007199254740992}"#,
            "LibraryNumberPrecision",
        ),
    ] {
        let p = Pinned::new(rng, PW, plain, Kdf::Pbkdf2 { iterations: 2 });
        let mut t = p.vector(c, &["RoundTrip", flag]);
        t["library"] = json!({"result": "ok", "plaintext": h(library.as_bytes())});
        out.push(t);
    }
    out
}

fn order(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let v = Pinned::new(rng, PW, r#"{"a":1}"#, Kdf::Pbkdf2 { iterations: 2 }).vault();
    let o = |c: &str, v: &Vault, r: &str| open_vector(c, &["Order"], PW, v, r);
    vec![
        o(
            "data missing and algorithm scrypt: malformed comes first",
            &v.without("data")
                .meta(r#"{"algorithm":"scrypt","params":{"iterations":2}}"#),
            "malformed",
        ),
        with_library(
            {
                let mut t = o(
                    "data missing and 0 iterations: malformed comes first",
                    &v.without("data")
                        .meta(r#"{"algorithm":"PBKDF2","params":{"iterations":0}}"#),
                    "malformed",
                );
                t["flags"] = json!(["Order", "LibraryOrder"]);
                t
            },
            "kdf_params_rejected",
            None,
        ),
        with_library(
            {
                let mut t = o(
                    "algorithm scrypt and 0 iterations: the algorithm comes first",
                    &v.meta(r#"{"algorithm":"scrypt","params":{"iterations":0}}"#),
                    "unsupported_kdf",
                );
                t["flags"] = json!(["Order", "LibraryIgnoresAlgorithm"]);
                t
            },
            "kdf_params_rejected",
            None,
        ),
        o(
            "0 iterations and data not base64: the bound comes first",
            &v.set("data", "!!")
                .meta(r#"{"algorithm":"PBKDF2","params":{"iterations":0}}"#),
            "kdf_params_rejected",
        ),
        with_accept(
            o(
                "iv cut to 12 bytes and a wrong password: the length comes first",
                &v.set(
                    "iv",
                    &STANDARD.encode(&STANDARD.decode(v.get("iv")).expect("b64")[..12]),
                ),
                "corrupted",
            ),
            DAMAGE_ACCEPT,
        ),
    ]
    .into_iter()
    .map(|mut t| {
        if t["comment"]
            .as_str()
            .is_some_and(|c| c.contains("wrong password"))
        {
            t["secret"] = json!({"passphrase": "wrong"});
        }
        t
    })
    .collect()
}

fn updates(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let legacy = Pinned::new(rng, PW, KEYRINGS, Kdf::Legacy).vault();
    let at3 = Pinned::new(rng, PW, r#"{"a":1}"#, Kdf::Pbkdf2 { iterations: 3 }).vault();
    let at2 = Pinned::new(rng, PW, r#"{"a":1}"#, Kdf::Pbkdf2 { iterations: 2 }).vault();
    let up = |c: &str, pw: &str, v: &Vault, target: Option<u32>, result: &str| {
        let mut t = json!({
            "comment": c,
            "flags": ["Update"],
            "op": "rotate",
            "secret": {"passphrase": pw},
            "blob": h(&v.text()),
            "result": result,
        });
        if let Some(n) = target {
            t["kdf"] = json!({ "iterations": n });
        }
        t
    };
    let changed = |mut t: Value, changed: bool, plain: &str| {
        t["changed"] = json!(changed);
        t["plaintext"] = json!(h(plain.as_bytes()));
        t
    };
    vec![
        changed(
            up(
                "legacy vault updated to 3 iterations",
                PW,
                &legacy,
                Some(3),
                "ok",
            ),
            true,
            KEYRINGS,
        ),
        changed(
            up(
                "legacy vault updated to the library's default (900000)",
                PW,
                &legacy,
                None,
                "ok",
            ),
            true,
            KEYRINGS,
        ),
        changed(
            up("a vault at 2 updated to 3", PW, &at2, Some(3), "ok"),
            true,
            r#"{"a":1}"#,
        ),
        changed(
            up(
                "a vault already at 3: returned as it is",
                PW,
                &at3,
                Some(3),
                "ok",
            ),
            false,
            r#"{"a":1}"#,
        ),
        changed(
            up(
                "a vault already at 3 with a wrong password: returned as it is, unchecked",
                "wrong",
                &at3,
                Some(3),
                "ok",
            ),
            false,
            r#"{"a":1}"#,
        ),
        with_accept(
            up(
                "legacy vault, wrong password",
                "wrong",
                &legacy,
                Some(3),
                "wrong_key",
            ),
            TAG_ACCEPT,
        ),
        up(
            "legacy vault, target 0 iterations",
            PW,
            &legacy,
            Some(0),
            "kdf_params_rejected",
        ),
        json!({
            "comment": "not JSON", "flags": ["Update", "Malformed"], "op": "rotate",
            "secret": {"passphrase": PW}, "blob": h(b"vault"), "kdf": {"iterations": 3},
            "result": "malformed",
        }),
    ]
}

fn seals(rng: &mut ChaCha20Rng) -> Vec<Value> {
    let seal = |c: &str, flags: &[&str], plain: &[u8], kdf: Kdf, salt: Vec<u8>, result: &str| {
        json!({
            "comment": c, "flags": flags, "op": "seal",
            "secret": {"passphrase": PW}, "plaintext": h(plain),
            "kdf": kdf_json(&kdf), "salt": h(&salt), "result": result,
        })
    };
    vec![
        seal(
            "0 iterations",
            &["Seal"],
            b"{}",
            Kdf::Pbkdf2 { iterations: 0 },
            bytes(rng, 32),
            "kdf_params_rejected",
        ),
        with_library(
            seal(
                "an 8-byte salt",
                &["Seal", "LibrarySaltLength"],
                b"{}",
                Kdf::Pbkdf2 { iterations: 2 },
                bytes(rng, 8),
                "kdf_params_rejected",
            ),
            "ok",
            None,
        ),
        seal(
            "a plaintext that is not JSON",
            &["Seal"],
            b"not json",
            Kdf::Pbkdf2 { iterations: 2 },
            bytes(rng, 32),
            "malformed",
        ),
        seal(
            "a legacy seal",
            &["Seal", "Legacy"],
            b"[1]",
            Kdf::Legacy,
            bytes(rng, 32),
            "ok",
        ),
    ]
}

fn derives(rng: &mut ChaCha20Rng) -> Vec<Value> {
    [
        (Kdf::Pbkdf2 { iterations: 1 }, PW),
        (Kdf::Pbkdf2 { iterations: 2 }, ""),
        (Kdf::Legacy, PW),
    ]
    .into_iter()
    .map(|(kdf, pw)| {
        let salt = bytes(rng, 32);
        let key = mm::derive_key(pw, &kdf, &salt).expect("within bounds");
        json!({
            "comment": format!("PBKDF2-HMAC-SHA256, {} iterations", kdf.iterations()),
            "flags": ["Derive"], "op": "derive", "passphrase": pw,
            "salt": h(&salt), "kdf": kdf_json(&kdf), "ikm": h(&*key), "result": "ok",
        })
    })
    .collect()
}

/// The whole vector file as a JSON value.
pub fn generate() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(0x6d65_7461_6d61_736b);
    type Group = fn(&mut ChaCha20Rng) -> Vec<Value>;
    let groups: [(&str, Group); 12] = [
        ("MetamaskRoundTrip", round),
        ("MetamaskLegacy", legacy),
        ("MetamaskEnvelope", envelope),
        ("MetamaskMalformed", malformed),
        ("MetamaskKdf", kdf),
        ("MetamaskCorrupted", corrupted),
        ("MetamaskTagFailure", tags),
        ("MetamaskPlaintext", plaintexts),
        ("MetamaskOrder", order),
        ("MetamaskUpdate", updates),
        ("MetamaskSeal", seals),
        ("MetamaskDerive", derives),
    ];
    let groups = groups.map(|(ty, make)| (ty, make(&mut rng))).to_vec();
    let mut doc = super::generate::file(ALGORITHM, SCHEMA, NOTES, groups);
    // The release the `library` records were taken from: an adapter naming it is held to
    // them (`runs_recorded_library`).
    doc["library"] = json!("@metamask/browser-passworder 6.0.0");
    doc
}

/// The file's text as committed: canonical JSON (vectors/README.md).
pub fn generate_text() -> String {
    to_canonical(&generate())
}

fn password(t: &Value) -> Result<String, String> {
    t["secret"]["passphrase"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "vector has no secret.passphrase".to_owned())
}

fn expect_class(got: Result<(), mm::Error>, want: &str) -> Result<(), String> {
    match got {
        Ok(()) if want == "ok" => Ok(()),
        Ok(()) => Err(format!("expected {want}, but it succeeded")),
        Err(e) if e.class().as_str() == want => Ok(()),
        Err(e) => Err(format!("expected {want}, got {}: {e}", e.class())),
    }
}

fn check_one(t: &Value) -> Result<(), String> {
    let want = t["result"].as_str().ok_or("vector has no result")?;
    match t["op"].as_str().unwrap_or("open") {
        "open" => {
            let blob = unhex(t, "blob")?;
            let got = mm::open(&password(t)?, &blob);
            if let Ok(opened) = &got {
                let plain = unhex(t, "plaintext")?;
                if opened.plaintext.as_slice() != plain.as_slice() {
                    return Err(format!("opened to {}", h(&opened.plaintext)));
                }
            }
            if t.get("iv").is_some() {
                let iv: [u8; 16] = unhex(t, "iv")?
                    .try_into()
                    .map_err(|_| "vector iv is not 16 bytes")?;
                let sealed = mm::seal(
                    &password(t)?,
                    &unhex(t, "plaintext")?,
                    &SealParams {
                        kdf: kdf_from_json(&t["kdf"])?,
                        salt: &unhex(t, "salt")?,
                        iv,
                    },
                )
                .map_err(|e| format!("pinned seal failed: {e}"))?;
                if sealed != blob {
                    return Err(format!(
                        "pinned seal gives {}",
                        String::from_utf8_lossy(&sealed)
                    ));
                }
            }
            expect_class(got.map(|_| ()), want)
        }
        "seal" => {
            let kdf = kdf_from_json(&t["kdf"])?;
            let got = mm::seal(
                &password(t)?,
                &unhex(t, "plaintext")?,
                &SealParams {
                    kdf,
                    salt: &unhex(t, "salt")?,
                    iv: [0u8; 16],
                },
            );
            if let Ok(v) = &got {
                let opened = mm::open(&password(t)?, v).map_err(|e| format!("reopen: {e}"))?;
                if opened.plaintext.as_slice() != unhex(t, "plaintext")?.as_slice() {
                    return Err("the sealed vault opens to another plaintext".to_owned());
                }
                if opened.envelope.kdf != kdf {
                    return Err(format!("sealed with {:?}", opened.envelope.kdf));
                }
            }
            expect_class(got.map(|_| ()), want)
        }
        "rotate" => {
            let target = match t.get("kdf") {
                None => mm::DEFAULT_ITERATIONS,
                Some(k) => match kdf_from_json(k)? {
                    Kdf::Pbkdf2 { iterations } => iterations,
                    Kdf::Legacy => return Err("an update never targets legacy".to_owned()),
                },
            };
            let pw = password(t)?;
            let blob = unhex(t, "blob")?;
            let got = mm::update(&pw, &blob, target, &[0x55; 32], [0x66; 16]);
            if let Ok(up) = &got {
                if Some(up.changed) != t["changed"].as_bool() {
                    return Err(format!("changed = {}", up.changed));
                }
                if !up.changed && up.vault != blob {
                    return Err("an unchanged vault came back different".to_owned());
                }
                let pw = if up.changed { pw.as_str() } else { PW };
                let opened = mm::open(pw, &up.vault).map_err(|e| format!("reopen: {e}"))?;
                if opened.envelope.kdf != (Kdf::Pbkdf2 { iterations: target }) {
                    return Err(format!("updated to {:?}", opened.envelope.kdf));
                }
                if opened.plaintext.as_slice() != unhex(t, "plaintext")?.as_slice() {
                    return Err("the updated vault opens to another plaintext".to_owned());
                }
            }
            expect_class(got.map(|_| ()), want)
        }
        "derive" => {
            let pw = t["passphrase"].as_str().ok_or("vector has no passphrase")?;
            let key = mm::derive_key(pw, &kdf_from_json(&t["kdf"])?, &unhex(t, "salt")?)
                .map_err(|e| e.to_string())?;
            if key.as_slice() != unhex(t, "ikm")?.as_slice() {
                return Err(format!("derived {}", h(&*key)));
            }
            Ok(())
        }
        other => Err(format!("unknown op {other:?}")),
    }
}

/// Every test of the file against the reference codec, as `(tcId, outcome)`.
pub fn check(file_json: &Value) -> Vec<(u64, Result<(), String>)> {
    check_each(file_json, check_one)
}

/// The profile's name in adapter requests.
const PROFILE: &str = mm::NAME;

/// Why an answer from `accept` passes: the design cannot tell the causes apart.
pub const ACCEPT_REASON: &str = "the vault has no key check, so a wrong password and damage are the same failure (advisory no-key-check; docs/profiles/metamask-vault.md §5)";

/// The flag naming each documented disagreement with the library and its id in
/// docs/profiles/metamask-vault.md §6.
const DISAGREEMENTS: &[(&str, &str)] = &[
    ("LibraryLenientBase64", "D1"),
    ("LibraryIgnoresAlgorithm", "D2"),
    ("LibraryMissingAlgorithm", "D3"),
    ("LibraryCoercesIterations", "D4"),
    ("LibraryMistyped", "D5"),
    ("LibraryUnbounded", "D6"),
    ("LibraryLengths", "D7"),
    ("LibrarySaltLength", "D7"),
    ("LibraryOrder", "D8"),
    ("LibraryJsonValue", "D9"),
    ("LibraryNumberPrecision", "D9"),
];

/// The disagreement a vector with a `library` record shows, as `D4 (LibraryCoercesIterations)`.
fn disagreement(t: &Value) -> Result<String, String> {
    t["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|f| {
            DISAGREEMENTS
                .iter()
                .find(|(flag, _)| *flag == f)
                .map(|(flag, id)| format!("{id} ({flag})"))
        })
        .ok_or_else(|| {
            "vector records a library answer without a Library… flag naming the disagreement"
                .to_owned()
        })
}

/// Whether the adapter runs the library release the vector file records (`library`): only
/// then do the recorded disagreements replace the profile's answer.
fn runs_recorded_library(doc: &Value, implementation: &str) -> bool {
    doc["library"]
        .as_str()
        .is_some_and(|lib| format!("{implementation} ").starts_with(&format!("{lib} ")))
}

/// Why a vector whose library record is `unbounded` or `not-run` is not sent.
fn not_sent_reason(t: &Value, recorded: &str) -> Result<String, String> {
    let vault: Value = serde_json::from_slice(&unhex(t, "blob")?)
        .map_err(|e| format!("vector blob is not JSON: {e}"))?;
    let n = &vault["keyMetadata"]["params"]["iterations"];
    let d = disagreement(t)?;
    Ok(if recorded == "unbounded" {
        format!(
            "not sent: the library derives the declared {n} PBKDF2 rounds (it bounds them only at 2^31-1) and answers after minutes to hours; see {d}, docs/profiles/metamask-vault.md §6"
        )
    } else {
        format!(
            "not sent: the library derives the declared {n} PBKDF2 rounds for several seconds and its answer is not recorded; see {d}, docs/profiles/metamask-vault.md §6"
        )
    })
}

/// The request of a test's op (docs/profiles/metamask-vault.md §8), without `profile`.
fn request(t: &Value, op: &str) -> Result<Value, String> {
    let fields: &[&str] = match op {
        "open" => &["secret", "blob"],
        "seal" => &["secret", "plaintext", "kdf", "salt"],
        "rotate" => &["secret", "blob", "kdf"],
        "derive" => &["passphrase", "salt", "kdf"],
        other => return Err(format!("unknown op {other:?}")),
    };
    Ok(request_of(PROFILE, t, fields))
}

/// What a successful answer must contain: `None` when it does, else what is wrong. The
/// library draws its own IV, so sealed and updated vaults are checked by what they declare
/// and by opening them again through the same adapter.
fn check_ok(
    t: &Value,
    op: &str,
    result: &Value,
    plaintext: Option<&[u8]>,
    imp: &mut AdapterImplementation,
) -> Result<Option<String>, String> {
    if op == "derive" {
        let got = hex_answer(result, "ikm")?;
        return Ok((got != unhex(t, "ikm")?).then(|| format!("derived {}", h(&got))));
    }
    let plaintext = plaintext.ok_or("an ok vector without plaintext")?;
    if op == "open" {
        let got = hex_answer(result, "plaintext")?;
        return Ok((got != plaintext).then(|| format!("opened to {}", h(&got))));
    }
    let blob = hex_answer(result, "blob")?;
    let Ok(vault) = serde_json::from_slice::<Value>(&blob) else {
        return Ok(Some(format!(
            "a vault that is not JSON: {}",
            String::from_utf8_lossy(&blob)
        )));
    };
    let mut reopen_with = password(t)?;
    if op == "rotate" {
        let changed = t["changed"]
            .as_bool()
            .ok_or("an update vector without changed")?;
        if result["changed"].as_bool() != Some(changed) {
            return Ok(Some(format!(
                "changed = {}, expected {changed}",
                result["changed"]
            )));
        }
        if !changed {
            if blob != unhex(t, "blob")? {
                return Ok(Some("an unchanged vault came back different".to_owned()));
            }
            // Returned unchecked: the password of the request may be wrong (vector 103).
            reopen_with = PW.to_owned();
        }
        let target = match t.get("kdf") {
            None => mm::DEFAULT_ITERATIONS,
            Some(k) => kdf_from_json(k)?.iterations(),
        };
        let want = json!({"algorithm": mm::PBKDF2, "params": {"iterations": target}});
        if vault["keyMetadata"] != want {
            return Ok(Some(format!(
                "updated vault declares {}",
                vault["keyMetadata"]
            )));
        }
    } else {
        match kdf_from_json(&t["kdf"])? {
            Kdf::Legacy if vault.get("keyMetadata").is_some() => {
                return Ok(Some("a legacy seal wrote keyMetadata".to_owned()));
            }
            Kdf::Legacy => {}
            Kdf::Pbkdf2 { iterations } => {
                if vault["keyMetadata"]["params"]["iterations"] != json!(iterations) {
                    return Ok(Some(format!("sealed with {}", vault["keyMetadata"])));
                }
            }
        }
        let salt = vault["salt"].as_str().and_then(|s| STANDARD.decode(s).ok());
        if salt != Some(unhex(t, "salt")?) {
            return Ok(Some("the given salt was not used".to_owned()));
        }
    }
    let again =
        json!({"profile": PROFILE, "secret": {"passphrase": reopen_with}, "blob": h(&blob)});
    Ok(match imp.call_json("open", again)? {
        Ok(r) if hex_answer(&r, "plaintext")? == plaintext => None,
        Ok(r) => Some(format!(
            "what it wrote opens to {}",
            r["plaintext"].as_str().unwrap_or("?")
        )),
        Err(e) => Some(format!(
            "what it wrote does not open: {} ({})",
            e.class, e.message
        )),
    })
}

/// One test through an adapter, with `"profile": "metamask-vault"`. The answer passes
/// when it is `result`, is pass-acceptable when it is one of `accept`; for the library
/// release the file records (`library_mode`), a vector with a `library` record passes
/// (acceptably, naming the disagreement) only with exactly what is recorded, and one
/// recorded as `unbounded` or `not-run` is not sent.
fn run_through(
    t: &Value,
    imp: &mut AdapterImplementation,
    library_mode: bool,
) -> Result<CaseOutcome, String> {
    let expected = t["result"].as_str().ok_or("vector has no result")?;
    let op = t["op"].as_str().unwrap_or("open");
    let library = t.get("library").filter(|_| library_mode);
    if let Some(recorded @ ("unbounded" | "not-run")) = library.and_then(|l| l["result"].as_str()) {
        return Ok(CaseOutcome::NotRun {
            reason: not_sent_reason(t, recorded)?,
        });
    }
    if !imp.offers(PROFILE, op) {
        return Ok(CaseOutcome::Unsupported { op: op.into() });
    }
    let vector_plaintext = t
        .get("plaintext")
        .map(|_| unhex(t, "plaintext"))
        .transpose()?;
    // The classes that pass, the plaintext an ok must give, and for a recorded
    // disagreement why its answer is acceptable.
    let (allowed, plaintext, disagreeing) = match library {
        Some(l) => {
            let recorded = l["result"]
                .as_str()
                .ok_or("vector library record without result")?;
            let plaintext = match l.get("plaintext") {
                Some(_) => Some(unhex(l, "plaintext")?),
                None => vector_plaintext,
            };
            let what = if recorded == expected {
                "gives back another plaintext than the profile".to_owned()
            } else {
                format!("answers {recorded} where the profile says {expected}")
            };
            let reason = format!(
                "{}: the library {what}, a documented disagreement (docs/profiles/metamask-vault.md §6)",
                disagreement(t)?
            );
            (vec![recorded], plaintext, Some(reason))
        }
        None => (allowed(t)?, vector_plaintext, None),
    };
    let answer = imp.call_json(op, request(t, op)?)?;
    grade(
        op,
        &allowed,
        &answer,
        &mut |r| check_ok(t, op, r, plaintext.as_deref(), imp),
        &|got| {
            disagreeing
                .clone()
                .or_else(|| same_failure(got, expected, ACCEPT_REASON))
        },
    )
}

/// How `backproof vectors check` and `backproof run` check this file (`super::check_profile`).
pub(super) const RUNNER: Runner<'static> = Runner {
    file: FILE,
    profile: PROFILE,
    through: &|doc, t, a| {
        let library_mode = runs_recorded_library(doc, &a.hello().implementation);
        run_through(t, a, library_mode)
    },
    local: &check_one,
};

#[cfg(test)]
mod tests {
    use super::super::profile_file::{
        assert_envelope_consistent, assert_matches_schema, assert_regenerates,
    };
    use super::*;
    use std::path::PathBuf;

    /// Generating costs a few derivations at the library's 900000 iterations; do it once.
    fn generated() -> &'static Value {
        static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
        DOC.get_or_init(generate)
    }

    fn committed() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../vectors")
            .join(FILE)
    }

    #[test]
    fn regeneration_gives_the_committed_file_and_every_vector_checks() {
        assert_regenerates(FILE, generated(), "BACKPROOF_WRITE_METAMASK_VECTORS", check);
    }

    #[test]
    fn the_checker_notices_wrong_expectations() {
        let doc = generated();
        let mut tampered = doc.clone();
        // A wrong plaintext, a pinned iv that no longer reseals, a wrong class, a wrong
        // `changed`, a wrong derived key.
        tampered["testGroups"][0]["tests"][1]["plaintext"] = json!("7b7d");
        tampered["testGroups"][0]["tests"][2]["iv"] = json!(h(&[0u8; 16]));
        tampered["testGroups"][3]["tests"][0]["result"] = json!("corrupted");
        tampered["testGroups"][9]["tests"][3]["changed"] = json!(true);
        tampered["testGroups"][11]["tests"][0]["ikm"] = json!(h(&[0u8; 32]));
        // The expensive vectors (900000 iterations) are checked by the test above.
        for g in tampered["testGroups"].as_array_mut().unwrap() {
            g["tests"].as_array_mut().unwrap().retain(|t| {
                t["kdf"]["iterations"] != json!(mm::DEFAULT_ITERATIONS)
                    && !(t["op"] == json!("rotate") && t.get("kdf").is_none())
            });
        }
        let bad: Vec<u64> = check(&tampered)
            .into_iter()
            .filter(|(_, r)| r.is_err())
            .map(|(id, _)| id)
            .collect();
        let id = |g: usize, i: usize| doc["testGroups"][g]["tests"][i]["tcId"].as_u64().unwrap();
        assert_eq!(bad, vec![id(0, 1), id(0, 2), id(3, 0), id(9, 3), id(11, 0)]);
    }

    #[test]
    fn file_envelope_is_consistent() {
        assert_envelope_consistent(generated(), |t, flags| {
            // A recorded disagreement always names which one it is.
            if t.get("library").is_some() {
                assert!(
                    flags.iter().any(|f| f.starts_with("Library")),
                    "tcId {} records the library without a Library* flag",
                    t["tcId"]
                );
            }
        });
    }

    #[test]
    fn file_matches_its_schema() {
        assert_matches_schema(
            SCHEMA,
            generated(),
            &[
                ("result", json!("incorrect_password")),
                ("blob", json!("ABCD")),
                ("library", json!({"result": "maybe"})),
            ],
        );
    }

    /// A stand-in adapter (shell, run with `sh -c`) whose hello names `implementation` and
    /// that answers every other request `malformed`.
    fn stand_in(implementation: &str) -> AdapterImplementation {
        let script = format!(
            r#"while read l; do id=$(echo "$l" | sed 's/.*"id":\([0-9]*\).*/\1/'); case "$l" in *'"hello"'*) echo "{{\"id\":$id,\"result\":{{\"protocol\":1,\"implementation\":\"{implementation}\",\"profiles\":[\"metamask-vault\"],\"ops\":[\"hello\",\"open\"]}}}}";; *) echo "{{\"id\":$id,\"error\":{{\"class\":\"malformed\",\"message\":\"stand-in\"}}}}";; esac; done"#
        );
        AdapterImplementation::start(&script).unwrap()
    }

    fn outcomes(implementation: &str) -> Vec<(String, CaseOutcome)> {
        let dir = committed()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        let mut imp = stand_in(implementation);
        RUNNER
            .check_filtered(&dir, Some(&mut imp), Some("metamask-vault/{43,55}"))
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.outcome))
            .collect()
    }

    /// Vector 43 (iterations the string "2"): the profile says malformed, the library
    /// records ok (D4). Vector 55 (100000000 iterations): the library records unbounded.
    #[test]
    fn recorded_disagreements_bind_only_the_recorded_library() {
        // Claiming to be the recorded release: only the recorded answer passes, so the
        // profile's own answer fails, and the unbounded vault is not sent.
        let lib = outcomes("@metamask/browser-passworder 6.0.0 (stand-in)");
        assert_eq!(lib[0].0, "metamask-vault/43");
        assert!(
            matches!(&lib[0].1, CaseOutcome::Fail { expected, .. } if expected == "ok"),
            "{lib:?}"
        );
        assert!(
            matches!(&lib[1].1, CaseOutcome::NotRun { reason } if reason.contains("D6") && reason.contains("100000000")),
            "{lib:?}"
        );
        // Any other implementation is held to the profile: malformed passes for 43, and
        // 55 is sent and must be refused as kdf_params_rejected.
        let other = outcomes("another-vault 1.0");
        assert_eq!(other[0].1, CaseOutcome::Pass, "{other:?}");
        assert!(
            matches!(&other[1].1, CaseOutcome::Fail { expected, .. } if expected == "kdf_params_rejected"),
            "{other:?}"
        );
        // A release the file does not record is another implementation too.
        let newer = outcomes("@metamask/browser-passworder 6.0.1 (stand-in)");
        assert_eq!(newer[0].1, CaseOutcome::Pass, "{newer:?}");
    }
}
