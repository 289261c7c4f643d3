//! The adapter protocol (docs/ADAPTER.md): its wire types and the framing both ends apply
//! to a line ([`parse_request`] on the adapter's side, [`check_answer`] on the driver's).
//! The types serialize to exactly the JSON the schemas in docs/schema/ describe, so the
//! driver side can build requests from them and the serving side can parse them. Pure and
//! free of I/O, so that the fuzz targets (docs/FUZZING.md) link it without the client.
#![forbid(unsafe_code)]

mod framing;

pub use framing::{ProtocolViolation, check_answer, clip, error_answer, parse_request};

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The protocol version `hello` announces.
pub const PROTOCOL_VERSION: u32 = 1;
/// Blob v1 over API v1: what a request without `profile` means.
pub const PROFILE_V1: &str = "v1";
/// The BYOK JSON envelope written to S3 objects by the client itself
/// (docs/profiles/byok-json-v1.md).
pub const PROFILE_BYOK_JSON_V1: &str = backproof_format::profiles::byok_json_v1::NAME;
/// The vault of `@metamask/browser-passworder` (docs/profiles/metamask-vault.md).
pub const PROFILE_METAMASK_VAULT: &str = backproof_format::profiles::metamask_vault::NAME;
/// `"profile"` of the database backup manager's streamed artifacts
/// (docs/profiles/dbm-stream-v1.md).
pub const PROFILE_DBM_STREAM_V1: &str = backproof_format::profiles::dbm_stream_v1::NAME;
/// The Noah wallet's database backup (docs/profiles/noah-v0.md).
pub const PROFILE_NOAH_V0: &str = backproof_format::profiles::noah_v0::NAME;
/// Every profile the reference adapter serves, as `hello` lists them.
pub const ALL_PROFILES: [&str; 5] = [
    PROFILE_V1,
    PROFILE_BYOK_JSON_V1,
    PROFILE_METAMASK_VAULT,
    PROFILE_DBM_STREAM_V1,
    PROFILE_NOAH_V0,
];
/// The only `store.kind` of profile `byok-json-v1`.
pub const STORE_KIND_OBJECT_STORE: &str = "object-store";
/// The `store.kind` of profile `noah-v0`: a server speaking API v0.
pub const STORE_KIND_NOAH_V0: &str = "noah-v0";
/// Every op of the protocol, in the order of docs/ADAPTER.md.
pub const ALL_OPS: [&str; 13] = [
    "hello",
    "derive",
    "seal",
    "open",
    "backup",
    "restore",
    "rotate",
    "recover",
    "delete",
    "import_key",
    "export_key",
    "list",
    "settings",
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
///
/// The one secret type of the harness: the adapter protocol, scenario files and vectors all
/// parse into it. Its bytes live in `Zeroizing` buffers from the moment they are parsed and
/// never show in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// A passphrase (Unicode; normalized to NFC by the KDF).
    Passphrase(Zeroizing<String>),
    /// A raw 256-bit key.
    Key(Zeroizing<[u8; 32]>),
}

/// The name the protocol's request types have always used.
pub type WireSecret = Secret;

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Passphrase(_) => f.write_str("Passphrase(<redacted>)"),
            Secret::Key(_) => f.write_str("Key(<redacted>)"),
        }
    }
}

impl Secret {
    /// A passphrase secret.
    pub fn passphrase(p: &str) -> Secret {
        Secret::Passphrase(Zeroizing::new(p.to_owned()))
    }

    /// A raw-key secret.
    pub fn key(k: [u8; 32]) -> Secret {
        Secret::Key(Zeroizing::new(k))
    }

    /// The format layer's secret.
    pub fn to_secret(&self) -> backproof_format::Secret {
        match self {
            Secret::Passphrase(p) => backproof_format::Secret::passphrase(p),
            Secret::Key(k) => backproof_format::Secret::key(**k),
        }
    }
}

/// (De)serializes a `Zeroizing<String>` without an unwiped copy on the way in.
mod secret_string {
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(s: &Zeroizing<String>, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<String>, D::Error> {
        super::SecretText::deserialize(d).map(|t| t.0)
    }
}

/// A string that is wiped when dropped, as serde hands it over.
struct SecretText(Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| SecretText(Zeroizing::new(s)))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    #[serde(default)]
    passphrase: Option<SecretText>,
    #[serde(default)]
    key: Option<SecretText>,
}

