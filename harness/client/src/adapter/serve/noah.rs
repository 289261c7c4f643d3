//! The ops of profile `noah-v0` (docs/profiles/noah-v0.md §7): the pure codec behind
//! `derive`, `seal` and `open`, with no store yet.

use serde::Deserialize;
use serde_json::{Value, json};

use backproof_format::profiles::noah_v0 as noah;

use super::{OpError, parse};
use crate::adapter::protocol::{Hex, Secret, WireSecret};
use crate::client::Client;

impl From<noah::Error> for OpError {
    fn from(e: noah::Error) -> OpError {
        OpError::new(e.class(), e.to_string())
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

pub(super) fn dispatch(op: &str, v: &Value, client: &Client) -> Result<Value, OpError> {
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
        other => Err(OpError::malformed(format!(
            "unknown op {other:?} for profile {}; its ops: derive, seal, open",
            noah::NAME
        ))),
    }
}
