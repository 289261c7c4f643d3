//! docs/schema/adapter-{request,answer}.schema.json against the wire types and the
//! reference adapter's own answers: what the types serialize and what `serve` writes must
//! validate, and request lines the schema refuses are the ones the reference answers
//! `malformed`.

use backproof_client::ClientConfig;
use backproof_client::adapter::protocol::*;
use backproof_client::adapter::{AdapterConfig, serve};
use backproof_format::KdfParams;
use serde_json::{Value, json};

fn schema(name: &str) -> Value {
    let path = format!(
        "{}/../../docs/schema/adapter-{name}.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::new(schema).expect("the schema compiles")
}

/// A validator for one `$defs` member of `schema`.
fn def_validator(schema: &Value, def: &str) -> jsonschema::Validator {
    validator(&json!({"$defs": schema["$defs"], "$ref": format!("#/$defs/{def}")}))
}

fn request(id: u64, op: &str, fields: impl serde::Serialize) -> Value {
    let mut v = serde_json::to_value(fields).unwrap();
    v["id"] = json!(id);
    v["op"] = json!(op);
    v
}

fn store() -> WireStore {
    WireStore {
        kind: STORE_KIND_OBJECT_STORE.to_owned(),
        endpoint: "http://127.0.0.1:9000".to_owned(),
        bucket: "backproof".to_owned(),
        region: "us-east-1".to_owned(),
        access_key: "AKIA".to_owned(),
        secret_key: "s3cr3t".to_owned(),
        prefix: "case-17/".to_owned(),
        user: "alice".to_owned(),
    }
}

#[test]
fn the_wire_types_serialize_to_valid_requests() {
    let requests = validator(&schema("request"));
    let byok = || PROFILE_BYOK_JSON_V1.to_owned();
    let pass = || Secret::passphrase("correct horse battery staple");
    let lines = [
        request(
            1,
            "seal",
            ByokSealRequest {
                profile: byok(),
                secret: pass(),
                plaintext: Hex(b"{}".to_vec()),
                kdf: Some(ByokWireKdf::Argon2id {
                    iterations: 3,
                    memory: 65536,
                    parallelism: 4,
                }),
                salt: Some(Hex(vec![1; 16])),
                nonce: Some(Hex(vec![2; 12])),
                created_at: Some("2026-03-14T09:26:53.589Z".to_owned()),
                updated_at: None,
            },
        ),
        request(
            2,
            "open",
            OpenRequest {
                profile: byok(),
                secret: pass(),
                blob: Hex(b"{}".to_vec()),
            },
        ),
        request(
            3,
            "backup",
            ByokBackupRequest {
                profile: byok(),
                store: store(),
                secret: pass(),
                payload: Hex(vec![]),
            },
        ),
        request(
            4,
            "restore",
            ByokRestoreRequest {
                profile: byok(),
                store: store(),
                secret: pass(),
            },
        ),
        request(
            5,
            "rotate",
            ByokRotateRequest {
                profile: byok(),
                store: store(),
                old: pass(),
                new: Secret::passphrase("new"),
            },
        ),
        request(
            6,
            "recover",
            ByokRecoverRequest {
                profile: byok(),
                store: store(),
                candidates: vec![WireCandidate {
                    id: "old".to_owned(),
                    secret: pass(),
                }],
            },
        ),
        request(
            7,
            "delete",
            ByokDeleteRequest {
                profile: byok(),
                store: store(),
            },
        ),
    ];
    for line in &lines {
        let errors: Vec<String> = requests.iter_errors(line).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{line}: {errors:?}");
    }
    // The same byok request with a raw key, or v1's server, is refused.
    let mut keyed = lines[3].clone();
    keyed["secret"] = json!({"key": "11".repeat(32)});
    assert!(!requests.is_valid(&keyed));
    let mut served = lines[3].clone();
    served.as_object_mut().unwrap().remove("store");
    served["server"] = json!({"url": "http://x", "token": "t"});
    assert!(!requests.is_valid(&served));
}

async fn answers(input: &str) -> Vec<Value> {
    let config = AdapterConfig {
        client: ClientConfig {
            kdf: KdfParams::FLOOR,
            ..ClientConfig::default()
        },
        ..AdapterConfig::default()
    };
    let mut out = Vec::new();
    serve(input.as_bytes(), &mut out, config).await.unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn the_reference_answers_validate_and_schema_refusals_are_malformed() {
    let answer_schema = schema("answer");
    let answer = validator(&answer_schema);
    let requests = validator(&schema("request"));
    let seal = json!({"id": 1, "op": "seal", "profile": "byok-json-v1",
        "secret": {"passphrase": "p"}, "plaintext": "7b7d",
        "kdf": {"algorithm": "pbkdf2", "iterations": 100_000}});
    let hello = json!({"id": 2, "op": "hello"});
    let first = answers(&format!("{seal}\n{hello}\n")).await;
    assert!(answer.is_valid(&first[0]), "{}", first[0]);
    assert!(def_validator(&answer_schema, "byokSealResult").is_valid(&first[0]["result"]));
    assert!(def_validator(&answer_schema, "helloResult").is_valid(&first[1]["result"]));
    let blob = first[0]["result"]["blob"].as_str().unwrap();
    let open = json!({"id": 3, "op": "open", "profile": "byok-json-v1",
        "secret": {"passphrase": "p"}, "blob": blob});
    let second = answers(&format!("{open}\n")).await;
    assert!(def_validator(&answer_schema, "byokOpenResult").is_valid(&second[0]["result"]));
    assert!(!def_validator(&answer_schema, "openResult").is_valid(&json!({})));

    // Request lines the schema refuses are the ones the reference answers `malformed`;
    // the ones it accepts are not.
    let lines = [
        (seal.clone(), true),
        (open.clone(), true),
        (
            json!({"id": 4, "op": "open", "profile": "byok-json-v1",
                "secret": {"key": "11".repeat(32)}, "blob": blob}),
            false,
        ),
        (
            json!({"id": 5, "op": "seal", "profile": "byok-json-v1",
                "secret": {"passphrase": "p"}, "plaintext": "",
                "kdf": {"m_cost": 7168, "t_cost": 5, "p_cost": 1}}),
            false,
        ),
        (
            json!({"id": 6, "op": "seal", "profile": "byok-json-v1",
                "secret": {"passphrase": "p"}, "plaintext": "", "nonce": "00"}),
            false,
        ),
        (
            json!({"id": 7, "op": "open", "profile": 7, "secret": {"passphrase": "p"},
                "blob": ""}),
            false,
        ),
        (
            json!({"id": 8, "op": "delete", "profile": "byok-json-v1",
                "store": {"kind": "object-store", "endpoint": "ftp://x", "bucket": "b",
                    "region": "r", "access_key": "a", "secret_key": "s", "user": "u"}}),
            false,
        ),
        (
            json!({"id": 9, "op": "delete", "profile": "byok-json-v1",
                "store": {"kind": "object-store", "endpoint": "http://x", "bucket": "b",
                    "region": "r", "access_key": "a", "secret_key": "s", "user": "u/v"}}),
            false,
        ),
    ];
    let input: String = lines.iter().map(|(l, _)| format!("{l}\n")).collect();
    let got = answers(&input).await;
    for ((line, valid), a) in lines.iter().zip(&got) {
        assert_eq!(requests.is_valid(line), *valid, "schema on {line}");
        let malformed = a["error"]["class"] == "malformed";
        assert_eq!(malformed, !valid, "{line} → {a}");
        assert!(answer.is_valid(a), "{a}");
    }
}

/// Profile metamask-vault's requests (docs/profiles/metamask-vault.md §8, §10), as the wire
/// types serialize them, validate; the shapes the reference refuses do not.
#[test]
fn metamask_vault_requests_and_answers_validate() {
    let req = validator(&schema("request"));
    let mm = || PROFILE_METAMASK_VAULT.to_owned();
    let pw = || Secret::passphrase("correct horse battery staple");
    let legacy = Some(VaultWireKdf::Legacy { legacy: true });
    let good = [
        request(
            1,
            "derive",
            VaultDeriveRequest {
                profile: mm(),
                passphrase: "p".into(),
                salt: Hex(vec![0; 32]),
                kdf: legacy,
            },
        ),
        request(
            2,
            "seal",
            VaultSealRequest {
                profile: mm(),
                secret: pw(),
                plaintext: Hex(b"[]".to_vec()),
                kdf: Some(VaultWireKdf::Iterations { iterations: 1000 }),
                salt: None,
                nonce: None,
            },
        ),
        request(
            3,
            "rotate",
            VaultRotateRequest {
                profile: mm(),
                secret: pw(),
                blob: Hex(b"{}".to_vec()),
                kdf: None,
            },
        ),
        request(
            4,
            "backup",
            VaultBackupRequest {
                profile: mm(),
                store: store(),
                secret: pw(),
                payload: Hex(b"[]".to_vec()),
                kdf: legacy,
            },
        ),
        request(
            5,
            "rotate",
            VaultStoredRotateRequest {
                profile: mm(),
                store: store(),
                old: pw(),
                new: pw(),
                kdf: None,
            },
        ),
    ];
    for r in &good {
        let errors: Vec<String> = req.iter_errors(r).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{r}: {errors:?}");
    }
    for bad in [
        json!({"id": 6, "op": "backup", "profile": "metamask-vault", "secret": {"passphrase": "p"}, "payload": ""}),
        json!({"id": 7, "op": "derive", "profile": "metamask-vault", "passphrase": "p", "salt": "", "kdf": {"legacy": false}}),
        json!({"id": 8, "op": "rotate", "profile": "metamask-vault", "store": store(), "old": {"passphrase": "p"}}),
        json!({"id": 9, "op": "open", "profile": "metamask-vault", "secret": {"key": "00".repeat(32)}, "blob": ""}),
    ] {
        assert!(!req.is_valid(&bad), "{bad}");
    }
    let ans = schema("answer");
    for (def, result) in [
        ("vaultRestoreResult", json!({"payload": "5b5d"})),
        (
            "vaultRotateResult",
            json!({"blob": "7b7d", "changed": true}),
        ),
        ("vaultRotateStoredResult", json!({"changed": false})),
    ] {
        assert!(def_validator(&ans, def).is_valid(&result), "{def}");
        assert!(!def_validator(&ans, def).is_valid(&json!({})), "{def}");
    }
}

/// Profile dbm-stream-v1's key ops answer what the schema describes; the request shapes
/// the schema refuses are the ones the reference answers `malformed`
/// (docs/profiles/dbm-stream-v1.md §8).
#[tokio::test]
async fn dbm_stream_v1_requests_and_answers_validate() {
    let answer_schema = schema("answer");
    let requests = validator(&schema("request"));
    let key = "8EB5F92FE8B9CE5D07D8BA0CC02100798CF4F71B0DC07B7BBE4CDF590710BEAD";
    let import = json!({"id": 1, "op": "import_key", "profile": "dbm-stream-v1", "input": key});
    let first = answers(&format!("{import}\n")).await;
    assert!(
        def_validator(&answer_schema, "dbmImportKeyResult").is_valid(&first[0]["result"]),
        "{}",
        first[0]
    );
    assert_eq!(first[0]["result"]["key"], key.to_lowercase());
    let id = first[0]["result"]["id"].as_str().unwrap();
    // Without a state dir the keys live as long as the adapter process: a new process has
    // none of the first one's.
    let export = json!({"id": 2, "op": "export_key", "profile": "dbm-stream-v1", "keyId": id});
    let gone = answers(&format!("{export}\n")).await;
    assert_eq!(gone[0]["error"]["class"], "not_found", "{}", gone[0]);
    assert!(requests.is_valid(&import) && requests.is_valid(&export));

    let store = serde_json::to_value(store()).unwrap();
    let lines = [
        (
            json!({"id": 4, "op": "import_key", "profile": "dbm-stream-v1"}),
            false,
        ),
        (
            json!({"id": 5, "op": "export_key", "profile": "dbm-stream-v1"}),
            false,
        ),
        (
            json!({"id": 6, "op": "backup", "profile": "dbm-stream-v1", "store": store,
                "payload": "", "key": "11".repeat(32), "keyId": "a"}),
            false,
        ),
        (
            json!({"id": 7, "op": "backup", "profile": "dbm-stream-v1", "store": store,
                "payload": "", "compression": "gzip"}),
            false,
        ),
        (
            json!({"id": 8, "op": "restore", "profile": "dbm-stream-v1", "store": store}),
            false,
        ),
        (
            json!({"id": 9, "op": "rotate", "profile": "dbm-stream-v1", "store": store,
                "old": {"passphrase": "p"}, "new": {"passphrase": "q"}}),
            false,
        ),
        (
            json!({"id": 10, "op": "import_key", "profile": "dbm-stream-v1", "input": " 00"}),
            true,
        ),
    ];
    let input: String = lines.iter().map(|(l, _)| format!("{l}\n")).collect();
    let got = answers(&input).await;
    for ((line, valid), a) in lines.iter().zip(&got) {
        assert_eq!(requests.is_valid(line), *valid, "schema on {line}");
        assert_eq!(a["error"]["class"], "malformed", "{line} → {a}");
    }
}

/// Profile noah-v0's three ops (docs/profiles/noah-v0.md §7): the requests the suite sends
/// validate, the reference's answers validate, and a derive without a seedphrase is refused
/// by the schema and answered `malformed` by the reference.
#[tokio::test]
async fn noah_v0_requests_and_answers_validate() {
    let ans_schema = schema("answer");
    let answer = validator(&ans_schema);
    let req = validator(&schema("request"));
    let seed = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
    let derive = json!({"id": 1, "op": "derive", "profile": "noah-v0", "passphrase": seed});
    let seal = json!({"id": 2, "op": "seal", "profile": "noah-v0",
        "secret": {"passphrase": seed}, "plaintext": "00ff", "nonce": "07".repeat(12)});
    for r in [&derive, &seal] {
        let errors: Vec<String> = req.iter_errors(r).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{r}: {errors:?}");
    }
    let first = answers(&format!("{derive}\n{seal}\n")).await;
    assert!(answer.is_valid(&first[0]), "{}", first[0]);
    assert!(def_validator(&ans_schema, "noahDeriveResult").is_valid(&first[0]["result"]));
    assert!(!def_validator(&ans_schema, "noahDeriveResult").is_valid(&json!({"ikm": "00"})));
    assert!(def_validator(&ans_schema, "sealResult").is_valid(&first[1]["result"]));
    let open = json!({"id": 3, "op": "open", "profile": "noah-v0",
        "secret": {"passphrase": seed}, "blob": first[1]["result"]["blob"]});
    assert!(req.is_valid(&open), "{open}");
    let second = answers(&format!("{open}\n")).await;
    assert_eq!(second[0]["result"]["plaintext"], "00ff", "{}", second[0]);
    assert!(def_validator(&ans_schema, "openResult").is_valid(&second[0]["result"]));
    // The v1 derive shape (salt, kdf) is not noah-v0's; an empty seedphrase neither.
    for bad in [
        json!({"id": 4, "op": "derive", "profile": "noah-v0"}),
        json!({"id": 5, "op": "derive", "profile": "noah-v0", "passphrase": ""}),
    ] {
        assert!(!req.is_valid(&bad), "{bad}");
        let a = answers(&format!("{bad}\n")).await;
        assert_eq!(a[0]["error"]["class"], "malformed", "{}", a[0]);
    }
}

/// Profile noah-v0's store ops (docs/profiles/noah-v0.md §7): the wire types serialize to
/// requests the schema accepts, their result types to answers it accepts, and what the
/// schema refuses in them the reference answers `malformed` without a server.
#[tokio::test]
async fn noah_v0_store_types_validate_and_refusals_are_malformed() {
    let ans_schema = schema("answer");
    let req = validator(&schema("request"));
    let noah = || PROFILE_NOAH_V0.to_owned();
    let store = || NoahWireStore {
        kind: STORE_KIND_NOAH_V0.to_owned(),
        url: "http://127.0.0.1:9".to_owned(),
        token: "bpt1.alice.xyz".to_owned(),
    };
    let seed = || Secret::passphrase("abandon about");
    let lines = [
        request(
            1,
            "backup",
            NoahBackupRequest {
                profile: noah(),
                store: store(),
                secret: seed(),
                payload: Hex(vec![0x53, 0x51]),
            },
        ),
        request(
            2,
            "restore",
            NoahRestoreRequest {
                profile: noah(),
                store: store(),
                secret: seed(),
            },
        ),
        request(
            3,
            "list",
            NoahListRequest {
                profile: noah(),
                store: store(),
            },
        ),
        request(
            4,
            "delete",
            NoahDeleteRequest {
                profile: noah(),
                store: store(),
                backup_version: 2,
            },
        ),
        request(
            5,
            "settings",
            NoahSettingsRequest {
                profile: noah(),
                store: store(),
                backup_enabled: Some(false),
            },
        ),
        request(
            6,
            "settings",
            NoahSettingsRequest {
                profile: noah(),
                store: store(),
                backup_enabled: None,
            },
        ),
    ];
    for line in &lines {
        let errors: Vec<String> = req.iter_errors(line).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{line}: {errors:?}");
    }
    let slot = NoahSlot {
        backup_version: 1,
        created_at: "2026-11-30T09:41:02.123456Z".to_owned(),
        backup_size: 52,
    };
    let results = [
        ("noahSlotResult", serde_json::to_value(&slot).unwrap()),
        (
            "noahListResult",
            serde_json::to_value(NoahListResult {
                backups: vec![slot.clone()],
            })
            .unwrap(),
        ),
        (
            "noahRestoreResult",
            serde_json::to_value(NoahRestoreResult {
                payload: Hex(vec![1]),
                backup_version: 1,
                created_at: slot.created_at.clone(),
                backup_size: 52,
                skipped: vec![NoahSkipped {
                    backup_version: 2,
                    class: "corrupted".to_owned(),
                }],
            })
            .unwrap(),
        ),
        (
            "noahSettingsResult",
            serde_json::to_value(NoahSettingsResult {
                backup_enabled: true,
                last_backup_at: None,
            })
            .unwrap(),
        ),
    ];
    for (def, v) in &results {
        assert!(def_validator(&ans_schema, def).is_valid(v), "{def}: {v}");
    }

    // Refused by the schema, answered `malformed` by the reference before any request: a
    // store of another kind, a raw key, an empty seedphrase, a version that is no integer,
    // list or settings outside noah-v0, an op the profile does not have.
    let mut other_kind = lines[2].clone();
    other_kind["store"]["kind"] = json!("object-store");
    let mut raw_key = lines[0].clone();
    raw_key["secret"] = json!({"key": "11".repeat(32)});
    let mut empty_seed = lines[1].clone();
    empty_seed["secret"] = json!({"passphrase": ""});
    let mut bad_url = lines[2].clone();
    bad_url["store"]["url"] = json!("ftp://x");
    let mut text_version = lines[3].clone();
    text_version["backup_version"] = json!("2");
    let mut v1_list = lines[2].clone();
    v1_list.as_object_mut().unwrap().remove("profile");
    let mut rotate = lines[1].clone();
    rotate["op"] = json!("rotate");
    let refused = [
        other_kind,
        raw_key,
        empty_seed,
        bad_url,
        text_version,
        v1_list,
        rotate,
    ];
    let input: String = refused.iter().map(|l| format!("{l}\n")).collect();
    let got = answers(&input).await;
    for (l, a) in refused.iter().zip(&got) {
        assert!(!req.is_valid(l), "the schema accepts {l}");
        assert_eq!(a["error"]["class"], "malformed", "{l} → {a}");
    }
    // `hello` announces the two ops.
    let hello = answers("{\"id\":1,\"op\":\"hello\"}\n").await;
    let ops = hello[0]["result"]["ops"].as_array().unwrap();
    assert!(ops.contains(&json!("list")) && ops.contains(&json!("settings")));
}
