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

    /// upload_url → PUT → complete_upload; returns (s3_key, complete's answer).
    async fn backup(&self, tok: &str, version: i64, data: &[u8]) -> (String, Value) {
        let u = self
            .post(
                "upload_url",
                tok,
                json!({"backup_version": version, "backup_size": data.len()}),
            )
            .await
            .ok(200);
        let key = u["s3_key"].as_str().unwrap().to_owned();
        let put = put(&self.c, u["upload_url"].as_str().unwrap(), data.to_vec()).await;
        assert_eq!(put, StatusCode::OK, "PUT to the presigned URL");
        let done = self
            .post(
                "complete_upload",
                tok,
                json!({"s3_key": key, "backup_version": version, "backup_size": data.len()}),
            )
            .await
            .ok(200);
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
    let (base, _h) = env.server(env.config()).await;
    let v0 = V0::new(&base);
    let alice = token("alice");

    let s = v0.post("settings", &alice, json!({})).await.ok(200);
    assert_eq!(s, json!({"backup_enabled": false, "last_backup_at": null}));
    assert_eq!(v0.list(&alice).await, Vec::<Value>::new());
    v0.post("download_url", &alice, json!({}))
        .await
        .problem(404, "no-backup");

    // The URL signs Content-Length, and the key is a fresh one in alice's slot 1.
    let u = v0
        .post(
            "upload_url",
            &alice,
            json!({"backup_version": 1, "backup_size": 100}),
        )
        .await
        .ok(200);
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
    v0.post(
        "complete_upload",
        &alice,
        json!({"s3_key": key3, "backup_version": 1, "backup_size": 200}),
    )
    .await
    .ok(200);
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
