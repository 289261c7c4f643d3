//! The adapter steps: `backup`, `restore`, `rotate`, `recover`, `delete`, `open-stored`,
//! and the hygiene steps `seal`, `save-stored`, `distinct`.

use backproof_client::adapter::protocol::{Hex, SealResult};
use backproof_format::ErrorClass;
use backproof_format::payload::{self, BackupPayload, Contact, IdentityKeyPair};
use sha2::{Digest, Sha256};

use super::clip;
use crate::profile::Profile;
use crate::scenario::model::{Expect, Expected, Secret, Step, StorageField};
use crate::scenario::verdict::{StepResult, Verdict};
use crate::scenario::world::{CallOutcome, Observed, Request, World};

/// A `restore` answer: an object-store profile's store has no versions, so `version` is
/// there only for v1 (docs/profiles/byok-json-v1.md §8).
#[derive(serde::Deserialize)]
struct Restored {
    payload: Hex,
    #[serde(default)]
    version: Option<u64>,
}

/// A `recover` answer; `source` (`final` | `temp`) only for an object-store profile.
#[derive(serde::Deserialize)]
struct Recovered {
    matched: String,
    payload: Hex,
}

/// The classes that say "nothing is known to have gone wrong with the data; call again"
/// (docs/ADAPTER.md, "Retryable classes"). `conflict` is not one: it means the client gave up
/// merging against concurrent writers, and calling again hides a loop that does not converge.
pub(crate) const RETRYABLE: [ErrorClass; 2] = [ErrorClass::Network, ErrorClass::ServerError];

/// Re-calls of a `transient` step after the first answer (docs/SCENARIOS.md).
pub(crate) const MAX_RECALLS: usize = 3;

/// The retryable class of an answer the step does not expect, if it is one.
fn retryable(expect: &Expect, out: &CallOutcome) -> Option<ErrorClass> {
    match out.outcome {
        Observed::Known(e @ Expected::Error(c)) if RETRYABLE.contains(&c) && !expect.allows(e) => {
            Some(c)
        }
        _ => None,
    }
}

/// Calls `req`; on a `transient` step, a retryable class the step does not expect is answered
/// by calling the same op again (at most [`MAX_RECALLS`] times). Returns the last answer and,
/// when a re-call was needed, the note of a `pass-acceptable`.
async fn call_graded(
    world: &World,
    actor: &str,
    req: Request<'_>,
    expect: &Expect,
    transient: bool,
) -> Result<(CallOutcome, Option<String>), Verdict> {
    let mut out = world.call(actor, req).await?;
    if !transient {
        return Ok((out, None));
    }
    let mut surfaced = Vec::new();
    while let Some(class) = retryable(expect, &out) {
        if surfaced.len() == MAX_RECALLS {
            break;
        }
        surfaced.push(class.as_str());
        // A killed server is back before the call is repeated, as a user's retry would find it.
        world.ensure_server().await?;
        out = world.call(actor, req).await?;
    }
    let note = (!surfaced.is_empty()).then(|| {
        format!(
            "client surfaced {}; the retried call succeeded",
            surfaced.join(", then ")
        )
    });
    Ok((out, note))
}

/// `check_outcome` of a graded call: a pass after re-calls is `pass-acceptable`; a failure
/// names the classes the client surfaced first.
fn check_graded(
    world: &World,
    op: &str,
    expect: &Expect,
    out: &CallOutcome,
    note: Option<String>,
) -> StepResult {
    match check_outcome(world, op, expect, out) {
        Ok(alt) => Ok(note.or(alt)),
        Err(v) => Err(match note {
            Some(n) => v.context(&format!(
                "{op} retried by the harness after a retryable class ({})",
                n.trim_end_matches("; the retried call succeeded")
                    .trim_start_matches("client surfaced ")
            )),
            None => v,
        }),
    }
}

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

