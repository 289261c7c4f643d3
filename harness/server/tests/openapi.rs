//! docs/openapi.yaml against the real server on the real stack: the document lists exactly
//! the (path, method) pairs the router serves (`ROUTES`, which builds it), every answer the
//! server gives is documented (status, problem `type`, content type, ETag/WWW-Authenticate,
//! JSON body valid against the schema), and every status and problem type the document
//! lists is provoked at least once, so it can list no fiction.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use backproof_server::{ProblemKind, ROUTES};
use common::{Env, blob, token};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROBLEM_PREFIX: &str = "urn:backproof:problem:";
/// Methods probed on every known path; those not in ROUTES must answer 405.
const PROBE_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

fn load() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("docs/openapi.yaml is readable");
    serde_yaml_ng::from_str(&text).expect("docs/openapi.yaml is valid YAML")
}

/// Follows local `$ref`s (`#/components/...`).
fn resolve<'a>(root: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let ptr = r.strip_prefix('#').expect("only local $refs");
                v = root
                    .pointer(ptr)
                    .unwrap_or_else(|| panic!("dangling $ref {r}"));
            }
            None => return v,
        }
    }
    panic!("$ref cycle");
}

/// One documented response.
#[derive(Debug)]
struct DocResponse {
    /// Full problem `type` URIs (from `x-problem-types`).
    problem_types: BTreeSet<String>,
    /// Lower-cased header name → required.
    headers: BTreeMap<String, bool>,
    /// Media type → schema (as written, possibly a `$ref`).
    content: BTreeMap<String, Value>,
}

struct Doc {
    root: Value,
    /// (path, METHOD) → status → response.
    ops: BTreeMap<(String, String), BTreeMap<u16, DocResponse>>,
    problem_enum: BTreeSet<String>,
}

