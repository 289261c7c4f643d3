//! The scenario language (docs/SCENARIOS.md): the profiles a case belongs to ([`profile`])
//! and the typed model of a scenario file ([`model`]). The suite's engine runs what this
//! crate reads; it stands alone so that the fuzz targets (docs/FUZZING.md) load scenario
//! files without linking the engine.
#![forbid(unsafe_code)]

pub mod model;
pub mod profile;
