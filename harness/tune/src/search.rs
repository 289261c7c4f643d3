//! The tuning search, as pure logic over a [`Measure`]: no clock, no threads, no I/O of its
//! own, so the unit tests drive it with a deterministic cost model.
//!
//! Method (in the spirit of cryptsetup's PBKDF benchmark):
//! - **Phase 1** starts at the policy floor for the requested lanes and scales m (then t, once
//!   m is at the memory budget) until a single derivation takes at least
//!   [`phase1_threshold`] — long enough that the clock's resolution and scheduler noise are
//!   small against it.
//! - **Phase 2** assumes time ∝ m·t and asks for the work that would land in the middle of the
//!   window. That work is shaped into parameters by [`shape`]: the largest m within the budget
//!   at the smallest t that fits (memory hardness first, passes second), never below the
//!   policy floor. Each probe is the median of a few runs; a probe inside the window is
//!   confirmed by a final measurement of `runs` derivations.
//! - It stops when the confirmed median is inside the window, or when the next proposal
//!   repeats parameters already measured (the window cannot be hit with integer m, t inside
//!   the limits), which is reported with the limit to change.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::{KdfParams, Policy};

/// How the search takes one wall-clock measurement of one derivation.
///
/// The local implementation calls the same `derive_ikm` the reference client uses; the CLI
/// implements it over the adapter protocol's `derive` op for `--client-adapter`.
pub trait Measure {
    /// Derives once with `params` and returns the elapsed monotonic time.
    fn measure(&mut self, params: &KdfParams) -> Result<Duration, MeasureError>;
}

/// A measurement could not be taken (the derivation or the adapter failed).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct MeasureError {
    /// What failed, in words a user can act on.
    pub message: String,
}

impl MeasureError {
    /// A measurement error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// A target window for one derivation, inclusive at both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Shortest acceptable derivation.
    pub low: Duration,
    /// Longest acceptable derivation.
    pub high: Duration,
}

impl Window {
    /// The design target of docs/TUNING.md: 500 ms – 1 s.
    pub const DEFAULT: Window = Window {
        low: Duration::from_millis(500),
        high: Duration::from_millis(1000),
    };

    /// Whether `d` lies inside the window.
    pub fn contains(&self, d: Duration) -> bool {
        self.low <= d && d <= self.high
    }

    /// The point the search aims at.
    pub fn middle(&self) -> Duration {
        (self.low + self.high) / 2
    }
}

/// Everything the search needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the median derivation time must land.
    pub window: Window,
    /// Upper bound on m_cost in KiB (already capped by the caller at half of physical memory).
    pub max_memory_kib: u32,
    /// p_cost: the number of lanes.
    pub lanes: u32,
    /// Derivations in the final measurement (the median is taken over them).
    pub runs: u32,
    /// The bounds every proposal must satisfy (the floor of docs/FORMAT.md by default).
    pub policy: Policy,
    /// Safety net against a cost model that never settles.
    pub max_probes: u32,
}

impl Config {
    /// The documented defaults: 500 ms – 1 s, 256 MiB, 4 lanes, 7 runs, the default policy.
    pub fn new(window: Window, max_memory_kib: u32, lanes: u32, runs: u32) -> Self {
        Self {
            window,
            max_memory_kib,
            lanes,
            runs,
            policy: Policy::default(),
            max_probes: 24,
        }
    }
}

/// Which phase a probe belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The discarded first derivation (page faults, thread start-up, adapter start-up).
    Warmup,
    /// Single derivations while scaling up to a measurable time.
    Scale,
    /// Median of a few derivations while adjusting proportionally.
    Adjust,
    /// Median of `runs` derivations at the proposed parameters.
    Final,
}

/// One set of parameters measured by the search.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// The phase the probe was taken in.
    pub phase: Phase,
    /// The parameters derived with.
    pub params: KdfParams,
    /// Every derivation's time, in the order taken.
    pub samples: Vec<Duration>,
}

impl Probe {
    /// The median of the samples (the mean of the two middle ones for an even count).
    pub fn median(&self) -> Duration {
        median(&self.samples)
    }
}

