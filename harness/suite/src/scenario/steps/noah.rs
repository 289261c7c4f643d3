//! The steps of profile `noah-v0` (docs/profiles/noah-v0.md §7, §8): `noah-backup`,
//! `noah-restore`, `noah-list` through the actor's adapter, and `noah-check`, the store's
//! invariant read by the harness itself through the server.

use backproof_client::adapter::protocol::{NoahListResult, NoahRestoreResult, NoahSlot};
use backproof_format::profiles::noah_v0 as codec;
use serde_json::json;

use super::adapter::{check_contacts, check_contacts_one_of, check_outcome, payload_bytes};
use crate::scenario::model::{Op, PutExpect, Secret, Step};
use crate::scenario::verdict::{StepResult, Verdict};
use crate::scenario::world::{Request, World, http_client};

/// The seedphrase, or an error of the scenario: the design has no raw keys.
fn seedphrase(secret: &Secret) -> Result<&str, Verdict> {
    match secret {
        Secret::Passphrase(p) => Ok(p.as_str()),
        Secret::Key(_) => Err(Verdict::Error(
            "profile noah-v0 takes a seedphrase (`{ passphrase = \"…\" }`), not a raw key".into(),
        )),
    }
}

pub(super) async fn run(world: &World, step: &Step) -> StepResult {
    match step {
        Step::NoahBackup {
            actor,
            secret,
            contacts,
            slot,
            read_back,
            expect,
        } => {
            let user = world.actor_user(actor);
            let database = payload_bytes(world.profile(), &user, contacts);
            let fields = json!({"secret": secret, "payload": hex::encode(&database)});
            let out = world
                .call(
                    actor,
                    Request::Noah {
                        op: Op::Backup,
                        fields: &fields,
                    },
                )
                .await?;
            let note = check_outcome(world, "backup", expect, &out)?;
            if !out.is_ok() {
                return Ok(note);
            }
            let written: NoahSlot = out.parse("backup")?;
            if let Some(want) = slot
                && written.backup_version != *want
            {
                return Err(Verdict::fail(
                    format!("backup writes slot {want}"),
                    format!("slot {}", written.backup_version),
                    "a rolling backup writes the slot that is not the latest (docs/profiles/noah-v0.md §8)",
                ));
            }
            if *read_back {
                stored_opens(world, &user, seedphrase(secret)?, &written, &database).await?;
            }
            Ok(note)
        }
        Step::NoahRestore {
            actor,
            secret,
            contacts,
            contacts_one_of,
            slot,
            skipped,
            expect,
        } => {
            let fields = json!({"secret": secret});
            let out = world
                .call(
                    actor,
                    Request::Noah {
                        op: Op::Restore,
                        fields: &fields,
                    },
                )
                .await?;
            let note = check_outcome(world, "restore", expect, &out)?;
            if !out.is_ok() {
                return Ok(note);
            }
            let r: NoahRestoreResult = out.parse("restore")?;
            if let Some(want) = contacts {
                check_contacts(
                    world,
                    &r.payload.0,
                    want,
                    "contacts ",
                    "restore gave another database than was backed up",
                )?;
            }
            if !contacts_one_of.is_empty() {
                check_contacts_one_of(&r.payload.0, contacts_one_of)?;
            }
            if let Some(want) = slot
                && r.backup_version != *want
            {
                return Err(Verdict::fail(
                    format!("restored from slot {want}"),
                    format!("slot {}", r.backup_version),
                    "restore takes the latest slot that opens (docs/profiles/noah-v0.md §8)",
                ));
            }
            if let Some(want) = skipped {
                let got: Vec<i64> = r.skipped.iter().map(|s| s.backup_version).collect();
                if &got != want {
                    return Err(Verdict::fail(
                        format!("slots passed over {want:?}"),
                        format!("{got:?}"),
                        "restore names the newer slots it could not restore",
                    ));
                }
            }
            Ok(note)
        }
        Step::NoahList {
            actor,
            slots,
            expect,
        } => {
            let fields = json!({});
            let out = world
                .call(
                    actor,
                    Request::Noah {
                        op: Op::List,
                        fields: &fields,
                    },
                )
                .await?;
            let note = check_outcome(world, "list", expect, &out)?;
            if let (true, Some(want)) = (out.is_ok(), slots) {
                let l: NoahListResult = out.parse("list")?;
                let mut got: Vec<i64> = l.backups.iter().map(|s| s.backup_version).collect();
                got.sort_unstable();
                let mut want = want.clone();
                want.sort_unstable();
                if got != want {
                    return Err(Verdict::fail(
                        format!("slots {want:?}"),
                        format!("slots {got:?}"),
                        "list names other slots than the backups made",
                    ));
                }
            }
            Ok(note)
        }
        Step::NoahCheck {
            user,
            secret,
            contacts,
        } => check(world, user, seedphrase(secret)?, contacts.as_deref()).await,
        Step::NoahRawUpload { .. } => raw_upload(world, step).await,
        _ => Err(Verdict::Error("not a noah-v0 step".into())),
    }
}

