//! The scenario engine: TOML scenario files (docs/SCENARIOS.md), the world each runs in,
//! scripted steps and the built-in drivers, and the runner that turns them into report
//! cases.

mod drivers;
mod steps;
mod verdict;
mod world;

use std::collections::BTreeSet;
use std::sync::Arc;

use backproof_report::{CaseResult, Outcome};
// The file model lives in its own crate, so that the fuzz targets load scenario files
// without linking the engine (docs/FUZZING.md).
use backproof_scenario::model;
use backproof_stack::Stack;

pub use model::{
    Actor, AuthMode, BodyDef, Candidate, Capability, Driver, Expect, Expected, FaultKind,
    FaultWhen, LoadError, Op, Profile, Proxy, RestartTarget, Scenario, Secret, Side, Step,
    StorageField, StorageOp, StoreObject, UnknownCapability, expand, load_all, scenario_schema,
};
pub use world::{ServerTarget, Target, World, WorldError};

use verdict::Verdict;

/// What every scenario of a run shares: the stack and the target.
#[derive(Debug)]
pub struct Infra {
    /// The throwaway Postgres + S3 that each world takes a database and a bucket from;
    /// `None` when the server is given by URL (it has storage of its own).
    pub stack: Option<Stack>,
    pub target: Target,
    /// `backproof run --thorough`: the stress driver's large sizes.
    pub thorough: bool,
}

/// The capabilities a scenario needs: `requires` plus the ones its steps imply.
fn implied_requirements(s: &Scenario) -> BTreeSet<Capability> {
    let mut r: BTreeSet<Capability> = s.requires.iter().copied().collect();
    let mut visit = |st: &Step| match st {
        Step::Backup { .. } => {
            r.insert(Capability::Op(Op::Backup));
        }
        Step::Restore { .. } => {
            r.insert(Capability::Op(Op::Restore));
        }
        Step::Rotate { .. } => {
            r.insert(Capability::Op(Op::Rotate));
        }
        Step::Recover { .. } => {
            r.insert(Capability::Op(Op::Recover));
        }
        Step::Delete { .. } => {
            r.insert(Capability::Op(Op::Delete));
        }
        Step::OpenStored { .. } => {
            r.insert(Capability::Op(Op::Open));
        }
        Step::Seal { .. } => {
            r.insert(Capability::Op(Op::Seal));
        }
        Step::Storage { .. } => {
            r.insert(Capability::StorageAccess);
        }
        Step::ImportKey { .. } => {
            r.insert(Capability::Op(Op::ImportKey));
            r.insert(Capability::Op(Op::ExportKey));
        }
        Step::DbmBackup { .. } => {
            r.insert(Capability::Op(Op::Backup));
        }
        Step::DbmRestore { .. } => {
            r.insert(Capability::Op(Op::Restore));
        }
        Step::NoahBackup { .. } => {
            r.insert(Capability::Op(Op::Backup));
        }
        Step::NoahRestore { .. } => {
            r.insert(Capability::Op(Op::Restore));
        }
        Step::NoahList { .. } => {
            r.insert(Capability::Op(Op::List));
        }
        // The harness's own reads through the server's API v0 and its presigned URLs.
        Step::NoahCheck { .. } | Step::NoahRawUpload { .. } => {}
        Step::Fault { fault, proxy, .. } => {
            if *fault == FaultKind::KillServer {
                r.insert(Capability::ServerRestart);
            }
            // The proxy between the server and S3 exists only when the harness owns the
            // stack.
            if *proxy == Proxy::S3 {
                r.insert(Capability::StorageAccess);
            }
        }
        Step::Restart {
            target: RestartTarget::Server,
            ..
        } => {
            r.insert(Capability::ServerRestart);
        }
        Step::Restart {
            target: RestartTarget::Client,
            ..
        }
        | Step::Http { .. }
        | Step::SaveStored { .. }
        | Step::Distinct { .. }
        // Its steps are visited on their own (`Step::leaves`).
        | Step::Together { .. } => {}
    };
    for st in s.steps.iter().flat_map(Step::leaves) {
        visit(st);
    }
    match &s.driver {
        Some(Driver::Enumerate {
            setup,
            operation,
            proxy,
            ..
        }) => {
            for st in setup {
                visit(st);
            }
            visit(operation);
            r.insert(Capability::ServerRestart);
            r.insert(Capability::Op(Op::Restore));
            if *proxy == Proxy::S3 {
                r.insert(Capability::StorageAccess);
            }
        }
        Some(Driver::Stress { .. }) => {
            r.insert(Capability::Op(Op::Backup));
            r.insert(Capability::Op(Op::Restore));
        }
        None => {}
    }
    if !s.server_env.is_empty() || s.auto_restart {
        r.insert(Capability::ServerRestart);
    }
    if s.server_env.contains_key("BACKPROOF_FAILPOINTS") {
        r.insert(Capability::Failpoints);
    }
    if !s.actors.is_empty() {
        r.insert(Capability::ClientAdapter);
    }
    r
}

