//! `backproof client --profile byok-json-v1|metamask-vault`: the reference clients of the
//! profiles whose client writes S3 objects itself (docs/CLIENT.md §7). Same subcommands,
//! secrets and exit codes as profile `v1`; the server is replaced by the object store.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use backproof_client::object_store::{ObjectStore, StoreConfig, StoreError, now_rfc3339};
use backproof_client::vault_store::VaultStore;
use backproof_format::profiles::byok_json_v1::Kdf as ByokKdf;
use backproof_format::profiles::metamask_vault::{self as mm, Kdf as VaultKdf};
use backproof_format::{Secret, Zeroizing};
use backproof_suite::profile::Profile;
use tokio::runtime::Runtime;

use super::client::{Command, SecretArgs, read_passphrase, secret as read_secret, write_out};
use crate::exit;

const STORE: &str = "Object store (profiles byok-json-v1 and metamask-vault)";

/// Where the objects live. Named as `backproof stack` prints them, so its output can be
/// exported as it is.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// S3 endpoint, `http(s)://host:port`, addressed path-style.
    #[arg(long, help_heading = STORE, env = "BACKPROOF_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Bucket holding the objects.
    #[arg(long, help_heading = STORE, env = "BACKPROOF_S3_BUCKET", value_name = "NAME", default_value = "backproof")]
    pub s3_bucket: String,
    /// Region the requests are signed for.
    #[arg(long, help_heading = STORE, env = "BACKPROOF_S3_REGION", value_name = "REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// Access key id the requests are signed with.
    #[arg(long, help_heading = STORE, env = "BACKPROOF_S3_ACCESS_KEY", value_name = "KEY")]
    pub s3_access_key: Option<String>,
    /// File holding the S3 secret key (surrounding whitespace ignored). Without it the key
    /// comes from BACKPROOF_S3_SECRET_KEY; it is never taken from the command line.
    #[arg(long, help_heading = STORE, value_name = "FILE")]
    pub s3_secret_key_file: Option<PathBuf>,
    /// The user whose backup this is: the objects are `PREFIX` + `users/USER/…`.
    #[arg(long, help_heading = STORE, env = "BACKPROOF_USER")]
    pub user: Option<String>,
    /// Put verbatim in front of `users/…`, e.g. `tenant-a/`.
    #[arg(long, help_heading = STORE, value_name = "PREFIX", default_value = "")]
    pub s3_prefix: String,
    /// metamask-vault: PBKDF2 iterations of a backup, and the target of `rotate` (default
    /// 900000, the library's).
    #[arg(long, help_heading = STORE, value_name = "N")]
    pub iterations: Option<u32>,
}

impl StoreArgs {
    fn config(&self, profile: Profile) -> anyhow::Result<StoreConfig> {
        let need = |value: &Option<String>, flag: &str, env: &str| {
            value
                .clone()
                .with_context(|| format!("profile {profile} writes to S3: give {flag} (or {env})"))
        };
        let endpoint = need(&self.s3_endpoint, "--s3-endpoint", "BACKPROOF_S3_ENDPOINT")?;
        let access_key = need(
            &self.s3_access_key,
            "--s3-access-key",
            "BACKPROOF_S3_ACCESS_KEY",
        )?;
        let user = need(&self.user, "--user", "BACKPROOF_USER")?;
        let secret_key = match &self.s3_secret_key_file {
            Some(f) => std::fs::read_to_string(f)
                .with_context(|| format!("cannot read S3 secret key file {}", f.display()))?
                .trim()
                .to_owned(),
            None => std::env::var("BACKPROOF_S3_SECRET_KEY").map_err(|_| {
                anyhow::anyhow!(
                    "profile {profile} writes to S3: give --s3-secret-key-file (or BACKPROOF_S3_SECRET_KEY)"
                )
            })?,
        };
        Ok(StoreConfig {
            endpoint,
            bucket: self.s3_bucket.clone(),
            region: self.s3_region.clone(),
            access_key,
            secret_key,
            prefix: self.s3_prefix.clone(),
            user,
        })
    }
}

