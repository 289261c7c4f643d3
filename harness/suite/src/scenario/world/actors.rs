//! The actors: one adapter process each (docs/ADAPTER.md), called with the protocol's
//! request types.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backproof_client::adapter::protocol::{
    BackupRequest, DeleteRequest, Hex, OpenRequest, RecoverRequest, RestoreRequest, RotateRequest,
    SealRequest, WireServer,
};
use backproof_client::adapter::{AdapterProcess, DriverError};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{World, WorldError};
use crate::scenario::model::{Candidate, Expected, Op, Profile, Secret, VaultKdf};
use crate::scenario::verdict::Verdict;

/// Time allowed for one adapter operation (the floor KDF, retries with backoff).
const OP_TIMEOUT: Duration = Duration::from_secs(60);

/// One operation for an actor's adapter; the world adds `profile` and `server`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Request<'a> {
    Backup {
        secret: &'a Secret,
        payload: &'a [u8],
        /// `metamask-vault` only (refused at load elsewhere): the parameters to write with.
        kdf: Option<&'a VaultKdf>,
    },
    Restore {
        secret: &'a Secret,
    },
    Rotate {
        old: &'a Secret,
        new: &'a Secret,
    },
    Recover {
        candidates: &'a [Candidate],
    },
    Delete,
    /// `open` on these bytes (no server involved).
    Open {
        secret: &'a Secret,
        blob: &'a [u8],
    },
    /// `seal` with the writer's own parameters and no salt or nonce: the adapter draws them.
    Seal {
        secret: &'a Secret,
        plaintext: &'a [u8],
    },
    /// A `dbm-stream-v1` op with its own fields (docs/profiles/dbm-stream-v1.md §8); the
    /// world adds `profile`, and `store` for `backup` and `restore`.
    Dbm {
        op: Op,
        fields: &'a Value,
    },
    /// A `noah-v0` op with its own fields (docs/profiles/noah-v0.md §7); the world adds
    /// `profile`, and `store` (the server through the client proxy, the user's token) for
    /// the store ops.
    Noah {
        op: Op,
        fields: &'a Value,
    },
}

impl Request<'_> {
    pub(crate) fn op(&self) -> Op {
        match self {
            Request::Backup { .. } => Op::Backup,
            Request::Restore { .. } => Op::Restore,
            Request::Rotate { .. } => Op::Rotate,
            Request::Recover { .. } => Op::Recover,
            Request::Delete => Op::Delete,
            Request::Open { .. } => Op::Open,
            Request::Seal { .. } => Op::Seal,
            Request::Dbm { op, .. } | Request::Noah { op, .. } => *op,
        }
    }
}

/// How an adapter call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Observed {
    /// `ok`, a class of the closed list, or `crashed` (the adapter process died).
    Known(Expected),
    /// The adapter answered a class outside the closed list: a finding, kept as sent.
    UnknownClass(String),
    /// The exchange itself failed (not JSON, wrong id, timeout…).
    AdapterBroken,
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observed::Known(e) => e.fmt(f),
            Observed::UnknownClass(c) => f.write_str(c),
            Observed::AdapterBroken => f.write_str("adapter-broken"),
        }
    }
}

/// The answer to one adapter call.
#[derive(Debug, Clone)]
pub(crate) struct CallOutcome {
    pub(crate) outcome: Observed,
    pub(crate) result: Option<Value>,
    pub(crate) message: String,
    pub(crate) tried: Option<Vec<String>>,
}

impl CallOutcome {
    pub(crate) fn is_ok(&self) -> bool {
        self.outcome == Observed::Known(Expected::Ok)
    }

    pub(crate) fn is(&self, e: Expected) -> bool {
        self.outcome == Observed::Known(e)
    }

    /// The result member of a successful answer, as the protocol type of the op.
    pub(crate) fn parse<T: DeserializeOwned>(&self, what: &str) -> Result<T, Verdict> {
        let v = self.result.clone().unwrap_or(Value::Null);
        serde_json::from_value(v).map_err(|e| {
            Verdict::fail(
                format!("a {what} result of docs/ADAPTER.md"),
                "another shape",
                e.to_string(),
            )
        })
    }
}

impl World {
    /// Starts the actors' adapter processes (each with its own state dir) and says hello.
    pub(super) async fn start_actors(
        mut self,
        actors: &[(String, String)],
    ) -> Result<World, WorldError> {
        // Adapters start in parallel, off the async threads (spawn and hello block).
        let starts: Vec<_> = actors
            .iter()
            .map(|(name, _)| {
                let state = self.dir.join(format!("state-{name}"));
                let cmd = self.target.client_adapter.clone();
                tokio::task::spawn_blocking(move || -> Result<AdapterProcess, WorldError> {
                    std::fs::create_dir_all(&state)?;
                    let mut p = AdapterProcess::spawn(&cmd, Some(&state))
                        .map_err(WorldError::AdapterStart)?;
                    p.hello().map_err(WorldError::AdapterHello)?;
                    Ok(p)
                })
            })
            .collect();
        for ((name, user), start) in actors.iter().zip(starts) {
            let p = start.await??;
            self.actors.insert(name.clone(), Arc::new(Mutex::new(p)));
            self.actor_users.insert(name.clone(), user.clone());
        }
        Ok(self)
    }

