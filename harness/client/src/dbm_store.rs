//! Profile `dbm-stream-v1`'s client (docs/profiles/dbm-stream-v1.md §8): the device's
//! master keys, and the `artifact+sidecar` store on S3.
//!
//! A backup is written under a fresh name, artifact first, then its sidecar; a restore
//! takes the newest artifact that has a sidecar. So a crash between the two writes leaves
//! an artifact without a sidecar, which a restore skips: the previous backup still
//! restores. Writing the new artifact over the old one's name would pair the new
//! artifact with the old sidecar until the new sidecar lands.

use std::io::{BufWriter, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use backproof_format::ErrorClass;
use backproof_format::profiles::dbm_stream_v1::{self as dbm, Compression, KEY_LEN};
use zeroize::Zeroizing;

use crate::object_store::{ObjectStore, StoreConfig, StoreError};

/// The file in the state directory that holds the device's master keys.
pub const KEYS_FILE: &str = "dbm-keys.json";
/// The artifact's suffix; the sidecar is the artifact's name + [`SIDECAR_SUFFIX`].
pub const ARTIFACT_SUFFIX: &str = ".enc";
pub const SIDECAR_SUFFIX: &str = ".meta.json";
/// The name every backup gets in the broken variant that overwrites in place.
const FIXED_NAME: &str = "backup";

/// Everything the keyring and the store can fail with; each maps onto one class.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbmError {
    #[error(transparent)]
    Codec(#[from] dbm::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no local master key has id {0:?}; import the key (64 hex digits) first")]
    UnknownKey(String),
    #[error(
        "no complete backup under {prefix} (an artifact needs its sidecar; artifacts without one: {})",
        if orphans.is_empty() { "none".to_owned() } else { orphans.join(", ") }
    )]
    NoBackup {
        prefix: String,
        orphans: Vec<String>,
    },
    #[error("backup {name:?}: its sidecar {key} is missing, so no key can be tried against it")]
    MissingSidecar { name: String, key: String },
    #[error("{}: {source}", path.display())]
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the key file {} is damaged: {detail}", path.display())]
    KeyFile { path: PathBuf, detail: String },
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
    #[error("the OS random source failed: {0}")]
    Random(String),
}

impl DbmError {
    pub fn class(&self) -> ErrorClass {
        match self {
            DbmError::Codec(e) => e.class(),
            DbmError::Store(e) => e.class(),
            DbmError::UnknownKey(_)
            | DbmError::NoBackup { .. }
            | DbmError::MissingSidecar { .. } => ErrorClass::NotFound,
            // The list has no class for the device's own disk (docs/ADAPTER.md §5).
            DbmError::Local { .. } | DbmError::KeyFile { .. } | DbmError::Random(_) => {
                ErrorClass::Network
            }
            DbmError::Invalid { .. } => ErrorClass::Malformed,
        }
    }
}

fn local(path: &Path) -> impl FnOnce(std::io::Error) -> DbmError + '_ {
    move |source| DbmError::Local {
        path: path.to_owned(),
        source,
    }
}

fn random<const N: usize>() -> Result<[u8; N], DbmError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| DbmError::Random(e.to_string()))?;
    Ok(b)
}

