//! Running vector files against an implementation: the in-process reference, or (through
//! an adapter written elsewhere) an implementation under test.

use std::path::Path;

use backproof_format::payload;
use backproof_format::primitives::{aes256gcm_decrypt, aes256gcm_encrypt, hkdf_sha256};
use backproof_format::{KdfParams, Policy, check_key, open, open_payload, parse_header, seal};
use serde_json::Value;

use super::{FILES, VectorsError};

/// A failure the implementation reports with one of the closed error classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassError {
    pub class: String,
    pub message: String,
}

/// Outer `Err`: the implementation could not be asked at all (crashed, hung, protocol
/// broken) — the case becomes `error`, not `fail`. Inner `Err`: a classified failure.
pub type OpResult<T> = Result<Result<T, ClassError>, String>;

/// A secret as vectors spell it (`{"passphrase": "..."}` or `{"key": "<64 hex>"}`): the one
/// secret type of the harness, shared with the adapter protocol and the scenario files.
pub use backproof_client::adapter::protocol::Secret as SecretSpec;

/// Parses a vector's secret, or a smart-recovery candidate's (whose `id` sits beside it);
/// `None` if it is neither form.
fn secret_of(v: &Value) -> Option<SecretSpec> {
    let mut fields = v.as_object()?.clone();
    fields.remove("id");
    serde_json::from_value(Value::Object(fields)).ok()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub secret: SecretSpec,
}

/// The result of trying candidates against one blob: `matched` is `None` when none fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub matched: Option<String>,
    pub plaintext: Vec<u8>,
    pub tried: Vec<String>,
}

/// What the vector checker needs from an implementation. Only the ops listed by
/// [`Implementation::ops`] are called; cases needing another op are `unsupported`.
///
/// Op names: `argon2id` (general Argon2id with secret/ad/tag length), `derive` (the key
/// schedule's 32-byte Argon2id over an NFC passphrase), `hkdf-sha256`, `aes-256-gcm`,
/// `seal`, `open`, `open_payload`. Smart-recovery vectors need `open` (the default
/// [`Implementation::recover`] tries candidates with it).
pub trait Implementation {
    /// "name version", shown in reports.
    fn name(&self) -> String;
    fn ops(&mut self) -> Vec<String>;

