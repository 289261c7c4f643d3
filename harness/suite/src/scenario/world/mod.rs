//! What one scenario runs against: a fresh database and bucket on the shared stack, the
//! server under test as a child process, the two fault proxies, tokens, and the actors'
//! adapter processes. A server given by URL has none of the storage and no process: its
//! two accounts are cleared before every world instead.
//!
//! The steps (`super::steps`) and drivers use a world; a world knows nothing of them.

mod actors;
mod noah;
mod server;
mod storage;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backproof_client::adapter::protocol::WireServer;
use backproof_client::adapter::{AdapterProcess, DriverError};
use backproof_faults::{FaultError, FaultProxy, ProxyOptions};
use backproof_stack::{Stack, StackError};

pub(crate) use actors::{CallOutcome, Observed, Request};
use server::ServerProc;
pub use server::ServerTarget;
pub(crate) use server::spawn_auto_restart;

use super::Infra;
use super::model::{Profile, Proxy, StoreObject};
use super::verdict::Verdict;
use crate::profile::StoreKind;

/// What the run was given; shared by every scenario.
#[derive(Debug, Clone)]
pub struct Target {
    pub server: ServerTarget,
    /// The adapter command of the client under test.
    pub client_adapter: String,
    /// Capabilities the target offers (`server-restart`, `storage-access`,
    /// `client-adapter`, `op:<name>` from the adapter's hello).
    pub capabilities: Vec<String>,
    /// The profiles the adapter's hello lists.
    pub profiles: Vec<String>,
}

