//! The reference client's operations (docs/CLIENT.md).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use backproof_format::payload::{self, BackupPayload};
use backproof_format::{ErrorClass, KdfParams, Policy, SealingKey, Secret};
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::http::{Http, PostResult};
use crate::retry::RetryPolicy;
use crate::state::StateStore;

/// A server and the credential that names one user on it.
#[derive(Clone, PartialEq, Eq)]
pub struct Server {
    /// Base URL, e.g. `http://127.0.0.1:8080` (the API lives under `/v1/`).
    pub url: String,
    /// Bearer token.
    pub token: String,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are credentials: they never reach logs.
        f.debug_struct("Server")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// How the client behaves. `Default` is the reference behaviour.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The writer's own KDF parameters for every seal (never the ones of a downloaded blob).
    pub kdf: KdfParams,
    /// The policy blobs must satisfy to be opened.
    pub policy: Policy,
    /// Where the last acknowledged versions survive a crash; `None` keeps nothing.
    pub state_dir: Option<PathBuf>,
    /// Retries of network errors and 5xx.
    pub retry: RetryPolicy,
    /// Uploads attempted by the 409 merge loop (and the rotate loop) before giving up.
    pub max_conflict_attempts: u32,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one HTTP exchange.
    pub request_timeout: Duration,
    /// Deliberate defects, all off by default: only for proving that the suite catches them
    /// (docs/ADAPTER.md, "Broken variants of the reference adapter").
    #[doc(hidden)]
    pub broken: Broken,
}

/// Deliberately broken behaviours of the reference client. A client that ships any of them
/// is insecure or loses data; the suite must fail it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Broken {
    /// Every seal uses one fixed nonce: two blobs under one key leak the XOR of their
    /// plaintexts and the GHASH key.
    pub fixed_nonce: bool,
    /// Every seal uses one fixed salt: one passphrase always derives one key.
    pub fixed_salt: bool,
    /// `rotate` skips its "already rotated?" check, so a retried rotation whose first
    /// attempt landed fails with `wrong_key`.
    pub rotate_not_idempotent: bool,
    /// The defects of the `byok-json-v1` object-store client.
    pub byok: crate::object_store::ByokBroken,
    /// The defects of the `metamask-vault` object-store client.
    pub vault: crate::vault_store::VaultBroken,
    /// The defects of the `noah-v0` client.
    pub noah: crate::noah_store::NoahBroken,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            kdf: KdfParams::RFC9106_SECOND,
            policy: Policy::default(),
            state_dir: None,
            retry: RetryPolicy::default(),
            max_conflict_attempts: 8,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            broken: Broken::default(),
        }
    }
}

/// A candidate secret for smart recovery.
pub struct Candidate {
    /// The caller's name for it (reported back when it matches).
    pub id: String,
    /// The passphrase or raw key.
    pub secret: Secret,
}

impl fmt::Debug for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Candidate")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What `backup` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupOutcome {
    /// The version the server acknowledged.
    pub version: u64,
    /// How many times the 409 loop merged with a stored payload (0 = no conflict).
    pub merges: u32,
}

/// What `restore` found.
pub struct Restored {
    /// The stored version.
    pub version: u64,
    /// The decrypted payload bytes exactly as stored.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The decoded payload.
    pub payload: BackupPayload,
}

impl fmt::Debug for Restored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Restored")
            .field("version", &self.version)
            .field("plaintext_len", &self.plaintext.len())
            .finish_non_exhaustive()
    }
}

/// What `rotate` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotateOutcome {
    /// The version that opens with the new secret.
    pub version: u64,
    /// False when the stored blob already opened with the new secret (a retried rotation).
    pub uploaded: bool,
}

/// What `recover` found.
pub struct Recovered {
    /// The id of the candidate whose key check matched.
    pub matched: String,
    /// The stored version.
    pub version: u64,
    /// The decrypted payload bytes.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The decoded payload.
    pub payload: BackupPayload,
}

impl fmt::Debug for Recovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recovered")
            .field("matched", &self.matched)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A random 16-byte salt from the operating system.
pub fn random_salt() -> Result<[u8; 16], ClientError> {
    let mut s = [0u8; 16];
    getrandom::fill(&mut s).map_err(|e| ClientError::Random(e.to_string()))?;
    Ok(s)
}

/// A random 12-byte GCM nonce from the operating system.
pub fn random_nonce() -> Result<[u8; 12], ClientError> {
    let mut n = [0u8; 12];
    getrandom::fill(&mut n).map_err(|e| ClientError::Random(e.to_string()))?;
    Ok(n)
}

pub(crate) fn random_u32() -> u32 {
    // Jitter only: if the OS source fails, no jitter is still a correct backoff.
    getrandom::u32().unwrap_or(0)
}