/// What the client stored must open with any conforming reader: the slot it answered,
/// downloaded through the server and opened with the reference codec, gives the database
/// back, and is as large as the server records.
async fn stored_opens(
    world: &World,
    user: &str,
    seedphrase: &str,
    slot: &NoahSlot,
    database: &[u8],
) -> Result<(), Verdict> {
    let body = world
        .noah_download(user, slot.backup_version)
        .await?
        .ok_or_else(|| {
            Verdict::fail(
                format!("slot {}'s object in storage", slot.backup_version),
                "none",
                "backup answered ok but the slot names no object",
            )
        })?;
    match codec::open(seedphrase, &body) {
        Ok(o) if o.plaintext[..] == *database => Ok(()),
        Ok(_) => Err(Verdict::fail(
            "the stored backup opens to the database backed up",
            "another database",
            format!("slot {} holds another backup", slot.backup_version),
        )),
        Err(e) => Err(Verdict::fail(
            "the stored object opens with the reference reader (docs/profiles/noah-v0.md §1–§3)",
            format!("{} ({e})", e.class()),
            "the client wrote a backup that only it can read",
        )),
    }
}

/// The invariant of the crash family (docs/profiles/noah-v0.md §8): every listed slot
/// names an object that exists with the recorded size, and at least one opens.
async fn check(
    world: &World,
    user: &str,
    seedphrase: &str,
    contacts: Option<&[String]>,
) -> StepResult {
    let slots = world.noah_slots(user).await?;
    let mut opened = Vec::new();
    let mut refused = Vec::new();
    for s in &slots {
        let Some(body) = world.noah_download(user, s.backup_version).await? else {
            return Err(Verdict::fail(
                format!("slot {}'s object in storage", s.backup_version),
                "none",
                "list names an object that does not exist",
            ));
        };
        if body.len() as u64 != s.backup_size {
            return Err(Verdict::fail(
                format!(
                    "slot {}'s object of the listed {} bytes",
                    s.backup_version, s.backup_size
                ),
                format!("{} bytes", body.len()),
                "list names an object of another size than it records",
            ));
        }
        match codec::open(seedphrase, &body) {
            Ok(o) => opened.push((s.backup_version, o.plaintext.to_vec())),
            Err(e) => refused.push(format!("slot {}: {}", s.backup_version, e.class())),
        }
    }
    if opened.is_empty() {
        return Err(Verdict::fail(
            "at least one slot opens with the seedphrase",
            if slots.is_empty() {
                "no slot".to_owned()
            } else {
                refused.join(", ")
            },
            "the backup is lost",
        ));
    }
    if let Some(want) = contacts {
        let mut found = false;
        for (_, db) in &opened {
            if check_contacts(world, db, want, "", "").is_ok() {
                found = true;
            }
        }
        if !found {
            return Err(Verdict::fail(
                format!("a slot holding contacts {want:?}"),
                format!(
                    "slots {:?}",
                    opened.iter().map(|(v, _)| *v).collect::<Vec<_>>()
                ),
                "the backup the user made before is gone",
            ));
        }
    }
    Ok(None)
}

