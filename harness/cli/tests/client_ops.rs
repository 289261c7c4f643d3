//! The reference client against the reference server on a real stack (throwaway Postgres +
//! S3): round trip, the two-device merge, wrong passphrase, rotation and its retry, smart
//! recovery and delete. The client's errors are checked by class, and "nothing changed" by
//! reading the server back.

use backproof_client::{Candidate, Client, ClientConfig, RetryPolicy, Server};
use backproof_format::payload::{BackupPayload, Contact, IdentityKeyPair};
use backproof_format::{ErrorClass, KdfParams, Secret};
use backproof_stack::{Stack, StackChoice};

const AUTH: &str = "client-ops-test-secret";

async fn start_server(stack: &Stack) -> String {
    let database_url = stack
        .postgres
        .create_unique_database("clientops")
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
    url
}

fn user(url: &str, name: &str) -> Server {
    Server {
        url: url.into(),
        token: backproof_server::mint_token(AUTH.as_bytes(), name),
    }
}

fn client(state: &std::path::Path) -> Client {
    Client::new(ClientConfig {
        kdf: KdfParams::FLOOR,
        state_dir: Some(state.to_path_buf()),
        retry: RetryPolicy::NONE,
        ..ClientConfig::default()
    })
    .unwrap()
}

fn payload(contacts: &[(&str, &str)]) -> BackupPayload {
    BackupPayload {
        schema: 1,
        identity: Some(IdentityKeyPair {
            public_key: vec![1; 32],
            private_key: vec![2; 32],
        }),
        contacts: contacts
            .iter()
            .map(|(u, n)| Contact {
                uuid: (*u).into(),
                username: (*n).into(),
            })
            .collect(),
        profile: None,
    }
}

fn uuids(p: &BackupPayload) -> Vec<String> {
    let mut v: Vec<String> = p.contacts.iter().map(|c| c.uuid.clone()).collect();
    v.sort();
    v
}

