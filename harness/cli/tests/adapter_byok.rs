//! `backproof adapter` serving profile `byok-json-v1` (docs/ADAPTER.md,
//! docs/profiles/byok-json-v1.md §6 and §8), spawned and driven through the adapter
//! protocol as the suite drives it, against the real embedded S3 of backproof-stack; a
//! fault proxy in front of S3 kills the adapter or fails one request where a case needs it.
//! The broken variants (`--unsafe-byok-…`) are each shown failing where the reference
//! passes.

use std::time::Duration;

use backproof_client::adapter::{AdapterError, AdapterProcess, DriverError};
use backproof_client::object_store::{ObjectStore, RotateStep, StoreConfig};
use backproof_faults::{Fault, FaultProxy, Rule, StepMatch, When};
use backproof_format::ErrorClass;
use backproof_format::profiles::byok_json_v1::{self as byok, Kdf, SealParams};
use backproof_stack::S3Handle;
use serde_json::{Value, json};

const OLD: &str = "correct horse battery staple";
const NEW: &str = "a brand new passphrase";
const CONFIG: &[u8] = br#"{"apiKey":"AIzaSyExample","projectId":"byok-demo"}"#;
const PREFIX: &str = "adapter-byok/";
/// The policy floor keeps every derivation cheap on a loaded machine.
const FLOOR: &str = "--kdf m=7168,t=5,p=1";
/// Generous: the adapter's SDK retries with backoff, and the machine is shared.
const OP_TIMEOUT: Duration = Duration::from_secs(60);

/// The embedded S3 on a runtime of its own, so the synchronous driver can block this
/// thread while S3 and the fault proxy keep serving.
struct World {
    s3: S3Handle,
    rt: tokio::runtime::Runtime,
}

impl World {
    fn new() -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let s3 = rt.block_on(S3Handle::embedded()).unwrap();
        World { s3, rt }
    }

    /// A proxy in front of S3: the adapter's requests become numbered steps.
    fn proxy(&self) -> FaultProxy {
        self.rt
            .block_on(FaultProxy::start(self.s3.endpoint()))
            .unwrap()
    }

    /// The adapter request's `store` for `user`, through `endpoint` (S3 itself by default).
    fn store(&self, user: &str, endpoint: Option<&str>) -> Value {
        json!({"kind": "object-store", "endpoint": endpoint.unwrap_or(self.s3.endpoint()),
            "bucket": self.s3.bucket(), "region": self.s3.region(),
            "access_key": self.s3.access_key(), "secret_key": self.s3.secret_key(),
            "prefix": PREFIX, "user": user})
    }

    fn object_store(&self, user: &str) -> ObjectStore {
        ObjectStore::new(&StoreConfig {
            endpoint: self.s3.endpoint().to_owned(),
            bucket: self.s3.bucket().to_owned(),
            region: self.s3.region().to_owned(),
            access_key: self.s3.access_key().to_owned(),
            secret_key: self.s3.secret_key().to_owned(),
            prefix: PREFIX.to_owned(),
            user: user.to_owned(),
        })
        .unwrap()
    }

    fn final_key(user: &str) -> String {
        format!("{PREFIX}users/{user}/api_key_backup.json")
    }

    fn temp_key(user: &str) -> String {
        format!("{PREFIX}users/{user}/api_key_backup_temp.json")
    }

    /// The object's bytes, read past the adapter.
    fn raw_get(&self, key: &str) -> Option<Vec<u8>> {
        self.rt.block_on(async {
            let out = self
                .s3
                .client()
                .await
                .get_object()
                .bucket(self.s3.bucket())
                .key(key)
                .send()
                .await
                .ok()?;
            Some(out.body.collect().await.unwrap().into_bytes().to_vec())
        })
    }

    fn raw_put(&self, key: &str, body: Vec<u8>) {
        self.rt.block_on(async {
            self.s3
                .client()
                .await
                .put_object()
                .bucket(self.s3.bucket())
                .key(key)
                .body(body.into())
                .send()
                .await
                .unwrap();
        });
    }

    /// Matches the step that writes `user`'s final object (not its temporary one).
    fn put_final(&self, user: &str) -> StepMatch {
        StepMatch {
            method: Some("PUT".to_owned()),
            pattern_prefix: Some(format!("/{}/{}", self.s3.bucket(), World::final_key(user))),
        }
    }

    fn get_temp(&self, user: &str) -> StepMatch {
        StepMatch {
            method: Some("GET".to_owned()),
            pattern_prefix: Some(format!("/{}/{}", self.s3.bucket(), World::temp_key(user))),
        }
    }
}

