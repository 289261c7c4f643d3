//! The serving side: `backproof adapter` reads JSON Lines requests and answers each, in
//! order, one line per answer, flushed. Nothing a peer sends can stop the loop except
//! closing stdin: every bad line gets a `malformed` answer.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use backproof_format::payload;
use backproof_format::{ErrorClass, KdfParams};

use backproof_format::profiles::byok_json_v1::{self as byok, Kdf as ByokKdf, SealParams};
use zeroize::Zeroizing;

use super::protocol::*;

mod dbm;
mod noah;
use crate::client::{Candidate, Client, ClientConfig};
use crate::error::ClientError;
use crate::object_store::{ObjectStore, StoreError, now_rfc3339};
use crate::vault_store::VaultStore;
use backproof_format::profiles::metamask_vault as mm;
pub use dbm::DbmBroken;

/// Longest request line accepted (a 2 MiB blob is 4 MiB of hex; leave room for a payload
/// and a blob in one request). Longer lines are answered `malformed` and skipped.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// How the reference adapter behaves.
#[derive(Debug, Clone)]
pub struct AdapterConfig {
    /// The client behind the server ops; its `kdf` is also the default of `seal`, and its
    /// `state_dir` what survives a restart.
    pub client: ClientConfig,
    /// Announced by `hello` as `implementation`.
    pub implementation: String,
    /// Broken variants of profile `dbm-stream-v1` (all off by default).
    pub dbm: DbmBroken,
}

impl Default for AdapterConfig {
    fn default() -> Self {
        AdapterConfig {
            client: ClientConfig::default(),
            implementation: format!("backproof-reference {}", env!("CARGO_PKG_VERSION")),
            dbm: DbmBroken::default(),
        }
    }
}

/// Why the loop stopped other than by end of input.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Writing an answer (or reading input) failed: the peer is gone.
    #[error("adapter I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The client could not be set up (state directory unusable).
    #[error("cannot start the reference client: {0}")]
    Client(#[from] ClientError),
    /// The `dbm-stream-v1` keys in the state directory could not be read.
    #[error("cannot load the dbm-stream-v1 keys: {0}")]
    DbmKeys(#[from] crate::dbm_store::DbmError),
}

struct OpError {
    class: String,
    message: String,
    tried: Option<Vec<String>>,
}

impl OpError {
    fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        OpError {
            class: class.as_str().to_string(),
            message: message.into(),
            tried: None,
        }
    }
    fn malformed(message: impl Into<String>) -> Self {
        OpError::new(ErrorClass::Malformed, message)
    }
}

impl From<ClientError> for OpError {
    fn from(e: ClientError) -> Self {
        OpError {
            class: e.class().as_str().to_string(),
            message: e.to_string(),
            tried: e.tried().map(<[String]>::to_vec),
        }
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        let tried = match &e {
            StoreError::NoCandidateMatched { tried } => Some(tried.clone()),
            _ => None,
        };
        OpError {
            class: e.class().as_str().to_string(),
            message: e.to_string(),
            tried,
        }
    }
}

impl From<byok::Error> for OpError {
    fn from(e: byok::Error) -> Self {
        OpError::new(e.class(), e.to_string())
    }
}

impl From<mm::Error> for OpError {
    fn from(e: mm::Error) -> Self {
        OpError::new(e.class(), e.to_string())
    }
}

impl From<backproof_format::Error> for OpError {
    fn from(e: backproof_format::Error) -> Self {
        OpError::new(e.class(), e.to_string())
    }
}

/// Reads one line into `buf` (without the newline). Returns `Ok(None)` at end of input,
/// `Ok(Some(false))` when the line exceeded `MAX_LINE_BYTES` (its bytes are discarded).
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let mut overflow = false;
    let mut any = false;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if any { Some(!overflow) } else { None });
        }
        any = true;
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        if !overflow {
            if buf.len() + part.len() > MAX_LINE_BYTES {
                overflow = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        let used = done.unwrap_or(chunk.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(Some(!overflow));
        }
    }
}

