//! The metamask-vault object-store client against the real embedded S3 of backproof-stack
//! (docs/profiles/metamask-vault.md §10): one vault object per user, a backup that refuses
//! to replace a vault its password does not open, the update from the legacy form, its
//! no-op at the target, a password change that can be repeated, and delete.

use backproof_client::vault_store::VaultStore;
use backproof_format::ErrorClass;
use backproof_format::profiles::metamask_vault::{self as mm, Kdf};
use backproof_stack::S3Handle;

mod common;

const PW: &str = "correct horse battery staple";
const OTHER: &str = "tr0ub4dor and three more words";
const KEYRINGS: &[u8] = br#"[{"type":"HD Key Tree","data":{"numberOfAccounts":1}}]"#;
/// Cheap, so the test does not wait on 900 000 rounds; the update's target.
const TARGET: u32 = 1000;

fn store(s3: &S3Handle, user: &str) -> VaultStore {
    VaultStore::new(&common::store_config(s3, "vault-test/", user)).unwrap()
}

async fn raw_get(s3: &S3Handle, key: &str) -> Option<Vec<u8>> {
    let out = s3
        .client()
        .await
        .get_object()
        .bucket(s3.bucket())
        .key(key)
        .send()
        .await
        .ok()?;
    Some(out.body.collect().await.unwrap().into_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_update_change_and_delete_one_vault_object() {
    let s3 = S3Handle::embedded().await.unwrap();
    let v = store(&s3, "alice");
    assert_eq!(v.key(), "vault-test/users/alice/vault.json");
    let class = |e: backproof_client::object_store::StoreError| e.class();

    assert_eq!(
        class(v.restore(PW).await.unwrap_err()),
        ErrorClass::NotFound
    );
    assert_eq!(
        class(v.rotate(PW, PW, TARGET).await.unwrap_err()),
        ErrorClass::NotFound
    );

    // A legacy vault, as older releases wrote it.
    v.backup(PW, KEYRINGS, Kdf::Legacy).await.unwrap();
    let legacy = raw_get(&s3, v.key()).await.unwrap();
    assert_eq!(mm::parse(&legacy).unwrap().kdf, Kdf::Legacy);
    assert_eq!(v.restore(PW).await.unwrap().as_slice(), KEYRINGS);

    // Another password neither replaces it nor updates it.
    assert_eq!(
        class(v.backup(OTHER, b"[]", Kdf::Legacy).await.unwrap_err()),
        ErrorClass::WrongKey
    );
    assert_eq!(
        class(v.rotate(OTHER, OTHER, TARGET).await.unwrap_err()),
        ErrorClass::WrongKey
    );
    assert_eq!(raw_get(&s3, v.key()).await.unwrap(), legacy);

    // The update lifts it to the target, once.
    assert!(v.rotate(PW, PW, TARGET).await.unwrap().changed);
    let current = raw_get(&s3, v.key()).await.unwrap();
    assert_eq!(
        mm::parse(&current).unwrap().kdf,
        Kdf::Pbkdf2 { iterations: TARGET }
    );
    assert_eq!(v.restore(PW).await.unwrap().as_slice(), KEYRINGS);
    // At the target it is the library's no-op: not written, password not checked.
    assert!(!v.rotate(OTHER, OTHER, TARGET).await.unwrap().changed);
    assert_eq!(raw_get(&s3, v.key()).await.unwrap(), current);

    // A password change, then the same change again (its answer lost): both succeed, and
    // only the new password opens the vault.
    assert!(v.rotate(PW, OTHER, TARGET).await.unwrap().changed);
    let changed = raw_get(&s3, v.key()).await.unwrap();
    assert!(!v.rotate(PW, OTHER, TARGET).await.unwrap().changed);
    assert_eq!(raw_get(&s3, v.key()).await.unwrap(), changed);
    assert_eq!(
        class(v.restore(PW).await.unwrap_err()),
        ErrorClass::WrongKey
    );
    assert_eq!(v.restore(OTHER).await.unwrap().as_slice(), KEYRINGS);
    // Neither password opening it is still refused.
    assert_eq!(
        class(
            v.rotate("nope", OTHER.trim_end_matches('s'), TARGET)
                .await
                .unwrap_err()
        ),
        ErrorClass::WrongKey
    );

    // Another user's vault is another object.
    let bob = store(&s3, "bob");
    assert_eq!(
        class(bob.restore(OTHER).await.unwrap_err()),
        ErrorClass::NotFound
    );

    v.delete().await.unwrap();
    assert!(raw_get(&s3, v.key()).await.is_none());
    assert_eq!(class(v.delete().await.unwrap_err()), ErrorClass::NotFound);
}
