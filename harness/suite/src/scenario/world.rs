//! What one scenario runs against: a fresh database and bucket on the shared stack, the
//! server under test as a child process, the two fault proxies, tokens, and the actors'
//! adapter processes. A server given by URL has none of the storage and no process: its
//! two accounts are cleared before every world instead.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backproof_client::adapter::AdapterProcess;
use backproof_faults::{FaultProxy, ProxyOptions};
use backproof_stack::Stack;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use super::Infra;
use crate::tokens::UrlTokens;

/// How the harness starts the server under test.
#[derive(Debug, Clone)]
pub enum ServerTarget {
    /// `<exe> serve` (the reference), plus extra flags.
    Reference {
        exe: PathBuf,
        extra_args: Vec<String>,
    },
    /// Any command, given the stack in its environment and `PORT`; `token_cmd` prints a
    /// token for the user named by `{user}` (also in `BACKPROOF_USER`).
    Command { cmd: String, token_cmd: String },
    /// A server already running at `url` (`http://…` or `https://…`, no trailing `/`; see
    /// [`crate::tokens::parse_server_url`]), with the tokens of two accounts. No process is
    /// started and there is no storage access: restart, storage and failpoint cases are
    /// `unsupported`, and every world first deletes both accounts' backups.
    Url { url: String, tokens: UrlTokens },
}

impl ServerTarget {
    /// Whether the harness starts (and so can kill, restart, and reach the storage of) the
    /// server.
    pub fn is_owned(&self) -> bool {
        !matches!(self, ServerTarget::Url { .. })
    }
}

/// What the run was given; shared by every scenario.
#[derive(Debug, Clone)]
pub struct Target {
    pub server: ServerTarget,
    /// The adapter command of the client under test.
    pub client_adapter: String,
    /// Capabilities the target offers (`server-restart`, `storage-access`,
    /// `client-adapter`, `op:<name>` from the adapter's hello).
    pub capabilities: Vec<String>,
}

/// The server child process.
#[derive(Debug)]
pub struct ServerProc {
    child: Option<Child>,
    pub port: u16,
    env: Vec<(String, String)>,
    target: ServerTarget,
    extra_args: Vec<String>,
    once_env: Vec<(String, String)>,
    log: Arc<Mutex<Vec<u8>>>,
}

/// Why a server given by URL cannot do what a case asked (normally such a case is
/// `unsupported` before it starts; this guards the engine's own calls).
const NOT_OWNED: &str = "the server was given by URL: backproof cannot restart it";

impl ServerProc {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    pub fn url(&self) -> String {
        match &self.target {
            ServerTarget::Url { url, .. } => url.clone(),
            _ => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// Whether the process has exited (and is reaped). A server given by URL never has.
    pub fn exited(&mut self) -> bool {
        if !self.target.is_owned() {
            return false;
        }
        match self.child.as_mut() {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => true,
        }
    }

    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let start = log.len().saturating_sub(2000);
        String::from_utf8_lossy(&log[start..]).into_owned()
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = match &self.target {
            ServerTarget::Reference { exe, extra_args } => {
                let mut c = Command::new(exe);
                c.arg("serve")
                    .arg("--listen")
                    .arg(format!("127.0.0.1:{}", self.port));
                c.args(extra_args).args(&self.extra_args);
                c
            }
            ServerTarget::Command { cmd, .. } => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(cmd);
                c
            }
            ServerTarget::Url { .. } => return Err(NOT_OWNED.into()),
        };
        let once = std::mem::take(&mut self.once_env);
        cmd.envs(
            self.env
                .iter()
                .chain(once.iter())
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .env("PORT", self.port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // A group of its own: the proxies kill the group, so a wrapper script dies
        // together with the server it started.
        .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the server under test: {e}"))?;
        for pipe in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = self.log.clone();
            tokio::spawn(async move {
                let mut pipe = pipe;
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                    l.extend_from_slice(&buf[..n]);
                    if l.len() > 64 * 1024 {
                        let cut = l.len() - 32 * 1024;
                        l.drain(..cut);
                    }
                }
            });
        }
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        let url = format!("{}/healthz", self.url());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if self.exited() {
                return Err(format!(
                    "the server under test exited during start-up; its output ends with:\n{}",
                    self.log_tail()
                ));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "the server under test did not answer GET /healthz within 60 s; its output ends with:\n{}",
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Kills the process group (if running) and starts it again on the same port.
    pub async fn restart(&mut self) -> Result<(), String> {
        self.kill().await;
        self.spawn().await
    }

    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Some(pid) = c.id()
                && let Ok(raw) = i32::try_from(pid)
            {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(raw),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = c.kill().await;
            let _ = c.wait().await;
        }
    }
}

/// Restarts the server whenever it dies, until the world shuts down.
pub fn spawn_auto_restart(world: Arc<World>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !world.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut s = world.server.lock().await;
            if !world.stopping.load(std::sync::atomic::Ordering::SeqCst)
                && s.exited()
                && let Err(e) = s.restart().await
            {
                tracing::warn!("auto-restart of the server failed: {e}");
            }
        }
    })
}