    fn argon2id(
        &mut self,
        _password: &[u8],
        _salt: &[u8],
        _secret: &[u8],
        _ad: &[u8],
        _kdf: &KdfParams,
        _tag_len: usize,
    ) -> OpResult<Vec<u8>> {
        Err("op argon2id not implemented".to_owned())
    }
    fn derive(&mut self, _passphrase: &str, _salt: &[u8], _kdf: &KdfParams) -> OpResult<Vec<u8>> {
        Err("op derive not implemented".to_owned())
    }
    fn hkdf_sha256(
        &mut self,
        _ikm: &[u8],
        _salt: &[u8],
        _info: &[u8],
        _size: usize,
    ) -> OpResult<Vec<u8>> {
        Err("op hkdf-sha256 not implemented".to_owned())
    }
    /// `(ciphertext, tag)`.
    fn aes256gcm_seal(
        &mut self,
        _key: &[u8],
        _iv: &[u8],
        _aad: &[u8],
        _msg: &[u8],
    ) -> OpResult<(Vec<u8>, Vec<u8>)> {
        Err("op aes-256-gcm not implemented".to_owned())
    }
    fn aes256gcm_open(
        &mut self,
        _key: &[u8],
        _iv: &[u8],
        _aad: &[u8],
        _ct: &[u8],
        _tag: &[u8],
    ) -> OpResult<Vec<u8>> {
        Err("op aes-256-gcm not implemented".to_owned())
    }
    /// `kdf`, `salt`, `nonce` are `None` when the vector leaves them to the implementation.
    fn seal(
        &mut self,
        _secret: &SecretSpec,
        _plaintext: &[u8],
        _kdf: Option<&KdfParams>,
        _salt: Option<&[u8]>,
        _nonce: Option<&[u8]>,
    ) -> OpResult<Vec<u8>> {
        Err("op seal not implemented".to_owned())
    }
    fn open(&mut self, _secret: &SecretSpec, _blob: &[u8]) -> OpResult<Vec<u8>> {
        Err("op open not implemented".to_owned())
    }
    /// Open and decode the BackupPayload; returns its canonical (prost) re-encoding.
    fn open_payload(&mut self, _secret: &SecretSpec, _blob: &[u8]) -> OpResult<Vec<u8>> {
        Err("op open_payload not implemented".to_owned())
    }
    /// Try candidates in order; the first that opens wins, `wrong_key` moves on, any other
    /// class stops the search.
    fn recover(&mut self, blob: &[u8], candidates: &[Candidate]) -> OpResult<Recovered> {
        let mut tried = Vec::new();
        for c in candidates {
            tried.push(c.id.clone());
            match self.open(&c.secret, blob)? {
                Ok(plaintext) => {
                    return Ok(Ok(Recovered {
                        matched: Some(c.id.clone()),
                        plaintext,
                        tried,
                    }));
                }
                Err(e) if e.class == "wrong_key" => continue,
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(Recovered {
            matched: None,
            plaintext: Vec::new(),
            tried,
        }))
    }
}

/// backproof-format in-process, with the default policy.
#[derive(Debug, Default)]
pub struct Reference;

fn classed<T>(r: Result<T, backproof_format::Error>) -> OpResult<T> {
    Ok(r.map_err(|e| ClassError {
        class: e.class().as_str().to_owned(),
        message: e.to_string(),
    }))
}

fn fixed<const N: usize>(b: &[u8], what: &str) -> Result<[u8; N], String> {
    b.try_into()
        .map_err(|_| format!("{what} must be {N} bytes"))
}

impl Implementation for Reference {
    fn name(&self) -> String {
        format!("backproof-format {}", env!("CARGO_PKG_VERSION"))
    }
    fn ops(&mut self) -> Vec<String> {
        [
            "argon2id",
            "derive",
            "hkdf-sha256",
            "aes-256-gcm",
            "seal",
            "open",
            "open_payload",
            "recover",
        ]
        .map(String::from)
        .to_vec()
    }
    fn argon2id(
        &mut self,
        password: &[u8],
        salt: &[u8],
        secret: &[u8],
        ad: &[u8],
        kdf: &KdfParams,
        tag_len: usize,
    ) -> OpResult<Vec<u8>> {
        classed(
            backproof_format::argon2id(password, salt, secret, ad, kdf, tag_len)
                .map(|t| t.to_vec()),
        )
    }
    fn derive(&mut self, passphrase: &str, salt: &[u8], kdf: &KdfParams) -> OpResult<Vec<u8>> {
        classed(backproof_format::derive_ikm(passphrase, salt, kdf).map(|k| k.to_vec()))
    }
    fn hkdf_sha256(
        &mut self,
        ikm: &[u8],
        salt: &[u8],
        info: &[u8],
        size: usize,
    ) -> OpResult<Vec<u8>> {
        classed(hkdf_sha256(ikm, salt, info, size))
    }
    fn aes256gcm_seal(
        &mut self,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> OpResult<(Vec<u8>, Vec<u8>)> {
        let (key, iv) = (fixed::<32>(key, "key")?, fixed::<12>(iv, "iv")?);
        classed(aes256gcm_encrypt(&key, &iv, aad, msg).map(|(c, t)| (c, t.to_vec())))
    }
    fn aes256gcm_open(
        &mut self,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        ct: &[u8],
        tag: &[u8],
    ) -> OpResult<Vec<u8>> {
        let (key, iv, tag) = (
            fixed::<32>(key, "key")?,
            fixed::<12>(iv, "iv")?,
            fixed::<16>(tag, "tag")?,
        );
        classed(aes256gcm_decrypt(&key, &iv, aad, ct, &tag))
    }
    fn seal(
        &mut self,
        secret: &SecretSpec,
        plaintext: &[u8],
        kdf: Option<&KdfParams>,
        salt: Option<&[u8]>,
        nonce: Option<&[u8]>,
    ) -> OpResult<Vec<u8>> {
        // The reference has no randomness source of its own (the format crate is pure);
        // every vector that seals pins the nonce, and passphrase seals pin the salt.
        let nonce = fixed::<12>(
            nonce.ok_or("the reference seals only with a given nonce")?,
            "nonce",
        )?;
        classed(seal(
            &secret.to_secret(),
            kdf.unwrap_or(&KdfParams::FLOOR),
            salt.unwrap_or(&[]),
            &nonce,
            plaintext,
        ))
    }
    fn open(&mut self, secret: &SecretSpec, blob: &[u8]) -> OpResult<Vec<u8>> {
        classed(open(&secret.to_secret(), blob, &Policy::default()).map(|p| p.to_vec()))
    }
    fn open_payload(&mut self, secret: &SecretSpec, blob: &[u8]) -> OpResult<Vec<u8>> {
        classed(
            open_payload(&secret.to_secret(), blob, &Policy::default())
                .map(|p| payload::encode(&p)),
        )
    }
    /// Cheap key checks first (one Argon2id per passphrase candidate, no decryption), then
    /// one decryption for the match.
    fn recover(&mut self, blob: &[u8], candidates: &[Candidate]) -> OpResult<Recovered> {
        let header = match parse_header(blob) {
            Ok(h) => h,
            Err(e) => return classed(Err(e)),
        };
        let mut tried = Vec::new();
        for c in candidates {
            tried.push(c.id.clone());
            let secret = c.secret.to_secret();
            match check_key(&header, &secret, &Policy::default()) {
                Ok(()) => {
                    return classed(open(&secret, blob, &Policy::default()).map(|p| Recovered {
                        matched: Some(c.id.clone()),
                        plaintext: p.to_vec(),
                        tried,
                    }));
                }
                Err(e) if e.class() == backproof_format::ErrorClass::WrongKey => continue,
                Err(e) => return classed(Err(e)),
            }
        }
        Ok(Ok(Recovered {
            matched: None,
            plaintext: Vec::new(),
            tried,
        }))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    Pass,
    /// An answer the vector allows besides its own (a profile without a key check may say
    /// `corrupted` for a tag failure), with why.
    PassAcceptable {
        reason: String,
    },
    Fail {
        expected: String,
        observed: String,
    },
    Unsupported {
        op: String,
    },
    /// Not sent, for a reason the vector file records (a library that would derive for
    /// hours): reported `unsupported` with the reason, never a pass.
    NotRun {
        reason: String,
    },
    Error {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// `<file stem>/<tcId>`, e.g. `blob-v1/12`; what `--filter` globs match.
    pub id: String,
    pub file: String,
    pub tc_id: u64,
    pub comment: String,
    pub outcome: CaseOutcome,
    /// How long the case took (a report's `timings`).
    pub millis: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub unsupported: usize,
    pub errors: usize,
}

pub fn summarize(results: &[CaseResult]) -> Summary {
    let mut s = Summary::default();
    for r in results {
        match r.outcome {
            CaseOutcome::Pass | CaseOutcome::PassAcceptable { .. } => s.passed += 1,
            CaseOutcome::Fail { .. } => s.failed += 1,
            CaseOutcome::Unsupported { .. } | CaseOutcome::NotRun { .. } => s.unsupported += 1,
            CaseOutcome::Error { .. } => s.errors += 1,
        }
    }
    s
}

/// `--filter`'s glob over case ids, or `None` for every case.
pub(crate) fn id_matcher(
    filter: Option<&str>,
) -> Result<Option<globset::GlobMatcher>, VectorsError> {
    filter
        .map(|g| {
            globset::Glob::new(g)
                .map(|g| g.compile_matcher())
                .map_err(|e| VectorsError::Filter {
                    glob: g.to_owned(),
                    reason: e.to_string(),
                })
        })
        .transpose()
}

/// Run every vector file in `dir` (those of [`FILES`]) against `imp`. `filter` is a glob
/// over case ids (`blob-v1/*`, `argon2id/3`).
pub fn check(
    dir: &Path,
    imp: &mut dyn Implementation,
    filter: Option<&str>,
) -> Result<Vec<CaseResult>, VectorsError> {
    let matcher = id_matcher(filter)?;
    check_selected(dir, imp, &|id| {
        matcher.as_ref().is_none_or(|m| m.is_match(id))
    })
}

/// [`check`] with the selection as a predicate over case ids (`blob-v1/12`): a run's
/// `--filter` and `--shard` together pick cases no single glob describes.
pub fn check_selected(
    dir: &Path,
    imp: &mut dyn Implementation,
    selected: &dyn Fn(&str) -> bool,
) -> Result<Vec<CaseResult>, VectorsError> {
    let ops = imp.ops();
    let mut results = Vec::new();
    for name in FILES {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|source| VectorsError::Read {
            path: path.clone(),
            source,
        })?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| VectorsError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let groups = doc["testGroups"]
            .as_array()
            .ok_or_else(|| VectorsError::Invalid {
                path: path.clone(),
                reason: "no testGroups array".to_owned(),
            })?;
        let stem = name.trim_end_matches(".json");
        for test in groups
            .iter()
            .filter_map(|g| g["tests"].as_array())
            .flatten()
        {
            let tc_id = test["tcId"].as_u64().unwrap_or(0);
            let id = format!("{stem}/{tc_id}");
            if !selected(&id) {
                continue;
            }
            let started = std::time::Instant::now();
            let outcome = match run_case(stem, test, imp, &ops) {
                Ok(o) => o,
                Err(message) => CaseOutcome::Error { message },
            };
            results.push(CaseResult {
                id,
                file: name.to_owned(),
                tc_id,
                comment: test["comment"].as_str().unwrap_or_default().to_owned(),
                outcome,
                millis: started.elapsed().as_millis() as u64,
            });
        }
    }
    Ok(results)
}

fn field_hex(t: &Value, name: &str) -> Result<Vec<u8>, String> {
    let s = t[name]
        .as_str()
        .ok_or_else(|| format!("vector has no hex field {name:?}"))?;
    hex::decode(s).map_err(|e| format!("vector field {name:?} is not hex: {e}"))
}

fn field_u32(t: &Value, name: &str) -> Result<u32, String> {
    t[name]
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("vector has no integer field {name:?}"))
}

fn field_kdf(v: &Value) -> Result<KdfParams, String> {
    Ok(KdfParams {
        m_cost: field_u32(v, "m_cost")?,
        t_cost: field_u32(v, "t_cost")?,
        p_cost: field_u32(v, "p_cost")?,
    })
}

/// Short, diff-friendly rendering of bytes.
fn show(b: &[u8]) -> String {
    let hex = hex::encode(&b[..b.len().min(24)]);
    if b.len() > 24 {
        format!("{} bytes {hex}…", b.len())
    } else {
        format!("{} bytes {hex}", b.len())
    }
}

fn observed<T>(r: &Result<T, ClassError>) -> String {
    match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("{} ({})", e.class, e.message),
    }
}

/// Compare an op result with the vector's expectation: `expected_ok` is the bytes an `ok`
/// must produce; otherwise `result` names the class.
fn judge(
    result: &str,
    got: Result<Vec<u8>, ClassError>,
    expected_ok: Option<&[u8]>,
    what: &str,
) -> CaseOutcome {
    match (&got, result) {
        (Ok(bytes), "ok") => match expected_ok {
            Some(want) if want != bytes.as_slice() => CaseOutcome::Fail {
                expected: format!("{what} {}", show(want)),
                observed: format!("{what} {}", show(bytes)),
            },
            _ => CaseOutcome::Pass,
        },
        (Err(e), class) if e.class == class => CaseOutcome::Pass,
        _ => CaseOutcome::Fail {
            expected: if result == "ok" {
                "ok".to_owned()
            } else {
                result.to_owned()
            },
            observed: observed(&got),
        },
    }
}

fn has(ops: &[String], op: &str) -> bool {
    ops.iter().any(|o| o == op)
}

fn unsupported(op: &str) -> Result<CaseOutcome, String> {
    Ok(CaseOutcome::Unsupported { op: op.to_owned() })
}

fn run_case(
    file: &str,
    t: &Value,
    imp: &mut dyn Implementation,
    ops: &[String],
) -> Result<CaseOutcome, String> {
    let result = t["result"].as_str().ok_or("vector has no result")?;
    match file {
        "argon2id" => {
            let (pw, salt, secret, ad) = (
                field_hex(t, "password")?,
                field_hex(t, "salt")?,
                field_hex(t, "secret")?,
                field_hex(t, "ad")?,
            );
            let kdf = field_kdf(t)?;
            let tag_len = field_u32(t, "tag_len")? as usize;
            let tag = field_hex(t, "tag")?;
            let got = if has(ops, "argon2id") {
                imp.argon2id(&pw, &salt, &secret, &ad, &kdf, tag_len)?
            } else {
                // `derive` normalizes, so it only answers for passwords that NFC leaves alone.
                let usable = secret.is_empty() && ad.is_empty() && tag_len == 32;
                match std::str::from_utf8(&pw) {
                    Ok(p) if usable && has(ops, "derive") && is_nfc(p) => {
                        imp.derive(p, &salt, &kdf)?
                    }
                    _ => return unsupported("argon2id"),
                }
            };
            Ok(judge(result, got, Some(&tag), "tag"))
        }
        "hkdf-sha256" => {
            if !has(ops, "hkdf-sha256") {
                return unsupported("hkdf-sha256");
            }
            let size = field_u32(t, "size")? as usize;
            let got = imp.hkdf_sha256(
                &field_hex(t, "ikm")?,
                &field_hex(t, "salt")?,
                &field_hex(t, "info")?,
                size,
            )?;
            Ok(judge(result, got, Some(&field_hex(t, "okm")?), "okm"))
        }
        "aes-256-gcm" => {
            if !has(ops, "aes-256-gcm") {
                return unsupported("aes-256-gcm");
            }
            let (key, iv, aad, msg, ct, tag) = (
                field_hex(t, "key")?,
                field_hex(t, "iv")?,
                field_hex(t, "aad")?,
                field_hex(t, "msg")?,
                field_hex(t, "ct")?,
                field_hex(t, "tag")?,
            );
            if result == "ok" {
                let sealed = imp
                    .aes256gcm_seal(&key, &iv, &aad, &msg)?
                    .map(|(c, tg)| [c, tg].concat());
                let outcome = judge(
                    result,
                    sealed,
                    Some(&[ct.as_slice(), &tag].concat()),
                    "ct||tag",
                );
                if outcome != CaseOutcome::Pass {
                    return Ok(outcome);
                }
            }
            let opened = imp.aes256gcm_open(&key, &iv, &aad, &ct, &tag)?;
            Ok(judge(result, opened, Some(&msg), "msg"))
        }
        "blob-v1" => run_blob(t, result, imp, ops),
        "smart-recovery" => {
            if !has(ops, "open") && !has(ops, "recover") {
                return unsupported("open");
            }
            let blob = field_hex(t, "blob")?;
            let mut candidates = Vec::new();
            for c in t["candidates"]
                .as_array()
                .ok_or("vector has no candidates")?
            {
                let id = c["id"].as_str().ok_or("candidate without id")?.to_owned();
                let secret = secret_of(c).ok_or("candidate without passphrase or key")?;
                candidates.push(Candidate { id, secret });
            }
            let got = imp.recover(&blob, &candidates)?;
            Ok(match (got, result) {
                (Ok(r), "ok") => {
                    let want_id = t["matched"].as_str().unwrap_or_default();
                    let want_pt = field_hex(t, "plaintext")?;
                    if r.matched.as_deref() == Some(want_id) && r.plaintext == want_pt {
                        CaseOutcome::Pass
                    } else {
                        CaseOutcome::Fail {
                            expected: format!("matched {want_id}, plaintext {}", show(&want_pt)),
                            observed: match r.matched {
                                Some(m) => format!("matched {m}, plaintext {}", show(&r.plaintext)),
                                None => format!("wrong_key after trying {:?}", r.tried),
                            },
                        }
                    }
                }
                (Ok(r), "wrong_key") => {
                    let want: Vec<String> = t["tried"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default();
                    match r.matched {
                        None if r.tried == want => CaseOutcome::Pass,
                        None => CaseOutcome::Fail {
                            expected: format!("wrong_key after trying {want:?}"),
                            observed: format!("wrong_key after trying {:?}", r.tried),
                        },
                        Some(m) => CaseOutcome::Fail {
                            expected: "wrong_key".to_owned(),
                            observed: format!("matched {m}"),
                        },
                    }
                }
                (Err(e), class) if e.class == class => CaseOutcome::Pass,
                (got, _) => CaseOutcome::Fail {
                    expected: result.to_owned(),
                    observed: observed(&got),
                },
            })
        }
        other => Err(format!("no checker for vector file {other}")),
    }
}

fn is_nfc(s: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    s.nfc().eq(s.chars())
}

fn run_blob(
    t: &Value,
    result: &str,
    imp: &mut dyn Implementation,
    ops: &[String],
) -> Result<CaseOutcome, String> {
    let op = t["op"].as_str().unwrap_or("open");
    let secret = secret_of(&t["secret"]).ok_or("vector has no usable secret")?;
    let kdf = t.get("kdf").map(field_kdf).transpose()?;
    let salt = t.get("salt").map(|_| field_hex(t, "salt")).transpose()?;
    let nonce = t.get("nonce").map(|_| field_hex(t, "nonce")).transpose()?;
    let plaintext = t
        .get("plaintext")
        .map(|_| field_hex(t, "plaintext"))
        .transpose()?;
    match op {
        "seal" => {
            if !has(ops, "seal") {
                return unsupported("seal");
            }
            let pt = plaintext.ok_or("seal vector without plaintext")?;
            let got = imp.seal(
                &secret,
                &pt,
                kdf.as_ref(),
                salt.as_deref(),
                nonce.as_deref(),
            )?;
            let want = t.get("blob").map(|_| field_hex(t, "blob")).transpose()?;
            Ok(judge(result, got, want.as_deref(), "blob"))
        }
        "open" | "open_payload" => {
            if !has(ops, op) {
                return unsupported(op);
            }
            let blob = field_hex(t, "blob")?;
            // An ok vector with a nonce also pins sealing, when the implementation seals.
            if result == "ok" && nonce.is_some() && has(ops, "seal") {
                let pt = plaintext.as_deref().ok_or("ok vector without plaintext")?;
                let sealed =
                    imp.seal(&secret, pt, kdf.as_ref(), salt.as_deref(), nonce.as_deref())?;
                let outcome = judge(result, sealed, Some(&blob), "sealed blob");
                if outcome != CaseOutcome::Pass {
                    return Ok(outcome);
                }
            }
            let got = if op == "open" {
                imp.open(&secret, &blob)?
            } else {
                imp.open_payload(&secret, &blob)?
            };
            Ok(judge(result, got, plaintext.as_deref(), "plaintext"))
        }
        other => Err(format!("unknown blob op {other:?}")),
    }
}
