//! `backproof client`: the reference client on the command line (docs/CLIENT.md).
//! Secrets come from files only, never from the command line (it is visible to every user
//! of the machine).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use backproof_client::{Candidate, Client, ClientError, Server};
use backproof_format::{Secret, Zeroizing, payload};

use backproof_suite::profile::Profile;

use super::adapter::WriterArgs;
use super::client_store::{self, StoreArgs};
use crate::exit;

/// Where and as whom.
#[derive(Debug, clap::Args)]
pub struct Conn {
    /// The backup design to speak (docs/CLIENT.md §7): `v1` talks to a backproof API v1
    /// server (--server, --token); `byok-json-v1` and `metamask-vault` have no server, the
    /// client writes their objects to S3 itself (--s3-endpoint, --user, …).
    #[arg(long, value_name = "NAME", default_value = "v1")]
    pub profile: Profile,
    /// Base URL of the server, e.g. http://127.0.0.1:8080 (profile v1).
    #[arg(long, env = "BACKPROOF_SERVER")]
    pub server: Option<String>,
    /// Bearer token (see `backproof serve token`). Prefer --token-file on shared machines.
    #[arg(
        long,
        env = "BACKPROOF_TOKEN",
        conflicts_with = "token_file",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// File holding the bearer token (surrounding whitespace ignored).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    #[command(flatten)]
    pub writer: WriterArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The secret: exactly one of a passphrase file or a key file.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct SecretArgs {
    /// File holding the passphrase (UTF-8; one trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// File holding an exported 256-bit key: 64 hex digits, or 32 raw bytes.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Encrypt a payload and upload it (merging with other devices' writes on conflict).
    Backup {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        secret: SecretArgs,
        /// What to upload. v1: a serialized BackupPayload (protobuf, package backproof.v1);
        /// byok-json-v1: any bytes; metamask-vault: JSON text.
        #[arg(long, value_name = "FILE")]
        payload: PathBuf,
    },
    /// Download and decrypt the backup; writes what was backed up.
    Restore {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        secret: SecretArgs,
        /// Where to write the payload.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Re-encrypt the backup under a new passphrase (safe to retry after a crash).
    Rotate {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        secret: SecretArgs,
        /// File holding the new passphrase. Profile metamask-vault without it: the vault is
        /// re-encrypted under the same password at --iterations (the library's update).
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
        /// File holding the new raw key (64 hex digits or 32 bytes).
        #[arg(long, value_name = "FILE", conflicts_with = "new_passphrase_file")]
        new_key_file: Option<PathBuf>,
    },
    /// Try several passphrases/keys by key check and restore with the one that matches.
    Recover {
        #[command(flatten)]
        conn: Conn,
        /// A candidate as KIND:ID=FILE, KIND being `passphrase` or `key`; repeat, tried in
        /// order. Example: --candidate passphrase:old=old.txt --candidate key:export=k.hex
        #[arg(long = "candidate", value_name = "KIND:ID=FILE", required = true)]
        candidates: Vec<String>,
        /// Where to write the payload.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Delete the backup.
    Delete {
        #[command(flatten)]
        conn: Conn,
    },
}

impl Command {
    pub fn conn(&self) -> &Conn {
        match self {
            Command::Backup { conn, .. }
            | Command::Restore { conn, .. }
            | Command::Rotate { conn, .. }
            | Command::Recover { conn, .. }
            | Command::Delete { conn } => conn,
        }
    }
}

pub(super) fn read_passphrase(path: &Path) -> anyhow::Result<Secret> {
    // Wiped when dropped, like every copy of a secret on the client side.
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read passphrase file {}", path.display()))?,
    );
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if text.is_empty() {
        bail!("passphrase file {} is empty", path.display());
    }
    Ok(Secret::passphrase(text))
}

fn read_key(path: &Path) -> anyhow::Result<Secret> {
    let bytes = Zeroizing::new(
        std::fs::read(path).with_context(|| format!("cannot read key file {}", path.display()))?,
    );
    if bytes.len() == 32 && !bytes.iter().all(u8::is_ascii_hexdigit) {
        let mut raw = Zeroizing::new([0u8; 32]);
        raw.copy_from_slice(&bytes);
        return Ok(Secret::Key(raw));
    }
    let text = String::from_utf8_lossy(&bytes);
    Secret::key_from_hex(text.trim()).with_context(|| {
        format!(
            "key file {} must hold 64 hex digits or 32 raw bytes",
            path.display()
        )
    })
}

pub(super) fn secret(s: &SecretArgs) -> anyhow::Result<Secret> {
    match (&s.passphrase_file, &s.key_file) {
        (Some(p), None) => read_passphrase(p),
        (None, Some(k)) => read_key(k),
        _ => bail!("give exactly one of --passphrase-file or --key-file"),
    }
}

fn server(conn: &Conn) -> anyhow::Result<Server> {
    let token = match (&conn.token, &conn.token_file) {
        (Some(t), None) => t.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("cannot read token file {}", f.display()))?
            .trim()
            .to_string(),
        _ => bail!("give --token, --token-file or BACKPROOF_TOKEN"),
    };
    let url = conn.server.clone().context(
        "give --server URL (or BACKPROOF_SERVER): profile v1 talks to a backproof server",
    )?;
    Ok(Server { url, token })
}

fn client(conn: &Conn) -> anyhow::Result<Client> {
    Client::new(conn.writer.client_config()?).context("cannot start the client")
}

pub(super) fn parse_candidate(spec: &str) -> anyhow::Result<Candidate> {
    let (kind, rest) = spec
        .split_once(':')
        .with_context(|| format!("candidate {spec:?} is not KIND:ID=FILE"))?;
    let (id, file) = rest
        .split_once('=')
        .with_context(|| format!("candidate {spec:?} is not KIND:ID=FILE"))?;
    let path = Path::new(file);
    let secret = match kind {
        "passphrase" => read_passphrase(path)?,
        "key" => read_key(path)?,
        other => bail!("candidate kind {other:?} must be `passphrase` or `key`"),
    };
    Ok(Candidate {
        id: id.to_string(),
        secret,
    })
}

pub(super) fn write_out(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Prints an operation failure as `error: CLASS: sentence` and picks the exit code:
/// 2 when this machine is at fault (state directory), 1 otherwise.
fn failed(e: &ClientError) -> u8 {
    eprintln!("error: {}: {e}", e.class());
    if let Some(tried) = e.tried() {
        eprintln!("tried: {}", tried.join(", "));
    }
    if e.is_local() {
        exit::HARNESS
    } else {
        exit::FAILED
    }
}

pub fn run(command: Command) -> anyhow::Result<u8> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let profile = command.conn().profile;
    if profile != Profile::V1 {
        return client_store::run(profile, command, &rt);
    }
    match command {
        Command::Backup {
            conn,
            secret: s,
            payload: file,
        } => {
            let secret = secret(&s)?;
            let bytes = std::fs::read(&file)
                .with_context(|| format!("cannot read payload file {}", file.display()))?;
            let p = match payload::decode(&bytes) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {}: {} ({})", e.class(), e, file.display());
                    return Ok(exit::FAILED);
                }
            };
            let (client, server) = (client(&conn)?, server(&conn)?);
            match rt.block_on(client.backup(&server, &secret, &p)) {
                Ok(o) if o.merges > 0 => {
                    println!(
                        "backed up version {} (merged with other devices' writes {} time(s))",
                        o.version, o.merges
                    );
                    Ok(exit::OK)
                }
                Ok(o) => {
                    println!("backed up version {}", o.version);
                    Ok(exit::OK)
                }
                Err(e) => Ok(failed(&e)),
            }
        }
        Command::Restore {
            conn,
            secret: s,
            out,
        } => {
            let secret = secret(&s)?;
            let (client, server) = (client(&conn)?, server(&conn)?);
            match rt.block_on(client.restore(&server, &secret)) {
                Ok(r) => {
                    write_out(&out, &r.plaintext)?;
                    println!(
                        "restored version {} ({} contacts) to {}",
                        r.version,
                        r.payload.contacts.len(),
                        out.display()
                    );
                    Ok(exit::OK)
                }
                Err(e) => Ok(failed(&e)),
            }
        }
        Command::Rotate {
            conn,
            secret: s,
            new_passphrase_file,
            new_key_file,
        } => {
            let old = secret(&s)?;
            let new = match (new_passphrase_file, new_key_file) {
                (Some(p), None) => read_passphrase(&p)?,
                (None, Some(k)) => read_key(&k)?,
                _ => bail!("give exactly one of --new-passphrase-file or --new-key-file"),
            };
            let (client, server) = (client(&conn)?, server(&conn)?);
            match rt.block_on(client.rotate(&server, &old, &new)) {
                Ok(o) if o.uploaded => {
                    println!("rotated: version {} opens with the new secret", o.version);
                    Ok(exit::OK)
                }
                Ok(o) => {
                    println!(
                        "already rotated: version {} opens with the new secret (nothing uploaded)",
                        o.version
                    );
                    Ok(exit::OK)
                }
                Err(e) => Ok(failed(&e)),
            }
        }
        Command::Recover {
            conn,
            candidates,
            out,
        } => {
            let candidates = candidates
                .iter()
                .map(|c| parse_candidate(c))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (client, server) = (client(&conn)?, server(&conn)?);
            match rt.block_on(client.recover(&server, &candidates)) {
                Ok(r) => {
                    write_out(&out, &r.plaintext)?;
                    println!(
                        "candidate {:?} opens version {}; payload written to {}",
                        r.matched,
                        r.version,
                        out.display()
                    );
                    Ok(exit::OK)
                }
                Err(e) => Ok(failed(&e)),
            }
        }
        Command::Delete { conn } => {
            let (client, server) = (client(&conn)?, server(&conn)?);
            match rt.block_on(client.delete(&server)) {
                Ok(()) => {
                    println!("deleted");
                    Ok(exit::OK)
                }
                Err(e) => Ok(failed(&e)),
            }
        }
    }
}
