//! The suite on a second, independent S3: moto's server mode (PyPI `moto[server]`) instead
//! of the embedded s3s-fs (docs/STACK.md, "A second S3: moto"). The test starts
//! `moto_server` on a free port of 127.0.0.1 and a throwaway PostgreSQL with
//! `backproof stack up --stack local`, then runs `backproof run --stack env` on both: the
//! reference must pass the selection as it does on s3s-fs. Without `moto_server` (on PATH,
//! or named by `BACKPROOF_MOTO_SERVER`) the test says so and passes, unless
//! BACKPROOF_REQUIRE_TOOLS=1.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backproof_report::Outcome;
use common::{RunOut, exe, root, tool_available};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

mod common;

/// What runs on moto: every protocol case (auth, limits, ETags, stalls, storage listings),
/// the concurrent writers of the stress case, storage damage, an S3 outage window and the
/// crash enumeration of a rotation — every kind of S3 call the server and the harness make.
const FILTER: &str = "{protocol/*,conflict/stress-raw-key,corrupted-blob/flip-ciphertext*,corrupted-blob/truncate-*,mid-rotation-crash/storage-503-retry,mid-rotation-crash/server-crash-every-storage-step}";

/// A child process stopped with SIGTERM (then waited for) when the test ends, however it ends.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let _ = self.0.wait();
    }
}

fn moto_server() -> String {
    std::env::var("BACKPROOF_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts moto on 127.0.0.1 and waits (bounded) until it answers.
fn start_moto() -> (Stopped, String) {
    let port = free_port();
    let child = Command::new(moto_server())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let guard = Stopped(child);
    let endpoint = format!("http://127.0.0.1:{port}");
    // A Python server on a loaded machine takes seconds to import; a generous bound.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (guard, endpoint);
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen on {endpoint} within 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `backproof stack up --stack local` until `# ready`: its `BACKPROOF_DATABASE_URL`.
fn start_postgres() -> (Stopped, String) {
    let mut child = Command::new(exe())
        .args(["stack", "up", "--stack", "local"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("backproof stack up starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let guard = Stopped(child);
    let mut url = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("stack up's stdout");
        if let Some(v) = line.strip_prefix("BACKPROOF_DATABASE_URL=") {
            url = Some(v.trim_matches('\'').to_string());
        }
        if line == "# ready" {
            break;
        }
    }
    let url = url.expect("stack up printed BACKPROOF_DATABASE_URL before # ready");
    (guard, url)
}

#[test]
fn the_reference_passes_the_suite_on_moto() {
    if !tool_available(
        Command::new(moto_server()).arg("--help"),
        "moto_server (pip install 'moto[server]')",
    ) {
        return;
    }
    let (_moto, endpoint) = start_moto();
    let (_pg, database_url) = start_postgres();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(exe())
        .current_dir(root())
        .args(["run", "--quiet", "--stack", "env", "--filter", FILTER])
        .arg("--scenarios")
        .arg(root().join("scenarios"))
        .arg("--vectors")
        .arg(root().join("vectors"))
        .arg("--report")
        .arg(dir.path().join("report.json"))
        .env("BACKPROOF_DATABASE_URL", &database_url)
        .env("BACKPROOF_S3_ENDPOINT", &endpoint)
        // moto accepts any credentials; SigV4 is still computed and sent.
        .env("BACKPROOF_S3_ACCESS_KEY", "moto-access")
        .env("BACKPROOF_S3_SECRET_KEY", "moto-secret")
        .env_remove("BACKPROOF_S3_BUCKET")
        .output()
        .expect("backproof runs");
    eprintln!("backproof run on moto: {:?}", started.elapsed());
    let out = RunOut {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        dir: dir.path().to_path_buf(),
    };
    let log = out.log();
    let report = out.report();
    let stack = &report.stack;
    assert!(
        stack.contains(&endpoint) && !stack.contains("s3s"),
        "the run used moto at {endpoint}, not another S3: {stack}\n{log}"
    );
    let bad = out.failures();
    assert!(bad.is_empty(), "{}\n{log}", bad.join("\n"));
    assert_eq!(out.code, 0, "{log}");
    // A selection that matched nothing, or ran nothing, proves nothing.
    let passed = out.ids(Outcome::Pass).len() + out.ids(Outcome::PassAcceptable).len();
    assert!(passed >= 50, "only {passed} cases passed\n{log}");
    assert!(
        out.ids(Outcome::Unsupported).is_empty(),
        "{:?}\n{log}",
        out.ids(Outcome::Unsupported)
    );
}