fn parse(root: Value) -> Doc {
    assert!(
        root["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "OpenAPI 3.1"
    );
    let mut ops = BTreeMap::new();
    for (path, item) in root["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if !matches!(
                method.as_str(),
                "get" | "head" | "post" | "put" | "delete" | "patch" | "options" | "trace"
            ) {
                continue;
            }
            let mut responses = BTreeMap::new();
            for (status, resp) in op["responses"].as_object().expect("responses") {
                let status: u16 = status.parse().expect("numeric status keys");
                let resp = resolve(&root, resp);
                let problem_types = resp
                    .get("x-problem-types")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|t| format!("{PROBLEM_PREFIX}{}", t.as_str().unwrap()))
                            .collect()
                    })
                    .unwrap_or_default();
                let headers = resp
                    .get("headers")
                    .and_then(Value::as_object)
                    .map(|h| {
                        h.iter()
                            .map(|(name, hv)| {
                                let hv = resolve(&root, hv);
                                (name.to_ascii_lowercase(), hv["required"] == true)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let content = resp
                    .get("content")
                    .and_then(Value::as_object)
                    .map(|c| {
                        c.iter()
                            .map(|(mt, m)| (mt.clone(), m["schema"].clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                responses.insert(
                    status,
                    DocResponse {
                        problem_types,
                        headers,
                        content,
                    },
                );
            }
            ops.insert((path.clone(), method.to_ascii_uppercase()), responses);
        }
    }
    let problem_enum = root
        .pointer("/components/schemas/ProblemType/enum")
        .and_then(Value::as_array)
        .expect("components.schemas.ProblemType.enum")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    Doc {
        root,
        ops,
        problem_enum,
    }
}

#[test]
fn the_document_lists_exactly_the_routes_and_problem_types() {
    let doc = parse(load());
    let documented: BTreeSet<(String, String)> = doc.ops.keys().cloned().collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(documented, served, "docs/openapi.yaml vs ROUTES");
    let kinds: BTreeSet<String> = ProblemKind::ALL
        .iter()
        .map(|k| k.type_uri().to_owned())
        .collect();
    assert_eq!(
        doc.problem_enum, kinds,
        "ProblemType enum vs ProblemKind::ALL"
    );
    // Every problem type a response names is in the enum, and its status is the kind's.
    for ((path, method), responses) in &doc.ops {
        for (status, resp) in responses {
            for t in &resp.problem_types {
                let kind = ProblemKind::ALL
                    .iter()
                    .find(|k| k.type_uri() == t)
                    .unwrap_or_else(|| panic!("{method} {path} {status}: unknown type {t}"));
                assert_eq!(kind.status().as_u16(), *status, "{method} {path}: {t}");
            }
        }
    }
}

/// One answer as the test saw it.
struct Seen {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Checks answers against the document and records what was covered.
struct Checker {
    doc: Doc,
    /// (path, METHOD, status) observed.
    statuses: BTreeSet<(String, String, u16)>,
    /// (path, METHOD, status, type) observed.
    typed: BTreeSet<(String, String, u16, String)>,
    types: BTreeSet<String>,
}

impl Checker {
    fn validate(&self, schema: &Value, instance: &Value, what: &str) {
        // The schema with the document's components beside it, so `#/components/...`
        // references resolve as they do in the document.
        let mut root = match schema {
            Value::Object(o) => o.clone(),
            _ => panic!("{what}: schema is not an object"),
        };
        root.insert("components".into(), self.doc.root["components"].clone());
        let validator = jsonschema::draft202012::new(&Value::Object(root))
            .unwrap_or_else(|e| panic!("{what}: the schema does not compile: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{what}: {instance} does not match the document: {errors:?}"
        );
    }

    fn check(&mut self, method: &str, path: &str, seen: &Seen) {
        let what = format!("{method} {path} → {}", seen.status);
        let content_type = seen
            .header("content-type")
            .map(|c| c.split(';').next().unwrap_or(c).trim().to_owned());
        // HEAD answers carry the headers of the GET answer but no body.
        let problem = (content_type.as_deref() == Some("application/problem+json")
            && method != "HEAD")
            .then(|| seen.json());
        if let Some(p) = &problem {
            let t = p["type"].as_str().unwrap_or_default().to_owned();
            assert!(
                self.doc.problem_enum.contains(&t),
                "{what}: problem type {t} is not in the document's enum"
            );
            assert_eq!(p["status"], seen.status, "{what}: {p}");
            self.types.insert(t);
        }
        let key = (path.to_owned(), method.to_owned());
        let Some(responses) = self.doc.ops.get(&key) else {
            // Not an operation: only the router's fallbacks may answer.
            let allowed: Vec<&str> = ROUTES
                .iter()
                .filter(|(p, _)| *p == path)
                .map(|(_, m)| *m)
                .collect();
            if allowed.is_empty() {
                assert_eq!(seen.status, 404, "{what}: unknown paths are 404");
            } else {
                assert_eq!(seen.status, 405, "{what}: other methods are 405");
                let allow: BTreeSet<&str> = seen
                    .header("allow")
                    .unwrap_or_else(|| panic!("{what}: no Allow header"))
                    .split(',')
                    .map(str::trim)
                    .collect();
                assert_eq!(
                    allow,
                    allowed.into_iter().collect(),
                    "{what}: Allow lists the documented methods"
                );
            }
            if method != "HEAD" {
                let p = problem.unwrap_or_else(|| panic!("{what}: not a problem"));
                let kind = if seen.status == 404 {
                    ProblemKind::NotFound
                } else {
                    ProblemKind::MethodNotAllowed
                };
                assert_eq!(p["type"], kind.type_uri(), "{what}");
            }
            return;
        };
        let Some(doc) = responses.get(&seen.status) else {
            panic!(
                "{what} is not documented (documented: {:?}); body: {}",
                responses.keys().collect::<Vec<_>>(),
                String::from_utf8_lossy(&seen.body)
            );
        };
        self.statuses
            .insert((path.to_owned(), method.to_owned(), seen.status));

        // Headers the document is specific about.
        for name in ["etag", "www-authenticate"] {
            let present = seen.headers.contains_key(name);
            match doc.headers.get(name) {
                Some(true) => assert!(present, "{what}: documented {name} missing"),
                Some(false) => {}
                None => assert!(!present, "{what}: {name} sent but not documented"),
            }
        }

        // Body: documented media type, valid against its schema.
        if method == "HEAD" || seen.body.is_empty() {
            assert!(
                method == "HEAD" || doc.content.is_empty(),
                "{what}: documented content but the body is empty"
            );
            return;
        }
        let ct = content_type.unwrap_or_else(|| panic!("{what}: a body without Content-Type"));
        let schema = doc.content.get(&ct).unwrap_or_else(|| {
            panic!(
                "{what}: Content-Type {ct} is not documented ({:?})",
                doc.content.keys().collect::<Vec<_>>()
            )
        });
        if ct.ends_with("json") {
            let body: Value = serde_json::from_slice(&seen.body)
                .unwrap_or_else(|e| panic!("{what}: body is not JSON: {e}"));
            self.validate(schema, &body, &what);
        }
        if let Some(p) = problem {
            let t = p["type"].as_str().unwrap().to_owned();
            assert!(
                doc.problem_types.contains(&t),
                "{what}: problem type {t} not documented for this response ({:?})",
                doc.problem_types
            );
            self.typed
                .insert((path.to_owned(), method.to_owned(), seen.status, t));
        }
    }

    /// Everything the document lists was observed.
    fn assert_all_covered(&self) {
        let mut missing = Vec::new();
        for ((path, method), responses) in &self.doc.ops {
            for (status, resp) in responses {
                if !self
                    .statuses
                    .contains(&(path.clone(), method.clone(), *status))
                {
                    missing.push(format!("{method} {path} {status}"));
                }
                // HEAD answers carry no body, so their problem types cannot be seen.
                if method == "HEAD" {
                    continue;
                }
                for t in &resp.problem_types {
                    if !self
                        .typed
                        .contains(&(path.clone(), method.clone(), *status, t.clone()))
                    {
                        missing.push(format!("{method} {path} {status} {t}"));
                    }
                }
            }
        }
        for t in &self.doc.problem_enum {
            if !self.types.contains(t) {
                missing.push(format!("problem type {t}"));
            }
        }
        assert!(
            missing.is_empty(),
            "documented but never observed: {missing:#?}"
        );
    }
}

/// An API v0 call: POST with a JSON body.
fn v0<'a>(path: &'a str, tok: &'a str, body: Value) -> Call<'a> {
    call("POST", path)
        .auth(tok)
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes())
}

/// A request through reqwest.
struct Call<'a> {
    method: &'a str,
    path: &'a str,
    token: Option<&'a str>,
    headers: Vec<(&'a str, &'a str)>,
    body: Option<Vec<u8>>,
}

/// A call on `/v1/backup` with `tok`'s token.
fn v1<'a>(method: &'a str, tok: &'a str) -> Call<'a> {
    call(method, "/v1/backup").auth(tok)
}

/// A conditional call on `/v1/backup`: `if_match` is sent as is, valid or not.
fn v1_if<'a>(method: &'a str, tok: &'a str, if_match: &'a str) -> Call<'a> {
    v1(method, tok).header("if-match", if_match)
}

fn call<'a>(method: &'a str, path: &'a str) -> Call<'a> {
    Call {
        method,
        path,
        token: None,
        headers: Vec::new(),
        body: None,
    }
}

impl<'a> Call<'a> {
    fn auth(mut self, token: &'a str) -> Self {
        self.token = Some(token);
        self
    }
    fn header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }
    fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }
}

