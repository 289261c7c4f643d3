//! The 409 merge loop of `backup` derives the writer's key once per call: every attempt of
//! one call carries the same salt (one Argon2id derivation) and its own fresh nonce, and
//! each attempt opens with the passphrase (docs/CLIENT.md, docs/FORMAT.md §3).
//!
//! The server here is a scripted HTTP endpoint speaking API v1's three answers the loop
//! depends on (409 on POST, 200 + ETag on GET, 201 + version on POST), so the test decides
//! exactly how many conflicts happen and sees every body the client sent, including the
//! refused ones that a real server throws away.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use backproof_client::{Client, ClientConfig, Server};
use backproof_format::payload::{self, BackupPayload, Contact};
use backproof_format::{KdfParams, Policy, Secret};

const PASSPHRASE: &str = "correct horse battery staple";

#[derive(Default)]
struct Script {
    /// POSTs answered 409 before the next one is stored.
    conflicts_left: u32,
    /// The blob GET returns (another device's), at version 1.
    stored: Vec<u8>,
    /// Every POST body, in order, with its If-Match.
    posts: Vec<(Vec<u8>, Option<String>)>,
}

type Shared = Arc<Mutex<Script>>;

async fn get_backup(State(s): State<Shared>) -> impl IntoResponse {
    let blob = s.lock().unwrap().stored.clone();
    (StatusCode::OK, [(header::ETAG, "\"1\"")], blob)
}

async fn post_backup(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mut s = s.lock().unwrap();
    let if_match = headers
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap().to_string());
    s.posts.push((body.to_vec(), if_match));
    if s.conflicts_left > 0 {
        s.conflicts_left -= 1;
        (StatusCode::CONFLICT, "{\"version\":1}".to_string())
    } else {
        (StatusCode::CREATED, "{\"version\":2}".to_string())
    }
}

fn contacts(uuids: &[&str]) -> BackupPayload {
    BackupPayload {
        schema: 1,
        identity: None,
        contacts: uuids
            .iter()
            .map(|u| Contact {
                uuid: (*u).into(),
                username: format!("user-{u}"),
            })
            .collect(),
        profile: None,
    }
}

/// The salt and nonce of a v1 passphrase blob (docs/FORMAT.md §1).
fn salt_and_nonce(blob: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let h = backproof_format::parse_header(blob).expect("a v1 blob");
    (h.salt, h.nonce.to_vec())
}

#[tokio::test]
async fn conflict_attempts_share_one_derivation_and_never_a_nonce() {
    let secret = Secret::passphrase(PASSPHRASE);
    let other_device = backproof_format::seal(
        &secret,
        &KdfParams::FLOOR,
        &[7u8; 16],
        &[9u8; 12],
        &payload::encode(&contacts(&["b"])),
    )
    .unwrap();
    let script: Shared = Arc::new(Mutex::new(Script {
        conflicts_left: 4,
        stored: other_device,
        posts: Vec::new(),
    }));
    let app = Router::new()
        .route("/v1/backup", get(get_backup).post(post_backup))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = Client::new(ClientConfig {
        kdf: KdfParams::FLOOR,
        ..ClientConfig::default()
    })
    .unwrap();
    let server = Server {
        url: format!("http://{addr}"),
        token: "t".into(),
    };
    let out = client
        .backup(&server, &secret, &contacts(&["a"]))
        .await
        .unwrap();
    assert_eq!(out.version, 2);
    assert_eq!(out.merges, 4, "every 409 was followed by a merge");

    let posts = script.lock().unwrap().posts.clone();
    assert_eq!(posts.len(), 5, "four refused attempts and the stored one");
    // The first attempt creates (no version known); the others replace the version read.
    assert_eq!(posts[0].1, None);
    assert!(
        posts[1..]
            .iter()
            .all(|(_, m)| m.as_deref() == Some("\"1\""))
    );
    let parts: Vec<_> = posts.iter().map(|(b, _)| salt_and_nonce(b)).collect();
    let salts: BTreeSet<_> = parts.iter().map(|(s, _)| s.clone()).collect();
    let nonces: BTreeSet<_> = parts.iter().map(|(_, n)| n.clone()).collect();
    assert_eq!(
        salts.len(),
        1,
        "one salt, so one derivation, per backup call"
    );
    assert_ne!(
        salts.first().unwrap(),
        &vec![7u8; 16],
        "the writer's own salt, never the downloaded blob's"
    );
    assert_eq!(nonces.len(), posts.len(), "a fresh nonce for every attempt");
    for (i, (blob, _)) in posts.iter().enumerate() {
        let opened = backproof_format::open_payload(&secret, blob, &Policy::default())
            .unwrap_or_else(|e| panic!("attempt {i} does not open: {e}"));
        let uuids: Vec<_> = opened.contacts.iter().map(|c| c.uuid.as_str()).collect();
        let want: &[&str] = if i == 0 { &["a"] } else { &["a", "b"] };
        assert_eq!(uuids, want, "attempt {i}");
        let header = backproof_format::parse_header(blob).unwrap();
        assert_eq!(
            header.kdf,
            Some(KdfParams::FLOOR),
            "the writer's own parameters"
        );
    }

    // The next call draws a new salt.
    script.lock().unwrap().posts.clear();
    client
        .backup(&server, &secret, &contacts(&["a"]))
        .await
        .unwrap();
    let next = script.lock().unwrap().posts.clone();
    assert_eq!(next.len(), 1);
    assert_ne!(salt_and_nonce(&next[0].0).0, *salts.first().unwrap());
}
