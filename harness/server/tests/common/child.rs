//! The server as a real child process (`backproof-test-server`), for tests that crash it,
//! signal it and restart it. The child is killed and reaped when its handle drops, so a
//! failing test leaves no server behind.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use super::{Env, SECRET};

/// Start-up includes migrations and the S3 bucket check; generous for a loaded CI host.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a crash or a graceful stop may take to end the process.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

pub struct ServerProcess {
    child: Child,
    /// `http://ADDR`, or None when the process ended before announcing its address.
    base: Option<String>,
    stderr: tempfile::NamedTempFile,
    // Kept open so the child never writes into a closed pipe.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl ServerProcess {
    /// Starts `backproof-test-server` on `env`'s stack and waits for its `listening on` line
    /// (or its exit). `failpoints` becomes `BACKPROOF_FAILPOINTS`; the test's own is never
    /// inherited.
    /// Orphan grace is 0 and the periodic sweep is an hour away, so the only sweep a test
    /// sees is the one at start.
    pub async fn start(env: &Env, failpoints: Option<&str>) -> ServerProcess {
        let stderr = tempfile::NamedTempFile::new().expect("stderr file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_backproof-test-server"));
        cmd.env_remove("BACKPROOF_FAILPOINTS")
            .env_remove("FAILPOINTS")
            .env("BACKPROOF_LISTEN", "127.0.0.1:0")
            .env("BACKPROOF_DATABASE_URL", &env.db_url)
            .env("BACKPROOF_S3_ENDPOINT", env.stack.s3.endpoint())
            .env("BACKPROOF_S3_BUCKET", env.stack.s3.bucket())
            .env("BACKPROOF_S3_ACCESS_KEY", env.stack.s3.access_key())
            .env("BACKPROOF_S3_SECRET_KEY", env.stack.s3.secret_key())
            .env("BACKPROOF_S3_REGION", env.stack.s3.region())
            .env("BACKPROOF_AUTH_SECRET", SECRET)
            .env("BACKPROOF_ORPHAN_GRACE", "0")
            .env("BACKPROOF_SWEEP_INTERVAL", "1h")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr.reopen().expect("reopen stderr file")))
            .kill_on_drop(true);
        if let Some(fp) = failpoints {
            cmd.env("BACKPROOF_FAILPOINTS", fp);
        }
        let mut child = cmd.spawn().expect("spawn backproof-test-server");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut base = None;
        let read = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = stdout.next_line().await.expect("read child stdout") {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    base = Some(addr.trim().to_owned());
                    break;
                }
            }
        })
        .await;
        let process = ServerProcess {
            child,
            base,
            stderr,
            _stdout: stdout,
        };
        if read.is_err() {
            panic!(
                "the server did not announce its address within {START_TIMEOUT:?}; stderr:\n{}",
                process.stderr()
            );
        }
        process
    }

    /// The base URL; panics (with the child's stderr) if it never listened.
    pub fn url(&self) -> &str {
        match &self.base {
            Some(b) => b,
            None => panic!(
                "the server exited before listening; stderr:\n{}",
                self.stderr()
            ),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id().expect("the child has not been reaped") as i32
    }

    /// What the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).expect("send signal");
    }

    /// Waits (bounded) for the process to end on its own.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        match tokio::time::timeout(EXIT_TIMEOUT, self.child.wait()).await {
            Ok(status) => status.expect("wait for the child"),
            Err(_) => panic!(
                "the server did not exit within {EXIT_TIMEOUT:?}; stderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// Waits for a crash and asserts it was an abort (SIGABRT), not an exit.
    pub async fn expect_abort(&mut self) {
        let status = self.wait_exit().await;
        assert_eq!(
            status.signal(),
            Some(nix::sys::signal::Signal::SIGABRT as i32),
            "expected the process to abort, got {status}; stderr:\n{}",
            self.stderr()
        );
    }

    /// SIGTERM, then asserts a graceful exit with status 0.
    pub async fn stop(mut self) {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let status = self.wait_exit().await;
        assert!(
            status.success(),
            "expected exit 0 after SIGTERM, got {status}; stderr:\n{}",
            self.stderr()
        );
    }
}
