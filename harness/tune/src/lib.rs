#![forbid(unsafe_code)]
//! backproof-tune: finds Argon2id parameters whose derivation time lands in a target window
//! on the device that will run them (docs/TUNING.md), and the parsers the client uses to accept
//! them (`m=…,t=…,p=…` strings and the file `backproof tune --json FILE` writes).
//!
//! - [`search`]: the search itself, pure logic over a [`Measure`].
//! - [`iterations`]: the same for an iteration-count KDF (PBKDF2), and [`profiles`]: which
//!   KDF each profile's writer is tuned for and the local PBKDF2 measurement.
//! - [`guesses`]: what a guess costs under a design's fixed PBKDF2 next to Argon2id at the
//!   tuning target, measured with the same measurements, within a small budget.
//! - [`LocalMeasure`]: measures `backproof_format::derive_ikm`, the reference client's path.
//! - [`parse`]: `--target`, `--max-memory` and KDF parameter parsing; [`parse_kdf`] and
//!   [`load_kdf_file`] are the client's entry points.
//! - [`output`]: the `--json` result ([`TuneReport`]) and the human-readable summary.

pub mod adapter;
pub mod guesses;
pub mod iterations;
pub mod local;
pub mod output;
pub mod parse;
pub mod profiles;
pub mod progress;
pub mod search;

pub use backproof_format::{KdfParams, Policy};
pub use local::LocalMeasure;
pub use output::{RunInfo, TuneReport};
pub use parse::{
    KdfParseError, format_kdf, load_kdf_file, parse_kdf, parse_memory, parse_target,
    physical_memory_kib,
};
pub use search::{
    Config, Event, Measure, MeasureError, Phase, Probe, TuneError, Tuned, Window, tune,
};
