//! Profile `noah-v0`'s client (docs/profiles/noah-v0.md §8): the wallet database sealed
//! with the seedphrase and stored through API v0 (docs/API-v0.md), which hands out
//! presigned S3 URLs and keeps two rolling slots per user.
//!
//! A backup writes the slot that is **not** the latest, so the latest backup is never the
//! one being replaced: whatever happens to the new upload (a crash, a damaged object), the
//! previous backup is still in the other slot. A restore takes the latest and falls back to
//! the other slot when the latest cannot be downloaded or opened.

use std::cmp::Ordering;

use backproof_format::ErrorClass;
use backproof_format::profiles::noah_v0 as noah;
use chrono::{DateTime, FixedOffset};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::client::{Client, Server};
use crate::error::ClientError;
use crate::http::{Exchange, Http, status_error};

/// The slots a correct client writes (the design's rolling pair).
pub const SLOTS: [i64; 2] = [1, 2];

/// Everything a noah-v0 operation can fail with; each maps onto one class.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NoahError {
    /// The seedphrase or the object's body was refused by the codec.
    #[error(transparent)]
    Codec(#[from] noah::Error),
    /// An HTTP exchange with the server or with S3 through a presigned URL failed
    /// (status, network, unusable server description, OS random source).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server answered 2xx with something API v0 does not allow.
    #[error("the server broke API v0: {0}")]
    Protocol(String),
    /// `list` names no slot.
    #[error("there is no backup on {url} for this user")]
    NoBackup { url: String },
    /// Every slot was tried and none downloaded and opened; reported as the latest's class.
    #[error(
        "no slot restores: the latest (slot {latest}) failed with {latest_error}; {}",
        others.iter().map(|(v, e)| format!("slot {v} failed with {e}")).collect::<Vec<_>>().join("; ")
    )]
    NoSlotOpens {
        latest: i64,
        latest_error: Box<NoahError>,
        others: Vec<(i64, NoahError)>,
    },
}

impl NoahError {
    pub fn class(&self) -> ErrorClass {
        match self {
            NoahError::Codec(e) => e.class(),
            NoahError::Client(e) => e.class(),
            NoahError::Protocol(_) => ErrorClass::ServerError,
            NoahError::NoBackup { .. } => ErrorClass::NotFound,
            NoahError::NoSlotOpens { latest_error, .. } => latest_error.class(),
        }
    }
}

/// Deliberately broken behaviours of this client, off by default: only for proving that
/// the suite catches them (docs/ADAPTER.md, "Broken variants of the reference adapter").
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoahBroken {
    /// Every backup writes slot 1: there is never a second backup to fall back to, so a
    /// damaged latest object loses the data. (A crash alone does not: the server mints a
    /// new key for every upload and switches the row only at `complete_upload`.)
    pub always_slot_1: bool,
}

/// One row of `list`: a committed slot. Members beyond API v0's are ignored, as in every
/// answer read here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub backup_version: i64,
    /// RFC 3339, as the server wrote it.
    pub created_at: String,
    pub backup_size: u64,
}

impl Slot {
    fn created(&self) -> Result<DateTime<FixedOffset>, NoahError> {
        DateTime::parse_from_rfc3339(&self.created_at).map_err(|e| {
            NoahError::Protocol(format!(
                "slot {}'s created_at {:?} is not RFC 3339: {e}",
                self.backup_version, self.created_at
            ))
        })
    }
}

/// `backup_settings` of the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub backup_enabled: bool,
    /// RFC 3339, or `None` before the first completed upload.
    pub last_backup_at: Option<String>,
}

/// What a restore found.
pub struct NoahRestored {
    /// The slot that opened.
    pub slot: Slot,
    /// The database file.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The newer slots passed over, each with why it did not restore (empty: the latest
    /// restored).
    pub skipped: Vec<(i64, NoahError)>,
}

impl std::fmt::Debug for NoahRestored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoahRestored")
            .field("slot", &self.slot)
            .field("plaintext_len", &self.plaintext.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

#[derive(Deserialize)]
struct UploadUrl {
    upload_url: String,
    s3_key: String,
    // `expires_at` is informative: the upload follows at once.
}

#[derive(Deserialize)]
struct DownloadUrl {
    download_url: String,
    backup_version: i64,
}

/// Where a presigned URL's exchange is reported: the URL without its query, which holds the
/// signature.
fn without_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(path, _)| path)
}

