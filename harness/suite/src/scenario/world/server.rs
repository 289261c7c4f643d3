//! The server under test: the three kinds of target (the reference binary, a command, a
//! URL), and the child process the harness starts for the first two.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use super::{World, WorldError};
use crate::tokens::UrlTokens;

/// How the harness reaches the server under test. Everything that differs between the three
/// kinds is a method here.
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

    /// The command that starts the server on `port` (`None`: not the harness's to start).
    fn serve_command(&self, port: u16, scenario_args: &[String]) -> Option<Command> {
        match self {
            ServerTarget::Reference { exe, extra_args } => {
                let mut c = Command::new(exe);
                c.arg("serve")
                    .arg("--listen")
                    .arg(format!("127.0.0.1:{port}"));
                c.args(extra_args).args(scenario_args);
                Some(c)
            }
            ServerTarget::Command { cmd, .. } => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(cmd);
                Some(c)
            }
            ServerTarget::Url { .. } => None,
        }
    }

    /// The command that prints a token for the server-side user `name` (`None`: the tokens
    /// come from the tokens file).
    pub(crate) fn token_command(&self, name: &str) -> Option<Command> {
        match self {
            ServerTarget::Reference { exe, .. } => {
                let mut c = Command::new(exe);
                c.args(["serve", "token", "--user", name]);
                Some(c)
            }
            ServerTarget::Command { token_cmd, .. } => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(token_cmd.replace("{user}", name));
                Some(c)
            }
            ServerTarget::Url { .. } => None,
        }
    }

    /// The tokens file of a server given by URL.
    pub(crate) fn url_tokens(&self) -> Option<&UrlTokens> {
        match self {
            ServerTarget::Url { tokens, .. } => Some(tokens),
            _ => None,
        }
    }

    /// The base URL of a server given by URL.
    pub(crate) fn fixed_url(&self) -> Option<&str> {
        match self {
            ServerTarget::Url { url, .. } => Some(url),
            _ => None,
        }
    }
}

/// The server child process.
#[derive(Debug)]
pub(crate) struct ServerProc {
    child: Option<Child>,
    port: u16,
    env: Vec<(String, String)>,
    target: ServerTarget,
    extra_args: Vec<String>,
    once_env: Vec<(String, String)>,
    log: Arc<Mutex<Vec<u8>>>,
}

impl ServerProc {
    /// A server not started yet; `port` 0 for a server given by URL.
    pub(crate) fn new(
        target: ServerTarget,
        port: u16,
        env: Vec<(String, String)>,
        extra_args: Vec<String>,
        once_env: Vec<(String, String)>,
    ) -> ServerProc {
        ServerProc {
            child: None,
            port,
            env,
            target,
            extra_args,
            once_env,
            log: Arc::default(),
        }
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    pub(crate) fn url(&self) -> String {
        match self.target.fixed_url() {
            Some(url) => url.to_string(),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// Whether the process has exited (and is reaped). A server given by URL never has.
    pub(crate) fn exited(&mut self) -> bool {
        if !self.target.is_owned() {
            return false;
        }
        match self.child.as_mut() {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => true,
        }
    }

    fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let start = log.len().saturating_sub(2000);
        String::from_utf8_lossy(&log[start..]).into_owned()
    }

    pub(crate) async fn spawn(&mut self) -> Result<(), WorldError> {
        let mut cmd = self
            .target
            .serve_command(self.port, &self.extra_args)
            .ok_or(WorldError::NotOwned)?;
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
        let mut child = cmd.spawn().map_err(WorldError::ServerSpawn)?;
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

    async fn wait_ready(&mut self) -> Result<(), WorldError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(WorldError::HttpClient)?;
        let url = format!("{}/healthz", self.url());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if self.exited() {
                return Err(WorldError::ServerExited {
                    log: self.log_tail(),
                });
            }
            if tokio::time::Instant::now() > deadline {
                return Err(WorldError::ServerNotReady {
                    log: self.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Kills the process group (if running) and starts it again on the same port.
    pub(crate) async fn restart(&mut self) -> Result<(), WorldError> {
        self.kill().await;
        self.spawn().await
    }

    pub(crate) async fn kill(&mut self) {
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
pub(crate) fn spawn_auto_restart(world: Arc<World>) -> tokio::task::JoinHandle<()> {
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
