//! The serving loop: every kind of bad line gets a `malformed` answer (id null when the id
//! is unknown) and the loop goes on; answers come one per line, in order; the crypto ops
//! round-trip. Also the driver: a hanging adapter is killed after the timeout.

use std::time::Duration;

use backproof_client::ClientConfig;
use backproof_client::adapter::{AdapterConfig, AdapterProcess, DriverError, serve};
use backproof_format::KdfParams;
use serde_json::{Value, json};

fn config() -> AdapterConfig {
    AdapterConfig {
        client: ClientConfig {
            kdf: KdfParams::FLOOR,
            ..ClientConfig::default()
        },
        ..AdapterConfig::default()
    }
}

async fn run(input: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    serve(input, &mut out, config()).await.expect("serve");
    let text = String::from_utf8(out).expect("answers are UTF-8");
    assert!(text.is_empty() || text.ends_with('\n'));
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each answer line is JSON"))
        .collect()
}

fn class(a: &Value) -> &str {
    a["error"]["class"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn malformed_lines_of_every_kind() {
    let key = "11".repeat(32);
    let cases: Vec<(Vec<u8>, Value)> = vec![
        (b"{not json".to_vec(), Value::Null),
        (b"[1,2]".to_vec(), Value::Null),
        (b"\"hello\"".to_vec(), Value::Null),
        (vec![0xff, 0xfe, b'{', b'}'], Value::Null),
        (br#"{"op":"hello"}"#.to_vec(), Value::Null),
        (br#"{"id":"seven","op":"hello"}"#.to_vec(), Value::Null),
        (br#"{"id":-1,"op":"hello"}"#.to_vec(), Value::Null),
        (br#"{"id":1}"#.to_vec(), json!(1)),
        (br#"{"id":2,"op":42}"#.to_vec(), json!(2)),
        (br#"{"id":3,"op":"launch"}"#.to_vec(), json!(3)),
        (br#"{"id":4,"op":"open","profile":"v1","secret":{"passphrase":"p"}}"#.to_vec(), json!(4)),
        (format!(r#"{{"id":5,"op":"open","profile":"v1","secret":{{"key":"{key}"}},"blob":"zz"}}"#).into_bytes(), json!(5)),
        (format!(r#"{{"id":6,"op":"open","profile":"v1","secret":{{"key":"{key}"}},"blob":"abc"}}"#).into_bytes(), json!(6)),
        (format!(r#"{{"id":7,"op":"open","profile":"v1","secret":{{"key":"{key}"}},"blob":"ABCD"}}"#).into_bytes(), json!(7)),
        (br#"{"id":8,"op":"open","profile":"v1","secret":{"key":"1234"},"blob":"00"}"#.to_vec(), json!(8)),
        (br#"{"id":9,"op":"open","profile":"v1","secret":{},"blob":"00"}"#.to_vec(), json!(9)),
        (format!(r#"{{"id":10,"op":"open","profile":"v1","secret":{{"passphrase":"p","key":"{key}"}},"blob":"00"}}"#).into_bytes(), json!(10)),
        (br#"{"id":11,"op":"derive","passphrase":"p","salt":"00","kdf":{"m_cost":"big","t_cost":1,"p_cost":1}}"#.to_vec(), json!(11)),
        (format!(r#"{{"id":12,"op":"seal","profile":"v1","secret":{{"key":"{key}"}},"plaintext":"00","nonce":"0011"}}"#).into_bytes(), json!(12)),
        (br#"{"id":13,"op":"recover","profile":"v1","server":{"url":"http://x","token":"t"},"candidates":[{"passphrase":"p"}]}"#.to_vec(), json!(13)),
        (br#"{"id":14,"op":"backup","profile":"v1","server":{"url":"http://x"},"secret":{"passphrase":"p"},"payload":""}"#.to_vec(), json!(14)),
    ];
    let mut input = Vec::new();
    for (line, _) in &cases {
        input.extend_from_slice(line);
        input.push(b'\n');
    }
    // The loop survived all of that: a good request at the end is answered.
    input.extend_from_slice(b"{\"id\":99,\"op\":\"hello\"}\n");
    let answers = run(&input).await;
    assert_eq!(answers.len(), cases.len() + 1, "{answers:#?}");
    for ((line, id), a) in cases.iter().zip(&answers) {
        let line = String::from_utf8_lossy(line);
        assert_eq!(&a["id"], id, "{line} → {a}");
        assert_eq!(class(a), "malformed", "{line} → {a}");
        assert!(a.get("result").is_none());
        let msg = a["error"]["message"].as_str().unwrap();
        assert!(!msg.is_empty(), "{line}");
    }
    assert_eq!(answers.last().unwrap()["id"], 99);
    assert!(answers.last().unwrap()["result"]["ops"].is_array());
}

#[tokio::test]
async fn answers_in_order_blank_lines_ignored_and_crypto_round_trip() {
    let key = "42".repeat(32);
    let input = format!(
        "{}\n\n   \n{}\n{}\n{}\n",
        json!({"id": 10, "op": "hello"}),
        json!({"id": 11, "op": "seal", "profile": "v1", "secret": {"key": key}, "plaintext": "cafe"}),
        json!({"id": 12, "op": "seal", "profile": "v2", "secret": {"key": key}, "plaintext": "cafe"}),
        json!({"id": 13, "op": "open", "profile": "v1", "secret": {"key": "00".repeat(32)}, "blob": "00"}),
    );
    let answers = run(input.as_bytes()).await;
    let ids: Vec<u64> = answers.iter().map(|a| a["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [10, 11, 12, 13]);
    let hello = &answers[0]["result"];
    assert_eq!(hello["protocol"], 1);
    assert_eq!(
        hello["profiles"],
        json!([
            "v1",
            "byok-json-v1",
            "metamask-vault",
            "dbm-stream-v1",
            "noah-v0"
        ])
    );
    assert_eq!(hello["ops"].as_array().unwrap().len(), 13);
    let blob = answers[1]["result"]["blob"].as_str().unwrap().to_string();
    assert!(blob.starts_with(&hex_of(b"BKPF")), "{blob}");
    assert_eq!(class(&answers[2]), "unsupported_version");
    assert_eq!(class(&answers[3]), "malformed");

    // Open what was sealed: right key gives the plaintext, another key wrong_key, and a
    // flipped header byte corrupted.
    let mut flipped = hex::decode(&blob).unwrap();
    flipped[20] ^= 1;
    let input = format!(
        "{}\n{}\n{}\n",
        json!({"id": 1, "op": "open", "profile": "v1", "secret": {"key": key}, "blob": blob}),
        json!({"id": 2, "op": "open", "profile": "v1", "secret": {"key": "43".repeat(32)}, "blob": blob}),
        json!({"id": 3, "op": "open", "profile": "v1", "secret": {"key": key}, "blob": hex::encode(&flipped)}),
    );
    let answers = run(input.as_bytes()).await;
    assert_eq!(answers[0]["result"]["plaintext"], "cafe");
    assert_eq!(class(&answers[1]), "wrong_key");
    assert_eq!(class(&answers[2]), "corrupted");
}

#[tokio::test]
async fn fixed_salt_and_nonce_seal_is_deterministic_and_derive_matches() {
    let req = json!({"id": 1, "op": "seal", "profile": "v1",
        "secret": {"passphrase": "correct horse battery staple"},
        "plaintext": "00010203", "kdf": {"m_cost": 7168, "t_cost": 5, "p_cost": 1},
        "salt": "ab".repeat(16), "nonce": "cd".repeat(12)});
    let derive = json!({"id": 2, "op": "derive", "passphrase": "correct horse battery staple",
        "salt": "ab".repeat(16), "kdf": {"m_cost": 7168, "t_cost": 5, "p_cost": 1}});
    let input = format!("{req}\n{req}\n{derive}\n");
    let answers = run(input.as_bytes()).await;
    let a = answers[0]["result"]["blob"].as_str().unwrap();
    assert_eq!(a, answers[1]["result"]["blob"].as_str().unwrap());
    // Compare with the format crate directly.
    let expected = backproof_format::seal(
        &backproof_format::Secret::passphrase("correct horse battery staple"),
        &KdfParams::FLOOR,
        &[0xab; 16],
        &[0xcd; 12],
        &[0, 1, 2, 3],
    )
    .unwrap();
    assert_eq!(a, hex::encode(expected));
    let ikm = backproof_format::derive_ikm(
        "correct horse battery staple",
        &[0xab; 16],
        &KdfParams::FLOOR,
    )
    .unwrap();
    assert_eq!(answers[2]["result"]["ikm"], hex::encode(ikm.as_slice()));
}

#[tokio::test]
async fn server_ops_report_network_when_nobody_listens() {
    let input = format!(
        "{}\n",
        json!({"id": 1, "op": "restore", "profile": "v1",
            "server": {"url": "http://127.0.0.1:9", "token": "t"},
            "secret": {"passphrase": "correct horse battery staple"}})
    );
    let mut cfg = config();
    cfg.client.retry = backproof_client::RetryPolicy::NONE;
    let mut out = Vec::new();
    serve(input.as_bytes(), &mut out, cfg).await.unwrap();
    let a: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(class(&a), "network", "{a}");
}

#[tokio::test]
async fn profile_absent_is_v1_unknown_is_named_and_mistyped_is_malformed() {
    let key = "42".repeat(32);
    let input = format!(
        "{}\n{}\n{}\n{}\n{}\n",
        json!({"id": 1, "op": "seal", "secret": {"key": key}, "plaintext": "cafe"}),
        json!({"id": 2, "op": "seal", "profile": null, "secret": {"key": key}, "plaintext": "cafe"}),
        json!({"id": 3, "op": "seal", "profile": "obscura-v2", "secret": {"key": key}, "plaintext": "cafe"}),
        json!({"id": 4, "op": "seal", "profile": 1, "secret": {"key": key}, "plaintext": "cafe"}),
        json!({"id": 5, "op": "derive", "profile": "byok-json-v1", "passphrase": "p",
            "salt": "00".repeat(16), "kdf": {"m_cost": 7168, "t_cost": 5, "p_cost": 1}}),
    );
    let answers = run(input.as_bytes()).await;
    for a in &answers[..2] {
        let blob = a["result"]["blob"].as_str().unwrap();
        assert!(blob.starts_with(&hex_of(b"BKPF")), "a v1 blob: {a}");
    }
    assert_eq!(class(&answers[2]), "unsupported_version");
    let msg = answers[2]["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("obscura-v2") && msg.contains("byok-json-v1"),
        "{msg}"
    );
    assert_eq!(class(&answers[3]), "malformed");
    assert!(
        answers[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`profile`")
    );
    assert_eq!(class(&answers[4]), "unsupported_version");
}

#[tokio::test]
async fn byok_seal_and_open_speak_the_profile_values() {
    use backproof_format::profiles::byok_json_v1::{self as byok, Kdf, SealParams};
    const T1: &str = "2026-03-14T09:26:53.589Z";
    const T2: &str = "2026-03-15T18:02:11+02:00";
    let pinned = json!({"id": 1, "op": "seal", "profile": "byok-json-v1",
        "secret": {"passphrase": "pässword"}, "plaintext": "7b7d",
        "kdf": {"algorithm": "pbkdf2", "iterations": 100_000},
        "salt": "ab".repeat(16), "nonce": "cd".repeat(12),
        "created_at": T1, "updated_at": T2});
    let fresh = json!({"id": 2, "op": "seal", "profile": "byok-json-v1",
        "secret": {"passphrase": "pässword"}, "plaintext": "7b7d"});
    let out_of_bounds = json!({"id": 3, "op": "seal", "profile": "byok-json-v1",
        "secret": {"passphrase": "p"}, "plaintext": "",
        "kdf": {"algorithm": "argon2id", "iterations": 3, "memory": 64, "parallelism": 4}});
    let unknown_kdf = json!({"id": 4, "op": "seal", "profile": "byok-json-v1",
        "secret": {"passphrase": "p"}, "plaintext": "", "kdf": {"algorithm": "scrypt"}});
    let bad_time = json!({"id": 5, "op": "seal", "profile": "byok-json-v1",
        "secret": {"passphrase": "p"}, "plaintext": "", "created_at": "yesterday"});
    let input = format!("{pinned}\n{fresh}\n{out_of_bounds}\n{unknown_kdf}\n{bad_time}\n");
    let answers = run(input.as_bytes()).await;
    let expected = byok::seal(
        "pässword",
        b"{}",
        &SealParams {
            kdf: Kdf::Pbkdf2 {
                iterations: 100_000,
            },
            salt: &[0xab; 16],
            nonce: [0xcd; 12],
            created_at: T1,
            updated_at: T2,
        },
    )
    .unwrap();
    assert_eq!(answers[0]["result"]["blob"], hex::encode(&expected));
    // Without kdf: the writer's own (the adapter's --kdf, here the floor), fresh salt and
    // nonce, and now as both timestamps.
    let fresh = hex::decode(answers[1]["result"]["blob"].as_str().unwrap()).unwrap();
    let opened = byok::open("pässword", &fresh).unwrap();
    assert_eq!(opened.envelope.kdf, Kdf::FLOOR_ARGON2ID);
    assert_eq!(opened.envelope.created_at, opened.envelope.updated_at);
    assert!(byok::is_rfc3339(&opened.envelope.created_at));
    assert_eq!(class(&answers[2]), "kdf_params_rejected");
    assert_eq!(class(&answers[3]), "malformed");
    assert_eq!(class(&answers[4]), "malformed");

    // open answers the plaintext and both timestamps; its classes are the profile's.
    let blob = hex::encode(&expected);
    let mut truncated = expected.clone();
    truncated.truncate(expected.len() - 10);
    let input = format!(
        "{}\n{}\n{}\n",
        json!({"id": 1, "op": "open", "profile": "byok-json-v1", "secret": {"passphrase": "pässword"}, "blob": blob}),
        json!({"id": 2, "op": "open", "profile": "byok-json-v1", "secret": {"passphrase": "password"}, "blob": blob}),
        json!({"id": 3, "op": "open", "profile": "byok-json-v1", "secret": {"passphrase": "pässword"}, "blob": hex::encode(truncated)}),
    );
    let answers = run(input.as_bytes()).await;
    assert_eq!(
        answers[0]["result"],
        json!({"plaintext": "7b7d", "created_at": T1, "updated_at": T2})
    );
    assert_eq!(class(&answers[1]), "wrong_key");
    assert_eq!(class(&answers[2]), "malformed");
}

fn hex_of(b: &[u8]) -> String {
    hex::encode(b)
}

#[test]
fn driver_kills_a_hanging_adapter() {
    let mut p = AdapterProcess::spawn("sh -c 'sleep 100'", None).unwrap();
    let pid = p.pid().unwrap();
    let err = p
        .call("hello", json!({}), Duration::from_millis(300))
        .unwrap_err();
    assert!(matches!(err, DriverError::Timeout { .. }), "{err}");
    assert_eq!(p.pid(), None);
    // The process (group) is gone: signal 0 to the pid fails.
    let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok();
    assert!(!alive, "pid {pid} still alive");
    assert!(matches!(
        p.call("hello", json!({}), Duration::from_millis(100)),
        Err(DriverError::NotRunning)
    ));
}

#[test]
fn driver_reports_early_exit_with_stderr_and_protocol_violations() {
    let mut p = AdapterProcess::spawn("sh -c 'echo broken adapter >&2; exit 3'", None).unwrap();
    match p
        .call("hello", json!({}), Duration::from_secs(10))
        .unwrap_err()
    {
        DriverError::Exited { stderr, .. } => {
            assert!(stderr.contains("broken adapter"), "{stderr}")
        }
        other => panic!("expected Exited, got {other}"),
    }
    // An adapter answering with the wrong id breaks the protocol.
    let mut p = AdapterProcess::spawn(
        r#"sh -c 'read l; echo "{\"id\": 77, \"result\": {}}"; sleep 5'"#,
        None,
    )
    .unwrap();
    let e = p
        .call("hello", json!({}), Duration::from_secs(10))
        .unwrap_err();
    assert!(matches!(e, DriverError::Protocol { .. }), "{e}");
    p.kill();
    assert!(!p.is_running());
}

#[test]
fn driver_passes_the_state_dir_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    // A tiny adapter that answers every line with its argv, so we see --state-dir.
    let script = dir.path().join("echo-adapter.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nwhile read l; do\n  id=$(echo \"$l\" | sed 's/.*\"id\":\\([0-9]*\\).*/\\1/')\n  echo \"{\\\"id\\\": $id, \\\"result\\\": {\\\"args\\\": \\\"$*\\\"}}\"\ndone\n",
    )
    .unwrap();
    let state = dir.path().join("state");
    let mut p = AdapterProcess::spawn(&format!("sh {}", script.display()), Some(&state)).unwrap();
    let first = p.pid().unwrap();
    let r = p
        .call("hello", json!({}), Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(r["args"], format!("--state-dir {}", state.display()));
    p.restart().unwrap();
    assert_ne!(p.pid().unwrap(), first);
    let r = p
        .call("derive", json!({}), Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(r["args"], format!("--state-dir {}", state.display()));
}