/// `noah-raw-upload`: `upload_url`, the PUT through the URL it answered (tampered or late
/// when asked), and `complete_upload` (docs/API-v0.md, "Presigned URLs").
async fn raw_upload(world: &World, step: &Step) -> StepResult {
    let Step::NoahRawUpload {
        user,
        slot,
        size,
        put,
        rewrite_key_user,
        wait_expiry,
        put_expect,
        complete_as,
        complete_size,
        status,
        problem,
    } = step
    else {
        return Err(Verdict::Error("not a noah-raw-upload step".into()));
    };
    let (code, body) = world
        .noah_post(
            user,
            "upload_url",
            json!({"backup_version": slot, "backup_size": size}),
        )
        .await?;
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let (Some(url), Some(key), Some(expires_at)) = (
        answer["upload_url"].as_str(),
        answer["s3_key"].as_str(),
        answer["expires_at"].as_str(),
    ) else {
        return Err(Verdict::fail(
            format!(
                "POST /v0/backup/upload_url (slot {slot}, {size} bytes) → 200 {{upload_url, s3_key, expires_at}}"
            ),
            format!("{code} {}", super::clip(&String::from_utf8_lossy(&body))),
            "upload_url answers a presigned PUT for a slot and a size in bounds",
        ));
    };
    let mut url = reqwest::Url::parse(url).map_err(|e| {
        Verdict::fail(
            "an upload_url that is a URL",
            super::clip(url),
            e.to_string(),
        )
    })?;
    let mut key = key.to_owned();
    if let Some(other) = rewrite_key_user {
        let mine = format!("v0/{}/", world.user_name(user));
        let theirs = format!("v0/{}/", world.user_name(other));
        let Some(rest) = key.strip_prefix(&mine) else {
            return Err(Verdict::fail(
                format!("an s3_key under {mine}"),
                key,
                "API v0 keys are v0/{user}/{backup_version}/{uuid}",
            ));
        };
        let path = url.path().to_owned();
        let Some(at) = path.rfind(&key) else {
            return Err(Verdict::fail(
                format!("an upload_url whose path names s3_key {key}"),
                path,
                "the upload URL is path-style on the server's S3 endpoint (docs/API-v0.md)",
            ));
        };
        let moved = format!("{theirs}{rest}");
        url.set_path(&format!("{}{moved}", &path[..at]));
        key = moved;
    }
    if *wait_expiry {
        let expires = chrono::DateTime::parse_from_rfc3339(expires_at)
            .map_err(|e| Verdict::fail("an RFC 3339 expires_at", expires_at, e.to_string()))?;
        // One second past the instant S3 checks against, so that no clock rounding lets
        // the URL still be valid.
        let due = expires.with_timezone(&chrono::Utc) + chrono::Duration::seconds(1);
        loop {
            let left = due - chrono::Utc::now();
            let Ok(left) = left.to_std() else { break };
            if left > std::time::Duration::from_secs(300) {
                return Err(Verdict::Error(format!(
                    "the upload URL expires at {expires_at}, too late to wait for: the case's short expiry did not reach the server"
                )));
            }
            tokio::time::sleep(left).await;
        }
    }
    let bytes: Vec<u8> = (0..put.unwrap_or(*size)).map(|i| (i % 251) as u8).collect();
    let sent = bytes.len();
    let resp = http_client()
        .put(url)
        .body(bytes)
        .send()
        .await
        .map_err(|e| Verdict::fail("the upload URL answers", "no answer", e.to_string()))?;
    let put_code = resp.status().as_u16();
    let put_ok = match put_expect {
        PutExpect::Stored => resp.status().is_success(),
        PutExpect::Refused => resp.status().is_client_error(),
    };
    if !put_ok {
        let text = resp.text().await.unwrap_or_default();
        let (want, why) = match put_expect {
            PutExpect::Stored => (
                "2xx",
                "S3 refused a PUT of the signed length through the URL the server just made",
            ),
            PutExpect::Refused => (
                "4xx",
                if rewrite_key_user.is_some() {
                    "a URL whose key was changed must fail its signature (docs/API-v0.md, \"Isolation\")"
                } else {
                    "S3 took a PUT through an upload URL that should be refused (expired, or of another length)"
                },
            ),
        };
        return Err(Verdict::fail(
            format!("PUT of {sent} bytes through the upload URL → {want}"),
            format!("{put_code} {}", super::clip(&text)),
            why,
        ));
    }
    let Some(want) = status else {
        return Ok(None);
    };
    let who = complete_as.as_deref().unwrap_or(user);
    let claimed = complete_size.unwrap_or(*size);
    let (code, body) = world
        .noah_post(
            who,
            "complete_upload",
            json!({"s3_key": key, "backup_version": slot, "backup_size": claimed}),
        )
        .await?;
    let desc =
        format!("POST /v0/backup/complete_upload as {who} of {key} (slot {slot}, {claimed} bytes)");
    if code != *want {
        return Err(Verdict::fail(
            format!(
                "{desc} → {want}{}",
                problem
                    .as_deref()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default()
            ),
            format!("{code} {}", super::clip(&String::from_utf8_lossy(&body))),
            "complete_upload checks the key's owner and the uploaded object (docs/API-v0.md)",
        ));
    }
    if let Some(ptype) = problem {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if v["type"].as_str() != Some(ptype.as_str()) {
            return Err(Verdict::fail(
                format!("{desc}: problem {ptype}"),
                super::clip(&String::from_utf8_lossy(&body)),
                "the problem type names the refusal (docs/API-v0.md, \"Problem types\")",
            ));
        }
    }
    Ok(None)
}
