//! Profile `noah-v0`: the `store` of its adapter requests, and the harness's own reads
//! through the server's API v0 (docs/profiles/noah-v0.md §7, §8): the slots a server lists,
//! their objects through the presigned download URLs, and which object of the bucket holds
//! a slot (found by content, so any key layout works).

use backproof_client::adapter::protocol::{NoahSlot, STORE_KIND_NOAH_V0};
use serde_json::{Value, json};

use super::{World, WorldError, http_client};
use crate::scenario::model::StoreObject;
use crate::scenario::verdict::Verdict;

impl World {
    /// The `store` of a noah-v0 request for a logical user: the server through the client
    /// proxy and the user's token.
    pub(crate) async fn wire_noah_store(&self, user: &str) -> Result<Value, WorldError> {
        Ok(json!({
            "kind": STORE_KIND_NOAH_V0,
            "url": self.client_url,
            "token": self.token(user).await?,
        }))
    }

    /// `POST /v0/backup/<path>` straight to the server (not through the client proxy, so
    /// it never counts as a step of the client): the status and the body.
    pub(crate) async fn noah_post(
        &self,
        user: &str,
        path: &str,
        body: Value,
    ) -> Result<(u16, Vec<u8>), Verdict> {
        let url = format!("{}/v0/backup/{path}", self.server_url().await);
        let resp = http_client()
            .post(&url)
            .bearer_auth(self.token(user).await?)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                Verdict::fail(
                    format!("POST /v0/backup/{path} answers"),
                    "no answer",
                    e.to_string(),
                )
            })?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Verdict::fail("a body", "read failed", e.to_string()))?;
        Ok((status, bytes.to_vec()))
    }

    /// The slots the server lists for `user`, latest first (the greatest `created_at`, on a
    /// tie the greater version).
    pub(crate) async fn noah_slots(&self, user: &str) -> Result<Vec<NoahSlot>, Verdict> {
        let (status, body) = self.noah_post(user, "list", json!({})).await?;
        if status != 200 {
            return Err(Verdict::fail(
                "POST /v0/backup/list → 200",
                status.to_string(),
                super::super::steps::clip(&String::from_utf8_lossy(&body)),
            ));
        }
        let mut slots: Vec<NoahSlot> = serde_json::from_slice(&body).map_err(|e| {
            Verdict::fail(
                "a list of slots [{backup_version, created_at, backup_size}]",
                "another shape",
                e.to_string(),
            )
        })?;
        let at = |s: &NoahSlot| chrono::DateTime::parse_from_rfc3339(&s.created_at).ok();
        slots.sort_by(|a, b| {
            at(b)
                .cmp(&at(a))
                .then(b.backup_version.cmp(&a.backup_version))
        });
        Ok(slots)
    }

    /// What slot `version`'s download URL serves: `Ok(None)` when storage answers 404
    /// (the object is gone), a failure when the server refuses the URL.
    pub(crate) async fn noah_download(
        &self,
        user: &str,
        version: i64,
    ) -> Result<Option<Vec<u8>>, Verdict> {
        let (status, body) = self
            .noah_post(user, "download_url", json!({"backup_version": version}))
            .await?;
        if status != 200 {
            return Err(Verdict::fail(
                format!("POST /v0/backup/download_url of listed slot {version} → 200"),
                status.to_string(),
                super::super::steps::clip(&String::from_utf8_lossy(&body)),
            ));
        }
        let url = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["download_url"].as_str().map(str::to_owned))
            .ok_or_else(|| {
                Verdict::fail(
                    "a download_url",
                    "none",
                    "POST /v0/backup/download_url answered without one",
                )
            })?;
        let resp =
            http_client().get(&url).send().await.map_err(|e| {
                Verdict::fail("the download URL answers", "no answer", e.to_string())
            })?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            s => {
                return Err(Verdict::fail(
                    format!("GET of slot {version}'s download URL → 200 or 404"),
                    s.to_string(),
                    "a presigned URL the server just made is refused",
                ));
            }
        }
        let b = resp
            .bytes()
            .await
            .map_err(|e| Verdict::fail("a body", "read failed", e.to_string()))?;
        Ok(Some(b.to_vec()))
    }

    /// The bucket's object that holds `user`'s latest or older slot, and its bytes.
    pub(crate) async fn noah_object(
        &self,
        user: &str,
        which: StoreObject,
    ) -> Result<(String, Vec<u8>), Verdict> {
        let slots = self.noah_slots(user).await?;
        let slot = match which {
            StoreObject::Latest => slots.first(),
            StoreObject::Older => slots.get(1),
            other => {
                return Err(Verdict::Error(format!(
                    "profile noah-v0 stores slots: `object` is `latest` or `older`, not {other}"
                )));
            }
        }
        .ok_or_else(|| {
            // The scenario made the backups that fill the slots: a missing one is the
            // target's.
            Verdict::fail(
                format!("the {which} slot of user {user} to damage"),
                format!("{} slot(s)", slots.len()),
                "the backups made do not fill the slots a rolling client writes",
            )
        })?;
        let served = self
            .noah_download(user, slot.backup_version)
            .await?
            .ok_or_else(|| {
                Verdict::Error(format!(
                    "slot {} of user {user} names no object",
                    slot.backup_version
                ))
            })?;
        for key in self.list_keys().await? {
            let obj = self.get_object(&key).await?;
            if obj == served {
                return Ok((key, obj));
            }
        }
        Err(Verdict::Error(
            "no object in the bucket holds what the slot's download URL serves".into(),
        ))
    }
}
