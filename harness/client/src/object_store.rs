//! The `object-store` store of profile `byok-json-v1` (docs/profiles/byok-json-v1.md §6):
//! the client writes S3 objects itself, with plain PUTs and no precondition, and rotates a
//! passphrase through a temporary object in the design's order.

use std::fmt;

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use backproof_format::ErrorClass;
use backproof_format::profiles::byok_json_v1::{self as byok, Kdf, SealParams};
use zeroize::Zeroizing;

/// Where the backup objects live, and the credentials to write them.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `http(s)://host:port`, addressed path-style.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// Put verbatim in front of `users/…`; empty by default.
    pub prefix: String,
    /// The design's authenticated user id.
    pub user: String,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credentials never reach logs.
        f.debug_struct("StoreConfig")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &"<redacted>")
            .field("secret_key", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("user", &self.user)
            .finish()
    }
}

/// Everything an object-store operation can fail with; each maps onto one class.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The blob or the inputs were refused by the codec.
    #[error(transparent)]
    Codec(#[from] byok::Error),
    /// A `metamask-vault` vault or its inputs were refused by that profile's codec.
    #[error(transparent)]
    Vault(#[from] backproof_format::profiles::metamask_vault::Error),
    #[error("no backup at {key}; if a passphrase rotation was interrupted, run recover")]
    NotFound { key: String },
    #[error(
        "the rotated backup at {key} does not open with the new passphrase ({source}); it was deleted and the original backup left in place"
    )]
    VerificationFailed { key: String, source: byok::Error },
    #[error("none of the {} candidates opens the backup or its temporary copy (tried, in order: {})", tried.len(), tried.join(", "))]
    NoCandidateMatched { tried: Vec<String> },
    #[error(
        "the object store refused the credentials ({op} {key}: HTTP {status}); check the access key and the bucket policy"
    )]
    Unauthorized {
        op: &'static str,
        key: String,
        status: u16,
    },
    #[error("the object store failed ({op} {key}: {detail}); try again later")]
    Server {
        op: &'static str,
        key: String,
        detail: String,
    },
    #[error(
        "could not reach the object store ({op} {key}: {detail}); check the endpoint and the network"
    )]
    Network {
        op: &'static str,
        key: String,
        detail: String,
    },
    #[error("invalid store {what}: {detail}")]
    InvalidConfig { what: &'static str, detail: String },
    #[error("the OS random source failed: {0}")]
    Random(String),
}

impl StoreError {
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Codec(e) => e.class(),
            StoreError::Vault(e) => e.class(),
            StoreError::NotFound { .. } => ErrorClass::NotFound,
            StoreError::VerificationFailed { .. } => ErrorClass::Corrupted,
            StoreError::NoCandidateMatched { .. } => ErrorClass::WrongKey,
            StoreError::Unauthorized { .. } => ErrorClass::Unauthorized,
            StoreError::Server { .. } => ErrorClass::ServerError,
            StoreError::Network { .. } | StoreError::Random(_) => ErrorClass::Network,
            StoreError::InvalidConfig { .. } => ErrorClass::Malformed,
        }
    }
}

/// A restored backup.
pub struct StoredBackup {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub created_at: String,
    pub updated_at: String,
}

impl fmt::Debug for StoredBackup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredBackup")
            .field(
                "plaintext",
                &format_args!("<{} bytes>", self.plaintext.len()),
            )
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// Which object a recovery opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Final,
    Temp,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Final => "final",
            Source::Temp => "temp",
        }
    }
}

/// The result of `recover`.
#[derive(Debug)]
pub struct RecoveredBackup {
    /// The id of the first candidate that opened it.
    pub matched: String,
    pub source: Source,
    pub backup: StoredBackup,
}

/// The rotation's steps, in the design's order (docs/profiles/byok-json-v1.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RotateStep {
    OpenWithOld,
    UploadTemp,
    VerifyTemp,
    DeleteFinal,
    UploadFinal,
    DeleteTemp,
}

/// Deliberately broken behaviours of this client, all off by default: only for proving
/// that the suite catches them (docs/ADAPTER.md, "Broken variants of the reference
/// adapter"). A client that ships any of them loses backups or writes blobs no correct
/// reader opens.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByokBroken {
    /// Rotation deletes the final object before it has read the temporary object back and
    /// verified it: a failed verification then deletes the only copy left.
    pub delete_final_before_verify: bool,
    /// Rotation never uses the temporary path: delete final, upload final. A crash between
    /// the two leaves no backup at all.
    pub skip_temp: bool,
    /// Argon2id `memory` is written (and read) in MiB instead of KiB: `64` for 64 MiB. The
    /// client opens its own blobs; a correct reader refuses them (below the memory floor)
    /// and this client refuses correct ones (above the ceiling).
    pub memory_mib: bool,
}