/// Runs `command` against the object store of `profile`.
pub fn run(profile: Profile, command: Command, rt: &Runtime) -> anyhow::Result<u8> {
    let conn = command.conn();
    if conn.server.is_some() || conn.token.is_some() || conn.token_file.is_some() {
        bail!(
            "--server and --token are for profile v1; profile {profile} has no server, its client writes to S3 (--s3-endpoint, --user, …; docs/CLIENT.md §7)"
        );
    }
    match profile {
        Profile::ByokJsonV1 => byok(command, rt),
        Profile::MetamaskVault => vault(command, rt),
        other => bail!(
            "`backproof client` speaks v1, byok-json-v1 and metamask-vault; profile {other} is checked through an adapter (docs/ADAPTER.md): `backproof run --profile {other} --client-adapter CMD`"
        ),
    }
}

/// A store failure: `error: CLASS: sentence` on stderr; exit 2 for what is this machine's
/// or the command line's fault, 1 for everything the store or the backup did.
fn failed(e: &StoreError) -> u8 {
    eprintln!("error: {}: {e}", e.class());
    match e {
        StoreError::InvalidConfig { .. } | StoreError::Random(_) => exit::HARNESS,
        _ => exit::FAILED,
    }
}

/// The profiles here have passwords only: a raw key is a v1 notion.
fn passphrase(secret: Secret, flag: &str, profile: Profile) -> anyhow::Result<Zeroizing<String>> {
    match secret {
        Secret::Passphrase(p) => Ok(p),
        Secret::Key(_) => bail!(
            "profile {profile} derives its key from a passphrase; {flag} is a raw key, which only profile v1 takes"
        ),
    }
}

fn secret_of(s: &SecretArgs, profile: Profile) -> anyhow::Result<Zeroizing<String>> {
    passphrase(read_secret(s)?, "--key-file", profile)
}

fn new_passphrase(
    new_passphrase_file: Option<&Path>,
    new_key_file: Option<&Path>,
    profile: Profile,
) -> anyhow::Result<Option<Zeroizing<String>>> {
    if new_key_file.is_some() {
        bail!(
            "profile {profile} derives its key from a passphrase; --new-key-file is a raw key, which only profile v1 takes"
        );
    }
    new_passphrase_file
        .map(|p| passphrase(read_passphrase(p)?, "--new-key-file", profile))
        .transpose()
}

fn read_payload(file: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read payload file {}", file.display()))
}

/// Ends a store operation: its line on stdout, or its failure.
fn report(result: Result<String, StoreError>) -> u8 {
    match result {
        Ok(line) => {
            println!("{line}");
            exit::OK
        }
        Err(e) => failed(&e),
    }
}

/// Ends a restore: the opened bytes go to `out` and its line to stdout, or nothing is
/// written and the failure is reported.
fn restored<T>(
    result: Result<T, StoreError>,
    out: &Path,
    plaintext: impl Fn(&T) -> &[u8],
    line: impl FnOnce(&T) -> String,
) -> anyhow::Result<u8> {
    Ok(match result {
        Ok(r) => {
            write_out(out, plaintext(&r))?;
            report(Ok(line(&r)))
        }
        Err(e) => failed(&e),
    })
}

fn byok(command: Command, rt: &Runtime) -> anyhow::Result<u8> {
    let profile = Profile::ByokJsonV1;
    let conn = command.conn();
    let client = conn.writer.client_config()?;
    let store = match ObjectStore::new(&conn.store.config(profile)?) {
        Ok(s) => s.with_broken(client.broken.byok),
        Err(e) => return Ok(failed(&e)),
    };
    let kdf = ByokKdf::Argon2id(client.kdf);
    let final_key = store.final_key().to_owned();
    let bucket = conn.store.s3_bucket.clone();
    let at = |key: &str| format!("s3://{bucket}/{key}");
    let code = match command {
        Command::Backup {
            secret, payload, ..
        } => {
            let pass = secret_of(&secret, profile)?;
            let bytes = read_payload(&payload)?;
            report(rt.block_on(async {
                store.backup(&pass, &bytes, &kdf, &now_rfc3339()).await?;
                Ok(format!(
                    "backed up {} bytes to {}",
                    bytes.len(),
                    at(&final_key)
                ))
            }))
        }
        Command::Restore { secret, out, .. } => {
            let pass = secret_of(&secret, profile)?;
            restored(
                rt.block_on(store.restore(&pass)),
                &out,
                |b| &b.plaintext,
                |b| {
                    format!(
                        "restored {} bytes (created {}, updated {}) to {}",
                        b.plaintext.len(),
                        b.created_at,
                        b.updated_at,
                        out.display()
                    )
                },
            )?
        }
        Command::Rotate {
            secret,
            new_passphrase_file,
            new_key_file,
            ..
        } => {
            let old = secret_of(&secret, profile)?;
            let new = new_passphrase(
                new_passphrase_file.as_deref(),
                new_key_file.as_deref(),
                profile,
            )?
            .context("give --new-passphrase-file")?;
            report(rt.block_on(async {
                store.rotate(&old, &new, &kdf, &now_rfc3339()).await?;
                Ok(format!(
                    "rotated: {} opens with the new passphrase",
                    at(&final_key)
                ))
            }))
        }
        Command::Recover {
            candidates, out, ..
        } => {
            let mut tried = Vec::new();
            for spec in &candidates {
                let c = super::client::parse_candidate(spec)?;
                let what = format!("candidate {:?}", c.id);
                tried.push((c.id, passphrase(c.secret, &what, profile)?));
            }
            restored(
                rt.block_on(store.recover(&tried)),
                &out,
                |r| &r.backup.plaintext,
                |r| {
                    format!(
                        "candidate {:?} opens the {} object; {} bytes written to {}",
                        r.matched,
                        match r.source {
                            backproof_client::object_store::Source::Final => "final",
                            backproof_client::object_store::Source::Temp =>
                                "temporary (an interrupted rotation's)",
                        },
                        r.backup.plaintext.len(),
                        out.display()
                    )
                },
            )?
        }
        Command::Delete { .. } => report(rt.block_on(async {
            store.delete().await?;
            Ok("deleted".to_owned())
        })),
    };
    Ok(code)
}

