//! The TOML shape of a scenario file (docs/SCENARIOS.md). Every closed list of the language
//! is a Rust enum here, so a misspelt value is a load error naming the file, the line and
//! the allowed values, and docs/schema/scenario.schema.json is generated from these types
//! (`scenario_schema`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use backproof_format::ErrorClass;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::profile::Profile;
pub use backproof_adapter_protocol::{Secret, WireCandidate as Candidate};

/// Why the scenario files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The message of `toml` names the line and column and, for a misspelt value, every
    /// allowed one.
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{}: id {id:?} must start with its folder name {family:?}/", path.display())]
    Family {
        path: PathBuf,
        id: String,
        family: String,
    },
    #[error("duplicate scenario id {0}")]
    Duplicate(String),
    #[error("{}: {message}", path.display())]
    Profiles { path: PathBuf, message: String },
    #[error("bad --filter {glob:?}: {source}")]
    Filter {
        glob: String,
        source: globset::Error,
    },
}

/// One scenario file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "backproof scenario (one TOML file under scenarios/<family>/)",
    description = "See docs/SCENARIOS.md. TOML is read as JSON for validation. Generated from harness/scenario/src/model.rs."
)]
pub struct Scenario {
    /// `<family>/<name>`, unique across the suite; the family is the folder.
    #[schemars(regex(
        pattern = r"^(conflict|wrong-passphrase|corrupted-blob|mid-rotation-crash|smart-recovery|protocol|hygiene)/[a-z0-9][a-z0-9-]*$"
    ))]
    pub id: String,
    /// One line for reports.
    #[schemars(length(min = 1))]
    pub title: String,
    /// The bug this case catches.
    #[schemars(length(min = 1))]
    pub why: String,
    /// Capabilities the target must offer beyond the ones the steps imply; otherwise the
    /// case is `unsupported`.
    #[serde(default)]
    pub requires: Vec<Capability>,
    /// The profiles (backup designs) the case applies to; it runs once under each that the
    /// run selects. A file under `scenarios/<profile>/<family>/` names exactly that profile.
    #[serde(default = "default_profiles")]
    #[schemars(length(min = 1))]
    pub profiles: Vec<Profile>,
    /// Advisories of its profiles (stable ids, docs/SCENARIOS.md "Profiles") that this case
    /// shows happening when it passes; the report lists the case under each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shows: Vec<String>,
    /// Client instances (adapter processes, each with its own state dir).
    #[serde(default)]
    pub actors: Vec<Actor>,
    /// Scripted steps, run in order (before the driver, if any).
    #[serde(default)]
    pub steps: Vec<Step>,
    /// A built-in driver run after `steps`.
    #[serde(default)]
    pub driver: Option<Driver>,
    /// Extra flags for the reference server (a deliberately broken build in tests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_args: Vec<String>,
    /// Environment for the server's first start only (e.g. `BACKPROOF_FAILPOINTS`); restarts run
    /// without it, as a real process would after a crash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub server_env: BTreeMap<String, String>,
    /// Restart the server as soon as it dies (crash cases where the client retries).
    #[serde(default)]
    pub auto_restart: bool,
    #[serde(skip)]
    pub family: String,
    #[serde(skip)]
    pub path: PathBuf,
    /// The profile this instance runs under (set by [`expand`]; its `id` is then the case
    /// id, `<profile>/<family>/<name>` for every profile but `v1`).
    #[serde(skip)]
    pub profile: Profile,
}

fn default_profiles() -> Vec<Profile> {
    vec![Profile::V1]
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub name: String,
    /// Logical user; actors of one user are two devices of one account.
    #[schemars(regex(pattern = r"^[a-z0-9-]+$"))]
    pub user: String,
}

/// The schema of [`Secret`], which lives in the adapter protocol's crate.
#[derive(JsonSchema)]
#[schemars(rename = "Secret", untagged, deny_unknown_fields)]
#[allow(dead_code)] // only its schema is used
enum SecretShape {
    /// A passphrase (run through Argon2id).
    Passphrase {
        #[schemars(length(min = 1))]
        passphrase: String,
    },
    /// A raw 256-bit key, 64 lowercase hex digits.
    Key {
        #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
        key: String,
    },
}

/// The schema of a recovery [`Candidate`].
#[derive(JsonSchema)]
#[schemars(rename = "Candidate", deny_unknown_fields)]
#[allow(dead_code)] // only its schema is used
struct CandidateShape {
    id: String,
    #[serde(default)]
    passphrase: Option<String>,
    #[serde(default)]
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    key: Option<String>,
}

/// One outcome an adapter step may expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The operation succeeded.
    Ok,
    /// The adapter process was killed by a fault (`fault` steps).
    Crashed,
    /// One class of the closed list of docs/FORMAT.md.
    Error(ErrorClass),
}

/// Every spelling of [`Expected`], as serde and the schema list them.
const EXPECTED_NAMES: [&str; 19] = [
    "ok",
    "crashed",
    "malformed",
    "unsupported_version",
    "unsupported_kdf",
    "kdf_params_rejected",
    "wrong_key",
    "corrupted",
    "payload_invalid",
    "passphrase_too_short",
    "identity_mismatch",
    "not_found",
    "conflict",
    "unauthorized",
    "too_large",
    "too_small",
    "network",
    "server_error",
    "wrong_key_or_corrupted",
];

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Ok => f.write_str("ok"),
            Expected::Crashed => f.write_str("crashed"),
            Expected::Error(c) => f.write_str(c.as_str()),
        }
    }
}

impl FromStr for Expected {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "ok" => Ok(Expected::Ok),
            "crashed" => Ok(Expected::Crashed),
            other => other.parse().map(Expected::Error).map_err(|_| ()),
        }
    }
}

