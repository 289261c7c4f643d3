//! `backproof tune`: finds Argon2id parameters whose derivation lands in a target window on
//! the device that will run them (docs/TUNING.md). The search is `backproof_tune::tune`; this
//! module parses options, picks the measurer (local or through an adapter) and reports.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use backproof_suite::profile::Profile;
use backproof_tune::guesses::GuessBudget;
use backproof_tune::iterations::{IterationsError, TunedIterations, tune_iterations};
use backproof_tune::profiles::{LocalIterations, TunableKdf};
use backproof_tune::search::{Measure, MeasureError, fmt_duration, median};
use backproof_tune::{KdfParams, RunInfo, TuneError, TuneReport, Window};

use crate::exit;

/// Find Argon2id parameters that take 500 ms – 1 s on this device.
///
/// Starts at the policy floor (m=7168 KiB, t=5), scales memory then passes until one
/// derivation takes 250 ms, then adjusts proportionally (time ∝ m·t, memory up to the budget
/// first, then passes) until the median of several runs lands in the window. Prints the
/// parameters, their median and min–max, and the `--kdf` argument for the client. Exits 2,
/// naming the option to change, when the window cannot be reached.
#[derive(Debug, clap::Args)]
#[command(
    after_long_help = "Examples:\n  backproof tune\n  backproof tune --max-memory 1GiB --lanes 2\n  \
backproof tune --json kdf.json && backproof client backup --kdf-file kdf.json …\n  \
backproof tune --client-adapter \"./my-client --adapter\"   # tune for the device the adapter runs on\n  \
backproof tune --profile byok-json-v1 --kdf pbkdf2-sha512   # the iteration count of a profile's PBKDF2"
)]
pub struct Args {
    /// The profile whose writer is tuned (docs/TUNING.md \"Profiles\"): `v1` and
    /// `byok-json-v1` tune Argon2id, `byok-json-v1 --kdf pbkdf2-sha512` and `metamask-vault`
    /// a PBKDF2 iteration count. A profile without a tunable KDF is refused.
    #[arg(long, default_value = "v1", value_name = "NAME")]
    profile: Profile,
    /// The profile's KDF to tune, when it has several: `argon2id`, `pbkdf2-sha512`
    /// (byok-json-v1) or `pbkdf2-sha256` (metamask-vault). Default: the profile's first.
    #[arg(long, value_name = "KDF")]
    kdf: Option<String>,
    /// Target time of one derivation, LOW..HIGH (units us, ms, s); the search aims at the
    /// middle.
    #[arg(long, default_value = "500ms..1s", value_name = "LOW..HIGH", value_parser = parse_window)]
    target: Window,
    /// Memory budget for m_cost (KiB, MiB or GiB; a bare number is MiB). Never more than half
    /// of this machine's physical memory: larger values are lowered to that.
    #[arg(long, default_value = "256MiB", value_name = "SIZE", value_parser = parse_memory)]
    max_memory: u32,
    /// Lanes (p_cost). With the reference client, lanes run on threads.
    #[arg(long, default_value_t = 4, value_name = "N")]
    lanes: u32,
    /// Derivations in the final measurement; the median decides.
    #[arg(long, default_value_t = 7, value_name = "N")]
    runs: u32,
    /// Measure a client under test through its adapter's `derive` op instead of this
    /// machine's own derivation (the command is started like `backproof run` starts it).
    #[arg(long, value_name = "CMD")]
    client_adapter: Option<String>,
    /// Write the machine-readable result (schema backproof-tune/1, see docs/TUNING.md) to
    /// FILE, or to stdout instead of the summary when no FILE is given. The client takes the
    /// file with `--kdf-file`.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    json: Option<PathBuf>,
}

fn parse_window(s: &str) -> Result<Window, String> {
    backproof_tune::parse_target(s).map_err(|e| e.to_string())
}

fn parse_memory(s: &str) -> Result<u32, String> {
    backproof_tune::parse_memory(s).map_err(|e| e.to_string())
}

/// Times the adapter's `derive` round trip.
struct AdapterMeasure {
    process: backproof_client::adapter::AdapterProcess,
    timeout: Duration,
    checked: bool,
}

