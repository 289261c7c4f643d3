//! The rules of docs/API.md against the real stack (throwaway Postgres + embedded S3).

mod common;

use common::{Env, blob, sha256_hex, token};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Resp {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn etag(&self) -> Option<String> {
        self.headers
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned())
    }
    /// Asserts a problem+json body of the given kind.
    fn problem(&self, kind: &str) -> Value {
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "problem content type"
        );
        let j = self.json();
        assert_eq!(j["type"], format!("urn:backproof:problem:{kind}"), "{j}");
        assert_eq!(j["status"], self.status.as_u16(), "{j}");
        assert!(j["title"].as_str().is_some_and(|t| !t.is_empty()), "{j}");
        assert!(j["detail"].as_str().is_some_and(|t| !t.is_empty()), "{j}");
        j
    }
}

async fn call(
    c: &Client,
    base: &str,
    m: Method,
    path: &str,
    tok: Option<&str>,
    hdrs: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Resp {
    let mut rb = c.request(m, format!("{base}{path}"));
    if let Some(t) = tok {
        rb = rb.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in hdrs {
        rb = rb.header(*k, *v);
    }
    if let Some(b) = body {
        rb = rb.body(b);
    }
    let r = rb.send().await.expect("request sent");
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.bytes().await.expect("body").to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

/// POST /v1/backup as `tok`, with If-Match when given (any value, well-formed or not).
async fn post(c: &Client, base: &str, tok: &str, if_match: Option<&str>, body: Vec<u8>) -> Resp {
    let hdrs: Vec<_> = if_match.map(|v| ("if-match", v)).into_iter().collect();
    call(
        c,
        base,
        Method::POST,
        "/v1/backup",
        Some(tok),
        &hdrs,
        Some(body),
    )
    .await
}

/// DELETE /v1/backup as `tok`, with If-Match when given.
async fn delete(c: &Client, base: &str, tok: &str, if_match: Option<&str>) -> Resp {
    let hdrs: Vec<_> = if_match.map(|v| ("if-match", v)).into_iter().collect();
    call(
        c,
        base,
        Method::DELETE,
        "/v1/backup",
        Some(tok),
        &hdrs,
        None,
    )
    .await
}

/// A plain GET /v1/backup as `tok`.
async fn get(c: &Client, base: &str, tok: &str) -> Resp {
    call(c, base, Method::GET, "/v1/backup", Some(tok), &[], None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_of_the_api() {
    let env = Env::start("rules").await;
    let (base, _h) = env.server(env.config()).await;
    let c = Client::new();
    let b = base.as_str();
    let alice = token("alice");
    let a = Some(alice.as_str());
    let p = "/v1/backup";

    // 401: missing, other secret, garbage, wrong scheme — on every method.
    let other = backproof_server::mint_token(b"another-secret", "alice");
    for m in [Method::GET, Method::POST, Method::DELETE, Method::HEAD] {
        let r = call(&c, b, m.clone(), p, None, &[], Some(blob(1, 64))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m}");
        assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
        if m != Method::HEAD {
            r.problem("unauthorized");
        }
        let r = call(&c, b, m.clone(), p, Some(&other), &[], Some(blob(1, 64))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m} other secret");
    }
    for bad in [
        "Bearer garbage",
        &format!("Basic {alice}"),
        "Bearer bpt1.alice.AAAA",
    ] {
        let r = call(&c, b, Method::GET, p, None, &[("authorization", bad)], None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}");
        r.problem("unauthorized");
    }

    // No backup yet.
    get(&c, b, &alice).await.problem("not-found");
    assert_eq!(
        call(&c, b, Method::HEAD, p, a, &[], None).await.status,
        StatusCode::NOT_FOUND
    );
    let r = post(&c, b, &alice, Some("\"1\""), blob(1, 64)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.problem("version-conflict")["current_version"],
        Value::Null
    );

    // Create: 201, ETag "1", JSON reply.
    let v1 = blob(1, 100);
    let r = post(&c, b, &alice, None, v1.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.etag().as_deref(), Some("\"1\""));
    let j = r.json();
    assert_eq!(j["version"], 1);
    assert_eq!(j["size"], 100);
    assert_eq!(j["sha256"], sha256_hex(&v1));
    assert!(chrono::DateTime::parse_from_rfc3339(j["updated_at"].as_str().unwrap()).is_ok());

    // Create again without If-Match → 409 with current_version.
    let r = post(&c, b, &alice, None, blob(2, 64)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.problem("version-conflict")["current_version"], 1);

    // Replace with each accepted If-Match form.
    let mut last = v1.clone();
    for (i, (im, next)) in [("\"1\"", 2), ("2", 3), ("*", 4)].into_iter().enumerate() {
        let body = blob(10 + i as u8, 200);
        let r = post(&c, b, &alice, Some(im), body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "If-Match {im}");
        assert_eq!(r.etag(), Some(format!("\"{next}\"")));
        assert_eq!(r.json()["version"], next);
        assert_eq!(r.json()["sha256"], sha256_hex(&body));
        last = body;
    }
    // Stale version → 409 current 4.
    let r = post(&c, b, &alice, Some("\"2\""), blob(3, 64)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.problem("version-conflict")["current_version"], 4);

    // Malformed If-Match → 400 on POST and DELETE, nothing changes.
    for bad in [
        "abc",
        "-1",
        "W/\"4\"",
        "\"4\", \"5\"",
        "\"4",
        "\"\"",
        "4.0",
        "",
    ] {
        for m in [Method::POST, Method::DELETE] {
            let r = call(
                &c,
                b,
                m.clone(),
                p,
                a,
                &[("if-match", bad)],
                Some(blob(4, 64)),
            )
            .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{m} If-Match {bad:?}");
            r.problem("invalid-precondition");
        }
    }
    let mut rb = c
        .post(format!("{b}{p}"))
        .bearer_auth(&alice)
        .body(blob(4, 64));
    rb = rb.header("if-match", "\"4\"").header("if-match", "\"4\"");
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "If-Match twice");

    // GET, If-None-Match, HEAD.
    let r = get(&c, b, &alice).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, last);
    assert_eq!(r.etag().as_deref(), Some("\"4\""));
    assert_eq!(
        r.headers.get("content-type").unwrap(),
        "application/octet-stream"
    );
    let r = call(
        &c,
        b,
        Method::GET,
        p,
        a,
        &[("if-none-match", "\"4\"")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.etag().as_deref(), Some("\"4\""));
    assert!(r.body.is_empty());
    let r = call(
        &c,
        b,
        Method::GET,
        p,
        a,
        &[("if-none-match", "\"3\"")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(&c, b, Method::HEAD, p, a, &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.etag().as_deref(), Some("\"4\""));
    assert_eq!(
        r.headers.get("content-length").unwrap(),
        &last.len().to_string()
    );
    assert!(r.body.is_empty());
    let r = call(&c, b, Method::HEAD, p, a, &[("if-none-match", "4")], None).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);

    // Size rules: < 32 → 400, exactly 32 ok, limit + 1 → 413, limit ok.
    for n in [0usize, 1, 31] {
        let r = post(&c, b, &alice, Some("4"), blob(5, n)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{n} bytes");
        r.problem("body-too-small");
    }
    let limit = backproof_server::DEFAULT_MAX_BLOB_BYTES as usize;
    assert_eq!(limit, 2_097_152);
    let r = post(&c, b, &alice, Some("4"), blob(6, limit + 1)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    r.problem("body-too-large");
    let r = post(&c, b, &alice, Some("4"), blob(7, 32)).await;
    assert_eq!(r.status, StatusCode::OK);
    let big = blob(8, limit);
    let r = post(&c, b, &alice, Some("5"), big.clone()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(get(&c, b, &alice).await.body, big);

    // DELETE: stale → 409, ok → 204, then 404.
    let r = delete(&c, b, &alice, Some("\"1\"")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.problem("version-conflict")["current_version"], 6);
    let r = delete(&c, b, &alice, Some("\"6\"")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    get(&c, b, &alice).await.problem("not-found");
    delete(&c, b, &alice, None).await.problem("not-found");
    // DELETE without If-Match.
    assert_eq!(
        post(&c, b, &alice, None, blob(9, 40)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        delete(&c, b, &alice, None).await.status,
        StatusCode::NO_CONTENT
    );

    // Health, readiness, unknown routes.
    assert_eq!(
        call(&c, b, Method::GET, "/healthz", None, &[], None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        call(&c, b, Method::GET, "/readyz", None, &[], None)
            .await
            .status,
        StatusCode::OK
    );
    call(&c, b, Method::GET, "/v2/nothing", a, &[], None)
        .await
        .problem("not-found");
    call(&c, b, Method::PUT, p, a, &[], Some(blob(1, 64)))
        .await
        .problem("method-not-allowed");

    // Everything the server wrote is referenced or gone: no orphans after deletes.
    assert!(env.objects().await.is_empty(), "{:?}", env.objects().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_isolated() {
    let env = Env::start("isolation").await;
    let (base, _h) = env.server(env.config()).await;
    let c = Client::new();
    let b = base.as_str();
    let (ta, tb) = (token("alice"), token("bob"));
    let a_blob = blob(1, 64);
    assert_eq!(
        post(&c, b, &ta, None, a_blob.clone()).await.status,
        StatusCode::CREATED
    );
    // Bob sees nothing, and cannot overwrite or delete Alice's backup through any precondition.
    assert_eq!(get(&c, b, &tb).await.status, StatusCode::NOT_FOUND);
    for im in ["\"1\"", "*"] {
        let r = post(&c, b, &tb, Some(im), blob(2, 64)).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        let r = delete(&c, b, &tb, Some(im)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    // Bob's own backup is separate.
    let b_blob = blob(3, 64);
    assert_eq!(
        post(&c, b, &tb, None, b_blob.clone()).await.status,
        StatusCode::CREATED
    );
    assert_eq!(get(&c, b, &ta).await.body, a_blob);
    assert_eq!(get(&c, b, &tb).await.body, b_blob);
    assert_eq!(
        delete(&c, b, &tb, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(get(&c, b, &ta).await.body, a_blob);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_exactly_one_wins() {
    let env = Env::start("concurrency").await;
    let (base, handle) = env.server(env.config()).await;
    let c = Client::new();
    let t = token("carol");
    assert_eq!(
        post(&c, &base, &t, None, blob(0, 64)).await.status,
        StatusCode::CREATED
    );
    let tasks: Vec<_> = (0..32u8)
        .map(|i| {
            let (c, base, t) = (c.clone(), base.clone(), t.clone());
            tokio::spawn(async move {
                let body = blob(100 + i, 4096);
                let r = post(&c, &base, &t, Some("\"1\""), body.clone()).await;
                (r.status, sha256_hex(&body), r.json())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (status, sha, j) = task.await.unwrap();
        match status {
            StatusCode::OK => winners.push((sha, j)),
            StatusCode::CONFLICT => assert_eq!(j["type"], "urn:backproof:problem:version-conflict"),
            s => panic!("unexpected {s}: {j}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins");
    let (sha, j) = &winners[0];
    assert_eq!(j["sha256"], *sha);
    let r = get(&c, &base, &t).await;
    assert_eq!(r.etag().as_deref(), Some("\"2\""));
    assert_eq!(&sha256_hex(&r.body), sha);
    handle.sweep_now().await.unwrap();
    let rows = env.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        env.objects().await,
        vec![rows[0].2.clone()],
        "only the live object remains"
    );
}

/// Sends raw request head bytes and returns the status line, without sending a body.
async fn raw_head_only(base: &str, head: String) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut buf))
        .await
        .expect("the server answers before any body byte is sent")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_is_refused_before_reading_and_chunked_stops_at_limit() {
    let env = Env::start("oversize").await;
    let mut cfg = env.config();
    cfg.max_blob_bytes = 1000;
    let (base, _h) = env.server(cfg).await;
    let t = token("dave");
    // Content-Length over the limit, no body byte sent: the answer still arrives.
    let resp = raw_head_only(
        &base,
        format!("POST /v1/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Length: 1001\r\n\r\n"),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(
        resp.contains("urn:backproof:problem:body-too-large"),
        "{resp}"
    );
    // Same with the default limit (2 MiB + 1).
    let (base2, _h2) = env.server(env.config()).await;
    let resp = raw_head_only(
        &base2,
        format!("POST /v1/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Length: 2097153\r\n\r\n"),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");

    // Chunked: over the limit → 413; under → stored with the right hash; tiny → 400.
    // No pooled connections: after a 413 the server closes the connection whose body it
    // did not read, and a pooled client may send the next request into that closing
    // socket (hyper's IncompleteMessage), which says nothing about the server.
    let c = Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let chunked = |data: Vec<u8>| {
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = data
            .chunks(100)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        reqwest::Body::wrap_stream(futures::stream::iter(chunks))
    };
    let r = c
        .post(format!("{base}/v1/backup"))
        .bearer_auth(&t)
        .body(chunked(blob(1, 5000)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = c
        .post(format!("{base}/v1/backup"))
        .bearer_auth(&t)
        .body(chunked(blob(1, 10)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let ok = blob(2, 1000);
    let r = c
        .post(format!("{base}/v1/backup"))
        .bearer_auth(&t)
        .body(chunked(ok.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let j: Value = r.json().await.unwrap();
    assert_eq!(j["sha256"], sha256_hex(&ok));
    assert_eq!(get(&c, &base, &t).await.body, ok);
    assert_eq!(
        env.objects().await.len(),
        1,
        "refused uploads leave no object"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_answer_503_and_change_nothing() {
    let env = Env::start("outage").await;
    let (base, _h) = env.server(env.config()).await;
    let c = Client::new();
    let t = token("erin");
    let v1 = blob(1, 64);
    assert_eq!(
        post(&c, &base, &t, None, v1.clone()).await.status,
        StatusCode::CREATED
    );

    env.stack.s3.stop().await.unwrap();
    let r = post(&c, &base, &t, Some("1"), blob(2, 64)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    r.problem("storage-unavailable");
    get(&c, &base, &t).await.problem("storage-unavailable");
    call(&c, &base, Method::GET, "/readyz", None, &[], None)
        .await
        .problem("storage-unavailable");
    let rows = env.rows().await;
    assert_eq!(rows[0].1, 1, "no row change while S3 is down");
    assert_eq!(rows[0].3, sha256_hex(&v1));
    env.stack.s3.start().await.unwrap();

    env.stack.postgres.stop().await.unwrap();
    let r = post(&c, &base, &t, Some("1"), blob(3, 64)).await;
    r.problem("storage-unavailable");
    get(&c, &base, &t).await.problem("storage-unavailable");
    call(&c, &base, Method::GET, "/readyz", None, &[], None)
        .await
        .problem("storage-unavailable");
    env.stack.postgres.start().await.unwrap();

    // Back: the old version is intact and a write goes through.
    let r = get(&c, &base, &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, v1);
    let r = post(&c, &base, &t, Some("1"), blob(4, 64)).await;
    assert_eq!(r.status, StatusCode::OK);
}