/// What the search reports while it runs (the CLI draws a progress bar from it).
#[derive(Debug)]
pub enum Event<'a> {
    /// About to derive `count` times with these parameters.
    Measuring {
        /// The phase.
        phase: Phase,
        /// The parameters.
        params: &'a KdfParams,
        /// How many derivations.
        count: u32,
    },
    /// One derivation finished.
    Sample(Duration),
    /// A probe is complete.
    Probed(&'a Probe),
}

/// A successful search.
#[derive(Debug, Clone)]
pub struct Tuned {
    /// The parameters whose median lies in the window.
    pub params: KdfParams,
    /// The final measurement (`runs` derivations).
    pub samples: Vec<Duration>,
    /// Every probe, warm-up and final measurement included, in order.
    pub history: Vec<Probe>,
}

impl Tuned {
    /// Median of the final measurement.
    pub fn median(&self) -> Duration {
        median(&self.samples)
    }
    /// Fastest derivation of the final measurement.
    pub fn min(&self) -> Duration {
        self.samples.iter().copied().min().unwrap_or_default()
    }
    /// Slowest derivation of the final measurement.
    pub fn max(&self) -> Duration {
        self.samples.iter().copied().max().unwrap_or_default()
    }
    /// Distinct parameter sets measured, the warm-up excluded.
    pub fn probes(&self) -> usize {
        count_probes(&self.history)
    }
    /// Derivations run in total, the warm-up included.
    pub fn derivations(&self) -> usize {
        self.history.iter().map(|p| p.samples.len()).sum()
    }
}

/// KdfParams as an ordered key (the format crate's type need not be `Ord`).
fn key(p: &KdfParams) -> (u32, u32, u32) {
    (p.m_cost, p.t_cost, p.p_cost)
}

fn count_probes(history: &[Probe]) -> usize {
    history
        .iter()
        .filter(|p| p.phase != Phase::Warmup)
        .map(|p| key(&p.params))
        .collect::<BTreeSet<_>>()
        .len()
}

/// Why the search could not land in the window.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// The configuration cannot produce a valid proposal at all.
    #[error("{0}")]
    Config(String),
    /// Even the policy floor takes longer than the window allows.
    #[error(
        "too slow even at the policy floor: m={m} KiB, t={t}, p={p} takes {median} (median), \
         above the window's upper bound {high}; change --target (raise the upper bound){lanes_hint}",
        m = .params.m_cost, t = .params.t_cost, p = .params.p_cost,
        median = fmt_duration(*.median), high = fmt_duration(.window.high),
        lanes_hint = if .params.p_cost == 1 { " or --lanes (more lanes use more cores)" } else { "" }
    )]
    TooSlowAtFloor {
        /// The floor parameters measured.
        params: KdfParams,
        /// Their median time.
        median: Duration,
        /// The window asked for.
        window: Window,
        /// Everything measured.
        history: Vec<Probe>,
    },
    /// Even the memory budget at the policy's maximum t is faster than the window.
    #[error(
        "too fast even at the memory budget and the largest t: m={m} KiB, t={t}, p={p} takes \
         {median} (median), below the window's lower bound {low}; change --max-memory (raise \
         it) or --target (lower the window)",
        m = .params.m_cost, t = .params.t_cost, p = .params.p_cost,
        median = fmt_duration(*.median), low = fmt_duration(.window.low)
    )]
    TooFastAtBudget {
        /// The largest parameters measured.
        params: KdfParams,
        /// Their median time.
        median: Duration,
        /// The window asked for.
        window: Window,
        /// Everything measured.
        history: Vec<Probe>,
    },
    /// The proposals started to repeat without a median inside the window: the window is
    /// narrower than one step of the parameters, or the measurements are too noisy.
    #[error(
        "no parameters landed in {low}..{high}: the closest was m={m} KiB, t={t}, p={p} at \
         {median} (median) and the proposals started to repeat; change --target (widen the \
         window) or --runs (more runs steady a noisy machine)",
        low = fmt_duration(.window.low), high = fmt_duration(.window.high),
        m = .closest.m_cost, t = .closest.t_cost, p = .closest.p_cost,
        median = fmt_duration(*.median)
    )]
    NoConvergence {
        /// The measured parameters whose median was closest to the window's middle.
        closest: KdfParams,
        /// Its median.
        median: Duration,
        /// The window asked for.
        window: Window,
        /// Everything measured.
        history: Vec<Probe>,
    },
    /// A derivation failed.
    #[error("measuring m={m} KiB, t={t}, p={p} failed: {source}",
        m = .params.m_cost, t = .params.t_cost, p = .params.p_cost)]
    Measure {
        /// The parameters being measured.
        params: KdfParams,
        /// What went wrong.
        #[source]
        source: MeasureError,
    },
}