/// Whether a step of the scenario waits for a presigned URL to expire.
fn waits_for_expiry(s: &Scenario) -> bool {
    s.steps.iter().flat_map(Step::leaves).any(|st| {
        matches!(
            st,
            Step::NoahRawUpload {
                wait_expiry: true,
                ..
            }
        )
    })
}

/// Runs one scenario to a report case.
pub async fn run_scenario(infra: &Infra, s: &Scenario) -> CaseResult {
    let mut case = CaseResult {
        id: s.id.clone(),
        family: s.family.clone(),
        title: s.title.clone(),
        outcome: Outcome::Pass,
        expected: "every step as scripted".into(),
        observed: "as expected".into(),
        reason: String::new(),
    };
    // A profile the client does not offer is no failure of it: the case says so.
    if !infra
        .target
        .profiles
        .iter()
        .any(|p| p == s.profile.as_str())
    {
        case.outcome = Outcome::Unsupported;
        case.observed = "not run".into();
        case.reason = crate::run::not_offered_reason(s.profile, &infra.target.profiles);
        return case;
    }
    if s.profile.store().client_writes_s3() && infra.stack.is_none() {
        case.outcome = Outcome::Unsupported;
        case.observed = "not run".into();
        case.reason = format!(
            "profile {} writes S3 objects itself and needs the harness's own S3 (no stack with a server given by URL)",
            s.profile
        );
        return case;
    }
    // An adapter may announce ops this harness does not know; they are never required.
    let caps: BTreeSet<Capability> = infra
        .target
        .capabilities
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    // Sorted by spelling, as the reports have always listed them.
    let mut missing: Vec<String> = implied_requirements(s)
        .into_iter()
        .filter(|r| !caps.contains(r))
        .map(|r| r.to_string())
        .collect();
    missing.sort();
    if !missing.is_empty() {
        case.outcome = Outcome::Unsupported;
        case.observed = "not run".into();
        case.reason = format!("the target does not offer: {}", missing.join(", "));
        if !infra.target.server.is_owned() {
            let why: Vec<&str> = missing
                .iter()
                .filter_map(|m| match m.parse() {
                    Ok(Capability::ServerRestart) => Some("restart the server"),
                    Ok(Capability::StorageAccess) => Some("reach its storage"),
                    Ok(Capability::Failpoints) => Some("switch on its failpoints"),
                    _ => None,
                })
                .collect();
            if !why.is_empty() {
                case.reason.push_str(&format!(
                    " (target given by URL: backproof cannot {})",
                    why.join(", ")
                ));
            }
        }
        return case;
    }
    // A URL used after its expiry can only be waited for when the case sets a short expiry,
    // and only the reference server the suite starts takes the case's `server_args`.
    if waits_for_expiry(s) && !matches!(infra.target.server, world::ServerTarget::Reference { .. })
    {
        case.outcome = Outcome::Unsupported;
        case.observed = "not run".into();
        case.reason = "the case waits for an upload URL to expire and shortens the expiry with `server_args`, which only the reference server started by the suite takes (a server given by URL or command keeps its own, minutes long)".into();
        return case;
    }
    let result = match &s.driver {
        Some(Driver::Enumerate {
            setup,
            operation,
            side,
            proxy,
            user,
            contacts,
        }) => {
            if !s.steps.is_empty() {
                Err(Verdict::Error(
                    "an enumerate scenario has no top-level steps".into(),
                ))
            } else if s.profile.store().client_writes_s3()
                && (*side != Side::Client || *proxy != Proxy::Client)
            {
                Err(Verdict::Error(format!(
                    "profile {} has no server: its enumerate driver kills the client at its own S3 requests (side = \"client\", proxy = \"client\")",
                    s.profile
                )))
            } else if s.profile.store().client_writes_s3() {
                // Only the client exists: it is killed at its own S3 requests.
                drivers::enumerate_object_store(infra, s, setup, operation, user, contacts)
                    .await
                    .map(|st| (None, Some(st.note)))
            } else {
                drivers::enumerate(infra, s, setup, operation, *side, *proxy, user, contacts)
                    .await
                    .map(|st| (None, Some(st.note)))
            }
        }
        _ => scripted(infra, s).await,
    };
    match result {
        Ok((acceptable, note)) => {
            if let Some(a) = acceptable {
                case.outcome = Outcome::PassAcceptable;
                case.reason = a;
            }
            if let Some(n) = note {
                case.observed = n;
            }
        }
        Err(Verdict::Fail {
            expected,
            observed,
            reason,
        }) => {
            case.outcome = Outcome::Fail;
            case.expected = expected;
            case.observed = observed;
            case.reason = reason;
        }
        Err(Verdict::Error(e)) => {
            case.outcome = Outcome::Error;
            case.observed = "the harness could not run this case".into();
            case.reason = e;
        }
    }
    case
}