struct Driver {
    client: reqwest::Client,
    checker: Checker,
}

impl Driver {
    /// Sends, checks against the document, returns what came back.
    async fn send(&mut self, base: &str, c: Call<'_>) -> Seen {
        let method = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap();
        let mut rb = self.client.request(method, format!("{base}{}", c.path));
        if let Some(t) = c.token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in &c.headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = c.body {
            rb = rb.body(b);
        }
        let r = rb.send().await.expect("request sent");
        let seen = Seen {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.bytes().await.expect("body").to_vec(),
        };
        self.checker.check(c.method, c.path, &seen);
        seen
    }

    /// An API v0 call, checked like any other.
    async fn v0(&mut self, base: &str, path: &str, tok: &str, body: Value) -> Seen {
        self.send(base, v0(path, tok, body)).await
    }

    async fn upload_url(&mut self, base: &str, tok: &str, version: i64, size: i64) -> Seen {
        let body = json!({"backup_version": version, "backup_size": size});
        self.v0(base, "/v0/backup/upload_url", tok, body).await
    }

    /// `key` is any JSON value so that a case can send exactly what upload_url answered.
    async fn complete(
        &mut self,
        base: &str,
        tok: &str,
        key: impl serde::Serialize,
        version: i64,
        size: i64,
    ) -> Seen {
        let body = json!({"s3_key": key, "backup_version": version, "backup_size": size});
        self.v0(base, "/v0/backup/complete_upload", tok, body).await
    }

