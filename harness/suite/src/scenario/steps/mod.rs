//! The scripted steps of docs/SCENARIOS.md, one file per kind: `adapter` (backup, restore,
//! rotate, recover, delete, open-stored), `http`, `storage`, `fault` (fault, restart), `dbm`
//! (import-key, dbm-backup, dbm-restore), `noah` (noah-backup, noah-restore, noah-list,
//! noah-check, noah-raw-upload).

mod adapter;
mod dbm;
mod fault;
mod http;
mod noah;
mod storage;

use sha2::{Digest, Sha256};

pub(crate) use adapter::{build_payload, contacts_of};

use super::model::Step;
use super::verdict::StepResult;
use super::world::World;

/// Runs one scripted step.
pub(crate) async fn run(world: &World, step: &Step) -> StepResult {
    match step {
        Step::Backup { .. }
        | Step::Restore { .. }
        | Step::Rotate { .. }
        | Step::Recover { .. }
        | Step::Delete { .. }
        | Step::OpenStored { .. }
        | Step::Seal { .. }
        | Step::SaveStored { .. }
        | Step::Distinct { .. } => adapter::run(world, step).await,
        Step::Http { .. } => http::run(world, step).await,
        Step::Storage { .. } => storage::run(world, step).await,
        Step::Fault { .. } | Step::Restart { .. } => fault::run(world, step).await,
        Step::Together { steps } => together(world, steps).await,
        Step::ImportKey { .. } | Step::DbmBackup { .. } | Step::DbmRestore { .. } => {
            dbm::run(world, step).await
        }
        Step::NoahBackup { .. }
        | Step::NoahRestore { .. }
        | Step::NoahList { .. }
        | Step::NoahCheck { .. }
        | Step::NoahRawUpload { .. } => noah::run(world, step).await,
    }
}

/// Runs `steps` at once and waits for all of them. The first failure in the order written
/// decides, so the verdict does not depend on which step finished first.
async fn together(world: &World, steps: &[Step]) -> StepResult {
    let results = futures::future::join_all(steps.iter().map(|st| Box::pin(run(world, st)))).await;
    let mut note = None;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(n) => note = note.or(n),
            Err(v) => return Err(v.context(&format!("together, step {}", i + 1))),
        }
    }
    Ok(note)
}

pub(crate) fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The first 200 characters of a body or message, for a report line.
pub(crate) fn clip(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s.to_string()
    }
}
