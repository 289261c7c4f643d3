//! Running the scripted steps of a scenario.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use backproof_faults::{Fault, Rule, StepMatch, When};
use backproof_format::payload::{self, BackupPayload, Contact, IdentityKeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::model::{BodyDef, Expect, SecretDef, Step, StorageOp};
use super::world::World;

/// Time allowed for one adapter operation (the floor KDF, retries with backoff).
pub const OP_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a case did not pass.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The target misbehaved.
    Fail {
        expected: String,
        observed: String,
        reason: String,
    },
    /// The harness or its infrastructure failed; says nothing about the target.
    Error(String),
}

impl Verdict {
    pub fn fail(
        expected: impl Into<String>,
        observed: impl Into<String>,
        reason: impl Into<String>,
    ) -> Verdict {
        Verdict::Fail {
            expected: expected.into(),
            observed: observed.into(),
            reason: reason.into(),
        }
    }
}

pub type StepResult = Result<Option<String>, Verdict>;

/// The outcome of an adapter call, as text: `ok`, an error class, `crashed` (the adapter
/// process died), or `protocol-error: ...`.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    pub outcome: String,
    pub result: Option<Value>,
    pub message: String,
    pub tried: Option<Vec<String>>,
}

pub fn secret_json(s: &SecretDef) -> Value {
    match (&s.passphrase, &s.key) {
        (Some(p), _) => json!({"passphrase": p}),
        (None, Some(k)) => json!({"key": k}),
        (None, None) => json!({}),
    }
}

fn identity_of(id: &str) -> IdentityKeyPair {
    IdentityKeyPair {
        public_key: Sha256::digest(format!("backproof scenario identity public {id}")).to_vec(),
        private_key: Sha256::digest(format!("backproof scenario identity private {id}")).to_vec(),
    }
}

/// The payload a scenario means by "user U with these contacts".
pub fn build_payload(identity: &str, contacts: &[String]) -> BackupPayload {
    BackupPayload {
        schema: 1,
        identity: Some(identity_of(identity)),
        contacts: contacts
            .iter()
            .map(|c| Contact {
                uuid: c.clone(),
                username: format!("user {c}"),
            })
            .collect(),
        profile: None,
    }
}

