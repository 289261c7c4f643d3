//! The progress bar `backproof tune` draws on stderr while it measures.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::search::{Event, Phase, fmt_duration};

/// A spinner with a derivation counter and the probe being measured; hidden when stderr is
/// not a terminal (indicatif's stderr target draws nothing then), so logs and CI stay clean.
#[derive(Debug)]
pub struct ProgressView {
    bar: ProgressBar,
    current: String,
}

impl Default for ProgressView {
    fn default() -> Self {
        Self::new(ProgressDrawTarget::stderr())
    }
}

impl ProgressView {
    /// A view drawing to `target`.
    pub fn new(target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} tune [{elapsed}] {pos} derivations  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Self {
            bar,
            current: String::new(),
        }
    }

    /// Feeds one search event.
    pub fn on_event(&mut self, event: Event<'_>) {
        match event {
            Event::Measuring {
                phase,
                params,
                count,
            } => {
                let phase = match phase {
                    Phase::Warmup => "warm-up",
                    Phase::Scale => "scaling",
                    Phase::Adjust => "adjusting",
                    Phase::Final => "final",
                };
                self.current = format!(
                    "{phase}: m={} KiB t={} p={} ×{count}",
                    params.m_cost, params.t_cost, params.p_cost
                );
                self.bar.set_message(self.current.clone());
            }
            Event::Sample(d) => {
                self.bar.inc(1);
                self.bar
                    .set_message(format!("{}  last {}", self.current, fmt_duration(d)));
            }
            Event::Probed(_) => {}
        }
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