/// Why a world could not be set up or used; the case ends in `error`.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// Normally such a case is `unsupported` before it starts; this guards the engine's
    /// own calls.
    #[error("the server was given by URL: backproof cannot restart it")]
    NotOwned,
    #[error("the server was given by URL: backproof has no access to its storage")]
    NoStorage,
    #[error("no stack was started for a server the harness runs")]
    NoStack,
    #[error("cannot create a database: {0}")]
    Database(#[source] StackError),
    #[error("cannot create bucket {bucket}: {source}")]
    Bucket { bucket: String, source: StackError },
    #[error("{0}")]
    Proxy(#[from] FaultError),
    #[error("cannot start the server under test: {0}")]
    ServerSpawn(#[source] std::io::Error),
    #[error("the server under test exited during start-up; its output ends with:\n{log}")]
    ServerExited { log: String },
    #[error(
        "the server under test did not answer GET /healthz within 60 s; its output ends with:\n{log}"
    )]
    ServerNotReady { log: String },
    #[error("{0}")]
    HttpClient(#[source] reqwest::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("cannot start the client adapter: {0}")]
    AdapterStart(#[source] DriverError),
    #[error("client adapter hello failed: {0}")]
    AdapterHello(#[source] DriverError),
    #[error("{0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("scenario names unknown actor {0:?}")]
    UnknownActor(String),
    #[error(
        "the case uses user {user:?}, but a server given by URL has only the users of the tokens file, mapped to {mapped}"
    )]
    UnknownUser { user: String, mapped: String },
    #[error("cannot run the token command: {0}")]
    TokenCommand(#[source] std::io::Error),
    #[error("token command failed ({status}): {stderr}")]
    TokenFailed { status: String, stderr: String },
    #[error("token command printed nothing")]
    TokenEmpty,
    #[error("{what}: no answer: {source}")]
    ClearNoAnswer {
        what: String,
        source: reqwest::Error,
    },
    #[error("{what} answered {code} (expected 204 or 404){body}")]
    ClearRefused {
        what: String,
        code: u16,
        body: String,
    },
    #[error("profile {0} has no server: backproof cannot restart one")]
    NoServer(Profile),
    /// The harness's own S3 request failed.
    #[error("{what}: {detail}")]
    S3 { what: String, detail: String },
}

impl From<WorldError> for Verdict {
    fn from(e: WorldError) -> Verdict {
        Verdict::Error(e.to_string())
    }
}

/// Set to keep every case's database until the run's stack goes (docs/STACK.md).
const KEEP_DATABASES_VAR: &str = "BACKPROOF_KEEP_DATABASES";

/// One scenario's world.
#[derive(Debug)]
pub struct World {
    server: tokio::sync::Mutex<ServerProc>,
    /// Keeps the server's port ours while the server is down between a kill and a restart.
    _port: Option<PortLease>,
    /// The URL of the world's own database on the stack, dropped at shutdown.
    database: Option<String>,
    client_proxy: FaultProxy,
    /// The server's base URL as the client sees it: through the client proxy.
    client_url: String,
    /// The world's bucket and the proxy in front of S3; `None` for a server given by URL.
    storage: Option<Storage>,
    tokens: Mutex<BTreeMap<String, String>>,
    /// Logical user → user name on the server (unique per world).
    prefix: String,
    actors: BTreeMap<String, Arc<Mutex<AdapterProcess>>>,
    actor_users: BTreeMap<String, String>,
    /// Bodies remembered by `http` steps (`save_body`), by label.
    pub(crate) saved: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Set by `shutdown`: the auto-restart watcher stops.
    stopping: std::sync::atomic::AtomicBool,
    target: Target,
    auth_secret: String,
    _dir: tempfile::TempDir,
    /// The scenario's own folder (adapter state dirs, the stress history).
    pub(crate) dir: PathBuf,
    /// The profile the case runs under; an `object-store` profile's world has no server:
    /// the client proxy stands in front of S3 and the adapter writes object paths itself.
    profile: Profile,
    /// An object-store profile's key prefix (`case-<tag>/`), in front of `users/…`.
    store_prefix: String,
}

/// A world's own bucket on the shared stack, and the fault proxy the server reaches it by.
#[derive(Debug)]
struct Storage {
    bucket: String,
    s3: aws_sdk_s3::Client,
    s3_proxy: FaultProxy,
    /// What an object-store client is given to sign its own S3 requests with.
    region: String,
    access_key: String,
    secret_key: String,
}

/// `s.replace(from, to)`, except that an empty `from` (no bucket, no prefix: a server given
/// by URL) replaces nothing instead of inserting `to` between every character.
fn replace_nonempty(s: &str, from: &str, to: &str) -> String {
    if from.is_empty() {
        s.to_string()
    } else {
        s.replace(from, to)
    }
}

/// The scenario's own folder (adapter state dirs, logs), removed with the world.
fn scenario_dir() -> Result<tempfile::TempDir, WorldError> {
    Ok(tempfile::Builder::new()
        .prefix("backproof-scenario-")
        .tempdir()?)
}

/// A loopback port reserved for one world's server for the world's whole life, across
/// server restarts.
///
/// A port taken from `bind(0)` and released is up for grabs again: while a crash case's
/// server is down, another world (of this run or of a parallel one) could be given the same
/// port, its server would answer our health check, and the case would talk to the wrong
/// server (seen as a stray 401). So ports come from below the kernel's ephemeral range,
/// which `bind(0)` and outgoing connections never use, and each is claimed by binding an
/// abstract Unix socket named after it, which every backproof process respects and the
/// kernel releases when the holder dies.
#[derive(Debug)]
pub(crate) struct PortLease {
    port: u16,
    _claim: Option<std::os::unix::net::UnixListener>,
}

impl PortLease {
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

fn free_port() -> Result<PortLease, WorldError> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    // Below the ephemeral range, above the well-known and the usual service ports.
    let (low, high) = (
        ephemeral_low.saturating_sub(12_000).max(10_000),
        ephemeral_low,
    );
    if high > low {
        for _ in 0..500 {
            let mut r = [0u8; 2];
            let _ = getrandom::fill(&mut r);
            let port = low + u16::from_le_bytes(r) % (high - low);
            let Ok(name) = SocketAddr::from_abstract_name(format!("backproof-port-{port}")) else {
                break;
            };
            let Ok(claim) = UnixListener::bind_addr(&name) else {
                continue; // another world holds it
            };
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(PortLease {
                    port,
                    _claim: Some(claim),
                });
            }
        }
    }
    // No range below the ephemeral one (an unusual sysctl): the old way, with its race.
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(PortLease {
        port: l.local_addr()?.port(),
        _claim: None,
    })
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    // getrandom only fails when the OS has no entropy source at all.
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// The client the harness's own requests go through.
pub(crate) fn http_client() -> reqwest::Client {
    static C: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_default()
    })
    .clone()
}