impl Measure for AdapterMeasure {
    fn measure(&mut self, params: &KdfParams) -> Result<Duration, MeasureError> {
        // The first derivation (the warm-up, at the floor) is checked against ours.
        let expected = if self.checked {
            None
        } else {
            Some(backproof_tune::adapter::expected_ikm(params)?)
        };
        let fields = backproof_tune::adapter::derive_fields(params);
        let start = Instant::now();
        let answer = self.process.call("derive", fields, self.timeout);
        let elapsed = start.elapsed();
        let result = answer
            .map_err(|e| MeasureError::new(format!("adapter failed: {e}")))?
            .map_err(|e| MeasureError::new(format!("adapter answered `derive` with {e}")))?;
        backproof_tune::adapter::check_derive_result(&result, expected.as_ref())?;
        self.checked = true;
        Ok(elapsed)
    }
}

/// The KDFs a profile's writer uses, the first being the default of `--kdf`. Every profile
/// is decided here: a new one without a tunable KDF gets an empty list and is refused.
fn tunable_kdfs(profile: Profile) -> &'static [TunableKdf] {
    match profile {
        Profile::V1 => &[TunableKdf::Argon2id],
        Profile::ByokJsonV1 => &[TunableKdf::Argon2id, TunableKdf::Pbkdf2Sha512],
        Profile::MetamaskVault => &[TunableKdf::Pbkdf2Sha256],
        // Random 32-byte master keys, exported as hex: no passphrase, nothing to derive.
        Profile::DbmStreamV1 => &[],
        // PBKDF2-SHA256 at 10 000 rounds, fixed by the design: the body declares no count,
        // so a reader could not follow a tuned one (docs/profiles/noah-v0.md §2).
        Profile::NoahV0 => &[],
    }
}

/// The KDF `--profile` and `--kdf` name, or why there is none to tune.
fn chosen_kdf(profile: Profile, kdf: Option<&str>) -> anyhow::Result<TunableKdf> {
    let offered = tunable_kdfs(profile);
    let names = || {
        offered
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (offered.first(), kdf) {
        (None, _) => anyhow::bail!(
            "profile {profile} has no key derivation whose cost a writer chooses, so there is \
             nothing to tune (docs/TUNING.md \"Profiles\")"
        ),
        (Some(first), None) => Ok(*first),
        (Some(_), Some(name)) => offered
            .iter()
            .find(|k| k.as_str() == name)
            .copied()
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "profile {profile} has no KDF {name:?}; its writer uses {} (pass one of \
                     them to --kdf)",
                    names()
                )
            }),
    }
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if args.profile == Profile::NoahV0 {
        return run_guess_rates(&args);
    }
    let kdf = chosen_kdf(args.profile, args.kdf.as_deref())?;
    if kdf != TunableKdf::Argon2id {
        return run_iterations(&args, kdf);
    }
    let max_memory = capped_memory(args.max_memory);
    let cfg = backproof_tune::Config::new(args.target, max_memory, args.lanes, args.runs);
    let info = RunInfo {
        window: args.target,
        max_memory_kib: max_memory,
        lanes: args.lanes,
        runs: args.runs,
        adapter: args.client_adapter.clone(),
    };

    let mut measure: Box<dyn Measure> = match &args.client_adapter {
        None => Box::new(backproof_tune::LocalMeasure::default()),
        Some(cmd) => {
            let mut process = backproof_client::adapter::AdapterProcess::spawn(cmd, None)
                .with_context(|| format!("starting the client adapter {cmd:?}"))?;
            let hello = process
                .hello()
                .with_context(|| format!("`hello` to the client adapter {cmd:?}"))?;
            if !hello.ops.iter().any(|op| op == "derive") {
                anyhow::bail!(
                    "the client adapter {cmd:?} ({}) does not list `derive` in its ops, so it \
                     cannot be tuned through; implement `derive` (docs/ADAPTER.md) or tune locally",
                    hello.implementation
                );
            }
            // A derivation at 16× the window's upper bound is surely stuck.
            let timeout = (args.target.high * 16).max(Duration::from_secs(60));
            Box::new(AdapterMeasure {
                process,
                timeout,
                checked: false,
            })
        }
    };

    let mut view = backproof_tune::progress::ProgressView::default();
    let outcome = backproof_tune::tune(measure.as_mut(), &cfg, &mut |e| view.on_event(e));
    view.finish();

    let (report, code) = match &outcome {
        Ok(tuned) => (TuneReport::success(&info, tuned), exit::OK),
        Err(TuneError::Config(msg)) => anyhow::bail!("{msg}"),
        Err(err) => (TuneReport::failure(&info, err), exit::HARNESS),
    };
    emit(&args, &report.to_json(), &report.render_text())?;
    if let Err(err) = &outcome {
        eprintln!("backproof tune: {err}");
    }
    Ok(code)
}

