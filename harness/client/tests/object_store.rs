//! The byok-json-v1 object-store client against the real embedded S3 of backproof-stack:
//! backup → restore, rotation, and recovery after a rotation cut between "delete final"
//! and "upload final" (docs/profiles/byok-json-v1.md §6).

use backproof_client::object_store::{ObjectStore, RotateStep, Source, StoreConfig};
use backproof_format::ErrorClass;
use backproof_format::profiles::byok_json_v1::{self as byok, Kdf};
use backproof_stack::S3Handle;
use zeroize::Zeroizing;

mod common;

const OLD: &str = "correct horse battery staple";
const NEW: &str = "a brand new passphrase";
const CONFIG: &[u8] = br#"{"apiKey":"AIzaSyExample","projectId":"byok-demo"}"#;
const T1: &str = "2026-03-14T09:26:53.589Z";
const T2: &str = "2026-03-15T18:02:11.004Z";
const T3: &str = "2026-03-16T07:00:00.000Z";

fn kdf() -> Kdf {
    Kdf::Pbkdf2 {
        iterations: byok::PBKDF2_MIN_ITERATIONS,
    }
}

fn store(s3: &S3Handle, user: &str) -> ObjectStore {
    ObjectStore::new(&common::store_config(s3, "byok-test/", user)).unwrap()
}

