//! What one guess at a passphrase costs on this machine under a design's fixed
//! iteration-count KDF, next to Argon2id at the tuning target: the figures the `kdf-weak`
//! advisory of noah-v0 carries (docs/profiles/noah-v0.md §5) and
//! `backproof tune --profile noah-v0` prints (docs/TUNING.md "Profiles").
//!
//! Pure logic over the tune measurements ([`MeasureIterations`] for the fixed KDF,
//! [`Measure`] for Argon2id), bounded by a [`GuessBudget`] so that a run pays a fixed, small
//! price for it: a few hundred milliseconds of the fixed KDF, one calibration derivation
//! and a few derivations of Argon2id. Argon2id is not searched for like `backproof tune`
//! does: one derivation at the start of the search's scale phase, then the search's own
//! proportional proposal ([`shape`]) for the window's middle, measured `argon2id_runs`
//! times. Both KDFs run on one lane (one thread), so each rate is per core.

use std::time::Duration;

use crate::iterations::MeasureIterations;
use crate::search::{Measure, MeasureError, Window, median, min_memory, shape};
use crate::{KdfParams, Policy};

/// Argon2id lanes: one, so that a derivation is one core's work and its rate compares with
/// the single-threaded PBKDF2's. (With more lanes the reference derivation runs them on
/// threads, and the wall time would hide how many cores it used.)
pub const LANES: u32 = 1;

/// The work (KiB × passes) of the calibration derivation: that of the reference client's
/// default, RFC 9106's second option (64 MiB × 3 passes), which takes a few hundred
/// milliseconds on one core of a desktop CPU: long enough to time, short of the window.
const CALIBRATION_WORK: f64 = 65536.0 * 3.0;

/// The fixed KDF's derivations are taken until this many have run, even past the budget:
/// a median of fewer is one outlier away from wrong.
const MIN_FIXED_RUNS: u32 = 3;

/// How much measuring a comparison may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuessBudget {
    /// Time spent deriving with the fixed KDF (at least three derivations are taken).
    pub fixed_time: Duration,
    /// The most derivations of the fixed KDF, whatever their time.
    pub fixed_max_runs: u32,
    /// Argon2id derivations at the proposed parameters, after the calibration one.
    pub argon2id_runs: u32,
    /// The tuning target Argon2id is aimed at.
    pub window: Window,
    /// Upper bound on Argon2id's m_cost, KiB (as `backproof tune --max-memory`).
    pub max_memory_kib: u32,
}

impl GuessBudget {
    /// What a `backproof run` spends: 300 ms of the fixed KDF (at most 2 000 derivations),
    /// two Argon2id derivations aimed at the middle of 500 ms – 1 s within 256 MiB, so
    /// about 2 s in all on an idle machine.
    pub const RUN: GuessBudget = GuessBudget {
        fixed_time: Duration::from_millis(300),
        fixed_max_runs: 2000,
        argon2id_runs: 2,
        window: Window::DEFAULT,
        max_memory_kib: 256 * 1024,
    };
}

/// The measured comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct GuessCosts {
    /// The fixed KDF's iteration count.
    pub iterations: u32,
    /// Every derivation of the fixed KDF.
    pub fixed: Vec<Duration>,
    /// The parameters Argon2id was measured at: the proposal for the window's middle.
    pub argon2id: KdfParams,
    /// The derivations at [`GuessCosts::argon2id`] (the calibration one excluded).
    pub argon2id_samples: Vec<Duration>,
    /// The calibration derivation: its parameters and time.
    pub calibration: (KdfParams, Duration),
    /// The window Argon2id was aimed at.
    pub window: Window,
}

impl GuessCosts {
    /// Guesses per second on one core with the fixed KDF (from the median derivation).
    pub fn fixed_per_second(&self) -> f64 {
        per_second(median(&self.fixed))
    }

    /// Guesses per second on one core with Argon2id at [`GuessCosts::argon2id`].
    pub fn argon2id_per_second(&self) -> f64 {
        per_second(median(&self.argon2id_samples))
    }
}

