//! The steps of profile `noah-v0` (docs/profiles/noah-v0.md §7, §8): `noah-backup`,
//! `noah-restore`, `noah-list` through the actor's adapter, and `noah-check`, the store's
//! invariant read by the harness itself through the server.

use backproof_client::adapter::protocol::{NoahListResult, NoahRestoreResult, NoahSlot};
use backproof_format::profiles::noah_v0 as codec;
use serde_json::json;

use super::adapter::{check_contacts, check_contacts_one_of, check_outcome, payload_bytes};
use crate::scenario::model::{Op, Secret, Step};
use crate::scenario::verdict::{StepResult, Verdict};
use crate::scenario::world::{Request, World};

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
