//! Measured guess rates beside a weak-KDF advisory (reports/README.md "Measured guess
//! rates"): machine-dependent, so they live beside `timings`, outside the snapshot.

use serde::{Deserialize, Serialize};

/// What one guess at a passphrase costs on the machine that ran the report: the design's
/// KDF next to Argon2id at the tuning target, both on one core. Shown next to the advisory
/// it belongs to ([`KdfSpeed::profile`], [`KdfSpeed::advisory`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfSpeed {
    /// The profile whose advisory it is, e.g. `noah-v0`.
    pub profile: String,
    /// The advisory's id, e.g. `kdf-weak`.
    pub advisory: String,
    /// The design's KDF.
    pub design: GuessRate,
    /// Argon2id at the parameters aimed at the tuning target.
    pub argon2id: GuessRate,
    /// The tuning target Argon2id was aimed at, milliseconds per derivation.
    pub target_ms: [u64; 2],
}

/// One KDF as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuessRate {
    /// What was derived, e.g. `PBKDF2-HMAC-SHA256, 10000 iterations` or
    /// `Argon2id m=187392,t=1,p=1`.
    pub kdf: String,
    /// Derivations measured.
    pub derivations: u32,
    /// Their median, nanoseconds.
    pub median_ns: u64,
    /// `10⁹ / median_ns`, rounded to thousandths: guesses per second on one core.
    pub guesses_per_second: f64,
}

// `guesses_per_second` is always finite: it is made from a positive integer by
// [`GuessRate::new`], and JSON (the only other way in) has no NaN.
impl Eq for GuessRate {}

impl GuessRate {
    pub fn new(kdf: impl Into<String>, derivations: u32, median_ns: u64) -> GuessRate {
        let per_second = 1e9 / median_ns.max(1) as f64;
        GuessRate {
            kdf: kdf.into(),
            derivations,
            median_ns,
            // Thousandths: a decimal that short reads back from JSON as the same f64.
            guesses_per_second: (per_second * 1000.0).round() / 1000.0,
        }
    }
}

impl KdfSpeed {
    /// How many of the design's guesses cost as much as one Argon2id guess.
    pub fn ratio(&self) -> f64 {
        self.design.guesses_per_second / self.argon2id.guesses_per_second.max(1e-3)
    }

    /// The figures in one line, as every rendering of a report shows them.
    pub fn report_line(&self) -> String {
        format!(
            "measured on the machine that ran the report: {}",
            self.describe()
        )
    }

    /// The figures in one line.
    pub fn describe(&self) -> String {
        format!(
            "{} at {} guesses/s per core (median {} over {}) vs {} at {} guesses/s per core \
             (median {} over {}, aimed at {}–{} ms): a guess is {:.0}× cheaper",
            self.design.kdf,
            rate(self.design.guesses_per_second),
            millis(self.design.median_ns),
            self.design.derivations,
            self.argon2id.kdf,
            rate(self.argon2id.guesses_per_second),
            millis(self.argon2id.median_ns),
            self.argon2id.derivations,
            self.target_ms[0],
            self.target_ms[1],
            self.ratio(),
        )
    }
}

/// Whole guesses from 100 on, three significant digits below.
fn rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

fn millis(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speed() -> KdfSpeed {
        KdfSpeed {
            profile: "noah-v0".into(),
            advisory: "kdf-weak".into(),
            design: GuessRate::new("PBKDF2-HMAC-SHA256, 10000 iterations", 97, 3_070_000),
            argon2id: GuessRate::new("Argon2id m=187392,t=1,p=1", 2, 760_000_000),
            target_ms: [500, 1000],
        }
    }

    #[test]
    fn rates_are_per_second_of_the_median_and_survive_json() {
        let s = speed();
        assert_eq!(s.design.guesses_per_second, 325.733);
        assert_eq!(s.argon2id.guesses_per_second, 1.316);
        let back: KdfSpeed = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let line = s.describe();
        assert!(
            line.contains("PBKDF2-HMAC-SHA256, 10000 iterations at 326 guesses/s per core")
                && line.contains("(median 3.07 ms over 97)")
                && line.contains("Argon2id m=187392,t=1,p=1 at 1.32 guesses/s per core")
                && line.contains("(median 760 ms over 2, aimed at 500–1000 ms)")
                && line.ends_with("a guess is 248× cheaper"),
            "{line}"
        );
    }
}
