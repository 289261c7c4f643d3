//! `backproof vectors check --client-adapter CMD`, run as a real child process: against the
//! reference adapter (everything it offers passes), and against an adapter that hangs
//! (each case becomes an error within the per-call timeout, the run ends non-zero).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_backproof")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Runs `backproof vectors check ARGS...` from the repository root; panics (after killing
/// it) if it is still running after `limit`.
fn vectors_check(args: &[&str], limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(bin())
        .current_dir(root())
        .args(["vectors", "check", "--vectors"])
        .arg(root().join("vectors"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start backproof");
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "vectors check still running after {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("collect output");
    (out, started.elapsed())
}

/// `(passed, failed, unsupported)` from the last stdout line.
fn summary(out: &Output) -> (usize, usize, usize) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let words: Vec<&str> = last.split_whitespace().collect();
    match words.as_slice() {
        [p, "passed,", f, "failed,", u, "unsupported"] => {
            (p.parse().unwrap(), f.parse().unwrap(), u.parse().unwrap())
        }
        _ => panic!(
            "last line is not `N passed, M failed, K unsupported`: {last:?}\nstdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn reference_adapter_passes_every_vector_it_can_answer() {
    let adapter = format!("{} adapter", quote(bin()));
    let (out, _) = vectors_check(&["--client-adapter", &adapter], Duration::from_secs(600));
    let (passed, failed, unsupported) = summary(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(failed, 0);
    assert!(
        passed > 100,
        "only {passed} passed ({unsupported} unsupported)"
    );
    // The protocol has no hkdf/aes-gcm/open_payload op: those vectors must be unsupported.
    assert!(unsupported > 0);
}

#[test]
fn hanging_adapter_cases_become_errors_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hang.py");
    std::fs::write(
        &script,
        r#"import json, sys, time
req = json.loads(sys.stdin.readline())
hello = {"protocol": 1, "implementation": "hang 0", "profiles": ["v1"],
         "ops": ["hello", "derive", "seal", "open"]}
print(json.dumps({"id": req["id"], "result": hello}), flush=True)
time.sleep(600)
"#,
    )
    .unwrap();
    let adapter = format!("python3 {}", quote(&script.to_string_lossy()));
    let (out, took) = vectors_check(
        &[
            "--client-adapter",
            &adapter,
            "--adapter-timeout-secs",
            "2",
            "--filter",
            "blob-v1/[12]",
        ],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "stdout:\n{stdout}");
    assert_eq!(out.status.code(), Some(2), "stdout:\n{stdout}");
    let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ERROR ")).collect();
    assert_eq!(errors.len(), 2, "stdout:\n{stdout}");
    assert!(
        errors.iter().all(|l| l.contains("did not answer")),
        "stdout:\n{stdout}"
    );
    assert_eq!(summary(&out), (0, 2, 0));
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn adapter_that_cannot_start_exits_2_naming_the_command() {
    let (out, _) = vectors_check(
        &[
            "--client-adapter",
            "/nonexistent/backproof-client-xyz --adapter",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/backproof-client-xyz --adapter"),
        "{stderr}"
    );
}