    /// A raw `POST /v1/backup` as `tok`; `rest` is the head after Authorization (it ends the
    /// head itself) and the body bytes the case needs, however malformed.
    async fn raw_v1(&mut self, base: &str, tok: &str, rest: &str) -> Seen {
        let request =
            format!("POST /v1/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n{rest}");
        self.raw(base, "POST", "/v1/backup", request.into_bytes())
            .await
    }

    /// PUTs `data` to the presigned URL of an upload_url answer; S3 must take it.
    async fn put_presigned(&self, up: &Value, data: Vec<u8>) {
        let put = self
            .client
            .put(up["upload_url"].as_str().unwrap())
            .body(data)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 200, "PUT to the presigned URL");
    }

    /// Sends raw bytes (for what reqwest will not send: broken chunking, a length with no
    /// body) and parses the answer.
    async fn raw(&mut self, base: &str, method: &str, path: &str, request: Vec<u8>) -> Seen {
        let addr = base.trim_start_matches("http://");
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(&request).await.unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), async {
            let mut chunk = [0u8; 4096];
            loop {
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        return;
                    }
                }
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        assert!(read.is_ok(), "no answer to the raw {method} {path}");
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete response head");
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let mut headers = HeaderMap::new();
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                headers.append(
                    reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
                    v.trim().parse().unwrap(),
                );
            }
        }
        let seen = Seen {
            status,
            headers,
            body: buf[end + 4..].to_vec(),
        };
        self.checker.check(method, path, &seen);
        seen
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_is_documented_and_every_documented_answer_happens() {
    let env = Env::start("openapi").await;
    let mut cfg = env.config();
    cfg.max_blob_bytes = 1000;
    cfg.v0_max_backup_bytes = 1000;
    // An hour of orphan grace: an API v0 object PUT through a presigned URL is not in the
    // server's in-flight set, and a start-up sweep with no grace could take it for an orphan.
    cfg.orphan_grace = Duration::from_secs(3600);
    let (base, _h) = env.server(cfg.clone()).await;
    // A second server whose spool directory does not exist: chunked uploads fail with 500.
    let mut broken = cfg.clone();
    broken.spool_dir = Path::new("/nonexistent/backproof-spool").to_path_buf();
    let (broken_base, _h2) = env.server(broken).await;
    // A third whose idle timeout is short (408), and a fourth that takes one upload at a
    // time (429 for the same user, 503 server-busy for another).
    let mut impatient = cfg.clone();
    impatient.body_idle_timeout = Duration::from_secs(1);
    let (impatient_base, _h3) = env.server(impatient).await;
    let mut narrow = cfg.clone();
    narrow.max_uploads = 1;
    narrow.max_uploads_per_user = 1;
    let (narrow_base, _h4) = env.server(narrow).await;

    let mut d = Driver {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        checker: Checker {
            doc: parse(load()),
            statuses: BTreeSet::new(),
            typed: BTreeSet::new(),
            types: BTreeSet::new(),
        },
    };
    let b = base.as_str();
    let alice = token("alice");
    let bob = token("bob");
    let bad = format!("{}x", token("alice"));

    // The router: other methods on known paths are 405 with Allow, unknown paths 404.
    let paths: BTreeSet<&str> = ROUTES.iter().map(|(p, _)| *p).collect();
    for path in &paths {
        for m in PROBE_METHODS {
            if !ROUTES.contains(&(*path, m)) {
                let s = d.send(b, call(m, path).auth(&alice)).await;
                assert_eq!(s.status, 405, "{m} {path}");
            }
        }
    }
    for path in [
        "/",
        "/v1",
        "/v1/backup/1",
        "/v2/backup",
        "/v0/backup",
        "/v0/backup/restore",
    ] {
        d.send(b, call("GET", path).auth(&alice)).await;
    }

    // Probes and 401s.
    for m in ["GET", "HEAD"] {
        assert_eq!(d.send(b, call(m, "/healthz")).await.status, 200);
        assert_eq!(d.send(b, call(m, "/readyz")).await.status, 200);
    }
    for m in ["GET", "HEAD", "POST", "DELETE"] {
        let body = |c: Call<'static>| if m == "POST" { c.body(blob(0, 64)) } else { c };
        let s = d.send(b, body(call(m, "/v1/backup"))).await;
        assert_eq!(s.status, 401, "{m} without a token");
        let s = d.send(b, v1(m, &bad)).await;
        assert_eq!(s.status, 401, "{m} with a bad token");
    }

    // No backup yet.
    for m in ["GET", "HEAD", "DELETE"] {
        assert_eq!(d.send(b, v1(m, &alice)).await.status, 404);
    }
    let s = d
        .send(b, v1_if("POST", &bob, "\"1\"").body(blob(1, 64)))
        .await;
    assert_eq!(
        (s.status, s.json()["current_version"].clone()),
        (409, Value::Null)
    );

    // Create, read, replace.
    let s = d.send(b, v1("POST", &alice).body(blob(1, 100))).await;
    assert_eq!(s.status, 201);
    let s = d.send(b, v1("POST", &alice).body(blob(2, 100))).await;
    assert_eq!(
        (s.status, s.json()["current_version"].clone()),
        (409, json!(1))
    );
    for m in ["GET", "HEAD"] {
        assert_eq!(d.send(b, v1(m, &alice)).await.status, 200);
        let s = d
            .send(b, v1(m, &alice).header("if-none-match", "\"1\""))
            .await;
        assert_eq!(s.status, 304);
        let s = d
            .send(b, v1(m, &alice).header("if-none-match", "abc"))
            .await;
        assert_eq!(s.status, 400);
    }
    let s = d
        .send(b, v1_if("POST", &alice, "\"1\"").body(blob(3, 200)))
        .await;
    assert_eq!(s.status, 200);

    // Refused writes.
    let s = d
        .send(b, v1_if("POST", &alice, "abc").body(blob(4, 64)))
        .await;
    assert_eq!(
        s.json()["type"],
        ProblemKind::InvalidPrecondition.type_uri()
    );
    let s = d
        .send(b, v1_if("POST", &alice, "\"2\"").body(blob(4, 10)))
        .await;
    assert_eq!(s.json()["type"], ProblemKind::BodyTooSmall.type_uri());
    let s = d
        .raw_v1(
            b,
            &alice,
            "If-Match: \"2\"\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n",
        )
        .await;
    assert_eq!(s.status, 413);
    let s = d
        .raw_v1(
            b,
            &alice,
            "If-Match: \"2\"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                 zz\r\nnot a chunk\r\n",
        )
        .await;
    assert_eq!(s.json()["type"], ProblemKind::InvalidBody.type_uri());
    let s = d
        .raw_v1(
            &broken_base,
            &alice,
            &format!(
                "If-Match: \"2\"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                 40\r\n{}\r\n0\r\n\r\n",
                "b".repeat(64)
            ),
        )
        .await;
    assert_eq!(s.status, 500, "no spool directory");

    // A body that stops half-way: 408 once the idle timeout passes.
    let s = d
        .raw_v1(
            &impatient_base,
            &bob,
            &format!(
                "Content-Length: 100\r\nConnection: close\r\n\r\n{}",
                "h".repeat(50)
            ),
        )
        .await;
    assert_eq!(s.status, 408);

    // Uploads in progress: carol's first upload holds the only slot — hyper sends
    // `100 Continue` when the upload starts reading the body, so its arrival proves the slot
    // is taken — then carol again is 429 and dave 503, both with Retry-After.
    let mut held = tokio::net::TcpStream::connect(narrow_base.trim_start_matches("http://"))
        .await
        .unwrap();
    let carol = token("carol");
    held.write_all(
        format!(
            "POST /v1/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {carol}\r\n\
             Content-Length: 64\r\nExpect: 100-continue\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut interim = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(30), held.read(&mut interim))
        .await
        .expect("100 Continue arrives")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&interim[..n]).starts_with("HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&interim[..n])
    );
    for (who, want) in [(&carol, 429), (&token("dave"), 503)] {
        let s = d
            .raw_v1(
                &narrow_base,
                who,
                &format!(
                    "Content-Length: 64\r\nConnection: close\r\n\r\n{}",
                    "c".repeat(64)
                ),
            )
            .await;
        assert_eq!(s.status, want);
        assert_eq!(s.header("retry-after"), Some("1"), "{want}");
    }
    drop(held);

    // Deletes.
    let s = d.send(b, v1_if("DELETE", &alice, "abc")).await;
    assert_eq!(s.status, 400);
    let s = d.send(b, v1_if("DELETE", &alice, "\"9\"")).await;
    assert_eq!(
        (s.status, s.json()["current_version"].clone()),
        (409, json!(2))
    );
    let s = d.send(b, v1_if("DELETE", &alice, "\"2\"")).await;
    assert_eq!(s.status, 204);

    // A row whose object vanished behind the server's back: 500, not a guess.
    let s = d.send(b, v1("POST", &bob).body(blob(5, 64))).await;
    assert_eq!(s.status, 201);
    let rows = env.rows().await;
    let key = &rows.iter().find(|r| r.0 == "bob").expect("bob's row").2;
    env.stack
        .s3
        .client()
        .await
        .delete_object()
        .bucket(env.stack.s3.bucket())
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(d.send(b, v1("GET", &bob)).await.status, 500);
    let s = d.send(b, v1("POST", &alice).body(blob(6, 64))).await;
    assert_eq!(s.status, 201, "alice again, for the outages");

    // API v0: every status and problem type of the six calls (docs/API-v0.md).
    let carol = token("carol");
    let carol = carol.as_str();
    let bad = bad.as_str();
    const V0_PATHS: [&str; 6] = [
        "/v0/backup/upload_url",
        "/v0/backup/complete_upload",
        "/v0/backup/list",
        "/v0/backup/download_url",
        "/v0/backup/delete",
        "/v0/backup/settings",
    ];
    for path in V0_PATHS {
        let s = d.send(b, call("POST", path).body(b"{}".to_vec())).await;
        assert_eq!(s.status, 401, "{path} without a token");
        assert_eq!(d.v0(b, path, bad, json!({})).await.status, 401);
        let s = d
            .send(b, call("POST", path).auth(carol).body(b"{}".to_vec()))
            .await;
        assert_eq!(
            s.json()["type"],
            ProblemKind::UnsupportedMediaType.type_uri()
        );
        let s = d.v0(b, path, carol, json!([])).await;
        assert_eq!(s.json()["type"], ProblemKind::InvalidRequest.type_uri());
        let s = d
            .v0(b, path, carol, json!({"pad": "x".repeat(20_000)}))
            .await;
        assert_eq!(s.json()["type"], ProblemKind::TooLarge.type_uri());
    }
    for path in [
        "/v0/backup/upload_url",
        "/v0/backup/complete_upload",
        "/v0/backup/download_url",
        "/v0/backup/delete",
    ] {
        let body = json!({"backup_version": 3, "backup_size": 64, "s3_key": "x"});
        let mut body = body.as_object().unwrap().clone();
        if !path.ends_with("complete_upload") {
            body.remove("s3_key");
        }
        if !path.ends_with("_upload") && !path.ends_with("upload_url") {
            body.remove("backup_size");
        }
        let s = d.v0(b, path, carol, Value::Object(body)).await;
        assert_eq!(
            s.json()["type"],
            ProblemKind::InvalidBackupVersion.type_uri(),
            "{path}"
        );
    }
    for path in ["/v0/backup/download_url", "/v0/backup/delete"] {
        let s = d.v0(b, path, carol, json!({"backup_version": 1})).await;
        assert_eq!(s.json()["type"], ProblemKind::NoBackup.type_uri(), "{path}");
    }
    for path in ["/v0/backup/list", "/v0/backup/settings"] {
        assert_eq!(d.v0(b, path, carol, json!({})).await.status, 200);
    }
    let s = d
        .v0(
            b,
            "/v0/backup/settings",
            carol,
            json!({"backup_enabled": true}),
        )
        .await;
    assert_eq!(s.json()["backup_enabled"], true);
    for size in [0, 1001] {
        let s = d.upload_url(b, carol, 1, size).await;
        assert_ne!(s.status, 200, "{size}");
    }
    let s = d.complete(b, carol, "v0/bob/1/x", 1, 0).await;
    assert_eq!(s.json()["type"], ProblemKind::InvalidBackupSize.type_uri());
    let s = d.complete(b, carol, "v0/bob/1/x", 1, 64).await;
    assert_eq!(s.json()["type"], ProblemKind::ForeignKey.type_uri());
    let up = d.upload_url(b, carol, 1, 64).await.json();
    let s = d.complete(b, carol, &up["s3_key"], 1, 64).await;
    assert_eq!(s.json()["type"], ProblemKind::UploadMissing.type_uri());
    d.put_presigned(&up, blob(8, 64)).await;
    let s = d.complete(b, carol, &up["s3_key"], 1, 65).await;
    assert_eq!(s.json()["type"], ProblemKind::SizeMismatch.type_uri());
    let s = d.complete(b, carol, &up["s3_key"], 1, 64).await;
    assert_eq!(s.status, 200);
    let s = d.v0(b, "/v0/backup/download_url", carol, json!({})).await;
    assert_eq!(s.status, 200);
    let s = d.v0(b, "/v0/backup/list", carol, json!({})).await;
    assert_eq!(s.json().as_array().map(Vec::len), Some(1));
    let s = d
        .v0(b, "/v0/backup/delete", carol, json!({"backup_version": 1}))
        .await;
    assert_eq!(s.status, 204);
    // A second upload, for the outages below.
    let up = d.upload_url(b, carol, 2, 64).await.json();
    d.put_presigned(&up, blob(9, 64)).await;

    // S3 down: everything that touches S3 is 503 (HEAD reads Postgres only).
    env.stack.s3.stop().await.unwrap();
    let s = d.complete(b, carol, &up["s3_key"], 2, 64).await;
    assert_eq!(s.status, 503, "complete_upload with S3 down");
    for c in [
        v1("GET", &alice),
        v1_if("POST", &alice, "\"1\"").body(blob(7, 64)),
        call("GET", "/readyz"),
        call("HEAD", "/readyz"),
    ] {
        let what = format!("{} {}", c.method, c.path);
        assert_eq!(d.send(b, c).await.status, 503, "{what} with S3 down");
    }
    env.stack.s3.start().await.unwrap();

    // Postgres down: everything that reads a row is 503.
    env.stack.postgres.stop().await.unwrap();
    for m in ["HEAD", "DELETE"] {
        assert_eq!(
            d.send(b, v1(m, &alice)).await.status,
            503,
            "{m} with Postgres down"
        );
    }
    for path in [
        "/v0/backup/list",
        "/v0/backup/download_url",
        "/v0/backup/delete",
        "/v0/backup/settings",
    ] {
        let body = if path.ends_with("delete") {
            json!({"backup_version": 2})
        } else {
            json!({})
        };
        assert_eq!(
            d.v0(b, path, carol, body).await.status,
            503,
            "{path} with Postgres down"
        );
    }
    env.stack.postgres.start().await.unwrap();
    assert_eq!(d.send(b, call("GET", "/readyz")).await.status, 200);

    d.checker.assert_all_covered();
}
