//! What the object-store tests share: the store description for the embedded S3.
#![allow(dead_code)]

use backproof_client::object_store::StoreConfig;
use backproof_stack::S3Handle;

/// `user`'s objects under `prefix` in the embedded S3's bucket.
pub fn store_config(s3: &S3Handle, prefix: &str, user: &str) -> StoreConfig {
    StoreConfig {
        endpoint: s3.endpoint().to_owned(),
        bucket: s3.bucket().to_owned(),
        region: s3.region().to_owned(),
        access_key: s3.access_key().to_owned(),
        secret_key: s3.secret_key().to_owned(),
        prefix: prefix.to_owned(),
        user: user.to_owned(),
    }
}