/// 64 lowercase hex digits into a wiped buffer, with the messages of [`Hex::parse`].
fn parse_key(text: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("hex string has odd length {}", text.len()));
    }
    if let Some((i, c)) = text
        .char_indices()
        .find(|(_, c)| !matches!(c, '0'..='9' | 'a'..='f'))
    {
        return Err(format!("not lowercase hex: character {c:?} at offset {i}"));
    }
    if text.len() != 64 {
        return Err(format!(
            "a key is 32 bytes (64 hex digits), got {}",
            text.len() / 2
        ));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, key.as_mut_slice()).map_err(|e| e.to_string())?;
    Ok(key)
}

fn secret_from_parts(
    passphrase: Option<SecretText>,
    key: Option<SecretText>,
) -> Result<Secret, String> {
    match (passphrase, key) {
        (Some(p), None) => Ok(Secret::Passphrase(p.0)),
        (None, Some(k)) => parse_key(&k.0).map(Secret::Key),
        (Some(_), Some(_)) => Err("a secret has either `passphrase` or `key`, not both".into()),
        (None, None) => Err("a secret needs `passphrase` or `key`".into()),
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawSecret::deserialize(d)?;
        secret_from_parts(r.passphrase, r.key).map_err(serde::de::Error::custom)
    }
}

impl Secret {
    /// Writes the secret's one member into a map being serialized.
    fn serialize_member<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        match self {
            Secret::Passphrase(p) => m.serialize_entry("passphrase", p.as_str()),
            Secret::Key(k) => m.serialize_entry("key", &*Zeroizing::new(hex::encode(**k))),
        }
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        self.serialize_member(&mut m)?;
        m.end()
    }
}

/// A smart-recovery candidate: `{"id": "...", "passphrase" | "key": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireCandidate {
    /// The caller's name for the candidate.
    pub id: String,
    /// Its secret.
    pub secret: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCandidate {
    id: String,
    #[serde(default)]
    passphrase: Option<SecretText>,
    #[serde(default)]
    key: Option<SecretText>,
}

impl<'de> Deserialize<'de> for WireCandidate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawCandidate::deserialize(d)?;
        Ok(WireCandidate {
            secret: secret_from_parts(r.passphrase, r.key)
                .map_err(|e| serde::de::Error::custom(format!("candidate {:?}: {e}", r.id)))?,
            id: r.id,
        })
    }
}

impl Serialize for WireCandidate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("id", &self.id)?;
        self.secret.serialize_member(&mut m)?;
        m.end()
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

fn default_profile() -> String {
    PROFILE_V1.to_owned()
}

/// `null` reads as absent, as for every optional member.
fn profile_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(default_profile))
}

/// `derive {passphrase, salt, kdf}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeriveRequest {
    /// The passphrase (NFC-normalized by the implementation), wiped when dropped.
    #[serde(with = "secret_string")]
    pub passphrase: Zeroizing<String>,
    /// Salt bytes.
    pub salt: Hex,
    /// Argon2id parameters.
    pub kdf: WireKdf,
}

/// `seal {profile, secret, plaintext, kdf?, salt?, nonce?}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealRequest {
    /// Blob profile ("v1"; absent reads as "v1").
    #[serde(default = "default_profile", deserialize_with = "profile_or_null")]
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
    /// Blob profile (absent reads as "v1").
    #[serde(default = "default_profile", deserialize_with = "profile_or_null")]
    pub profile: String,
    /// Secret to open with.
    pub secret: WireSecret,
    /// The blob.
    pub blob: Hex,
}

/// `backup {profile, server, secret, payload}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupRequest {
    /// Blob profile (absent reads as "v1").
    #[serde(default = "default_profile", deserialize_with = "profile_or_null")]
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
    /// Blob profile (absent reads as "v1").
    #[serde(default = "default_profile", deserialize_with = "profile_or_null")]
    pub profile: String,
    /// From where.
    pub server: WireServer,
    /// Secret to open with.
    pub secret: WireSecret,
}

/// `rotate {profile, server, old, new}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotateRequest {
    /// Blob profile (absent reads as "v1").
    #[serde(default = "default_profile", deserialize_with = "profile_or_null")]
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
    /// Blob profile (absent reads as "v1").
    #[serde(default = "default_profile", deserialize_with = "profile_or_null")]
    pub profile: String,
    /// From where.
    pub server: WireServer,
    /// Candidates, tried in order.
    pub candidates: Vec<WireCandidate>,
}