/// `"7"` → 7; a bare or weak tag is not a version.
pub(crate) fn etag_version(v: Option<&str>) -> Option<u64> {
    let v = v?.trim();
    let inner = v.strip_prefix('"')?.strip_suffix('"')?;
    inner.parse().ok()
}

impl World {
    /// Creates the database and bucket, starts the S3 proxy, the server, the client proxy.
    pub(crate) async fn create(
        infra: &Infra,
        extra_args: &[String],
        once_env: &[(String, String)],
        actors: &[(String, String)],
        label: &str,
        profile: Profile,
    ) -> Result<World, WorldError> {
        let target = &infra.target;
        if profile.store().client_writes_s3() {
            return World::create_object_store(infra, actors, label, profile).await;
        }
        if let (Some(url), Some(tokens)) = (target.server.fixed_url(), target.server.url_tokens()) {
            // Both accounts' backups go first: the accounts are shared by every case of
            // the run, which therefore runs one at a time.
            for (logical, entry) in tokens.mapping() {
                let token = tokens.token(logical).unwrap_or_default();
                clear_account(url, logical, entry, token).await?;
                if profile == Profile::NoahV0 {
                    clear_slots(url, logical, entry, token).await?;
                }
            }
            let world = World::create_for_url(target, url, profile).await?;
            return world.start_actors(actors).await;
        }
        let stack: &Stack = infra.stack.as_ref().ok_or(WorldError::NoStack)?;
        // Set-up is most of a short case's time: `RUST_LOG=backproof_suite=debug` shows
        // where it goes.
        let t0 = std::time::Instant::now();
        let tag = random_hex(4);
        let db = stack
            .postgres
            .create_unique_database("bp")
            .await
            .map_err(WorldError::Database)?;
        let bucket = format!(
            "bp-{}-{tag}",
            label
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(20)
                .collect::<String>()
                .to_lowercase()
        );
        stack
            .s3
            .create_bucket(&bucket)
            .await
            .map_err(|source| WorldError::Bucket {
                bucket: bucket.clone(),
                source,
            })?;
        let t_storage = t0.elapsed();
        let s3_proxy = FaultProxy::start(stack.s3.endpoint()).await?;
        let auth_secret = random_hex(32);
        let env = vec![
            ("BACKPROOF_DATABASE_URL".to_string(), db.clone()),
            ("BACKPROOF_S3_ENDPOINT".to_string(), s3_proxy.url()),
            ("BACKPROOF_S3_BUCKET".to_string(), bucket.clone()),
            (
                "BACKPROOF_S3_ACCESS_KEY".to_string(),
                stack.s3.access_key().to_string(),
            ),
            (
                "BACKPROOF_S3_SECRET_KEY".to_string(),
                stack.s3.secret_key().to_string(),
            ),
            (
                "BACKPROOF_S3_REGION".to_string(),
                stack.s3.region().to_string(),
            ),
            ("BACKPROOF_AUTH_SECRET".to_string(), auth_secret.clone()),
        ];
        let lease = free_port()?;
        let mut server = ServerProc::new(
            target.server.clone(),
            lease.port(),
            env,
            extra_args.to_vec(),
            once_env.to_vec(),
        );
        server.spawn().await?;
        let t_server = t0.elapsed();
        let client_proxy = FaultProxy::start(&server.url()).await?;
        let dir = scenario_dir()?;
        let world = World {
            server: tokio::sync::Mutex::new(server),
            _port: Some(lease),
            database: Some(db),
            client_url: client_proxy.url(),
            client_proxy,
            storage: Some(Storage {
                bucket,
                s3: stack.s3.client().await,
                s3_proxy,
                region: stack.s3.region().to_string(),
                access_key: stack.s3.access_key().to_string(),
                secret_key: stack.s3.secret_key().to_string(),
            }),
            tokens: Mutex::default(),
            prefix: format!("u{tag}-"),
            // A server profile (v1, noah-v0): the server serves both APIs.
            profile,
            store_prefix: String::new(),
            actors: BTreeMap::new(),
            actor_users: BTreeMap::new(),
            saved: Mutex::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            target: target.clone(),
            auth_secret,
            dir: dir.path().to_path_buf(),
            _dir: dir,
        };
        let world = world.start_actors(actors).await?;
        tracing::debug!(
            label,
            storage_ms = t_storage.as_millis() as u64,
            server_ms = (t_server - t_storage).as_millis() as u64,
            actors_ms = (t0.elapsed() - t_server).as_millis() as u64,
            "world set up"
        );
        Ok(world)
    }

