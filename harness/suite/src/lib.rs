#![forbid(unsafe_code)]
//! The conformance suite: known-answer vectors, the scenario engine with its drivers
//! (enumerate, stress), the history checker and the orchestration of a whole run.
//! See docs/ARCHITECTURE.md and docs/SCENARIOS.md.

pub(crate) mod history;
pub mod kdf_speed;
/// The profiles live with the scenario model, in their own crate (docs/FUZZING.md).
pub use backproof_scenario::profile;
pub mod run;
pub mod scenario;
pub mod tokens;
pub mod vectors;
