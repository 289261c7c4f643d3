//! Write-path failpoints (cargo feature `failpoints`; compiled out otherwise).
//!
//! Names: `after_s3_put`, `before_commit`, `after_commit`, `during_sweep` (see docs/API.md).
//! Configured with the `FAILPOINTS` env var in the `fail` crate's syntax, e.g.
//! `FAILPOINTS="after_s3_put=return(crash)"`. Actions with meaning here:
//! - `return(crash)` — `std::process::abort()`: a real crash (a panic would be caught by
//!   tokio and the server would live on);
//! - `return` / `return(error)` — the step fails as if storage were unreachable (503);
//! - the `fail` crate's own `sleep(ms)`, `pause`, `off`, `N*action` forms work as documented.

use crate::storage::StorageError;

/// The names, for documentation and tests.
pub const NAMES: [&str; 4] = [
    "after_s3_put",
    "before_commit",
    "after_commit",
    "during_sweep",
];

#[cfg(feature = "failpoints")]
pub fn hit(name: &'static str) -> Result<(), StorageError> {
    fail::fail_point!(name, |arg: Option<String>| {
        if arg.as_deref() == Some("crash") {
            eprintln!("backproof-server: failpoint {name}: crashing (abort)");
            std::process::abort();
        }
        Err(StorageError::Injected(name))
    });
    Ok(())
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &'static str) -> Result<(), StorageError> {
    Ok(())
}

/// Applies `FAILPOINTS` (`name=actions;name=actions`). Done by hand rather than with
/// `fail::FailScenario::setup`, whose guard holds a process-wide lock for its lifetime and
/// would serialize servers started in the same process (tests).
#[cfg(feature = "failpoints")]
pub fn setup_from_env() -> Result<(), String> {
    let Ok(spec) = std::env::var("FAILPOINTS") else {
        return Ok(());
    };
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, actions) = entry
            .split_once('=')
            .ok_or_else(|| format!("FAILPOINTS entry {entry:?} is not name=actions"))?;
        fail::cfg(name.trim(), actions.trim())
            .map_err(|e| format!("FAILPOINTS entry {entry:?}: {e}"))?;
    }
    Ok(())
}

#[cfg(not(feature = "failpoints"))]
pub fn setup_from_env() -> Result<(), String> {
    if std::env::var_os("FAILPOINTS").is_some() {
        return Err(
            "FAILPOINTS is set but this build has no failpoints (build with --features failpoints)"
                .into(),
        );
    }
    Ok(())
}
