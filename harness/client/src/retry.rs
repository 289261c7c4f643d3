//! Retry policy for transient failures: exponential backoff with jitter, bounded both in
//! attempts and in total time (documented in docs/CLIENT.md).

use std::time::Duration;

/// When and how long to retry a request that failed with a network error or a 5xx.
///
/// Attempt `n` (counting from 0 for the first retry) waits a random duration in
/// `[d/2, d]` where `d = min(max_delay, base_delay · 2ⁿ)`; no retry starts once
/// `max_total` has elapsed since the first attempt. 4xx answers are never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first one (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff.
    pub base_delay: Duration,
    /// Ceiling for one backoff.
    pub max_delay: Duration,
    /// No new attempt starts after this much time since the first.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_total: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// No retries at all (the first failure is final).
    pub const NONE: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        max_total: Duration::ZERO,
    };

    /// The backoff before retry number `retry` (0-based), given a uniformly random `r`.
    pub fn delay(&self, retry: u32, r: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX));
        let d = exp.min(self.max_delay);
        let half = d / 2;
        // Equal jitter: at least half the exponential delay, so backoff still grows, and a
        // random other half, so devices that failed together do not retry together.
        let spread = (d - half).as_nanos() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            u64::from(r) % (spread + 1)
        };
        half + Duration::from_nanos(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for retry in 0..40 {
            for r in [0, 1, u32::MAX / 2, u32::MAX] {
                let d = p.delay(retry, r);
                let full = p
                    .base_delay
                    .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
                    .min(p.max_delay);
                assert!(
                    d >= full / 2 && d <= full,
                    "retry {retry} r {r}: {d:?} vs {full:?}"
                );
            }
        }
        assert!(p.delay(3, 0) > p.delay(0, u32::MAX));
    }

    #[test]
    fn none_never_waits() {
        assert_eq!(RetryPolicy::NONE.delay(5, 12345), Duration::ZERO);
    }
}