    /// A world on a server given by URL: the client proxy in front of the URL, no storage,
    /// no process.
    async fn create_for_url(
        target: &Target,
        url: &str,
        profile: Profile,
    ) -> Result<World, WorldError> {
        let server = ServerProc::new(target.server.clone(), 0, Vec::new(), Vec::new(), Vec::new());
        // The server is reached by name (virtual host, CDN, TLS certificate): it must see its
        // own name in Host, not the proxy's 127.0.0.1 address.
        let client_proxy = FaultProxy::start_with(
            url,
            ProxyOptions {
                rewrite_host: true,
                extra_root_pem: None,
            },
        )
        .await?;
        // The proxy forwards the request path as is, so a base path (`http://host/api`)
        // goes into the client's URL, in front of the proxy.
        let base_path = reqwest::Url::parse(url)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        let dir = scenario_dir()?;
        Ok(World {
            server: tokio::sync::Mutex::new(server),
            _port: None,
            database: None,
            client_url: format!("{}{base_path}", client_proxy.url()),
            client_proxy,
            storage: None,
            tokens: Mutex::default(),
            prefix: String::new(),
            actors: BTreeMap::new(),
            actor_users: BTreeMap::new(),
            saved: Mutex::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            target: target.clone(),
            auth_secret: String::new(),
            dir: dir.path().to_path_buf(),
            _dir: dir,
            profile,
            store_prefix: String::new(),
        })
    }

    /// A world for an `object-store` profile (docs/profiles/byok-json-v1.md §6): a bucket
    /// of its own and the client proxy in front of S3, so that every S3 request of the
    /// client is a step the faults and the enumerate driver can aim at. No database, no
    /// server process.
    async fn create_object_store(
        infra: &Infra,
        actors: &[(String, String)],
        label: &str,
        profile: Profile,
    ) -> Result<World, WorldError> {
        let target = &infra.target;
        let stack: &Stack = infra.stack.as_ref().ok_or(WorldError::NoStack)?;
        let tag = random_hex(4);
        let bucket = format!(
            "bp-{}-{tag}",
            label
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(20)
                .collect::<String>()
                .to_lowercase()
        );
        stack
            .s3
            .create_bucket(&bucket)
            .await
            .map_err(|source| WorldError::Bucket {
                bucket: bucket.clone(),
                source,
            })?;
        let client_proxy = FaultProxy::start(stack.s3.endpoint()).await?;
        let s3_proxy = FaultProxy::start(stack.s3.endpoint()).await?;
        let server = ServerProc::new(target.server.clone(), 0, Vec::new(), Vec::new(), Vec::new());
        let dir = scenario_dir()?;
        let world = World {
            server: tokio::sync::Mutex::new(server),
            _port: None,
            database: None,
            client_url: client_proxy.url(),
            client_proxy,
            storage: Some(Storage {
                bucket,
                s3: stack.s3.client().await,
                s3_proxy,
                region: stack.s3.region().to_string(),
                access_key: stack.s3.access_key().to_string(),
                secret_key: stack.s3.secret_key().to_string(),
            }),
            tokens: Mutex::default(),
            prefix: format!("u{tag}-"),
            actors: BTreeMap::new(),
            actor_users: BTreeMap::new(),
            saved: Mutex::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            target: target.clone(),
            auth_secret: String::new(),
            dir: dir.path().to_path_buf(),
            _dir: dir,
            profile,
            store_prefix: format!("case-{tag}/"),
        };
        world.start_actors(actors).await
    }

    /// The profile the case runs under.
    pub(crate) fn profile(&self) -> Profile {
        self.profile
    }

    /// Whether the client writes S3 object paths itself (no server).
    pub(crate) fn is_object_store(&self) -> bool {
        self.profile.store().client_writes_s3()
    }

