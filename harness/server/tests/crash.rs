//! Crash safety with the server as a real child process: at every failpoint the process
//! aborts (`BACKPROOF_FAILPOINTS="<name>=return(crash)"`), is restarted without failpoints,
//! and the stack must hold what the write path promises (docs/API.md, "Write path and crash
//! safety"): the row names a complete object whose hash it records, the version the row
//! names is the one that was (or would have been) acknowledged, the orphan the crash left
//! is swept, and the client's retry gets an answer that tells it what happened.

mod common;

use std::time::{Duration, Instant};

use backproof_server::failpoint::NAMES;
use common::child::ServerProcess;
use common::{Env, blob, sha256_hex, token};
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// What a crash at a write-path failpoint must leave behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The crash came before the commit: version 1 and its object stay; the new object is
    /// an orphan.
    NotCommitted,
    /// The crash came after the commit: version 2 names the new, complete object; the
    /// previous object is an orphan.
    Committed,
}

/// The write-path failpoints, in write order, with what a crash there must leave.
const WRITE_PATH: [(&str, Outcome); 3] = [
    ("after_s3_put", Outcome::NotCommitted),
    ("before_commit", Outcome::NotCommitted),
    ("after_commit", Outcome::Committed),
];

/// The sweeper's failpoint (tested by `crash_during_sweep_deletes_nothing_and_restart_sweeps`).
const SWEEP: &str = "during_sweep";

