//! Measuring on this machine, through the same derivation the reference client uses.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::KdfParams;
use crate::search::{Measure, MeasureError};

/// Measures `backproof_format::derive_ikm` (NFC normalization + Argon2id v1.3, 32 bytes) with
/// a fixed passphrase and salt: the timing does not depend on them, and fixed inputs keep
/// every probe comparable.
#[derive(Debug, Clone)]
pub struct LocalMeasure {
    passphrase: String,
    salt: [u8; 16],
}

impl Default for LocalMeasure {
    fn default() -> Self {
        Self {
            passphrase: crate::adapter::PASSPHRASE.to_owned(),
            salt: crate::adapter::SALT,
        }
    }
}

impl Measure for LocalMeasure {
    fn measure(&mut self, params: &KdfParams) -> Result<Duration, MeasureError> {
        let start = Instant::now();
        let ikm = backproof_format::derive_ikm(
            black_box(&self.passphrase),
            black_box(&self.salt),
            black_box(params),
        )
        .map_err(|e| MeasureError::new(format!("derivation failed: {e}")))?;
        let elapsed = start.elapsed();
        black_box(&ikm);
        Ok(elapsed)
    }
}