/// Serves requests from `reader` until end of input, answering on `writer`.
pub async fn serve<R, W>(reader: R, writer: W, config: AdapterConfig) -> Result<(), ServeError>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let client = Client::new(config.client.clone())?;
    let keyring = crate::dbm_store::Keyring::open(config.client.state_dir.as_deref())?;
    let mut reader = reader;
    let mut writer = writer;
    let mut line = Vec::new();
    while let Some(fits) = read_line(&mut reader, &mut line).await? {
        let answer = if !fits {
            error_answer(
                None,
                OpError::malformed(format!(
                    "request line longer than {MAX_LINE_BYTES} bytes; skipped"
                )),
            )
        } else {
            if line.iter().all(u8::is_ascii_whitespace) {
                // Blank lines separate nothing and request nothing.
                continue;
            }
            handle_line(&line, &client, &config, &keyring).await
        };
        let mut out = serde_json::to_vec(&answer).map_err(std::io::Error::other)?;
        out.push(b'\n');
        writer.write_all(&out).await?;
        writer.flush().await?;
    }
    Ok(())
}

fn error_answer(id: Option<u64>, e: OpError) -> Value {
    backproof_adapter_protocol::error_answer(
        id,
        &WireError {
            class: e.class,
            message: e.message,
            tried: e.tried,
        },
    )
}

/// Answers one request line (exposed for tests and for in-process use).
async fn handle_line(
    line: &[u8],
    client: &Client,
    config: &AdapterConfig,
    keyring: &crate::dbm_store::Keyring,
) -> Value {
    let (id, op, value) = match parse_request(line) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    match dispatch(&op, &value, client, config, keyring).await {
        Ok(result) => json!({"id": id, "result": result}),
        Err(e) => error_answer(Some(id), e),
    }
}

fn parse<T: DeserializeOwned>(op: &str, v: &Value) -> Result<T, OpError> {
    T::deserialize(v).map_err(|e| OpError::malformed(format!("bad `{op}` request: {e}")))
}

fn unsupported_profile(profile: &str) -> OpError {
    OpError::new(
        ErrorClass::UnsupportedVersion,
        format!(
            "profile {profile:?} is not supported; this adapter speaks {}",
            ALL_PROFILES.map(|p| format!("{p:?}")).join(", ")
        ),
    )
}