/// `a` is more recent than `b`: the greater `created_at`, on a tie the greater version
/// (docs/API-v0.md).
fn newer(a: &Slot, b: &Slot) -> Result<Ordering, NoahError> {
    Ok(a.created()?
        .cmp(&b.created()?)
        .then(a.backup_version.cmp(&b.backup_version)))
}

/// The slots, latest first.
fn by_recency(mut slots: Vec<Slot>) -> Result<Vec<Slot>, NoahError> {
    for s in &slots {
        s.created()?;
    }
    // Every created_at parsed above, so the comparison cannot fail here.
    slots.sort_by(|a, b| newer(b, a).unwrap_or(Ordering::Equal));
    Ok(slots)
}

/// The slot a rolling backup writes: the first of [`SLOTS`] that holds nothing, else the one
/// that is not the latest. For the lists API v0 allows (slots 1 and 2 only) that is "1 when
/// empty, else 3 − latest".
pub fn target_slot(slots: &[Slot]) -> Result<i64, NoahError> {
    if let Some(free) = SLOTS
        .iter()
        .find(|v| !slots.iter().any(|s| s.backup_version == **v))
    {
        return Ok(*free);
    }
    let ours: Vec<Slot> = slots
        .iter()
        .filter(|s| SLOTS.contains(&s.backup_version))
        .cloned()
        .collect();
    let ordered = by_recency(ours)?;
    Ok(ordered[ordered.len() - 1].backup_version)
}

/// One user's backups on one API v0 server.
#[derive(Debug)]
pub struct NoahStore<'a> {
    client: &'a Client,
    server: Server,
    broken: NoahBroken,
}

impl<'a> NoahStore<'a> {
    /// Checks the server description like API v1's client does (`malformed` for a URL that
    /// is not http(s) or an unusable token). HTTP goes through `client`'s connection pool and
    /// retry policy; its `broken.noah` selects the broken variants.
    pub fn new(client: &'a Client, server: Server) -> Result<NoahStore<'a>, NoahError> {
        Http::validate(&server)?;
        Ok(NoahStore {
            broken: client.config().broken.noah,
            client,
            server,
        })
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/v0/backup/{path}", self.server.url.trim_end_matches('/'))
    }

    /// POSTs `body` to `/v0/backup/<path>`; the status and the answer's bytes.
    async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<(StatusCode, Vec<u8>, String), NoahError> {
        let url = self.endpoint(path);
        let bytes = serde_json::to_vec(&body)
            .map_err(|e| NoahError::Protocol(format!("cannot encode a request: {e}")))?;
        let (status, _, answer) = self
            .client
            .http()
            .exchange(Exchange {
                method: Method::POST,
                url: &url,
                bearer: Some(&self.server.token),
                if_match: None,
                body: Some(("application/json", &bytes)),
                limit: 1 << 20,
            })
            .await?;
        Ok((status, answer, url))
    }

    /// POSTs and expects `ok` with a JSON answer of type `T`.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: serde_json::Value,
        ok: StatusCode,
    ) -> Result<T, NoahError> {
        let (status, answer, url) = self.post(path, body).await?;
        if status != ok {
            return Err(status_error(status, &answer, "POST", &url, None).into());
        }
        serde_json::from_slice(&answer).map_err(|e| {
            NoahError::Protocol(format!(
                "POST {url} answered {status} with a body that is not the expected JSON: {e}"
            ))
        })
    }

    /// The committed slots, as the server lists them.
    pub async fn list(&self) -> Result<Vec<Slot>, NoahError> {
        self.call("list", serde_json::json!({}), StatusCode::OK)
            .await
    }