/// The reference client. Cheap to share by reference; holds a connection pool.
#[derive(Debug)]
pub struct Client {
    http: Http,
    config: ClientConfig,
    state: Option<StateStore>,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Http")
    }
}

impl Client {
    /// Builds a client; creates the state directory if one is configured.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let state = match &config.state_dir {
            Some(dir) => Some(StateStore::open(dir)?),
            None => None,
        };
        let http = Http::new(config.retry, config.connect_timeout, config.request_timeout)?;
        Ok(Client {
            http,
            config,
            state,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The connection pool and retry policy, shared with the other profiles' API clients.
    pub(crate) fn http(&self) -> &Http {
        &self.http
    }

    /// The last version `server` acknowledged to this client, from the state directory.
    pub fn acknowledged_version(&self, server: &Server) -> Result<Option<u64>, ClientError> {
        match &self.state {
            Some(s) => s.load(server),
            None => Ok(None),
        }
    }

    fn remember(&self, server: &Server, version: u64) -> Result<(), ClientError> {
        match &self.state {
            Some(s) => s.store(server, version),
            None => Ok(()),
        }
    }

    /// A fresh random salt for a seal (a fixed one in the `fixed_salt` broken variant).
    pub fn fresh_salt(&self) -> Result<[u8; 16], ClientError> {
        if self.config.broken.fixed_salt {
            return Ok([0x5a; 16]);
        }
        random_salt()
    }

    /// A fresh random nonce for a seal (a fixed one in the `fixed_nonce` broken variant).
    pub fn fresh_nonce(&self) -> Result<[u8; 12], ClientError> {
        if self.config.broken.fixed_nonce {
            return Ok([0xa5; 12]);
        }
        random_nonce()
    }

    /// Seals `plaintext` with the client's own KDF parameters and a fresh random salt and
    /// nonce.
    pub fn seal(&self, secret: &Secret, plaintext: &[u8]) -> Result<Vec<u8>, ClientError> {
        let salt = self.fresh_salt()?;
        let nonce = self.fresh_nonce()?;
        Ok(backproof_format::seal(
            secret,
            &self.config.kdf,
            &salt,
            &nonce,
            plaintext,
        )?)
    }

    /// Uploads `payload`: replaces the version this client last saw acknowledged, or creates
    /// the first one. On 409 it fetches the stored blob, opens it with `secret`, merges with
    /// `payload` as the merging side (docs/FORMAT.md) and retries, at most
    /// `max_conflict_attempts` uploads. A stored blob that does not open with `secret` ends
    /// the operation with that error and nothing uploaded.
    pub async fn backup(
        &self,
        server: &Server,
        secret: &Secret,
        payload: &BackupPayload,
    ) -> Result<BackupOutcome, ClientError> {
        Http::validate(server)?;
        let mut expected = self.acknowledged_version(server)?;
        // The encoded payload holds the identity's private key: wiped when replaced or dropped.
        let mut upload = Zeroizing::new(payload::encode(payload));
        let mut merges = 0u32;
        let max = self.config.max_conflict_attempts.max(1);
        // One Argon2id derivation per call, not one per attempt: under contention the loop
        // re-seals up to `max` times, and each derivation is the expensive part of a seal
        // (hundreds of ms at the default parameters). Every attempt still gets a fresh
        // random nonce, so no (key, nonce) pair repeats — the only requirement AES-GCM puts
        // on a key used more than once. Sharing the salt across the attempts of one call is
        // fine: a salt is public and exists so that two derivations of one passphrase do not
        // yield one key across blobs stored over time; at most one of these attempts is
        // ever stored, the others were refused by the server, and the next call draws a new
        // salt. The header (salt, parameters, key check) is the same in every attempt.
        let key = SealingKey::derive(secret, &self.config.kdf, &self.fresh_salt()?)?;
        for attempt in 1..=max {
            let blob = key.seal(&self.fresh_nonce()?, &upload)?;
            match self.http.post(server, &blob, expected).await? {
                PostResult::Stored(version) => {
                    self.remember(server, version)?;
                    return Ok(BackupOutcome { version, merges });
                }
                PostResult::Conflict if attempt == max => break,
                PostResult::Conflict => match self.http.get(server).await? {
                    Some((stored_blob, version)) => {
                        let stored = backproof_format::open_payload(
                            secret,
                            &stored_blob,
                            &self.config.policy,
                        )?;
                        let merged = payload::merge(payload, &stored)?;
                        upload = Zeroizing::new(payload::encode(&merged));
                        expected = Some(version);
                        merges += 1;
                        tracing::debug!(version, merges, "merged with the stored backup");
                    }
                    None => {
                        // Deleted between our POST and GET: create again, unmerged.
                        expected = None;
                        upload = Zeroizing::new(payload::encode(payload));
                    }
                },
            }
        }
        Err(ClientError::ConflictRetriesExhausted { attempts: max })
    }

    async fn fetch(&self, server: &Server) -> Result<(Vec<u8>, u64), ClientError> {
        Http::validate(server)?;
        self.http
            .get(server)
            .await?
            .ok_or_else(|| ClientError::Status {
                class: ErrorClass::NotFound,
                status: 404,
                method: "GET".into(),
                url: format!("{}/v1/backup", server.url.trim_end_matches('/')),
                detail: "this user has no backup on the server".into(),
            })
    }

    /// Downloads and opens the current backup.
    pub async fn restore(&self, server: &Server, secret: &Secret) -> Result<Restored, ClientError> {
        let (blob, version) = self.fetch(server).await?;
        let plaintext = backproof_format::open(secret, &blob, &self.config.policy)?;
        let payload = payload::decode(&plaintext)?;
        Ok(Restored {
            version,
            plaintext,
            payload,
        })
    }

    /// Re-encrypts the current backup from `old` to `new` (the client's own KDF parameters,
    /// fresh salt and nonce), replacing exactly the version it read. Idempotent: if the stored
    /// blob already passes the key check of `new` (a rotation whose answer was lost), it
    /// succeeds without uploading. A concurrent write (409) restarts from the GET.
    pub async fn rotate(
        &self,
        server: &Server,
        old: &Secret,
        new: &Secret,
    ) -> Result<RotateOutcome, ClientError> {
        let max = self.config.max_conflict_attempts.max(1);
        for _ in 0..max {
            let (blob, version) = self.fetch(server).await?;
            let header = backproof_format::parse_header(&blob)?;
            let check = if self.config.broken.rotate_not_idempotent {
                Err(backproof_format::Error::WrongKey)
            } else {
                backproof_format::check_key(&header, new, &self.config.policy)
            };
            match check {
                Ok(()) => {
                    // Already rotated; opening fully proves the blob is intact too.
                    backproof_format::open(new, &blob, &self.config.policy)?;
                    self.remember(server, version)?;
                    return Ok(RotateOutcome {
                        version,
                        uploaded: false,
                    });
                }
                Err(e) if e.class() == ErrorClass::WrongKey => {}
                Err(e) => return Err(e.into()),
            }
            let plaintext = backproof_format::open(old, &blob, &self.config.policy)?;
            let sealed = self.seal(new, &plaintext)?;
            match self.http.post(server, &sealed, Some(version)).await? {
                PostResult::Stored(v) => {
                    self.remember(server, v)?;
                    return Ok(RotateOutcome {
                        version: v,
                        uploaded: true,
                    });
                }
                PostResult::Conflict => {
                    tracing::debug!(
                        version,
                        "rotation lost against a concurrent write; retrying"
                    );
                }
            }
        }
        Err(ClientError::ConflictRetriesExhausted { attempts: max })
    }

    /// Smart recovery: tries every candidate against the stored blob's key check (no
    /// decryption until one matches) and opens it with the first that does. None matching
    /// → `wrong_key` listing the ids tried, in order.
    pub async fn recover(
        &self,
        server: &Server,
        candidates: &[Candidate],
    ) -> Result<Recovered, ClientError> {
        let (blob, version) = self.fetch(server).await?;
        let header = backproof_format::parse_header(&blob)?;
        let mut tried = Vec::with_capacity(candidates.len());
        for c in candidates {
            tried.push(c.id.clone());
            match backproof_format::check_key(&header, &c.secret, &self.config.policy) {
                Ok(()) => {
                    let plaintext = backproof_format::open(&c.secret, &blob, &self.config.policy)?;
                    let payload = payload::decode(&plaintext)?;
                    return Ok(Recovered {
                        matched: c.id.clone(),
                        version,
                        plaintext,
                        payload,
                    });
                }
                Err(e) if e.class() == ErrorClass::WrongKey => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(ClientError::NoCandidateMatched { tried })
    }

    /// Deletes the backup and forgets its version. A missing backup is `not_found`.
    pub async fn delete(&self, server: &Server) -> Result<(), ClientError> {
        Http::validate(server)?;
        let existed = self.http.delete(server).await?;
        if let Some(s) = &self.state {
            s.clear(server)?;
        }
        if existed {
            Ok(())
        } else {
            Err(ClientError::Status {
                class: ErrorClass::NotFound,
                status: 404,
                method: "DELETE".into(),
                url: format!("{}/v1/backup", server.url.trim_end_matches('/')),
                detail: "this user has no backup on the server".into(),
            })
        }
    }
}