fn check_profile(profile: &str) -> Result<(), OpError> {
    if profile == PROFILE_V1 {
        Ok(())
    } else {
        Err(unsupported_profile(profile))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    V1,
    ByokJsonV1,
    MetamaskVault,
    DbmStreamV1,
    NoahV0,
}

/// The request's `profile`: absent (or null) is `v1`.
fn profile_of(op: &str, v: &Value) -> Result<Profile, OpError> {
    match v.get("profile") {
        None | Some(Value::Null) => Ok(Profile::V1),
        Some(Value::String(p)) if p == PROFILE_V1 => Ok(Profile::V1),
        Some(Value::String(p)) if p == PROFILE_BYOK_JSON_V1 => Ok(Profile::ByokJsonV1),
        Some(Value::String(p)) if p == PROFILE_METAMASK_VAULT => Ok(Profile::MetamaskVault),
        Some(Value::String(p)) if p == PROFILE_DBM_STREAM_V1 => Ok(Profile::DbmStreamV1),
        Some(Value::String(p)) if p == PROFILE_NOAH_V0 => Ok(Profile::NoahV0),
        Some(Value::String(p)) => Err(unsupported_profile(p)),
        Some(other) => Err(OpError::malformed(format!(
            "bad `{op}` request: `profile` must be a string, not {other}"
        ))),
    }
}

fn to_value<T: serde::Serialize>(t: &T) -> Result<Value, OpError> {
    serde_json::to_value(t).map_err(|e| OpError::malformed(format!("cannot encode answer: {e}")))
}

async fn dispatch(
    op: &str,
    v: &Value,
    client: &Client,
    config: &AdapterConfig,
    keyring: &crate::dbm_store::Keyring,
) -> Result<Value, OpError> {
    if op != "hello" {
        match profile_of(op, v)? {
            Profile::ByokJsonV1 => return dispatch_byok(op, v, client).await,
            Profile::MetamaskVault => return dispatch_vault(op, v, client).await,
            Profile::DbmStreamV1 => return dbm::dispatch(op, v, config.dbm, keyring).await,
            Profile::NoahV0 => return noah::dispatch(op, v, client).await,
            Profile::V1 => {}
        }
    }
    match op {
        "hello" => to_value(&HelloResult {
            protocol: PROTOCOL_VERSION,
            implementation: config.implementation.clone(),
            profiles: ALL_PROFILES.iter().map(|s| s.to_string()).collect(),
            ops: ALL_OPS.iter().map(|s| s.to_string()).collect(),
        }),
        "derive" => {
            let r: DeriveRequest = parse(op, v)?;
            let ikm = backproof_format::derive_ikm(&r.passphrase, &r.salt.0, &r.kdf.into())?;
            to_value(&DeriveResult {
                ikm: Hex(ikm.to_vec()),
            })
        }
        "seal" => {
            let r: SealRequest = parse(op, v)?;
            check_profile(&r.profile)?;
            let kdf: KdfParams = r.kdf.map(Into::into).unwrap_or(client.config().kdf);
            let salt = match r.salt {
                Some(s) => s.0,
                None => client.fresh_salt()?.to_vec(),
            };
            let nonce: [u8; 12] = match r.nonce {
                Some(n) => n.0.try_into().map_err(|n: Vec<u8>| {
                    OpError::malformed(format!("`nonce` must be 12 bytes, got {}", n.len()))
                })?,
                None => client.fresh_nonce()?,
            };
            let blob =
                backproof_format::seal(&r.secret.to_secret(), &kdf, &salt, &nonce, &r.plaintext.0)?;
            to_value(&SealResult { blob: Hex(blob) })
        }
        "open" => {
            let r: OpenRequest = parse(op, v)?;
            check_profile(&r.profile)?;
            let plaintext =
                backproof_format::open(&r.secret.to_secret(), &r.blob.0, &client.config().policy)?;
            to_value(&OpenResult {
                plaintext: Hex(plaintext.to_vec()),
            })
        }
        "backup" => {
            let r: BackupRequest = parse(op, v)?;
            check_profile(&r.profile)?;
            let p = payload::decode(&r.payload.0)?;
            let out = client
                .backup(&(&r.server).into(), &r.secret.to_secret(), &p)
                .await?;
            to_value(&VersionResult {
                version: out.version,
            })
        }
        "restore" => {
            let r: RestoreRequest = parse(op, v)?;
            check_profile(&r.profile)?;
            let out = client
                .restore(&(&r.server).into(), &r.secret.to_secret())
                .await?;
            to_value(&RestoreResult {
                payload: Hex(out.plaintext.to_vec()),
                version: out.version,
            })
        }
        "rotate" => {
            let r: RotateRequest = parse(op, v)?;
            check_profile(&r.profile)?;
            let out = client
                .rotate(&(&r.server).into(), &r.old.to_secret(), &r.new.to_secret())
                .await?;
            to_value(&VersionResult {
                version: out.version,
            })
        }
        "recover" => {
            let r: RecoverRequest = parse(op, v)?;
            check_profile(&r.profile)?;
            let candidates: Vec<Candidate> = r
                .candidates
                .iter()
                .map(|c| Candidate {
                    id: c.id.clone(),
                    secret: c.secret.to_secret(),
                })
                .collect();
            let out = client.recover(&(&r.server).into(), &candidates).await?;
            to_value(&RecoverResult {
                matched: out.matched,
                payload: Hex(out.plaintext.to_vec()),
                version: out.version,
            })
        }
        "delete" => {
            let r: DeleteRequest = parse(op, v)?;
            check_profile(&r.profile)?;
            client.delete(&(&r.server).into()).await?;
            Ok(json!({}))
        }
        "list" | "settings" => Err(OpError::malformed(format!(
            "op {op:?} belongs to profile {PROFILE_NOAH_V0} (its two slots and its settings); profile {PROFILE_V1} has one backup and no settings"
        ))),
        other => Err(OpError::malformed(format!(
            "unknown op {other:?}; known ops: {}",
            ALL_OPS.join(", ")
        ))),
    }
}

/// A passphrase, or `malformed`: the profile derives every key from a passphrase and has no
/// raw keys.
fn byok_passphrase<'a>(secret: &'a Secret, what: &str) -> Result<&'a str, OpError> {
    match secret {
        Secret::Passphrase(p) => Ok(p.as_str()),
        Secret::Key(_) => Err(OpError::malformed(format!(
            "`{what}` is a raw key; profile {PROFILE_BYOK_JSON_V1} takes passphrases only ({{\"passphrase\": \"…\"}})"
        ))),
    }
}