    /// Seals `database` with `seedphrase` and a fresh IV, and stores it in the slot that is
    /// not the latest: `list`, `upload_url`, PUT to the presigned URL, `complete_upload`.
    /// The committed slot as the server acknowledged it.
    pub async fn backup(&self, seedphrase: &str, database: &[u8]) -> Result<Slot, NoahError> {
        // Sealed before anything is sent: an empty seedphrase or an oversized database is
        // refused without touching the server.
        let iv = self.client.fresh_nonce()?;
        let body = noah::seal(seedphrase, database, iv)?;
        let version = if self.broken.always_slot_1 {
            1
        } else {
            target_slot(&self.list().await?)?
        };
        let size = body.len() as u64;
        let presigned: UploadUrl = self
            .call(
                "upload_url",
                serde_json::json!({"backup_version": version, "backup_size": size}),
                StatusCode::OK,
            )
            .await?;
        self.put(&presigned.upload_url, &body).await?;
        let slot: Slot = self
            .call(
                "complete_upload",
                serde_json::json!({
                    "s3_key": presigned.s3_key,
                    "backup_version": version,
                    "backup_size": size,
                }),
                StatusCode::OK,
            )
            .await?;
        if slot.backup_version != version || slot.backup_size != size {
            return Err(NoahError::Protocol(format!(
                "complete_upload of slot {version} ({size} bytes) acknowledged slot {} ({} bytes)",
                slot.backup_version, slot.backup_size
            )));
        }
        slot.created()?;
        Ok(slot)
    }

    /// PUTs the body to a presigned URL: no bearer token (the URL is the credential), no
    /// header beyond what the body implies.
    async fn put(&self, url: &str, body: &[u8]) -> Result<(), NoahError> {
        let (status, _, answer) = self
            .client
            .http()
            .exchange(Exchange {
                method: Method::PUT,
                url,
                bearer: None,
                if_match: None,
                body: Some(("", body)),
                limit: 64 << 10,
            })
            .await
            .map_err(|e| redact(e, url))?;
        if !status.is_success() {
            return Err(status_error(status, &answer, "PUT", without_query(url), None).into());
        }
        Ok(())
    }

    /// Downloads one slot's object (at most one byte more than the codec's bound, so that
    /// an oversized object is refused as `too_large` without being held whole).
    async fn download(&self, version: i64) -> Result<Vec<u8>, NoahError> {
        let d: DownloadUrl = self
            .call(
                "download_url",
                serde_json::json!({"backup_version": version}),
                StatusCode::OK,
            )
            .await?;
        if d.backup_version != version {
            return Err(NoahError::Protocol(format!(
                "download_url for slot {version} answered slot {}",
                d.backup_version
            )));
        }
        let url = d.download_url;
        let (status, _, body) = self
            .client
            .http()
            .exchange(Exchange {
                method: Method::GET,
                url: &url,
                bearer: None,
                if_match: None,
                body: None,
                limit: noah::MAX_BODY_LEN + 1,
            })
            .await
            .map_err(|e| redact(e, &url))?;
        if !status.is_success() {
            return Err(status_error(status, &body, "GET", without_query(&url), None).into());
        }
        Ok(body)
    }

    /// Restores the latest slot that downloads and opens with `seedphrase`, latest first.
    /// No slot → `not_found`; none restores → the latest's error (its class).
    pub async fn restore(&self, seedphrase: &str) -> Result<NoahRestored, NoahError> {
        // Derived once for every slot; an empty seedphrase is refused before any request.
        let key = noah::derive_key(seedphrase)?;
        let slots = by_recency(self.list().await?)?;
        if slots.is_empty() {
            return Err(NoahError::NoBackup {
                url: self.server.url.clone(),
            });
        }
        let mut failed: Vec<(i64, NoahError)> = Vec::new();
        for slot in slots {
            let attempt = async {
                let body = self.download(slot.backup_version).await?;
                Ok::<_, NoahError>(noah::open_with_key(&key, &body)?)
            }
            .await;
            match attempt {
                Ok(opened) => {
                    if !failed.is_empty() {
                        tracing::warn!(
                            slot = slot.backup_version,
                            "restored an older slot: the latest did not restore"
                        );
                    }
                    return Ok(NoahRestored {
                        slot,
                        plaintext: opened.plaintext,
                        skipped: failed,
                    });
                }
                Err(e) => failed.push((slot.backup_version, e)),
            }
        }
        let (latest, latest_error) = failed.remove(0);
        Err(NoahError::NoSlotOpens {
            latest,
            latest_error: Box::new(latest_error),
            others: failed,
        })
    }

    /// Deletes one slot (the row, then its object). No such slot → `not_found`.
    pub async fn delete(&self, version: i64) -> Result<(), NoahError> {
        let (status, answer, url) = self
            .post("delete", serde_json::json!({"backup_version": version}))
            .await?;
        if status.is_success() {
            return Ok(());
        }
        Err(status_error(status, &answer, "POST", &url, None).into())
    }