/// `--max-memory`, lowered to half of this machine's physical memory (and said so).
fn capped_memory(max_memory: u32) -> u32 {
    if let Some(total) = backproof_tune::physical_memory_kib() {
        let half = u32::try_from(total / 2).unwrap_or(u32::MAX);
        if max_memory > half {
            eprintln!(
                "backproof tune: --max-memory lowered from {max_memory} KiB to {half} KiB \
                 (half of this machine's physical memory)"
            );
            return half;
        }
    }
    max_memory
}

/// noah-v0: nothing to tune, so the cost of a guess on this machine instead, measured as a
/// run measures it for the `kdf-weak` advisory (docs/profiles/noah-v0.md §5), with
/// `--target`, `--max-memory` and `--runs` (Argon2id derivations) applied.
fn run_guess_rates(args: &Args) -> anyhow::Result<u8> {
    if let Some(cmd) = &args.client_adapter {
        anyhow::bail!(
            "--client-adapter {cmd:?} cannot time noah-v0's PBKDF2: the adapter protocol's \
             `derive` op derives blob v1's Argon2id only (docs/ADAPTER.md); run `backproof \
             tune --profile noah-v0` on the device itself"
        );
    }
    // The same refusal every profile without a tunable KDF gets, as the explanation.
    let nothing = chosen_kdf(args.profile, args.kdf.as_deref())
        .err()
        .map(|e| e.to_string())
        .context("noah-v0 has no tunable KDF")?;
    let budget = GuessBudget {
        window: args.target,
        max_memory_kib: capped_memory(args.max_memory),
        argon2id_runs: args.runs,
        ..GuessBudget::RUN
    };
    let (_, speed) = backproof_suite::kdf_speed::measure_noah_v0(&budget)
        .context("measuring the guess rates of noah-v0's KDF and Argon2id")?;
    let json = serde_json::json!({
        "schema": "backproof-tune/1",
        "ok": false,
        "profile": args.profile.as_str(),
        "kdf": null,
        "error": {"message": nothing, "limit": null},
        "guess_rates": speed,
    });
    let text = format!(
        "backproof tune: {nothing}. Its 10 000 PBKDF2-HMAC-SHA256 iterations are fixed by the \
         design (docs/profiles/noah-v0.md §2).\nWhat a guess costs on this machine instead (advisory \
         {}/{}, docs/profiles/noah-v0.md §5):\n  {}\n",
        speed.profile,
        speed.advisory,
        speed.describe()
    );
    emit(args, &json.to_string(), &text)?;
    Ok(exit::OK)
}