    /// An object-store profile's key of a user's final or temporary object
    /// (docs/profiles/byok-json-v1.md §6); `metamask-vault`'s vault object whatever `object`
    /// says.
    pub(crate) fn object_key(&self, user: &str, object: StoreObject) -> String {
        if self.profile == Profile::MetamaskVault {
            // One vault object, no temporary one (docs/profiles/metamask-vault.md §10).
            return format!(
                "{}users/{user}/{}",
                self.store_prefix,
                backproof_client::vault_store::VAULT_OBJECT
            );
        }
        let suffix = match object {
            // A dbm-stream-v1 object is found by listing (steps/storage.rs); this is only
            // the user's folder.
            StoreObject::Final
            | StoreObject::Artifact
            | StoreObject::Sidecar
            | StoreObject::Latest
            | StoreObject::Older => "",
            StoreObject::Temp => "_temp",
        };
        format!(
            "{}users/{user}/api_key_backup{suffix}.json",
            self.store_prefix
        )
    }

    /// The `store` object of an object-store profile's adapter request for a logical user
    /// (docs/profiles/byok-json-v1.md §8): the S3 endpoint through the client proxy.
    pub(crate) fn wire_store(&self, user: &str) -> Result<serde_json::Value, WorldError> {
        let st = self.storage()?;
        Ok(serde_json::json!({
            // The wire's kind names the medium (S3 coordinates), the same for every profile
            // whose client writes S3 itself; the profile's layout is its own StoreKind.
            "kind": StoreKind::ObjectStore.as_str(),
            "endpoint": self.client_url,
            "bucket": st.bucket,
            "region": st.region,
            "access_key": st.access_key,
            "secret_key": st.secret_key,
            "prefix": self.store_prefix,
            "user": user,
        }))
    }

    /// Replaces this world's bucket and user prefix in a recorded request path with
    /// placeholders: every crash point runs in a fresh world with fresh names, and reports
    /// must not carry random ids.
    pub(crate) fn generalize(&self, path: &str) -> String {
        let bucket = self.storage.as_ref().map_or("", |s| s.bucket.as_str());
        replace_nonempty(
            &replace_nonempty(
                &replace_nonempty(path, bucket, "{bucket}"),
                &self.store_prefix,
                "{sp}",
            ),
            &self.prefix,
            "{p}",
        )
    }

    /// The inverse of [`World::generalize`] for this world's names.
    pub(crate) fn localize(&self, pattern: &str) -> String {
        let bucket = self.storage.as_ref().map_or("", |s| s.bucket.as_str());
        pattern
            .replace("{bucket}", bucket)
            .replace("{sp}", &self.store_prefix)
            .replace("{p}", &self.prefix)
    }

    /// The world's storage, for steps that need it (`storage-access` cases).
    fn storage(&self) -> Result<&Storage, WorldError> {
        self.storage.as_ref().ok_or(WorldError::NoStorage)
    }

    /// One of the two fault proxies.
    pub(crate) fn proxy(&self, which: Proxy) -> Result<&FaultProxy, WorldError> {
        match which {
            Proxy::Client => Ok(&self.client_proxy),
            Proxy::S3 => self.storage().map(|s| &s.s3_proxy),
        }
    }

    /// The S3 bucket's name, `None` for a server given by URL.
    pub(crate) fn bucket(&self) -> Option<&str> {
        self.storage.as_ref().map(|s| s.bucket.as_str())
    }

    /// The server-side user name of a logical user (for a server given by URL: the name
    /// of its entry in the tokens file).
    pub(crate) fn user_name(&self, user: &str) -> String {
        if let Some(tokens) = self.target.server.url_tokens() {
            return tokens.entry(user).unwrap_or(user).to_string();
        }
        format!("{}{user}", self.prefix)
    }

