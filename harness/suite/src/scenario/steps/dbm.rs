//! The steps of profile `dbm-stream-v1` (docs/profiles/dbm-stream-v1.md §8): `import-key`,
//! `dbm-backup`, `dbm-restore`. A restore writes the dump to a path the harness gives, so
//! the harness sees what a restore released, also when it answered an error.

use serde_json::{Value, json};

use super::adapter::{check_contacts, check_outcome, payload_bytes};
use super::clip;
use crate::scenario::model::{Expected, Op, Secret, Step};
use crate::scenario::verdict::{StepResult, Verdict};
use crate::scenario::world::{Request, World};

#[derive(serde::Deserialize)]
struct Imported {
    key: String,
    id: String,
}

#[derive(serde::Deserialize)]
struct Exported {
    key: String,
}

#[derive(serde::Deserialize)]
struct Restored {
    matched: String,
}

pub(super) async fn run(world: &World, step: &Step) -> StepResult {
    match step {
        Step::ImportKey {
            actor,
            input,
            save,
            expect,
        } => import_key(world, actor, input, save.as_deref(), expect).await,
        Step::DbmBackup {
            actor,
            secret,
            contacts,
            zeros,
            iv,
            compression,
            expect,
        } => {
            let dump = match zeros {
                Some(n) => vec![0u8; usize::try_from(*n).unwrap_or(usize::MAX)],
                None => payload_bytes(world.profile(), &world.actor_user(actor), contacts),
            };
            let mut fields = json!({
                "payload": hex::encode(&dump),
                "compression": compression.as_str(),
            });
            if let Some(Secret::Key(k)) = secret {
                fields["key"] = Value::String(hex::encode(**k));
            }
            if let Some(iv) = iv {
                fields["iv"] = Value::String(iv.to_lowercase());
            }
            let req = Request::Dbm {
                op: Op::Backup,
                fields: &fields,
            };
            let out = world.call(actor, req).await?;
            let note = check_outcome(world, "backup", expect, &out)?;
            if let (true, Some(Secret::Key(k))) = (out.is_ok(), secret) {
                stored_opens(world, &world.actor_user(actor), k, &dump).await?;
            }
            Ok(note)
        }
        Step::DbmRestore {
            actor,
            contacts,
            zeros,
            max_output,
            matched,
            expect,
        } => {
            restore(
                world,
                actor,
                (contacts.as_deref(), *zeros),
                *max_output,
                matched.as_deref(),
                expect,
            )
            .await
        }
        _ => Err(Verdict::Error("not a dbm-stream-v1 step".into())),
    }
}

/// What the client stored must open with any conforming reader: the newest artifact and
/// sidecar, opened here with the reference codec and the key the step sealed with, give
/// back the dump. A client that only reads its own artifacts (the tag appended, say) fails.
async fn stored_opens(
    world: &World,
    user: &str,
    key: &[u8; 32],
    dump: &[u8],
) -> Result<(), Verdict> {
    use crate::scenario::model::StoreObject;
    use backproof_format::profiles::dbm_stream_v1 as codec;
    let artifact_key = super::storage::dbm_object_key(world, user, StoreObject::Artifact).await?;
    let sidecar_key = super::storage::dbm_object_key(world, user, StoreObject::Sidecar).await?;
    let missing = |what: &str| {
        Verdict::fail(
            format!("the backup's {what} in the store"),
            "none",
            "backup answered ok without storing an artifact and its sidecar (docs/profiles/dbm-stream-v1.md §8)",
        )
    };
    let artifact = world
        .get_object_if_any(&artifact_key)
        .await?
        .ok_or_else(|| missing("artifact"))?;
    let sidecar = world
        .get_object_if_any(&sidecar_key)
        .await?
        .ok_or_else(|| missing("sidecar"))?;
    let mut opened = Vec::new();
    let result = codec::parse_sidecar(&sidecar).and_then(|sc| {
        codec::open(
            key,
            &sc,
            &mut std::io::Cursor::new(&artifact),
            &mut opened,
            dump.len() as u64 + 1,
        )
    });
    match result {
        Ok(_) if opened == dump => Ok(()),
        Ok(_) => Err(Verdict::fail(
            "the stored backup opens to the dump backed up",
            format!("{} other bytes", opened.len()),
            "the stored artifact holds another dump",
        )),
        Err(e) => Err(Verdict::fail(
            "the stored artifact and sidecar open with the reference reader (docs/profiles/dbm-stream-v1.md §1, §2)",
            format!("{} ({e})", e.class()),
            "the client wrote a backup that only it can read",
        )),
    }
}