/// One scenario's world.
#[derive(Debug)]
pub struct World {
    pub server: tokio::sync::Mutex<ServerProc>,
    pub client_proxy: FaultProxy,
    /// The server's base URL as the client sees it: through the client proxy.
    client_url: String,
    /// The world's bucket and the proxy in front of S3; `None` for a server given by URL.
    pub storage: Option<Storage>,
    tokens: Mutex<BTreeMap<String, String>>,
    /// Logical user → user name on the server (unique per world).
    prefix: String,
    pub actors: BTreeMap<String, Arc<Mutex<AdapterProcess>>>,
    pub actor_users: BTreeMap<String, String>,
    pub saved: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Set by `shutdown`: the auto-restart watcher stops.
    pub stopping: std::sync::atomic::AtomicBool,
    target: Target,
    auth_secret: String,
    _dir: tempfile::TempDir,
    pub dir: PathBuf,
}

/// A world's own bucket on the shared stack, and the fault proxy the server reaches it by.
#[derive(Debug)]
pub struct Storage {
    pub bucket: String,
    pub s3: aws_sdk_s3::Client,
    pub s3_proxy: FaultProxy,
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

impl World {
    /// Replaces this world's bucket and user prefix in a recorded request path with
    /// placeholders: every crash point runs in a fresh world with fresh names, and reports
    /// must not carry random ids.
    pub fn generalize(&self, path: &str) -> String {
        let bucket = self.storage.as_ref().map_or("", |s| s.bucket.as_str());
        replace_nonempty(
            &replace_nonempty(path, bucket, "{bucket}"),
            &self.prefix,
            "{p}",
        )
    }

    /// The inverse of [`World::generalize`] for this world's names.
    pub fn localize(&self, pattern: &str) -> String {
        let bucket = self.storage.as_ref().map_or("", |s| s.bucket.as_str());
        pattern
            .replace("{bucket}", bucket)
            .replace("{p}", &self.prefix)
    }

