//! Answers sent before the body was read (413 from `Content-Length`, 401) reach a naive
//! client that writes its whole request before reading: the server drains the rest of the
//! body before closing (docs/API.md, "Early answers"), instead of closing into unread bytes,
//! which makes the kernel reset the connection and destroys the answer.

mod common;

use common::{Env, addr, blocking_exchange, token};
use serde_json::Value;

/// Tries per case: the reset came at random, so one success proves little.
const TRIES: usize = 20;

async fn exchange_many(base: &str, head: String, body_len: usize) -> Vec<(u16, Value)> {
    let addr = addr(base);
    tokio::task::spawn_blocking(move || {
        let body = vec![b'x'; body_len];
        (0..TRIES)
            .map(|i| {
                let (status, head_seen, body) = blocking_exchange(&addr, &head, &body)
                    .unwrap_or_else(|e| panic!("try {i}: the exchange failed: {e}"));
                assert!(
                    head_seen.contains("content-type: application/problem+json"),
                    "try {i}: {head_seen}"
                );
                (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
            })
            .collect()
    })
    .await
    .expect("the blocking client ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_413_and_401_reach_a_client_that_writes_everything_first() {
    let env = Env::start("early").await;
    let (base, _h) = env.server(env.config()).await;
    let limit = backproof_server::DEFAULT_MAX_BLOB_BYTES as usize;
    let t = token("ada");

    let head = format!(
        "POST /v1/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\
         Content-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
        limit + 1
    );
    for (i, (status, j)) in exchange_many(&base, head, limit + 1)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(status, 413, "try {i}: {j}");
        assert_eq!(j["type"], "urn:backproof:problem:body-too-large", "try {i}");
    }

    // No token, a body within the limit: 401 before the body is read.
    let head = format!(
        "POST /v1/backup HTTP/1.1\r\nHost: x\r\nContent-Length: {limit}\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    for (i, (status, j)) in exchange_many(&base, head, limit)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(status, 401, "try {i}: {j}");
        assert_eq!(j["type"], "urn:backproof:problem:unauthorized", "try {i}");
    }
    assert!(env.rows().await.is_empty(), "nothing was stored");
}