/// `delete {profile, server}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteRequest {
    /// Blob profile (absent reads as "v1").
    #[serde(default = "default_profile", deserialize_with = "profile_or_null")]
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
    /// A class of docs/FORMAT.md (a string, so that an adapter's unknown class is reported, not
    /// lost).
    pub class: String,
    /// A sentence for a person.
    pub message: String,
    /// Candidate ids tried, for `recover` → `wrong_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tried: Option<Vec<String>>,
}

// ---- profile byok-json-v1 (docs/profiles/byok-json-v1.md §8) ----

/// `store` of profile `byok-json-v1`: where the client writes its S3 objects and the
/// credentials it signs with. `prefix` is optional (empty); unknown members are ignored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireStore {
    /// Must be `"object-store"`.
    pub kind: String,
    /// `http(s)://host:port`, addressed path-style.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// Put verbatim in front of `users/…`.
    #[serde(default)]
    pub prefix: String,
    /// The design's authenticated user id; no `/`.
    pub user: String,
}

impl fmt::Debug for WireStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credentials never reach logs.
        f.debug_struct("WireStore")
            .field("kind", &self.kind)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// This profile's KDF parameters on the wire, as in the blob's `kdf` without `salt`:
/// `{"algorithm": "argon2id", "iterations", "memory" (KiB), "parallelism"}` or
/// `{"algorithm": "pbkdf2", "iterations"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase")]
pub enum ByokWireKdf {
    Argon2id {
        iterations: u32,
        /// KiB.
        memory: u32,
        parallelism: u32,
    },
    Pbkdf2 {
        iterations: u32,
    },
}

impl From<ByokWireKdf> for backproof_format::profiles::byok_json_v1::Kdf {
    fn from(k: ByokWireKdf) -> Self {
        use backproof_format::profiles::byok_json_v1::Kdf;
        match k {
            ByokWireKdf::Argon2id {
                iterations,
                memory,
                parallelism,
            } => Kdf::Argon2id(backproof_format::KdfParams {
                m_cost: memory,
                t_cost: iterations,
                p_cost: parallelism,
            }),
            ByokWireKdf::Pbkdf2 { iterations } => Kdf::Pbkdf2 { iterations },
        }
    }
}

impl From<backproof_format::profiles::byok_json_v1::Kdf> for ByokWireKdf {
    fn from(k: backproof_format::profiles::byok_json_v1::Kdf) -> Self {
        use backproof_format::profiles::byok_json_v1::Kdf;
        match k {
            Kdf::Argon2id(p) => ByokWireKdf::Argon2id {
                iterations: p.t_cost,
                memory: p.m_cost,
                parallelism: p.p_cost,
            },
            Kdf::Pbkdf2 { iterations } => ByokWireKdf::Pbkdf2 { iterations },
        }
    }
}

/// `seal {profile: "byok-json-v1", secret, plaintext, kdf?, salt?, nonce?, created_at?,
/// updated_at?}` → `{"blob"}` (the blob's JSON bytes as hex).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByokSealRequest {
    /// `"byok-json-v1"`.
    pub profile: String,
    /// A passphrase (a raw key is `malformed` in this profile).
    pub secret: WireSecret,
    pub plaintext: Hex,
    /// Absent = the writer's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<ByokWireKdf>,
    /// Absent = 16 fresh random bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<Hex>,
    /// Absent = fresh random; 12 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<Hex>,
    /// RFC 3339; absent = now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339; absent = now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// `open` of this profile → `{"plaintext", "created_at", "updated_at"}` (the request is
/// [`OpenRequest`] with `profile: "byok-json-v1"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByokOpenResult {
    pub plaintext: Hex,
    pub created_at: String,
    pub updated_at: String,
}

/// `backup {profile, store, secret, payload}` → `{}`. `payload` is opaque bytes (the
/// configuration's JSON in the design), not a `BackupPayload`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByokBackupRequest {
    pub profile: String,
    pub store: WireStore,
    pub secret: WireSecret,
    pub payload: Hex,
}

/// `restore {profile, store, secret}` → [`ByokRestoreResult`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByokRestoreRequest {
    pub profile: String,
    pub store: WireStore,
    pub secret: WireSecret,
}

/// `restore` → `{"payload", "created_at", "updated_at"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByokRestoreResult {
    pub payload: Hex,
    pub created_at: String,
    pub updated_at: String,
}

