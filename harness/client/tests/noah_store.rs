//! Profile noah-v0's client against the reference server's API v0 on a real stack
//! (throwaway Postgres + embedded S3; docs/profiles/noah-v0.md §8): rolling writes to the
//! slot that is not the latest, restore of the latest with a fallback to the other slot when
//! the latest object in S3 is damaged or gone, the latest's class when both are, wrong
//! seedphrases, list/delete/settings, the broken variant that always writes slot 1, and the
//! adapter's answers to the same ops validated against docs/schema.

use backproof_client::noah_store::{NoahBroken, NoahStore, Slot};
use backproof_client::{Broken, Client, ClientConfig, RetryPolicy, Server};
use backproof_format::ErrorClass;
use backproof_stack::{Stack, StackChoice};
use serde_json::{Value, json};

const AUTH: &str = "noah-store-test-secret";
const SEED: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

struct World {
    stack: Stack,
    url: String,
}

impl World {
    async fn start(name: &str) -> World {
        let stack = Stack::start(StackChoice::Local).await.expect("stack");
        let database_url = stack
            .postgres
            .create_unique_database(name)
            .await
            .expect("create database");
        let config = backproof_server::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url,
            s3_endpoint: stack.s3.endpoint().into(),
            s3_bucket: stack.s3.bucket().into(),
            s3_access_key: stack.s3.access_key().into(),
            s3_secret_key: stack.s3.secret_key().into(),
            s3_region: stack.s3.region().into(),
            auth_secret: AUTH.into(),
            ..backproof_server::Config::default()
        };
        let server = backproof_server::bind(config).await.expect("bind server");
        let url = format!("http://{}", server.local_addr());
        tokio::spawn(server.run());
        World { stack, url }
    }

    fn user(&self, name: &str) -> Server {
        Server {
            url: self.url.clone(),
            token: backproof_server::mint_token(AUTH.as_bytes(), name),
        }
    }

    /// The S3 keys of `user`'s objects in slot `version` (the server's
    /// `v0/{user}/{version}/{uuid}`), read straight from the bucket.
    async fn objects(&self, user: &str, version: i64) -> Vec<String> {
        let s3 = &self.stack.s3;
        let listed = s3
            .client()
            .await
            .list_objects_v2()
            .bucket(s3.bucket())
            .prefix(format!("v0/{user}/{version}/"))
            .send()
            .await
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    /// The one object slot `version` names (the test expects exactly one).
    async fn object(&self, user: &str, version: i64) -> String {
        let keys = self.objects(user, version).await;
        assert_eq!(keys.len(), 1, "slot {version} of {user}: {keys:?}");
        keys.into_iter().next().unwrap()
    }

    async fn read(&self, key: &str) -> Vec<u8> {
        let s3 = &self.stack.s3;
        let o = s3
            .client()
            .await
            .get_object()
            .bucket(s3.bucket())
            .key(key)
            .send()
            .await
            .unwrap();
        o.body.collect().await.unwrap().into_bytes().to_vec()
    }

    /// Replaces an object's bytes behind the server's back, as damage in storage would.
    async fn overwrite(&self, key: &str, body: Vec<u8>) {
        let s3 = &self.stack.s3;
        s3.client()
            .await
            .put_object()
            .bucket(s3.bucket())
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }

    async fn remove(&self, key: &str) {
        let s3 = &self.stack.s3;
        s3.client()
            .await
            .delete_object()
            .bucket(s3.bucket())
            .key(key)
            .send()
            .await
            .unwrap();
    }
}

fn client(broken: NoahBroken) -> Client {
    Client::new(ClientConfig {
        retry: RetryPolicy::NONE,
        broken: Broken {
            noah: broken,
            ..Broken::default()
        },
        ..ClientConfig::default()
    })
    .unwrap()
}

fn versions(slots: &[Slot]) -> Vec<i64> {
    slots.iter().map(|s| s.backup_version).collect()
}