fn vault(command: Command, rt: &Runtime) -> anyhow::Result<u8> {
    let profile = Profile::MetamaskVault;
    let conn = command.conn();
    let client = conn.writer.client_config()?;
    let store = match VaultStore::new(&conn.store.config(profile)?) {
        Ok(s) => s.with_broken(client.broken.vault),
        Err(e) => return Ok(failed(&e)),
    };
    let iterations = conn.store.iterations.unwrap_or(mm::DEFAULT_ITERATIONS);
    let kdf = VaultKdf::Pbkdf2 { iterations };
    if let Err(e) = kdf.check() {
        bail!("--iterations {iterations}: {e}");
    }
    let at = format!("s3://{}/{}", conn.store.s3_bucket, store.key());
    let code = match command {
        Command::Backup {
            secret, payload, ..
        } => {
            let password = secret_of(&secret, profile)?;
            let bytes = read_payload(&payload)?;
            // The library stores `JSON.stringify` of its data; a vault of anything else
            // would open as `corrupted` later, so refuse it before anything is written.
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                eprintln!(
                    "error: payload_invalid: {} is not UTF-8 JSON text ({e}); a MetaMask vault holds JSON",
                    payload.display()
                );
                return Ok(exit::FAILED);
            }
            report(rt.block_on(async {
                store.backup(&password, &bytes, kdf).await?;
                Ok(format!(
                    "backed up {} bytes to {at} (PBKDF2, {iterations} iterations)",
                    bytes.len()
                ))
            }))
        }
        Command::Restore { secret, out, .. } => {
            let password = secret_of(&secret, profile)?;
            restored(
                rt.block_on(store.restore(&password)),
                &out,
                |p| &p[..],
                |p| format!("restored {} bytes to {}", p.len(), out.display()),
            )?
        }
        Command::Rotate {
            secret,
            new_passphrase_file,
            new_key_file,
            ..
        } => {
            let old = secret_of(&secret, profile)?;
            let new = new_passphrase(
                new_passphrase_file.as_deref(),
                new_key_file.as_deref(),
                profile,
            )?;
            let changing = new.is_some();
            let new = new.unwrap_or_else(|| old.clone());
            report(rt.block_on(async {
                let u = store.rotate(&old, &new, iterations).await?;
                Ok(match (u.changed, changing) {
                    (false, _) => format!(
                        "already at {iterations} iterations: {at} left as it is (nothing written)"
                    ),
                    (true, false) => format!("updated {at} to {iterations} iterations"),
                    (true, true) => format!(
                        "password changed: {at} opens with the new password ({iterations} iterations)"
                    ),
                })
            }))
        }
        Command::Recover { .. } => bail!(
            "profile {profile} has no recover: a vault has one password and no temporary copy; use restore"
        ),
        Command::Delete { .. } => report(rt.block_on(async {
            store.delete().await?;
            Ok("deleted".to_owned())
        })),
    };
    Ok(code)
}
