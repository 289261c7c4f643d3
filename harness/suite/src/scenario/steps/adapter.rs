//! The adapter steps: `backup`, `restore`, `rotate`, `recover`, `delete`, `open-stored`.

use backproof_client::adapter::protocol::{RecoverResult, RestoreResult};
use backproof_format::payload::{self, BackupPayload, Contact, IdentityKeyPair};
use sha2::{Digest, Sha256};

use super::clip;
use crate::scenario::model::{Expect, Secret, Step};
use crate::scenario::verdict::{StepResult, Verdict};
use crate::scenario::world::{CallOutcome, Observed, Request, World};

fn identity_of(id: &str) -> IdentityKeyPair {
    IdentityKeyPair {
        public_key: Sha256::digest(format!("backproof scenario identity public {id}")).to_vec(),
        private_key: Sha256::digest(format!("backproof scenario identity private {id}")).to_vec(),
    }
}

/// The payload a scenario means by "user U with these contacts".
pub(crate) fn build_payload(identity: &str, contacts: &[String]) -> BackupPayload {
    BackupPayload {
        schema: 1,
        identity: Some(identity_of(identity)),
        contacts: contacts
            .iter()
            .map(|c| Contact {
                uuid: c.clone(),
                username: format!("user {c}"),
            })
            .collect(),
        profile: None,
    }
}

/// The sorted contact uuids of a serialized payload; one that does not decode is a failure
/// of the target.
pub(crate) fn contacts_of(payload_bytes: &[u8]) -> Result<Vec<String>, Verdict> {
    let p = payload::decode(payload_bytes).map_err(|e| {
        Verdict::fail(
            "a payload",
            "garbage",
            format!("payload does not decode: {e}"),
        )
    })?;
    let mut c: Vec<String> = p.contacts.into_iter().map(|c| c.uuid).collect();
    c.sort();
    Ok(c)
}

fn allows(expect: &Expect, observed: &Observed) -> bool {
    match observed {
        Observed::Known(e) => expect.allows(*e),
        Observed::UnknownClass(_) | Observed::AdapterBroken => false,
    }
}

fn check_outcome(op: &str, expect: &Expect, out: &CallOutcome) -> StepResult {
    if allows(expect, &out.outcome) {
        return Ok(None);
    }
    Err(Verdict::fail(
        format!("{op} → {}", expect.describe()),
        if out.message.is_empty() {
            out.outcome.to_string()
        } else {
            format!("{} ({})", out.outcome, clip(&out.message))
        },
        format!("{op} gave an unexpected outcome"),
    ))
}

/// The exact set of contacts `want`, or a failure saying what came back.
fn check_contacts(
    payload: &[u8],
    want: &[String],
    prefix: &str,
    reason: &str,
) -> Result<(), Verdict> {
    let got = contacts_of(payload)?;
    let mut want = want.to_vec();
    want.sort();
    if got != want {
        return Err(Verdict::fail(
            format!("{prefix}{want:?}"),
            format!("{prefix}{got:?}"),
            reason,
        ));
    }
    Ok(())
}