/// One base64 character of the body changed for another of the alphabet: still canonical
/// base64 of the same length, so only the tag can notice.
fn flip_one_char(mut body: Vec<u8>) -> Vec<u8> {
    let i = body.len() / 2;
    body[i] = if body[i] == b'A' { b'B' } else { b'A' };
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_slots_restore_list_delete_and_settings() {
    let w = World::start("noahroll").await;
    let c = client(NoahBroken::default());
    let alice = NoahStore::new(&c, w.user("alice")).unwrap();

    assert_eq!(alice.list().await.unwrap(), []);
    let e = alice.restore(SEED).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::NotFound, "{e}");
    let s = alice.settings(None).await.unwrap();
    assert_eq!(s.last_backup_at, None, "{s:?}");

    let a = alice.backup(SEED, b"database A").await.unwrap();
    assert_eq!(a.backup_version, 1, "the first backup goes to slot 1");
    let b = alice.backup(SEED, b"database B").await.unwrap();
    assert_eq!(b.backup_version, 2, "the second to the free slot");
    let listed = alice.list().await.unwrap();
    assert_eq!(listed, [a.clone(), b.clone()]);
    // What the server records is the object's real size: the base64 body of 10 + 28 bytes.
    assert_eq!(b.backup_size, 52);
    let key_a = w.object("alice", 1).await;
    assert_eq!(w.read(&key_a).await.len() as u64, a.backup_size);

    let r = alice.restore(SEED).await.unwrap();
    assert_eq!(&r.plaintext[..], b"database B");
    assert_eq!(r.slot, b);
    assert!(r.skipped.is_empty());

    // The third replaces the older slot, never the latest.
    let c3 = alice.backup(SEED, b"database C").await.unwrap();
    assert_eq!(c3.backup_version, 1);
    assert_eq!(versions(&alice.list().await.unwrap()), [1, 2]);
    let r = alice.restore(SEED).await.unwrap();
    assert_eq!(&r.plaintext[..], b"database C");
    assert_eq!(r.slot.backup_version, 1);
    let d = alice.backup(SEED, b"database D").await.unwrap();
    assert_eq!(d.backup_version, 2, "and the fourth the slot of B");
    assert_eq!(
        &alice.restore(SEED).await.unwrap().plaintext[..],
        b"database D"
    );

    // Another user sees none of it.
    let bob = NoahStore::new(&c, w.user("bob")).unwrap();
    assert_eq!(bob.list().await.unwrap(), []);
    assert_eq!(
        bob.restore(SEED).await.unwrap_err().class(),
        ErrorClass::NotFound
    );

    let s = alice.settings(None).await.unwrap();
    assert!(s.last_backup_at.is_some(), "{s:?}");
    let off = alice.settings(Some(false)).await.unwrap();
    assert!(!off.backup_enabled);
    assert_eq!(off.last_backup_at, s.last_backup_at);
    assert!(!alice.settings(None).await.unwrap().backup_enabled);
    assert!(alice.settings(Some(true)).await.unwrap().backup_enabled);

    alice.delete(2).await.unwrap();
    assert_eq!(versions(&alice.list().await.unwrap()), [1]);
    assert_eq!(
        &alice.restore(SEED).await.unwrap().plaintext[..],
        b"database C"
    );
    assert_eq!(
        alice.delete(2).await.unwrap_err().class(),
        ErrorClass::NotFound
    );
    let e = alice.delete(3).await.unwrap_err();
    assert_eq!(
        e.class(),
        ErrorClass::Malformed,
        "slot 3 does not exist: {e}"
    );
    // With slot 2 free again, the next backup fills it even though slot 1 is the latest.
    assert_eq!(alice.backup(SEED, b"E").await.unwrap().backup_version, 2);

    // Credentials and addresses: a token of no user is unauthorized, nobody listening is
    // network, a URL that is not http(s) is refused before any request.
    let forged = Server {
        url: w.url.clone(),
        token: "bpt1.alice.AAAA".into(),
    };
    let e = NoahStore::new(&c, forged)
        .unwrap()
        .list()
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Unauthorized, "{e}");
    let gone = Server {
        url: "http://127.0.0.1:9".into(),
        token: "t".into(),
    };
    let e = NoahStore::new(&c, gone)
        .unwrap()
        .backup(SEED, b"x")
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Network, "{e}");
    let e = NoahStore::new(
        &c,
        Server {
            url: "ftp://x".into(),
            token: "t".into(),
        },
    )
    .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Malformed, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_latest_falls_back_to_the_other_slot() {
    let w = World::start("noahfall").await;
    let c = client(NoahBroken::default());
    let alice = NoahStore::new(&c, w.user("alice")).unwrap();
    alice.backup(SEED, b"older").await.unwrap();
    let latest = alice.backup(SEED, b"latest").await.unwrap();
    assert_eq!(latest.backup_version, 2);
    let key = w.object("alice", 2).await;
    let good = w.read(&key).await;

    // Each kind of damage to the latest object: the older slot restores, and the restore
    // says which slot it passed over and why.
    let cases: [(&str, Option<Vec<u8>>, ErrorClass); 5] = [
        (
            "one character changed",
            Some(flip_one_char(good.clone())),
            ErrorClass::WrongKey,
        ),
        (
            "cut by one byte",
            Some(good[..good.len() - 1].to_vec()),
            ErrorClass::Malformed,
        ),
        (
            "replaced by text",
            Some(b"not a backup\n".to_vec()),
            ErrorClass::Malformed,
        ),
        ("emptied", Some(Vec::new()), ErrorClass::Corrupted),
        ("deleted", None, ErrorClass::NotFound),
    ];
    for (what, damage, class) in cases {
        match damage {
            Some(bytes) => w.overwrite(&key, bytes).await,
            None => w.remove(&key).await,
        }
        let r = alice
            .restore(SEED)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(&r.plaintext[..], b"older", "{what}");
        assert_eq!(r.slot.backup_version, 1, "{what}");
        let skipped: Vec<(i64, ErrorClass)> =
            r.skipped.iter().map(|(v, e)| (*v, e.class())).collect();
        assert_eq!(skipped, [(2, class)], "{what}");
        w.overwrite(&key, good.clone()).await;
        let r = alice.restore(SEED).await.unwrap();
        assert_eq!(&r.plaintext[..], b"latest", "{what}: repaired");
    }

    // Both damaged: the latest's class, not the older one's.
    let older = w.object("alice", 1).await;
    w.overwrite(&older, flip_one_char(w.read(&older).await))
        .await;
    w.overwrite(&key, b"not a backup".to_vec()).await;
    let e = alice.restore(SEED).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Malformed, "{e}");
    let s = e.to_string();
    assert!(s.contains("slot 2") && s.contains("slot 1"), "{s}");
    w.overwrite(&key, flip_one_char(good.clone())).await;
    w.remove(&older).await;
    let e = alice.restore(SEED).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::WrongKey, "{e}");

    // A backup after the damage goes to the older slot (1), so the damaged latest is what
    // it replaces next time, and the new backup restores.
    let next = alice.backup(SEED, b"after the damage").await.unwrap();
    assert_eq!(next.backup_version, 1);
    let r = alice.restore(SEED).await.unwrap();
    assert_eq!(&r.plaintext[..], b"after the damage");
    assert!(r.skipped.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_seedphrases_and_the_broken_client_that_always_writes_slot_1() {
    let w = World::start("noahwrong").await;
    let c = client(NoahBroken::default());
    let alice = NoahStore::new(&c, w.user("alice")).unwrap();
    alice.backup(SEED, b"one").await.unwrap();
    alice.backup(SEED, b"two").await.unwrap();

    // The seedphrase is used as given: each variant is another key, and no slot opens.
    // Without a key check a wrong seedphrase is a failed tag (docs/profiles/noah-v0.md §4).
    for wrong in [
        format!("{SEED}\n"),
        format!("{SEED}\r\n"),
        format!(" {SEED}"),
        SEED.replace("about", "abandon"),
        SEED.to_uppercase(),
    ] {
        let e = alice.restore(&wrong).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::WrongKey, "{wrong:?}: {e}");
    }
    let e = alice.restore("").await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Malformed, "{e}");
    let e = alice.backup("", b"x").await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Malformed, "{e}");
    assert_eq!(&alice.restore(SEED).await.unwrap().plaintext[..], b"two");

    // The broken variant: both backups land in slot 1, the second replacing the first.
    let broken = client(NoahBroken {
        always_slot_1: true,
    });
    let bob = NoahStore::new(&broken, w.user("bob")).unwrap();
    assert_eq!(bob.backup(SEED, b"one").await.unwrap().backup_version, 1);
    assert_eq!(bob.backup(SEED, b"two").await.unwrap().backup_version, 1);
    assert_eq!(versions(&bob.list().await.unwrap()), [1]);
    assert_eq!(&bob.restore(SEED).await.unwrap().plaintext[..], b"two");
    // Damage to its only object loses the data; the reference, damaged the same way, still
    // has its other slot.
    let key = w.object("bob", 1).await;
    w.overwrite(&key, flip_one_char(w.read(&key).await)).await;
    let e = bob.restore(SEED).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::WrongKey, "{e}");
    let key = w.object("alice", 2).await;
    w.overwrite(&key, flip_one_char(w.read(&key).await)).await;
    assert_eq!(&alice.restore(SEED).await.unwrap().plaintext[..], b"one");
}

