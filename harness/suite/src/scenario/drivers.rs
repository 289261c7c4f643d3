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
use super::world::{Request, World};
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
    Ok(World::create(infra, &s.server_args, &env, &actors, &s.id).await?)
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
        world.shutdown().await;
        r?
    };
    if recorded.is_empty() {
        return Err(Verdict::fail(
            format!("the operation makes requests through the {proxy} proxy"),
            "none",
            "nothing to crash",
        ));
    }

    let mut points = 0;
    for (i, step) in recorded.iter().enumerate() {
        // The n-th request with this method and pattern, so unrelated traffic cannot shift it.
        let nth = recorded[..=i]
            .iter()
            .filter(|r| r.method == step.method && r.path == step.path)
            .count();
        for when in When::BOTH {
            points += 1;
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
            world.shutdown().await;
            r.map_err(|v| v.context(&label))?;
        }
    }
    Ok(DriverStats {
        note: format!(
            "{points} crash points ({} recorded steps: {})",
            recorded.len(),
            recorded
                .iter()
                .map(|s| s.label())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
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
        &Step::Restore {
            actor: actor.into(),
            secret: None,
            any_of: vec![old.clone(), new.clone()],
            expect: Expect::default(),
            contacts: Some(contacts.to_vec()),
            version: None,
        },
    )
    .await?;
    // The retried rotation completes (idempotent if it had already happened).
    steps::run(world, operation).await?;
    steps::run(
        world,
        &Step::Restore {
            actor: actor.into(),
            secret: Some(new.clone()),
            any_of: vec![],
            expect: Expect::default(),
            contacts: Some(contacts.to_vec()),
            version: None,
        },
    )
    .await?;
    steps::run(
        world,
        &Step::Restore {
            actor: actor.into(),
            secret: Some(old.clone()),
            any_of: vec![],
            expect: Expect::one(Expected::Error(ErrorClass::WrongKey)),
            contacts: None,
            version: None,
        },
    )
    .await?;
    Ok(())
}

/// Runs the stress driver and the history checker.
pub(crate) async fn stress(
    world: Arc<World>,
    writers: usize,
    updates: usize,
    secret: &Secret,
    user: &str,
) -> Result<DriverStats, Verdict> {
    let names: Vec<String> = (0..writers).map(|i| format!("w{i}")).collect();
    let clock = Instant::now();
    let now = move || clock.elapsed().as_micros() as u64;
    let ops: Arc<std::sync::Mutex<Vec<Op>>> = Arc::default();
    let record = {
        let ops = ops.clone();
        move |client: &str, invoke: u64, kind: OpKind| {
            let mut o = ops.lock().unwrap_or_else(|p| p.into_inner());
            let id = o.len();
            o.push(Op {
                id,
                client: client.to_string(),
                invoke,
                complete: now(),
                kind,
            });
        }
    };

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
    record(
        first,
        t,
        OpKind::Write {
            precondition: Precondition::Unknown,
            sha256: None,
            adds: vec![],
            result: WriteResult::Ack { version },
        },
    );

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let world = world.clone();
        let record = record.clone();
        let done = done.clone();
        let user = user.to_string();
        tokio::spawn(async move {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let t = now();
                let result = match world.fetch(&user).await {
                    Ok(Some((version, body))) => ReadResult::Ok {
                        version,
                        sha256: sha256_hex(&body),
                    },
                    Ok(None) => ReadResult::NotFound,
                    Err(_) => ReadResult::Failed,
                };
                record("reader", t, OpKind::Read { result });
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let mut tasks = Vec::new();
    for (wi, name) in names.iter().enumerate() {
        let world = world.clone();
        let record = record.clone();
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
                            },
                        )
                        .await?;
                    let result = if out.is_ok() {
                        WriteResult::Ack {
                            version: out.parse::<VersionResult>("backup")?.version,
                        }
                    } else if out.is(Expected::Error(ErrorClass::Conflict)) {
                        WriteResult::Rejected
                    } else {
                        WriteResult::Unknown
                    };
                    let acked = matches!(result, WriteResult::Ack { .. });
                    record(
                        &name,
                        t,
                        OpKind::Write {
                            precondition: Precondition::Unknown,
                            sha256: None,
                            adds: vec![contact.clone()],
                            result,
                        },
                    );
                    if acked {
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
    let _ = reader.await;
    if let Some(v) = first_err {
        return Err(v);
    }
    let fin = world.call(first, Request::Restore { secret }).await?;
    let fin: RestoreResult = fin.parse("final restore")?;
    let final_contacts = contacts_of(&fin.payload.0)?;
    let h = History {
        ops: ops.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        final_contacts: Some(final_contacts),
    };
    let _ = std::fs::write(
        world.dir.join("history.json"),
        serde_json::to_vec_pretty(&h).unwrap_or_default(),
    );
    match history::check(&h) {
        Ok(summary) => {
            // How many writes won depends on scheduling; the report's deterministic part
            // says only what was checked, the counts go to the log and history.json.
            tracing::info!(user, writers, updates, "{summary}");
            Ok(DriverStats {
                note: "history consistent: no lost update, unique versions, no stale read".into(),
            })
        }
        Err(v) => Err(Verdict::fail(
            "a consistent history (no lost update, unique versions, no stale read)",
            v.to_string(),
            format!("history checker: {}", v.rule),
        )),
    }
}