/// How long the start sweep of a restarted server may take to remove an orphan.
const SWEEP_TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn every_failpoint_has_a_crash_test() {
    let mut tested: Vec<&str> = WRITE_PATH.iter().map(|(n, _)| *n).collect();
    tested.push(SWEEP);
    tested.sort_unstable();
    let mut names = NAMES.to_vec();
    names.sort_unstable();
    assert_eq!(
        tested, names,
        "failpoint::NAMES and the crash tests differ: add a test for the new failpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_s3_put_keeps_version_1() {
    crash_during_write("after_s3_put").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_commit_keeps_version_1() {
    crash_during_write("before_commit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_commit_keeps_version_2() {
    crash_during_write("after_commit").await;
}

fn client() -> Client {
    // One client per server process: a pooled connection to a dead process must not be
    // reused for the next one.
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

async fn post(
    c: &Client,
    base: &str,
    tok: &str,
    if_match: Option<&str>,
    body: &[u8],
) -> reqwest::Result<(StatusCode, Value)> {
    let mut rb = c
        .post(format!("{base}/v1/backup"))
        .bearer_auth(tok)
        .body(body.to_vec());
    if let Some(v) = if_match {
        rb = rb.header("if-match", v);
    }
    let r = rb.send().await?;
    let status = r.status();
    let json = r.json().await.unwrap_or(Value::Null);
    Ok((status, json))
}

/// GET: status, ETag, body.
async fn get(c: &Client, base: &str, tok: &str) -> (StatusCode, Option<String>, Vec<u8>) {
    let r = c
        .get(format!("{base}/v1/backup"))
        .bearer_auth(tok)
        .send()
        .await
        .expect("GET sent");
    let status = r.status();
    let etag = r
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, etag, r.bytes().await.expect("GET body").to_vec())
}

/// Polls until the objects under backups/ are exactly `want` (the start sweep runs in the
/// background of a fresh server), bounded by `SWEEP_TIMEOUT`.
async fn wait_for_objects(env: &Env, want: &[String], server: &ServerProcess) {
    let deadline = Instant::now() + SWEEP_TIMEOUT;
    loop {
        let now = env.objects().await;
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {SWEEP_TIMEOUT:?} the objects are {now:?}, expected only {want:?}; server stderr:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates version 1 through a healthy server process and stops it; returns the sha256 the
/// server acknowledged.
async fn create_version_1(env: &Env, tok: &str, v1: &[u8]) -> String {
    let server = ServerProcess::start(env, None).await;
    let (status, ack) = post(&client(), server.url(), tok, None, v1)
        .await
        .expect("create sent");
    assert_eq!(status, StatusCode::CREATED, "{ack}");
    assert_eq!(ack["version"], 1, "{ack}");
    let sha = ack["sha256"].as_str().expect("sha256 in reply").to_owned();
    assert_eq!(sha, sha256_hex(v1), "the acknowledged hash is the body's");
    server.stop().await;
    sha
}

async fn crash_during_write(failpoint: &str) {
    let outcome = WRITE_PATH
        .iter()
        .find(|(n, _)| *n == failpoint)
        .map(|(_, o)| *o)
        .expect("a write-path failpoint");
    let env = Env::start("crash").await;
    let tok = token("carol");
    let v1 = blob(1, 4096);
    let v2 = blob(2, 5000);
    let ack1 = create_version_1(&env, &tok, &v1).await;

    // The replace reaches the failpoint and the process aborts mid-request.
    let mut server = ServerProcess::start(&env, Some(&format!("{failpoint}=return(crash)"))).await;
    let sent = post(&client(), server.url(), &tok, Some("\"1\""), &v2).await;
    assert!(
        sent.is_err(),
        "a crash at {failpoint} must drop the connection, got {sent:?}"
    );
    server.expect_abort().await;
    assert!(
        server
            .stderr()
            .contains(&format!("failpoint {failpoint}: crashing")),
        "the abort came from the failpoint; stderr:\n{}",
        server.stderr()
    );

    // What the crash left, before any restart: the row and its object agree, plus exactly
    // one orphan (the new object, or the replaced one after a commit).
    let (want_version, want_sha) = match outcome {
        Outcome::NotCommitted => (1, ack1.clone()),
        Outcome::Committed => (2, sha256_hex(&v2)),
    };
    let rows = env.rows().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (_, version, key, sha) = rows[0].clone();
    assert_eq!(
        (version, sha.as_str()),
        (want_version, want_sha.as_str()),
        "crash at {failpoint}: the row"
    );
    let objects = env.objects().await;
    assert!(
        objects.contains(&key),
        "crash at {failpoint}: the row points to a missing object {key} ({objects:?})"
    );
    assert_eq!(
        objects.len(),
        2,
        "crash at {failpoint}: one live object and one orphan expected, got {objects:?}"
    );

    // Restart without failpoints: the start sweep (grace 0) removes the orphan, the row is
    // served with the object it names.
    let server = ServerProcess::start(&env, None).await;
    wait_for_objects(&env, std::slice::from_ref(&key), &server).await;
    let c = client();
    let (status, etag, body) = get(&c, server.url(), &tok).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(etag, Some(format!("\"{want_version}\"")));
    assert_eq!(
        sha256_hex(&body),
        want_sha,
        "crash at {failpoint}: GET serves the blob of version {want_version}"
    );

    // The client never got an answer, so it retries its replace of version 1.
    let (status, reply) = post(&c, server.url(), &tok, Some("\"1\""), &v2)
        .await
        .expect("retry sent");
    match outcome {
        Outcome::NotCommitted => {
            assert_eq!(status, StatusCode::OK, "the retry goes through: {reply}");
            assert_eq!(reply["version"], 2, "{reply}");
            assert_eq!(reply["sha256"], sha256_hex(&v2), "{reply}");
        }
        Outcome::Committed => {
            assert_eq!(
                status,
                StatusCode::CONFLICT,
                "the retry learns its write landed: {reply}"
            );
            assert_eq!(reply["current_version"], 2, "{reply}");
        }
    }
    let rows = env.rows().await;
    assert_eq!(
        (rows[0].1, rows[0].3.as_str()),
        (2, sha256_hex(&v2).as_str())
    );
    assert_eq!(
        env.objects().await,
        vec![rows[0].2.clone()],
        "after the retry only the live object is left"
    );
    let (status, _, body) = get(&c, server.url(), &tok).await;
    assert_eq!((status, body), (StatusCode::OK, v2));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_during_sweep_deletes_nothing_and_restart_sweeps() {
    let env = Env::start("crash_sweep").await;
    let tok = token("dave");
    let v1 = blob(3, 4096);
    let ack1 = create_version_1(&env, &tok, &v1).await;
    let rows = env.rows().await;
    let live = rows[0].2.clone();

    // An orphan as a crash between the S3 PUT and the commit leaves one.
    let orphan = format!("backups/dave/{}", uuid::Uuid::new_v4());
    env.stack
        .s3
        .client()
        .await
        .put_object()
        .bucket(env.stack.s3.bucket())
        .key(&orphan)
        .body(blob(4, 4096).into())
        .send()
        .await
        .expect("put the orphan");

    // The start sweep lists the orphan (old enough with grace 0) and aborts at the failpoint
    // before deleting anything.
    let mut server = ServerProcess::start(&env, Some(&format!("{SWEEP}=return(crash)"))).await;
    server.expect_abort().await;
    assert!(
        server
            .stderr()
            .contains(&format!("failpoint {SWEEP}: crashing")),
        "stderr:\n{}",
        server.stderr()
    );
    let mut both = vec![live.clone(), orphan.clone()];
    both.sort();
    assert_eq!(
        env.objects().await,
        both,
        "the crash came before any delete"
    );
    assert_eq!(env.rows().await, rows, "the sweep never touches rows");

    // Restarted, the sweep finishes: the orphan is gone, the live object stays.
    let server = ServerProcess::start(&env, None).await;
    wait_for_objects(&env, std::slice::from_ref(&live), &server).await;
    assert_eq!(env.rows().await, rows);
    let (status, etag, body) = get(&client(), server.url(), &tok).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(etag.as_deref(), Some("\"1\""));
    assert_eq!(sha256_hex(&body), ack1);
    server.stop().await;
}