    /// A token for a logical user, minted by the target's token command.
    pub(crate) async fn token(&self, user: &str) -> Result<String, WorldError> {
        if let Some(t) = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
        {
            return Ok(t.clone());
        }
        let name = self.user_name(user);
        let Some(mut cmd) = self.target.server.token_command(&name) else {
            let tokens = self.target.server.url_tokens();
            return tokens
                .and_then(|t| t.token(user))
                .map(str::to_string)
                .ok_or_else(|| WorldError::UnknownUser {
                    user: user.to_string(),
                    mapped: tokens
                        .map(|t| {
                            t.mapping()
                                .iter()
                                .map(|(l, e)| format!("{l} (entry {e:?})"))
                                .collect::<Vec<_>>()
                                .join(" and ")
                        })
                        .unwrap_or_default(),
                });
        };
        let out = cmd
            .env("BACKPROOF_AUTH_SECRET", &self.auth_secret)
            .env("BACKPROOF_USER", &name)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(WorldError::TokenCommand)?;
        if !out.status.success() {
            return Err(WorldError::TokenFailed {
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if token.is_empty() {
            return Err(WorldError::TokenEmpty);
        }
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_string(), token.clone());
        Ok(token)
    }

    /// The `server` object of the adapter protocol for a logical user (through the
    /// client↔server proxy).
    async fn wire_server(&self, user: &str) -> Result<WireServer, WorldError> {
        Ok(WireServer {
            url: self.client_url.clone(),
            token: self.token(user).await?,
        })
    }

    /// The server's base URL through the client↔server proxy (the stress driver's readers
    /// go this way so that the proxy records their exchanges).
    pub(crate) fn client_url(&self) -> &str {
        &self.client_url
    }

    /// The server's direct URL (raw HTTP steps and the harness's own reads bypass the
    /// client proxy so they never count as steps).
    pub(crate) async fn server_url(&self) -> String {
        self.server.lock().await.url()
    }

    /// The server's process id, while it runs.
    pub(crate) async fn server_pid(&self) -> Option<u32> {
        self.server.lock().await.pid()
    }

    /// Kills the server (if running) and starts it again on the same port and database.
    pub(crate) async fn restart_server(&self) -> Result<(), WorldError> {
        if self.is_object_store() {
            return Err(WorldError::NoServer(self.profile));
        }
        self.server.lock().await.restart().await
    }

    /// Restarts the server if it is not running (a proxy killed it); whether it had to.
    pub(crate) async fn ensure_server(&self) -> Result<bool, WorldError> {
        if self.is_object_store() {
            return Ok(false);
        }
        let mut s = self.server.lock().await;
        if s.exited() {
            s.restart().await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// GET /v1/backup straight to the server: `(version, body)` or `None` on 404. For an
    /// object-store profile: the user's final object from S3 (version 0: the store has
    /// none).
    pub(crate) async fn fetch(&self, user: &str) -> Result<Option<(u64, Vec<u8>)>, Verdict> {
        if self.is_object_store() {
            let key = self.object_key(user, StoreObject::Final);
            return Ok(self.get_object_if_any(&key).await?.map(|b| (0, b)));
        }
        let token = self.token(user).await?;
        let url = format!("{}/v1/backup", self.server_url().await);
        let resp = http_client()
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| Verdict::fail("GET /v1/backup answers", "no answer", e.to_string()))?;
        if resp.status() == 404 {
            return Ok(None);
        }
        if resp.status() != 200 {
            return Err(Verdict::fail(
                "GET /v1/backup → 200 or 404",
                resp.status().as_u16().to_string(),
                "fetching the stored blob",
            ));
        }
        let version = etag_version(resp.headers().get("etag").and_then(|v| v.to_str().ok()))
            .ok_or_else(|| {
                Verdict::fail(
                    "an ETag \"<version>\"",
                    "none or malformed",
                    "GET /v1/backup",
                )
            })?;
        let body = resp
            .bytes()
            .await
            .map_err(|e| Verdict::fail("a body", "read failed", e.to_string()))?;
        Ok(Some((version, body.to_vec())))
    }

    pub(crate) async fn shutdown(&self, infra: &Infra) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for a in self.actors.values() {
            let a = a.clone();
            let _ = tokio::task::spawn_blocking(move || {
                a.lock().unwrap_or_else(|p| p.into_inner()).kill();
            })
            .await;
        }
        self.server.lock().await.kill().await;
        self.client_proxy.stop();
        if let Some(s) = &self.storage {
            s.s3_proxy.stop();
        }
        // The server is gone; its database is of no further use, and a run that kept one
        // per case would end by removing hundreds (docs/STACK.md, "scratch folder").
        // `BACKPROOF_KEEP_DATABASES=1` keeps them for inspection after the run.
        if let (Some(db), Some(stack)) = (&self.database, &infra.stack)
            && std::env::var_os(KEEP_DATABASES_VAR).is_none_or(|v| v.is_empty() || v == "0")
            && let Err(e) = stack.postgres.drop_database(db).await
        {
            tracing::debug!("cannot drop the case's database: {e}");
        }
    }
}

/// `DELETE /v1/backup` for one account of a server given by URL, unconditionally: 204 (it
/// had one) and 404 (it had none) both leave it empty; anything else means the case cannot
/// start from a known state.
async fn clear_account(
    url: &str,
    logical: &str,
    entry: &str,
    token: &str,
) -> Result<(), WorldError> {
    let endpoint = format!("{url}/v1/backup");
    let what = format!(
        "clearing user {logical} (tokens file entry {entry:?}) before the case: DELETE {endpoint}"
    );
    let resp = http_client()
        .delete(&endpoint)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|source| WorldError::ClearNoAnswer {
            what: what.clone(),
            source,
        })?;
    match resp.status().as_u16() {
        204 | 404 => Ok(()),
        code => {
            let body = resp.text().await.unwrap_or_default();
            let body: String = body.trim().chars().take(200).collect();
            Err(WorldError::ClearRefused {
                what,
                code,
                body: if body.is_empty() {
                    String::new()
                } else {
                    format!(": {body}")
                },
            })
        }
    }
}

/// Profile `noah-v0` on a server given by URL: every slot API v0 lists for the account is
/// deleted (docs/API-v0.md), so the case starts with none.
async fn clear_slots(url: &str, logical: &str, entry: &str, token: &str) -> Result<(), WorldError> {
    let what = |call: &str| {
        format!(
            "clearing the slots of user {logical} (tokens file entry {entry:?}) before the case: POST {url}/v0/backup/{call}"
        )
    };
    let post = |call: &'static str, body: serde_json::Value| {
        http_client()
            .post(format!("{url}/v0/backup/{call}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let resp = post("list", serde_json::json!({}))
        .await
        .map_err(|source| WorldError::ClearNoAnswer {
            what: what("list"),
            source,
        })?;
    let code = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    let slots: Vec<serde_json::Value> = match (code, serde_json::from_str(&body)) {
        (200, Ok(serde_json::Value::Array(a))) => a,
        _ => {
            return Err(WorldError::ClearRefused {
                what: what("list"),
                code,
                body: format!(": {}", body.trim().chars().take(200).collect::<String>()),
            });
        }
    };
    for v in slots.iter().filter_map(|s| s.get("backup_version")) {
        let resp = post("delete", serde_json::json!({"backup_version": v}))
            .await
            .map_err(|source| WorldError::ClearNoAnswer {
                what: what("delete"),
                source,
            })?;
        let code = resp.status().as_u16();
        if !matches!(code, 204 | 404) {
            return Err(WorldError::ClearRefused {
                what: what("delete"),
                code,
                body: String::new(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{etag_version, free_port};

    #[test]
    fn a_leased_port_is_never_leased_twice_and_stays_out_of_the_ephemeral_range() {
        let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let leases: Vec<_> = (0..200).map(|_| free_port().unwrap()).collect();
        let mut ports: Vec<u16> = leases.iter().map(|l| l.port()).collect();
        assert!(ports.iter().all(|&p| p < low), "{ports:?} vs {low}");
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), leases.len(), "a port was leased twice");
        // The claim is what other processes see: taken while leased, free once dropped.
        use std::os::linux::net::SocketAddrExt;
        let p = leases[0].port();
        let name =
            std::os::unix::net::SocketAddr::from_abstract_name(format!("backproof-port-{p}"))
                .unwrap();
        assert!(std::os::unix::net::UnixListener::bind_addr(&name).is_err());
        drop(leases);
        // A process that another test forks in this instant holds a copy of the claim
        // until it execs (the socket is close-on-exec), so "free" may come a moment later.
        let freed = (0..100).any(|_| {
            std::os::unix::net::UnixListener::bind_addr(&name).is_ok() || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                false
            }
        });
        assert!(freed, "the claim on port {p} outlived its lease by 5 s");
    }

    #[test]
    fn etags_are_strict() {
        assert_eq!(etag_version(Some("\"12\"")), Some(12));
        assert_eq!(etag_version(Some("12")), None);
        assert_eq!(etag_version(Some("W/\"12\"")), None);
        assert_eq!(etag_version(None), None);
    }
}
