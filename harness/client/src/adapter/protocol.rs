//! Wire types of the adapter protocol (docs/ADAPTER.md, BRIEF §6). They serialize to
//! exactly the JSON the schemas in docs/schema/ describe, so the driver side can build
//! requests from them and the serving side can parse them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The protocol version `hello` announces.
pub const PROTOCOL_VERSION: u32 = 1;
/// The only blob profile so far.
pub const PROFILE_V1: &str = "v1";
/// Every op of the protocol, in the order of BRIEF §6.
pub const ALL_OPS: [&str; 9] = [
    "hello", "derive", "seal", "open", "backup", "restore", "rotate", "recover", "delete",
];

/// Binary data, written as lowercase hex. Uppercase, odd length or other characters are
/// refused (`malformed`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Hex(pub Vec<u8>);

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hex({} bytes)", self.0.len())
    }
}

impl Hex {
    /// Parses lowercase hex.
    pub fn parse(s: &str) -> Result<Hex, String> {
        if !s.len().is_multiple_of(2) {
            return Err(format!("hex string has odd length {}", s.len()));
        }
        if let Some((i, c)) = s
            .char_indices()
            .find(|(_, c)| !matches!(c, '0'..='9' | 'a'..='f'))
        {
            return Err(format!("not lowercase hex: character {c:?} at offset {i}"));
        }
        hex::decode(s).map(Hex).map_err(|e| e.to_string())
    }
}

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hex::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `{"passphrase": "..."}` or `{"key": "<64 hex>"}` — exactly one of the two.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSecret", into = "RawSecret")]
pub enum WireSecret {
    /// A passphrase (Unicode; normalized to NFC by the KDF).
    Passphrase(String),
    /// A raw 256-bit key.
    Key([u8; 32]),
}

impl fmt::Debug for WireSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireSecret::Passphrase(_) => f.write_str("Passphrase(<redacted>)"),
            WireSecret::Key(_) => f.write_str("Key(<redacted>)"),
        }
    }
}

impl WireSecret {
    /// The format layer's secret.
    pub fn to_secret(&self) -> backproof_format::Secret {
        match self {
            WireSecret::Passphrase(p) => backproof_format::Secret::passphrase(p),
            WireSecret::Key(k) => backproof_format::Secret::key(*k),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    passphrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<Hex>,
}

fn secret_from_parts(passphrase: Option<String>, key: Option<Hex>) -> Result<WireSecret, String> {
    match (passphrase, key) {
        (Some(p), None) => Ok(WireSecret::Passphrase(p)),
        (None, Some(k)) => {
            let k: [u8; 32] = k.0.try_into().map_err(|v: Vec<u8>| {
                format!("a key is 32 bytes (64 hex digits), got {}", v.len())
            })?;
            Ok(WireSecret::Key(k))
        }
        (Some(_), Some(_)) => Err("a secret has either `passphrase` or `key`, not both".into()),
        (None, None) => Err("a secret needs `passphrase` or `key`".into()),
    }
}

impl TryFrom<RawSecret> for WireSecret {
    type Error = String;
    fn try_from(r: RawSecret) -> Result<Self, String> {
        secret_from_parts(r.passphrase, r.key)
    }
}

impl From<WireSecret> for RawSecret {
    fn from(s: WireSecret) -> Self {
        match s {
            WireSecret::Passphrase(p) => RawSecret {
                passphrase: Some(p),
                key: None,
            },
            WireSecret::Key(k) => RawSecret {
                passphrase: None,
                key: Some(Hex(k.to_vec())),
            },
        }
    }
}

/// A smart-recovery candidate: `{"id": "...", "passphrase" | "key": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCandidate", into = "RawCandidate")]
pub struct WireCandidate {
    /// The caller's name for the candidate.
    pub id: String,
    /// Its secret.
    pub secret: WireSecret,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCandidate {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    passphrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<Hex>,
}

impl TryFrom<RawCandidate> for WireCandidate {
    type Error = String;
    fn try_from(r: RawCandidate) -> Result<Self, String> {
        Ok(WireCandidate {
            secret: secret_from_parts(r.passphrase, r.key)
                .map_err(|e| format!("candidate {:?}: {e}", r.id))?,
            id: r.id,
        })
    }
}

impl From<WireCandidate> for RawCandidate {
    fn from(c: WireCandidate) -> Self {
        let raw = RawSecret::from(c.secret);
        RawCandidate {
            id: c.id,
            passphrase: raw.passphrase,
            key: raw.key,
        }
    }
}

/// Argon2id parameters: `{"m_cost": KiB, "t_cost": N, "p_cost": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireKdf {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl From<WireKdf> for backproof_format::KdfParams {
    fn from(k: WireKdf) -> Self {
        backproof_format::KdfParams {
            m_cost: k.m_cost,
            t_cost: k.t_cost,
            p_cost: k.p_cost,
        }
    }
}

impl From<backproof_format::KdfParams> for WireKdf {
    fn from(k: backproof_format::KdfParams) -> Self {
        WireKdf {
            m_cost: k.m_cost,
            t_cost: k.t_cost,
            p_cost: k.p_cost,
        }
    }
}

/// `{"url": "...", "token": "..."}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireServer {
    /// Base URL.
    pub url: String,
    /// Bearer token.
    pub token: String,
}

impl fmt::Debug for WireServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl From<&WireServer> for crate::Server {
    fn from(s: &WireServer) -> Self {
        crate::Server {
            url: s.url.clone(),
            token: s.token.clone(),
        }
    }
}

/// `derive {passphrase, salt, kdf}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeriveRequest {
    /// The passphrase (NFC-normalized by the implementation).
    pub passphrase: String,
    /// Salt bytes.
    pub salt: Hex,
    /// Argon2id parameters.
    pub kdf: WireKdf,
}