impl ByokBroken {
    /// Seal as this writer does; with `memory_mib`, derive with whole MiB and write the
    /// count of MiB into `memory`.
    pub fn seal(
        &self,
        passphrase: &str,
        plaintext: &[u8],
        params: &SealParams<'_>,
    ) -> Result<Vec<u8>, byok::Error> {
        match params.kdf {
            Kdf::Argon2id(p) if self.memory_mib => {
                let mib = p.m_cost / 1024;
                let in_kib = SealParams {
                    kdf: Kdf::Argon2id(backproof_format::KdfParams {
                        m_cost: mib * 1024,
                        ..p
                    }),
                    ..params.clone()
                };
                let blob = byok::seal(passphrase, plaintext, &in_kib)?;
                Ok(rewrite_memory(&blob, |_| u64::from(mib)).unwrap_or(blob))
            }
            _ => byok::seal(passphrase, plaintext, params),
        }
    }

    /// Open as this reader does; with `memory_mib`, `memory` is read as MiB.
    pub fn open(&self, passphrase: &str, blob: &[u8]) -> Result<byok::Opened, byok::Error> {
        if self.memory_mib
            && let Some(read_as_mib) = rewrite_memory(blob, |m| m.saturating_mul(1024))
        {
            return byok::open(passphrase, &read_as_mib);
        }
        byok::open(passphrase, blob)
    }
}

/// The blob with its Argon2id `memory` replaced by `f(memory)`; `None` when the blob has
/// no such member (the codec then reports what is wrong with it).
fn rewrite_memory(blob: &[u8], f: impl Fn(u64) -> u64) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(blob).ok()?;
    let kdf = value.get_mut("kdf")?.as_object_mut()?;
    if kdf.get("algorithm")?.as_str()? != byok::ARGON2ID {
        return None;
    }
    let memory = kdf.get("memory")?.as_u64()?;
    kdf.insert("memory".to_owned(), f(memory).into());
    serde_json::to_vec(&value).ok()
}

/// A BYOK JSON client writing one user's objects.
#[derive(Debug, Clone)]
pub struct ObjectStore {
    s3: aws_sdk_s3::Client,
    bucket: String,
    final_key: String,
    temp_key: String,
    broken: ByokBroken,
}

impl ObjectStore {
    pub fn new(config: &StoreConfig) -> Result<ObjectStore, StoreError> {
        let invalid = |what, detail: &str| StoreError::InvalidConfig {
            what,
            detail: detail.to_owned(),
        };
        if !(config.endpoint.starts_with("http://") || config.endpoint.starts_with("https://")) {
            return Err(invalid(
                "endpoint",
                "expected http://host:port or https://host:port",
            ));
        }
        for (what, value) in [
            ("bucket", &config.bucket),
            ("region", &config.region),
            ("access_key", &config.access_key),
            ("secret_key", &config.secret_key),
            ("user", &config.user),
        ] {
            if value.is_empty() {
                return Err(invalid(what, "must not be empty"));
            }
        }
        if config.user.contains('/') {
            return Err(invalid("user", "must not contain '/'"));
        }
        let endpoint = backproof_s3::Endpoint {
            url: &config.endpoint,
            region: &config.region,
            access_key: &config.access_key,
            secret_key: &config.secret_key,
        };
        let base = format!("{}users/{}/", config.prefix, config.user);
        Ok(ObjectStore {
            s3: backproof_s3::client(endpoint, "backproof-object-store"),
            bucket: config.bucket.clone(),
            final_key: format!("{base}api_key_backup.json"),
            temp_key: format!("{base}api_key_backup_temp.json"),
            broken: ByokBroken::default(),
        })
    }

    /// This client with deliberate defects (tests of the suite only).
    #[doc(hidden)]
    pub fn with_broken(mut self, broken: ByokBroken) -> ObjectStore {
        self.broken = broken;
        self
    }

    pub fn final_key(&self) -> &str {
        &self.final_key
    }

    pub fn temp_key(&self) -> &str {
        &self.temp_key
    }

    /// Seal `plaintext` and PUT it to the final path, keeping the stored backup's
    /// `created_at` when there is one (and refusing to replace a backup this passphrase
    /// does not open).
    pub async fn backup(
        &self,
        passphrase: &str,
        plaintext: &[u8],
        kdf: &Kdf,
        now: &str,
    ) -> Result<(), StoreError> {
        let created_at = match self.get(&self.final_key).await? {
            Some(blob) => self.broken.open(passphrase, &blob)?.envelope.created_at,
            None => now.to_owned(),
        };
        let blob = self.seal_fresh(passphrase, plaintext, kdf, &created_at, now)?;
        self.put(&self.final_key, blob).await
    }