impl<'de> Deserialize<'de> for Expected {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|()| serde::de::Error::unknown_variant(&s, &EXPECTED_NAMES))
    }
}

impl Serialize for Expected {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for Expected {
    fn schema_name() -> Cow<'static, str> {
        "Expected".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "`ok`, `crashed` (the adapter was killed by a fault) or an error class of docs/FORMAT.md",
            "type": "string",
            "enum": EXPECTED_NAMES,
        })
    }
}

/// `"ok"`, one outcome, or several acceptable outcomes (`["corrupted", "malformed"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect(Vec<Expected>);

impl Default for Expect {
    fn default() -> Self {
        Expect(vec![Expected::Ok])
    }
}

impl Expect {
    pub fn one(e: Expected) -> Expect {
        Expect(vec![e])
    }
    pub fn any_of(v: Vec<Expected>) -> Expect {
        Expect(v)
    }
    pub fn allows(&self, outcome: Expected) -> bool {
        self.0.contains(&outcome)
    }
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(Expected::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Expect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an outcome or a list of outcomes")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Expect, E> {
                s.parse()
                    .map(Expect::one)
                    .map_err(|()| E::unknown_variant(s, &EXPECTED_NAMES))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Expect, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = a.next_element::<Expected>()? {
                    v.push(e);
                }
                if v.is_empty() {
                    return Err(serde::de::Error::invalid_length(0, &"at least one outcome"));
                }
                Ok(Expect(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Expect {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

impl JsonSchema for Expect {
    fn schema_name() -> Cow<'static, str> {
        "Expect".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let one = g.subschema_for::<Expected>();
        json_schema!({
            "description": "one outcome, or a list of acceptable outcomes",
            "oneOf": [one, {"type": "array", "items": one, "minItems": 1}],
        })
    }
}

/// An adapter op of docs/ADAPTER.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Hello,
    Derive,
    Seal,
    Open,
    Backup,
    Restore,
    Rotate,
    Recover,
    Delete,
    ImportKey,
    ExportKey,
    /// Profile `noah-v0`'s slots (docs/profiles/noah-v0.md §7).
    List,
    /// Profile `noah-v0`'s backup settings.
    Settings,
}

impl Op {
    pub const ALL: [Op; 13] = [
        Op::Hello,
        Op::Derive,
        Op::Seal,
        Op::Open,
        Op::Backup,
        Op::Restore,
        Op::Rotate,
        Op::Recover,
        Op::Delete,
        Op::ImportKey,
        Op::ExportKey,
        Op::List,
        Op::Settings,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Hello => "hello",
            Op::Derive => "derive",
            Op::Seal => "seal",
            Op::Open => "open",
            Op::Backup => "backup",
            Op::Restore => "restore",
            Op::Rotate => "rotate",
            Op::Recover => "recover",
            Op::Delete => "delete",
            Op::ImportKey => "import_key",
            Op::ExportKey => "export_key",
            Op::List => "list",
            Op::Settings => "settings",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a target may or may not offer (docs/SCENARIOS.md, "Capabilities"). The spellings
/// (`client-adapter`, `op:backup`, …) appear in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    ClientAdapter,
    Op(Op),
    ServerRestart,
    StorageAccess,
    Failpoints,
}

impl Capability {
    /// Every capability, in the order of docs/SCENARIOS.md.
    pub fn all() -> Vec<Capability> {
        let mut v = vec![Capability::ClientAdapter];
        v.extend(Op::ALL.map(Capability::Op));
        v.extend([
            Capability::ServerRestart,
            Capability::StorageAccess,
            Capability::Failpoints,
        ]);
        v
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::ClientAdapter => f.write_str("client-adapter"),
            Capability::Op(op) => write!(f, "op:{op}"),
            Capability::ServerRestart => f.write_str("server-restart"),
            Capability::StorageAccess => f.write_str("storage-access"),
            Capability::Failpoints => f.write_str("failpoints"),
        }
    }
}

/// Not one of [`Capability::all`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability `{0}`, expected one of {list}", list = capability_list())]
pub struct UnknownCapability(pub String);

fn capability_list() -> String {
    Capability::all()
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Capability {
    type Err = UnknownCapability;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::all()
            .into_iter()
            .find(|c| c.to_string() == s)
            .ok_or_else(|| UnknownCapability(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for Capability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for Capability {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for Capability {
    fn schema_name() -> Cow<'static, str> {
        "Capability".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<String> = Capability::all().iter().map(|c| c.to_string()).collect();
        json_schema!({"type": "string", "enum": names})
    }
}

impl Step {
    /// This step, or the steps a `together` step runs (recursively): the steps that do
    /// something themselves.
    pub fn leaves(&self) -> Vec<&Step> {
        match self {
            Step::Together { steps } => steps.iter().flat_map(Step::leaves).collect(),
            other => vec![other],
        }
    }
}

/// Which fault proxy: between the client and the server, or between the server and S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Proxy {
    /// client↔server.
    Client,
    /// server↔S3.
    S3,
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proxy::Client => "client",
            Proxy::S3 => "s3",
        })
    }
}

/// Which process a crash kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    Client,
    Server,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Server => "server",
        })
    }
}

/// What a `fault` step does at the armed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// `SIGKILL` the actor's adapter process group.
    KillClient,
    /// `SIGKILL` the server's process group.
    KillServer,
    /// Drop the connection.
    Drop,
    /// Answer `status` (default 503) instead of forwarding.
    Status,
    /// Forward after `ms` milliseconds (default 100).
    Delay,
    /// Hold each of the `count` (at least 2) matching requests until all have arrived, then
    /// forward them one at a time; one still alone after `ms` (default 60 000) is dropped.
    /// Makes two devices' writes overlap by construction rather than by timing.
    Gather,
    /// Disarm every fault of the proxy (ends an open window; `at` is ignored).
    Clear,
}