pub(super) async fn run(world: &World, step: &Step) -> StepResult {
    match step {
        Step::Backup {
            actor,
            secret,
            contacts,
            identity,
            expect,
        } => {
            let user = world.actor_user(actor);
            let p = build_payload(identity.as_deref().unwrap_or(&user), contacts);
            let payload = payload::encode(&p);
            let out = world
                .call(
                    actor,
                    Request::Backup {
                        secret,
                        payload: &payload,
                    },
                )
                .await?;
            check_outcome("backup", expect, &out)
        }
        Step::Restore {
            actor,
            secret,
            any_of,
            expect,
            contacts,
            version,
        } => {
            restore(
                world,
                actor,
                secret.as_ref(),
                any_of,
                expect,
                contacts,
                *version,
            )
            .await
        }
        Step::Rotate {
            actor,
            old,
            new,
            expect,
        } => {
            let out = world.call(actor, Request::Rotate { old, new }).await?;
            check_outcome("rotate", expect, &out)
        }
        Step::Recover {
            actor,
            candidates,
            expect,
            matched,
            tried,
            contacts,
        } => {
            let out = world.call(actor, Request::Recover { candidates }).await?;
            check_outcome("recover", expect, &out)?;
            if out.is_ok() && (matched.is_some() || contacts.is_some()) {
                let r: RecoverResult = out.parse("recover")?;
                if let Some(m) = matched
                    && &r.matched != m
                {
                    return Err(Verdict::fail(
                        format!("matched {m}"),
                        format!("matched {:?}", r.matched),
                        "recover named the wrong candidate",
                    ));
                }
                if let Some(want) = contacts {
                    check_contacts(&r.payload.0, want, "", "recovered contacts")?;
                }
            }
            if let Some(want) = tried
                && !out.is_ok()
                && out.tried.as_ref() != Some(want)
            {
                return Err(Verdict::fail(
                    format!("tried {want:?}"),
                    format!("tried {:?}", out.tried),
                    "wrong_key must list the candidates tried, in order",
                ));
            }
            Ok(None)
        }
        Step::Delete { actor, expect } => {
            let out = world.call(actor, Request::Delete).await?;
            check_outcome("delete", expect, &out)
        }
        Step::OpenStored {
            actor,
            user,
            secret,
            expect,
        } => {
            let (_, blob) = world
                .fetch(user)
                .await?
                .ok_or_else(|| Verdict::Error("nothing stored to open".into()))?;
            let out = world
                .call(
                    actor,
                    Request::Open {
                        secret,
                        blob: &blob,
                    },
                )
                .await?;
            check_outcome("open", expect, &out)
        }
        _ => Err(Verdict::Error("not an adapter step".into())),
    }
}

/// `restore` with one secret, or with `any_of`: passes if any of them restores.
async fn restore(
    world: &World,
    actor: &str,
    secret: Option<&Secret>,
    any_of: &[Secret],
    expect: &Expect,
    contacts: &Option<Vec<String>>,
    version: Option<u64>,
) -> StepResult {
    let secrets: Vec<&Secret> = secret.into_iter().chain(any_of.iter()).collect();
    let mut last = None;
    for s in &secrets {
        let out = world.call(actor, Request::Restore { secret: s }).await?;
        let ok = allows(expect, &out.outcome);
        if ok || !any_of.is_empty() && !out.is_ok() {
            if ok {
                if out.is_ok() && (contacts.is_some() || version.is_some()) {
                    let r: RestoreResult = out.parse("restore")?;
                    if let Some(want) = contacts {
                        check_contacts(
                            &r.payload.0,
                            want,
                            "contacts ",
                            "restore returned other contacts than were backed up",
                        )?;
                    }
                    if let Some(v) = version
                        && r.version != v
                    {
                        return Err(Verdict::fail(
                            format!("version {v}"),
                            format!("version {}", r.version),
                            "restore returned another version",
                        ));
                    }
                }
                return Ok(None);
            }
            last = Some(out);
            continue;
        }
        return check_outcome("restore", expect, &out);
    }
    let out = last.ok_or_else(|| Verdict::Error("restore step has no secret".into()))?;
    Err(Verdict::fail(
        format!(
            "restore with one of {} secrets: {}",
            secrets.len(),
            expect.describe()
        ),
        format!("{} ({})", out.outcome, out.message),
        "no secret restored the backup",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_to_contacts() {
        let p = build_payload("alice", &["b".into(), "a".into()]);
        assert_eq!(contacts_of(&payload::encode(&p)).unwrap(), ["a", "b"]);
        assert!(contacts_of(&[0xff, 0xff]).is_err());
        // A different identity is a different key pair.
        assert_ne!(build_payload("bob", &[]).identity, p.identity);
    }
}