    /// GET and open the final object; no final object is `not_found`, whatever the
    /// temporary path holds.
    pub async fn restore(&self, passphrase: &str) -> Result<StoredBackup, StoreError> {
        let blob = self.get_required(&self.final_key).await?;
        Ok(stored(self.broken.open(passphrase, &blob)?))
    }

    /// Delete the final object (and a leftover temporary one).
    pub async fn delete(&self) -> Result<(), StoreError> {
        if !self.exists(&self.final_key).await? {
            return Err(StoreError::NotFound {
                key: self.final_key.clone(),
            });
        }
        self.delete_key(&self.final_key).await?;
        self.delete_key(&self.temp_key).await
    }

    /// Re-encrypt from `old` to `new` through the temporary object.
    pub async fn rotate(
        &self,
        old: &str,
        new: &str,
        kdf: &Kdf,
        now: &str,
    ) -> Result<(), StoreError> {
        self.rotate_until(old, new, kdf, now, None).await
    }

    /// [`ObjectStore::rotate`], stopping silently after `stop_after`: how the tests leave
    /// the store exactly as a crash at that point would.
    pub async fn rotate_until(
        &self,
        old: &str,
        new: &str,
        kdf: &Kdf,
        now: &str,
        stop_after: Option<RotateStep>,
    ) -> Result<(), StoreError> {
        let stop = |step| stop_after == Some(step);
        let blob = self.get_required(&self.final_key).await?;
        let opened = self.broken.open(old, &blob)?;
        if stop(RotateStep::OpenWithOld) {
            return Ok(());
        }
        let rotated = self.seal_fresh(
            new,
            &opened.plaintext,
            kdf,
            &opened.envelope.created_at,
            now,
        )?;
        if self.broken.skip_temp {
            // Broken variant: the design's steps 4 and 5 without the temporary copy.
            self.delete_key(&self.final_key).await?;
            if stop(RotateStep::DeleteFinal) {
                return Ok(());
            }
            return self.put(&self.final_key, rotated).await;
        }
        self.put(&self.temp_key, rotated.clone()).await?;
        if stop(RotateStep::UploadTemp) {
            return Ok(());
        }
        if self.broken.delete_final_before_verify {
            self.delete_key(&self.final_key).await?;
            if stop(RotateStep::DeleteFinal) {
                return Ok(());
            }
        }
        self.verify_temp(new).await?;
        if stop(RotateStep::VerifyTemp) {
            return Ok(());
        }
        if !self.broken.delete_final_before_verify {
            self.delete_key(&self.final_key).await?;
            if stop(RotateStep::DeleteFinal) {
                return Ok(());
            }
        }
        self.put(&self.final_key, rotated).await?;
        if stop(RotateStep::UploadFinal) {
            return Ok(());
        }
        self.delete_key(&self.temp_key).await
    }

    /// Rotation step 3: read the temporary object back and open it with `new`; on failure
    /// delete it and fail with `corrupted`.
    async fn verify_temp(&self, new: &str) -> Result<(), StoreError> {
        let verified = match self.get(&self.temp_key).await? {
            Some(read_back) => self.broken.open(new, &read_back).map(|_| ()),
            None => Err(byok::Error::Corrupted(
                "the temporary object vanished after upload".to_owned(),
            )),
        };
        if let Err(source) = verified {
            self.delete_key(&self.temp_key).await?;
            return Err(StoreError::VerificationFailed {
                key: self.temp_key.clone(),
                source,
            });
        }
        Ok(())
    }

    /// Try each candidate in order on the final object, then on the temporary object.
    /// After a match on the temporary object while no final object exists (a rotation cut
    /// between "delete final" and "upload final"), finish that rotation: write the
    /// temporary object to the final path and delete it.
    pub async fn recover(
        &self,
        candidates: &[(String, Zeroizing<String>)],
    ) -> Result<RecoveredBackup, StoreError> {
        let final_blob = self.get(&self.final_key).await?;
        let temp_blob = self.get(&self.temp_key).await?;
        if final_blob.is_none() && temp_blob.is_none() {
            return Err(StoreError::NotFound {
                key: self.final_key.clone(),
            });
        }
        let mut tried = Vec::new();
        for (source, blob) in [(Source::Final, &final_blob), (Source::Temp, &temp_blob)] {
            let Some(blob) = blob else { continue };
            for (id, passphrase) in candidates {
                if !tried.contains(id) {
                    tried.push(id.clone());
                }
                match self.broken.open(passphrase, blob) {
                    Ok(opened) => {
                        if source == Source::Temp && final_blob.is_none() {
                            self.put(&self.final_key, blob.clone()).await?;
                            self.delete_key(&self.temp_key).await?;
                        }
                        return Ok(RecoveredBackup {
                            matched: id.clone(),
                            source,
                            backup: stored(opened),
                        });
                    }
                    // No key check: a tag failure may be either; try the next candidate.
                    Err(byok::Error::WrongKey) => {}
                    Err(other) => return Err(other.into()),
                }
            }
        }
        Err(StoreError::NoCandidateMatched { tried })
    }