/// How an `http` step sends its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// An HTTP client library (reqwest).
    #[default]
    Client,
    /// Raw HTTP/1.1 on one connection, reading the answer while the body is still being
    /// written: an early answer is seen even if the server then resets.
    Duplex,
    /// Raw HTTP/1.1 from a plain blocking socket: the whole body is written first, then the
    /// answer is read, as most simple clients do. An early answer reaches it only if the
    /// server keeps reading after answering (docs/API.md, "Early answers").
    Blocking,
}

/// The pace of a slow client's body on the `duplex` transport (docs/SCENARIOS.md, "Steps").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Pace {
    /// Send the head and the first `after` bytes of the body as framed on the wire, then
    /// nothing more, keeping the connection open: the server must answer one of `status`
    /// or close the connection within 75 s (`pass-acceptable` when it closes unanswered).
    Stall { after: usize },
    /// Send the head at once, then the framed body `bytes` at a time, one piece every
    /// `every_ms` milliseconds.
    Trickle {
        #[schemars(range(min = 1))]
        bytes: usize,
        every_ms: u64,
    },
}

/// Before or after the proxy forwards the armed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultWhen {
    #[default]
    Before,
    After,
}

/// Which process a `restart` step starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartTarget {
    /// The server, on the same port and database.
    Server,
    /// An actor's adapter, with the same state dir.
    Client,
}

/// The `Authorization` header of an `http` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// `Bearer <the user's token>` (none without a `user`).
    #[default]
    Token,
    /// No header.
    None,
    /// `Bearer not-a-token`.
    Garbage,
    /// `Basic <the user's token>`.
    WrongScheme,
    /// The user's token with a MAC that is not the server's.
    Forged,
}

/// A field of the blob v1 header (docs/FORMAT.md §1), for `storage` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StorageField {
    Magic,
    Version,
    KdfId,
    MCost,
    TCost,
    PCost,
    SaltLen,
    Salt,
    Nonce,
    KeyCheck,
    HeaderDigest,
    Ciphertext,
    Tag,
}

impl From<StorageField> for backproof_format::Field {
    fn from(f: StorageField) -> Self {
        use backproof_format::Field;
        match f {
            StorageField::Magic => Field::Magic,
            StorageField::Version => Field::Version,
            StorageField::KdfId => Field::KdfId,
            StorageField::MCost => Field::MCost,
            StorageField::TCost => Field::TCost,
            StorageField::PCost => Field::PCost,
            StorageField::SaltLen => Field::SaltLen,
            StorageField::Salt => Field::Salt,
            StorageField::Nonce => Field::Nonce,
            StorageField::KeyCheck => Field::KeyCheck,
            StorageField::HeaderDigest => Field::HeaderDigest,
            StorageField::Ciphertext => Field::Ciphertext,
            StorageField::Tag => Field::Tag,
        }
    }
}

/// A request body for raw HTTP steps.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BodyDef {
    /// Literal text.
    #[serde(default)]
    pub text: Option<String>,
    /// Literal bytes (hex).
    #[serde(default)]
    pub hex: Option<String>,
    /// This many pseudo-random bytes.
    #[serde(default)]
    pub random_len: Option<usize>,
    /// Send with `Transfer-Encoding: chunked` (no `Content-Length`).
    #[serde(default)]
    pub chunked: bool,
}

/// How the harness damages or inspects the stored object of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StorageOp {
    /// XOR one byte with 0x01: at `offset`, or at byte `index` of header `field`.
    Flip,
    /// Keep the first `len` bytes, or cut at byte `index` (default 0) of `field`.
    Truncate,
    /// Append `hex` bytes.
    Append,
    /// Remove the object.
    Delete,
    /// Count the objects in the bucket (`expect_count`, waiting up to `within_ms`).
    List,
    /// Replace the object with `hex` bytes.
    Replace,
    /// Set JSON `member` of the stored blob to the JSON value `json` (object-store
    /// profiles, whose blob is a JSON object).
    Set,
    /// Remove JSON `member` from the stored blob (object-store profiles).
    Remove,
}

/// The parameters a `metamask-vault` backup writes with (docs/profiles/metamask-vault.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum VaultKdf {
    /// `{ legacy = true }`: the legacy form, as older releases of the library wrote it
    /// (`false` is refused at load).
    Legacy { legacy: bool },
    /// `{ iterations = N }`: keyMetadata with N PBKDF2 iterations.
    Iterations { iterations: u32 },
}

impl VaultKdf {
    /// The adapter request's `kdf`.
    pub fn wire(self) -> backproof_adapter_protocol::VaultWireKdf {
        use backproof_adapter_protocol::VaultWireKdf;
        match self {
            VaultKdf::Legacy { .. } => VaultWireKdf::Legacy { legacy: true },
            VaultKdf::Iterations { iterations } => VaultWireKdf::Iterations {
                iterations: u64::from(iterations),
            },
        }
    }
}

/// What S3 must do with a `noah-raw-upload` step's PUT through its presigned URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PutExpect {
    /// A 2xx: the object is stored.
    #[default]
    Stored,
    /// Any 4xx (a tampered or expired URL: S3 says 403, some S3s 400).
    Refused,
}

