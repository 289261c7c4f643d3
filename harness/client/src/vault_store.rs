//! The `object-store` store of profile `metamask-vault` (docs/profiles/metamask-vault.md
//! §10): one vault object per user, written with a plain PUT that replaces it whole, so an
//! update (the library's `updateVault`) is never half done in the store: a crash leaves the
//! old vault or the new one.

use backproof_format::profiles::metamask_vault::{self as mm, Kdf, SealParams};
use zeroize::Zeroizing;

use crate::object_store::{ObjectStore, StoreConfig, StoreError};

/// The vault's object under the user's folder.
pub const VAULT_OBJECT: &str = "vault.json";

/// Deliberately broken behaviours of this client, off by default: only for proving that the
/// suite catches them (docs/ADAPTER.md, "Broken variants of the reference adapter").
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VaultBroken {
    /// An update DELETEs the stored vault before it PUTs the new one: a crash between the
    /// two leaves no vault at all.
    pub delete_before_put: bool,
}

/// A MetaMask vault client writing one user's vault object.
#[derive(Debug, Clone)]
pub struct VaultStore {
    s3: ObjectStore,
    key: String,
    broken: VaultBroken,
}

/// What an update did to the stored vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaultUpdate {
    /// `false` when the vault already had the target parameters and was not written.
    pub changed: bool,
}

impl VaultStore {
    /// Checks the store the way [`ObjectStore::new`] does (same rules, same errors).
    pub fn new(config: &StoreConfig) -> Result<VaultStore, StoreError> {
        Ok(VaultStore {
            s3: ObjectStore::new(config)?,
            key: format!("{}users/{}/{VAULT_OBJECT}", config.prefix, config.user),
            broken: VaultBroken::default(),
        })
    }

    /// This client with deliberate defects (tests of the suite only).
    #[doc(hidden)]
    pub fn with_broken(mut self, broken: VaultBroken) -> VaultStore {
        self.broken = broken;
        self
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Seal `plaintext` (UTF-8 JSON text) with `kdf` and PUT it. A stored vault must open
    /// with `password` first: a mistyped password must not replace the vault.
    pub async fn backup(
        &self,
        password: &str,
        plaintext: &[u8],
        kdf: Kdf,
    ) -> Result<(), StoreError> {
        if let Some(existing) = self.s3.get(&self.key).await? {
            mm::open(password, &existing)?;
        }
        let vault = seal_fresh(password, plaintext, kdf)?;
        self.s3.put(&self.key, vault).await
    }

    /// GET and open the vault: its plaintext JSON text.
    pub async fn restore(&self, password: &str) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let vault = self.s3.get_required(&self.key).await?;
        Ok(mm::open(password, &vault)?.plaintext)
    }

    /// Update the stored vault to `target` iterations. With `old == new` this is the
    /// library's `updateVault` (a vault already at the target is left as it is, unwritten,
    /// without the password being checked); with another `new` it is a password change
    /// (open with `old`, seal with `new`; a vault that already opens with `new` only gets
    /// the update, so a repeated change succeeds). Either way one PUT replaces the vault.
    pub async fn rotate(
        &self,
        old: &str,
        new: &str,
        target: u32,
    ) -> Result<VaultUpdate, StoreError> {
        let vault = self.s3.get_required(&self.key).await?;
        let updated = if old == new {
            let mut salt = [0u8; mm::SALT_LEN];
            let mut iv = [0u8; mm::IV_LEN];
            fill(&mut salt)?;
            fill(&mut iv)?;
            let u = mm::update(old, &vault, target, &salt, iv)?;
            if !u.changed {
                return Ok(VaultUpdate { changed: false });
            }
            u.vault
        } else {
            match mm::open(old, &vault) {
                Ok(opened) => {
                    seal_fresh(new, &opened.plaintext, Kdf::Pbkdf2 { iterations: target })?
                }
                // A change whose answer was lost has happened already: the vault opens with
                // `new`, and the repeated call only completes the update, if anything.
                Err(mm::Error::WrongKey) if mm::open(new, &vault).is_ok() => {
                    return Box::pin(self.rotate(new, new, target)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        if self.broken.delete_before_put {
            self.s3.delete_key(&self.key).await?;
        }
        self.s3.put(&self.key, updated).await?;
        Ok(VaultUpdate { changed: true })
    }

    /// DELETE the vault; none stored is `not_found`.
    pub async fn delete(&self) -> Result<(), StoreError> {
        self.s3.get_required(&self.key).await?;
        self.s3.delete_key(&self.key).await
    }
}

fn fill(buf: &mut [u8]) -> Result<(), StoreError> {
    getrandom::fill(buf).map_err(|e| StoreError::Random(e.to_string()))
}

/// Seal with a fresh 32-byte salt (the library's length) and a fresh 16-byte IV.
pub fn seal_fresh(password: &str, plaintext: &[u8], kdf: Kdf) -> Result<Vec<u8>, StoreError> {
    let mut salt = [0u8; mm::SALT_LEN];
    let mut iv = [0u8; mm::IV_LEN];
    fill(&mut salt)?;
    fill(&mut iv)?;
    Ok(mm::seal(
        password,
        plaintext,
        &SealParams {
            kdf,
            salt: &salt,
            iv,
        },
    )?)
}