pub fn contacts_of(payload_hex: &str) -> Result<Vec<String>, String> {
    let bytes = hex::decode(payload_hex).map_err(|e| format!("payload is not hex: {e}"))?;
    let p = payload::decode(&bytes).map_err(|e| format!("payload does not decode: {e}"))?;
    let mut c: Vec<String> = p.contacts.into_iter().map(|c| c.uuid).collect();
    c.sort();
    Ok(c)
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

impl World {
    /// Sends one op to an actor's adapter (in a blocking thread) and classifies the answer.
    pub async fn call(
        &self,
        actor: &str,
        op: &str,
        mut fields: Value,
    ) -> Result<CallOutcome, Verdict> {
        let adapter = self
            .actors
            .get(actor)
            .ok_or_else(|| Verdict::Error(format!("scenario names unknown actor {actor:?}")))?
            .clone();
        let user = self.actor_users.get(actor).cloned().unwrap_or_default();
        if let Value::Object(m) = &mut fields {
            m.insert("profile".into(), json!("v1"));
            if op != "open" && op != "seal" {
                m.insert(
                    "server".into(),
                    self.wire_server(&user).await.map_err(Verdict::Error)?,
                );
            }
        }
        let op_name = op.to_string();
        let answer = tokio::task::spawn_blocking(move || {
            let mut a = adapter.lock().unwrap_or_else(|p| p.into_inner());
            a.call(&op_name, fields, OP_TIMEOUT)
        })
        .await
        .map_err(|e| Verdict::Error(format!("adapter thread: {e}")))?;
        Ok(match answer {
            Ok(Ok(result)) => CallOutcome {
                outcome: "ok".into(),
                result: Some(result),
                message: String::new(),
                tried: None,
            },
            Ok(Err(e)) => CallOutcome {
                outcome: e.class.clone(),
                result: None,
                message: e.message,
                tried: e.tried,
            },
            Err(backproof_client::adapter::DriverError::Exited { stderr, .. }) => CallOutcome {
                outcome: "crashed".into(),
                result: None,
                message: stderr,
                tried: None,
            },
            Err(e) => CallOutcome {
                outcome: "adapter-broken".into(),
                result: None,
                message: e.to_string(),
                tried: None,
            },
        })
    }

    /// Restarts an actor's adapter with its state dir and says hello.
    pub async fn restart_actor(&self, actor: &str) -> Result<(), Verdict> {
        let adapter = self
            .actors
            .get(actor)
            .ok_or_else(|| Verdict::Error(format!("unknown actor {actor:?}")))?
            .clone();
        tokio::task::spawn_blocking(move || {
            let mut a = adapter.lock().unwrap_or_else(|p| p.into_inner());
            a.restart()?;
            a.hello().map(|_| ())
        })
        .await
        .map_err(|e| Verdict::Error(e.to_string()))?
        .map_err(|e| Verdict::fail("the adapter restarts", "it did not", e.to_string()))
    }

    pub async fn actor_pid(&self, actor: &str) -> Option<u32> {
        let a = self.actors.get(actor)?.clone();
        let guard = a.lock().unwrap_or_else(|p| p.into_inner());
        guard.pid()
    }

    /// Restarts the server if it is not running (a proxy killed it).
    pub async fn ensure_server(&self) -> Result<(), Verdict> {
        let mut s = self.server.lock().await;
        if s.exited() {
            s.restart().await.map_err(Verdict::Error)?;
        }
        Ok(())
    }

    /// GET /v1/backup straight to the server: `(version, body)` or `None` on 404.
    pub async fn fetch(&self, user: &str) -> Result<Option<(u64, Vec<u8>)>, Verdict> {
        let token = self.token(user).await.map_err(Verdict::Error)?;
        let url = format!("{}/v1/backup", self.server_url().await);
        let resp = http_client()
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| Verdict::fail("GET /v1/backup answers", "no answer", e.to_string()))?;
        if resp.status() == 404 {
            return Ok(None);
        }
        if resp.status() != 200 {
            return Err(Verdict::fail(
                "GET /v1/backup → 200 or 404",
                resp.status().as_u16().to_string(),
                "fetching the stored blob",
            ));
        }
        let version = etag_version(resp.headers().get("etag").and_then(|v| v.to_str().ok()))
            .ok_or_else(|| {
                Verdict::fail(
                    "an ETag \"<version>\"",
                    "none or malformed",
                    "GET /v1/backup",
                )
            })?;
        let body = resp
            .bytes()
            .await
            .map_err(|e| Verdict::fail("a body", "read failed", e.to_string()))?;
        Ok(Some((version, body.to_vec())))
    }

    /// Finds the S3 object that holds `user`'s current backup, by content.
    async fn locate(&self, user: &str) -> Result<(String, Vec<u8>), Verdict> {
        let (_, blob) = self
            .fetch(user)
            .await?
            .ok_or_else(|| Verdict::Error(format!("user {user} has no backup to damage")))?;
        for key in self.list_keys().await? {
            let obj = self.get_object(&key).await?;
            if obj == blob {
                return Ok((key, obj));
            }
        }
        Err(Verdict::Error(
            "no object in the bucket holds the served blob byte for byte".into(),
        ))
    }

    pub async fn list_keys(&self) -> Result<Vec<String>, Verdict> {
        let st = self.storage().map_err(Verdict::Error)?;
        let out = st
            .s3
            .list_objects_v2()
            .bucket(&st.bucket)
            .send()
            .await
            .map_err(|e| Verdict::Error(format!("list bucket: {e:?}")))?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect())
    }

    async fn get_object(&self, key: &str) -> Result<Vec<u8>, Verdict> {
        let st = self.storage().map_err(Verdict::Error)?;
        let out = st
            .s3
            .get_object()
            .bucket(&st.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| Verdict::Error(format!("get {key}: {e:?}")))?;
        let b = out
            .body
            .collect()
            .await
            .map_err(|e| Verdict::Error(format!("read {key}: {e}")))?;
        Ok(b.into_bytes().to_vec())
    }

    async fn put_object(&self, key: &str, bytes: Vec<u8>) -> Result<(), Verdict> {
        let st = self.storage().map_err(Verdict::Error)?;
        st.s3
            .put_object()
            .bucket(&st.bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| Verdict::Error(format!("put {key}: {e:?}")))?;
        Ok(())
    }

    /// Runs one scripted step. `Ok(Some(note))` = passed as an accepted alternative.
    pub async fn run_step(&self, step: &Step) -> StepResult {
        match step {
            Step::Backup {
                actor,
                secret,
                contacts,
                identity,
                expect,
            } => {
                let user = self.actor_users.get(actor).cloned().unwrap_or_default();
                let p = build_payload(identity.as_deref().unwrap_or(&user), contacts);
                let out = self
                    .call(
                        actor,
                        "backup",
                        json!({"secret": secret_json(secret), "payload": hex::encode(payload::encode(&p))}),
                    )
                    .await?;
                check_outcome("backup", expect, &out)
            }
            Step::Restore {
                actor,
                secret,
                any_of,
                expect,
                contacts,
                version,
            } => {
                let secrets: Vec<&SecretDef> = secret.iter().chain(any_of.iter()).collect();
                let mut last = None;
                for s in &secrets {
                    let out = self
                        .call(actor, "restore", json!({"secret": secret_json(s)}))
                        .await?;
                    let ok = expect.allows(&out.outcome);
                    if ok || !any_of.is_empty() && out.outcome != "ok" {
                        if ok {
                            if let (Some(want), Some(r)) = (contacts, &out.result) {
                                let got = contacts_of(r["payload"].as_str().unwrap_or_default())
                                    .map_err(|e| Verdict::fail("a payload", "garbage", e))?;
                                let mut want = want.clone();
                                want.sort();
                                if got != want {
                                    return Err(Verdict::fail(
                                        format!("contacts {want:?}"),
                                        format!("contacts {got:?}"),
                                        "restore returned other contacts than were backed up",
                                    ));
                                }
                            }
                            if let (Some(v), Some(r)) = (version, &out.result)
                                && r["version"].as_u64() != Some(*v)
                            {
                                return Err(Verdict::fail(
                                    format!("version {v}"),
                                    format!("version {}", r["version"]),
                                    "restore returned another version",
                                ));
                            }
                            return Ok(None);
                        }
                        last = Some(out);
                        continue;
                    }
                    return check_outcome("restore", expect, &out);
                }
                let out =
                    last.ok_or_else(|| Verdict::Error("restore step has no secret".into()))?;
                Err(Verdict::fail(
                    format!(
                        "restore with one of {} secrets: {}",
                        secrets.len(),
                        expect.describe()
                    ),
                    format!("{} ({})", out.outcome, out.message),
                    "no secret restored the backup",
                ))
            }
            Step::Rotate {
                actor,
                old,
                new,
                expect,
            } => {
                let out = self
                    .call(
                        actor,
                        "rotate",
                        json!({"old": secret_json(old), "new": secret_json(new)}),
                    )
                    .await?;
                check_outcome("rotate", expect, &out)
            }
            Step::Recover {
                actor,
                candidates,
                expect,
                matched,
                tried,
                contacts,
            } => {
                let cands =
                    serde_json::to_value(candidates).map_err(|e| Verdict::Error(e.to_string()))?;
                let out = self
                    .call(actor, "recover", json!({"candidates": cands}))
                    .await?;
                check_outcome("recover", expect, &out)?;
                if let (Some(m), Some(r)) = (matched, &out.result)
                    && r["matched"].as_str() != Some(m)
                {
                    return Err(Verdict::fail(
                        format!("matched {m}"),
                        format!("matched {}", r["matched"]),
                        "recover named the wrong candidate",
                    ));
                }
                if let (Some(want), Some(r)) = (contacts, &out.result) {
                    let got = contacts_of(r["payload"].as_str().unwrap_or_default())
                        .map_err(|e| Verdict::fail("a payload", "garbage", e))?;
                    let mut want = want.clone();
                    want.sort();
                    if got != want {
                        return Err(Verdict::fail(
                            format!("{want:?}"),
                            format!("{got:?}"),
                            "recovered contacts",
                        ));
                    }
                }
                if let Some(want) = tried
                    && out.outcome != "ok"
                    && out.tried.as_ref() != Some(want)
                {
                    return Err(Verdict::fail(
                        format!("tried {want:?}"),
                        format!("tried {:?}", out.tried),
                        "wrong_key must list the candidates tried, in order",
                    ));
                }
                Ok(None)
            }
            Step::Delete { actor, expect } => {
                let out = self.call(actor, "delete", json!({})).await?;
                check_outcome("delete", expect, &out)
            }
            Step::OpenStored {
                actor,
                user,
                secret,
                expect,
            } => {
                let (_, blob) = self
                    .fetch(user)
                    .await?
                    .ok_or_else(|| Verdict::Error("nothing stored to open".into()))?;
                let out = self
                    .call(
                        actor,
                        "open",
                        json!({"secret": secret_json(secret), "blob": hex::encode(blob)}),
                    )
                    .await?;
                check_outcome("open", expect, &out)
            }
            Step::Http { .. } => self.http_step(step).await,
            Step::Storage { .. } => self.storage_step(step).await,
            Step::Fault {
                proxy,
                at,
                fault,
                when,
                actor,
                status,
                ms,
                method,
            } => {
                let when = match when.as_deref() {
                    Some("after") => When::AfterForward,
                    _ => When::BeforeForward,
                };
                let f =
                    match fault.as_str() {
                        "kill-client" => {
                            let a = actor.as_deref().unwrap_or_default();
                            let pid = self.actor_pid(a).await.ok_or_else(|| {
                                Verdict::Error(format!("actor {a} is not running"))
                            })?;
                            Fault::Kill { pid, when }
                        }
                        "kill-server" => {
                            let pid =
                                self.server.lock().await.pid().ok_or_else(|| {
                                    Verdict::Error("server is not running".into())
                                })?;
                            Fault::Kill { pid, when }
                        }
                        "drop" => Fault::Drop { when },
                        "status" => Fault::Status(status.unwrap_or(503)),
                        "delay" => Fault::Delay(Duration::from_millis(ms.unwrap_or(100))),
                        other => return Err(Verdict::Error(format!("unknown fault {other:?}"))),
                    };
                let p = self.proxy(proxy)?;
                p.reset();
                p.arm(Rule {
                    at: *at,
                    matching: StepMatch {
                        method: method.clone(),
                        pattern_prefix: None,
                    },
                    fault: f,
                });
                Ok(None)
            }
            Step::Restart { target, actor } => match target.as_str() {
                "server" => {
                    self.server
                        .lock()
                        .await
                        .restart()
                        .await
                        .map_err(Verdict::Error)?;
                    Ok(None)
                }
                "client" => {
                    self.restart_actor(actor.as_deref().unwrap_or_default())
                        .await?;
                    Ok(None)
                }
                other => Err(Verdict::Error(format!("cannot restart {other:?}"))),
            },
        }
    }

    pub fn proxy(&self, name: &str) -> Result<&backproof_faults::FaultProxy, Verdict> {
        match name {
            "client" => Ok(&self.client_proxy),
            "s3" => self.storage().map(|s| &s.s3_proxy).map_err(Verdict::Error),
            other => Err(Verdict::Error(format!(
                "unknown proxy {other:?} (client or s3)"
            ))),
        }
    }

    async fn http_step(&self, step: &Step) -> StepResult {
        let Step::Http {
            user,
            auth,
            method,
            path,
            headers,
            body,
            status,
            expect_headers,
            problem,
            json: json_members,
            body_equals,
            save_body,
        } = step
        else {
            return Err(Verdict::Error("not an http step".into()));
        };
        let url = format!("{}{}", self.server_url().await, path);
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| Verdict::Error(format!("bad method {method}")))?;
        let mut req = http_client().request(m, &url);
        let token = match user {
            Some(u) => Some(self.token(u).await.map_err(Verdict::Error)?),
            None => None,
        };
        match (auth.as_deref().unwrap_or("token"), &token) {
            ("token", Some(t)) => req = req.header("authorization", format!("Bearer {t}")),
            ("none", _) | ("token", None) => {}
            ("garbage", _) => req = req.header("authorization", "Bearer not-a-token"),
            ("wrong-scheme", Some(t)) => req = req.header("authorization", format!("Basic {t}")),
            ("forged", Some(t)) => {
                // Same user, a MAC that is not the server's.
                let cut = t.rfind('.').map(|i| i + 1).unwrap_or(t.len());
                req = req.header(
                    "authorization",
                    format!(
                        "Bearer {}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        &t[..cut]
                    ),
                );
            }
            (other, _) => return Err(Verdict::Error(format!("bad auth mode {other:?}"))),
        }
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut sent_body: Option<Vec<u8>> = None;
        if let Some(b) = body {
            let bytes = body_bytes(b)?;
            sent_body = Some(bytes.clone());
            if b.chunked {
                let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = bytes
                    .chunks(64 * 1024)
                    .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                    .collect();
                req = req.body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
            } else {
                req = req.body(bytes);
            }
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Err(Verdict::fail(
                    format!("HTTP {}", status.first().copied().unwrap_or(0)),
                    "no answer",
                    e.to_string(),
                ));
            }
        };
        let code = resp.status().as_u16();
        let got_headers = resp.headers().clone();
        let text = resp.bytes().await.unwrap_or_default().to_vec();
        let desc = format!("{method} {path}");
        let expected_status = status
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        let Some(pos) = status.iter().position(|s| *s == code) else {
            return Err(Verdict::fail(
                format!("{desc} → {expected_status}"),
                format!("{code} {}", clip(&String::from_utf8_lossy(&text))),
                "status",
            ));
        };
        for (name, want) in expect_headers {
            let got = got_headers.get(name.as_str()).and_then(|v| v.to_str().ok());
            let ok = match got {
                Some(g) => want == "*" || g == want,
                None => false,
            };
            if !ok {
                return Err(Verdict::fail(
                    format!("{desc}: header {name}: {want}"),
                    format!("{name}: {}", got.unwrap_or("(absent)")),
                    "response header",
                ));
            }
        }
        if let Some(ptype) = problem {
            let ct = got_headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !ct.starts_with("application/problem+json") {
                return Err(Verdict::fail(
                    format!("{desc}: application/problem+json"),
                    format!("content-type {ct:?}"),
                    "every error is a problem+json body",
                ));
            }
            let v: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
            let fields_ok = v["title"].is_string()
                && v["detail"].is_string()
                && v["status"].as_u64() == Some(u64::from(code));
            if v["type"].as_str() != Some(ptype) || !fields_ok {
                return Err(Verdict::fail(
                    format!("problem {{type: {ptype}, title, status: {code}, detail}}"),
                    clip(&String::from_utf8_lossy(&text)),
                    "problem body",
                ));
            }
        }
        if !json_members.is_empty() {
            let v: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
            for (k, want) in json_members {
                let got = &v[k.as_str()];
                let got_text = got
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| got.to_string());
                if got.is_null() || (want != "*" && &got_text != want) {
                    return Err(Verdict::fail(
                        format!("{desc}: JSON member {k} = {want}"),
                        clip(&String::from_utf8_lossy(&text)),
                        "response body",
                    ));
                }
                if want == "*"
                    && k == "sha256"
                    && let Some(b) = &sent_body
                    && got_text != sha256_hex(b)
                {
                    return Err(Verdict::fail(
                        "sha256 of the uploaded body",
                        got_text,
                        "response body sha256",
                    ));
                }
            }
        }
        if let Some(label) = body_equals {
            let saved = self
                .saved
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(label)
                .cloned();
            if saved.as_deref() != Some(&text[..]) {
                return Err(Verdict::fail(
                    format!("{desc}: the body saved as {label}"),
                    format!("{} bytes, sha256 {}", text.len(), sha256_hex(&text)),
                    "body",
                ));
            }
        }
        if let Some(label) = save_body {
            let b = if method.eq_ignore_ascii_case("POST") {
                sent_body.unwrap_or_default()
            } else {
                text
            };
            self.saved
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(label.clone(), b);
        }
        if pos > 0 {
            Ok(Some(format!(
                "{desc} → {code} (accepted alternative to {})",
                status[0]
            )))
        } else {
            Ok(None)
        }
    }

    async fn storage_step(&self, step: &Step) -> StepResult {
        let Step::Storage {
            user,
            op,
            offset,
            field,
            index,
            len,
            hex: hex_bytes,
            expect_count,
            within_ms,
        } = step
        else {
            return Err(Verdict::Error("not a storage step".into()));
        };
        if let StorageOp::List = op {
            let want = expect_count.unwrap_or(1);
            let deadline =
                tokio::time::Instant::now() + Duration::from_millis(within_ms.unwrap_or(0));
            loop {
                let keys = self.list_keys().await?;
                if keys.len() == want {
                    return Ok(None);
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(Verdict::fail(
                        format!("{want} object(s) in storage"),
                        format!("{} object(s): {keys:?}", keys.len()),
                        "orphan objects must be removed (never the live one)",
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let (key, mut blob) = self.locate(user).await?;
        let at = |blob: &[u8]| -> Result<usize, Verdict> {
            if let Some(f) = field {
                let (start, end) = field_range(blob, f)?;
                let i = index.unwrap_or(0);
                if start + i >= end && !(matches!(op, StorageOp::Truncate) && start + i == end) {
                    return Err(Verdict::Error(format!("field {f} has no byte {i}")));
                }
                Ok(start + i)
            } else if let Some(o) = offset {
                let n = blob.len() as i64;
                let o = if *o < 0 { n + o } else { *o };
                usize::try_from(o).map_err(|_| Verdict::Error("offset before the start".into()))
            } else {
                Err(Verdict::Error(
                    "storage step needs `field` or `offset`".into(),
                ))
            }
        };
        match op {
            StorageOp::Flip => {
                let i = at(&blob)?;
                let b = blob
                    .get_mut(i)
                    .ok_or_else(|| Verdict::Error(format!("offset {i} past the end")))?;
                *b ^= 0x01;
            }
            StorageOp::Truncate => {
                let n = match len {
                    Some(n) => *n,
                    None => at(&blob)?,
                };
                blob.truncate(n);
            }
            StorageOp::Append => {
                blob.extend(
                    hex::decode(hex_bytes.as_deref().unwrap_or("00"))
                        .map_err(|e| Verdict::Error(e.to_string()))?,
                );
            }
            StorageOp::Replace => {
                blob = hex::decode(hex_bytes.as_deref().unwrap_or(""))
                    .map_err(|e| Verdict::Error(e.to_string()))?;
            }
            StorageOp::Delete => {
                let st = self.storage().map_err(Verdict::Error)?;
                st.s3
                    .delete_object()
                    .bucket(&st.bucket)
                    .key(&key)
                    .send()
                    .await
                    .map_err(|e| Verdict::Error(format!("delete {key}: {e:?}")))?;
                return Ok(None);
            }
            StorageOp::List => return Ok(None),
        }
        self.put_object(&key, blob).await?;
        Ok(None)
    }
}

fn clip(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s.to_string()
    }
}

pub fn http_client() -> reqwest::Client {
    static C: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_default()
    })
    .clone()
}

/// `"7"` → 7; a bare or weak tag is not a version.
pub fn etag_version(v: Option<&str>) -> Option<u64> {
    let v = v?.trim();
    let inner = v.strip_prefix('"')?.strip_suffix('"')?;
    inner.parse().ok()
}

fn body_bytes(b: &BodyDef) -> Result<Vec<u8>, Verdict> {
    if let Some(t) = &b.text {
        return Ok(t.as_bytes().to_vec());
    }
    if let Some(h) = &b.hex {
        return hex::decode(h).map_err(|e| Verdict::Error(format!("body hex: {e}")));
    }
    if let Some(n) = b.random_len {
        // Deterministic filler: the server never looks inside a blob.
        let mut out = Vec::with_capacity(n);
        let mut x: u32 = 0x9e37_79b9;
        while out.len() < n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            out.push(x as u8);
        }
        return Ok(out);
    }
    Ok(Vec::new())
}