    fn adapter(&self, actor: &str) -> Result<Arc<Mutex<AdapterProcess>>, WorldError> {
        self.actors
            .get(actor)
            .cloned()
            .ok_or_else(|| WorldError::UnknownActor(actor.to_string()))
    }

    /// The logical user an actor acts for.
    pub(crate) fn actor_user(&self, actor: &str) -> String {
        self.actor_users.get(actor).cloned().unwrap_or_default()
    }

    /// The request's JSON as docs/ADAPTER.md specifies it.
    async fn request_json(&self, actor: &str, req: Request<'_>) -> Result<Value, WorldError> {
        if self.is_object_store() {
            return self.object_store_request(actor, req);
        }
        if let Request::Noah { op, fields } = req {
            let mut json = fields.clone();
            if let Some(m) = json.as_object_mut() {
                m.insert(
                    "profile".into(),
                    Value::String(self.profile().as_str().to_string()),
                );
                if matches!(
                    op,
                    Op::Backup | Op::Restore | Op::List | Op::Delete | Op::Settings
                ) {
                    m.insert(
                        "store".into(),
                        self.wire_noah_store(&self.actor_user(actor)).await?,
                    );
                }
            }
            return Ok(json);
        }
        let profile = Profile::V1.as_str().to_string();
        let user = self.actor_user(actor);
        let json = match req {
            Request::Open { secret, blob } => serde_json::to_value(OpenRequest {
                profile,
                secret: secret.clone(),
                blob: Hex(blob.to_vec()),
            }),
            Request::Seal { secret, plaintext } => serde_json::to_value(SealRequest {
                profile,
                secret: secret.clone(),
                plaintext: Hex(plaintext.to_vec()),
                kdf: None,
                salt: None,
                nonce: None,
            }),
            Request::Backup {
                secret, payload, ..
            } => serde_json::to_value(BackupRequest {
                profile,
                server: self.wire_server(&user).await?,
                secret: secret.clone(),
                payload: Hex(payload.to_vec()),
            }),
            Request::Restore { secret } => serde_json::to_value(RestoreRequest {
                profile,
                server: self.wire_server(&user).await?,
                secret: secret.clone(),
            }),
            Request::Rotate { old, new } => serde_json::to_value(RotateRequest {
                profile,
                server: self.wire_server(&user).await?,
                old: old.clone(),
                new: new.clone(),
            }),
            Request::Recover { candidates } => serde_json::to_value(RecoverRequest {
                profile,
                server: self.wire_server(&user).await?,
                candidates: candidates.to_vec(),
            }),
            Request::Delete => serde_json::to_value(DeleteRequest {
                profile,
                server: self.wire_server(&user).await?,
            }),
            // Refused at load outside profile dbm-stream-v1, an object-store profile.
            Request::Dbm { fields, .. } | Request::Noah { fields, .. } => Ok(fields.clone()),
        };
        // The protocol types serialize to JSON objects without fail.
        Ok(json.unwrap_or(Value::Null))
    }

    /// An object-store profile's request (docs/profiles/byok-json-v1.md §8): the v1 shape
    /// with this profile's name and a `store` in place of `server`.
    fn object_store_request(&self, actor: &str, req: Request<'_>) -> Result<Value, WorldError> {
        let profile = self.profile().as_str().to_string();
        if let Request::Dbm { op, fields } = req {
            let mut json = fields.clone();
            if let Some(m) = json.as_object_mut() {
                m.insert("profile".into(), Value::String(profile));
                if matches!(op, Op::Backup | Op::Restore) {
                    m.insert("store".into(), self.wire_store(&self.actor_user(actor))?);
                }
            }
            return Ok(json);
        }
        let placeholder = || WireServer {
            url: String::new(),
            token: String::new(),
        };
        let json = match req {
            Request::Open { secret, blob } => serde_json::to_value(OpenRequest {
                profile,
                secret: secret.clone(),
                blob: Hex(blob.to_vec()),
            }),
            Request::Seal { secret, plaintext } => serde_json::to_value(SealRequest {
                profile,
                secret: secret.clone(),
                plaintext: Hex(plaintext.to_vec()),
                kdf: None,
                salt: None,
                nonce: None,
            }),
            Request::Backup {
                secret, payload, ..
            } => serde_json::to_value(BackupRequest {
                profile,
                server: placeholder(),
                secret: secret.clone(),
                payload: Hex(payload.to_vec()),
            }),
            Request::Restore { secret } => serde_json::to_value(RestoreRequest {
                profile,
                server: placeholder(),
                secret: secret.clone(),
            }),
            Request::Rotate { old, new } => serde_json::to_value(RotateRequest {
                profile,
                server: placeholder(),
                old: old.clone(),
                new: new.clone(),
            }),
            Request::Recover { candidates } => serde_json::to_value(RecoverRequest {
                profile,
                server: placeholder(),
                candidates: candidates.to_vec(),
            }),
            Request::Delete => serde_json::to_value(DeleteRequest {
                profile,
                server: placeholder(),
            }),
            Request::Dbm { fields, .. } | Request::Noah { fields, .. } => Ok(fields.clone()),
        };
        let mut json = json.unwrap_or(Value::Null);
        if let Some(m) = json.as_object_mut()
            && m.remove("server").is_some()
        {
            m.insert("store".into(), self.wire_store(&self.actor_user(actor))?);
        }
        if let (Request::Backup { kdf: Some(k), .. }, Some(m)) = (req, json.as_object_mut()) {
            m.insert(
                "kdf".into(),
                serde_json::to_value(k.wire()).unwrap_or(Value::Null),
            );
        }
        Ok(json)
    }

