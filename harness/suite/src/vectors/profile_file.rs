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

/// Every test of a loaded file through the in-process `check_one`, as `(tcId, outcome)`:
/// what each profile's `check` gives `assert_regenerates` (a test-only helper).
pub(super) fn check_each(
    doc: &Value,
    check_one: impl Fn(&Value) -> Result<(), String>,
) -> Vec<(u64, Result<(), String>)> {
    tests(doc)
        .map(|t| (t["tcId"].as_u64().unwrap_or(0), check_one(t)))
        .collect()
}

/// A test's hex field `name` as bytes; the `Err` says which field is missing or not hex.
pub(super) fn unhex(t: &Value, name: &str) -> Result<Vec<u8>, String> {
    let v = t[name]
        .as_str()
        .ok_or_else(|| format!("vector has no {name}"))?;
    hex::decode(v).map_err(|e| format!("vector {name} is not hex: {e}"))
}

/// An adapter answer's hex member `name` as bytes; an answer without it is the adapter's
/// error, not the vector's.
pub(super) fn hex_answer(result: &Value, name: &str) -> Result<Vec<u8>, String> {
    result[name]
        .as_str()
        .and_then(|p| hex::decode(p).ok())
        .ok_or_else(|| format!("an answer without hex `{name}`"))
}

/// The request of an op whose members are the test's own fields of the same names (those
/// the test has), with `"profile"`.
pub(super) fn request_of(profile: &str, t: &Value, fields: &[&str]) -> Value {
    let mut r = serde_json::json!({ "profile": profile });
    for f in fields {
        if let Some(v) = t.get(*f) {
            r[*f] = v.clone();
        }
    }
    r
}

/// The `acceptable` of [`grade`] for a profile without a key check: another class the test
/// `accept`s than its `result` is the same failure seen from the other side, `why`.
pub(super) fn same_failure(got: &str, expected: &str, why: &str) -> Option<String> {
    (got != expected).then(|| format!("{got} for {expected}: {why}"))
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

/// The generator test every profile's checker has: `generated` written as committed
/// (canonical JSON, vectors/README.md) must be the committed `vectors/<file>` byte for byte,
/// and the in-process `check` must pass every test of it. With `write_env` set, the file is
/// rewritten first (after a deliberate change to the generator; review the diff like code).
#[cfg(test)]
pub(super) fn assert_regenerates(
    file: &str,
    generated: &Value,
    write_env: &str,
    check: impl Fn(&Value) -> Vec<(u64, Result<(), String>)>,
) {
    let text = super::json::to_canonical(generated);
    let committed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../vectors")
        .join(file);
    if std::env::var_os(write_env).is_some() {
        std::fs::create_dir_all(committed.parent().unwrap()).unwrap();
        std::fs::write(&committed, &text).unwrap();
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

/// The schema test every profile's checker has: the generated `doc` validates against
/// `vectors/schema/<schema>`, and each of `refused` (a field of the first test set to a
/// value the schema must refuse) makes it invalid, so the schema is known to refuse
/// something.
#[cfg(test)]
pub(super) fn assert_matches_schema(schema: &str, doc: &Value, refused: &[(&str, Value)]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../vectors/schema")
        .join(schema);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    for (field, value) in refused {
        let mut bad = doc.clone();
        bad["testGroups"][0]["tests"][0][*field] = value.clone();
        assert!(!validator.is_valid(&bad), "{field}");
    }
}

/// The envelope test of a profile file: `tcId`s are 1..=`numberOfTests` without a gap or a
/// repeat, every flag a test carries is defined in `notes` and every note is used (so the
/// notes describe the file), and `each` holds for every test with its flags.
#[cfg(test)]
pub(super) fn assert_envelope_consistent(doc: &Value, each: impl Fn(&Value, &[&str])) {
    let notes = doc["notes"].as_object().unwrap();
    let mut ids = std::collections::BTreeSet::new();
    let mut count = 0;
    let groups = doc["testGroups"].as_array().unwrap();
    for t in groups.iter().flat_map(|g| g["tests"].as_array().unwrap()) {
        count += 1;
        assert!(ids.insert(t["tcId"].as_u64().unwrap()));
        let flags: Vec<&str> = t["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        for f in &flags {
            assert!(notes.contains_key(*f), "{f}");
        }
        each(t, &flags);
    }
    assert_eq!(doc["numberOfTests"], count);
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        (1..=count).collect::<Vec<_>>()
    );
    for flag in notes.keys() {
        assert!(
            doc.to_string().contains(&format!("\"{flag}\"")),
            "{flag} unused"
        );
    }
}
