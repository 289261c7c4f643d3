//! The result of a tune run: the `--json` document and the human-readable summary.
//!
//! JSON shape (`schema` = `"backproof-tune/1"`; times in milliseconds as numbers):
//!
//! ```json
//! {
//!   "schema": "backproof-tune/1",
//!   "ok": true,
//!   "kdf": {"m_cost": 262144, "t_cost": 2, "p_cost": 4},   // null when ok is false
//!   "kdf_arg": "m=262144,t=2,p=4",                         // what the client's --kdf takes
//!   "target": {"low_ms": 500.0, "high_ms": 1000.0},
//!   "max_memory_kib": 262144, "lanes": 4, "runs": 7,
//!   "measured_by": "local",                                // or "adapter"
//!   "adapter": null,                                       // the --client-adapter command
//!   "median_ms": 741.2, "min_ms": 733.0, "max_ms": 760.4,  // of the final `runs` samples
//!   "samples_ms": [741.2, …],
//!   "probes": 4, "derivations": 17,
//!   "verdict": "in the window …",
//!   "error": null,                                         // {"message", "limit"} when ok is false
//!   "history": [{"phase": "scale", "m_cost": 7168, "t_cost": 5, "p_cost": 4,
//!                "median_ms": 18.1, "samples_ms": [18.1]}, …]
//! }
//! ```
//!
//! [`crate::load_kdf_file`] reads the `kdf` field back, so the file can be handed straight
//! to the client.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::KdfParams;
use crate::parse::format_kdf;
use crate::search::{Phase, Probe, TuneError, Tuned, Window, fmt_duration, median};

/// The schema tag of the JSON document.
pub const SCHEMA: &str = "backproof-tune/1";

/// A tune run, successful or not, as `--json` writes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TuneReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Whether parameters in the window were found.
    pub ok: bool,
    /// The parameters found.
    pub kdf: Option<KdfParams>,
    /// The same as the client's `--kdf` argument.
    pub kdf_arg: Option<String>,
    /// The window asked for.
    pub target: TargetMs,
    /// The memory budget used (KiB).
    pub max_memory_kib: u32,
    /// Lanes (p_cost).
    pub lanes: u32,
    /// Derivations in the final measurement.
    pub runs: u32,
    /// `"local"` or `"adapter"`.
    pub measured_by: String,
    /// The adapter command, when measured through one.
    pub adapter: Option<String>,
    /// Median of the final measurement.
    pub median_ms: Option<f64>,
    /// Fastest of the final measurement.
    pub min_ms: Option<f64>,
    /// Slowest of the final measurement.
    pub max_ms: Option<f64>,
    /// The final measurement.
    pub samples_ms: Vec<f64>,
    /// Distinct parameter sets measured (warm-up excluded).
    pub probes: usize,
    /// Derivations run in total (warm-up included).
    pub derivations: usize,
    /// One line for a person.
    pub verdict: String,
    /// Why no parameters were found.
    pub error: Option<ErrorInfo>,
    /// Every probe in order.
    pub history: Vec<ProbeRecord>,
}

/// The window in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct TargetMs {
    /// Lower bound.
    pub low_ms: f64,
    /// Upper bound.
    pub high_ms: f64,
}

/// A failed search.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorInfo {
    /// The error message.
    pub message: String,
    /// The option to change (`--target`, `--max-memory`), when one would help.
    pub limit: Option<String>,
}

/// One probe of the search.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProbeRecord {
    /// `warmup`, `scale`, `adjust` or `final`.
    pub phase: String,
    /// Memory (KiB).
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
    /// Median of the samples.
    pub median_ms: f64,
    /// Each derivation.
    pub samples_ms: Vec<f64>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Warmup => "warmup",
        Phase::Scale => "scale",
        Phase::Adjust => "adjust",
        Phase::Final => "final",
    }
}

fn records(history: &[Probe]) -> Vec<ProbeRecord> {
    history
        .iter()
        .map(|p| ProbeRecord {
            phase: phase_name(p.phase).to_owned(),
            m_cost: p.params.m_cost,
            t_cost: p.params.t_cost,
            p_cost: p.params.p_cost,
            median_ms: ms(median(&p.samples)),
            samples_ms: p.samples.iter().copied().map(ms).collect(),
        })
        .collect()
}

/// What was asked, for the report.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The window.
    pub window: Window,
    /// The memory budget (KiB).
    pub max_memory_kib: u32,
    /// Lanes.
    pub lanes: u32,
    /// Runs in the final measurement.
    pub runs: u32,
    /// The adapter command, when measuring through one.
    pub adapter: Option<String>,
}

fn mib(kib: u32) -> String {
    if kib.is_multiple_of(1024) {
        format!("{} MiB", kib / 1024)
    } else {
        format!("{:.1} MiB", f64::from(kib) / 1024.0)
    }
}

fn window_text(w: &Window) -> String {
    format!("{} – {}", fmt_duration(w.low), fmt_duration(w.high))
}