/// Byte range of a named field of a v1 blob (BRIEF §3).
pub fn field_range(blob: &[u8], field: &str) -> Result<(usize, usize), Verdict> {
    let sl = usize::from(
        *blob
            .get(15)
            .ok_or_else(|| Verdict::Error("blob too short".into()))?,
    );
    let h = 68 + sl;
    let n = blob.len();
    let r = match field {
        "magic" => (0, 4),
        "version" => (4, 5),
        "kdf_id" => (5, 6),
        "m_cost" => (6, 10),
        "t_cost" => (10, 14),
        "p_cost" => (14, 15),
        "salt_len" => (15, 16),
        "salt" => (16, 16 + sl),
        "nonce" => (16 + sl, 28 + sl),
        "key_check" => (28 + sl, 60 + sl),
        "header_digest" => (60 + sl, h),
        "ciphertext" => (h, n.saturating_sub(16)),
        "tag" => (n.saturating_sub(16), n),
        other => return Err(Verdict::Error(format!("unknown blob field {other:?}"))),
    };
    Ok(r)
}

fn check_outcome(op: &str, expect: &Expect, out: &CallOutcome) -> StepResult {
    if expect.allows(&out.outcome) {
        return Ok(None);
    }
    Err(Verdict::fail(
        format!("{op} → {}", expect.describe()),
        if out.message.is_empty() {
            out.outcome.clone()
        } else {
            format!("{} ({})", out.outcome, clip(&out.message))
        },
        format!("{op} gave an unexpected outcome"),
    ))
}