fn byok_store(store: &WireStore, client: &Client) -> Result<ObjectStore, OpError> {
    if store.kind != STORE_KIND_OBJECT_STORE {
        return Err(OpError::malformed(format!(
            "invalid store kind {:?}: profile {PROFILE_BYOK_JSON_V1} writes to {STORE_KIND_OBJECT_STORE:?}",
            store.kind
        )));
    }
    Ok(ObjectStore::new(&store.into())?.with_broken(client.config().broken.byok))
}

/// The ops of profile `byok-json-v1` (docs/profiles/byok-json-v1.md §6, §8). The writer's
/// own parameters are Argon2id with the adapter's `--kdf`.
async fn dispatch_byok(op: &str, v: &Value, client: &Client) -> Result<Value, OpError> {
    let writer_kdf = ByokKdf::Argon2id(client.config().kdf);
    let broken = client.config().broken.byok;
    match op {
        "seal" => {
            let r: ByokSealRequest = parse(op, v)?;
            let passphrase = byok_passphrase(&r.secret, "secret")?;
            let salt = match r.salt {
                Some(s) => s.0,
                None => client.fresh_salt()?.to_vec(),
            };
            let nonce: [u8; byok::NONCE_LEN] = match r.nonce {
                Some(n) => n.0.try_into().map_err(|n: Vec<u8>| {
                    OpError::malformed(format!("`nonce` must be 12 bytes, got {}", n.len()))
                })?,
                None => client.fresh_nonce()?,
            };
            let now = now_rfc3339();
            let blob = broken.seal(
                passphrase,
                &r.plaintext.0,
                &SealParams {
                    kdf: r.kdf.map_or(writer_kdf, Into::into),
                    salt: &salt,
                    nonce,
                    created_at: r.created_at.as_deref().unwrap_or(&now),
                    updated_at: r.updated_at.as_deref().unwrap_or(&now),
                },
            )?;
            to_value(&SealResult { blob: Hex(blob) })
        }
        "open" => {
            let r: OpenRequest = parse(op, v)?;
            let opened = broken.open(byok_passphrase(&r.secret, "secret")?, &r.blob.0)?;
            to_value(&ByokOpenResult {
                plaintext: Hex(opened.plaintext.to_vec()),
                created_at: opened.envelope.created_at,
                updated_at: opened.envelope.updated_at,
            })
        }
        "backup" => {
            let r: ByokBackupRequest = parse(op, v)?;
            let passphrase = byok_passphrase(&r.secret, "secret")?;
            byok_store(&r.store, client)?
                .backup(passphrase, &r.payload.0, &writer_kdf, &now_rfc3339())
                .await?;
            Ok(json!({}))
        }
        "restore" => {
            let r: ByokRestoreRequest = parse(op, v)?;
            let passphrase = byok_passphrase(&r.secret, "secret")?;
            let out = byok_store(&r.store, client)?.restore(passphrase).await?;
            to_value(&ByokRestoreResult {
                payload: Hex(out.plaintext.to_vec()),
                created_at: out.created_at,
                updated_at: out.updated_at,
            })
        }
        "rotate" => {
            let r: ByokRotateRequest = parse(op, v)?;
            let old = byok_passphrase(&r.old, "old")?;
            let new = byok_passphrase(&r.new, "new")?;
            byok_store(&r.store, client)?
                .rotate(old, new, &writer_kdf, &now_rfc3339())
                .await?;
            Ok(json!({}))
        }
        "recover" => {
            let r: ByokRecoverRequest = parse(op, v)?;
            let candidates = r
                .candidates
                .iter()
                .map(|c| {
                    let p = byok_passphrase(&c.secret, &format!("candidate {:?}", c.id))?;
                    Ok((c.id.clone(), Zeroizing::new(p.to_owned())))
                })
                .collect::<Result<Vec<_>, OpError>>()?;
            let out = byok_store(&r.store, client)?.recover(&candidates).await?;
            to_value(&ByokRecoverResult {
                matched: out.matched,
                payload: Hex(out.backup.plaintext.to_vec()),
                source: out.source.as_str().to_owned(),
            })
        }
        "delete" => {
            let r: ByokDeleteRequest = parse(op, v)?;
            byok_store(&r.store, client)?.delete().await?;
            Ok(json!({}))
        }
        "derive" => Err(OpError::new(
            ErrorClass::UnsupportedVersion,
            format!(
                "`derive` is blob v1's Argon2id step; profile {PROFILE_BYOK_JSON_V1} has no such op (its key derivation is checked through seal and open)"
            ),
        )),
        other => Err(OpError::malformed(format!(
            "unknown op {other:?}; known ops: {}",
            ALL_OPS.join(", ")
        ))),
    }
}

