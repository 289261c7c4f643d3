//! The rules of API v0 (docs/API-v0.md) against the real stack: a throwaway Postgres and
//! the embedded S3, which checks the presigned URLs' SigV4 signatures and expiries itself.
//! The backup bytes travel as a client's would: reqwest PUTs and GETs on the presigned URLs.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{Env, blob, token};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

struct Resp {
    status: StatusCode,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Asserts a status and returns the JSON body.
    fn ok(&self, want: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            want,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// Asserts a problem+json answer of `kind` with `status`.
    fn problem(&self, status: u16, kind: &str) -> Value {
        let j = self.json();
        assert_eq!(
            (self.status.as_u16(), j["type"].as_str()),
            (
                status,
                Some(format!("urn:backproof:problem:{kind}").as_str())
            ),
            "{j}"
        );
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/problem+json")
        );
        assert_eq!(j["status"], status, "{j}");
        assert!(j["detail"].as_str().is_some_and(|d| !d.is_empty()), "{j}");
        j
    }
}

/// An API v0 client for the tests.
struct V0 {
    c: Client,
    base: String,
}

impl V0 {
    fn new(base: &str) -> V0 {
        V0 {
            c: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    /// POST `/v0/backup/{op}` with raw bytes and a content type (None: no header).
    async fn raw(&self, op: &str, tok: Option<&str>, ct: Option<&str>, body: Vec<u8>) -> Resp {
        let mut rb = self
            .c
            .post(format!("{}/v0/backup/{op}", self.base))
            .body(body);
        if let Some(t) = tok {
            rb = rb.bearer_auth(t);
        }
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        let r = rb.send().await.expect("request sent");
        let resp = Resp {
            status: r.status(),
            content_type: r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: r.bytes().await.expect("body").to_vec(),
        };
        assert_ne!(
            resp.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{op}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        resp
    }

    async fn post(&self, op: &str, tok: &str, body: Value) -> Resp {
        self.raw(
            op,
            Some(tok),
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }

    /// upload_url for `size` bytes in slot `version`; asserts 200 and returns the answer.
    async fn upload_url(&self, tok: &str, version: i64, size: usize) -> Value {
        self.post(
            "upload_url",
            tok,
            json!({"backup_version": version, "backup_size": size}),
        )
        .await
        .ok(200)
    }

    /// upload_url → PUT of `data`, which S3 must accept; returns upload_url's answer. The
    /// upload is left uncompleted, as the tests of complete_upload and the sweep need it.
    async fn staged(&self, tok: &str, version: i64, data: &[u8]) -> Value {
        let u = self.upload_url(tok, version, data.len()).await;
        assert_eq!(
            put(&self.c, u["upload_url"].as_str().unwrap(), data.to_vec()).await,
            StatusCode::OK,
            "PUT to the presigned URL"
        );
        u
    }

    /// complete_upload of `key`, unchecked: the callers expect successes and refusals alike.
    /// `key` is any JSON value so that a test can send exactly what upload_url answered.
    async fn complete(
        &self,
        tok: &str,
        key: impl serde::Serialize,
        version: i64,
        size: usize,
    ) -> Resp {
        let body = json!({"s3_key": key, "backup_version": version, "backup_size": size});
        self.post("complete_upload", tok, body).await
    }

    /// upload_url → PUT → complete_upload; returns (s3_key, complete's answer).
    async fn backup(&self, tok: &str, version: i64, data: &[u8]) -> (String, Value) {
        let u = self.staged(tok, version, data).await;
        let key = u["s3_key"].as_str().unwrap().to_owned();
        let done = self.complete(tok, &key, version, data.len()).await.ok(200);
        (key, done)
    }

    async fn list(&self, tok: &str) -> Vec<Value> {
        let l = self.post("list", tok, json!({})).await.ok(200);
        l.as_array().expect("list answers an array").clone()
    }

    /// download_url (latest when `version` is None) → GET; (answer, status, bytes).
    async fn restore(&self, tok: &str, version: Option<i64>) -> (Value, StatusCode, Vec<u8>) {
        let d = self
            .post("download_url", tok, json!({"backup_version": version}))
            .await
            .ok(200);
        let (status, bytes) = get(&self.c, d["download_url"].as_str().unwrap()).await;
        (d, status, bytes)
    }
}

async fn put(c: &Client, url: &str, data: Vec<u8>) -> StatusCode {
    c.put(url)
        .body(data)
        .send()
        .await
        .expect("PUT sent")
        .status()
}

async fn get(c: &Client, url: &str) -> (StatusCode, Vec<u8>) {
    let r = c.get(url).send().await.expect("GET sent");
    (r.status(), r.bytes().await.unwrap().to_vec())
}

/// The test configuration with an orphan grace of an hour: a presigned upload is not in
/// the server's in-flight set, so with the tests' usual zero grace the sweep every server
/// runs at start could take an object PUT before its `complete_upload` for an orphan.
fn config(env: &Env) -> backproof_server::Config {
    let mut cfg = env.config();
    cfg.orphan_grace = Duration::from_secs(3600);
    cfg
}

fn time(v: &Value) -> DateTime<Utc> {
    let s = v.as_str().unwrap_or_else(|| panic!("{v} is not a time"));
    // RFC 3339, UTC, microseconds: 2026-11-30T09:41:02.123456Z.
    assert_eq!(s.len(), 27, "{s}");
    assert!(s.ends_with('Z'), "{s}");
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn exists(env: &Env, key: &str) -> bool {
    env.objects_under("v0/").await.iter().any(|k| k == key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_two_rolling_slots_replace_and_delete() {
    let env = Env::start("v0_roundtrip").await;
    let (base, _h) = env.server(config(&env)).await;
    let v0 = V0::new(&base);
    let alice = token("alice");

    let s = v0.post("settings", &alice, json!({})).await.ok(200);
    assert_eq!(s, json!({"backup_enabled": false, "last_backup_at": null}));
    assert_eq!(v0.list(&alice).await, Vec::<Value>::new());
    v0.post("download_url", &alice, json!({}))
        .await
        .problem(404, "no-backup");

    // The URL signs Content-Length, and the key is a fresh one in alice's slot 1.
    let u = v0.upload_url(&alice, 1, 100).await;
    let url = u["upload_url"].as_str().unwrap();
    assert!(url.starts_with(env.stack.s3.endpoint()), "{url}");
    assert!(
        url.contains("X-Amz-SignedHeaders=content-length%3Bhost"),
        "{url}"
    );
    let key = u["s3_key"].as_str().unwrap();
    assert!(key.starts_with("v0/alice/1/"), "{key}");
    let left = time(&u["expires_at"]) - Utc::now();
    assert!(
        left <= chrono::Duration::minutes(15) && left > chrono::Duration::minutes(14),
        "{left}"
    );

    // Slot 1.
    let one = blob(1, 100);
    let before = Utc::now();
    let (key1, done) = v0.backup(&alice, 1, &one).await;
    assert_eq!(done["backup_version"], 1);
    assert_eq!(done["backup_size"], 100);
    let created1 = time(&done["created_at"]);
    assert!(
        created1 >= before - chrono::Duration::seconds(5),
        "{created1}"
    );
    let s = v0.post("settings", &alice, json!({})).await.ok(200);
    assert_eq!(time(&s["last_backup_at"]), created1);
    assert_eq!(s["backup_enabled"], false);
    let (d, status, got) = v0.restore(&alice, None).await;
    assert_eq!(
        (status, d["backup_version"].clone()),
        (StatusCode::OK, json!(1))
    );
    assert_eq!(d["backup_size"], 100);
    assert_eq!(got, one);

    // Slot 2 becomes the latest; slot 1 still opens.
    let two = blob(2, 300);
    let (key2, done) = v0.backup(&alice, 2, &two).await;
    let created2 = time(&done["created_at"]);
    assert!(created2 > created1);
    assert_eq!(
        v0.list(&alice).await,
        vec![
            json!({"backup_version": 1, "created_at": done_time(created1), "backup_size": 100}),
            json!({"backup_version": 2, "created_at": done_time(created2), "backup_size": 300}),
        ]
    );
    let (d, _, got) = v0.restore(&alice, None).await;
    assert_eq!((d["backup_version"].clone(), got), (json!(2), two.clone()));
    let (d, _, got) = v0.restore(&alice, Some(1)).await;
    assert_eq!((d["backup_version"].clone(), got), (json!(1), one.clone()));

    // A third backup rolls over slot 1: its old object is deleted, slot 2 is untouched.
    let three = blob(3, 200);
    let (key3, done) = v0.backup(&alice, 1, &three).await;
    assert_ne!(key3, key1, "a fresh key per upload");
    assert!(time(&done["created_at"]) > created2);
    assert!(!exists(&env, &key1).await, "the replaced object is deleted");
    assert!(exists(&env, &key2).await && exists(&env, &key3).await);
    let (d, _, got) = v0.restore(&alice, None).await;
    assert_eq!(
        (d["backup_version"].clone(), got),
        (json!(1), three.clone())
    );
    let (_, _, got) = v0.restore(&alice, Some(2)).await;
    assert_eq!(got, two);
    assert_eq!(v0.list(&alice).await.len(), 2, "never more than two slots");

    // Completing the committed key again changes nothing and deletes nothing.
    v0.complete(&alice, &key3, 1, 200).await.ok(200);
    assert!(exists(&env, &key3).await);
    let (_, _, got) = v0.restore(&alice, Some(1)).await;
    assert_eq!(got, three);

    // Delete slot 2: row and object go; the latest is slot 1.
    let r = v0
        .post("delete", &alice, json!({"backup_version": 2}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    assert!(!exists(&env, &key2).await);
    let l = v0.list(&alice).await;
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["backup_version"], 1);
    v0.post("delete", &alice, json!({"backup_version": 2}))
        .await
        .problem(404, "no-backup");
    v0.post("download_url", &alice, json!({"backup_version": 2}))
        .await
        .problem(404, "no-backup");
    let (d, _, got) = v0.restore(&alice, None).await;
    assert_eq!((d["backup_version"].clone(), got), (json!(1), three));

    // Settings: set, read back, unset; last_backup_at is the last complete's.
    let s = v0
        .post("settings", &alice, json!({"backup_enabled": true}))
        .await
        .ok(200);
    assert_eq!(s["backup_enabled"], true);
    let last = time(&s["last_backup_at"]);
    assert!(last > created2, "the last complete (slot 1 again) set it");
    assert_eq!(
        v0.post("settings", &alice, json!({})).await.ok(200)["backup_enabled"],
        true
    );
    let s = v0
        .post("settings", &alice, json!({"backup_enabled": false}))
        .await
        .ok(200);
    assert_eq!(s["backup_enabled"], false);
    assert_eq!(time(&s["last_backup_at"]), last);
    // Another user's settings are their own.
    let s = v0
        .post("settings", &token("bob"), json!({"backup_enabled": null}))
        .await
        .ok(200);
    assert_eq!(s, json!({"backup_enabled": false, "last_backup_at": null}));

    // Delete the last slot: nothing left.
    let r = v0
        .post("delete", &alice, json!({"backup_version": 1}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(v0.list(&alice).await, Vec::<Value>::new());
    assert_eq!(env.objects_under("v0/").await, Vec::<String>::new());
}

fn done_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

const OPS: [&str; 6] = [
    "upload_url",
    "complete_upload",
    "list",
    "download_url",
    "delete",
    "settings",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_rule() {
    let env = Env::start("v0_rules").await;
    let mut cfg = config(&env);
    cfg.v0_max_backup_bytes = 1000;
    let (base, _h) = env.server(cfg).await;
    let v0 = V0::new(&base);
    let alice = token("alice");
    let a = Some(alice.as_str());
    let bad = format!("{alice}x");
    let json_ct = Some("application/json");

    for op in OPS {
        // No token, a bad token: 401 with WWW-Authenticate, before the body is looked at.
        for tok in [None, Some(bad.as_str())] {
            v0.raw(op, tok, json_ct, b"{}".to_vec())
                .await
                .problem(401, "unauthorized");
            v0.raw(op, tok, Some("text/plain"), b"junk".to_vec())
                .await
                .problem(401, "unauthorized");
        }
        // Not declared JSON: 415.
        for ct in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            v0.raw(op, a, ct, b"{}".to_vec())
                .await
                .problem(415, "unsupported-media-type");
        }
        // Not JSON, not an object, unknown fields: 400 invalid-request.
        for body in [
            &b""[..],
            b"{",
            b"not json",
            b"[]",
            b"null",
            b"\"x\"",
            b"{\"surprise\": 1}",
        ] {
            v0.raw(op, a, json_ct, body.to_vec())
                .await
                .problem(400, "invalid-request");
        }
        // Over the JSON limit: 413, unread.
        let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(20_000));
        v0.raw(op, a, json_ct, big.into_bytes())
            .await
            .problem(413, "too-large");
    }

    // Slot bounds, wherever a version is taken.
    let size = json!(64);
    let key = "v0/alice/1/00000000-0000-4000-8000-000000000000";
    for (op, with) in [
        ("upload_url", json!({"backup_size": size})),
        (
            "complete_upload",
            json!({"backup_size": size, "s3_key": key}),
        ),
        ("download_url", json!({})),
        ("delete", json!({})),
    ] {
        let body = |v: Value| {
            let mut b = with.clone();
            b["backup_version"] = v;
            b
        };
        for v in [json!(0), json!(3), json!(-1), json!(i64::MAX)] {
            v0.post(op, &alice, body(v))
                .await
                .problem(400, "invalid-backup-version");
        }
        for v in [json!("1"), json!(1.5), json!(true), json!([1])] {
            v0.post(op, &alice, body(v))
                .await
                .problem(400, "invalid-request");
        }
        if op != "download_url" {
            // Absent is latest for download_url only; elsewhere a required field.
            let j = v0
                .post(op, &alice, with.clone())
                .await
                .problem(400, "invalid-request");
            assert!(
                j["detail"].as_str().unwrap().contains("backup_version"),
                "{j}"
            );
        }
    }

    // Sizes: 1 ..= --max-blob-bytes.
    for op in ["upload_url", "complete_upload"] {
        let body = |n: Value| {
            json!({"backup_version": 1, "backup_size": n, "s3_key": key})
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| op == "complete_upload" || *k != "s3_key")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        for n in [json!(0), json!(-5), json!(i64::MIN)] {
            v0.post(op, &alice, body(n))
                .await
                .problem(400, "invalid-backup-size");
        }
        for n in [json!(1001), json!(i64::MAX)] {
            v0.post(op, &alice, body(n)).await.problem(413, "too-large");
        }
        for n in [json!("64"), json!(64.5), json!(null)] {
            v0.post(op, &alice, body(n))
                .await
                .problem(400, "invalid-request");
        }
    }
    v0.upload_url(&alice, 1, 1).await;
    // A number without a fraction is an integer, as in JSON Schema (and JavaScript).
    let u = v0
        .post(
            "upload_url",
            &alice,
            json!({"backup_version": 2.0, "backup_size": 64.0}),
        )
        .await
        .ok(200);
    assert!(u["s3_key"].as_str().unwrap().starts_with("v0/alice/2/"));
    v0.post("download_url", &alice, json!({"backup_version": 1.0}))
        .await
        .problem(404, "no-backup");
    for v in [json!(1e300), json!(u64::MAX), json!(-1e19)] {
        v0.post("delete", &alice, json!({"backup_version": v}))
            .await
            .problem(400, "invalid-request");
    }
    v0.upload_url(&alice, 2, 1000).await;
    // settings takes a boolean or nothing.
    for v in [json!("true"), json!(1)] {
        v0.post("settings", &alice, json!({"backup_enabled": v}))
            .await
            .problem(400, "invalid-request");
    }

    // Other methods and paths.
    let r =
        v0.c.get(format!("{base}/v0/backup/list"))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "POST");
    v0.post("restore", &alice, json!({}))
        .await
        .problem(404, "not-found");
    // Nothing of the above stored anything.
    assert_eq!(v0.list(&alice).await, Vec::<Value>::new());
    assert_eq!(env.objects_under("v0/").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_upload_checks_the_object_and_the_key() {
    let env = Env::start("v0_complete").await;
    let (base, _h) = env.server(config(&env)).await;
    let v0 = V0::new(&base);
    let alice = token("alice");
    let bob = token("bob");

    // Without an upload: upload-missing, nothing recorded.
    let u = v0.upload_url(&alice, 1, 100).await;
    let key = u["s3_key"].as_str().unwrap().to_owned();
    let url = u["upload_url"].as_str().unwrap().to_owned();
    v0.complete(&alice, &key, 1, 100)
        .await
        .problem(400, "upload-missing");
    assert_eq!(v0.list(&alice).await, Vec::<Value>::new());
    let s = v0.post("settings", &alice, json!({})).await.ok(200);
    assert_eq!(
        s["last_backup_at"],
        Value::Null,
        "a refused complete sets nothing"
    );

    // S3 itself refuses a PUT of another length than the signed one (403): a short or long
    // upload never lands.
    for n in [99, 101, 0] {
        assert_eq!(
            put(&v0.c, &url, blob(1, n)).await,
            StatusCode::FORBIDDEN,
            "{n} bytes"
        );
    }
    assert!(!exists(&env, &key).await);

    // So the size the server must check is the client's claim at complete_upload: the object
    // holds 100 bytes (the signed length), the claim says otherwise.
    assert_eq!(put(&v0.c, &url, blob(1, 100)).await, StatusCode::OK);
    for claim in [99, 101, 1] {
        let j = v0
            .complete(&alice, &key, 1, claim)
            .await
            .problem(400, "size-mismatch");
        assert!(j["detail"].as_str().unwrap().contains("100"), "{j}");
    }
    assert_eq!(v0.list(&alice).await, Vec::<Value>::new());

    // Keys that are not alice's slot-1 keys: foreign-key, whether or not the object exists.
    let (bob_key, _) = v0.backup(&bob, 1, &blob(2, 64)).await;
    let u2 = v0.staged(&alice, 2, &blob(3, 100)).await;
    let slot2_key = u2["s3_key"].as_str().unwrap().to_owned();
    let missing_bob = bob_key.replace(&bob_key[bob_key.len() - 36..], &uuid_nil());
    for k in [
        bob_key.as_str(),
        missing_bob.as_str(),
        slot2_key.as_str(),
        "",
        "v0/alice/1/",
        "v0/alice/1/not-a-uuid",
        "backups/alice/00000000-0000-4000-8000-000000000000",
        &format!("/{key}"),
        &format!("{key}/"),
        &key.to_uppercase(),
        &format!("v0/alice/1/../../bob/1/{}", &bob_key[bob_key.len() - 36..]),
    ] {
        v0.complete(&alice, k, 1, 100)
            .await
            .problem(400, "foreign-key");
    }
    // The other slot's key completes into that slot only.
    v0.complete(&alice, &key, 2, 100)
        .await
        .problem(400, "foreign-key");
    v0.complete(&alice, &slot2_key, 2, 100).await.ok(200);
    // And the right claim completes slot 1.
    v0.complete(&alice, &key, 1, 100).await.ok(200);
    let l = v0.list(&alice).await;
    assert_eq!(
        l.iter()
            .map(|s| (s["backup_version"].clone(), s["backup_size"].clone()))
            .collect::<Vec<_>>(),
        vec![(json!(1), json!(100)), (json!(2), json!(100))]
    );
    // Bob's slot is his, untouched.
    let (d, _, got) = v0.restore(&bob, None).await;
    assert_eq!((d["backup_version"].clone(), got), (json!(1), blob(2, 64)));

    // By default a backup may be as large as the noah-v0 profile's largest body, 64 MiB,
    // far past the v1 body limit (v0 objects never pass through the server).
    v0.upload_url(&alice, 1, 64 << 20).await;
    v0.post(
        "upload_url",
        &alice,
        json!({"backup_version": 1, "backup_size": (64 << 20) + 1}),
    )
    .await
    .problem(413, "too-large");
}

fn uuid_nil() -> String {
    "00000000-0000-4000-8000-000000000000".to_owned()
}

/// `url` with its key (the path after the bucket) replaced by `key`.
fn with_key(url: &str, old: &str, new: &str) -> String {
    assert!(url.contains(old), "{url}");
    url.replace(old, new)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_users_urls_never_reach_another_users_objects() {
    let env = Env::start("v0_isolation").await;
    let (base, _h) = env.server(config(&env)).await;
    let v0 = V0::new(&base);
    let alice = token("alice");
    let bob = token("bob");
    let (bob_key, _) = v0.backup(&bob, 1, &blob(9, 64)).await;

    // Alice's upload URL, pointed at bob's key (same length): the signature no longer
    // matches, S3 refuses, bob's object is unchanged.
    let u = v0.upload_url(&alice, 1, 64).await;
    let alice_key = u["s3_key"].as_str().unwrap();
    let forged = with_key(u["upload_url"].as_str().unwrap(), alice_key, &bob_key);
    assert_eq!(
        put(&v0.c, &forged, blob(1, 64)).await,
        StatusCode::FORBIDDEN
    );
    // Or at a key of her own making.
    let own = with_key(
        u["upload_url"].as_str().unwrap(),
        alice_key,
        "v0/alice/1/00000000-0000-4000-8000-000000000000",
    );
    assert_eq!(put(&v0.c, &own, blob(1, 64)).await, StatusCode::FORBIDDEN);
    let (_, status, got) = v0.restore(&bob, None).await;
    assert_eq!((status, got), (StatusCode::OK, blob(9, 64)));

    // Alice's download URL, pointed at bob's key: refused.
    v0.backup(&alice, 1, &blob(1, 64)).await;
    let d = v0.post("download_url", &alice, json!({})).await.ok(200);
    let alice_key = env
        .objects_under("v0/alice/")
        .await
        .pop()
        .expect("alice's object");
    let forged = with_key(d["download_url"].as_str().unwrap(), &alice_key, &bob_key);
    let (status, body) = get(&v0.c, &forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_ne!(body, blob(9, 64));
    // Without the signature at all: refused too.
    let bare = format!(
        "{}/{}/{bob_key}",
        env.stack.s3.endpoint(),
        env.stack.s3.bucket()
    );
    assert_eq!(get(&v0.c, &bare).await.0, StatusCode::FORBIDDEN);

    // complete_upload with bob's key: foreign-key, and nothing of bob's shows for alice.
    v0.complete(&alice, &bob_key, 1, 64)
        .await
        .problem(400, "foreign-key");
    let (_, _, got) = v0.restore(&alice, None).await;
    assert_eq!(got, blob(1, 64));
    v0.post("download_url", &alice, json!({"backup_version": 2}))
        .await
        .problem(404, "no-backup");
    // Alice deleting her slot 1 leaves bob's slot 1.
    let r = v0
        .post("delete", &alice, json!({"backup_version": 1}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(v0.list(&alice).await, Vec::<Value>::new());
    assert_eq!(v0.list(&bob).await.len(), 1);
    let (_, _, got) = v0.restore(&bob, Some(1)).await;
    assert_eq!(got, blob(9, 64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_urls_are_refused_by_s3() {
    let env = Env::start("v0_expiry").await;
    let mut cfg = config(&env);
    cfg.v0_upload_url_expiry = Duration::from_secs(1);
    cfg.v0_download_url_expiry = Duration::from_secs(1);
    let (base, _h) = env.server(cfg).await;
    let v0 = V0::new(&base);
    let alice = token("alice");

    // A URL used in time works (the machine may be slow: retry with a fresh URL until one
    // PUT lands within its second; each try is a real refusal or a real success).
    let mut stored = false;
    for _ in 0..20 {
        let u = v0.upload_url(&alice, 1, 64).await;
        if put(&v0.c, u["upload_url"].as_str().unwrap(), blob(1, 64)).await == StatusCode::OK {
            v0.complete(&alice, &u["s3_key"], 1, 64).await.ok(200);
            stored = true;
            break;
        }
    }
    assert!(
        stored,
        "no upload URL was used within its second in 20 tries"
    );

    let u = v0.upload_url(&alice, 2, 64).await;
    let d = v0
        .post("download_url", &alice, json!({"backup_version": 1}))
        .await
        .ok(200);
    let up_expiry = time(&u["expires_at"]);
    let down_expiry = time(&d["expires_at"]);
    assert!(up_expiry - Utc::now() <= chrono::Duration::seconds(1));
    // Wait until both stated expiries have passed (by the clock, not a fixed sleep).
    let until = up_expiry.max(down_expiry) + chrono::Duration::milliseconds(1100);
    while Utc::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        put(&v0.c, u["upload_url"].as_str().unwrap(), blob(2, 64)).await,
        StatusCode::FORBIDDEN,
        "an expired upload URL"
    );
    let (status, body) = get(&v0.c, d["download_url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an expired download URL");
    assert!(
        String::from_utf8_lossy(&body).contains("expired"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    v0.complete(&alice, &u["s3_key"], 2, 64)
        .await
        .problem(400, "upload-missing");
    // A fresh download URL still reads the backup.
    let mut read = false;
    for _ in 0..20 {
        let (_, status, got) = v0.restore(&alice, Some(1)).await;
        if status == StatusCode::OK {
            assert_eq!(got, blob(1, 64));
            read = true;
            break;
        }
    }
    assert!(
        read,
        "no download URL was used within its second in 20 tries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_removes_uploads_never_completed() {
    let env = Env::start("v0_sweep").await;
    let (base, _h) = env.server(config(&env)).await;
    let v0 = V0::new(&base);
    let alice = token("alice");
    let (kept, _) = v0.backup(&alice, 1, &blob(1, 64)).await;
    let u = v0.staged(&alice, 2, &blob(2, 64)).await;
    let orphan = u["s3_key"].as_str().unwrap().to_owned();
    assert!(exists(&env, &orphan).await);
    // A server of no grace on the same storage: whatever its start-up sweep did, once a
    // sweep of its own returns, the object no row names is gone and the named one is kept.
    let mut eager = env.config();
    eager.orphan_grace = Duration::ZERO;
    let (_, h) = env.server(eager).await;
    let stats = h.sweep_now().await.unwrap();
    assert!(stats.listed >= 1, "{stats:?}");
    assert_eq!(env.objects_under("v0/").await, vec![kept]);
    let (_, _, got) = v0.restore(&alice, None).await;
    assert_eq!(got, blob(1, 64));
    // Its complete now finds nothing.
    v0.complete(&alice, &orphan, 2, 64)
        .await
        .problem(400, "upload-missing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_completes_of_one_slot_leave_one_row_and_its_object() {
    let env = Env::start("v0_race").await;
    let (base, _h) = env.server(config(&env)).await;
    let v0 = V0::new(&base);
    let alice = token("alice");
    let mut keys = Vec::new();
    for i in 0..6u8 {
        let u = v0.staged(&alice, 1, &blob(i, 64 + i as usize)).await;
        keys.push((u["s3_key"].as_str().unwrap().to_owned(), 64 + i as usize));
    }
    let results =
        futures::future::join_all(keys.iter().map(|(k, n)| v0.complete(&alice, k, 1, *n))).await;
    for r in &results {
        r.ok(200);
    }
    // One row; it names the one object left, of its size, and that object opens.
    let l = v0.list(&alice).await;
    assert_eq!(l.len(), 1);
    assert_eq!(
        env.objects_under("v0/").await.len(),
        1,
        "the replaced ones are deleted"
    );
    let (d, status, got) = v0.restore(&alice, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json!(got.len()), d["backup_size"]);
    assert_eq!(d["backup_size"], l[0]["backup_size"]);
    let i = got.len() - 64;
    assert_eq!(got, blob(i as u8, 64 + i));
}

// ---------------------------------------------------------------------------------------
// The broken variants: each misbehaves with its flag, and the reference does not.

/// A server with one broken variant on or off (docs/API.md, "Broken variants"), on a stack
/// of its own so that the broken run and the reference run share nothing.
async fn variant(
    name: &str,
    broken: bool,
    flag: fn(&mut backproof_server::UnsafeFlags) -> &mut bool,
) -> (Env, V0, backproof_server::ServerHandle) {
    let db = if broken {
        format!("{name}_bad")
    } else {
        name.to_owned()
    };
    let env = Env::start(&db).await;
    let mut cfg = config(&env);
    *flag(&mut cfg.unsafe_flags) = broken;
    let (base, h) = env.server(cfg).await;
    (env, V0::new(&base), h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_trusts_client_size_records_missing_and_wrong_sized_objects() {
    for broken in [false, true] {
        let (env, v0, _h) =
            variant("v0_trust", broken, |f| &mut f.complete_trusts_client_size).await;
        let alice = token("alice");

        // Complete without an upload.
        let u = v0.upload_url(&alice, 1, 64).await;
        let r = v0.complete(&alice, &u["s3_key"], 1, 64).await;
        // A size the object does not have.
        let u2 = v0.staged(&alice, 2, &blob(2, 64)).await;
        let r2 = v0.complete(&alice, &u2["s3_key"], 2, 65).await;
        let listed = v0.list(&alice).await;
        if broken {
            r.ok(200);
            r2.ok(200);
            // list names a missing object and one of another size: the invariant is broken.
            assert_eq!(listed.len(), 2);
            assert!(!exists(&env, u["s3_key"].as_str().unwrap()).await);
            assert_eq!(listed[1]["backup_size"], 65);
            let (_, status, _) = v0.restore(&alice, Some(1)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "the slot does not open");
            let (_, _, got) = v0.restore(&alice, Some(2)).await;
            assert_eq!(got.len(), 64, "not the recorded 65");
        } else {
            r.problem(400, "upload-missing");
            r2.problem(400, "size-mismatch");
            assert_eq!(listed, Vec::<Value>::new());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_backup_version_lets_a_third_slot_in() {
    for broken in [false, true] {
        let (_env, v0, _h) = variant("v0_slots", broken, |f| &mut f.any_backup_version).await;
        let alice = token("alice");
        v0.backup(&alice, 1, &blob(1, 64)).await;
        v0.backup(&alice, 2, &blob(2, 64)).await;
        let r = v0
            .post(
                "upload_url",
                &alice,
                json!({"backup_version": 3, "backup_size": 64}),
            )
            .await;
        if broken {
            let u = r.ok(200);
            assert_eq!(
                put(&v0.c, u["upload_url"].as_str().unwrap(), blob(3, 64)).await,
                StatusCode::OK
            );
            v0.complete(&alice, &u["s3_key"], 3, 64).await.ok(200);
            let listed = v0.list(&alice).await;
            assert_eq!(listed.len(), 3, "a third slot: {listed:?}");
            let (d, _, got) = v0.restore(&alice, None).await;
            assert_eq!((d["backup_version"].clone(), got), (json!(3), blob(3, 64)));
            v0.upload_url(&alice, 0, 64).await;
        } else {
            r.problem(400, "invalid-backup-version");
            assert_eq!(v0.list(&alice).await.len(), 2);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_any_key_lets_a_user_take_anothers_upload() {
    for broken in [false, true] {
        let (_env, v0, _h) = variant("v0_anykey", broken, |f| &mut f.complete_any_key).await;
        let (alice, bob) = (token("alice"), token("bob"));
        let u = v0.staged(&alice, 1, &blob(1, 64)).await;
        let r = v0.complete(&bob, &u["s3_key"], 1, 64).await;
        if broken {
            r.ok(200);
            // Bob's slot now names alice's object.
            let (_, _, got) = v0.restore(&bob, Some(1)).await;
            assert_eq!(got, blob(1, 64));
        } else {
            r.problem(400, "foreign-key");
            assert_eq!(v0.list(&bob).await, Vec::<Value>::new());
        }
        assert_eq!(v0.list(&alice).await, Vec::<Value>::new());
    }
}

/// A sweep racing a `complete_upload`: the hook starts a sweep of the same server between
/// the complete's HEAD and its commit, with the object old enough and named by no row yet,
/// and gives it three seconds to delete it. It must not: the sweep waits for the commit and
/// then finds the row (docs/API-v0.md, "Key layout and the crash invariant").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_never_deletes_an_object_between_a_completes_head_and_its_commit() {
    use std::sync::{Arc, Mutex, OnceLock};

    type Sweep = tokio::task::JoinHandle<Result<backproof_server::SweepStats, String>>;
    let env = Env::start("v0_sweep_race").await;
    let handle: Arc<OnceLock<backproof_server::ServerHandle>> = Arc::default();
    let key: Arc<OnceLock<String>> = Arc::default();
    let sweep: Arc<Mutex<Option<Sweep>>> = Arc::default();
    let s3 = env.stack.s3.client().await;
    let bucket = env.stack.s3.bucket().to_owned();
    let hook: backproof_server::Hook = {
        let (handle, key, sweep) = (handle.clone(), key.clone(), sweep.clone());
        Arc::new(move || {
            let (handle, key, sweep) = (handle.clone(), key.clone(), sweep.clone());
            let (s3, bucket) = (s3.clone(), bucket.clone());
            Box::pin(async move {
                let h = handle.get().expect("handle set").clone();
                let task: Sweep =
                    tokio::spawn(async move { h.sweep_now().await.map_err(|e| e.to_string()) });
                *sweep.lock().unwrap() = Some(task);
                let key = key.get().expect("key set").clone();
                // Until the object is gone or three seconds passed: a sweep that can delete
                // it here has done so by then on any machine.
                let _ = tokio::time::timeout(Duration::from_secs(3), async {
                    loop {
                        let head = s3.head_object().bucket(&bucket).key(&key).send().await;
                        if head.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                })
                .await;
            })
        })
    };
    let mut cfg = config(&env);
    cfg.orphan_grace = Duration::from_secs(2);
    cfg.hooks.v0_complete_after_head = Some(hook);
    let (base, h) = env.server(cfg).await;
    handle.set(h).unwrap();
    let v0 = V0::new(&base);
    let alice = token("alice");
    let u = v0.staged(&alice, 1, &blob(1, 64)).await;
    key.set(u["s3_key"].as_str().unwrap().to_owned()).unwrap();
    // Old enough for the sweep (its clock counts whole seconds).
    let aged = Utc::now() + chrono::Duration::seconds(3);
    while Utc::now() < aged {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    v0.complete(&alice, &u["s3_key"], 1, 64).await.ok(200);
    let task = sweep
        .lock()
        .unwrap()
        .take()
        .expect("the hook started a sweep");
    let stats = task.await.unwrap().unwrap();
    assert_eq!(stats.deleted, 0, "{stats:?}");
    assert!(exists(&env, u["s3_key"].as_str().unwrap()).await);
    let (_, status, got) = v0.restore(&alice, None).await;
    assert_eq!((status, got), (StatusCode::OK, blob(1, 64)));
}
