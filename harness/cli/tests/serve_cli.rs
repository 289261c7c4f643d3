//! `backproof serve` as a user runs it: the demo stack, the default request log, and a
//! graceful stop on SIGTERM that removes the throwaway stack's temporary directories.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Starting the throwaway stack (initdb) on a loaded CI host.
const START_TIMEOUT: Duration = Duration::from_secs(90);
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Kills the child if the test fails before it exited.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn demo_serve_logs_requests_and_sigterm_removes_the_stack() {
    let work = tempfile::tempdir().unwrap();
    // The stack's temp dirs go here (TMPDIR); searchable by all because Postgres runs as
    // uid 65534 when the tests run as root.
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let stderr_path = work.path().join("stderr.log");

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_backproof"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("TMPDIR", &tmp)
        // No Docker: the throwaway cluster and the embedded (or minio) S3, both in TMPDIR.
        .env("DOCKER_HOST", "unix:///nonexistent/backproof/docker.sock")
        .env_remove("RUST_LOG")
        .env_remove("PORT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BACKPROOF_") {
            cmd.env_remove(name);
        }
    }
    let mut child = Reap(cmd.spawn().unwrap());
    let stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();

    // stdout: "listening on http://ADDR", then the demo token line.
    let (tx, rx) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut addr = None;
    let mut token = None;
    let deadline = Instant::now() + START_TIMEOUT;
    while addr.is_none() || token.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no address and token ({e}); stderr:\n{}", stderr()));
        if let Some(a) = line.strip_prefix("listening on http://") {
            addr = Some(a.trim().to_owned());
        } else if let Some(t) = line.strip_prefix("demo token (user \"demo\"): ") {
            token = Some(t.trim().to_owned());
        }
    }
    let (addr, token) = (addr.unwrap(), token.unwrap());
    // In the run's own folder in TMPDIR (docs/STACK.md, "Nothing outlives a run").
    let stack_dirs: Vec<String> = entries(&tmp)
        .iter()
        .filter(|d| d.starts_with("backproof-run-"))
        .flat_map(|d| entries(&tmp.join(d)))
        .collect();
    assert!(
        stack_dirs.iter().any(|d| d.starts_with("backproof-pg-")),
        "the throwaway cluster lives in TMPDIR/backproof-run-<id>: {stack_dirs:?}"
    );

    // One request; its log line must appear without RUST_LOG.
    let body = [7u8; 64];
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /v1/backup HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body).unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");

    let pid = child.0.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + EXIT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running {EXIT_TIMEOUT:?} after SIGTERM; stderr:\n{}",
            stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = stderr();
    assert_eq!(status.code(), Some(0), "{status}; stderr:\n{log}");
    assert!(
        log.lines().any(|l| l.contains("backproof_server::access")
            && l.contains("demo")
            && l.contains("status=201")
            && l.contains("bytes=64")),
        "the request is logged by default; stderr:\n{log}"
    );
    assert_eq!(
        entries(&tmp),
        Vec::<String>::new(),
        "SIGTERM removes the throwaway stack (was {stack_dirs:?}); stderr:\n{log}"
    );
}