async fn raw_get(s3: &S3Handle, key: &str) -> Option<Vec<u8>> {
    match s3
        .client()
        .await
        .get_object()
        .bucket(s3.bucket())
        .key(key)
        .send()
        .await
    {
        Ok(out) => Some(out.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(_) => None,
    }
}

fn candidates(list: &[(&str, &str)]) -> Vec<(String, Zeroizing<String>)> {
    list.iter()
        .map(|(id, pw)| ((*id).to_owned(), Zeroizing::new((*pw).to_owned())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_restore_rotate_and_recover_from_temp() {
    let s3 = S3Handle::embedded().await.unwrap();

    // backup → restore, at the design's paths.
    let alice = store(&s3, "alice");
    assert_eq!(
        alice.final_key(),
        "byok-test/users/alice/api_key_backup.json"
    );
    assert_eq!(
        alice.temp_key(),
        "byok-test/users/alice/api_key_backup_temp.json"
    );
    assert_eq!(
        alice.restore(OLD).await.unwrap_err().class(),
        ErrorClass::NotFound
    );
    alice.backup(OLD, CONFIG, &kdf(), T1).await.unwrap();
    let stored = raw_get(&s3, alice.final_key())
        .await
        .expect("final object written");
    assert_eq!(
        byok::open(OLD, &stored).unwrap().plaintext.as_slice(),
        CONFIG
    );
    let restored = alice.restore(OLD).await.unwrap();
    assert_eq!(restored.plaintext.as_slice(), CONFIG);
    assert_eq!(
        (restored.created_at.as_str(), restored.updated_at.as_str()),
        (T1, T1)
    );
    assert_eq!(
        alice.restore(NEW).await.unwrap_err().class(),
        ErrorClass::WrongKey
    );
    // A later backup keeps created_at.
    alice.backup(OLD, b"{\"v\":2}", &kdf(), T2).await.unwrap();
    let restored = alice.restore(OLD).await.unwrap();
    assert_eq!(restored.plaintext.as_slice(), b"{\"v\":2}");
    assert_eq!(
        (restored.created_at.as_str(), restored.updated_at.as_str()),
        (T1, T2)
    );
    // A backup under another passphrase does not replace what it cannot open.
    assert_eq!(
        alice
            .backup(NEW, CONFIG, &kdf(), T2)
            .await
            .unwrap_err()
            .class(),
        ErrorClass::WrongKey
    );

    // rotate: the final object opens with new only, created_at kept, no temp left.
    alice.rotate(OLD, NEW, &kdf(), T3).await.unwrap();
    assert_eq!(
        alice.restore(OLD).await.unwrap_err().class(),
        ErrorClass::WrongKey
    );
    let rotated = alice.restore(NEW).await.unwrap();
    assert_eq!(rotated.plaintext.as_slice(), b"{\"v\":2}");
    assert_eq!(
        (rotated.created_at.as_str(), rotated.updated_at.as_str()),
        (T1, T3)
    );
    assert!(
        raw_get(&s3, alice.temp_key()).await.is_none(),
        "temp deleted"
    );
    // Rotating with a wrong old passphrase writes nothing.
    assert_eq!(
        alice
            .rotate(OLD, NEW, &kdf(), T3)
            .await
            .unwrap_err()
            .class(),
        ErrorClass::WrongKey
    );
    assert!(raw_get(&s3, alice.temp_key()).await.is_none());

    // A rotation cut after "delete final": restore says not_found, recover finds the temp.
    let bob = store(&s3, "bob");
    bob.backup(OLD, CONFIG, &kdf(), T1).await.unwrap();
    bob.rotate_until(OLD, NEW, &kdf(), T2, Some(RotateStep::DeleteFinal))
        .await
        .unwrap();
    assert!(
        raw_get(&s3, bob.final_key()).await.is_none(),
        "final deleted"
    );
    let temp = raw_get(&s3, bob.temp_key()).await.expect("temp kept");
    assert_eq!(byok::open(NEW, &temp).unwrap().plaintext.as_slice(), CONFIG);
    assert_eq!(
        bob.restore(NEW).await.unwrap_err().class(),
        ErrorClass::NotFound
    );
    assert_eq!(
        bob.restore(OLD).await.unwrap_err().class(),
        ErrorClass::NotFound
    );
    // Candidates are tried in order; the old passphrase cannot open the temp.
    let err = bob
        .recover(&candidates(&[("old", "not this one"), ("older", OLD)]))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::WrongKey);
    assert!(err.to_string().contains("old, older"), "{err}");
    let recovered = bob
        .recover(&candidates(&[("old", OLD), ("new", NEW)]))
        .await
        .unwrap();
    assert_eq!(
        (recovered.matched.as_str(), recovered.source),
        ("new", Source::Temp)
    );
    assert_eq!(recovered.backup.plaintext.as_slice(), CONFIG);
    assert_eq!(recovered.backup.created_at, T1);
    // Recovery finished the rotation: final restored from the temp, temp gone.
    assert_eq!(bob.restore(NEW).await.unwrap().plaintext.as_slice(), CONFIG);
    assert!(raw_get(&s3, bob.temp_key()).await.is_none());

    // A rotation cut after "upload temp" leaves the final object alone.
    let carol = store(&s3, "carol");
    carol.backup(OLD, CONFIG, &kdf(), T1).await.unwrap();
    carol
        .rotate_until(OLD, NEW, &kdf(), T2, Some(RotateStep::UploadTemp))
        .await
        .unwrap();
    assert_eq!(
        carol.restore(OLD).await.unwrap().plaintext.as_slice(),
        CONFIG
    );
    let recovered = carol.recover(&candidates(&[("new", NEW)])).await.unwrap();
    assert_eq!(recovered.source, Source::Temp);
    assert_eq!(
        carol.restore(OLD).await.unwrap().plaintext.as_slice(),
        CONFIG,
        "recover does not replace a final object that exists"
    );

    // delete removes both objects; a second delete is not_found.
    carol.delete().await.unwrap();
    assert!(raw_get(&s3, carol.final_key()).await.is_none());
    assert!(raw_get(&s3, carol.temp_key()).await.is_none());
    assert_eq!(
        carol.delete().await.unwrap_err().class(),
        ErrorClass::NotFound
    );
    assert_eq!(
        carol
            .recover(&candidates(&[("new", NEW)]))
            .await
            .unwrap_err()
            .class(),
        ErrorClass::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_a_damaged_backup_writes_nothing() {
    // Step 1 opens with the old passphrase before anything is written: a final object
    // that no longer parses stops the rotation with its class, and no temp appears.
    let s3 = S3Handle::embedded().await.unwrap();
    let dave = store(&s3, "dave");
    dave.backup(OLD, CONFIG, &kdf(), T1).await.unwrap();
    let mut blob = raw_get(&s3, dave.final_key()).await.unwrap();
    let at = blob.iter().position(|&b| b == b'"').unwrap();
    blob[at] = b'x';
    s3.client()
        .await
        .put_object()
        .bucket(s3.bucket())
        .key(dave.final_key())
        .body(blob.into())
        .send()
        .await
        .unwrap();
    assert_eq!(
        dave.rotate(OLD, NEW, &kdf(), T2).await.unwrap_err().class(),
        ErrorClass::Malformed
    );
    assert!(raw_get(&s3, dave.temp_key()).await.is_none());
}

#[test]
fn bad_store_configs_are_malformed() {
    let good = StoreConfig {
        endpoint: "http://127.0.0.1:9".to_owned(),
        bucket: "b".to_owned(),
        region: "us-east-1".to_owned(),
        access_key: "a".to_owned(),
        secret_key: "s".to_owned(),
        prefix: String::new(),
        user: "alice".to_owned(),
    };
    assert!(ObjectStore::new(&good).is_ok());
    for edit in [
        (|c: &mut StoreConfig| c.endpoint = "ftp://x".to_owned()) as fn(&mut StoreConfig),
        |c| c.user = "a/b".to_owned(),
        |c| c.user = String::new(),
        |c| c.secret_key = String::new(),
    ] {
        let mut c = good.clone();
        edit(&mut c);
        assert_eq!(
            ObjectStore::new(&c).unwrap_err().class(),
            ErrorClass::Malformed
        );
    }
    // Credentials stay out of Debug output.
    assert!(!format!("{good:?}").contains("\"s\""));
}
