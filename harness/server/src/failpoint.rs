//! Write-path failpoints, compiled into every build and inert until armed.
//!
//! Names: `after_s3_put`, `before_commit`, `after_commit`, `during_sweep` (see docs/API.md).
//! Armed at start from `BACKPROOF_FAILPOINTS` (`--failpoints`, hidden) in the `fail` crate's
//! syntax, e.g. `BACKPROOF_FAILPOINTS="after_s3_put=return(crash)"`. Actions with meaning here:
//! - `return(crash)` — `std::process::abort()`: a real crash (a panic would be caught by
//!   tokio and the server would live on);
//! - `return` / `return(error)` — the step fails as if storage were unreachable (503);
//! - the `fail` crate's own `sleep(ms)`, `pause`, `off`, `N*action` forms work as documented.
//!
//! The variable carries the `BACKPROOF_` prefix because the failpoints are in production
//! builds: the plain `FAILPOINTS` of other fail-rs programs (TiKV, …) in a server's
//! environment must not arm crashes here. It is ignored, with a warning.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::storage::StorageError;

/// The names, for documentation and tests.
pub const NAMES: [&str; 4] = [
    "after_s3_put",
    "before_commit",
    "after_commit",
    "during_sweep",
];

/// The environment variable that arms failpoints.
pub const ENV: &str = "BACKPROOF_FAILPOINTS";

/// Set once any failpoint is configured. Until then `hit` is one relaxed atomic load and
/// never touches the `fail` crate's registry lock (docs/API.md quotes the cost).
static ARMED: AtomicBool = AtomicBool::new(false);

#[inline]
pub fn hit(name: &'static str) -> Result<(), StorageError> {
    if !ARMED.load(Ordering::Relaxed) {
        return Ok(());
    }
    hit_armed(name)
}

#[cold]
fn hit_armed(name: &'static str) -> Result<(), StorageError> {
    fail::fail_point!(name, |arg: Option<String>| {
        if arg.as_deref() == Some("crash") {
            eprintln!("backproof-server: failpoint {name}: crashing (abort)");
            std::process::abort();
        }
        Err(StorageError::Injected(name))
    });
    Ok(())
}

/// Applies a spec `name=actions;name=actions`. Done by hand rather than with
/// `fail::FailScenario::setup`, whose guard holds a process-wide lock for its lifetime and
/// would serialize servers started in the same process (tests). Unknown names are refused:
/// a typo must not silently test nothing.
pub fn configure(spec: &str) -> Result<(), String> {
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, actions) = entry
            .split_once('=')
            .ok_or_else(|| format!("{ENV} entry {entry:?} is not name=actions"))?;
        let name = name.trim();
        if !NAMES.contains(&name) {
            return Err(format!(
                "{ENV} entry {entry:?}: no failpoint {name:?} (known: {})",
                NAMES.join(", ")
            ));
        }
        fail::cfg(name, actions.trim()).map_err(|e| format!("{ENV} entry {entry:?}: {e}"))?;
        ARMED.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// Warns when only the plain `FAILPOINTS` is set (see the module docs).
pub fn warn_plain_name() {
    if std::env::var_os("FAILPOINTS").is_some() && std::env::var_os(ENV).is_none() {
        tracing::warn!("FAILPOINTS is set but ignored; the server reads {ENV}");
        eprintln!("backproof-server: FAILPOINTS is set but ignored; the server reads {ENV}");
    }
}
