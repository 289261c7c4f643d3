//! The dbm-stream-v1 artifact+sidecar client against the real embedded S3 of
//! backproof-stack (docs/profiles/dbm-stream-v1.md §8): each backup a new name, artifact
//! then sidecar; a restore takes the newest name with both objects and reports the cut
//! ones it passed over; a named backup without its sidecar is `not_found`; smart recovery
//! after an import; and no output file after a refusal.

use backproof_client::dbm_store::{DbmStore, Keyring};
use backproof_format::ErrorClass;
use backproof_format::profiles::dbm_stream_v1::Compression;
use backproof_stack::S3Handle;

mod common;

const KEY: &str = "8eb5f92fe8b9ce5d07d8ba0cc02100798cf4f71b0dc07b7bbe4cdf590710bead";

async fn delete(s3: &S3Handle, key: &str) {
    s3.client()
        .await
        .delete_object()
        .bucket(s3.bucket())
        .key(key)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_new_names_and_a_restore_skips_an_artifact_without_its_sidecar() {
    let s3 = S3Handle::embedded().await.unwrap();
    let store = DbmStore::new(&common::store_config(&s3, "dbm-test/", "alice")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = |n: &str| dir.path().join(n);
    let state = tempfile::tempdir().unwrap();
    let keys = Keyring::open(Some(state.path())).unwrap();
    let (id, _) = keys.import(KEY).unwrap();

    let e = store.restore(&keys, None, &out("none.sql"), u64::MAX).await;
    assert_eq!(e.unwrap_err().class(), ErrorClass::NotFound);

    let first = store
        .backup(&keys, &id, None, Compression::Gzip, b"first dump")
        .await
        .unwrap();
    let second = store
        .backup(&keys, &id, None, Compression::Brotli, b"second dump")
        .await
        .unwrap();
    assert!(
        second.name > first.name,
        "{} then {}",
        first.name,
        second.name
    );
    assert_eq!(second.key_id, id);

    let r = store
        .restore(&keys, None, &out("a.sql"), u64::MAX)
        .await
        .unwrap();
    assert_eq!(
        (r.name.as_str(), r.matched.as_str()),
        (second.name.as_str(), id.as_str())
    );
    assert!(!r.searched && r.skipped.is_empty());
    assert_eq!(std::fs::read(out("a.sql")).unwrap(), b"second dump");

    // The second backup cut before its sidecar: the first one restores, the cut one is
    // reported, and asking for it by name is not_found.
    delete(&s3, &store.sidecar_key(&second.name)).await;
    let r = store
        .restore(&keys, None, &out("b.sql"), u64::MAX)
        .await
        .unwrap();
    assert_eq!(r.name, first.name);
    assert_eq!(r.skipped, std::slice::from_ref(&second.name));
    assert_eq!(std::fs::read(out("b.sql")).unwrap(), b"first dump");
    let e = store
        .restore(&keys, Some(&second.name), &out("c.sql"), u64::MAX)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::NotFound, "{e}");
    assert!(!out("c.sql").exists());

    // Another device: no key has the sidecar's profileId, so smart recovery finds the
    // imported copy under its new id.
    let other = Keyring::open(None).unwrap();
    let e = store.restore(&other, None, &out("d.sql"), u64::MAX).await;
    assert_eq!(e.unwrap_err().class(), ErrorClass::WrongKey);
    assert!(!out("d.sql").exists());
    let (new_id, _) = other.import(&KEY.to_uppercase()).unwrap();
    let r = store
        .restore(&other, None, &out("e.sql"), u64::MAX)
        .await
        .unwrap();
    assert!(r.searched && r.matched == new_id && new_id != id);

    // A bound below the dump: too_large, and nothing at the path.
    let e = store
        .restore(&keys, None, &out("f.sql"), 3)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::TooLarge, "{e}");
    assert!(!out("f.sql").exists());
    // No temporary file is left beside the outputs either.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