/// `rotate {profile, store, old, new}` → `{}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByokRotateRequest {
    pub profile: String,
    pub store: WireStore,
    pub old: WireSecret,
    pub new: WireSecret,
}

/// `recover {profile, store, candidates}` → [`ByokRecoverResult`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByokRecoverRequest {
    pub profile: String,
    pub store: WireStore,
    pub candidates: Vec<WireCandidate>,
}

/// `recover` → `{"matched", "payload", "source"}`; `source` is `"final"` or `"temp"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByokRecoverResult {
    pub matched: String,
    pub payload: Hex,
    pub source: String,
}

/// `delete {profile, store}` → `{}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByokDeleteRequest {
    pub profile: String,
    pub store: WireStore,
}

// ---- profile metamask-vault (docs/profiles/metamask-vault.md §8, §10) ----

/// This profile's `kdf`: `{"legacy": true}` (a vault without `keyMetadata`, 10 000
/// iterations) or `{"iterations": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum VaultWireKdf {
    /// `legacy` must be `true`.
    Legacy {
        legacy: bool,
    },
    Iterations {
        iterations: u64,
    },
}

impl VaultWireKdf {
    /// The codec's form; `legacy: false` is `malformed`, a count beyond u32
    /// `kdf_params_rejected` (the codec's bounds are far below).
    pub fn to_kdf(self) -> Result<backproof_format::profiles::metamask_vault::Kdf, String> {
        use backproof_format::profiles::metamask_vault::Kdf;
        match self {
            VaultWireKdf::Legacy { legacy: true } => Ok(Kdf::Legacy),
            VaultWireKdf::Legacy { legacy: false } => Err(
                "`kdf.legacy` is only ever `true`; give `{\"iterations\": N}` for the current form"
                    .into(),
            ),
            VaultWireKdf::Iterations { iterations } => Ok(Kdf::Pbkdf2 {
                iterations: u32::try_from(iterations).unwrap_or(u32::MAX),
            }),
        }
    }
}

/// `derive {profile, passphrase, salt, kdf?}` → `{"ikm"}`; absent `kdf` is the legacy form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultDeriveRequest {
    pub profile: String,
    pub passphrase: String,
    pub salt: Hex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<VaultWireKdf>,
}

/// `seal {profile, secret, plaintext, kdf?, salt?, nonce?}` → `{"blob"}`: `plaintext` is UTF-8
/// JSON text; `nonce` the 16-byte IV (absent: fresh).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultSealRequest {
    pub profile: String,
    pub secret: WireSecret,
    pub plaintext: Hex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<VaultWireKdf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<Hex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<Hex>,
}

/// `rotate {profile, secret, blob, kdf?}` → [`VaultRotateResult`]: the update of a vault
/// given in the request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultRotateRequest {
    pub profile: String,
    pub secret: WireSecret,
    pub blob: Hex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<VaultWireKdf>,
}

/// `rotate` of a given vault → `{"blob", "changed"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultRotateResult {
    pub blob: Hex,
    pub changed: bool,
}

/// `backup {profile, store, secret, payload, kdf?}` → `{}`: `payload` is UTF-8 JSON text,
/// `kdf` absent the writer's default.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultBackupRequest {
    pub profile: String,
    pub store: WireStore,
    pub secret: WireSecret,
    pub payload: Hex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<VaultWireKdf>,
}

/// `rotate {profile, store, old, new, kdf?}` → [`VaultStoredRotateResult`]: the update of the
/// stored vault (`old == new`: the library's `updateVault`; otherwise a password change).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultStoredRotateRequest {
    pub profile: String,
    pub store: WireStore,
    pub old: WireSecret,
    pub new: WireSecret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<VaultWireKdf>,
}

/// The stored vault's update → `{"changed"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultStoredRotateResult {
    pub changed: bool,
}

/// `restore` of this profile → `{"payload"}` (the vault's plaintext JSON text).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultRestoreResult {
    pub payload: Hex,
}

// ---- profile noah-v0 (docs/profiles/noah-v0.md §7) ----

/// `store` of profile `noah-v0`: a server speaking API v0 and the bearer token that names one
/// user on it (as [`WireServer`], with `kind`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoahWireStore {
    /// Must be `"noah-v0"`.
    pub kind: String,
    /// Base URL; API v0 lives under `/v0/`.
    pub url: String,
    /// Bearer token.
    pub token: String,
}