/// The bytes a `backup` of profile `profile` carries for "user U with these contacts": the
/// serialized `BackupPayload`, or for `metamask-vault`, whose vault holds a JSON value, a
/// keyring list as MetaMask stores it (docs/profiles/metamask-vault.md §10) holding the
/// identity's public key and the contacts.
pub(crate) fn payload_bytes(profile: Profile, identity: &str, contacts: &[String]) -> Vec<u8> {
    let p = build_payload(identity, contacts);
    if profile != Profile::MetamaskVault {
        return payload::encode(&p);
    }
    let public = p.identity.as_ref().map(|i| hex::encode(&i.public_key));
    let contacts: Vec<serde_json::Value> = p
        .contacts
        .iter()
        .map(|c| serde_json::json!({"uuid": c.uuid, "username": c.username}))
        .collect();
    serde_json::to_vec(&serde_json::json!([
        {"type": "backproof contacts", "data": {"identity": public, "contacts": contacts}}
    ]))
    .unwrap_or_default()
}

/// [`contacts_of`] for a payload of `profile` ([`payload_bytes`]). A vault's JSON may come
/// back respelled (the library returns `JSON.stringify` of the value): only the value counts.
pub(crate) fn contacts_in(profile: Profile, bytes: &[u8]) -> Result<Vec<String>, Verdict> {
    if profile != Profile::MetamaskVault {
        return contacts_of(bytes);
    }
    let garbage =
        |why: String| Verdict::fail("a keyring list holding the contacts", "garbage", why);
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| garbage(format!("the vault's plaintext is not JSON: {e}")))?;
    let list = v
        .pointer("/0/data/contacts")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| garbage(format!("no [0].data.contacts in {}", clip(&v.to_string()))))?;
    let mut c = list
        .iter()
        .map(|c| {
            c["uuid"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| garbage(format!("a contact without a uuid: {c}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    c.sort();
    Ok(c)
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

/// For a profile without a key check (advisory `no-key-check`), a tag failure is the same
/// failure whatever caused it: where a step expects `wrong_key`, a `corrupted` answer, and
/// where it expects `wrong_key` or `corrupted`, a `wrong_key_or_corrupted` answer (the class
/// for exactly that) are accepted, and said so.
fn no_key_check_alternative(world: &World, expect: &Expect, out: &CallOutcome) -> Option<String> {
    let weak = world
        .profile()
        .advisories()
        .iter()
        .any(|a| a.id == "no-key-check");
    let (wrong_key, corrupted, either) = (
        Expected::Error(ErrorClass::WrongKey),
        Expected::Error(ErrorClass::Corrupted),
        Expected::Error(ErrorClass::WrongKeyOrCorrupted),
    );
    let reference = if expect.allows(wrong_key) {
        wrong_key
    } else {
        corrupted
    };
    let accepted = match reference {
        _ if !weak || expect.allows(out_class(out)?) => return None,
        r if r == wrong_key => out.is(corrupted) || out.is(either),
        _ => expect.allows(corrupted) && out.is(either),
    };
    accepted.then(|| {
        format!(
            "{} where {reference} is the reference: profile {} has no key check, so a wrong secret and damage are the same tag failure (advisory no-key-check)",
            out.outcome,
            world.profile()
        )
    })
}

/// The outcome of a call when it is one an expectation can name.
fn out_class(out: &CallOutcome) -> Option<Expected> {
    match out.outcome {
        Observed::Known(e) => Some(e),
        _ => None,
    }
}

pub(super) fn check_outcome(
    world: &World,
    op: &str,
    expect: &Expect,
    out: &CallOutcome,
) -> StepResult {
    if allows(expect, &out.outcome) {
        return Ok(None);
    }
    if let Some(why) = no_key_check_alternative(world, expect, out) {
        return Ok(Some(why));
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
pub(super) fn check_contacts(
    world: &World,
    payload: &[u8],
    want: &[String],
    prefix: &str,
    reason: &str,
) -> Result<(), Verdict> {
    let got = contacts_in(world.profile(), payload)?;
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

/// The restored contacts are exactly one of the sets `one_of`: one writer's state whole,
/// neither a merge nor a mix of them.
pub(super) fn check_contacts_one_of(payload: &[u8], one_of: &[Vec<String>]) -> Result<(), Verdict> {
    let got = contacts_of(payload)?;
    let sets: Vec<Vec<String>> = one_of
        .iter()
        .map(|w| {
            let mut w = w.clone();
            w.sort();
            w
        })
        .collect();
    if sets.contains(&got) {
        return Ok(());
    }
    Err(Verdict::fail(
        format!("contacts one of {sets:?}"),
        format!("contacts {got:?}"),
        "restore returned no single writer's contacts (the writes were merged or mixed)",
    ))
}

pub(super) async fn run(world: &World, step: &Step) -> StepResult {
    match step {
        Step::Backup {
            actor,
            secret,
            contacts,
            identity,
            kdf,
            expect,
            transient,
        } => {
            let user = world.actor_user(actor);
            let payload = payload_bytes(
                world.profile(),
                identity.as_deref().unwrap_or(&user),
                contacts,
            );
            let req = Request::Backup {
                secret,
                payload: &payload,
                kdf: kdf.as_ref(),
            };
            let (out, note) = call_graded(world, actor, req, expect, *transient).await?;
            check_graded(world, "backup", expect, &out, note)
        }
        Step::Restore {
            actor,
            secret,
            any_of,
            expect,
            contacts,
            contacts_one_of,
            version,
        } => {
            restore(
                world,
                actor,
                secret.as_ref(),
                any_of,
                expect,
                (contacts, contacts_one_of),
                *version,
            )
            .await
        }
        Step::Rotate {
            actor,
            old,
            new,
            expect,
            transient,
        } => {
            let req = Request::Rotate { old, new };
            let (out, note) = call_graded(world, actor, req, expect, *transient).await?;
            check_graded(world, "rotate", expect, &out, note)
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
            check_outcome(world, "recover", expect, &out)?;
            if out.is_ok() && (matched.is_some() || contacts.is_some()) {
                let r: Recovered = out.parse("recover")?;
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
                    check_contacts(world, &r.payload.0, want, "", "recovered contacts")?;
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
        Step::Delete {
            actor,
            expect,
            transient,
        } => {
            let (out, note) =
                call_graded(world, actor, Request::Delete, expect, *transient).await?;
            check_graded(world, "delete", expect, &out, note)
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
            check_outcome(world, "open", expect, &out)
        }
        Step::Seal {
            actor,
            secret,
            plaintext,
            save,
        } => {
            let req = Request::Seal {
                secret,
                plaintext: plaintext.as_bytes(),
            };
            let out = world.call(actor, req).await?;
            check_outcome(world, "seal", &Expect::default(), &out)?;
            let r: SealResult = out.parse("seal")?;
            world.save(save, r.blob.0);
            Ok(None)
        }
        Step::SaveStored { user, save } => {
            let blob = world.stored_blob(user).await?;
            world.save(save, blob);
            Ok(None)
        }
        Step::Distinct { blobs, fields } => distinct(world, blobs, fields),
        _ => Err(Verdict::Error("not an adapter step".into())),
    }
}

/// The remembered blobs must pairwise differ in every one of `fields`. A correct random
/// implementation fails this with probability about 2^-96 per pair for the nonce and
/// 2^-128 for a 16-byte salt (docs/SCENARIOS.md, "hygiene").
fn distinct(world: &World, labels: &[String], fields: &[StorageField]) -> StepResult {
    let mut blobs = Vec::with_capacity(labels.len());
    for l in labels {
        let b = world
            .saved_blob(l)
            .ok_or_else(|| Verdict::Error(format!("no blob remembered as {l:?}")))?;
        // A blob that is not a v1 blob has no header to compare: that is the finding.
        backproof_format::parse_header(&b).map_err(|e| {
            Verdict::fail(
                "a v1 blob (docs/FORMAT.md §1)",
                format!("{l}: {e}"),
                "the blob does not parse",
            )
        })?;
        blobs.push(b);
    }
    for &field in fields {
        let f = backproof_format::Field::from(field);
        for i in 0..blobs.len() {
            for j in i + 1..blobs.len() {
                let bytes = |b: &Vec<u8>| {
                    backproof_format::field_range(b, f)
                        .and_then(|r| b.get(r))
                        .map(<[u8]>::to_vec)
                };
                let (a, b) = (bytes(&blobs[i]), bytes(&blobs[j]));
                if a.is_some() && a == b {
                    return Err(Verdict::fail(
                        format!("{} and {} with different {f}s", labels[i], labels[j]),
                        format!("the same {f} {}", hex::encode(a.unwrap_or_default())),
                        format!(
                            "two seals reused one {f}: a fresh random {f} is drawn per seal (docs/FORMAT.md)"
                        ),
                    ));
                }
            }
        }
    }
    Ok(None)
}

/// `restore` with one secret, or with `any_of`: passes if any of them restores.
async fn restore(
    world: &World,
    actor: &str,
    secret: Option<&Secret>,
    any_of: &[Secret],
    expect: &Expect,
    (contacts, one_of): (&Option<Vec<String>>, &[Vec<String>]),
    version: Option<u64>,
) -> StepResult {
    let secrets: Vec<&Secret> = secret.into_iter().chain(any_of.iter()).collect();
    let mut last = None;
    for s in &secrets {
        let out = world.call(actor, Request::Restore { secret: s }).await?;
        let alternative = no_key_check_alternative(world, expect, &out);
        let ok = allows(expect, &out.outcome) || alternative.is_some();
        if ok || !any_of.is_empty() && !out.is_ok() {
            if ok {
                if out.is_ok() && (contacts.is_some() || !one_of.is_empty() || version.is_some()) {
                    let r: Restored = out.parse("restore")?;
                    if !one_of.is_empty() {
                        check_contacts_one_of(&r.payload.0, one_of)?;
                    }
                    if let Some(want) = contacts {
                        check_contacts(
                            world,
                            &r.payload.0,
                            want,
                            "contacts ",
                            "restore returned other contacts than were backed up",
                        )?;
                    }
                    if let Some(v) = version
                        && r.version != Some(v)
                    {
                        return Err(Verdict::fail(
                            format!("version {v}"),
                            match r.version {
                                Some(got) => format!("version {got}"),
                                None => "no version".to_string(),
                            },
                            "restore returned another version",
                        ));
                    }
                }
                return Ok(alternative);
            }
            last = Some(out);
            continue;
        }
        return check_outcome(world, "restore", expect, &out);
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

    #[test]
    fn vault_payloads_are_json_and_survive_respelling() {
        let mm = Profile::MetamaskVault;
        let bytes = payload_bytes(mm, "alice", &["b".into(), "a".into()]);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(contacts_in(mm, &bytes).unwrap(), ["a", "b"]);
        // What the library gives back is JSON.stringify of the value: other spacing.
        let pretty = serde_json::to_vec_pretty(&v).unwrap();
        assert_eq!(contacts_in(mm, &pretty).unwrap(), ["a", "b"]);
        assert!(contacts_in(mm, b"[1]").is_err());
        assert!(contacts_in(mm, b"not json").is_err());
        // Other profiles keep the protobuf payload.
        assert_eq!(
            payload_bytes(Profile::V1, "alice", &[]),
            payload::encode(&build_payload("alice", &[]))
        );
        assert_ne!(
            payload_bytes(mm, "bob", &[]),
            payload_bytes(mm, "alice", &[])
        );
    }
}