/// A new profile id: a random UUID, as the design gives each key profile.
fn new_id() -> Result<String, DbmError> {
    Ok(uuid::Builder::from_random_bytes(random()?)
        .into_uuid()
        .to_string())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct KeyEntry {
    id: String,
    /// 64 lower-case hex digits, as export prints them.
    key: String,
}

/// One local master key.
pub struct LocalKey {
    pub id: String,
    pub key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key bytes never reach logs.
        f.debug_struct("LocalKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The device's master keys, in the order they were created or imported: the order smart
/// recovery tries them in. Kept in [`KEYS_FILE`] of the state directory (rewritten whole
/// through a synced temporary file and a rename, so a crash leaves the old list or the new
/// one), or in memory for the process's life without one.
pub struct Keyring {
    path: Option<PathBuf>,
    keys: Mutex<Vec<LocalKey>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Loads the keys of `state_dir`, if any.
    pub fn open(state_dir: Option<&Path>) -> Result<Keyring, DbmError> {
        let path = state_dir.map(|d| d.join(KEYS_FILE));
        let mut keys = Vec::new();
        if let Some(p) = &path
            && p.exists()
        {
            let text = Zeroizing::new(std::fs::read(p).map_err(local(p))?);
            let damaged = |detail: String| DbmError::KeyFile {
                path: p.clone(),
                detail,
            };
            let entries: Vec<KeyEntry> =
                serde_json::from_slice(&text).map_err(|e| damaged(e.to_string()))?;
            for e in entries {
                let key = dbm::import_key(&e.key).map_err(|err| damaged(err.to_string()))?;
                keys.push(LocalKey { id: e.id, key });
            }
        }
        Ok(Keyring {
            path,
            keys: Mutex::new(keys),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<LocalKey>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, keys: &[LocalKey]) -> Result<(), DbmError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let entries: Vec<KeyEntry> = keys
            .iter()
            .map(|k| KeyEntry {
                id: k.id.clone(),
                key: dbm::export_key(&k.key).to_string(),
            })
            .collect();
        let text =
            Zeroizing::new(
                serde_json::to_vec_pretty(&entries).map_err(|e| DbmError::KeyFile {
                    path: path.clone(),
                    detail: e.to_string(),
                })?,
            );
        let tmp = path.with_extension("json.tmp");
        // Written, synced, then renamed (docs/ADAPTER.md §7): a kill leaves the old list or
        // the new one, never half of one.
        let mut file = std::fs::File::create(&tmp).map_err(local(&tmp))?;
        std::io::Write::write_all(&mut file, &text).map_err(local(&tmp))?;
        file.sync_all().map_err(local(&tmp))?;
        std::fs::rename(&tmp, path).map_err(local(path))
    }

    fn add(&self, key: Zeroizing<[u8; KEY_LEN]>) -> Result<String, DbmError> {
        let mut keys = self.lock();
        let id = new_id()?;
        keys.push(LocalKey {
            id: id.clone(),
            key,
        });
        if let Err(e) = self.save(&keys) {
            keys.pop();
            return Err(e);
        }
        Ok(id)
    }

    /// Import the pasted text (exactly 64 hex digits, either case) under a **new** id,
    /// even when the same key is already here: an import is a new profile.
    pub fn import(&self, input: &str) -> Result<(String, Zeroizing<[u8; KEY_LEN]>), DbmError> {
        let key = dbm::import_key(input)?;
        let id = self.add(key.clone())?;
        Ok((id, key))
    }

    /// A fresh random master key under a new id.
    pub fn generate(&self) -> Result<String, DbmError> {
        self.add(Zeroizing::new(random()?))
    }

    /// The id of a local key with these bytes, importing them under a new id when there is
    /// none.
    pub fn ensure(&self, key: &[u8; KEY_LEN]) -> Result<String, DbmError> {
        if let Some(k) = self.lock().iter().find(|k| *k.key == *key) {
            return Ok(k.id.clone());
        }
        self.add(Zeroizing::new(*key))
    }

    /// The device's first key, generated when it has none.
    pub fn default_key(&self) -> Result<String, DbmError> {
        if let Some(k) = self.lock().first() {
            return Ok(k.id.clone());
        }
        self.generate()
    }

    /// The key with `id`, exported (64 lower-case hex digits).
    pub fn export(&self, id: &str) -> Result<Zeroizing<String>, DbmError> {
        self.lock()
            .iter()
            .find(|k| k.id == id)
            .map(|k| dbm::export_key(&k.key))
            .ok_or_else(|| DbmError::UnknownKey(id.to_owned()))
    }

    fn get(&self, id: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, DbmError> {
        self.lock()
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.key.clone())
            .ok_or_else(|| DbmError::UnknownKey(id.to_owned()))
    }

    /// Every key, in order.
    pub fn all(&self) -> Vec<(String, Zeroizing<[u8; KEY_LEN]>)> {
        self.lock()
            .iter()
            .map(|k| (k.id.clone(), k.key.clone()))
            .collect()
    }
}

/// Deliberately broken behaviours of this client, off by default: only for proving that
/// the suite catches them (docs/ADAPTER.md, "Broken variants of the reference adapter").
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbmStoreBroken {
    /// Every backup is written under one name, its artifact over the previous one: a
    /// crash between the artifact and the sidecar pairs the new artifact with the old
    /// sidecar, and no backup restores.
    pub overwrite_in_place: bool,
    /// Smart recovery takes the first key whose unauthenticated first bytes pass the
    /// design's heuristic.
    pub heuristic_recovery: bool,
    /// A restore decrypts the whole artifact into the output path before the tag is
    /// checked, as a GCM decipher piped into the database CLI does.
    pub plaintext_before_tag: bool,
    /// Backups append the tag to the artifact (and restores strip it again): the client
    /// reads its own backups, no conforming reader does.
    pub append_tag: bool,
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The backup's name: the artifact is `<name>.enc`.
    pub name: String,
    /// The id of the key it was sealed with (the sidecar's `profileId`).
    pub key_id: String,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredDump {
    pub name: String,
    /// The local key whose tag verified.
    pub matched: String,
    /// `true` when the sidecar's `profileId` named no local key (smart recovery).
    pub searched: bool,
    /// Keys tried before the match that passed the design's heuristic but failed the tag.
    pub decoys: Vec<String>,
    /// Newer artifacts passed over because they have no sidecar (a cut backup).
    pub skipped: Vec<String>,
    /// Bytes of the dump written to the output path.
    pub bytes: u64,
}

/// The `artifact+sidecar` store of one user: objects `{prefix}users/<user>/<name>.enc`
/// and `<name>.enc.meta.json`.
#[derive(Debug, Clone)]
pub struct DbmStore {
    s3: ObjectStore,
    base: String,
    broken: DbmStoreBroken,
}

impl DbmStore {
    /// Checks the store the way [`ObjectStore::new`] does (same rules, same errors).
    pub fn new(config: &StoreConfig) -> Result<DbmStore, StoreError> {
        Ok(DbmStore {
            s3: ObjectStore::new(config)?,
            base: format!("{}users/{}/", config.prefix, config.user),
            broken: DbmStoreBroken::default(),
        })
    }

    /// This client with deliberate defects (tests of the suite only).
    #[doc(hidden)]
    pub fn with_broken(mut self, broken: DbmStoreBroken) -> DbmStore {
        self.broken = broken;
        self
    }

    pub fn artifact_key(&self, name: &str) -> String {
        format!("{}{name}{ARTIFACT_SUFFIX}", self.base)
    }

    pub fn sidecar_key(&self, name: &str) -> String {
        format!("{}{name}{ARTIFACT_SUFFIX}{SIDECAR_SUFFIX}", self.base)
    }

    /// Seals `dump` under the local key `key_id` and writes the artifact, then the
    /// sidecar, under a fresh name that sorts after every earlier one. `iv` is drawn fresh
    /// unless given (tests pin it to reach a known decoy).
    pub async fn backup(
        &self,
        keys: &Keyring,
        key_id: &str,
        iv: Option<&[u8]>,
        compression: Compression,
        dump: &[u8],
    ) -> Result<Written, DbmError> {
        let key = keys.get(key_id)?;
        let iv = match iv {
            Some(iv) => iv.to_vec(),
            None => random::<12>()?.to_vec(),
        };
        let mut artifact = Vec::new();
        let sidecar = dbm::seal(&key, &iv, compression, key_id, None, dump, &mut artifact)?;
        if self.broken.append_tag {
            artifact.extend_from_slice(&sidecar.auth_tag);
        }
        let name = if self.broken.overwrite_in_place {
            FIXED_NAME.to_owned()
        } else {
            // Nanoseconds, then randomness: names sort by time, and two devices never pick
            // one name.
            format!(
                "backup-{}-{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.9fZ"),
                hex::encode(random::<4>()?)
            )
        };
        self.s3
            .put_as(
                &self.artifact_key(&name),
                artifact,
                "application/octet-stream",
            )
            .await?;
        self.s3
            .put_as(
                &self.sidecar_key(&name),
                sidecar.to_json().to_string().into_bytes(),
                "application/json",
            )
            .await?;
        Ok(Written {
            name,
            key_id: key_id.to_owned(),
        })
    }

    /// The newest backup that has both objects (or `name`), and the newer artifacts
    /// without a sidecar that were passed over.
    async fn pick(&self, name: Option<&str>) -> Result<(String, Vec<String>), DbmError> {
        if let Some(n) = name {
            if n.is_empty() || n.contains('/') {
                return Err(DbmError::Invalid {
                    what: "name",
                    detail: format!("{n:?} is not a backup name"),
                });
            }
            if !self.s3.exists_key(&self.sidecar_key(n)).await? {
                return Err(DbmError::MissingSidecar {
                    name: n.to_owned(),
                    key: self.sidecar_key(n),
                });
            }
            return Ok((n.to_owned(), Vec::new()));
        }
        let listed = self.s3.list_prefix(&self.base).await?;
        let mut names: Vec<&str> = listed
            .iter()
            .filter_map(|k| k.strip_prefix(&self.base)?.strip_suffix(ARTIFACT_SUFFIX))
            .filter(|n| !n.contains('/'))
            .collect();
        names.sort_unstable();
        let mut skipped = Vec::new();
        for n in names.into_iter().rev() {
            if listed.contains(&self.sidecar_key(n)) {
                return Ok((n.to_owned(), skipped));
            }
            skipped.push(n.to_owned());
        }
        Err(DbmError::NoBackup {
            prefix: self.base.clone(),
            orphans: skipped,
        })
    }

    /// Restores the newest complete backup (or `name`) to `output`: downloads the artifact
    /// beside it, finds the key (the sidecar's `profileId`, else smart recovery over every
    /// local key: a key matches only when the whole tag verifies), opens in two passes into
    /// a temporary file and renames that to `output` only after `ok`. After any error
    /// `output` does not exist.
    pub async fn restore(
        &self,
        keys: &Keyring,
        name: Option<&str>,
        output: &Path,
        max_output: u64,
    ) -> Result<RestoredDump, DbmError> {
        let file_name = output
            .file_name()
            .ok_or_else(|| DbmError::Invalid {
                what: "output",
                detail: format!("{} names no file", output.display()),
            })?
            .to_string_lossy()
            .into_owned();
        let (name, skipped) = self.pick(name).await?;
        let sidecar_bytes = self.s3.get_required(&self.sidecar_key(&name)).await?;
        let sidecar = dbm::parse_sidecar(&sidecar_bytes)?;
        let fetched = output.with_file_name(format!(".{file_name}.artifact"));
        let result = async {
            self.s3
                .get_to_file(&self.artifact_key(&name), &fetched)
                .await?;
            self.open_fetched(keys, &sidecar, &fetched, output, &file_name, max_output)
        }
        .await;
        let _ = std::fs::remove_file(&fetched);
        let (matched, searched, decoys, bytes) = result?;
        Ok(RestoredDump {
            name,
            matched,
            searched,
            decoys,
            skipped,
            bytes,
        })
    }

    fn open_fetched(
        &self,
        keys: &Keyring,
        sidecar: &dbm::Sidecar,
        fetched: &Path,
        output: &Path,
        file_name: &str,
        max_output: u64,
    ) -> Result<(String, bool, Vec<String>, u64), DbmError> {
        if self.broken.append_tag {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(fetched)
                .map_err(local(fetched))?;
            let len = file.metadata().map_err(local(fetched))?.len();
            file.set_len(len.saturating_sub(dbm::TAG_LEN as u64))
                .map_err(local(fetched))?;
        }
        let all = keys.all();
        let refs: Vec<(&str, &[u8; KEY_LEN])> =
            all.iter().map(|(id, k)| (id.as_str(), &**k)).collect();
        let mut artifact = std::fs::File::open(fetched).map_err(local(fetched))?;
        if self.broken.plaintext_before_tag
            && let Some((_, key)) = refs.iter().find(|(id, _)| *id == sidecar.profile_id)
        {
            // The design's stream: the key the sidecar names, decrypted into the output as
            // it is read, the tag compared at the end.
            let raw = std::fs::read(fetched).map_err(local(fetched))?;
            let plain = dbm::decrypt_prefix_unauthenticated(key, &sidecar.iv, &raw)?;
            std::fs::write(output, plain).map_err(local(output))?;
            dbm::verify(key, sidecar, &mut Cursor::new(&raw))?;
        }
        let (matched, searched, decoys) = if self.broken.heuristic_recovery {
            let id = heuristic_pick(sidecar, fetched, &refs)?;
            let searched = id != sidecar.profile_id;
            (id, searched, Vec::new())
        } else {
            let r = dbm::recover(sidecar, &mut artifact, &refs)?;
            (r.id, r.searched, r.decoys_skipped)
        };
        let key = keys.get(&matched)?;
        let partial = output.with_file_name(format!(".{file_name}.partial"));
        let file = std::fs::File::create(&partial).map_err(local(&partial))?;
        let mut artifact = std::fs::File::open(fetched).map_err(local(fetched))?;
        match dbm::open(
            &key,
            sidecar,
            &mut artifact,
            BufWriter::new(file),
            max_output,
        ) {
            Ok(n) => {
                std::fs::rename(&partial, output).map_err(local(output))?;
                Ok((matched, searched, decoys, n))
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e.into())
            }
        }
    }
}

/// The broken variant's key choice: the id the sidecar names, else the first key whose
/// first 1 KiB passes the heuristic, without looking at the tag.
fn heuristic_pick(
    sidecar: &dbm::Sidecar,
    fetched: &Path,
    keys: &[(&str, &[u8; KEY_LEN])],
) -> Result<String, DbmError> {
    if let Some((id, _)) = keys.iter().find(|(id, _)| *id == sidecar.profile_id) {
        return Ok((*id).to_owned());
    }
    let mut head = std::fs::read(fetched).map_err(local(fetched))?;
    head.truncate(dbm::HEURISTIC_LEN);
    for (id, k) in keys {
        if dbm::heuristic_accepts(&dbm::decrypt_prefix_unauthenticated(k, &sidecar.iv, &head)?) {
            return Ok((*id).to_owned());
        }
    }
    Err(dbm::Error::NoKeyMatches { tried: keys.len() }.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_a_restart_in_order_and_imports_get_new_ids() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open(Some(dir.path())).unwrap();
        let k = "8EB5F92FE8B9CE5D07D8BA0CC02100798CF4F71B0DC07B7BBE4CDF590710BEAD";
        let (a, _) = ring.import(k).unwrap();
        let g = ring.generate().unwrap();
        let (b, _) = ring.import(&k.to_lowercase()).unwrap();
        assert_ne!(a, b, "an import is a new profile even for a known key");
        assert_eq!(ring.ensure(&ring.get(&a).unwrap()).unwrap(), a);
        let again = Keyring::open(Some(dir.path())).unwrap();
        let ids: Vec<String> = again.all().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, [a.clone(), g, b]);
        assert_eq!(*again.export(&a).unwrap(), k.to_lowercase());
        assert_eq!(again.default_key().unwrap(), a);
        assert_eq!(
            again.export("nope").unwrap_err().class(),
            ErrorClass::NotFound
        );
        for bad in [&k[1..], " 00", ""] {
            assert_eq!(
                again.import(bad).unwrap_err().class(),
                ErrorClass::Malformed,
                "{bad:?}"
            );
        }
        assert_eq!(again.all().len(), 3, "a refused import stores nothing");
    }

    #[test]
    fn a_damaged_key_file_is_reported_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(KEYS_FILE),
            b"[{\"id\":\"a\",\"key\":\"00\"}]",
        )
        .unwrap();
        let e = Keyring::open(Some(dir.path())).unwrap_err();
        assert!(matches!(e, DbmError::KeyFile { .. }), "{e}");
    }

    #[test]
    fn without_a_state_dir_keys_live_in_memory() {
        let ring = Keyring::open(None).unwrap();
        let id = ring.default_key().unwrap();
        assert_eq!(ring.default_key().unwrap(), id);
        assert_eq!(ring.export(&id).unwrap().len(), 64);
    }
}