async fn import_key(
    world: &World,
    actor: &str,
    input: &str,
    save: Option<&str>,
    expect: &crate::scenario::model::Expect,
) -> StepResult {
    let fields = json!({"input": input});
    let out = world
        .call(
            actor,
            Request::Dbm {
                op: Op::ImportKey,
                fields: &fields,
            },
        )
        .await?;
    let note = check_outcome(world, "import_key", expect, &out)?;
    if !out.is_ok() {
        return Ok(note);
    }
    let r: Imported = out.parse("import_key")?;
    let want = input.to_lowercase();
    if r.key != want {
        return Err(Verdict::fail(
            format!("key {}…", clip(&want[..want.len().min(8)])),
            format!("key {}…", clip(&r.key[..r.key.len().min(8)])),
            "import_key must answer the key it stored, as export prints it (lower case)",
        ));
    }
    let fields = json!({"keyId": r.id});
    let exported = world
        .call(
            actor,
            Request::Dbm {
                op: Op::ExportKey,
                fields: &fields,
            },
        )
        .await?;
    check_outcome(world, "export_key", &Default::default(), &exported)?;
    let e: Exported = exported.parse("export_key")?;
    if e.key != want {
        return Err(Verdict::fail(
            "export_key of the imported id prints the imported key",
            "another key",
            "the key stored under the new id is not the one imported",
        ));
    }
    if let Some(label) = save {
        world.save(label, r.id.into_bytes());
    }
    Ok(note)
}

/// Restores into a fresh path under the world's folder and judges what the path holds.
async fn restore(
    world: &World,
    actor: &str,
    (contacts, zeros): (Option<&[String]>, Option<u64>),
    max_output: Option<u64>,
    matched: Option<&str>,
    expect: &crate::scenario::model::Expect,
) -> StepResult {
    let output = world
        .dir
        .join(format!("restore-{}.sql", uuid::Uuid::new_v4().simple()));
    let mut fields = json!({"output": output.to_string_lossy()});
    if let Some(m) = max_output {
        fields["maxOutput"] = json!(m);
    }
    let out = world
        .call(
            actor,
            Request::Dbm {
                op: Op::Restore,
                fields: &fields,
            },
        )
        .await?;
    let released = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    if !out.is_ok() && out.outcome != crate::scenario::world::Observed::Known(Expected::Crashed) {
        // Whatever class it answered, bytes at the path were released before the restore
        // knew they were authentic (docs/profiles/dbm-stream-v1.md §3).
        if released > 0 {
            return Err(Verdict::fail(
                "no file or an empty one at the output path after a refused restore",
                format!("{released} bytes ({})", out.outcome),
                "the restore released plaintext before the tag verified (advisory plaintext-before-tag)",
            ));
        }
    }
    let note = check_outcome(world, "restore", expect, &out)?;
    if !out.is_ok() {
        return Ok(note);
    }
    let dump = std::fs::read(&output).map_err(|e| {
        Verdict::fail(
            format!("the dump at {}", output.display()),
            "no file",
            format!("restore answered ok but wrote nothing readable: {e}"),
        )
    })?;
    if let Some(n) = zeros
        && (dump.len() as u64 != n || dump.iter().any(|b| *b != 0))
    {
        return Err(Verdict::fail(
            format!("{n} zero bytes"),
            format!("{} bytes", dump.len()),
            "the restored dump is not the one backed up",
        ));
    }
    if let Some(want) = contacts {
        check_contacts(
            world,
            &dump,
            want,
            "contacts ",
            "restore wrote another dump than was backed up",
        )?;
    }
    if let Some(label) = matched {
        let want = world
            .saved_blob(label)
            .ok_or_else(|| Verdict::Error(format!("no key id saved as {label:?}")))?;
        let r: Restored = out.parse("restore")?;
        if r.matched.as_bytes() != want {
            return Err(Verdict::fail(
                format!("matched the key imported as {label}"),
                format!("matched {:?}", r.matched),
                "smart recovery named another key than the one whose tag verifies",
            ));
        }
    }
    let _ = std::fs::remove_file(&output);
    Ok(note)
}
