//! What checking a profile's one vector file (`vectors/<profile>/<profile>.json`) takes
//! whatever the profile: reading it, selecting tests by id (`<profile>/<tcId>`), and running
//! each through an adapter or against the in-process codec.

use std::path::Path;

use serde_json::Value;

use super::{AdapterImplementation, CaseOutcome, CaseResult, ClassError, VectorsError};

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

/// The classes a test passes with: its `result`, then every class it `accept`s.
pub(super) fn allowed(t: &Value) -> Result<Vec<&str>, String> {
    let expected = t["result"].as_str().ok_or("vector has no result")?;
    let mut allowed = vec![expected];
    allowed.extend(
        t["accept"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str),
    );
    Ok(allowed)
}

/// Grades an adapter's answer to `op`, the same way for every profile: a class not in
/// `allowed` fails; an `ok` fails when `wrong_ok` finds what differs from the vector; a pass
/// is `PassAcceptable` when `acceptable` gives the reason for the class answered (a class
/// the profile cannot tell apart, a documented disagreement), else `Pass`.
pub(super) fn grade(
    op: &str,
    allowed: &[&str],
    answer: &Result<Value, ClassError>,
    wrong_ok: &mut dyn FnMut(&Value) -> Result<Option<String>, String>,
    acceptable: &dyn Fn(&str) -> Option<String>,
) -> Result<CaseOutcome, String> {
    let got = match answer {
        Ok(_) => "ok",
        Err(e) => e.class.as_str(),
    };
    if !allowed.contains(&got) {
        return Ok(CaseOutcome::Fail {
            expected: allowed.join(" or "),
            observed: match answer {
                // A recovery that opened with the wrong candidate says which one it took.
                Ok(r) => match r.get("matched") {
                    Some(m) => format!("ok, matched {m}"),
                    None => "ok".to_owned(),
                },
                Err(e) => format!("{} ({})", e.class, e.message),
            },
        });
    }
    if let Ok(result) = answer
        && let Some(wrong) = wrong_ok(result)?
    {
        return Ok(CaseOutcome::Fail {
            expected: format!("{op} ok as the vector says"),
            observed: wrong,
        });
    }
    Ok(match acceptable(got) {
        Some(reason) => CaseOutcome::PassAcceptable { reason },
        None => CaseOutcome::Pass,
    })
}

/// The generator test every profile's checker has: `text` (the generator's output) must be
/// the committed `vectors/<file>` byte for byte, and the in-process `check` must pass every
/// test of it. With `write_env` set, the file is rewritten first (after a deliberate change
/// to the generator; review the diff like code).
#[cfg(test)]
pub(super) fn assert_regenerates(
    file: &str,
    text: &str,
    write_env: &str,
    check: impl Fn(&Value) -> Vec<(u64, Result<(), String>)>,
) {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../vectors")
        .join(file);
    if std::env::var_os(write_env).is_some() {
        std::fs::create_dir_all(committed.parent().unwrap()).unwrap();
        std::fs::write(&committed, text).unwrap();
    }
    let on_disk = std::fs::read_to_string(&committed).unwrap();
    assert!(
        on_disk == text,
        "{file} differs from the generator's output; regenerate it with {write_env}=1"
    );
    let doc: Value = serde_json::from_str(&on_disk).unwrap();
    let results = check(&doc);
    assert_eq!(results.len() as u64, doc["numberOfTests"].as_u64().unwrap());
    let failures: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}