    /// Sets `backup_enabled` (or, with `None`, reads the settings unchanged).
    pub async fn settings(&self, enabled: Option<bool>) -> Result<Settings, NoahError> {
        let body = match enabled {
            Some(e) => serde_json::json!({"backup_enabled": e}),
            None => serde_json::json!({}),
        };
        let s: Settings = self.call("settings", body, StatusCode::OK).await?;
        if let Some(at) = &s.last_backup_at {
            DateTime::parse_from_rfc3339(at).map_err(|e| {
                NoahError::Protocol(format!("last_backup_at {at:?} is not RFC 3339: {e}"))
            })?;
        }
        Ok(s)
    }
}

/// A network error on a presigned URL, with the URL's signature cut off: it is a bearer
/// credential for that object until it expires.
fn redact(e: ClientError, url: &str) -> ClientError {
    match e {
        ClientError::Network {
            detail, attempts, ..
        } => ClientError::Network {
            url: without_query(url).to_owned(),
            detail: detail.replace(url, without_query(url)),
            attempts,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(v: i64, at: &str) -> Slot {
        Slot {
            backup_version: v,
            created_at: at.to_owned(),
            backup_size: 40,
        }
    }

    #[test]
    fn the_rolling_target_is_never_the_latest() {
        let t1 = "2026-11-30T09:41:02.123456Z";
        let t2 = "2026-11-30T09:41:02.123457Z";
        assert_eq!(target_slot(&[]).unwrap(), 1);
        assert_eq!(target_slot(&[slot(1, t1)]).unwrap(), 2);
        assert_eq!(target_slot(&[slot(2, t1)]).unwrap(), 1);
        assert_eq!(target_slot(&[slot(1, t1), slot(2, t2)]).unwrap(), 1);
        assert_eq!(target_slot(&[slot(1, t2), slot(2, t1)]).unwrap(), 2);
        // A tie goes to the greater version as the latest, so the other is written.
        assert_eq!(target_slot(&[slot(1, t1), slot(2, t1)]).unwrap(), 1);
        // Offsets are compared as instants, not as text.
        let later_in_text = "2026-11-30T10:41:02.000000+02:00";
        assert_eq!(
            target_slot(&[slot(1, later_in_text), slot(2, t1)]).unwrap(),
            1
        );
        let e = target_slot(&[slot(1, "yesterday"), slot(2, t1)]).unwrap_err();
        assert_eq!(e.class(), ErrorClass::ServerError, "{e}");
    }

    #[test]
    fn extra_slots_of_a_broken_server_do_not_change_the_choice() {
        let t = |s: u32| format!("2026-11-30T09:41:{s:02}.000000Z");
        let slots = [slot(3, &t(9)), slot(1, &t(1)), slot(2, &t(2))];
        assert_eq!(target_slot(&slots).unwrap(), 1);
        let ordered: Vec<i64> = by_recency(slots.to_vec())
            .unwrap()
            .iter()
            .map(|s| s.backup_version)
            .collect();
        assert_eq!(ordered, [3, 2, 1]);
    }

    #[test]
    fn a_presigned_urls_signature_stays_out_of_errors() {
        let url = "http://127.0.0.1:9/b/v0/u/1/k?X-Amz-Signature=abc&X-Amz-Credential=x";
        let e = redact(
            ClientError::Network {
                url: url.to_owned(),
                detail: format!("connection failed: error sending request for url ({url})"),
                attempts: 1,
            },
            url,
        );
        let s = e.to_string();
        assert!(!s.contains("Signature") && !s.contains("Credential"), "{s}");
        assert!(s.contains("http://127.0.0.1:9/b/v0/u/1/k"), "{s}");
    }

    #[test]
    fn every_slot_failing_reports_the_latests_class() {
        let e = NoahError::NoSlotOpens {
            latest: 2,
            latest_error: Box::new(NoahError::Codec(noah::Error::WrongKey)),
            others: vec![(1, NoahError::Protocol("x".into()))],
        };
        assert_eq!(e.class(), ErrorClass::WrongKey);
        let s = e.to_string();
        assert!(s.contains("slot 2") && s.contains("slot 1"), "{s}");
    }
}