/// `seal {profile, secret, plaintext, kdf?, salt?, nonce?}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealRequest {
    /// Blob profile ("v1").
    pub profile: String,
    /// Secret to seal with.
    pub secret: WireSecret,
    /// Bytes to seal.
    pub plaintext: Hex,
    /// KDF parameters; absent = the writer's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<WireKdf>,
    /// Fixed salt (known-answer checks only); absent = random.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<Hex>,
    /// Fixed nonce (known-answer checks only); absent = random.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<Hex>,
}

/// `open {profile, secret, blob}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenRequest {
    /// Blob profile.
    pub profile: String,
    /// Secret to open with.
    pub secret: WireSecret,
    /// The blob.
    pub blob: Hex,
}

/// `backup {profile, server, secret, payload}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupRequest {
    /// Blob profile.
    pub profile: String,
    /// Where to.
    pub server: WireServer,
    /// Secret to seal with.
    pub secret: WireSecret,
    /// Serialized `BackupPayload`.
    pub payload: Hex,
}

/// `restore {profile, server, secret}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreRequest {
    /// Blob profile.
    pub profile: String,
    /// From where.
    pub server: WireServer,
    /// Secret to open with.
    pub secret: WireSecret,
}

/// `rotate {profile, server, old, new}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotateRequest {
    /// Blob profile.
    pub profile: String,
    /// Where.
    pub server: WireServer,
    /// The current secret.
    pub old: WireSecret,
    /// The secret to rotate to.
    pub new: WireSecret,
}

/// `recover {profile, server, candidates}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecoverRequest {
    /// Blob profile.
    pub profile: String,
    /// From where.
    pub server: WireServer,
    /// Candidates, tried in order.
    pub candidates: Vec<WireCandidate>,
}

/// `delete {profile, server}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteRequest {
    /// Blob profile.
    pub profile: String,
    /// Where.
    pub server: WireServer,
}

/// `hello` → `{protocol, implementation, profiles, ops}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloResult {
    /// Protocol version (1).
    pub protocol: u32,
    /// "name version".
    pub implementation: String,
    /// Blob profiles supported.
    pub profiles: Vec<String>,
    /// Ops supported; the harness sends no other.
    pub ops: Vec<String>,
}

impl HelloResult {
    /// Whether `op` was announced.
    pub fn supports(&self, op: &str) -> bool {
        self.ops.iter().any(|o| o == op)
    }
}

/// `derive` → `{ikm}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeriveResult {
    /// 32-byte Argon2id output.
    pub ikm: Hex,
}

/// `seal` → `{blob}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealResult {
    /// The sealed blob.
    pub blob: Hex,
}

/// `open` → `{plaintext}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenResult {
    /// The opened bytes.
    pub plaintext: Hex,
}

/// `backup` / `rotate` → `{version}`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct VersionResult {
    /// The acknowledged version.
    pub version: u64,
}

/// `restore` → `{payload, version}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreResult {
    /// Serialized `BackupPayload`.
    pub payload: Hex,
    /// Stored version.
    pub version: u64,
}

/// `recover` → `{matched, payload, version}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecoverResult {
    /// Id of the matching candidate.
    pub matched: String,
    /// Serialized `BackupPayload`.
    pub payload: Hex,
    /// Stored version.
    pub version: u64,
}

/// The `error` member of an error answer. `tried` is set on `recover`'s `wrong_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// A class of BRIEF §3 (a string, so that an adapter's unknown class is reported, not
    /// lost).
    pub class: String,
    /// A sentence for a person.
    pub message: String,
    /// Candidate ids tried, for `recover` → `wrong_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tried: Option<Vec<String>>,
}
