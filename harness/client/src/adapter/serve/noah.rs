//! The ops of profile `noah-v0` (docs/profiles/noah-v0.md §7): the pure codec behind
//! `derive`, `seal` and `open`, and the API v0 client behind `backup`, `restore`, `list`,
//! `delete` and `settings`.

use serde::Deserialize;
use serde_json::{Value, json};

use backproof_format::profiles::noah_v0 as noah;

use super::{OpError, parse, to_value};
use crate::adapter::protocol::{
    Hex, NoahBackupRequest, NoahDeleteRequest, NoahListRequest, NoahListResult, NoahRestoreRequest,
    NoahRestoreResult, NoahSettingsRequest, NoahSettingsResult, NoahSkipped, NoahSlot,
    NoahWireStore, STORE_KIND_NOAH_V0, Secret, WireSecret,
};
use crate::client::{Client, Server};
use crate::noah_store::{NoahError, NoahStore, Slot};

impl From<noah::Error> for OpError {
    fn from(e: noah::Error) -> OpError {
        OpError::new(e.class(), e.to_string())
    }
}

impl From<NoahError> for OpError {
    fn from(e: NoahError) -> OpError {
        OpError::new(e.class(), e.to_string())
    }
}

fn store<'a>(w: &NoahWireStore, client: &'a Client) -> Result<NoahStore<'a>, OpError> {
    if w.kind != STORE_KIND_NOAH_V0 {
        return Err(OpError::malformed(format!(
            "invalid store kind {:?}: profile {} stores through an API v0 server, \
             {{\"kind\": {STORE_KIND_NOAH_V0:?}, \"url\", \"token\"}}",
            w.kind,
            noah::NAME
        )));
    }
    Ok(NoahStore::new(
        client,
        Server {
            url: w.url.clone(),
            token: w.token.clone(),
        },
    )?)
}

fn wire_slot(s: Slot) -> NoahSlot {
    NoahSlot {
        backup_version: s.backup_version,
        created_at: s.created_at,
        backup_size: s.backup_size,
    }
}

#[derive(Deserialize)]
struct DeriveRequest {
    passphrase: String,
}

#[derive(Deserialize)]
struct SealRequest {
    secret: WireSecret,
    plaintext: Hex,
    nonce: Option<Hex>,
}

#[derive(Deserialize)]
struct OpenRequest {
    secret: WireSecret,
    blob: Hex,
}

/// The seedphrase, or `malformed`: the design derives every key from one, so a raw key has
/// no meaning here.
fn seedphrase(secret: &Secret) -> Result<&str, OpError> {
    match secret {
        Secret::Passphrase(p) => Ok(p.as_str()),
        Secret::Key(_) => Err(OpError::malformed(format!(
            "`secret` is a raw key; profile {} takes the seedphrase only ({{\"passphrase\": \"…\"}})",
            noah::NAME
        ))),
    }
}

pub(super) async fn dispatch(op: &str, v: &Value, client: &Client) -> Result<Value, OpError> {
    match op {
        "derive" => {
            let r: DeriveRequest = parse(op, v)?;
            let key = noah::derive_key(&r.passphrase)?;
            Ok(json!({
                "ikm": hex::encode(&key[..]),
                "salt": hex::encode(noah::salt(&r.passphrase)),
            }))
        }
        "seal" => {
            let r: SealRequest = parse(op, v)?;
            let iv: [u8; noah::IV_LEN] = match r.nonce {
                Some(n) => n.0.try_into().map_err(|n: Vec<u8>| {
                    OpError::malformed(format!(
                        "`nonce` must be {} bytes, got {}",
                        noah::IV_LEN,
                        n.len()
                    ))
                })?,
                None => client.fresh_nonce()?,
            };
            let body = noah::seal(seedphrase(&r.secret)?, &r.plaintext.0, iv)?;
            Ok(json!({ "blob": hex::encode(body) }))
        }
        "open" => {
            let r: OpenRequest = parse(op, v)?;
            let opened = noah::open(seedphrase(&r.secret)?, &r.blob.0)?;
            Ok(json!({ "plaintext": hex::encode(&opened.plaintext[..]) }))
        }
        "backup" => {
            let r: NoahBackupRequest = parse(op, v)?;
            let seedphrase = seedphrase(&r.secret)?;
            let slot = store(&r.store, client)?
                .backup(seedphrase, &r.payload.0)
                .await?;
            to_value(&wire_slot(slot))
        }
        "restore" => {
            let r: NoahRestoreRequest = parse(op, v)?;
            let seedphrase = seedphrase(&r.secret)?;
            let out = store(&r.store, client)?.restore(seedphrase).await?;
            to_value(&NoahRestoreResult {
                payload: Hex(out.plaintext.to_vec()),
                backup_version: out.slot.backup_version,
                created_at: out.slot.created_at,
                backup_size: out.slot.backup_size,
                skipped: out
                    .skipped
                    .iter()
                    .map(|(v, e)| NoahSkipped {
                        backup_version: *v,
                        class: e.class().as_str().to_owned(),
                    })
                    .collect(),
            })
        }
        "list" => {
            let r: NoahListRequest = parse(op, v)?;
            let backups = store(&r.store, client)?.list().await?;
            to_value(&NoahListResult {
                backups: backups.into_iter().map(wire_slot).collect(),
            })
        }
        "delete" => {
            let r: NoahDeleteRequest = parse(op, v)?;
            store(&r.store, client)?.delete(r.backup_version).await?;
            Ok(json!({}))
        }
        "settings" => {
            let r: NoahSettingsRequest = parse(op, v)?;
            let s = store(&r.store, client)?.settings(r.backup_enabled).await?;
            to_value(&NoahSettingsResult {
                backup_enabled: s.backup_enabled,
                last_backup_at: s.last_backup_at,
            })
        }
        other => Err(OpError::malformed(format!(
            "unknown op {other:?} for profile {}; its ops: derive, seal, open, backup, restore, list, delete, settings",
            noah::NAME
        ))),
    }
}
