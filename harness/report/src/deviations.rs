//! The known-deviations file (`--deviations FILE`): where an implementation records that
//! it deliberately differs from the reference, case by case, with a reason.
//!
//! ```toml
//! [[deviation]]
//! case = "conflict/428-instead-of-409"
//! reason = "our API gateway rewrites 409 to 428"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Deviation, Report};

#[derive(Debug, thiserror::Error)]
pub enum DeviationsError {
    #[error("cannot read deviations file {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "{origin} is not a valid deviations file: {message}\n\
         expected entries like:\n  [[deviation]]\n  case = \"conflict/some-case\"\n  reason = \"why we differ\""
    )]
    Syntax { origin: String, message: String },
    #[error(
        "{origin}: deviation #{index} has an empty {field}; every deviation needs a case id and a reason"
    )]
    Empty {
        origin: String,
        index: usize,
        field: &'static str,
    },
    #[error("{origin}: case {case:?} is listed twice (deviations #{first} and #{second})")]
    Duplicate {
        origin: String,
        case: String,
        first: usize,
        second: usize,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    deviation: Vec<Deviation>,
}

/// Parses the TOML text of a deviations file; `origin` names it in errors.
pub fn parse_deviations(text: &str, origin: &str) -> Result<Vec<Deviation>, DeviationsError> {
    let file: File = toml::from_str(text).map_err(|e| DeviationsError::Syntax {
        origin: origin.to_string(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let mut first_index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, d) in file.deviation.iter().enumerate() {
        let index = i + 1;
        for (field, value) in [("case", &d.case), ("reason", &d.reason)] {
            if value.trim().is_empty() {
                return Err(DeviationsError::Empty {
                    origin: origin.to_string(),
                    index,
                    field,
                });
            }
        }
        if let Some(&first) = first_index.get(d.case.as_str()) {
            return Err(DeviationsError::Duplicate {
                origin: origin.to_string(),
                case: d.case.clone(),
                first,
                second: index,
            });
        }
        first_index.insert(&d.case, index);
    }
    Ok(file.deviation)
}

pub fn load_deviations(path: &Path) -> Result<Vec<Deviation>, DeviationsError> {
    let text = std::fs::read_to_string(path).map_err(|cause| DeviationsError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    parse_deviations(&text, &path.display().to_string())
}

/// Records deviations in the report (so every rendering shows them). A deviation for a case
/// already recorded replaces the old reason.
pub fn apply_deviations(report: &mut Report, deviations: &[Deviation]) {
    for d in deviations {
        report.deviations.retain(|old| old.case != d.case);
        report.deviations.push(d.clone());
    }
    report.deviations.sort();
}