/// A passphrase, or `malformed`: the vault format has no raw keys.
fn vault_password<'a>(secret: &'a Secret, what: &str) -> Result<&'a str, OpError> {
    match secret {
        Secret::Passphrase(p) => Ok(p.as_str()),
        Secret::Key(_) => Err(OpError::malformed(format!(
            "`{what}` is a raw key; profile {PROFILE_METAMASK_VAULT} takes passwords only ({{\"passphrase\": \"…\"}})"
        ))),
    }
}

fn vault_kdf(kdf: Option<VaultWireKdf>, default: mm::Kdf) -> Result<mm::Kdf, OpError> {
    kdf.map_or(Ok(default), |k| k.to_kdf().map_err(OpError::malformed))
}

/// An update's target: iterations only, never the legacy form.
fn vault_target(kdf: Option<VaultWireKdf>) -> Result<u32, OpError> {
    match vault_kdf(kdf, mm::Kdf::DEFAULT)? {
        mm::Kdf::Legacy => Err(OpError::malformed(
            "an update cannot target the legacy form",
        )),
        mm::Kdf::Pbkdf2 { iterations } => Ok(iterations),
    }
}

fn vault_store(store: &WireStore, client: &Client) -> Result<VaultStore, OpError> {
    if store.kind != STORE_KIND_OBJECT_STORE {
        return Err(OpError::malformed(format!(
            "invalid store kind {:?}: profile {PROFILE_METAMASK_VAULT} writes to {STORE_KIND_OBJECT_STORE:?}",
            store.kind
        )));
    }
    Ok(VaultStore::new(&store.into())?.with_broken(client.config().broken.vault))
}

fn fresh<const N: usize>() -> Result<[u8; N], OpError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| OpError::from(StoreError::Random(e.to_string())))?;
    Ok(b)
}