fn adapter(flags: &str) -> AdapterProcess {
    let cmd = format!("{} adapter {flags}", env!("CARGO_BIN_EXE_backproof"));
    let mut p = AdapterProcess::spawn(&cmd, None).unwrap();
    let hello = p.hello().unwrap();
    assert_eq!(
        hello.profiles,
        [
            "v1",
            "byok-json-v1",
            "metamask-vault",
            "dbm-stream-v1",
            "noah-v0"
        ]
    );
    p
}

fn call(p: &mut AdapterProcess, op: &str, mut fields: Value) -> Result<Value, AdapterError> {
    fields["profile"] = json!("byok-json-v1");
    p.call(op, fields, OP_TIMEOUT)
        .unwrap_or_else(|e| panic!("the adapter answers `{op}`: {e}"))
}

fn class(answer: Result<Value, AdapterError>) -> String {
    match answer {
        Ok(result) => panic!("expected an error, got {result}"),
        Err(e) => e.class,
    }
}

fn pass(p: &str) -> Value {
    json!({"passphrase": p})
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn candidates(list: &[(&str, &str)]) -> Value {
    list.iter()
        .map(|(id, p)| json!({"id": id, "passphrase": p}))
        .collect()
}

#[test]
fn backup_restore_rotate_delete_with_the_design_classes() {
    let w = World::new();
    let mut p = adapter(FLOOR);
    let store = w.store("alice", None);

    assert_eq!(
        class(call(
            &mut p,
            "restore",
            json!({"store": store, "secret": pass(OLD)})
        )),
        "not_found"
    );
    let r = call(
        &mut p,
        "backup",
        json!({"store": store, "secret": pass(OLD), "payload": hex(CONFIG)}),
    )
    .unwrap();
    assert_eq!(r, json!({}));
    // The object is where the design puts it and an independent reader opens it.
    let stored = w
        .raw_get(&World::final_key("alice"))
        .expect("final written");
    let opened = byok::open(OLD, &stored).unwrap();
    assert_eq!(opened.plaintext.as_slice(), CONFIG);
    assert_eq!(opened.envelope.kdf, Kdf::FLOOR_ARGON2ID);
    let created_at = opened.envelope.created_at.clone();
    assert!(byok::is_rfc3339(&created_at), "{created_at}");

    let r = call(
        &mut p,
        "restore",
        json!({"store": store, "secret": pass(OLD)}),
    )
    .unwrap();
    assert_eq!(r["payload"], hex(CONFIG));
    assert_eq!(r["created_at"], created_at.as_str());
    assert_eq!(r["updated_at"], opened.envelope.updated_at.as_str());
    assert_eq!(
        class(call(
            &mut p,
            "restore",
            json!({"store": store, "secret": pass(NEW)})
        )),
        "wrong_key"
    );

    // Rotation: opens with new only, created_at kept, no temporary object left.
    let r = call(
        &mut p,
        "rotate",
        json!({"store": store, "old": pass(OLD), "new": pass(NEW)}),
    )
    .unwrap();
    assert_eq!(r, json!({}));
    let r = call(
        &mut p,
        "restore",
        json!({"store": store, "secret": pass(NEW)}),
    )
    .unwrap();
    assert_eq!(r["payload"], hex(CONFIG));
    assert_eq!(r["created_at"], created_at.as_str());
    assert_eq!(
        class(call(
            &mut p,
            "restore",
            json!({"store": store, "secret": pass(OLD)})
        )),
        "wrong_key"
    );
    assert!(w.raw_get(&World::temp_key("alice")).is_none());
    // A rotation from a passphrase that does not open the backup writes nothing.
    assert_eq!(
        class(call(
            &mut p,
            "rotate",
            json!({"store": store, "old": pass(OLD), "new": pass("third")})
        )),
        "wrong_key"
    );
    assert!(w.raw_get(&World::temp_key("alice")).is_none());
    // A backup under a passphrase that does not open the stored one replaces nothing.
    assert_eq!(
        class(call(
            &mut p,
            "backup",
            json!({"store": store, "secret": pass(OLD), "payload": "00"})
        )),
        "wrong_key"
    );

    // A damaged object: the open order's classes come through the store.
    let mut damaged = w.raw_get(&World::final_key("alice")).unwrap();
    damaged.truncate(damaged.len() / 2);
    w.raw_put(&World::final_key("alice"), damaged);
    assert_eq!(
        class(call(
            &mut p,
            "restore",
            json!({"store": store, "secret": pass(NEW)})
        )),
        "malformed"
    );

    let r = call(&mut p, "delete", json!({"store": store})).unwrap();
    assert_eq!(r, json!({}));
    assert!(w.raw_get(&World::final_key("alice")).is_none());
    assert_eq!(
        class(call(&mut p, "delete", json!({"store": store}))),
        "not_found"
    );
    assert_eq!(
        class(call(
            &mut p,
            "recover",
            json!({"store": store, "candidates": candidates(&[("new", NEW)])})
        )),
        "not_found"
    );
}

#[test]
fn bad_stores_raw_keys_and_unreachable_or_refusing_stores() {
    let w = World::new();
    let mut p = adapter(FLOOR);
    let good = w.store("bob", None);
    let edits: [(&str, Value); 9] = [
        ("kind", json!("api-v1")),
        ("endpoint", json!("ftp://127.0.0.1:21")),
        ("endpoint", json!("127.0.0.1:9000")),
        ("bucket", json!("")),
        ("region", json!("")),
        ("access_key", json!("")),
        ("secret_key", json!("")),
        ("user", json!("bob/../carol")),
        ("user", json!("")),
    ];
    for (member, value) in edits {
        let mut store = good.clone();
        store[member] = value.clone();
        let answer = call(
            &mut p,
            "restore",
            json!({"store": store, "secret": pass(OLD)}),
        );
        let e = answer.expect_err("refused");
        assert_eq!(e.class, "malformed", "{member} = {value}: {}", e.message);
        assert!(e.message.contains(member), "{member}: {}", e.message);
    }
    let mut no_user = good.clone();
    no_user.as_object_mut().unwrap().remove("user");
    assert_eq!(
        class(call(&mut p, "delete", json!({"store": no_user}))),
        "malformed"
    );
    // v1's `server` is not a store.
    assert_eq!(
        class(call(
            &mut p,
            "delete",
            json!({"server": {"url": "http://127.0.0.1:9", "token": "t"}})
        )),
        "malformed"
    );
    // Passphrases only: a raw key is malformed wherever a secret goes.
    let key = json!({"key": "11".repeat(32)});
    for (op, fields) in [
        ("restore", json!({"store": good, "secret": key})),
        (
            "rotate",
            json!({"store": good, "old": pass(OLD), "new": key}),
        ),
        (
            "backup",
            json!({"store": good, "secret": key, "payload": ""}),
        ),
        (
            "recover",
            json!({"store": good, "candidates": [{"id": "k", "key": "11".repeat(32)}]}),
        ),
        ("seal", json!({"secret": key, "plaintext": ""})),
        ("open", json!({"secret": key, "blob": "7b7d"})),
    ] {
        let e = call(&mut p, op, fields).expect_err(op);
        assert_eq!(e.class, "malformed", "{op}: {}", e.message);
        assert!(e.message.contains("passphrase"), "{op}: {}", e.message);
    }
    // Nobody listens: network. Wrong credentials: unauthorized.
    let mut unreachable = good.clone();
    unreachable["endpoint"] = json!("http://127.0.0.1:9");
    assert_eq!(
        class(call(
            &mut p,
            "restore",
            json!({"store": unreachable, "secret": pass(OLD)})
        )),
        "network"
    );
    let mut refused = good.clone();
    refused["secret_key"] = json!("not-the-secret-key");
    assert_eq!(
        class(call(
            &mut p,
            "restore",
            json!({"store": refused, "secret": pass(OLD)})
        )),
        "unauthorized"
    );
    // An unknown profile is named as such.
    let e = p
        .call(
            "restore",
            json!({"profile": "obscura-v2", "store": good}),
            OP_TIMEOUT,
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(e.class, "unsupported_version");
    assert!(e.message.contains("byok-json-v1"), "{}", e.message);
}

#[test]
fn recover_finds_the_temporary_object_after_a_crash_after_delete_final() {
    let w = World::new();
    let mut p = adapter(FLOOR);
    let store = w.store("carol", None);
    call(
        &mut p,
        "backup",
        json!({"store": store, "secret": pass(OLD), "payload": hex(CONFIG)}),
    )
    .unwrap();
    // Leave the store exactly as a rotation killed after step 4 ("delete final") does.
    w.rt.block_on(w.object_store("carol").rotate_until(
        OLD,
        NEW,
        &Kdf::FLOOR_ARGON2ID,
        "2026-03-15T18:02:11.004Z",
        Some(RotateStep::DeleteFinal),
    ))
    .unwrap();
    assert!(w.raw_get(&World::final_key("carol")).is_none());
    assert!(w.raw_get(&World::temp_key("carol")).is_some());

    for secret in [OLD, NEW] {
        assert_eq!(
            class(call(
                &mut p,
                "restore",
                json!({"store": store, "secret": pass(secret)})
            )),
            "not_found",
            "restore never reads the temporary object"
        );
    }
    let e = call(
        &mut p,
        "recover",
        json!({"store": store, "candidates": candidates(&[("old", OLD), ("guess", "nope")])}),
    )
    .unwrap_err();
    assert_eq!(e.class, "wrong_key");
    assert_eq!(e.tried, Some(vec!["old".to_owned(), "guess".to_owned()]));

    let r = call(
        &mut p,
        "recover",
        json!({"store": store, "candidates": candidates(&[("old", OLD), ("new", NEW)])}),
    )
    .unwrap();
    assert_eq!(
        r,
        json!({"matched": "new", "payload": hex(CONFIG), "source": "temp"})
    );
    // Recovery finished the rotation: the final object opens with new, the temp is gone.
    let r = call(
        &mut p,
        "restore",
        json!({"store": store, "secret": pass(NEW)}),
    )
    .unwrap();
    assert_eq!(r["payload"], hex(CONFIG));
    assert!(w.raw_get(&World::temp_key("carol")).is_none());
    let r = call(
        &mut p,
        "recover",
        json!({"store": store, "candidates": candidates(&[("old", OLD), ("new", NEW)])}),
    )
    .unwrap();
    assert_eq!(r["source"], "final");
}

/// Kills the adapter as it is about to upload the final object (rotation step 5, after
/// "delete final"), restarts it and asks `recover` with both passphrases.
fn kill_before_upload_final(w: &World, user: &str, flags: &str) -> Result<Value, AdapterError> {
    let proxy = w.proxy();
    let store = w.store(user, Some(&proxy.url()));
    let mut p = adapter(&format!("{FLOOR} {flags}"));
    call(
        &mut p,
        "backup",
        json!({"store": store, "secret": pass(OLD), "payload": hex(CONFIG)}),
    )
    .unwrap();
    proxy.reset();
    proxy.arm(Rule {
        at: 1,
        matching: w.put_final(user),
        fault: Fault::Kill {
            pid: p.pid().unwrap(),
            when: When::BeforeForward,
        },
    });
    let killed = p.call(
        "rotate",
        json!({"profile": "byok-json-v1", "store": store, "old": pass(OLD), "new": pass(NEW)}),
        OP_TIMEOUT,
    );
    assert!(
        matches!(killed, Err(DriverError::Exited { .. })),
        "{flags}: {killed:?}"
    );
    assert!(proxy.all_fired());
    assert!(
        w.raw_get(&World::final_key(user)).is_none(),
        "{flags}: killed after delete final"
    );
    p.restart().unwrap();
    p.hello().unwrap();
    call(
        &mut p,
        "recover",
        json!({"store": store, "candidates": candidates(&[("old", OLD), ("new", NEW)])}),
    )
}

#[test]
fn a_kill_before_upload_final_leaves_the_temp_and_skip_temp_leaves_nothing() {
    let w = World::new();
    let r = kill_before_upload_final(&w, "dave", "").unwrap();
    assert_eq!(
        r,
        json!({"matched": "new", "payload": hex(CONFIG), "source": "temp"})
    );
    // Without the temporary copy the same kill loses the backup.
    assert_eq!(
        class(kill_before_upload_final(
            &w,
            "erin",
            "--unsafe-byok-skip-temp"
        )),
        "not_found"
    );
}

/// A rotation whose verification fails (the read-back of the temporary object answers
/// 404, however often it is retried); returns the rotation's class and what a restore
/// with the old passphrase answers afterwards.
fn failed_verification(
    w: &World,
    user: &str,
    flags: &str,
) -> (String, Result<Value, AdapterError>) {
    let proxy = w.proxy();
    let store = w.store(user, Some(&proxy.url()));
    let mut p = adapter(&format!("{FLOOR} {flags}"));
    call(
        &mut p,
        "backup",
        json!({"store": store, "secret": pass(OLD), "payload": hex(CONFIG)}),
    )
    .unwrap();
    proxy.reset();
    proxy.arm_window(
        Rule {
            at: 1,
            matching: w.get_temp(user),
            fault: Fault::Status(404),
        },
        usize::MAX,
    );
    let rotated = class(call(
        &mut p,
        "rotate",
        json!({"store": store, "old": pass(OLD), "new": pass(NEW)}),
    ));
    assert!(proxy.all_fired());
    proxy.reset();
    assert!(
        w.raw_get(&World::temp_key(user)).is_none(),
        "{flags}: a failed verification deletes the temporary object"
    );
    let restored = call(
        &mut p,
        "restore",
        json!({"store": store, "secret": pass(OLD)}),
    );
    (rotated, restored)
}

#[test]
fn a_failed_verification_keeps_the_final_unless_it_was_deleted_first() {
    let w = World::new();
    let (rotated, restored) = failed_verification(&w, "frank", "");
    assert_eq!(rotated, "corrupted");
    assert_eq!(restored.unwrap()["payload"], hex(CONFIG));
    let (rotated, restored) =
        failed_verification(&w, "grace", "--unsafe-byok-delete-final-before-verify");
    assert_eq!(rotated, "corrupted");
    assert_eq!(class(restored), "not_found", "the only copy is gone");
}

#[test]
fn memory_in_mib_writes_64_which_a_correct_reader_refuses() {
    let w = World::new();
    let design = "--kdf m=65536,t=3,p=4";
    let mut broken = adapter(&format!("{design} --unsafe-byok-memory-mib"));
    let store = w.store("heidi", None);
    call(
        &mut broken,
        "backup",
        json!({"store": store, "secret": pass(OLD), "payload": hex(CONFIG)}),
    )
    .unwrap();
    let stored = w.raw_get(&World::final_key("heidi")).unwrap();
    let json: Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(json["kdf"]["memory"], 64, "{json}");
    assert_eq!(json["kdf"]["iterations"], 3);
    // The broken client reads its own blobs back: round trips alone cannot catch it.
    let r = call(
        &mut broken,
        "restore",
        json!({"store": store, "secret": pass(OLD)}),
    )
    .unwrap();
    assert_eq!(r["payload"], hex(CONFIG));
    // A correct reader refuses the blob before deriving anything.
    assert_eq!(
        byok::open(OLD, &stored).unwrap_err().class(),
        ErrorClass::KdfParamsRejected
    );
    let mut reference = adapter(design);
    assert_eq!(
        class(call(
            &mut reference,
            "restore",
            json!({"store": store, "secret": pass(OLD)})
        )),
        "kdf_params_rejected"
    );
    // And the broken client refuses a correct blob at the design's parameters.
    let correct = byok::seal(
        OLD,
        CONFIG,
        &SealParams {
            kdf: Kdf::DESIGN_ARGON2ID,
            salt: &[7; 16],
            nonce: [9; 12],
            created_at: "2026-03-14T09:26:53.589Z",
            updated_at: "2026-03-14T09:26:53.589Z",
        },
    )
    .unwrap();
    let open = json!({"secret": pass(OLD), "blob": hex(&correct)});
    assert_eq!(
        call(&mut reference, "open", open.clone()).unwrap()["plaintext"],
        hex(CONFIG)
    );
    assert_eq!(
        class(call(&mut broken, "open", open)),
        "kdf_params_rejected"
    );
}

/// The S3 requests one rotation makes, as `METHOD final|temp`, seen by a proxy.
fn rotation_steps(w: &World, user: &str, flags: &str) -> Vec<String> {
    let proxy = w.proxy();
    let store = w.store(user, Some(&proxy.url()));
    let mut p = adapter(&format!("{FLOOR} {flags}"));
    call(
        &mut p,
        "backup",
        json!({"store": store, "secret": pass(OLD), "payload": hex(CONFIG)}),
    )
    .unwrap();
    proxy.reset();
    call(
        &mut p,
        "rotate",
        json!({"store": store, "old": pass(OLD), "new": pass(NEW)}),
    )
    .unwrap();
    let final_path = format!("/{}/{}", w.s3.bucket(), World::final_key(user));
    let temp_path = format!("/{}/{}", w.s3.bucket(), World::temp_key(user));
    proxy
        .steps()
        .iter()
        .map(|s| {
            let path = s.path.split('?').next().unwrap();
            let object = if path == final_path {
                "final"
            } else if path == temp_path {
                "temp"
            } else {
                panic!("unexpected request {}", s.label())
            };
            assert_eq!(s.status.map(|c| c < 300), Some(true), "{s}");
            format!("{} {object}", s.method)
        })
        .collect()
}

#[test]
fn rotation_follows_the_six_steps_and_the_broken_orders_do_not() {
    let w = World::new();
    // open with old, upload temp, read temp back, delete final, upload final, delete temp.
    assert_eq!(
        rotation_steps(&w, "ivan", ""),
        [
            "GET final",
            "PUT temp",
            "GET temp",
            "DELETE final",
            "PUT final",
            "DELETE temp"
        ]
    );
    assert_eq!(
        rotation_steps(&w, "judy", "--unsafe-byok-delete-final-before-verify"),
        [
            "GET final",
            "PUT temp",
            "DELETE final",
            "GET temp",
            "PUT final",
            "DELETE temp"
        ]
    );
    assert_eq!(
        rotation_steps(&w, "mallory", "--unsafe-byok-skip-temp"),
        ["GET final", "DELETE final", "PUT final"]
    );
}
