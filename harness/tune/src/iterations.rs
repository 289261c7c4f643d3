//! Tuning a KDF whose only cost is an iteration count (PBKDF2), the way [`crate::search`]
//! tunes Argon2id: pure logic over a measurement, so the unit tests drive it with a cost
//! model. Time is proportional to the iteration count, so the search is one-dimensional:
//! scale up from the profile's minimum until one derivation is long enough to time, then
//! ask for the count that lands in the window's middle, confirm with `runs` derivations.

use std::time::Duration;

use crate::search::{MeasureError, Window, fmt_duration, median, phase1_threshold};

/// One derivation at an iteration count.
pub trait MeasureIterations {
    /// Derives once with `iterations` and returns the elapsed monotonic time.
    fn measure(&mut self, iterations: u32) -> Result<Duration, MeasureError>;
}

/// The iteration counts a profile's readers accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub min: u32,
    pub max: u32,
}

/// What the search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunedIterations {
    pub iterations: u32,
    /// The final `runs` derivations; their median is inside the window.
    pub samples: Vec<Duration>,
    /// Derivations measured in all.
    pub derivations: usize,
}

/// Why no iteration count landed in the window.
#[derive(Debug, thiserror::Error)]
pub enum IterationsError {
    #[error(
        "too slow even at the profile's minimum: {iterations} iterations take {median} \
         (median), above the window's upper bound {high}; change --target (raise the upper \
         bound)", median = fmt_duration(*.median), high = fmt_duration(.window.high)
    )]
    TooSlowAtMin {
        iterations: u32,
        median: Duration,
        window: Window,
    },
    #[error(
        "too fast even at the profile's maximum: {iterations} iterations take {median} \
         (median), below the window's lower bound {low}; change --target (lower the window)",
        median = fmt_duration(*.median), low = fmt_duration(.window.low)
    )]
    TooFastAtMax {
        iterations: u32,
        median: Duration,
        window: Window,
    },
    #[error(
        "no iteration count landed in {low}..{high}: the closest was {iterations} at \
         {median} (median); change --target (widen the window) or --runs (more runs steady a \
         noisy machine)", low = fmt_duration(.window.low), high = fmt_duration(.window.high),
        median = fmt_duration(*.median)
    )]
    NoConvergence {
        iterations: u32,
        median: Duration,
        window: Window,
    },
    #[error("measuring {iterations} iterations failed: {source}")]
    Measure {
        iterations: u32,
        #[source]
        source: MeasureError,
    },
}

/// Proposals after scaling; a window a whole number of iterations can always hit is found in
/// two or three on a steady machine.
const MAX_ADJUSTMENTS: usize = 8;

/// Finds an iteration count within `limits` whose median of `runs` derivations lies in
/// `window`.
pub fn tune_iterations(
    m: &mut dyn MeasureIterations,
    limits: Limits,
    window: Window,
    runs: u32,
) -> Result<TunedIterations, IterationsError> {
    let mut derivations = 0;
    let mut sample = |m: &mut dyn MeasureIterations, iterations: u32, n: u32| {
        let mut out = Vec::new();
        for _ in 0..n.max(1) {
            derivations += 1;
            out.push(
                m.measure(iterations)
                    .map_err(|source| IterationsError::Measure { iterations, source })?,
            );
        }
        Ok::<_, IterationsError>(out)
    };
    let threshold = phase1_threshold(&window);
    let mut iterations = limits.min;
    let mut took = median(&sample(m, iterations, 1)?);
    // Scale: single derivations until one is long enough for the clock to judge.
    while took < threshold && iterations < limits.max {
        let factor = (threshold.as_secs_f64() / took.as_secs_f64().max(1e-6)).clamp(2.0, 64.0);
        iterations = scale(iterations, factor, limits);
        took = median(&sample(m, iterations, 1)?);
    }
    let middle = window.middle().as_secs_f64();
    let mut closest = (iterations, took);
    for _ in 0..MAX_ADJUSTMENTS {
        let proposal = scale(iterations, middle / took.as_secs_f64().max(1e-6), limits);
        let samples = sample(m, proposal, runs)?;
        let med = median(&samples);
        if window.contains(med) {
            return Ok(TunedIterations {
                iterations: proposal,
                samples,
                derivations,
            });
        }
        if proposal == limits.max && med < window.low {
            return Err(IterationsError::TooFastAtMax {
                iterations: proposal,
                median: med,
                window,
            });
        }
        if proposal == limits.min && med > window.high {
            return Err(IterationsError::TooSlowAtMin {
                iterations: proposal,
                median: med,
                window,
            });
        }
        let off = |d: Duration| (d.as_secs_f64() - middle).abs();
        if off(med) < off(closest.1) {
            closest = (proposal, med);
        }
        iterations = proposal;
        took = med;
    }
    Err(IterationsError::NoConvergence {
        iterations: closest.0,
        median: closest.1,
        window,
    })
}