/// The ops of profile `metamask-vault` (docs/profiles/metamask-vault.md §8, §10) with the
/// profile's codec. The writer's default is the library's: 900 000 iterations.
async fn dispatch_vault(op: &str, v: &Value, client: &Client) -> Result<Value, OpError> {
    match op {
        "derive" => {
            let r: VaultDeriveRequest = parse(op, v)?;
            let kdf = vault_kdf(r.kdf, mm::Kdf::Legacy)?;
            let key = mm::derive_key(&r.passphrase, &kdf, &r.salt.0)?;
            to_value(&DeriveResult {
                ikm: Hex(key.to_vec()),
            })
        }
        "seal" => {
            let r: VaultSealRequest = parse(op, v)?;
            let password = vault_password(&r.secret, "secret")?;
            let kdf = vault_kdf(r.kdf, mm::Kdf::DEFAULT)?;
            let salt = match r.salt {
                Some(s) => s.0,
                None => fresh::<{ mm::SALT_LEN }>()?.to_vec(),
            };
            let iv: [u8; mm::IV_LEN] = match r.nonce {
                Some(n) => n.0.try_into().map_err(|n: Vec<u8>| {
                    OpError::malformed(format!(
                        "`nonce` (the IV) must be 16 bytes, got {}",
                        n.len()
                    ))
                })?,
                None => fresh()?,
            };
            let blob = mm::seal(
                password,
                &r.plaintext.0,
                &mm::SealParams {
                    kdf,
                    salt: &salt,
                    iv,
                },
            )?;
            to_value(&SealResult { blob: Hex(blob) })
        }
        "open" => {
            let r: OpenRequest = parse(op, v)?;
            let opened = mm::open(vault_password(&r.secret, "secret")?, &r.blob.0)?;
            to_value(&OpenResult {
                plaintext: Hex(opened.plaintext.to_vec()),
            })
        }
        "rotate" if v.get("store").is_some() => {
            let r: VaultStoredRotateRequest = parse(op, v)?;
            let old = vault_password(&r.old, "old")?;
            let new = vault_password(&r.new, "new")?;
            let target = vault_target(r.kdf)?;
            let out = vault_store(&r.store, client)?
                .rotate(old, new, target)
                .await?;
            to_value(&VaultStoredRotateResult {
                changed: out.changed,
            })
        }
        "rotate" => {
            let r: VaultRotateRequest = parse(op, v)?;
            let password = vault_password(&r.secret, "secret")?;
            let target = vault_target(r.kdf)?;
            let u = mm::update(
                password,
                &r.blob.0,
                target,
                &fresh::<{ mm::SALT_LEN }>()?,
                fresh()?,
            )?;
            to_value(&VaultRotateResult {
                blob: Hex(u.vault),
                changed: u.changed,
            })
        }
        "backup" => {
            let r: VaultBackupRequest = parse(op, v)?;
            let password = vault_password(&r.secret, "secret")?;
            let kdf = vault_kdf(r.kdf, mm::Kdf::DEFAULT)?;
            vault_store(&r.store, client)?
                .backup(password, &r.payload.0, kdf)
                .await?;
            Ok(json!({}))
        }
        "restore" => {
            let r: ByokRestoreRequest = parse(op, v)?;
            let password = vault_password(&r.secret, "secret")?;
            let plaintext = vault_store(&r.store, client)?.restore(password).await?;
            to_value(&VaultRestoreResult {
                payload: Hex(plaintext.to_vec()),
            })
        }
        "delete" => {
            let r: ByokDeleteRequest = parse(op, v)?;
            vault_store(&r.store, client)?.delete().await?;
            Ok(json!({}))
        }
        "recover" => Err(OpError::new(
            ErrorClass::UnsupportedVersion,
            format!(
                "profile {PROFILE_METAMASK_VAULT} has no `recover`: one vault, one password, and an update never leaves a second object (docs/profiles/metamask-vault.md §10)"
            ),
        )),
        other => Err(OpError::malformed(format!(
            "unknown op {other:?}; known ops: {}",
            ALL_OPS.join(", ")
        ))),
    }
}