impl fmt::Debug for NoahWireStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoahWireStore")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// `backup {profile, store, secret, payload}` → [`NoahSlot`]: `payload` is the wallet
/// database file (opaque bytes), `secret` the seedphrase as a passphrase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoahBackupRequest {
    pub profile: String,
    pub store: NoahWireStore,
    pub secret: WireSecret,
    pub payload: Hex,
}

/// `restore {profile, store, secret}` → [`NoahRestoreResult`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoahRestoreRequest {
    pub profile: String,
    pub store: NoahWireStore,
    pub secret: WireSecret,
}

/// `list {profile, store}` → [`NoahListResult`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoahListRequest {
    pub profile: String,
    pub store: NoahWireStore,
}

/// `delete {profile, store, backup_version}` → `{}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoahDeleteRequest {
    pub profile: String,
    pub store: NoahWireStore,
    /// Passed to the server as given (it refuses a version outside its slots).
    pub backup_version: i64,
}

/// `settings {profile, store, backup_enabled?}` → [`NoahSettingsResult`]; absent
/// `backup_enabled` reads the settings without changing them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoahSettingsRequest {
    pub profile: String,
    pub store: NoahWireStore,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_enabled: Option<bool>,
}

/// A committed slot, as API v0 lists it; also `backup`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoahSlot {
    pub backup_version: i64,
    /// RFC 3339, as the server wrote it.
    pub created_at: String,
    /// The object's size in bytes (the base64 body).
    pub backup_size: u64,
}

/// A slot a restore passed over, and the class it failed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoahSkipped {
    pub backup_version: i64,
    pub class: String,
}

/// `restore` → `{"payload", "backup_version", "created_at", "backup_size", "skipped"}`:
/// the slot that restored, and the newer slots passed over (empty: the latest restored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoahRestoreResult {
    pub payload: Hex,
    pub backup_version: i64,
    pub created_at: String,
    pub backup_size: u64,
    pub skipped: Vec<NoahSkipped>,
}

/// `list` → `{"backups": [slot, …]}`, ascending by `backup_version`, as the server lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoahListResult {
    pub backups: Vec<NoahSlot>,
}

/// `settings` → `{"backup_enabled", "last_backup_at"}` (`null` before the first backup).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoahSettingsResult {
    pub backup_enabled: bool,
    pub last_backup_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_stay_out_of_logs() {
        let p: Secret = serde_json::from_str(r#"{"passphrase":"correct horse battery"}"#).unwrap();
        assert_eq!(p, Secret::passphrase("correct horse battery"));
        assert!(!format!("{p:?}").contains("horse"));
        let hex_key = "00ff".repeat(16);
        let k: Secret = serde_json::from_str(&format!(r#"{{"key":"{hex_key}"}}"#)).unwrap();
        let mut bytes = [0u8; 32];
        for pair in bytes.chunks_mut(2) {
            pair[1] = 0xff;
        }
        assert_eq!(k, Secret::key(bytes));
        assert!(!format!("{k:?}").contains("ff"));
        assert_eq!(
            serde_json::to_string(&k).unwrap(),
            format!(r#"{{"key":"{hex_key}"}}"#)
        );
        let c = WireCandidate {
            id: "old".into(),
            secret: p,
        };
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(text, r#"{"id":"old","passphrase":"correct horse battery"}"#);
        assert_eq!(serde_json::from_str::<WireCandidate>(&text).unwrap(), c);
    }

    #[test]
    fn bad_secrets_say_what_is_wrong() {
        for (json, words) in [
            (r#"{"key":"abc"}"#, "odd length"),
            (r#"{"key":"AB"}"#, "not lowercase hex"),
            (r#"{"key":"abcd"}"#, "32 bytes (64 hex digits), got 2"),
            (r#"{"passphrase":"p","key":"00"}"#, "not both"),
            (r#"{}"#, "needs `passphrase` or `key`"),
            (r#"{"pin":"1234"}"#, "unknown field `pin`"),
        ] {
            let e = serde_json::from_str::<Secret>(json)
                .unwrap_err()
                .to_string();
            assert!(e.contains(words), "{json}: {e}");
        }
        let e = serde_json::from_str::<WireCandidate>(r#"{"id":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("candidate \"x\""), "{e}");
    }
}
