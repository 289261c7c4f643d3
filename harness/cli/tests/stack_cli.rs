//! `backproof stack up` as a user runs it: the real binary, real exit codes.

use std::process::Command;

#[test]
fn containers_stack_without_docker_exits_2_with_advice() {
    let out = Command::new(env!("CARGO_BIN_EXE_backproof"))
        .args(["stack", "up", "--stack", "containers"])
        // A socket that cannot exist: the no-Docker path even on machines with Docker.
        .env("DOCKER_HOST", "unix:///nonexistent/backproof/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no Docker engine answers"), "{stderr}");
    assert!(stderr.contains("--stack local"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing sourceable may be printed on failure"
    );
}

#[test]
fn unknown_stack_choice_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_backproof"))
        .args(["stack", "up", "--stack", "docker"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("containers"), "{stderr}");
}
