//! The harness's own access to the world's bucket, bypassing the server and its proxy.

use super::{World, WorldError};

fn s3_error(what: String, e: impl std::fmt::Debug) -> WorldError {
    WorldError::S3 {
        what,
        detail: format!("{e:?}"),
    }
}

impl World {
    /// Every key in the world's bucket.
    pub(crate) async fn list_keys(&self) -> Result<Vec<String>, WorldError> {
        let st = self.storage()?;
        let out = st
            .s3
            .list_objects_v2()
            .bucket(&st.bucket)
            .send()
            .await
            .map_err(|e| s3_error("list bucket".into(), e))?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect())
    }

    pub(crate) async fn get_object(&self, key: &str) -> Result<Vec<u8>, WorldError> {
        let st = self.storage()?;
        let out = st
            .s3
            .get_object()
            .bucket(&st.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error(format!("get {key}"), e))?;
        let b = out.body.collect().await.map_err(|e| WorldError::S3 {
            what: format!("read {key}"),
            detail: e.to_string(),
        })?;
        Ok(b.into_bytes().to_vec())
    }

    /// The object at `key`, `None` when there is none.
    pub(crate) async fn get_object_if_any(&self, key: &str) -> Result<Option<Vec<u8>>, WorldError> {
        let st = self.storage()?;
        let out = match st.s3.get_object().bucket(&st.bucket).key(key).send().await {
            Ok(o) => o,
            Err(e) => {
                let missing = e.as_service_error().is_some_and(|se| se.is_no_such_key());
                if missing {
                    return Ok(None);
                }
                return Err(s3_error(format!("get {key}"), e));
            }
        };
        let b = out.body.collect().await.map_err(|e| WorldError::S3 {
            what: format!("read {key}"),
            detail: e.to_string(),
        })?;
        Ok(Some(b.into_bytes().to_vec()))
    }

    pub(crate) async fn put_object(&self, key: &str, bytes: Vec<u8>) -> Result<(), WorldError> {
        let st = self.storage()?;
        st.s3
            .put_object()
            .bucket(&st.bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| s3_error(format!("put {key}"), e))?;
        Ok(())
    }

    pub(crate) async fn delete_object(&self, key: &str) -> Result<(), WorldError> {
        let st = self.storage()?;
        st.s3
            .delete_object()
            .bucket(&st.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error(format!("delete {key}"), e))?;
        Ok(())
    }
}