    /// Sends one op to an actor's adapter (in a blocking thread) and classifies the answer.
    pub(crate) async fn call(&self, actor: &str, req: Request<'_>) -> Result<CallOutcome, Verdict> {
        let adapter = self.adapter(actor)?;
        let fields = self.request_json(actor, req).await?;
        let op = req.op();
        let answer = tokio::task::spawn_blocking(move || {
            let mut a = adapter.lock().unwrap_or_else(|p| p.into_inner());
            a.call(op.as_str(), fields, OP_TIMEOUT)
        })
        .await
        .map_err(|e| Verdict::Error(format!("adapter thread: {e}")))?;
        Ok(match answer {
            Ok(Ok(result)) => CallOutcome {
                outcome: Observed::Known(Expected::Ok),
                result: Some(result),
                message: String::new(),
                tried: None,
            },
            Ok(Err(e)) => CallOutcome {
                outcome: match e.known_class() {
                    Some(c) => Observed::Known(Expected::Error(c)),
                    None => Observed::UnknownClass(e.class.clone()),
                },
                result: None,
                message: e.message,
                tried: e.tried,
            },
            Err(DriverError::Exited { stderr, .. }) => CallOutcome {
                outcome: Observed::Known(Expected::Crashed),
                result: None,
                message: stderr,
                tried: None,
            },
            Err(e) => CallOutcome {
                outcome: Observed::AdapterBroken,
                result: None,
                message: e.to_string(),
                tried: None,
            },
        })
    }

    /// Restarts an actor's adapter with its state dir and says hello.
    pub(crate) async fn restart_actor(&self, actor: &str) -> Result<(), Verdict> {
        let adapter = self.adapter(actor)?;
        tokio::task::spawn_blocking(move || {
            let mut a = adapter.lock().unwrap_or_else(|p| p.into_inner());
            a.restart()?;
            a.hello().map(|_| ())
        })
        .await
        .map_err(|e| Verdict::Error(e.to_string()))?
        .map_err(|e| Verdict::fail("the adapter restarts", "it did not", e.to_string()))
    }

    pub(crate) async fn actor_pid(&self, actor: &str) -> Option<u32> {
        let a = self.actors.get(actor)?.clone();
        let guard = a.lock().unwrap_or_else(|p| p.into_inner());
        guard.pid()
    }

    /// Remembers a blob under `label` (the labels `http` steps use too).
    pub(crate) fn save(&self, label: &str, blob: Vec<u8>) {
        self.saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(label.to_string(), blob);
    }

    /// The blob remembered under `label`.
    pub(crate) fn saved_blob(&self, label: &str) -> Option<Vec<u8>> {
        self.saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(label)
            .cloned()
    }

    /// The blob stored for `user`: the S3 object that holds it when the harness owns the
    /// storage (found by content: any key layout works), else what GET serves. A served blob
    /// that no object holds byte for byte is a finding about the server.
    pub(crate) async fn stored_blob(&self, user: &str) -> Result<Vec<u8>, Verdict> {
        let (_, served) = self
            .fetch(user)
            .await?
            .ok_or_else(|| Verdict::Error(format!("user {user} has no backup to read")))?;
        if self.bucket().is_none() {
            return Ok(served);
        }
        for key in self.list_keys().await? {
            let obj = self.get_object(&key).await?;
            if obj == served {
                return Ok(obj);
            }
        }
        Err(Verdict::fail(
            "an object in storage holding the served blob",
            "none",
            "GET /v1/backup serves bytes no stored object holds",
        ))
    }
}