fn per_second(d: Duration) -> f64 {
    // A derivation the clock saw as instant is counted as one nanosecond, not infinity.
    1.0 / d.as_secs_f64().max(1e-9)
}

/// Why the comparison could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum GuessError {
    #[error(
        "the Argon2id memory budget {max_memory_kib} KiB is below the policy floor of {floor} \
         KiB for one lane: raise --max-memory"
    )]
    Budget { max_memory_kib: u32, floor: u32 },
    #[error("measuring the fixed KDF at {iterations} iterations failed: {source}")]
    Fixed {
        iterations: u32,
        #[source]
        source: MeasureError,
    },
    #[error("measuring Argon2id m={m} KiB, t={t}, p={p} failed: {source}",
        m = .params.m_cost, t = .params.t_cost, p = .params.p_cost)]
    Argon2id {
        params: KdfParams,
        #[source]
        source: MeasureError,
    },
}

/// Measures the fixed KDF at `iterations` and Argon2id aimed at the budget's window, within
/// the budget.
pub fn measure_guess_costs(
    fixed: &mut dyn MeasureIterations,
    iterations: u32,
    argon2id: &mut dyn Measure,
    budget: &GuessBudget,
) -> Result<GuessCosts, GuessError> {
    let policy = Policy::default();
    let floor = min_memory(&policy, LANES);
    if budget.max_memory_kib < floor {
        return Err(GuessError::Budget {
            max_memory_kib: budget.max_memory_kib,
            floor,
        });
    }

    let mut samples = Vec::new();
    let mut spent = Duration::ZERO;
    while samples.len() < budget.fixed_max_runs.max(1) as usize
        && (spent < budget.fixed_time || samples.len() < MIN_FIXED_RUNS as usize)
    {
        let d = fixed
            .measure(iterations)
            .map_err(|source| GuessError::Fixed { iterations, source })?;
        spent += d;
        samples.push(d);
    }

    let argon = |m: &mut dyn Measure, params: KdfParams| {
        m.measure(&params)
            .map_err(|source| GuessError::Argon2id { params, source })
    };
    let start = shape(CALIBRATION_WORK, budget.max_memory_kib, LANES, &policy);
    let took = argon(argon2id, start)?;
    // The search's phase-2 step: time ∝ m·t, so ask for the work that lands in the middle.
    let work =
        f64::from(start.m_cost) * f64::from(start.t_cost) * budget.window.middle().as_secs_f64()
            / took.as_secs_f64().max(1e-6);
    let params = shape(work, budget.max_memory_kib, LANES, &policy);
    let mut argon2id_samples = Vec::new();
    for _ in 0..budget.argon2id_runs.max(1) {
        argon2id_samples.push(argon(argon2id, params)?);
    }
    Ok(GuessCosts {
        iterations,
        fixed: samples,
        argon2id: params,
        argon2id_samples,
        calibration: (start, took),
        window: budget.window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine where the fixed KDF takes `fixed` per derivation and Argon2id `per_work`
    /// per KiB × pass.
    struct Model {
        fixed: Duration,
        per_work: Duration,
        fixed_seen: u32,
        argon_seen: Vec<KdfParams>,
    }

    impl MeasureIterations for Model {
        fn measure(&mut self, _: u32) -> Result<Duration, MeasureError> {
            self.fixed_seen += 1;
            Ok(self.fixed)
        }
    }

    impl Measure for Model {
        fn measure(&mut self, p: &KdfParams) -> Result<Duration, MeasureError> {
            self.argon_seen.push(*p);
            Ok(self.per_work * (p.m_cost * p.t_cost))
        }
    }

    fn model(fixed: Duration, per_work: Duration) -> Model {
        Model {
            fixed,
            per_work,
            fixed_seen: 0,
            argon_seen: vec![],
        }
    }

    fn measure(m: &mut Model, budget: &GuessBudget) -> Result<GuessCosts, GuessError> {
        // The fixed KDF gets a copy: one model cannot be borrowed mutably twice.
        let mut fixed = model(m.fixed, m.per_work);
        let out = measure_guess_costs(&mut fixed, 10_000, m, budget);
        m.fixed_seen = fixed.fixed_seen;
        out
    }

    #[test]
    fn spends_the_fixed_budget_and_aims_argon2id_at_the_middle() {
        // 3 ms per PBKDF2; Argon2id 1 µs per KiB·pass: the calibration (192 MiB × 1 pass)
        // takes 197 ms, the middle of the window 750 000 KiB·passes.
        let mut m = model(Duration::from_millis(3), Duration::from_micros(1));
        let c = measure(&mut m, &GuessBudget::RUN).unwrap();
        assert_eq!(c.fixed.len(), 100, "300 ms of 3 ms derivations");
        assert_eq!(m.fixed_seen, 100);
        assert!((c.fixed_per_second() - 1000.0 / 3.0).abs() < 1e-6);
        // Calibration, then the two runs at the proposal, nothing else.
        assert_eq!(m.argon_seen.len(), 3);
        assert_eq!(m.argon_seen[0], c.calibration.0);
        assert!(m.argon_seen[1..].iter().all(|p| *p == c.argon2id));
        assert_eq!(c.argon2id.p_cost, 1);
        assert!(Policy::default().check(&c.argon2id).is_ok());
        assert!(c.argon2id.m_cost <= GuessBudget::RUN.max_memory_kib);
        let med = median(&c.argon2id_samples);
        assert!(Window::DEFAULT.contains(med), "{med:?}");
        assert!(c.fixed_per_second() > c.argon2id_per_second());
    }

    #[test]
    fn a_slow_fixed_kdf_still_gets_three_runs_and_a_fast_one_stops_at_the_cap() {
        let mut slow = model(Duration::from_secs(1), Duration::from_nanos(4));
        assert_eq!(
            measure(&mut slow, &GuessBudget::RUN).unwrap().fixed.len(),
            3
        );
        let mut fast = model(Duration::from_nanos(50), Duration::from_nanos(4));
        assert_eq!(
            measure(&mut fast, &GuessBudget::RUN).unwrap().fixed.len(),
            2000
        );
    }

    #[test]
    fn a_slow_machine_is_proposed_less_work_but_never_below_the_floor() {
        // 100 µs per KiB·pass: the calibration takes 19.7 s, the window needs 7 500 KiB·passes.
        let mut m = model(Duration::from_millis(3), Duration::from_micros(100));
        let c = measure(&mut m, &GuessBudget::RUN).unwrap();
        assert!(c.argon2id.m_cost < c.calibration.0.m_cost);
        assert!(
            Policy::default().check(&c.argon2id).is_ok(),
            "{:?}",
            c.argon2id
        );
    }

    #[test]
    fn failures_name_the_kdf_and_a_tiny_budget_names_the_option() {
        struct Failing;
        impl MeasureIterations for Failing {
            fn measure(&mut self, _: u32) -> Result<Duration, MeasureError> {
                Err(MeasureError::new("gone"))
            }
        }
        impl Measure for Failing {
            fn measure(&mut self, _: &KdfParams) -> Result<Duration, MeasureError> {
                Err(MeasureError::new("gone"))
            }
        }
        let e =
            measure_guess_costs(&mut Failing, 10_000, &mut Failing, &GuessBudget::RUN).unwrap_err();
        assert_eq!(
            e.to_string(),
            "measuring the fixed KDF at 10000 iterations failed: gone"
        );
        let mut ok = model(Duration::from_millis(3), Duration::from_nanos(4));
        let e = measure_guess_costs(&mut ok, 10_000, &mut Failing, &GuessBudget::RUN).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("measuring Argon2id m=196608 KiB, t=1, p=1 failed"),
            "{e}"
        );
        let tiny = GuessBudget {
            max_memory_kib: 1024,
            ..GuessBudget::RUN
        };
        let e = measure_guess_costs(&mut ok, 10_000, &mut Failing, &tiny).unwrap_err();
        assert!(e.to_string().contains("raise --max-memory"), "{e}");
    }
}
