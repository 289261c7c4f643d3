//! The `fault` and `restart` steps: arm a fault on a proxy, start a process again.

use std::time::Duration;

use backproof_faults::{Fault, Rule, StepMatch, When};

use crate::scenario::model::{FaultKind, FaultWhen, RestartTarget, Step};
use crate::scenario::verdict::{StepResult, Verdict};
use crate::scenario::world::World;

fn proxy_when(w: FaultWhen) -> When {
    match w {
        FaultWhen::Before => When::BeforeForward,
        FaultWhen::After => When::AfterForward,
    }
}

pub(super) async fn run(world: &World, step: &Step) -> StepResult {
    match step {
        Step::Fault {
            proxy,
            at,
            fault,
            when,
            actor,
            status,
            ms,
            method,
            path,
            count,
        } => {
            let p = world.proxy(*proxy)?;
            // Every fault step starts a new exchange: what an earlier one armed is gone.
            p.reset();
            let when = proxy_when(*when);
            let f = match fault {
                FaultKind::KillClient => {
                    let a = actor.as_deref().unwrap_or_default();
                    let pid = world
                        .actor_pid(a)
                        .await
                        .ok_or_else(|| Verdict::Error(format!("actor {a} is not running")))?;
                    Fault::Kill { pid, when }
                }
                FaultKind::KillServer => {
                    let pid = world
                        .server_pid()
                        .await
                        .ok_or_else(|| Verdict::Error("server is not running".into()))?;
                    Fault::Kill { pid, when }
                }
                FaultKind::Drop => Fault::Drop { when },
                FaultKind::Status => Fault::Status(status.unwrap_or(503)),
                FaultKind::Delay => Fault::Delay(Duration::from_millis(ms.unwrap_or(100))),
                FaultKind::Gather => {
                    // Gathering one request, or an endless window, would only hold and drop.
                    if !matches!(count, Some(n) if *n >= 2) {
                        return Err(Verdict::Error(
                            "a gather fault needs `count` of at least 2 (the requests to gather)"
                                .into(),
                        ));
                    }
                    Fault::Gather(Duration::from_millis(ms.unwrap_or(60_000)))
                }
                FaultKind::Clear => return Ok(None),
            };
            let times = match count {
                None => 1,
                Some(0) => usize::MAX,
                Some(n) => *n,
            };
            p.arm_window(
                Rule {
                    at: *at,
                    matching: StepMatch {
                        method: method.clone(),
                        pattern_prefix: path.clone(),
                    },
                    fault: f,
                },
                times,
            );
            Ok(None)
        }
        Step::Restart { target, actor } => {
            match target {
                RestartTarget::Server => world.restart_server().await?,
                RestartTarget::Client => {
                    world
                        .restart_actor(actor.as_deref().unwrap_or_default())
                        .await?
                }
            }
            Ok(None)
        }
        _ => Err(Verdict::Error("not a fault or restart step".into())),
    }
}