impl TuneReport {
    fn base(info: &RunInfo) -> Self {
        TuneReport {
            schema: SCHEMA.to_owned(),
            ok: false,
            kdf: None,
            kdf_arg: None,
            target: TargetMs {
                low_ms: ms(info.window.low),
                high_ms: ms(info.window.high),
            },
            max_memory_kib: info.max_memory_kib,
            lanes: info.lanes,
            runs: info.runs,
            measured_by: if info.adapter.is_some() {
                "adapter"
            } else {
                "local"
            }
            .to_owned(),
            adapter: info.adapter.clone(),
            median_ms: None,
            min_ms: None,
            max_ms: None,
            samples_ms: Vec::new(),
            probes: 0,
            derivations: 0,
            verdict: String::new(),
            error: None,
            history: Vec::new(),
        }
    }

    /// The report of a successful search.
    pub fn success(info: &RunInfo, tuned: &Tuned) -> Self {
        let mut r = Self::base(info);
        r.ok = true;
        r.kdf = Some(tuned.params);
        r.kdf_arg = Some(format_kdf(&tuned.params));
        r.median_ms = Some(ms(tuned.median()));
        r.min_ms = Some(ms(tuned.min()));
        r.max_ms = Some(ms(tuned.max()));
        r.samples_ms = tuned.samples.iter().copied().map(ms).collect();
        r.probes = tuned.probes();
        r.derivations = tuned.derivations();
        let spread_inside = info.window.contains(tuned.min()) && info.window.contains(tuned.max());
        r.verdict = format!(
            "OK: median {} is inside {}{}; {} uses {} per derivation",
            fmt_duration(tuned.median()),
            window_text(&info.window),
            if spread_inside {
                ", and so is every run"
            } else {
                " (some single runs fall outside: the machine is noisy)"
            },
            format_kdf(&tuned.params),
            mib(tuned.params.m_cost),
        );
        r.history = records(&tuned.history);
        r
    }

    /// The report of a failed search.
    pub fn failure(info: &RunInfo, err: &TuneError) -> Self {
        let mut r = Self::base(info);
        let history = err.history();
        r.probes = history
            .iter()
            .filter(|p| p.phase != Phase::Warmup)
            .map(|p| (p.params.m_cost, p.params.t_cost, p.params.p_cost))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        r.derivations = history.iter().map(|p| p.samples.len()).sum();
        r.verdict = format!("FAILED: no parameters in {}", window_text(&info.window));
        r.error = Some(ErrorInfo {
            message: err.to_string(),
            limit: err.limit().map(str::to_owned),
        });
        r.history = records(history);
        r
    }

    /// The pretty-printed JSON document.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Parses a document written by [`TuneReport::to_json`].
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The summary printed on stdout.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let how = match &self.adapter {
            Some(cmd) => format!("through the adapter `{cmd}`"),
            None => "on this machine (backproof-format's derive_ikm)".to_owned(),
        };
        match (&self.kdf, self.median_ms, self.min_ms, self.max_ms) {
            (Some(p), Some(median), Some(min), Some(max)) => {
                out.push_str(&format!(
                    "Argon2id m={} KiB ({}), t={}, p={}\n",
                    p.m_cost,
                    mib(p.m_cost),
                    p.t_cost,
                    p.p_cost
                ));
                out.push_str(&format!(
                    "  median {median:.1} ms, min–max {min:.1}–{max:.1} ms over {} runs, measured {how}\n",
                    self.samples_ms.len()
                ));
                out.push_str(&format!(
                    "  {} probes, {} derivations in total\n",
                    self.probes, self.derivations
                ));
                out.push_str(&format!(
                    "  client: --kdf {}\n",
                    self.kdf_arg.as_deref().unwrap_or_default()
                ));
            }
            _ => {
                out.push_str(&format!(
                    "no parameters found, measured {how}: {} probes, {} derivations\n",
                    self.probes, self.derivations
                ));
            }
        }
        out.push_str(&self.verdict);
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::Probe;

    fn info() -> RunInfo {
        RunInfo {
            window: Window::DEFAULT,
            max_memory_kib: 262_144,
            lanes: 4,
            runs: 3,
            adapter: None,
        }
    }

    #[test]
    fn success_report_round_trips_and_summarises_the_final_samples() {
        let ms = Duration::from_millis;
        let params = KdfParams {
            m_cost: 262_144,
            t_cost: 2,
            p_cost: 4,
        };
        let tuned = Tuned {
            params,
            samples: vec![ms(700), ms(650), ms(900)],
            history: vec![
                Probe {
                    phase: Phase::Warmup,
                    params: KdfParams::FLOOR,
                    samples: vec![ms(40)],
                },
                Probe {
                    phase: Phase::Final,
                    params,
                    samples: vec![ms(700), ms(650), ms(900)],
                },
            ],
        };
        let r = TuneReport::success(&info(), &tuned);
        assert!(r.ok);
        assert_eq!(r.median_ms, Some(700.0));
        assert_eq!((r.min_ms, r.max_ms), (Some(650.0), Some(900.0)));
        assert_eq!(r.probes, 1);
        assert_eq!(r.derivations, 4);
        assert_eq!(r.kdf_arg.as_deref(), Some("m=262144,t=2,p=4"));
        let json = serde_json::to_string(&r).unwrap();
        let back: TuneReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let text = r.render_text();
        assert!(text.contains("median 700.0 ms"), "{text}");
        assert!(text.contains("--kdf m=262144,t=2,p=4"), "{text}");
        assert!(text.contains("OK:"), "{text}");
    }
}