/// Tunes a PBKDF2 iteration count on this machine and reports it.
fn run_iterations(args: &Args, kdf: TunableKdf) -> anyhow::Result<u8> {
    if let Some(cmd) = &args.client_adapter {
        anyhow::bail!(
            "--client-adapter {cmd:?} cannot time {}: the adapter protocol's `derive` op \
             derives blob v1's Argon2id only (docs/ADAPTER.md); run `backproof tune --profile \
             {} --kdf {}` on the device itself",
            kdf.as_str(),
            args.profile,
            kdf.as_str()
        );
    }
    let limits = kdf.limits().context("an iteration-count KDF has limits")?;
    let outcome = tune_iterations(&mut LocalIterations(kdf), limits, args.target, args.runs);
    let json = iterations_json(args, kdf, &outcome);
    let text = match &outcome {
        Ok(t) => format!(
            "backproof tune: {} of profile {}\n  iterations: {}\n  median {} (min {}, max {}) \
             over {} runs, inside {} – {}; {} derivations in all\n",
            kdf.as_str(),
            args.profile,
            t.iterations,
            fmt_duration(median(&t.samples)),
            fmt_duration(t.samples.iter().copied().min().unwrap_or_default()),
            fmt_duration(t.samples.iter().copied().max().unwrap_or_default()),
            t.samples.len(),
            fmt_duration(args.target.low),
            fmt_duration(args.target.high),
            t.derivations,
        ),
        // The reason goes to stderr below, once.
        Err(_) => String::new(),
    };
    emit(args, &json.to_string(), &text)?;
    match outcome {
        Ok(_) => Ok(exit::OK),
        Err(e) => {
            eprintln!(
                "backproof tune: {} of profile {}: {e}",
                kdf.as_str(),
                args.profile
            );
            Ok(exit::HARNESS)
        }
    }
}

/// The `--json` result of a PBKDF2 tune (docs/TUNING.md "Profiles").
fn iterations_json(
    args: &Args,
    kdf: TunableKdf,
    outcome: &Result<TunedIterations, IterationsError>,
) -> serde_json::Value {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (ok, kdf_value, samples, error) = match outcome {
        Ok(t) => (
            true,
            serde_json::json!({"algorithm": kdf.as_str(), "iterations": t.iterations}),
            t.samples.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
            serde_json::Value::Null,
        ),
        Err(e) => (
            false,
            serde_json::Value::Null,
            vec![],
            serde_json::json!({"message": e.to_string(), "limit": "--target"}),
        ),
    };
    let med = outcome.as_ref().ok().map(|t| ms(median(&t.samples)));
    serde_json::json!({
        "schema": "backproof-tune/1",
        "ok": ok,
        "profile": args.profile.as_str(),
        "kdf": kdf_value,
        "target": {"low_ms": ms(args.target.low), "high_ms": ms(args.target.high)},
        "runs": args.runs,
        "measured_by": "local",
        "median_ms": med,
        "samples_ms": samples,
        "error": error,
    })
}

/// The outcome as `--json` asks: JSON alone on stdout for `-`, else the text, and with a
/// path the JSON written there too.
fn emit(args: &Args, json: &str, text: &str) -> anyhow::Result<()> {
    match &args.json {
        Some(path) if path.as_os_str() == "-" => println!("{json}"),
        Some(path) => {
            std::fs::write(path, format!("{json}\n"))
                .with_context(|| format!("writing {}", path.display()))?;
            print!("{text}");
            println!("  wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_profile_offers_its_writers_kdfs_and_refuses_others() {
        assert_eq!(chosen_kdf(Profile::V1, None).unwrap(), TunableKdf::Argon2id);
        assert_eq!(
            chosen_kdf(Profile::ByokJsonV1, Some("pbkdf2-sha512")).unwrap(),
            TunableKdf::Pbkdf2Sha512
        );
        assert_eq!(
            chosen_kdf(Profile::MetamaskVault, None).unwrap(),
            TunableKdf::Pbkdf2Sha256
        );
        let e = chosen_kdf(Profile::MetamaskVault, Some("argon2id")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "profile metamask-vault has no KDF \"argon2id\"; its writer uses pbkdf2-sha256 \
             (pass one of them to --kdf)"
        );
        let e = chosen_kdf(Profile::V1, Some("pbkdf2-sha512")).unwrap_err();
        assert!(e.to_string().contains("uses argon2id"), "{e}");
        // noah-v0's 10 000 rounds are fixed by the design, not a writer's choice.
        for kdf in [None, Some("pbkdf2-sha256")] {
            let e = chosen_kdf(Profile::NoahV0, kdf).unwrap_err();
            assert!(e.to_string().contains("nothing to tune"), "{e}");
        }
    }
}
