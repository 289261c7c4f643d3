//! The built-in drivers: `enumerate` (crash at every recorded step) and `stress`
//! (concurrent writers, then the history checker).

use std::sync::Arc;
use std::time::{Duration, Instant};

use backproof_client::adapter::protocol::{RestoreResult, VersionResult};
use backproof_faults::{Fault, Rule, Step as ProxyStep, StepMatch, When};
use backproof_format::ErrorClass;

use super::model::{Expect, Expected, Proxy, Secret, Side, Step};
use super::steps::{self, build_payload, contacts_of, sha256_hex};
use super::verdict::Verdict;
use super::world::{Request, World, etag_version};
use super::{Infra, Scenario};
use crate::history::{self, History, Op, OpKind, Precondition, ReadResult, WriteResult};

/// What a driver found, beyond pass/fail: the report's note.
#[derive(Debug, Default, Clone)]
pub(crate) struct DriverStats {
    pub(crate) note: String,
}

async fn new_world(infra: &Infra, s: &Scenario) -> Result<World, Verdict> {
    let actors: Vec<(String, String)> = s
        .actors
        .iter()
        .map(|a| (a.name.clone(), a.user.clone()))
        .collect();
    let env: Vec<(String, String)> = s.server_env.clone().into_iter().collect();
    Ok(World::create(infra, &s.server_args, &env, &actors, &s.id, s.profile).await?)
}

fn ignore_background(world: &World) {
    // The server's own housekeeping (readiness probes, the sweeper's listing) is not a
    // step of the operation under test.
    if let (Some(bucket), Ok(s3_proxy)) = (world.bucket(), world.proxy(Proxy::S3)) {
        let bucket_level = format!("/{bucket}?");
        s3_proxy.set_ignored(vec![
            StepMatch {
                method: Some("GET".into()),
                pattern_prefix: Some(bucket_level),
            },
            StepMatch {
                method: Some("HEAD".into()),
                pattern_prefix: None,
            },
        ]);
    }
    if let Ok(client_proxy) = world.proxy(Proxy::Client) {
        client_proxy.set_ignored(vec![StepMatch {
            method: None,
            pattern_prefix: Some("/healthz".into()),
        }]);
    }
}

async fn run_steps(world: &World, steps: &[Step]) -> Result<(), Verdict> {
    for st in steps {
        steps::run(world, st).await?;
    }
    Ok(())
}

fn op_secrets(op: &Step) -> Result<(&str, &Secret, &Secret), Verdict> {
    match op {
        Step::Rotate {
            actor, old, new, ..
        } => Ok((actor, old, new)),
        _ => Err(Verdict::Error(
            "the enumerate driver drives a `rotate` step".into(),
        )),
    }
}

/// Runs the enumerate driver; returns the number of crash points tried.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn enumerate(
    infra: &Infra,
    s: &Scenario,
    setup: &[Step],
    operation: &Step,
    side: Side,
    proxy: Proxy,
    user: &str,
    contacts: &[String],
) -> Result<DriverStats, Verdict> {
    let (actor, old, new) = op_secrets(operation)?;

    // 1. Record what the implementation does.
    let recorded: Vec<ProxyStep> = {
        let world = new_world(infra, s).await?;
        ignore_background(&world);
        let r = async {
            run_steps(&world, setup).await?;
            let p = world.proxy(proxy)?;
            p.reset();
            steps::run(&world, operation).await?;
            let steps = p.steps().into_iter().map(|mut step| {
                step.path = world.generalize(&step.path);
                step
            });
            Ok::<_, Verdict>(steps.collect())
        }
        .await;
        world.shutdown(infra).await;
        r?
    };
    if recorded.is_empty() {
        return Err(Verdict::fail(
            format!("the operation makes requests through the {proxy} proxy"),
            "none",
            "nothing to crash",
        ));
    }

    let points = crash_points(&recorded);
    for &(step, nth, when) in &points {
        let label = format!(
            "crash {side} at {proxy} step {} ({}) {when} forwarding",
            step.index,
            step.label()
        );
        let world = new_world(infra, s).await?;
        ignore_background(&world);
        let r = crash_case(
            &world,
            setup,
            operation,
            side,
            proxy,
            step,
            nth,
            when,
            (actor, old, new),
            user,
            contacts,
        )
        .await;
        world.shutdown(infra).await;
        r.map_err(|v| v.context(&label))?;
    }
    Ok(DriverStats {
        note: format!(
            "{} crash points ({} recorded steps: {})",
            points.len(),
            recorded.len(),
            step_labels(&recorded)
        ),
    })
}