async fn serve_lines(lines: &[Value], broken: NoahBroken) -> Vec<Value> {
    use backproof_client::adapter::{AdapterConfig, serve};
    let mut input = Vec::new();
    for l in lines {
        input.extend_from_slice(l.to_string().as_bytes());
        input.push(b'\n');
    }
    let config = AdapterConfig {
        client: ClientConfig {
            retry: RetryPolicy::NONE,
            broken: Broken {
                noah: broken,
                ..Broken::default()
            },
            ..ClientConfig::default()
        },
        ..AdapterConfig::default()
    };
    let mut out = Vec::new();
    serve(&input[..], &mut out, config).await.unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn schema(name: &str) -> Value {
    let path = format!(
        "{}/../../docs/schema/adapter-{name}.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn valid_as(schema: &Value, def: &str, v: &Value) -> bool {
    jsonschema::draft202012::new(
        &json!({"$defs": schema["$defs"], "$ref": format!("#/$defs/{def}")}),
    )
    .unwrap()
    .is_valid(v)
}

/// The adapter ops of docs/profiles/noah-v0.md §7 against the real server: each request
/// validates against the request schema, each answer against its result's shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapter_ops_answer_what_the_schemas_describe() {
    let w = World::start("noahadapter").await;
    let store = json!({"kind": "noah-v0", "url": w.url, "token": w.user("carol").token});
    let seed = json!({"passphrase": SEED});
    let p = "noah-v0";
    let lines = [
        json!({"id": 1, "op": "backup", "profile": p, "store": store, "secret": seed, "payload": "6f6e65"}),
        json!({"id": 2, "op": "backup", "profile": p, "store": store, "secret": seed, "payload": "74776f"}),
        json!({"id": 3, "op": "list", "profile": p, "store": store}),
        json!({"id": 4, "op": "restore", "profile": p, "store": store, "secret": seed}),
        json!({"id": 5, "op": "settings", "profile": p, "store": store, "backup_enabled": false}),
        json!({"id": 6, "op": "settings", "profile": p, "store": store}),
        json!({"id": 7, "op": "delete", "profile": p, "store": store, "backup_version": 2}),
        json!({"id": 8, "op": "restore", "profile": p, "store": store, "secret": seed}),
        json!({"id": 9, "op": "delete", "profile": p, "store": store, "backup_version": 2}),
        json!({"id": 10, "op": "restore", "profile": p, "store": store, "secret": {"passphrase": format!("{SEED}\n")}}),
    ];
    let requests = jsonschema::draft202012::new(&schema("request")).unwrap();
    for l in &lines {
        assert!(requests.is_valid(l), "{l}");
    }
    let a = serve_lines(&lines, NoahBroken::default()).await;
    let answers = schema("answer");
    let whole = jsonschema::draft202012::new(&answers).unwrap();
    for x in &a {
        assert!(whole.is_valid(x), "{x}");
    }
    assert!(
        valid_as(&answers, "noahSlotResult", &a[0]["result"]),
        "{}",
        a[0]
    );
    assert_eq!(a[0]["result"]["backup_version"], 1);
    assert_eq!(a[1]["result"]["backup_version"], 2);
    assert!(
        valid_as(&answers, "noahListResult", &a[2]["result"]),
        "{}",
        a[2]
    );
    assert_eq!(
        a[2]["result"]["backups"],
        json!([a[0]["result"], a[1]["result"]])
    );
    assert!(
        valid_as(&answers, "noahRestoreResult", &a[3]["result"]),
        "{}",
        a[3]
    );
    assert_eq!(a[3]["result"]["payload"], "74776f");
    assert_eq!(a[3]["result"]["skipped"], json!([]));
    assert!(
        valid_as(&answers, "noahSettingsResult", &a[4]["result"]),
        "{}",
        a[4]
    );
    assert_eq!(a[5]["result"]["backup_enabled"], false);
    assert_eq!(a[6]["result"], json!({}));
    assert_eq!(a[7]["result"]["payload"], "6f6e65");
    assert_eq!(a[8]["error"]["class"], "not_found", "{}", a[8]);
    assert_eq!(a[9]["error"]["class"], "wrong_key", "{}", a[9]);

    // A damaged latest: the answer names the slot it passed over.
    let b = serve_lines(&[lines[1].clone()], NoahBroken::default()).await;
    assert_eq!(b[0]["result"]["backup_version"], 2, "{}", b[0]);
    let key = w.object("carol", 2).await;
    w.overwrite(&key, b"not a backup".to_vec()).await;
    let r = serve_lines(&[lines[3].clone()], NoahBroken::default()).await;
    assert_eq!(r[0]["result"]["payload"], "6f6e65", "{}", r[0]);
    assert_eq!(
        r[0]["result"]["skipped"],
        json!([{"backup_version": 2, "class": "malformed"}])
    );

    // The broken switch reaches the store: two backups, both slot 1.
    let dave = json!({"kind": "noah-v0", "url": w.url, "token": w.user("dave").token});
    let two = [
        json!({"id": 1, "op": "backup", "profile": p, "store": dave, "secret": seed, "payload": "01"}),
        json!({"id": 2, "op": "backup", "profile": p, "store": dave, "secret": seed, "payload": "02"}),
        json!({"id": 3, "op": "list", "profile": p, "store": dave}),
    ];
    let d = serve_lines(
        &two,
        NoahBroken {
            always_slot_1: true,
        },
    )
    .await;
    assert_eq!(d[1]["result"]["backup_version"], 1, "{}", d[1]);
    assert_eq!(
        d[2]["result"]["backups"].as_array().unwrap().len(),
        1,
        "{}",
        d[2]
    );

    // Refusals the schema also refuses: another store kind, a raw key, list in profile v1.
    let refused = [
        json!({"id": 1, "op": "list", "profile": p, "store": {"kind": "object-store", "url": w.url, "token": "t"}}),
        json!({"id": 2, "op": "backup", "profile": p, "store": store, "secret": {"key": "11".repeat(32)}, "payload": ""}),
        json!({"id": 3, "op": "list", "server": {"url": w.url, "token": "t"}}),
        json!({"id": 4, "op": "settings", "profile": p, "store": store, "backup_enabled": "yes"}),
        json!({"id": 5, "op": "rotate", "profile": p, "store": store, "old": seed, "new": seed}),
    ];
    let e = serve_lines(&refused, NoahBroken::default()).await;
    for (l, x) in refused.iter().zip(&e) {
        assert_eq!(x["error"]["class"], "malformed", "{l} → {x}");
        assert!(!requests.is_valid(l), "the schema accepts {l}");
    }
}