/// Which object of an object-store profile a `storage` step addresses
/// (docs/profiles/byok-json-v1.md §6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StoreObject {
    /// `users/<user>/api_key_backup.json`.
    #[default]
    Final,
    /// `users/<user>/api_key_backup_temp.json`, written during a rotation.
    Temp,
    /// Profile `dbm-stream-v1`: the newest backup's artifact `<name>.enc`.
    Artifact,
    /// Profile `dbm-stream-v1`: the newest backup's sidecar `<name>.enc.meta.json`.
    Sidecar,
    /// Profile `noah-v0`: the object of the latest slot (found by content: the bytes its
    /// download URL serves).
    Latest,
    /// Profile `noah-v0`: the object of the other slot.
    Older,
}

/// The compression of a `dbm-backup` (docs/profiles/dbm-stream-v1.md §1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DbmCompression {
    #[default]
    Gzip,
    Brotli,
    None,
}

impl DbmCompression {
    pub fn as_str(self) -> &'static str {
        match self {
            DbmCompression::Gzip => "GZIP",
            DbmCompression::Brotli => "BROTLI",
            DbmCompression::None => "NONE",
        }
    }
}

impl fmt::Display for StoreObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreObject::Final => "final",
            StoreObject::Temp => "temp",
            StoreObject::Artifact => "artifact",
            StoreObject::Sidecar => "sidecar",
            StoreObject::Latest => "latest",
            StoreObject::Older => "older",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Adapter `backup`: payload = the user's identity + `contacts`.
    Backup {
        actor: String,
        #[schemars(with = "SecretShape")]
        secret: Secret,
        #[serde(default)]
        contacts: Vec<String>,
        /// Use another identity key pair (identity_mismatch cases).
        #[serde(default)]
        identity: Option<String>,
        /// Profile `metamask-vault` only: write the vault with these parameters
        /// (`{ legacy = true }`: no keyMetadata, 10 000 iterations; `{ iterations = N }`)
        /// instead of the writer's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kdf: Option<VaultKdf>,
        #[serde(default)]
        expect: Expect,
        /// The step's fault is transient (docs/SCENARIOS.md, "Transient faults"): a
        /// retryable class (`network`, `server_error`) is answered by calling the same op
        /// again, up to 3 times; success after that is `pass-acceptable`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        transient: bool,
    },
    /// Adapter `restore`, with one secret, or with `any_of` (passes if any works).
    Restore {
        actor: String,
        #[serde(default)]
        #[schemars(with = "Option<SecretShape>")]
        secret: Option<Secret>,
        #[serde(default)]
        #[schemars(with = "Vec<SecretShape>")]
        any_of: Vec<Secret>,
        #[serde(default)]
        expect: Expect,
        /// Exact set of contact uuids expected.
        #[serde(default)]
        contacts: Option<Vec<String>>,
        /// The restored set must be exactly one of these (a last-writer-wins outcome whose
        /// winner the case does not fix).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        contacts_one_of: Vec<Vec<String>>,
        #[serde(default)]
        version: Option<u64>,
    },
    /// Adapter `rotate`.
    Rotate {
        actor: String,
        #[schemars(with = "SecretShape")]
        old: Secret,
        #[schemars(with = "SecretShape")]
        new: Secret,
        #[serde(default)]
        expect: Expect,
        /// The step's fault is transient (docs/SCENARIOS.md, "Transient faults"): a
        /// retryable class (`network`, `server_error`) is answered by calling the same op
        /// again, up to 3 times; success after that is `pass-acceptable`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        transient: bool,
    },
    /// Adapter `recover`: candidates tried in order through key_check.
    Recover {
        actor: String,
        #[schemars(with = "Vec<CandidateShape>")]
        candidates: Vec<Candidate>,
        #[serde(default)]
        expect: Expect,
        #[serde(default)]
        matched: Option<String>,
        #[serde(default)]
        tried: Option<Vec<String>>,
        #[serde(default)]
        contacts: Option<Vec<String>>,
    },
    /// Adapter `delete`.
    Delete {
        actor: String,
        #[serde(default)]
        expect: Expect,
        /// The step's fault is transient (docs/SCENARIOS.md, "Transient faults"): a
        /// retryable class (`network`, `server_error`) is answered by calling the same op
        /// again, up to 3 times; success after that is `pass-acceptable`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        transient: bool,
    },
    /// Adapter `open` on the blob currently stored for `user` (fetched by the harness).
    OpenStored {
        actor: String,
        user: String,
        #[schemars(with = "SecretShape")]
        secret: Secret,
        #[serde(default)]
        expect: Expect,
    },
    /// A raw request to the server.
    Http {
        /// Whose token; absent with `auth` = "none".
        #[serde(default)]
        user: Option<String>,
        #[serde(default)]
        auth: AuthMode,
        #[serde(default = "default_method")]
        method: String,
        #[serde(default = "default_path")]
        path: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        body: Option<BodyDef>,
        /// Accepted statuses: the first is the reference answer, the others
        /// `pass-acceptable` alternatives.
        #[schemars(length(min = 1))]
        status: Vec<u16>,
        /// Response headers that must be present with exactly this value ("*" = any value).
        #[serde(default)]
        expect_headers: BTreeMap<String, String>,
        /// `type` of the problem+json body.
        #[serde(default)]
        problem: Option<String>,
        /// Members of a JSON body that must be present (and, for non-"*", equal as text).
        #[serde(default)]
        json: BTreeMap<String, String>,
        /// The body must equal the blob stored by this step label.
        #[serde(default)]
        body_equals: Option<String>,
        /// Remember the body under this label.
        #[serde(default)]
        save_body: Option<String>,
        /// How the request is sent (`client`, `duplex` or `blocking`).
        #[serde(default)]
        transport: Transport,
        /// Send the request this many times, each on a new connection; every try must pass.
        #[serde(default)]
        #[schemars(range(min = 1))]
        tries: Option<u32>,
        /// How a slow client sends the body (`duplex` transport only): stall part-way or
        /// trickle it; absent, as fast as the connection takes it.
        #[serde(default)]
        pace: Option<Pace>,
    },
    /// Damage or inspect the object that holds `user`'s current backup, on S3 directly.
    Storage {
        user: String,
        op: StorageOp,
        /// Object-store profiles: the final (default) or the temporary object; a v1 case
        /// finds the object by content instead.
        #[serde(default)]
        object: StoreObject,
        /// Object-store profiles: a member of the JSON blob, dotted (`kdf.salt`). With
        /// `flip`, byte `index` of its base64-decoded value is flipped and re-encoded;
        /// with `set` it gets `json`; with `remove` it goes.
        #[serde(default)]
        member: Option<String>,
        /// With `set`: the member's new value as JSON text (`"\"AAAA\""`, `2`).
        #[serde(default)]
        json: Option<String>,
        #[serde(default)]
        offset: Option<i64>,
        #[serde(default)]
        field: Option<StorageField>,
        #[serde(default)]
        index: Option<usize>,
        #[serde(default)]
        len: Option<usize>,
        #[serde(default)]
        hex: Option<String>,
        #[serde(default)]
        expect_count: Option<usize>,
        #[serde(default)]
        within_ms: Option<u64>,
    },
    /// Arm a fault on a proxy for the next exchange.
    Fault {
        proxy: Proxy,
        /// 1-based step of the exchange (default 1).
        #[serde(default = "first_step")]
        #[schemars(range(min = 1))]
        at: usize,
        fault: FaultKind,
        /// For kill and drop: before or after forwarding.
        #[serde(default)]
        when: FaultWhen,
        /// The actor to kill (kill-client).
        #[serde(default)]
        actor: Option<String>,
        #[serde(default)]
        status: Option<u16>,
        #[serde(default)]
        ms: Option<u64>,
        /// Count only requests with this method.
        #[serde(default)]
        method: Option<String>,
        /// Count only requests whose path pattern starts with this (`/v0/backup/complete_upload`;
        /// UUID segments read `{uuid}`, numbers `{n}`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// Hit this many matching requests in a row from the `at`-th on (default 1); 0 =
        /// every one until a `clear` fault step (a window longer than any retries).
        #[serde(default)]
        count: Option<usize>,
    },
    /// Run `steps` at once, each in its own task, and wait for all of them; each is judged
    /// as if it ran alone. With a `gather` fault armed before, the devices' writes are
    /// certain to overlap.
    Together {
        #[schemars(length(min = 2))]
        steps: Vec<Step>,
    },
    /// Start the server or an actor's adapter again (same database, same state dir).
    Restart {
        target: RestartTarget,
        #[serde(default)]
        actor: Option<String>,
    },
    /// Adapter `seal` of `plaintext` with the writer's own parameters (no salt, no nonce
    /// given); the blob is remembered under `save`.
    Seal {
        actor: String,
        #[schemars(with = "SecretShape")]
        secret: Secret,
        /// The plaintext, as text.
        #[serde(default)]
        plaintext: String,
        #[schemars(length(min = 1))]
        save: String,
    },
    /// Remember the blob stored for `user` under `save`: the object on S3 when the harness
    /// owns the storage (it must equal what GET serves), otherwise what GET serves.
    SaveStored {
        user: String,
        #[schemars(length(min = 1))]
        save: String,
    },
    /// The remembered blobs must pairwise differ in each header `field` (docs/FORMAT.md §1).
    Distinct {
        #[schemars(length(min = 2))]
        blobs: Vec<String>,
        #[schemars(length(min = 1))]
        fields: Vec<StorageField>,
    },
    /// Profile `dbm-stream-v1`: adapter `import_key` of the pasted text `input`. On `ok` the
    /// answer's `key` must be the input in lower case, its `id` new on this device, and
    /// `export_key` of that id must print the key again; `save` remembers the id for a
    /// `dbm-restore`'s `matched`.
    ImportKey {
        actor: String,
        input: String,
        #[serde(default)]
        save: Option<String>,
        #[serde(default)]
        expect: Expect,
    },
    /// Profile `dbm-stream-v1`: adapter `backup` of the dump (the user's identity +
    /// `contacts`, or `zeros` zero bytes) to the artifact+sidecar store, sealed with the
    /// master key `secret` (a raw key; the device keeps it) or, without one, the device's
    /// own key.
    DbmBackup {
        actor: String,
        #[serde(default)]
        #[schemars(with = "Option<SecretShape>")]
        secret: Option<Secret>,
        #[serde(default)]
        contacts: Vec<String>,
        /// The dump is this many zero bytes instead (a decompression bomb when restored).
        #[serde(default)]
        zeros: Option<u64>,
        /// A pinned IV (hex, 12 or 16 bytes) so that a known decoy key applies; absent, the
        /// adapter draws one.
        #[serde(default)]
        iv: Option<String>,
        #[serde(default)]
        compression: DbmCompression,
        #[serde(default)]
        expect: Expect,
    },
    /// Profile `dbm-stream-v1`: adapter `restore` of the newest complete backup into a
    /// fresh output path. After any answer but `ok` the path must not exist or be empty
    /// (no plaintext before the tag); after `ok` it must hold the dump.
    DbmRestore {
        actor: String,
        /// Exact set of contact uuids the dump must hold.
        #[serde(default)]
        contacts: Option<Vec<String>>,
        /// The dump must be exactly this many zero bytes.
        #[serde(default)]
        zeros: Option<u64>,
        /// The restore's `maxOutput`.
        #[serde(default)]
        max_output: Option<u64>,
        /// The key that must have matched: the label an `import-key` step saved its id as.
        #[serde(default)]
        matched: Option<String>,
        #[serde(default)]
        expect: Expect,
    },
    /// Profile `noah-v0`: adapter `backup` of the database (the user's identity +
    /// `contacts`) with the seedphrase `secret`. On `ok` the answered slot must be `slot`
    /// (when given), and the harness downloads that slot through the server and opens it
    /// with the reference codec: it must give the database back.
    NoahBackup {
        actor: String,
        #[schemars(with = "SecretShape")]
        secret: Secret,
        #[serde(default)]
        contacts: Vec<String>,
        /// The slot (`backup_version`) the backup must have written.
        #[serde(default)]
        slot: Option<i64>,
        /// Read the slot back after `ok` (default); `false` where another device may replace
        /// the slot at once (`together`), so that what it holds is not this backup's to judge.
        #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
        read_back: bool,
        #[serde(default)]
        expect: Expect,
    },
    /// Profile `noah-v0`: adapter `restore`. On `ok`: the database's contacts (exactly
    /// `contacts`, or exactly one of `contacts_one_of`), the slot it came from, and the
    /// slots passed over (`skipped`, newest first).
    NoahRestore {
        actor: String,
        #[schemars(with = "SecretShape")]
        secret: Secret,
        #[serde(default)]
        contacts: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        contacts_one_of: Vec<Vec<String>>,
        #[serde(default)]
        slot: Option<i64>,
        #[serde(default)]
        skipped: Option<Vec<i64>>,
        #[serde(default)]
        expect: Expect,
    },
    /// Profile `noah-v0`: adapter `list`; on `ok` the slots listed must be exactly `slots`.
    NoahList {
        actor: String,
        #[serde(default)]
        slots: Option<Vec<i64>>,
        #[serde(default)]
        expect: Expect,
    },
    /// Profile `noah-v0`: the store's invariant, checked by the harness through the server
    /// (docs/profiles/noah-v0.md §8): every slot the server lists downloads, with exactly
    /// the size it records, and at least one opens with `secret` (one holding `contacts`,
    /// when given).
    NoahCheck {
        user: String,
        #[schemars(with = "SecretShape")]
        secret: Secret,
        #[serde(default)]
        contacts: Option<Vec<String>>,
    },
    /// Profile `noah-v0`: an upload done by hand against the server's API v0, through the
    /// real presigned URL it answers (docs/API-v0.md): `upload_url` as `user` for `slot` and
    /// `size` bytes; the URL's key moved to `rewrite_key_user`'s prefix (when given); a wait
    /// until the URL has expired (`wait_expiry`); a PUT of `put` bytes (default `size`)
    /// through it, which S3 must store (`put_expect = "stored"`, 2xx) or refuse
    /// (`"refused"`, any 4xx: S3's status is S3's); then, when `status` is given,
    /// `complete_upload` as `complete_as` (default `user`) of the key the PUT went to, with
    /// `complete_size` (default `size`), which must answer exactly `status` (and the
    /// problem `type` `problem`).
    NoahRawUpload {
        user: String,
        slot: i64,
        /// The `backup_size` asked of `upload_url`.
        size: u64,
        /// Bytes PUT through the URL (default `size`).
        #[serde(default)]
        put: Option<u64>,
        /// Move the URL's key from `v0/<user>/` to `v0/<this user>/` before the PUT (a
        /// tampered URL); the complete then names that key.
        #[serde(default)]
        rewrite_key_user: Option<String>,
        /// Wait until one second after the `expires_at` the server answered before the PUT.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        wait_expiry: bool,
        #[serde(default)]
        put_expect: PutExpect,
        /// Who calls `complete_upload` (default `user`).
        #[serde(default)]
        complete_as: Option<String>,
        /// The `backup_size` claimed to `complete_upload` (default `size`).
        #[serde(default)]
        complete_size: Option<u64>,
        /// `complete_upload`'s status; absent: no complete.
        #[serde(default)]
        status: Option<u16>,
        /// `type` of `complete_upload`'s problem+json body.
        #[serde(default)]
        problem: Option<String>,
    },
}