impl TuneError {
    /// The command-line option a user should change, when one would help.
    pub fn limit(&self) -> Option<&'static str> {
        match self {
            TuneError::Config(_) | TuneError::Measure { .. } => None,
            TuneError::TooSlowAtFloor { .. } | TuneError::NoConvergence { .. } => Some("--target"),
            TuneError::TooFastAtBudget { .. } => Some("--max-memory"),
        }
    }

    /// Everything measured before the search gave up (empty for configuration errors).
    pub fn history(&self) -> &[Probe] {
        match self {
            TuneError::TooSlowAtFloor { history, .. }
            | TuneError::TooFastAtBudget { history, .. }
            | TuneError::NoConvergence { history, .. } => history,
            TuneError::Config(_) | TuneError::Measure { .. } => &[],
        }
    }
}

/// Formats a duration the way the CLI prints it: whole milliseconds above 10 ms, one decimal
/// below.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// The median of `samples` (zero for none).
pub fn median(samples: &[Duration]) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

/// Phase 1 stops once one derivation takes this long: 250 ms for the default window (half
/// its lower bound), less for the short windows CI uses.
pub fn phase1_threshold(window: &Window) -> Duration {
    Duration::from_millis(250).min(window.low / 2)
}

/// Derivations per phase-2 probe: enough for a median that one outlier cannot move.
const ADJUST_RUNS: u32 = 3;

/// Memory proposals are rounded to whole MiB (readable parameters, and fewer near-duplicate
/// proposals when the search oscillates around the window's middle).
const MIB: u64 = 1024;

/// The smallest m_cost the policy allows with `lanes` lanes.
pub fn min_memory(policy: &Policy, lanes: u32) -> u32 {
    policy.min_m_cost.max(8 * lanes)
}

/// The smallest t_cost the policy allows at memory `m`.
pub fn min_passes(policy: &Policy, m: u32) -> u32 {
    let by_product = policy.min_m_times_t.div_ceil(u64::from(m.max(1)));
    policy
        .min_t_cost
        .max(u32::try_from(by_product).unwrap_or(u32::MAX))
}

/// The starting point: the policy floor for `lanes` lanes.
pub fn floor_params(policy: &Policy, lanes: u32) -> KdfParams {
    let m = min_memory(policy, lanes);
    KdfParams {
        m_cost: m,
        t_cost: min_passes(policy, m),
        p_cost: lanes,
    }
}

/// Turns a wanted amount of work (KiB × passes) into parameters: the smallest t that lets m
/// stay within `budget`, and m = work / t rounded to whole MiB, never below the floor and
/// never above the budget or the policy's largest t.
pub fn shape(work: f64, budget: u32, lanes: u32, policy: &Policy) -> KdfParams {
    let m_min = min_memory(policy, lanes);
    let t_max = policy.max_t_cost;
    let work = if work.is_finite() {
        work.max(0.0)
    } else {
        f64::MAX
    };
    let t_for_budget = (work / f64::from(budget)).ceil();
    let mut t = (t_for_budget.min(f64::from(t_max)) as u32).max(policy.min_t_cost);
    let per_pass = work / f64::from(t);
    let rounded = ((per_pass / MIB as f64).round() as u64).saturating_mul(MIB);
    let m = u32::try_from(rounded)
        .unwrap_or(u32::MAX)
        .clamp(m_min, budget);
    t = t.max(min_passes(policy, m)).min(t_max);
    KdfParams {
        m_cost: m,
        t_cost: t,
        p_cost: lanes,
    }
}

