//! The client's pace is the server's to judge (docs/API.md, "Timeouts and limits"): a body
//! that stops arriving for the idle timeout gets 408 `body-timeout` with nothing committed
//! and no object left; a body that trickles but never stops that long is stored, however
//! long it takes; a request head that never completes is cut off.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Env, addr, blob, parse_response, sha256_hex, token};
use serde_json::Value;

/// The head of a POST /v1/backup of `len` bytes, with If-Match when given.
fn post_head(tok: &str, if_match: Option<&str>, len: usize) -> String {
    let if_match = if_match.map_or(String::new(), |v| format!("If-Match: {v}\r\n"));
    format!(
        "POST /v1/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n\
         {if_match}Content-Length: {len}\r\nConnection: close\r\n\r\n"
    )
}

/// Sends `head`, lets `body` write the body at its own pace, and waits for the whole answer
/// as a phone app would: (status, JSON body). Blocking I/O on a blocking thread, so that the
/// pace is the one `body` sets and nothing buffers it.
async fn post_paced(
    addr: String,
    head: String,
    body: impl FnOnce(&mut TcpStream) + Send + 'static,
) -> (u16, Value) {
    let (status, _, resp) = tokio::task::spawn_blocking(move || {
        let mut s = connect(&addr);
        s.write_all(head.as_bytes()).unwrap();
        body(&mut s);
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).expect("the answer arrives");
        parse_response(&resp)
    })
    .await
    .unwrap();
    (status, serde_json::from_slice(&resp).unwrap_or(Value::Null))
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

async fn create_v1(base: &str, tok: &str, body: Vec<u8>) {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/backup"))
        .bearer_auth(tok)
        .body(body)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_body_gets_408_and_changes_nothing() {
    let env = Env::start("paused").await;
    let mut cfg = env.config();
    cfg.body_idle_timeout = Duration::from_secs(1);
    let (base, handle) = env.server(cfg).await;
    let t = token("paula");
    let v1 = blob(1, 1000);
    create_v1(&base, &t, v1.clone()).await;
    let before = env.rows().await;

    // Half the body, then silence: the client keeps the connection open and waits for the
    // answer, as a phone that lost its radio does.
    let head = post_head(&t, Some("\"1\""), 1000);
    let (status, j) = post_paced(addr(&base), head, |s| {
        s.write_all(&blob(2, 500)).unwrap();
    })
    .await;
    assert_eq!(status, 408, "{j}");
    assert_eq!(j["type"], "urn:backproof:problem:body-timeout", "{j}");

    assert_eq!(env.rows().await, before, "no row change");
    handle.sweep_now().await.unwrap();
    assert_eq!(
        env.objects().await,
        vec![before[0].2.clone()],
        "only version 1's object is left"
    );
    let got = reqwest::Client::new()
        .get(format!("{base}/v1/backup"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), v1.as_slice());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_stored() {
    let env = Env::start("trickle").await;
    let mut cfg = env.config();
    // Far above the 200 ms between bytes, so a loaded machine cannot make it fire.
    cfg.body_idle_timeout = Duration::from_secs(5);
    let (base, _h) = env.server(cfg).await;
    let t = token("tom");
    // 40 bytes, one every 200 ms: 8 s, longer than the SDK's stall window ever allowed.
    let data = blob(3, 40);
    let head = post_head(&t, None, data.len());
    let sent = data.clone();
    let (status, j) = post_paced(addr(&base), head, move |s| {
        for b in &sent {
            std::thread::sleep(Duration::from_millis(200));
            s.write_all(std::slice::from_ref(b)).unwrap();
        }
    })
    .await;
    assert_eq!(status, 201, "{j}");
    assert_eq!(j["sha256"], sha256_hex(&data));
    assert_eq!(env.rows().await[0].3, sha256_hex(&data));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_never_ends_is_cut_off() {
    let env = Env::start("slowloris").await;
    let mut cfg = env.config();
    cfg.header_read_timeout = Duration::from_secs(1);
    let (base, _h) = env.server(cfg).await;
    let a = addr(&base);
    let read = tokio::task::spawn_blocking(move || {
        let mut s = connect(&a);
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        let mut buf = Vec::new();
        // The server closes: EOF (or a reset), well before the 60 s read timeout.
        match s.read_to_end(&mut buf) {
            Ok(_) => Ok(buf),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(buf),
            Err(e) => Err(e),
        }
    })
    .await
    .unwrap();
    let buf = read.expect("the server closed the connection");
    let text = String::from_utf8_lossy(&buf);
    assert!(
        !text.contains("200 OK"),
        "an unfinished head must not be served: {text}"
    );
}
