//! What checking a profile's one vector file (`vectors/<profile>/<profile>.json`) takes
//! whatever the profile: reading it, selecting tests by id (`<profile>/<tcId>`), and running
//! each through an adapter or against the in-process codec.

use std::path::Path;

use serde_json::Value;

use super::{AdapterImplementation, CaseOutcome, CaseResult, VectorsError};

/// Reads `file` (relative to the vectors folder `dir`) as JSON.
pub(super) fn load(dir: &Path, file: &str) -> Result<Value, VectorsError> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|source| VectorsError::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| VectorsError::Invalid {
        path,
        reason: e.to_string(),
    })
}

/// Every test of a loaded file, group after group.
pub(super) fn tests(doc: &Value) -> impl Iterator<Item = &Value> {
    doc["testGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["tests"].as_array())
        .flatten()
}

/// A test run through an adapter: the whole file (what a test may need besides itself, such
/// as the library a file was recorded with), the test, the adapter.
pub(super) type Through<'a> =
    &'a dyn Fn(&Value, &Value, &mut AdapterImplementation) -> Result<CaseOutcome, String>;

/// How one profile's tests are run: through an adapter, or in process (which must give
/// exactly `result`; the `Err` says what it gave instead).
pub(super) struct Runner<'a> {
    pub file: &'static str,
    pub profile: &'static str,
    pub through: Through<'a>,
    pub local: &'a dyn Fn(&Value) -> Result<(), String>,
}

impl Runner<'_> {
    /// The selected tests of the file in `dir`, through `imp` when given.
    pub(super) fn check(
        &self,
        dir: &Path,
        mut imp: Option<&mut AdapterImplementation>,
        selected: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<CaseResult>, VectorsError> {
        let doc = load(dir, self.file)?;
        let mut out = Vec::new();
        for t in tests(&doc) {
            let tc_id = t["tcId"].as_u64().unwrap_or(0);
            let id = format!("{}/{tc_id}", self.profile);
            if !selected(&id) {
                continue;
            }
            let started = std::time::Instant::now();
            let outcome = match imp.as_deref_mut() {
                Some(a) => (self.through)(&doc, t, a)
                    .unwrap_or_else(|message| CaseOutcome::Error { message }),
                None => match (self.local)(t) {
                    Ok(()) => CaseOutcome::Pass,
                    Err(observed) => CaseOutcome::Fail {
                        expected: t["result"].as_str().unwrap_or_default().to_string(),
                        observed,
                    },
                },
            };
            out.push(CaseResult {
                id,
                file: self.file.to_string(),
                tc_id,
                comment: t["comment"].as_str().unwrap_or_default().to_string(),
                outcome,
                millis: started.elapsed().as_millis() as u64,
            });
        }
        Ok(out)
    }

    /// [`Runner::check`] with the selection as a glob over ids, as `backproof vectors
    /// check --filter` gives it.
    pub(super) fn check_filtered(
        &self,
        dir: &Path,
        imp: Option<&mut AdapterImplementation>,
        filter: Option<&str>,
    ) -> Result<Vec<CaseResult>, VectorsError> {
        let matcher = super::check::id_matcher(filter)?;
        self.check(dir, imp, &|id| {
            matcher.as_ref().is_none_or(|m| m.is_match(id))
        })
    }
}
