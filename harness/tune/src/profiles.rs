//! The KDFs `backproof tune` fits, per profile (docs/TUNING.md "Profiles"), and the local
//! measurement of the iteration-count ones through each profile's own derivation.

use std::hint::black_box;
use std::time::{Duration, Instant};

use backproof_format::profiles::{byok_json_v1 as byok, metamask_vault as mm, noah_v0 as noah};

use crate::iterations::{Limits, MeasureIterations};
use crate::search::MeasureError;

/// A KDF a profile's writer can be tuned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunableKdf {
    /// Argon2id under the blob v1 policy (profiles v1 and byok-json-v1).
    Argon2id,
    /// PBKDF2-HMAC-SHA512, byok-json-v1's desktop KDF.
    Pbkdf2Sha512,
    /// PBKDF2-HMAC-SHA256, metamask-vault's KDF.
    Pbkdf2Sha256,
}

impl TunableKdf {
    /// The name `--kdf` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            TunableKdf::Argon2id => "argon2id",
            TunableKdf::Pbkdf2Sha512 => "pbkdf2-sha512",
            TunableKdf::Pbkdf2Sha256 => "pbkdf2-sha256",
        }
    }

    /// The iteration counts the profile's readers accept, from where the search starts (the
    /// profile's minimum, or for metamask-vault its legacy count, below which no writer
    /// should go) to its maximum; `None` for Argon2id, which [`crate::tune`] shapes.
    pub fn limits(self) -> Option<Limits> {
        match self {
            TunableKdf::Argon2id => None,
            TunableKdf::Pbkdf2Sha512 => Some(Limits {
                min: byok::PBKDF2_MIN_ITERATIONS,
                max: byok::PBKDF2_MAX_ITERATIONS,
            }),
            TunableKdf::Pbkdf2Sha256 => Some(Limits {
                min: mm::LEGACY_ITERATIONS.max(mm::MIN_ITERATIONS),
                max: mm::MAX_ITERATIONS,
            }),
        }
    }
}

/// Measures a PBKDF2 on this machine through the profile codec's own `derive_key`, with the
/// probe passphrase and a fixed salt (timing depends on neither).
#[derive(Debug, Clone, Copy)]
pub struct LocalIterations(pub TunableKdf);

impl MeasureIterations for LocalIterations {
    fn measure(&mut self, iterations: u32) -> Result<Duration, MeasureError> {
        let kdf = self.0;
        timed(|pass| match kdf {
            TunableKdf::Pbkdf2Sha512 => byok::derive_key(
                pass,
                &byok::Kdf::Pbkdf2 { iterations },
                &black_box([0x5a; 32]),
            )
            .map_err(|e| e.to_string()),
            TunableKdf::Pbkdf2Sha256 => mm::derive_key(
                pass,
                &mm::Kdf::Pbkdf2 { iterations },
                &black_box([0x5a; 32]),
            )
            .map_err(|e| e.to_string()),
            TunableKdf::Argon2id => Err("Argon2id is tuned by backproof_tune::tune".to_owned()),
        })
    }
}

/// Measures noah-v0's own `derive_key` (salt from the seedphrase, then PBKDF2-HMAC-SHA256
/// at the design's fixed [`noah::ITERATIONS`]): the profile's KDF cannot be tuned, only
/// timed, for the `kdf-weak` advisory's guess rate (docs/profiles/noah-v0.md §5). Any other
/// count is refused: the codec has no way to derive with it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoahV0Derivation;

impl MeasureIterations for NoahV0Derivation {
    fn measure(&mut self, iterations: u32) -> Result<Duration, MeasureError> {
        if iterations != noah::ITERATIONS {
            return Err(MeasureError::new(format!(
                "noah-v0 derives with a fixed {} iterations, not {iterations}",
                noah::ITERATIONS
            )));
        }
        timed(|pass| noah::derive_key(pass).map_err(|e| e.to_string()))
    }
}

/// Times one derivation of the probe passphrase; the inputs and the key go through
/// `black_box` so the optimizer cannot drop or hoist the work.
fn timed<K>(derive: impl FnOnce(&str) -> Result<K, String>) -> Result<Duration, MeasureError> {
    let pass = black_box(crate::adapter::PASSPHRASE);
    let start = Instant::now();
    let key = derive(pass).map_err(|e| MeasureError::new(format!("derivation failed: {e}")))?;
    let elapsed = start.elapsed();
    black_box(&key);
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_pbkdf2_measures_the_profiles_derivation_within_its_bounds() {
        for kdf in [TunableKdf::Pbkdf2Sha512, TunableKdf::Pbkdf2Sha256] {
            let limits = kdf.limits().unwrap();
            LocalIterations(kdf).measure(limits.min).unwrap();
            // One past the maximum is what the codec refuses: the limits are the codec's.
            let e = LocalIterations(kdf).measure(limits.max + 1).unwrap_err();
            assert!(e.message.contains("derivation failed"), "{e}");
        }
        assert!(LocalIterations(TunableKdf::Argon2id).measure(1).is_err());
    }

    #[test]
    fn noah_v0_is_timed_at_its_fixed_count_only() {
        NoahV0Derivation.measure(noah::ITERATIONS).unwrap();
        let e = NoahV0Derivation.measure(noah::ITERATIONS + 1).unwrap_err();
        assert!(e.message.contains("fixed 10000 iterations"), "{e}");
    }
}