type Scripted = Result<(Option<String>, Option<String>), Verdict>;

async fn scripted(infra: &Infra, s: &Scenario) -> Scripted {
    let actors: Vec<(String, String)> = s
        .actors
        .iter()
        .map(|a| (a.name.clone(), a.user.clone()))
        .collect();
    let mut all_actors = actors.clone();
    if let Some(Driver::Stress {
        writers,
        thorough_writers,
        user,
        ..
    }) = &s.driver
    {
        let writers = match thorough_writers {
            Some(w) if infra.thorough => *w,
            _ => *writers,
        };
        for i in 0..writers {
            all_actors.push((format!("w{i}"), user.clone()));
        }
    }
    let env: Vec<(String, String)> = s.server_env.clone().into_iter().collect();
    let world =
        Arc::new(World::create(infra, &s.server_args, &env, &all_actors, &s.id, s.profile).await?);
    let watcher = s
        .auto_restart
        .then(|| world::spawn_auto_restart(world.clone()));
    let r = async {
        let mut acceptable = None;
        for (i, st) in s.steps.iter().enumerate() {
            match steps::run(&world, st).await {
                Ok(Some(a)) => acceptable = Some(a),
                Ok(None) => {}
                Err(v @ Verdict::Fail { .. }) => return Err(v.context(&format!("step {}", i + 1))),
                Err(e) => return Err(e),
            }
        }
        let mut note = None;
        if let Some(Driver::Stress {
            writers,
            updates,
            secret,
            user,
            thorough_writers,
            thorough_updates,
            readers,
        }) = &s.driver
        {
            let (writers, updates) = if infra.thorough {
                (
                    thorough_writers.unwrap_or(*writers),
                    thorough_updates.unwrap_or(*updates),
                )
            } else {
                (*writers, *updates)
            };
            let size = drivers::StressSize {
                writers,
                updates,
                readers: *readers,
            };
            let st = drivers::stress(world.clone(), size, secret, user).await?;
            note = Some(st.note);
        }
        Ok((acceptable, note))
    }
    .await;
    world.shutdown(infra).await;
    if let Some(w) = watcher {
        w.abort();
    }
    r
}

/// Keeps the scenarios whose id matches `glob` (`*` within and across `/`).
pub fn filter(scenarios: Vec<Scenario>, glob: Option<&str>) -> Result<Vec<Scenario>, LoadError> {
    let Some(g) = glob else { return Ok(scenarios) };
    let m = globset::GlobBuilder::new(g)
        .literal_separator(false)
        .build()
        .map_err(|source| LoadError::Filter {
            glob: g.to_string(),
            source,
        })?
        .compile_matcher();
    Ok(scenarios
        .into_iter()
        .filter(|s| m.is_match(&s.id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        let mut s: Scenario = toml::from_str(text).unwrap();
        s.family = s.id.split('/').next().unwrap().into();
        s
    }

    #[test]
    fn requirements_follow_the_steps() {
        let s = scenario(
            r#"
id = "corrupted-blob/x"
title = "t"
why = "w"
[[actors]]
name = "p"
user = "alice"
[[steps]]
do = "backup"
actor = "p"
secret = { key = "0000000000000000000000000000000000000000000000000000000000000000" }
[[steps]]
do = "storage"
user = "alice"
op = "flip"
offset = 3
"#,
        );
        let r = implied_requirements(&s);
        for need in [
            Capability::Op(Op::Backup),
            Capability::StorageAccess,
            Capability::ClientAdapter,
        ] {
            assert!(r.contains(&need), "{r:?}");
        }
        assert!(!r.contains(&Capability::ServerRestart));
    }

    #[test]
    fn filter_globs_over_ids() {
        let all: Vec<Scenario> = ["protocol/a", "protocol/b", "conflict/stress-raw-key"]
            .iter()
            .map(|id| scenario(&format!("id = \"{id}\"\ntitle = \"t\"\nwhy = \"w\"\n")))
            .collect();
        let ids = |g| {
            filter(all.clone(), Some(g))
                .unwrap()
                .into_iter()
                .map(|s| s.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("protocol/*"), ["protocol/a", "protocol/b"]);
        assert_eq!(ids("*stress*"), ["conflict/stress-raw-key"]);
        assert!(filter(all, Some("[")).is_err());
    }
}
