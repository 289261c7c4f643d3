//! The measured guess rates of noah-v0's `kdf-weak` advisory (docs/profiles/noah-v0.md §5):
//! the profile's own derivation (PBKDF2-HMAC-SHA256, 10 000 iterations) next to Argon2id at
//! the tuning target, on the machine that runs the report, through `backproof tune`'s
//! measurements ([`backproof_tune::guesses`]).

use backproof_format::profiles::noah_v0;
use backproof_report::{GuessRate, KdfSpeed};
use backproof_tune::LocalMeasure;
use backproof_tune::guesses::{GuessBudget, GuessCosts, GuessError, measure_guess_costs};
use backproof_tune::profiles::NoahV0Derivation;
use backproof_tune::search::median;

use crate::profile::Profile;

/// The advisory the figures belong next to.
pub const ADVISORY: &str = "kdf-weak";

/// Measures noah-v0's derivation and Argon2id within `budget` ([`GuessBudget::RUN`] for a
/// run); blocks for about two seconds.
pub fn measure_noah_v0(budget: &GuessBudget) -> Result<(GuessCosts, KdfSpeed), GuessError> {
    let costs = measure_guess_costs(
        &mut NoahV0Derivation,
        noah_v0::ITERATIONS,
        &mut LocalMeasure::default(),
        budget,
    )?;
    let speed = noah_v0_speed(&costs);
    Ok((costs, speed))
}

/// The report's form of a measurement of noah-v0's derivation.
pub fn noah_v0_speed(costs: &GuessCosts) -> KdfSpeed {
    let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let a = costs.argon2id;
    KdfSpeed {
        profile: Profile::NoahV0.as_str().to_string(),
        advisory: ADVISORY.to_string(),
        design: GuessRate::new(
            format!("PBKDF2-HMAC-SHA256, {} iterations", costs.iterations),
            count(costs.fixed.len()),
            nanos(median(&costs.fixed)),
        ),
        argon2id: GuessRate::new(
            format!("Argon2id m={},t={},p={}", a.m_cost, a.t_cost, a.p_cost),
            count(costs.argon2id_samples.len()),
            nanos(median(&costs.argon2id_samples)),
        ),
        target_ms: [
            u64::try_from(costs.window.low.as_millis()).unwrap_or(u64::MAX),
            u64::try_from(costs.window.high.as_millis()).unwrap_or(u64::MAX),
        ],
    }
}