fn yes() -> bool {
    true
}

fn first_step() -> usize {
    1
}

fn default_method() -> String {
    "GET".into()
}

fn default_path() -> String {
    "/v1/backup".into()
}

/// Built-in drivers.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Driver {
    /// Run `operation` once recording the proxy's steps, then once per step × {before,
    /// after}: crash `side` there, restart, and check the rotation invariants.
    Enumerate {
        /// Steps that set up each run (on a fresh database).
        setup: Vec<Step>,
        /// The operation under test: a `rotate` step.
        operation: Box<Step>,
        /// Which process is killed.
        side: Side,
        /// Whose requests are counted.
        proxy: Proxy,
        /// The user whose backup the operation changes.
        user: String,
        /// Expected contacts after everything.
        contacts: Vec<String>,
    },
    /// `writers` adapters × `updates` read-modify-write cycles, each adding one contact,
    /// with `readers` raw `GET /v1/backup` loops running meanwhile; every exchange is
    /// recorded at the client↔server proxy, then the history checker judges it
    /// (docs/SCENARIOS.md, "The stress driver").
    Stress {
        #[schemars(range(min = 1))]
        writers: usize,
        #[schemars(range(min = 1))]
        updates: usize,
        #[schemars(with = "SecretShape")]
        secret: Secret,
        user: String,
        /// `writers` under `backproof run --thorough` (default: `writers`).
        #[serde(default)]
        #[schemars(range(min = 1))]
        thorough_writers: Option<usize>,
        /// `updates` under `backproof run --thorough` (default: `updates`).
        #[serde(default)]
        #[schemars(range(min = 1))]
        thorough_updates: Option<usize>,
        /// Concurrent raw readers during the writes.
        #[serde(default = "default_stress_readers")]
        #[schemars(range(min = 1))]
        readers: usize,
    },
}