/// `iterations × factor`, rounded to a thousand (readable counts, and fewer near-duplicate
/// proposals), within the limits.
fn scale(iterations: u32, factor: f64, limits: Limits) -> u32 {
    let want = (f64::from(iterations) * factor / 1000.0).round() * 1000.0;
    // `as` saturates on overflow and NaN becomes 0; the clamp then restores the limits.
    (want as u32).clamp(limits.min, limits.max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine where one iteration costs `per`.
    struct Model {
        per: Duration,
        seen: Vec<u32>,
    }

    impl MeasureIterations for Model {
        fn measure(&mut self, iterations: u32) -> Result<Duration, MeasureError> {
            self.seen.push(iterations);
            Ok(self.per * iterations)
        }
    }

    fn model(per: Duration) -> Model {
        Model { per, seen: vec![] }
    }

    const WINDOW: Window = Window::DEFAULT;
    const BYOK: Limits = Limits {
        min: 100_000,
        max: 10_000_000,
    };

    #[test]
    fn lands_in_the_window_from_the_minimum() {
        // 1 µs per iteration: 100 000 take 100 ms, the middle (750 ms) is 750 000.
        let mut m = model(Duration::from_micros(1));
        let t = tune_iterations(&mut m, BYOK, WINDOW, 5).unwrap();
        assert_eq!(t.iterations, 750_000);
        assert_eq!(t.samples.len(), 5);
        assert!(WINDOW.contains(median(&t.samples)));
        assert_eq!(m.seen[0], 100_000, "starts at the profile's minimum");
        assert_eq!(t.derivations, m.seen.len());
    }

    #[test]
    fn a_slow_device_at_the_minimum_is_refused_with_the_option_to_change() {
        let mut m = model(Duration::from_micros(20));
        let e = tune_iterations(&mut m, BYOK, WINDOW, 3).unwrap_err();
        assert!(
            matches!(
                e,
                IterationsError::TooSlowAtMin {
                    iterations: 100_000,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("--target"), "{e}");
    }

    #[test]
    fn a_fast_device_stops_at_the_maximum() {
        let mut m = model(Duration::from_nanos(10));
        let e = tune_iterations(&mut m, BYOK, WINDOW, 3).unwrap_err();
        assert!(
            matches!(
                e,
                IterationsError::TooFastAtMax {
                    iterations: 10_000_000,
                    ..
                }
            ),
            "{e}"
        );
        assert!(m.seen.iter().all(|&i| (BYOK.min..=BYOK.max).contains(&i)));
    }

    #[test]
    fn a_measurement_failure_names_the_count() {
        struct Failing;
        impl MeasureIterations for Failing {
            fn measure(&mut self, _: u32) -> Result<Duration, MeasureError> {
                Err(MeasureError::new("adapter gone"))
            }
        }
        let e = tune_iterations(&mut Failing, BYOK, WINDOW, 3).unwrap_err();
        assert_eq!(
            e.to_string(),
            "measuring 100000 iterations failed: adapter gone"
        );
    }

    #[test]
    fn scaling_rounds_and_stays_within_the_limits() {
        assert_eq!(scale(100_000, 7.5, BYOK), 750_000);
        assert_eq!(scale(100_000, 1e9, BYOK), BYOK.max);
        assert_eq!(scale(100_000, 0.0, BYOK), BYOK.min);
        assert_eq!(scale(100_000, f64::NAN, BYOK), BYOK.min);
    }
}