/// Every point the enumerate drivers kill at: each recorded step, before and after it is
/// forwarded, with its rank among the requests of the same method and path, so that
/// unrelated traffic cannot shift it.
fn crash_points(recorded: &[ProxyStep]) -> Vec<(&ProxyStep, usize, When)> {
    recorded
        .iter()
        .enumerate()
        .flat_map(|(i, step)| {
            let nth = recorded[..=i]
                .iter()
                .filter(|r| r.method == step.method && r.path == step.path)
                .count();
            When::BOTH.map(|when| (step, nth, when))
        })
        .collect()
}

fn step_labels(recorded: &[ProxyStep]) -> String {
    recorded
        .iter()
        .map(|s| s.label())
        .collect::<Vec<_>>()
        .join(", ")
}

#[allow(clippy::too_many_arguments)]
async fn crash_case(
    world: &World,
    setup: &[Step],
    operation: &Step,
    side: Side,
    proxy: Proxy,
    step: &ProxyStep,
    nth: usize,
    when: When,
    (actor, old, new): (&str, &Secret, &Secret),
    user: &str,
    contacts: &[String],
) -> Result<(), Verdict> {
    run_steps(world, setup).await?;
    let before = world.fetch(user).await?;
    let pid = match side {
        Side::Client => world.actor_pid(actor).await,
        Side::Server => world.server_pid().await,
    }
    .ok_or_else(|| Verdict::Error(format!("{side} is not running")))?;
    let p = world.proxy(proxy)?;
    p.reset();
    p.arm(Rule {
        at: nth,
        matching: StepMatch::of(&ProxyStep {
            path: world.localize(&step.path),
            ..step.clone()
        }),
        fault: Fault::Kill { pid, when },
    });
    // The server is restarted as soon as it dies, so a client that retries can finish.
    let watcher = async {
        if side != Side::Server {
            return None;
        }
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            // A failed restart is seen by the fetch below and by `ensure_server` later.
            if p.all_fired() && !matches!(world.ensure_server().await, Ok(false)) {
                // Look before the client's retry can repair it: a server that overwrites
                // the object in place serves the new blob under the old version only
                // until the retried write lands.
                return world.fetch(user).await.ok().flatten();
            }
        }
    };
    let op = world.call(actor, Request::Rotate { old, new });

    let (out, early) = tokio::join!(op, async {
        tokio::select! {
            seen = watcher => seen,
            _ = tokio::time::sleep(Duration::from_secs(90)) => None,
        }
    });
    let _ = out?;
    if let (Some((v0, b0)), Some((v1, b1))) = (&before, &early)
        && v0 == v1
        && b0 != b1
    {
        return Err(Verdict::fail(
            format!(
                "version {v0} still serves its own blob (sha256 {}) after the restart",
                sha256_hex(b0)
            ),
            format!("version {v1} serves sha256 {}", sha256_hex(b1)),
            "a crash left the object and the version out of agreement",
        ));
    }
    if !p.all_fired() {
        return Err(Verdict::fail(
            format!("the operation reaches step {} again", step.label()),
            format!(
                "steps this time: {}",
                p.steps()
                    .iter()
                    .map(|s| world.generalize(&s.label()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "the operation's steps are not stable run to run",
        ));
    }
    p.reset();
    if side == Side::Client {
        world.restart_actor(actor).await?;
    }
    world.ensure_server().await?;

    // The served blob matches its version.
    let after = world.fetch(user).await?;
    if let (Some((v0, b0)), Some((v1, b1))) = (&before, &after)
        && v0 == v1
        && b0 != b1
    {
        return Err(Verdict::fail(
            format!(
                "version {v0} still serves its own blob (sha256 {})",
                sha256_hex(b0)
            ),
            format!("version {v1} serves sha256 {}", sha256_hex(b1)),
            "a crash left the object and the version out of agreement",
        ));
    }
    if after.is_none() {
        return Err(Verdict::fail(
            "a backup after the crash",
            "404",
            "the crash lost the backup",
        ));
    }
    // Old or new opens it, never neither.
    steps::run(
        world,
        &restore_step(actor, &[old, new], Expect::default(), Some(contacts)),
    )
    .await?;
    // The retried rotation completes (idempotent if it had already happened).
    steps::run(world, operation).await?;
    steps::run(
        world,
        &restore_step(actor, &[new], Expect::default(), Some(contacts)),
    )
    .await?;
    steps::run(
        world,
        &restore_step(
            actor,
            &[old],
            Expect::one(Expected::Error(ErrorClass::WrongKey)),
            None,
        ),
    )
    .await?;
    Ok(())
}

/// The enumerate driver for an object-store profile (docs/profiles/byok-json-v1.md §6,
/// "The crash invariant"): the client itself is killed before and after each of its S3
/// requests of the rotation, as recorded by the client proxy in front of S3. After every
/// kill: the final object opens with old or new, or the temporary object opens with new;
/// a restore that finds no final object says `not_found`; and `recover` with [old, new]
/// gets the backup back (from the temporary object when the final one is gone), after
/// which a restore with old or new succeeds.
pub(crate) async fn enumerate_object_store(
    infra: &Infra,
    s: &Scenario,
    setup: &[Step],
    operation: &Step,
    user: &str,
    contacts: &[String],
) -> Result<DriverStats, Verdict> {
    let (actor, old, new) = op_secrets(operation)?;
    let recorded: Vec<ProxyStep> = {
        let world = new_world(infra, s).await?;
        let r = async {
            run_steps(&world, setup).await?;
            let p = world.proxy(Proxy::Client)?;
            p.reset();
            steps::run(&world, operation).await?;
            let steps = p.steps().into_iter().map(|mut step| {
                step.path = world.generalize(&step.path);
                step
            });
            Ok::<_, Verdict>(steps.collect())
        }
        .await;
        world.shutdown(infra).await;
        r?
    };
    if recorded.is_empty() {
        return Err(Verdict::fail(
            "the rotation makes S3 requests through the client proxy",
            "none",
            "nothing to crash",
        ));
    }
    let vault = s.profile == crate::profile::Profile::MetamaskVault;
    let points = crash_points(&recorded);
    // byok-json-v1: kills that left only the temporary object; metamask-vault: kills that
    // left the updated vault (the others left it as it was).
    let mut gaps = 0;
    for &point in &points {
        let (step, _, when) = point;
        let label = format!(
            "kill the client at S3 step {} ({}) {when} forwarding",
            step.index,
            step.label()
        );
        let world = new_world(infra, s).await?;
        let r = if vault {
            vault_crash(&world, setup, point, (actor, old, new), user, contacts).await
        } else {
            object_store_crash(&world, setup, point, (actor, old, new), user, contacts).await
        };
        world.shutdown(infra).await;
        if r.as_ref().map_err(|v| v.clone().context(&label))? == &true {
            gaps += 1;
        }
    }
    let (n, steps) = (points.len(), step_labels(&recorded));
    let recorded = recorded.len();
    if vault {
        return Ok(DriverStats {
            note: format!(
                "{n} crash points ({recorded} recorded S3 steps: {steps}); {gaps} left the updated vault, {} the vault as it was; none lost it",
                n - gaps
            ),
        });
    }
    Ok(DriverStats {
        note: format!(
            "{n} crash points ({recorded} recorded S3 steps: {steps}); {gaps} left only the temporary object (final-path-gap), recovered by `recover`"
        ),
    })
}

/// Whether `secret` opens `blob` through the actor's `open`.
async fn opens(world: &World, actor: &str, secret: &Secret, blob: &[u8]) -> Result<bool, Verdict> {
    let out = world.call(actor, Request::Open { secret, blob }).await?;
    Ok(out.is_ok())
}

/// One crash point of [`enumerate_object_store`]; `true` when the kill left no final
/// object (only the temporary one held the backup).
/// A `restore` step: with one secret, or passing when any of several restores; on success
/// the exact `contacts`, when given.
fn restore_step(
    actor: &str,
    secrets: &[&Secret],
    expect: Expect,
    contacts: Option<&[String]>,
) -> Step {
    let (secret, any_of) = match secrets {
        [one] => (Some((*one).clone()), vec![]),
        many => (None, many.iter().map(|s| (*s).clone()).collect()),
    };
    Step::Restore {
        actor: actor.into(),
        secret,
        any_of,
        expect,
        contacts: contacts.map(<[String]>::to_vec),
        contacts_one_of: vec![],
        version: None,
    }
}

/// One crash point: the recorded S3 step, which of its kind it is, and when the kill hits.
type CrashPoint<'a> = (&'a ProxyStep, usize, When);

/// Runs the rotation with the client killed at `point`, then restarts the client.
async fn kill_during_rotation(
    world: &World,
    (step, nth, when): CrashPoint<'_>,
    (actor, old, new): (&str, &Secret, &Secret),
) -> Result<(), Verdict> {
    let pid = world
        .actor_pid(actor)
        .await
        .ok_or_else(|| Verdict::Error("the client is not running".into()))?;
    let p = world.proxy(Proxy::Client)?;
    p.reset();
    p.arm(Rule {
        at: nth,
        matching: StepMatch::of(&ProxyStep {
            path: world.localize(&step.path),
            ..step.clone()
        }),
        fault: Fault::Kill { pid, when },
    });
    let _ = world.call(actor, Request::Rotate { old, new }).await?;
    if !p.all_fired() {
        return Err(Verdict::fail(
            format!("the rotation reaches S3 step {} again", step.label()),
            format!(
                "steps this time: {}",
                p.steps()
                    .iter()
                    .map(|s| world.generalize(&s.label()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "the rotation's S3 requests are not stable run to run",
        ));
    }
    p.reset();
    world.restart_actor(actor).await
}

async fn object_store_crash(
    world: &World,
    setup: &[Step],
    point: CrashPoint<'_>,
    (actor, old, new): (&str, &Secret, &Secret),
    user: &str,
    contacts: &[String],
) -> Result<bool, Verdict> {
    use super::model::StoreObject;
    run_steps(world, setup).await?;
    kill_during_rotation(world, point, (actor, old, new)).await?;
    let final_obj = world
        .get_object_if_any(&world.object_key(user, StoreObject::Final))
        .await?;
    let temp_obj = world
        .get_object_if_any(&world.object_key(user, StoreObject::Temp))
        .await?;
    let final_ok = match &final_obj {
        Some(b) => opens(world, actor, old, b).await? || opens(world, actor, new, b).await?,
        None => false,
    };
    let temp_ok = match &temp_obj {
        Some(b) => opens(world, actor, new, b).await?,
        None => false,
    };
    if !final_ok && !temp_ok {
        return Err(Verdict::fail(
            "the final object opens with old or new, or the temporary object opens with new",
            format!(
                "final object {}, temporary object {}",
                match &final_obj {
                    None => "missing",
                    Some(_) => "opens with neither",
                },
                match &temp_obj {
                    None => "missing",
                    Some(_) => "does not open with new",
                }
            ),
            "the crash lost the backup",
        ));
    }
    if final_obj.is_none() {
        // The design's rule: restore never reads the temporary path by itself.
        steps::run(
            world,
            &restore_step(
                actor,
                &[new],
                Expect::one(Expected::Error(ErrorClass::NotFound)),
                None,
            ),
        )
        .await?;
    }
    // The user's way back: recover with both passphrases.
    steps::run(
        world,
        &Step::Recover {
            actor: actor.into(),
            candidates: vec![
                super::model::Candidate {
                    id: "old".into(),
                    secret: old.clone(),
                },
                super::model::Candidate {
                    id: "new".into(),
                    secret: new.clone(),
                },
            ],
            expect: Expect::default(),
            matched: None,
            tried: None,
            contacts: Some(contacts.to_vec()),
        },
    )
    .await?;
    // After recover a plain restore works again with old or new.
    steps::run(
        world,
        &restore_step(actor, &[old, new], Expect::default(), Some(contacts)),
    )
    .await?;
    Ok(final_obj.is_none())
}

/// One crash point of [`enumerate_object_store`] for `metamask-vault`
/// (docs/profiles/metamask-vault.md §10, "The crash invariant"): after the kill the vault
/// object exists, opens with old or new, and is either byte for byte the vault from before
/// the update or a vault at the update's target; a restore gets the contacts back; the
/// update, run again, completes; afterwards the vault is at the target and opens with new.
/// `true` when the kill left the updated vault.
async fn vault_crash(
    world: &World,
    setup: &[Step],
    point: CrashPoint<'_>,
    (actor, old, new): (&str, &Secret, &Secret),
    user: &str,
    contacts: &[String],
) -> Result<bool, Verdict> {
    use super::model::StoreObject;
    use backproof_format::profiles::metamask_vault as mm;
    let key = world.object_key(user, StoreObject::Final);
    let at_target = |vault: &[u8]| {
        mm::parse(vault).is_ok_and(|e| {
            e.kdf
                == mm::Kdf::Pbkdf2 {
                    iterations: mm::DEFAULT_ITERATIONS,
                }
        })
    };
    run_steps(world, setup).await?;
    let before = world
        .get_object_if_any(&key)
        .await?
        .ok_or_else(|| Verdict::Error(format!("the setup stored no vault at {key}")))?;
    kill_during_rotation(world, point, (actor, old, new)).await?;
    let Some(after) = world.get_object_if_any(&key).await? else {
        return Err(Verdict::fail(
            "the vault object, as it was or updated",
            "no vault object",
            "the crash lost the vault",
        ));
    };
    if !(opens(world, actor, old, &after).await? || opens(world, actor, new, &after).await?) {
        return Err(Verdict::fail(
            "the stored vault opens with old or new",
            "it opens with neither",
            "the crash left a vault no password opens",
        ));
    }
    let updated = after != before;
    if updated && !at_target(&after) {
        return Err(Verdict::fail(
            format!(
                "the vault as it was, or one with keyMetadata at {} iterations",
                mm::DEFAULT_ITERATIONS
            ),
            format!("another vault: {}", String::from_utf8_lossy(&after)),
            "the crash left a vault that is neither the old one nor the update",
        ));
    }
    steps::run(
        world,
        &restore_step(actor, &[old, new], Expect::default(), Some(contacts)),
    )
    .await?;
    // The user's retry of the update completes it.
    let retried = world.call(actor, Request::Rotate { old, new }).await?;
    if !retried.is_ok() {
        return Err(Verdict::fail(
            "the update, run again after the crash, succeeds",
            format!("{} ({})", retried.outcome, steps::clip(&retried.message)),
            "the interrupted update cannot be completed",
        ));
    }
    let done = world.get_object_if_any(&key).await?.unwrap_or_default();
    if !at_target(&done) {
        return Err(Verdict::fail(
            format!(
                "after the retried update, a vault with keyMetadata at {} iterations",
                mm::DEFAULT_ITERATIONS
            ),
            format!("{}", String::from_utf8_lossy(&done)),
            "the update did not lift the vault to the target",
        ));
    }
    steps::run(
        world,
        &restore_step(actor, &[new], Expect::default(), Some(contacts)),
    )
    .await?;
    Ok(updated)
}

/// How big a stress run is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StressSize {
    pub(crate) writers: usize,
    pub(crate) updates: usize,
    pub(crate) readers: usize,
}

/// Exchanges kept by the client proxy; a run that makes more is an error, never a history
/// checked with holes in it. 16 × 50 with its conflicts and readers stays far below.
const RECORD_LIMIT: usize = 200_000;

/// Reads per reader at most, whatever the writers' pace (the loop is also bounded by the
/// writers' lifetime).
const MAX_READS_PER_READER: usize = 20_000;

/// One `backup` the client under test reported as done.
struct Claimed {
    client: String,
    invoke: u64,
    complete: u64,
    adds: Vec<String>,
    version: u64,
}

/// Turns the client proxy's recorded exchanges on `/v1/backup` (plus what the clients
/// reported) into a history; times are microseconds since `clock`.
fn history_of(
    exchanges: &[backproof_faults::Exchange],
    claims: Vec<Claimed>,
    clock: Instant,
    final_contacts: Option<Vec<String>>,
) -> Result<History, Verdict> {
    let micros = |t: Instant| t.saturating_duration_since(clock).as_micros() as u64;
    let mut ops = Vec::new();
    for ex in exchanges {
        let path = ex.target.split('?').next().unwrap_or_default();
        if !path.ends_with("/v1/backup") {
            continue;
        }
        let kind = match ex.method.as_str() {
            "POST" | "PUT" => {
                let precondition = match ex.if_match.as_deref().map(str::trim) {
                    None => Precondition::Create,
                    Some(m) => match m.trim_matches('"').parse::<u64>() {
                        Ok(v) => Precondition::IfMatch(v),
                        // `*` does not name the version it replaces.
                        Err(_) => Precondition::Unknown,
                    },
                };
                let result = match ex.status {
                    None => WriteResult::Unknown,
                    Some(s @ 200..=299) => {
                        let json: Option<serde_json::Value> = ex
                            .response_body
                            .as_deref()
                            .and_then(|b| serde_json::from_slice(b).ok());
                        let version = etag_version(ex.etag.as_deref())
                            .or_else(|| json.as_ref()?.get("version")?.as_u64())
                            .ok_or_else(|| {
                                Verdict::fail(
                                    "an acknowledged write names its version (ETag or JSON `version`)",
                                    format!("{} {} → {s} without one", ex.method, ex.target),
                                    "docs/API.md: POST replies {version, size, sha256, updated_at}",
                                )
                            })?;
                        let sha256 = json
                            .as_ref()
                            .and_then(|j| j.get("sha256")?.as_str().map(str::to_string));
                        WriteResult::Ack { version, sha256 }
                    }
                    Some(s @ 500..) => WriteResult::ServerError { status: s },
                    Some(_) => WriteResult::Rejected,
                };
                OpKind::Write {
                    precondition,
                    sha256: Some(ex.request_sha256.clone()),
                    adds: vec![],
                    result,
                }
            }
            "GET" => {
                let result = match ex.status {
                    None => ReadResult::Failed,
                    Some(200) => match etag_version(ex.etag.as_deref()) {
                        Some(version) => ReadResult::Ok {
                            version,
                            sha256: ex.response_sha256.clone(),
                        },
                        None => {
                            return Err(Verdict::fail(
                                "GET /v1/backup → 200 with ETag \"<version>\"",
                                format!("ETag {:?}", ex.etag),
                                "a read under concurrent load",
                            ));
                        }
                    },
                    Some(404) => ReadResult::NotFound,
                    // A revalidation: no body was read.
                    Some(304) => continue,
                    Some(status) => ReadResult::Status { status },
                };
                OpKind::Read { result }
            }
            _ => continue,
        };
        ops.push((
            format!("conn {}", ex.peer),
            micros(ex.started),
            micros(ex.finished),
            kind,
        ));
    }
    for c in claims {
        ops.push((
            c.client,
            c.invoke,
            c.complete,
            OpKind::Claim {
                adds: c.adds,
                version: c.version,
            },
        ));
    }
    ops.sort_by_key(|o| (o.1, o.2));
    Ok(History {
        ops: ops
            .into_iter()
            .enumerate()
            .map(|(id, (client, invoke, complete, kind))| Op {
                id,
                client,
                invoke,
                complete,
                kind,
            })
            .collect(),
        final_contacts,
    })
}

/// Raw `GET /v1/backup` through the client proxy, back to back, until `done`; the proxy
/// records each exchange. One connection per reader where the server keeps it alive, so a
/// reader is one client of the history.
async fn read_loop(url: String, token: String, done: Arc<std::sync::atomic::AtomicBool>) {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(1)
        .build()
    else {
        return;
    };
    for _ in 0..MAX_READS_PER_READER {
        if done.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        // Failures are the history's business: the proxy saw them.
        if let Ok(resp) = client.get(&url).bearer_auth(&token).send().await {
            let _ = resp.bytes().await;
        }
    }
}

/// Runs the stress driver and the history checker.
pub(crate) async fn stress(
    world: Arc<World>,
    size: StressSize,
    secret: &Secret,
    user: &str,
) -> Result<DriverStats, Verdict> {
    let StressSize {
        writers,
        updates,
        readers,
    } = size;
    let names: Vec<String> = (0..writers).map(|i| format!("w{i}")).collect();
    let clock = Instant::now();
    let now = move || clock.elapsed().as_micros() as u64;
    let claims: Arc<std::sync::Mutex<Vec<Claimed>>> = Arc::default();
    let claim = {
        let claims = claims.clone();
        move |client: &str, invoke: u64, adds: Vec<String>, version: u64| {
            claims
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Claimed {
                    client: client.to_string(),
                    invoke,
                    complete: now(),
                    adds,
                    version,
                });
        }
    };
    let proxy = world.proxy(Proxy::Client)?;
    proxy.record_exchanges(RECORD_LIMIT);

    // Version 1 with no contacts, so every writer's first restore finds something.
    let first = &names[0];
    let t = now();
    let payload = backproof_format::payload::encode(&build_payload(user, &[]));
    let out = world
        .call(
            first,
            Request::Backup {
                secret,
                payload: &payload,
                kdf: None,
            },
        )
        .await?;
    if !out.is_ok() {
        return Err(Verdict::fail(
            "the first backup succeeds",
            out.outcome.to_string(),
            out.message,
        ));
    }
    let VersionResult { version } = out.parse("backup")?;
    claim(first, t, vec![], version);

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = format!("{}/v1/backup", world.client_url());
    let token = world.token(user).await?;
    let reader_tasks: Vec<_> = (0..readers)
        .map(|_| tokio::spawn(read_loop(url.clone(), token.clone(), done.clone())))
        .collect();

    let mut tasks = Vec::new();
    for (wi, name) in names.iter().enumerate() {
        let world = world.clone();
        let claim = claim.clone();
        let name = name.clone();
        let secret = secret.clone();
        let user = user.to_string();
        tasks.push(tokio::spawn(async move {
            for j in 0..updates {
                let contact = format!("w{wi}-{j:03}");
                // A failed cycle (conflict retries exhausted) is tried again a few times.
                for _attempt in 0..5 {
                    let r = world
                        .call(&name, Request::Restore { secret: &secret })
                        .await?;
                    if !r.is_ok() {
                        return Err(Verdict::fail(
                            "restore succeeds",
                            r.outcome.to_string(),
                            r.message,
                        ));
                    }
                    let restored: RestoreResult = r.parse("restore")?;
                    let mut cs = contacts_of(&restored.payload.0)?;
                    cs.push(contact.clone());
                    let payload = backproof_format::payload::encode(&build_payload(&user, &cs));
                    let t = now();
                    let out = world
                        .call(
                            &name,
                            Request::Backup {
                                secret: &secret,
                                payload: &payload,
                                kdf: None,
                            },
                        )
                        .await?;
                    if out.is_ok() {
                        let version = out.parse::<VersionResult>("backup")?.version;
                        claim(&name, t, vec![contact.clone()], version);
                        break;
                    }
                    if !out.is(Expected::Error(ErrorClass::Conflict)) {
                        return Err(Verdict::fail(
                            "backup → ok or conflict",
                            out.outcome.to_string(),
                            out.message,
                        ));
                    }
                }
            }
            Ok::<(), Verdict>(())
        }));
    }
    let mut first_err = None;
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(v)) => {
                first_err.get_or_insert(v);
            }
            Err(e) => {
                first_err.get_or_insert(Verdict::Error(format!("writer task: {e}")));
            }
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in reader_tasks {
        let _ = r.await;
    }
    let final_contacts = if first_err.is_none() {
        let fin = world.call(first, Request::Restore { secret }).await?;
        let fin: RestoreResult = fin.parse("final restore")?;
        Some(contacts_of(&fin.payload.0)?)
    } else {
        None
    };
    let (exchanges, overflow) = proxy.take_exchanges();
    if overflow > 0 {
        return Err(Verdict::Error(format!(
            "the client proxy recorded only {RECORD_LIMIT} of {} exchanges: the history would have holes",
            RECORD_LIMIT + overflow
        )));
    }
    let claims = std::mem::take(&mut *claims.lock().unwrap_or_else(|p| p.into_inner()));
    let h = history_of(&exchanges, claims, clock, final_contacts)?;
    let _ = std::fs::write(
        world.dir.join("history.json"),
        serde_json::to_vec_pretty(&h).unwrap_or_default(),
    );
    let seen = history::concurrency(&h);
    // A writer that failed is reported after the checker had its say: a 5xx the client
    // stumbled over is named with the request that got it.
    tracing::info!(user, writers, updates, readers, "stress: {seen}");
    let summary = match history::check(&h) {
        Ok(summary) => summary,
        Err(v) => {
            return Err(Verdict::fail(
                "a consistent history (no 5xx, no lost update, unique versions, no stale or mismatched read)",
                v.to_string(),
                format!("history checker: {}", v.rule),
            ));
        }
    };
    if let Some(v) = first_err {
        return Err(v);
    }
    if seen.conflicts == 0 || seen.overlapping_writes == 0 || seen.overlapping_reads == 0 {
        return Err(Verdict::fail(
            "at least one conflict (409), two overlapping write attempts and one read overlapping a write",
            seen.to_string(),
            "a history without races proves nothing about them: the case is too small or ran serialized",
        ));
    }
    tracing::info!(user, "{summary}");
    Ok(DriverStats {
        // How many races were seen depends on scheduling; the report's deterministic part
        // says only what was checked, the counts go to the log and history.json.
        note: "history consistent and concurrent: no 5xx, no lost update, unique versions, no stale or mismatched read; conflicts and overlapping reads observed".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use backproof_faults::Exchange;

    fn ex(
        clock: Instant,
        method: &str,
        if_match: Option<&str>,
        status: Option<u16>,
        etag: Option<&str>,
        body: &str,
    ) -> Exchange {
        Exchange {
            peer: "127.0.0.1:4000".parse().unwrap(),
            method: method.into(),
            target: "/v1/backup".into(),
            if_match: if_match.map(str::to_string),
            request_sha256: "sent".into(),
            started: clock + Duration::from_micros(10),
            finished: clock + Duration::from_micros(20),
            status,
            etag: etag.map(str::to_string),
            response_sha256: "answered".into(),
            response_body: Some(bytes::Bytes::from(body.to_string())),
        }
    }

    #[test]
    fn exchanges_become_what_was_sent_and_got() {
        let clock = Instant::now();
        let exchanges = [
            ex(
                clock,
                "POST",
                Some("\"2\""),
                Some(200),
                Some("\"3\""),
                r#"{"version":3,"sha256":"acked"}"#,
            ),
            ex(clock, "POST", None, Some(409), None, "{}"),
            ex(clock, "POST", Some("*"), Some(503), None, ""),
            ex(clock, "GET", None, Some(200), Some("\"3\""), ""),
            ex(clock, "GET", None, Some(500), None, ""),
            ex(clock, "GET", None, None, None, ""),
            ex(clock, "GET", None, Some(304), None, ""),
            Exchange {
                target: "/healthz".into(),
                ..ex(clock, "GET", None, Some(200), None, "")
            },
        ];
        let h = history_of(&exchanges, vec![], clock, None).unwrap();
        let kinds: Vec<OpKind> = h.ops.into_iter().map(|o| o.kind).collect();
        let write = |precondition, result| OpKind::Write {
            precondition,
            sha256: Some("sent".into()),
            adds: vec![],
            result,
        };
        assert_eq!(
            kinds,
            [
                write(
                    Precondition::IfMatch(2),
                    WriteResult::Ack {
                        version: 3,
                        sha256: Some("acked".into())
                    }
                ),
                write(Precondition::Create, WriteResult::Rejected),
                write(
                    Precondition::Unknown,
                    WriteResult::ServerError { status: 503 }
                ),
                OpKind::Read {
                    result: ReadResult::Ok {
                        version: 3,
                        sha256: "answered".into()
                    }
                },
                OpKind::Read {
                    result: ReadResult::Status { status: 500 }
                },
                OpKind::Read {
                    result: ReadResult::Failed
                },
            ]
        );
        // An acknowledged write that names no version is a failure, not a guess.
        let bad = [ex(clock, "POST", None, Some(201), None, "{}")];
        assert!(matches!(
            history_of(&bad, vec![], clock, None),
            Err(Verdict::Fail { .. })
        ));
    }
}