/// The set of contacts a restore saw, for drivers.
pub fn contact_set(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}

/// Shared handle so drivers can run steps from spawned tasks.
pub type WorldRef = Arc<World>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_ranges_follow_the_v1_layout() {
        // A real sealed blob: raw key (salt_len 0) and a passphrase blob (salt_len 16).
        let raw = backproof_format::seal(
            &backproof_format::Secret::key([7; 32]),
            &backproof_format::KdfParams::FLOOR,
            &[],
            &[1; 12],
            b"hello",
        )
        .unwrap();
        assert_eq!(field_range(&raw, "magic").unwrap(), (0, 4));
        assert_eq!(&raw[0..4], b"BKPF");
        assert_eq!(field_range(&raw, "nonce").unwrap(), (16, 28));
        assert_eq!(&raw[16..28], &[1; 12]);
        let (c0, c1) = field_range(&raw, "ciphertext").unwrap();
        assert_eq!((c0, c1 - c0), (68, 5));
        assert_eq!(field_range(&raw, "tag").unwrap(), (73, 89));
        let mut p = raw.clone();
        p[15] = 16;
        p.splice(16..16, [0u8; 16]);
        assert_eq!(field_range(&p, "salt").unwrap(), (16, 32));
        assert_eq!(field_range(&p, "key_check").unwrap(), (44, 76));
        assert!(matches!(field_range(&raw, "nope"), Err(Verdict::Error(_))));
        assert!(matches!(field_range(&[], "magic"), Err(Verdict::Error(_))));
    }

    #[test]
    fn etags_are_strict() {
        assert_eq!(etag_version(Some("\"12\"")), Some(12));
        assert_eq!(etag_version(Some("12")), None);
        assert_eq!(etag_version(Some("W/\"12\"")), None);
        assert_eq!(etag_version(None), None);
    }

    #[test]
    fn payloads_round_trip_to_contacts() {
        let p = build_payload("alice", &["b".into(), "a".into()]);
        let hexed = hex::encode(payload::encode(&p));
        assert_eq!(contacts_of(&hexed).unwrap(), ["a", "b"]);
        assert!(contacts_of("zz").is_err());
        // A different identity is a different key pair.
        assert_ne!(build_payload("bob", &[]).identity, p.identity);
    }

    #[test]
    fn expectations() {
        assert!(Expect::default().allows("ok"));
        let e = Expect::AnyOf(vec!["corrupted".into(), "malformed".into()]);
        assert!(e.allows("malformed") && !e.allows("ok"));
        assert_eq!(e.describe(), "corrupted or malformed");
    }
}