fn default_stress_readers() -> usize {
    4
}

/// The JSON Schema of a scenario file, as committed in docs/schema/scenario.schema.json.
pub fn scenario_schema() -> serde_json::Value {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Scenario>();
    schema.insert(
        "$id".into(),
        serde_json::Value::String("urn:backproof:schema:scenario:v1".into()),
    );
    schema.to_value()
}

impl Scenario {
    /// Parses one file; the family is the name of its folder.
    pub fn load(path: &Path) -> Result<Scenario, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut s: Scenario = toml::from_str(&text).map_err(|source| LoadError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let family = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        if !s.id.starts_with(&format!("{family}/")) {
            return Err(LoadError::Family {
                path: path.to_path_buf(),
                id: s.id,
                family,
            });
        }
        if s.profiles.is_empty() {
            return Err(LoadError::Profiles {
                path: path.to_path_buf(),
                message: "`profiles` names no profile; leave it out for [\"v1\"]".into(),
            });
        }
        if let Some(p) = s.profiles.iter().find(|p| !p.applies_to(&family)) {
            return Err(LoadError::Profiles {
                path: path.to_path_buf(),
                message: format!(
                    "family {family:?} does not apply to profile {p} (its families: {})",
                    p.families().join(", ")
                ),
            });
        }
        if let Some(a) = s.shows.iter().find(|a| {
            !s.profiles
                .iter()
                .any(|p| p.advisories().iter().any(|x| x.id == a.as_str()))
        }) {
            return Err(LoadError::Profiles {
                path: path.to_path_buf(),
                message: format!(
                    "`shows` names {a:?}, which is no advisory of its profiles ({})",
                    s.profiles
                        .iter()
                        .flat_map(|p| p.advisories().iter().map(|x| x.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let setup: &[Step] = match &s.driver {
            Some(Driver::Enumerate { setup, .. }) => setup,
            _ => &[],
        };
        for st in s.steps.iter().chain(setup) {
            let message = match st {
                Step::Backup { kdf: Some(_), .. } if s.profiles != [Profile::MetamaskVault] => {
                    "a `backup` with `kdf` belongs to profile metamask-vault only (`profiles = [\"metamask-vault\"]`)"
                }
                Step::Backup {
                    kdf: Some(VaultKdf::Legacy { legacy: false }),
                    ..
                } => "`kdf = { legacy = false }` means nothing: give `{ iterations = N }` instead",
                Step::ImportKey { .. } | Step::DbmBackup { .. } | Step::DbmRestore { .. }
                    if s.profiles != [Profile::DbmStreamV1] =>
                {
                    "`import-key`, `dbm-backup` and `dbm-restore` belong to profile dbm-stream-v1 only (`profiles = [\"dbm-stream-v1\"]`)"
                }
                Step::DbmBackup {
                    secret: Some(Secret::Passphrase(_)),
                    ..
                } => {
                    "a `dbm-backup` seals with a master key (`secret = { key = \"…\" }`), never a passphrase"
                }
                Step::Backup { .. }
                | Step::Restore { .. }
                | Step::Rotate { .. }
                | Step::Recover { .. }
                | Step::OpenStored { .. }
                | Step::Seal { .. }
                | Step::Delete { .. }
                    if s.profiles.contains(&Profile::DbmStreamV1) =>
                {
                    "profile dbm-stream-v1 backs up and restores with `dbm-backup` and `dbm-restore` (docs/profiles/dbm-stream-v1.md §8)"
                }
                Step::NoahBackup { .. }
                | Step::NoahRestore { .. }
                | Step::NoahList { .. }
                | Step::NoahCheck { .. }
                | Step::NoahRawUpload { .. }
                    if s.profiles != [Profile::NoahV0] =>
                {
                    "`noah-backup`, `noah-restore`, `noah-list`, `noah-check` and `noah-raw-upload` belong to profile noah-v0 only (`profiles = [\"noah-v0\"]`)"
                }
                Step::Backup { .. }
                | Step::Restore { .. }
                | Step::Rotate { .. }
                | Step::Recover { .. }
                | Step::OpenStored { .. }
                | Step::Seal { .. }
                | Step::Delete { .. }
                | Step::SaveStored { .. }
                | Step::ImportKey { .. }
                | Step::DbmBackup { .. }
                | Step::DbmRestore { .. }
                    if s.profiles.contains(&Profile::NoahV0) =>
                {
                    "profile noah-v0 backs up and restores with `noah-backup`, `noah-restore`, `noah-list` and `noah-check` (docs/profiles/noah-v0.md §8)"
                }
                _ => continue,
            };
            return Err(LoadError::Profiles {
                path: path.to_path_buf(),
                message: message.into(),
            });
        }
        s.family = family;
        s.path = path.to_path_buf();
        s.profile = s.profiles[0];
        Ok(s)
    }
}

/// Every scenario once per profile of `profiles` it applies to, with its case id
/// ([`Profile::case_id`]), sorted by id. Ids must stay unique.
pub fn expand(scenarios: Vec<Scenario>, profiles: &[Profile]) -> Result<Vec<Scenario>, LoadError> {
    let mut out = Vec::new();
    for s in scenarios {
        for p in profiles.iter().filter(|p| s.profiles.contains(p)) {
            let mut one = s.clone();
            one.id = p.case_id(&s.id);
            one.profile = *p;
            out.push(one);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    for w in out.windows(2) {
        if w[0].id == w[1].id {
            return Err(LoadError::Duplicate(w[0].id.clone()));
        }
    }
    Ok(out)
}

/// Every `*.toml` under `dir/<family>/` and `dir/<profile>/<family>/`, sorted by id; ids
/// must be unique. A file under a profile's folder applies to exactly that profile.
pub fn load_all(dir: &Path) -> Result<Vec<Scenario>, LoadError> {
    let read = |d: &Path| {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .collect::<Vec<_>>()
            })
            .map_err(|source| LoadError::Read {
                path: d.to_path_buf(),
                source,
            })
    };
    let tomls = |d: &Path| -> Result<Vec<PathBuf>, LoadError> {
        let mut files: Vec<PathBuf> = read(d)?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        Ok(files)
    };
    let mut out = Vec::new();
    let mut folders: Vec<PathBuf> = read(dir)?.into_iter().filter(|p| p.is_dir()).collect();
    folders.sort();
    for folder in folders {
        let name = folder
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        let Ok(profile) = name.parse::<Profile>() else {
            for f in tomls(&folder)? {
                out.push(Scenario::load(&f)?);
            }
            continue;
        };
        let mut families: Vec<PathBuf> =
            read(&folder)?.into_iter().filter(|p| p.is_dir()).collect();
        families.sort();
        for fam in families {
            for f in tomls(&fam)? {
                let s = Scenario::load(&f)?;
                if s.profiles != [profile] {
                    return Err(LoadError::Profiles {
                        path: f,
                        message: format!(
                            "a file under scenarios/{profile}/ says `profiles = [\"{profile}\"]`, exactly"
                        ),
                    });
                }
                out.push(s);
            }
        }
    }
    // Two files may share an id when their profiles differ: the case ids differ.
    out.sort_by(|a, b| a.id.cmp(&b.id));
    for w in out.windows(2) {
        if w[0].id == w[1].id && w[0].profiles.iter().any(|p| w[1].profiles.contains(p)) {
            return Err(LoadError::Duplicate(w[0].id.clone()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_names_are_ok_crashed_and_the_closed_classes() {
        let mut want = vec!["ok", "crashed"];
        want.extend(ErrorClass::ALL.iter().map(|c| c.as_str()));
        assert_eq!(EXPECTED_NAMES.to_vec(), want);
        for n in EXPECTED_NAMES {
            assert_eq!(n.parse::<Expected>().unwrap().to_string(), n);
        }
    }

    #[test]
    fn capabilities_keep_their_report_spellings() {
        for (c, s) in [
            (Capability::ClientAdapter, "client-adapter"),
            (Capability::Op(Op::Backup), "op:backup"),
            (Capability::Op(Op::Open), "op:open"),
            (Capability::ServerRestart, "server-restart"),
            (Capability::StorageAccess, "storage-access"),
            (Capability::Failpoints, "failpoints"),
        ] {
            assert_eq!(c.to_string(), s);
            assert_eq!(s.parse::<Capability>().unwrap(), c);
        }
        let e = "op:explode".parse::<Capability>().unwrap_err().to_string();
        assert!(e.contains("op:explode") && e.contains("`op:rotate`"), "{e}");
    }

    #[test]
    fn expectations() {
        assert!(Expect::default().allows(Expected::Ok));
        let e: Expect = serde_json::from_str(r#"["corrupted", "malformed"]"#).unwrap();
        assert!(e.allows(Expected::Error(ErrorClass::Malformed)) && !e.allows(Expected::Ok));
        assert_eq!(e.describe(), "corrupted or malformed");
        let one: Expect = serde_json::from_str(r#""crashed""#).unwrap();
        assert_eq!(one, Expect::one(Expected::Crashed));
        assert!(serde_json::from_str::<Expect>("[]").is_err());
        let bad = serde_json::from_str::<Expect>(r#""oops""#)
            .unwrap_err()
            .to_string();
        assert!(bad.contains("oops") && bad.contains("wrong_key"), "{bad}");
    }

    #[test]
    fn transient_is_off_unless_asked_and_existing_steps_still_load() {
        let base = "do = \"rotate\"\nactor = \"a\"\nold = { passphrase = \"correct horse battery\" }\nnew = { passphrase = \"another fine passphrase\" }\n";
        let plain: Step = toml::from_str(base).unwrap();
        assert!(matches!(
            plain,
            Step::Rotate {
                transient: false,
                ..
            }
        ));
        // Off is not written back, so existing files and the schema's examples round-trip.
        assert!(!serde_json::to_string(&plain).unwrap().contains("transient"));
        let t: Step = toml::from_str(&format!("{base}transient = true\n")).unwrap();
        assert!(matches!(
            t,
            Step::Rotate {
                transient: true,
                ..
            }
        ));
        assert!(toml::from_str::<Step>(&format!("{base}transient = \"yes\"\n")).is_err());
    }

    #[test]
    fn profiles_default_to_v1() {
        let s: Scenario =
            toml::from_str("id = \"protocol/x\"\ntitle = \"t\"\nwhy = \"w\"\n").unwrap();
        assert_eq!(s.profiles, [Profile::V1]);
        assert!(
            toml::from_str::<Scenario>(
                "id = \"protocol/x\"\ntitle = \"t\"\nwhy = \"w\"\nprofiles = [\"v2\"]\n"
            )
            .is_err()
        );
    }

    #[test]
    fn secrets_are_redacted_and_strict() {
        let s: Step = toml::from_str(
            "do = \"backup\"\nactor = \"a\"\nsecret = { passphrase = \"correct horse battery\" }\n",
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("horse"), "{s:?}");
        for bad in [
            "secret = { key = \"aa\" }",
            "secret = { key = \"AA\" }",
            "secret = { passphrase = \"p\", key = \"00\" }",
            "secret = {}",
            "secret = { pin = \"1234\" }",
        ] {
            let text = format!("do = \"backup\"\nactor = \"a\"\n{bad}\n");
            assert!(toml::from_str::<Step>(&text).is_err(), "{bad}");
        }
    }
}