    pub(crate) async fn get_required(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.get(key).await?.ok_or_else(|| StoreError::NotFound {
            key: key.to_owned(),
        })
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match out {
            Ok(out) => {
                let body = out.body.collect().await.map_err(|e| StoreError::Network {
                    op: "GET",
                    key: key.to_owned(),
                    detail: e.to_string(),
                })?;
                Ok(Some(body.into_bytes().to_vec()))
            }
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(sdk_error("GET", key, e)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(sdk_error("HEAD", key, e)),
        }
    }

    pub(crate) async fn put(&self, key: &str, blob: Vec<u8>) -> Result<(), StoreError> {
        // A plain PUT: the design's putString has no precondition (advisory
        // last-writer-wins).
        self.put_as(key, blob, "application/json").await
    }

    pub(crate) async fn put_as(
        &self,
        key: &str,
        blob: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(blob))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("PUT", key, e))
    }

    pub(crate) async fn exists_key(&self, key: &str) -> Result<bool, StoreError> {
        self.exists(key).await
    }

    /// Every key under `prefix`, all pages.
    pub(crate) async fn list_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("LIST", prefix, e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// GET `key` streamed into a new file at `path` (bounded memory, whatever its size);
    /// none stored is `not_found`.
    pub(crate) async fn get_to_file(
        &self,
        key: &str,
        path: &std::path::Path,
    ) -> Result<u64, StoreError> {
        let out = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if status(&e) == Some(404) => {
                return Err(StoreError::NotFound {
                    key: key.to_owned(),
                });
            }
            Err(e) => return Err(sdk_error("GET", key, e)),
        };
        let io = |detail: String| StoreError::Network {
            op: "GET",
            key: key.to_owned(),
            detail,
        };
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(|e| io(format!("{}: {e}", path.display())))?;
        let mut body = out.body.into_async_read();
        let n = tokio::io::copy(&mut body, &mut file)
            .await
            .map_err(|e| io(e.to_string()))?;
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(|e| io(e.to_string()))?;
        Ok(n)
    }

    pub(crate) async fn delete_key(&self, key: &str) -> Result<(), StoreError> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DELETE", key, e))
    }
}

fn stored(opened: byok::Opened) -> StoredBackup {
    StoredBackup {
        plaintext: opened.plaintext,
        created_at: opened.envelope.created_at,
        updated_at: opened.envelope.updated_at,
    }
}

impl ObjectStore {
    /// Seal with a fresh salt (16 bytes, the design's length) and nonce.
    fn seal_fresh(
        &self,
        passphrase: &str,
        plaintext: &[u8],
        kdf: &Kdf,
        created_at: &str,
        updated_at: &str,
    ) -> Result<Vec<u8>, StoreError> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; byok::NONCE_LEN];
        getrandom::fill(&mut salt).map_err(|e| StoreError::Random(e.to_string()))?;
        getrandom::fill(&mut nonce).map_err(|e| StoreError::Random(e.to_string()))?;
        Ok(self.broken.seal(
            passphrase,
            plaintext,
            &SealParams {
                kdf: *kdf,
                salt: &salt,
                nonce,
                created_at,
                updated_at,
            },
        )?)
    }
}

/// The current time as the design writes it: UTC, milliseconds, `Z`.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

type HttpResponse = aws_sdk_s3::config::http::HttpResponse;

fn status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

fn sdk_error<E: std::error::Error + Send + Sync + 'static>(
    op: &'static str,
    key: &str,
    e: SdkError<E, HttpResponse>,
) -> StoreError {
    let key = key.to_owned();
    match status(&e) {
        Some(code @ (401 | 403)) => StoreError::Unauthorized {
            op,
            key,
            status: code,
        },
        Some(code) => StoreError::Server {
            op,
            key,
            detail: format!(
                "HTTP {code}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ),
        },
        None => StoreError::Network {
            op,
            key,
            detail: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
        },
    }
}