fn check_config(cfg: &Config) -> Result<(), TuneError> {
    let policy = &cfg.policy;
    if cfg.window.low.is_zero() || cfg.window.low >= cfg.window.high {
        return Err(TuneError::Config(format!(
            "the target window {}..{} is empty: give --target LOW..HIGH with 0 < LOW < HIGH",
            fmt_duration(cfg.window.low),
            fmt_duration(cfg.window.high)
        )));
    }
    if cfg.lanes < policy.min_p_cost || cfg.lanes > policy.max_p_cost {
        return Err(TuneError::Config(format!(
            "--lanes {} is outside the policy's {}..={}",
            cfg.lanes, policy.min_p_cost, policy.max_p_cost
        )));
    }
    if cfg.runs == 0 {
        return Err(TuneError::Config("--runs must be at least 1".into()));
    }
    let m_min = min_memory(policy, cfg.lanes);
    if cfg.max_memory_kib < m_min {
        return Err(TuneError::Config(format!(
            "--max-memory {} KiB is below the policy floor of {m_min} KiB for {} lane(s): \
             raise --max-memory",
            cfg.max_memory_kib, cfg.lanes
        )));
    }
    if cfg.max_memory_kib > policy.max_m_cost {
        return Err(TuneError::Config(format!(
            "--max-memory {} KiB is above the policy's largest m_cost {} KiB: lower --max-memory",
            cfg.max_memory_kib, policy.max_m_cost
        )));
    }
    Ok(())
}

struct Run<'m, 'e> {
    measure: &'m mut dyn Measure,
    events: &'e mut dyn FnMut(Event<'_>),
    history: Vec<Probe>,
}

impl Run<'_, '_> {
    fn probe(&mut self, phase: Phase, params: KdfParams, count: u32) -> Result<Probe, TuneError> {
        (self.events)(Event::Measuring {
            phase,
            params: &params,
            count,
        });
        let mut samples = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let d = self
                .measure
                .measure(&params)
                .map_err(|source| TuneError::Measure { params, source })?;
            (self.events)(Event::Sample(d));
            samples.push(d);
        }
        let probe = Probe {
            phase,
            params,
            samples,
        };
        (self.events)(Event::Probed(&probe));
        self.history.push(probe.clone());
        Ok(probe)
    }
}