const PASS: &str = "correct horse battery staple";
const OTHER: &str = "incorrect horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_operations_against_the_reference_server() {
    let stack = Stack::start(StackChoice::Local).await.expect("stack");
    let url = start_server(&stack).await;
    let dirs = tempfile::tempdir().unwrap();
    let phone = client(&dirs.path().join("phone"));
    let laptop = client(&dirs.path().join("laptop"));
    let pass = Secret::passphrase(PASS);

    // Round trip, and the state directory makes the second backup an update.
    let alice = user(&url, "alice");
    let v1 = phone
        .backup(&alice, &pass, &payload(&[("a", "ann")]))
        .await
        .unwrap();
    assert_eq!((v1.version, v1.merges), (1, 0));
    let v2 = phone
        .backup(&alice, &pass, &payload(&[("a", "ann"), ("b", "bob")]))
        .await
        .unwrap();
    assert_eq!((v2.version, v2.merges), (2, 0));
    assert_eq!(phone.acknowledged_version(&alice).unwrap(), Some(2));
    let r = laptop.restore(&alice, &pass).await.unwrap();
    assert_eq!(r.version, 2);
    assert_eq!(uuids(&r.payload), ["a", "b"]);

    // Two devices: the laptop never wrote, so its create gets 409 and it merges.
    let m = laptop
        .backup(&alice, &pass, &payload(&[("c", "cat")]))
        .await
        .unwrap();
    assert_eq!((m.version, m.merges), (3, 1));
    // The phone's state says 2; its update conflicts and merges too.
    let m2 = phone
        .backup(&alice, &pass, &payload(&[("d", "dan")]))
        .await
        .unwrap();
    assert_eq!((m2.version, m2.merges), (4, 1));
    let r = phone.restore(&alice, &pass).await.unwrap();
    assert_eq!(uuids(&r.payload), ["a", "b", "c", "d"]);

    // Wrong passphrase: restore says wrong_key; a backup that must merge refuses too, and
    // the stored version is untouched.
    let wrong = Secret::passphrase(OTHER);
    let e = phone.restore(&alice, &wrong).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::WrongKey, "{e}");
    let fresh = client(&dirs.path().join("tablet"));
    let e = fresh
        .backup(&alice, &wrong, &payload(&[("x", "xi")]))
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::WrongKey, "{e}");
    let r = phone.restore(&alice, &pass).await.unwrap();
    assert_eq!((r.version, uuids(&r.payload).len()), (4, 4));

    // Rotation, then the same rotation again (a retry after a lost answer) uploads nothing.
    let new = Secret::passphrase(OTHER);
    let rot = phone.rotate(&alice, &pass, &new).await.unwrap();
    assert_eq!((rot.version, rot.uploaded), (5, true));
    let again = laptop.rotate(&alice, &pass, &new).await.unwrap();
    assert_eq!((again.version, again.uploaded), (5, false));
    assert_eq!(
        phone.restore(&alice, &pass).await.unwrap_err().class(),
        ErrorClass::WrongKey
    );
    let r = phone.restore(&alice, &new).await.unwrap();
    assert_eq!((r.version, uuids(&r.payload).len()), (5, 4));
    // Rotating with a wrong old secret changes nothing.
    let third = Secret::passphrase("a third passphrase entirely");
    let e = phone
        .rotate(&alice, &Secret::passphrase("not the one at all!"), &third)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::WrongKey, "{e}");
    assert_eq!(phone.restore(&alice, &new).await.unwrap().version, 5);

    // Smart recovery: several candidates, the matching one named; none matching lists all.
    let candidates = vec![
        Candidate {
            id: "old".into(),
            secret: Secret::passphrase(PASS),
        },
        Candidate {
            id: "export".into(),
            secret: Secret::key([7; 32]),
        },
        Candidate {
            id: "current".into(),
            secret: Secret::passphrase(OTHER),
        },
    ];
    let rec = laptop.recover(&alice, &candidates).await.unwrap();
    assert_eq!((rec.matched.as_str(), rec.version), ("current", 5));
    assert_eq!(uuids(&rec.payload), ["a", "b", "c", "d"]);
    let e = laptop.recover(&alice, &candidates[..2]).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::WrongKey);
    assert_eq!(e.tried().unwrap(), ["old", "export"]);

    // A raw-key backup for another user, recovered by its key.
    let bob = user(&url, "bob");
    let key = Secret::key([9; 32]);
    phone
        .backup(&bob, &key, &payload(&[("z", "zed")]))
        .await
        .unwrap();
    let rec = laptop
        .recover(
            &bob,
            &[
                Candidate {
                    id: "pp".into(),
                    secret: Secret::passphrase(PASS),
                },
                Candidate {
                    id: "k".into(),
                    secret: Secret::key([9; 32]),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(rec.matched, "k");
    // Users are isolated: alice's data is not bob's.
    assert_eq!(
        uuids(&phone.restore(&bob, &key).await.unwrap().payload),
        ["z"]
    );

    // Delete: gone, then not_found; the state is forgotten so the next backup creates.
    phone.delete(&alice).await.unwrap();
    assert_eq!(phone.acknowledged_version(&alice).unwrap(), None);
    assert_eq!(
        phone.restore(&alice, &new).await.unwrap_err().class(),
        ErrorClass::NotFound
    );
    assert_eq!(
        phone.delete(&alice).await.unwrap_err().class(),
        ErrorClass::NotFound
    );
    assert_eq!(
        phone.rotate(&alice, &new, &pass).await.unwrap_err().class(),
        ErrorClass::NotFound
    );

    // Status classes: a bad token is unauthorized; nobody listening is network.
    let intruder = Server {
        url: url.clone(),
        token: "bpt1.alice.AAAA".into(),
    };
    assert_eq!(
        phone.restore(&intruder, &pass).await.unwrap_err().class(),
        ErrorClass::Unauthorized
    );
    let nowhere = Server {
        url: "http://127.0.0.1:9".into(),
        token: "t".into(),
    };
    assert_eq!(
        phone.restore(&nowhere, &pass).await.unwrap_err().class(),
        ErrorClass::Network
    );
    // A too-short passphrase is refused before anything is sent.
    let e = phone
        .backup(&alice, &Secret::passphrase("short"), &payload(&[]))
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::PassphraseTooShort);
    assert_eq!(
        phone.restore(&alice, &pass).await.unwrap_err().class(),
        ErrorClass::NotFound
    );
}
