//! Known-answer vectors (vectors/README.md): the seeded generator that writes the JSON
//! files, and the checker that runs them against any [`Implementation`].

mod adapter;
pub mod byok_json_v1;
mod check;
pub mod dbm_stream_v1;
mod generate;
mod json;
pub mod metamask_vault;
pub mod noah_v0;
mod profile_file;

use std::path::{Path, PathBuf};

use crate::profile::Profile;

pub use adapter::{AdapterImplementation, CALL_TIMEOUT};
pub use check::{
    Candidate, CaseOutcome, CaseResult, ClassError, Implementation, OpResult, Recovered, Reference,
    SecretSpec, Summary, check, check_selected, summarize,
};
pub use generate::generate_all;

/// The vector files, in the order they are generated and checked.
pub const FILES: [&str; 5] = [
    "argon2id.json",
    "hkdf-sha256.json",
    "aes-256-gcm.json",
    "blob-v1.json",
    "smart-recovery.json",
];

#[derive(Debug, thiserror::Error)]
pub enum VectorsError {
    #[error(
        "cannot read {path}: {source}; pass --vectors DIR pointing at the repository's vectors/ folder"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not valid vector JSON: {reason}; regenerate it with `backproof vectors generate`"
    )]
    Invalid { path: PathBuf, reason: String },
    #[error("invalid --filter glob {glob:?}: {reason}")]
    Filter { glob: String, reason: String },
    #[error("generating {file}: {reason}")]
    Generate { file: &'static str, reason: String },
}

/// The file runner of a profile with one vector file of its own; `None` for v1, whose
/// files are [`FILES`].
fn runner(profile: Profile) -> Option<&'static profile_file::Runner<'static>> {
    match profile {
        Profile::V1 => None,
        Profile::ByokJsonV1 => Some(&byok_json_v1::RUNNER),
        Profile::MetamaskVault => Some(&metamask_vault::RUNNER),
        Profile::DbmStreamV1 => Some(&dbm_stream_v1::RUNNER),
        Profile::NoahV0 => Some(&noah_v0::RUNNER),
    }
}

/// A profile's vectors in `dir` whose ids `selected` keeps, through an adapter (what
/// `backproof run` does).
pub fn check_profile_through(
    profile: Profile,
    dir: &Path,
    imp: &mut AdapterImplementation,
    selected: &dyn Fn(&str) -> bool,
) -> Result<Vec<CaseResult>, VectorsError> {
    match runner(profile) {
        Some(r) => r.check(dir, Some(imp), selected),
        None => check_selected(dir, imp, selected),
    }
}

/// A profile's vectors in `dir` matching the glob `filter` (`backproof vectors check`),
/// through `adapter` when given, else against the in-process reference.
pub fn check_profile(
    profile: Profile,
    dir: &Path,
    adapter: Option<&mut AdapterImplementation>,
    filter: Option<&str>,
) -> Result<Vec<CaseResult>, VectorsError> {
    match runner(profile) {
        Some(r) => r.check_filtered(dir, adapter, filter),
        None => {
            let mut reference = Reference;
            let imp: &mut dyn Implementation = match adapter {
                Some(a) => a,
                None => &mut reference,
            };
            check(dir, imp, filter)
        }
    }
}

/// Write every vector file into `dir` (created if missing).
pub fn write_all(dir: &Path) -> Result<Vec<(PathBuf, usize)>, VectorsError> {
    std::fs::create_dir_all(dir).map_err(|source| VectorsError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, text, count) in generate_all()? {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| VectorsError::Write {
            path: path.clone(),
            source,
        })?;
        written.push((path, count));
    }
    Ok(written)
}