/// Runs the search. `events` sees every measurement as it happens.
pub fn tune(
    measure: &mut dyn Measure,
    cfg: &Config,
    events: &mut dyn FnMut(Event<'_>),
) -> Result<Tuned, TuneError> {
    check_config(cfg)?;
    let policy = &cfg.policy;
    let budget = cfg.max_memory_kib;
    let t_max = policy.max_t_cost;
    let mut run = Run {
        measure,
        events,
        history: Vec::new(),
    };

    // Phase 1: scale from the floor until one derivation is long enough to extrapolate from.
    let threshold = phase1_threshold(&cfg.window);
    let mut params = floor_params(policy, cfg.lanes);
    run.probe(Phase::Warmup, params, 1)?;
    loop {
        let d = run.probe(Phase::Scale, params, 1)?.median();
        if d >= threshold {
            break;
        }
        // Jump by the observed ratio (at least doubling, at most 16×: the time is not exactly
        // linear at small sizes, where caches still hold much of the memory).
        let factor = if d.is_zero() {
            16.0
        } else {
            (threshold.as_secs_f64() / d.as_secs_f64()).clamp(2.0, 16.0)
        };
        let next = if params.m_cost < budget {
            let m = ((f64::from(params.m_cost) * factor) as u64).min(u64::from(budget)) as u32;
            let m = (m / MIB as u32 * MIB as u32).clamp(params.m_cost, budget);
            let m = if m == params.m_cost { budget } else { m };
            KdfParams {
                m_cost: m,
                t_cost: min_passes(policy, m),
                p_cost: cfg.lanes,
            }
        } else if params.t_cost < t_max {
            let t = ((f64::from(params.t_cost) * factor).ceil() as u32).min(t_max);
            KdfParams {
                t_cost: t.max(params.t_cost + 1),
                ..params
            }
        } else {
            // At the budget and the largest t: phase 2 measures properly and reports.
            break;
        };
        params = next;
    }

    // Phase 2: proportional adjustment towards the middle of the window.
    let target = cfg.window.middle().as_secs_f64();
    let mut measured: BTreeSet<(u32, u32, u32)> = BTreeSet::new();
    let mut probes = 0u32;
    loop {
        probes += 1;
        if probes > cfg.max_probes {
            return Err(no_convergence(cfg, run.history));
        }
        let adjust_runs = ADJUST_RUNS.min(cfg.runs);
        let mut probe = run.probe(Phase::Adjust, params, adjust_runs)?;
        if cfg.window.contains(probe.median()) {
            probe = run.probe(Phase::Final, params, cfg.runs)?;
            if cfg.window.contains(probe.median()) {
                return Ok(Tuned {
                    params,
                    samples: probe.samples,
                    history: run.history,
                });
            }
        }
        measured.insert(key(&params));
        let d = probe.median().as_secs_f64().max(1e-9);
        let work = f64::from(params.m_cost) * f64::from(params.t_cost) * (target / d);
        let next = shape(work, budget, cfg.lanes, policy);
        if measured.contains(&key(&next)) {
            let median = probe.median();
            let floor = floor_params(policy, cfg.lanes);
            if median > cfg.window.high && next == floor {
                return Err(TuneError::TooSlowAtFloor {
                    params: floor,
                    median: best_median_for(&run.history, &floor).unwrap_or(median),
                    window: cfg.window,
                    history: run.history,
                });
            }
            if median < cfg.window.low && next.m_cost == budget && next.t_cost == t_max {
                return Err(TuneError::TooFastAtBudget {
                    params: next,
                    median: best_median_for(&run.history, &next).unwrap_or(median),
                    window: cfg.window,
                    history: run.history,
                });
            }
            return Err(no_convergence(cfg, run.history));
        }
        params = next;
    }
}

/// The median of the last multi-run probe of `params` (what the error should quote).
fn best_median_for(history: &[Probe], params: &KdfParams) -> Option<Duration> {
    history
        .iter()
        .rev()
        .find(|p| p.params == *params && matches!(p.phase, Phase::Adjust | Phase::Final))
        .map(Probe::median)
}

fn no_convergence(cfg: &Config, history: Vec<Probe>) -> TuneError {
    let middle = cfg.window.middle();
    let closest = history
        .iter()
        .filter(|p| matches!(p.phase, Phase::Adjust | Phase::Final))
        .min_by_key(|p| p.median().abs_diff(middle))
        .map(|p| (p.params, p.median()))
        .unwrap_or((floor_params(&cfg.policy, cfg.lanes), Duration::ZERO));
    TuneError::NoConvergence {
        closest: closest.0,
        median: closest.1,
        window: cfg.window,
        history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic machine: time = ns_per_block_pass × m × t / min(p, cores), plus a
    /// fixed overhead and a repeating ±jitter pattern, so runs differ but never randomly.
    struct FakeMachine {
        ns_per_kib_pass: f64,
        cores: u32,
        overhead: Duration,
        jitter: Vec<f64>,
        calls: usize,
        seen: Vec<KdfParams>,
    }

    impl FakeMachine {
        fn new(ns_per_kib_pass: f64, cores: u32) -> Self {
            Self {
                ns_per_kib_pass,
                cores,
                overhead: Duration::from_micros(300),
                jitter: vec![0.0, 0.03, -0.02, 0.05, -0.04, 0.01, 0.08, -0.01],
                calls: 0,
                seen: Vec::new(),
            }
        }

        fn cost(&self, p: &KdfParams) -> Duration {
            let lanes = f64::from(p.p_cost.min(self.cores).max(1));
            let ns = self.ns_per_kib_pass * f64::from(p.m_cost) * f64::from(p.t_cost) / lanes;
            self.overhead + Duration::from_nanos(ns as u64)
        }
    }

    impl Measure for FakeMachine {
        fn measure(&mut self, p: &KdfParams) -> Result<Duration, MeasureError> {
            self.seen.push(*p);
            let j = self.jitter[self.calls % self.jitter.len()];
            self.calls += 1;
            Ok(self.cost(p).mul_f64(1.0 + j))
        }
    }

    fn run(machine: &mut FakeMachine, cfg: &Config) -> Result<Tuned, TuneError> {
        tune(machine, cfg, &mut |_| {})
    }

    const MIB: u32 = 1024;

    #[test]
    fn converges_into_the_default_window_on_a_laptop_like_machine() {
        // ~1 µs per KiB·pass and core, 2 cores: 256 MiB × t=1 × p=4 ≈ 131 ms.
        let mut m = FakeMachine::new(1000.0, 2);
        let cfg = Config::new(Window::DEFAULT, 256 * MIB, 4, 7);
        let tuned = run(&mut m, &cfg).expect("reachable");
        assert!(
            cfg.window.contains(tuned.median()),
            "median {:?}",
            tuned.median()
        );
        assert_eq!(tuned.samples.len(), 7);
        assert_eq!(tuned.params.p_cost, 4);
        // Memory first: t only grows once m is near the budget (m = work / t, whole MiB).
        assert!(tuned.params.m_cost >= 192 * MIB, "{:?}", tuned.params);
        assert!(tuned.params.t_cost >= 2, "{:?}", tuned.params);
        assert!(tuned.probes() <= 8, "took {} probes", tuned.probes());
        // The reported median is the fake machine's real cost, not something invented.
        let model = m.cost(&tuned.params);
        let ratio = tuned.median().as_secs_f64() / model.as_secs_f64();
        assert!((0.9..1.1).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn converges_on_a_slow_phone_with_less_memory_than_the_budget_needs() {
        // 12 µs per KiB·pass on one core: 64 MiB t=1 ≈ 800 ms, so m stays well under budget.
        let mut m = FakeMachine::new(12_000.0, 1);
        let cfg = Config::new(Window::DEFAULT, 256 * MIB, 1, 5);
        let tuned = run(&mut m, &cfg).expect("reachable");
        assert!(cfg.window.contains(tuned.median()));
        assert!(tuned.params.m_cost < 256 * MIB);
        assert_eq!(tuned.params.t_cost, 1);
        Policy::default()
            .check(&tuned.params)
            .expect("within policy");
    }

    #[test]
    fn never_measures_above_the_budget_or_below_the_floor() {
        let policy = Policy::default();
        for (ns, cores, budget, lanes) in [
            (50.0, 2, 64 * MIB, 4),
            (200.0, 8, 32 * MIB, 8),
            (3000.0, 1, 512 * MIB, 1),
            (40_000.0, 1, 16 * MIB, 2),
            (500.0, 4, 7 * MIB, 1),
        ] {
            let mut m = FakeMachine::new(ns, cores);
            let cfg = Config::new(Window::DEFAULT, budget, lanes, 3);
            let _ = run(&mut m, &cfg);
            assert!(!m.seen.is_empty());
            for p in &m.seen {
                assert!(p.m_cost <= budget, "{p:?} above budget {budget}");
                assert_eq!(p.p_cost, lanes);
                policy
                    .check(p)
                    .unwrap_or_else(|e| panic!("{p:?} below the floor: {e}"));
            }
        }
    }

    #[test]
    fn too_fast_at_the_budget_names_max_memory() {
        // 16 MiB × t=16 on a fast machine is a few ms: the window cannot be reached.
        let mut m = FakeMachine::new(100.0, 4);
        let cfg = Config::new(Window::DEFAULT, 16 * MIB, 4, 3);
        let err = run(&mut m, &cfg).expect_err("unreachable");
        assert!(
            matches!(err, TuneError::TooFastAtBudget { ref params, .. }
                if params.m_cost == 16 * MIB && params.t_cost == 16),
            "{err}"
        );
        assert_eq!(err.limit(), Some("--max-memory"));
        assert!(err.to_string().contains("--max-memory"), "{err}");
        assert!(!err.history().is_empty());
    }

    #[test]
    fn too_slow_at_the_floor_names_target() {
        // The floor (7 MiB × t=5) takes ~3.7 s: nothing smaller is allowed.
        let mut m = FakeMachine::new(100_000.0, 1);
        let cfg = Config::new(Window::DEFAULT, 256 * MIB, 1, 3);
        let err = run(&mut m, &cfg).expect_err("unreachable");
        assert!(
            matches!(err, TuneError::TooSlowAtFloor { ref params, .. }
                if *params == floor_params(&Policy::default(), 1)),
            "{err}"
        );
        assert_eq!(err.limit(), Some("--target"));
        assert!(err.to_string().contains("--target"), "{err}");
        // It never tried anything cheaper than the floor.
        assert!(
            m.seen
                .iter()
                .all(|p| p.m_cost >= 7168 && p.m_cost * p.t_cost >= 35840)
        );
    }

    #[test]
    fn a_window_narrower_than_one_step_reports_no_convergence() {
        // Everything costs the same order of magnitude, but the window is 1 µs wide.
        let mut m = FakeMachine::new(1000.0, 2);
        let window = Window {
            low: Duration::from_micros(700_000),
            high: Duration::from_micros(700_001),
        };
        let cfg = Config::new(window, 256 * MIB, 4, 3);
        let err = run(&mut m, &cfg).expect_err("unreachable");
        assert!(matches!(err, TuneError::NoConvergence { .. }), "{err}");
        assert_eq!(err.limit(), Some("--target"));
    }

    #[test]
    fn short_ci_window_is_reachable() {
        let mut m = FakeMachine::new(1000.0, 2);
        let window = Window {
            low: Duration::from_millis(20),
            high: Duration::from_millis(60),
        };
        let cfg = Config::new(window, 64 * MIB, 1, 5);
        let tuned = run(&mut m, &cfg).expect("reachable");
        assert!(window.contains(tuned.median()));
    }

    #[test]
    fn bad_configurations_are_rejected_before_measuring() {
        let mut m = FakeMachine::new(1000.0, 2);
        for cfg in [
            Config::new(
                Window {
                    low: Duration::from_secs(1),
                    high: Duration::from_millis(500),
                },
                64 * MIB,
                4,
                7,
            ),
            Config::new(Window::DEFAULT, 4 * MIB, 4, 7),
            Config::new(Window::DEFAULT, 64 * MIB, 0, 7),
            Config::new(Window::DEFAULT, 64 * MIB, 17, 7),
            Config::new(Window::DEFAULT, 64 * MIB, 4, 0),
            Config::new(Window::DEFAULT, 2048 * MIB, 4, 7),
        ] {
            let err = run(&mut m, &cfg).expect_err("invalid");
            assert!(matches!(err, TuneError::Config(_)), "{err}");
        }
        assert!(m.seen.is_empty());
    }

    #[test]
    fn a_failing_measurement_stops_the_search_with_its_message() {
        struct Broken;
        impl Measure for Broken {
            fn measure(&mut self, _: &KdfParams) -> Result<Duration, MeasureError> {
                Err(MeasureError::new("adapter exited"))
            }
        }
        let cfg = Config::new(Window::DEFAULT, 64 * MIB, 4, 7);
        let err = tune(&mut Broken, &cfg, &mut |_| {}).expect_err("fails");
        assert!(err.to_string().contains("adapter exited"), "{err}");
    }

    #[test]
    fn events_report_every_sample() {
        let mut m = FakeMachine::new(1000.0, 2);
        let cfg = Config::new(Window::DEFAULT, 256 * MIB, 4, 7);
        let mut samples = 0usize;
        let mut probes = 0usize;
        let tuned = tune(&mut m, &cfg, &mut |e| match e {
            Event::Sample(_) => samples += 1,
            Event::Probed(_) => probes += 1,
            Event::Measuring { .. } => {}
        })
        .expect("reachable");
        assert_eq!(samples, m.calls);
        assert_eq!(samples, tuned.derivations());
        assert_eq!(probes, tuned.history.len());
    }

    #[test]
    fn shape_prefers_memory_then_passes() {
        let policy = Policy::default();
        // Work below the budget: t=1 only when that meets the m·t floor.
        let p = shape(100.0 * 1024.0, 256 * MIB, 4, &policy);
        assert_eq!((p.m_cost, p.t_cost), (100 * MIB, 1));
        // Work above the budget: t grows, m shrinks to keep the product.
        let p = shape(600.0 * 1024.0, 256 * MIB, 4, &policy);
        assert_eq!((p.m_cost, p.t_cost), (200 * MIB, 3));
        // Tiny work is lifted to the floor.
        let p = shape(1.0, 256 * MIB, 1, &policy);
        assert_eq!(p, floor_params(&policy, 1));
        // Huge work is capped at the budget and the largest t.
        let p = shape(1e15, 256 * MIB, 4, &policy);
        assert_eq!((p.m_cost, p.t_cost), (256 * MIB, 16));
        // Not-a-number cannot produce parameters outside the policy.
        policy
            .check(&shape(f64::NAN, 64 * MIB, 2, &policy))
            .expect("valid");
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(
            median(&[ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2500)
        );
        assert_eq!(median(&[]), Duration::ZERO);
    }
}