    /// The world's storage, for steps that need it (`storage-access` cases).
    pub fn storage(&self) -> Result<&Storage, String> {
        self.storage.as_ref().ok_or_else(|| {
            "the server was given by URL: backproof has no access to its storage".to_string()
        })
    }
}

/// The scenario's own folder (adapter state dirs, logs), removed with the world.
fn scenario_dir() -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix("backproof-scenario-")
        .tempdir()
        .map_err(|e| e.to_string())
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    // getrandom only fails when the OS has no entropy source at all.
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

impl World {
    /// Creates the database and bucket, starts the S3 proxy, the server, the client proxy.
    pub async fn create(
        infra: &Infra,
        target: &Target,
        extra_args: &[String],
        once_env: &[(String, String)],
        actors: &[(String, String)],
        label: &str,
    ) -> Result<World, String> {
        if let ServerTarget::Url { url, tokens } = &target.server {
            return World::create_for_url(target, url, tokens, actors).await;
        }
        let stack: &Stack = infra
            .stack
            .as_ref()
            .ok_or("no stack was started for a server the harness runs")?;
        let tag = random_hex(4);
        let db = stack
            .postgres
            .create_unique_database("bp")
            .await
            .map_err(|e| format!("cannot create a database: {e}"))?;
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
            .map_err(|e| format!("cannot create bucket {bucket}: {e}"))?;
        let s3_proxy = FaultProxy::start(stack.s3.endpoint())
            .await
            .map_err(|e| e.to_string())?;
        let auth_secret = random_hex(32);
        let env = vec![
            ("BACKPROOF_DATABASE_URL".to_string(), db),
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
        let mut server = ServerProc {
            child: None,
            port: free_port()?,
            env,
            target: target.server.clone(),
            extra_args: extra_args.to_vec(),
            once_env: once_env.to_vec(),
            log: Arc::default(),
        };
        server.spawn().await?;
        let client_proxy = FaultProxy::start(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        let dir = scenario_dir()?;
        let world = World {
            server: tokio::sync::Mutex::new(server),
            client_url: client_proxy.url(),
            client_proxy,
            storage: Some(Storage {
                bucket,
                s3: stack.s3.client().await,
                s3_proxy,
            }),
            tokens: Mutex::default(),
            prefix: format!("u{tag}-"),
            actors: BTreeMap::new(),
            actor_users: BTreeMap::new(),
            saved: Mutex::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            target: target.clone(),
            auth_secret,
            dir: dir.path().to_path_buf(),
            _dir: dir,
        };
        world.start_actors(actors).await
    }

    /// A world on a server given by URL: both accounts' backups deleted first (the
    /// accounts are shared by every case of the run, which therefore runs one at a time),
    /// the client proxy in front of the URL, no storage, no process.
    async fn create_for_url(
        target: &Target,
        url: &str,
        tokens: &UrlTokens,
        actors: &[(String, String)],
    ) -> Result<World, String> {
        for (logical, entry) in tokens.mapping() {
            let token = tokens.token(logical).unwrap_or_default();
            clear_account(url, logical, entry, token).await?;
        }
        let server = ServerProc {
            child: None,
            port: 0,
            env: Vec::new(),
            target: target.server.clone(),
            extra_args: Vec::new(),
            once_env: Vec::new(),
            log: Arc::default(),
        };
        // The server is reached by name (virtual host, CDN, TLS certificate): it must see its
        // own name in Host, not the proxy's 127.0.0.1 address.
        let client_proxy = FaultProxy::start_with(
            url,
            ProxyOptions {
                rewrite_host: true,
                extra_root_pem: None,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        // The proxy forwards the request path as is, so a base path (`http://host/api`)
        // goes into the client's URL, in front of the proxy.
        let base_path = reqwest::Url::parse(url)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        let dir = scenario_dir()?;
        let world = World {
            server: tokio::sync::Mutex::new(server),
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
        };
        world.start_actors(actors).await
    }

    /// Starts the actors' adapter processes (each with its own state dir) and says hello.
    async fn start_actors(mut self, actors: &[(String, String)]) -> Result<World, String> {
        let world = &mut self;
        // Adapters start in parallel, off the async threads (spawn and hello block).
        let starts: Vec<_> = actors
            .iter()
            .map(|(name, _)| {
                let state = world.dir.join(format!("state-{name}"));
                let cmd = world.target.client_adapter.clone();
                tokio::task::spawn_blocking(move || -> Result<AdapterProcess, String> {
                    std::fs::create_dir_all(&state).map_err(|e| e.to_string())?;
                    let mut p = AdapterProcess::spawn(&cmd, Some(&state))
                        .map_err(|e| format!("cannot start the client adapter: {e}"))?;
                    p.hello()
                        .map_err(|e| format!("client adapter hello failed: {e}"))?;
                    Ok(p)
                })
            })
            .collect();
        for ((name, user), start) in actors.iter().zip(starts) {
            let p = start.await.map_err(|e| e.to_string())??;
            world.actors.insert(name.clone(), Arc::new(Mutex::new(p)));
            world.actor_users.insert(name.clone(), user.clone());
        }
        Ok(self)
    }

    /// The server-side user name of a logical user (for a server given by URL: the name
    /// of its entry in the tokens file).
    pub fn user_name(&self, user: &str) -> String {
        if let ServerTarget::Url { tokens, .. } = &self.target.server {
            return tokens.entry(user).unwrap_or(user).to_string();
        }
        format!("{}{user}", self.prefix)
    }

    /// A token for a logical user, minted by the target's token command.
    pub async fn token(&self, user: &str) -> Result<String, String> {
        if let Some(t) = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
        {
            return Ok(t.clone());
        }
        if let ServerTarget::Url { tokens, .. } = &self.target.server {
            return tokens.token(user).map(str::to_string).ok_or_else(|| {
                let mapped: Vec<String> = tokens
                    .mapping()
                    .iter()
                    .map(|(l, e)| format!("{l} (entry {e:?})"))
                    .collect();
                format!(
                    "the case uses user {user:?}, but a server given by URL has only the users \
                     of the tokens file, mapped to {}",
                    mapped.join(" and ")
                )
            });
        }
        let name = self.user_name(user);
        let mut cmd = match &self.target.server {
            ServerTarget::Reference { exe, .. } => {
                let mut c = Command::new(exe);
                c.args(["serve", "token", "--user", &name]);
                c
            }
            ServerTarget::Command { token_cmd, .. } => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(token_cmd.replace("{user}", &name));
                c
            }
            // Answered from the tokens file above.
            ServerTarget::Url { .. } => {
                return Err("no token command for a server given by URL".into());
            }
        };
        let out = cmd
            .env("BACKPROOF_AUTH_SECRET", &self.auth_secret)
            .env("BACKPROOF_USER", &name)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run the token command: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "token command failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if token.is_empty() {
            return Err("token command printed nothing".into());
        }
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_string(), token.clone());
        Ok(token)
    }

    /// The `server` object of the adapter protocol for a logical user (through the
    /// client↔server proxy).
    pub async fn wire_server(&self, user: &str) -> Result<serde_json::Value, String> {
        Ok(serde_json::json!({"url": self.client_url, "token": self.token(user).await?}))
    }

    /// The server's direct URL (raw HTTP steps and the harness's own reads bypass the
    /// client proxy so they never count as steps).
    pub async fn server_url(&self) -> String {
        self.server.lock().await.url()
    }

    pub async fn shutdown(&self) {
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
    }
}

/// `DELETE /v1/backup` for one account of a server given by URL, unconditionally: 204 (it
/// had one) and 404 (it had none) both leave it empty; anything else means the case cannot
/// start from a known state.
async fn clear_account(url: &str, logical: &str, entry: &str, token: &str) -> Result<(), String> {
    let endpoint = format!("{url}/v1/backup");
    let what = format!(
        "clearing user {logical} (tokens file entry {entry:?}) before the case: DELETE {endpoint}"
    );
    let resp = super::exec::http_client()
        .delete(&endpoint)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("{what}: no answer: {e}"))?;
    match resp.status().as_u16() {
        204 | 404 => Ok(()),
        code => {
            let body = resp.text().await.unwrap_or_default();
            let body: String = body.trim().chars().take(200).collect();
            Err(format!(
                "{what} answered {code} (expected 204 or 404){}",
                if body.is_empty() {
                    String::new()
                } else {
                    format!(": {body}")
                }
            ))
        }
    }
}
