//! `backproof vectors`: generate the known-answer vector files, or check an implementation
//! against them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use backproof_suite::profile::{Profile, ProfileChoice};
use backproof_suite::vectors::{
    self, AdapterImplementation, CaseOutcome, Implementation, Reference,
};

use crate::exit;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write vectors/*.json from the seeded generator (byte-identical on every run).
    ///
    /// Published vectors (RFC 9106, the Argon2 reference test suite, RFC 5869, the GCM
    /// spec) are copied; the rest are computed by the reference from a fixed seed.
    Generate {
        /// Directory to write the JSON files into (created if missing).
        #[arg(long, default_value = "vectors")]
        out: PathBuf,
    },
    /// Run every vector against the in-process reference, or against a client adapter.
    ///
    /// Prints one line per case that did not pass, then `N passed, M failed, K unsupported`.
    /// Exit 0 when nothing failed, 1 when a case failed, 2 when the check could not run
    /// (missing files, an adapter that would not start or answer).
    Check {
        /// Only cases whose id matches this glob; ids are `<file>/<tcId>`, e.g.
        /// `blob-v1/*` or `argon2id/1`.
        #[arg(long)]
        filter: Option<String>,
        /// Directory holding the vector files.
        #[arg(long, default_value = "vectors")]
        vectors: PathBuf,
        /// Check a client through the JSON Lines adapter protocol (docs/ADAPTER.md): the
        /// command line that starts it, e.g. "./my-client --adapter".
        #[arg(long, value_name = "CMD")]
        client_adapter: Option<String>,
        /// Also list the cases that passed.
        #[arg(long)]
        verbose: bool,
        /// Whose vectors: `v1` (the files in the vectors folder itself), a profile's
        /// (`byok-json-v1`: vectors/byok-json-v1/, sent to the adapter with
        /// `"profile": "byok-json-v1"`; `metamask-vault` likewise), or `all`. Ids of a profile's vectors are
        /// `<profile>/<tcId>`.
        #[arg(long, value_name = "NAME|all", default_value = "v1")]
        profile: ProfileChoice,
        /// Seconds allowed for each adapter call before the adapter counts as hung (it is
        /// killed, the case becomes an error, and it is restarted for the next case).
        #[arg(long, hide = true, value_name = "SECS", default_value_t = vectors::CALL_TIMEOUT.as_secs())]
        adapter_timeout_secs: u64,
    },
}

pub fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Generate { out } => {
            let written = vectors::write_all(&out)
                .with_context(|| format!("generating vectors into {}", out.display()))?;
            for (path, count) in written {
                println!("{:>4} tests  {}", count, path.display());
            }
            Ok(exit::OK)
        }
        Command::Check {
            filter,
            vectors: dir,
            client_adapter,
            verbose,
            adapter_timeout_secs,
            profile,
        } => {
            let mut adapter = match client_adapter {
                Some(cmd) => {
                    let timeout = Duration::from_secs(adapter_timeout_secs);
                    match AdapterImplementation::start_with_timeout(&cmd, timeout) {
                        Ok(a) => Some(a),
                        Err(e) => {
                            eprintln!(
                                "backproof: --client-adapter {cmd:?} could not be started or did not answer `hello`: {e}"
                            );
                            return Ok(exit::HARNESS);
                        }
                    }
                }
                None => None,
            };
            let started = Instant::now();
            let mut results = Vec::new();
            for p in profile.profiles() {
                results.extend(check_profile(p, adapter.as_mut(), &dir, filter.as_deref())?);
            }
            report(&results, started, verbose)
        }
    }
}

/// One profile's vectors, through the adapter when given, else the in-process reference.
fn check_profile(
    profile: Profile,
    adapter: Option<&mut AdapterImplementation>,
    dir: &Path,
    filter: Option<&str>,
) -> anyhow::Result<Vec<vectors::CaseResult>> {
    match profile {
        Profile::V1 => {
            let mut reference = Reference;
            let imp: &mut dyn Implementation = match adapter {
                Some(a) => a,
                None => &mut reference,
            };
            let name = imp.name();
            vectors::check(dir, imp, filter)
                .with_context(|| format!("checking {name} against {}", dir.display()))
        }
        Profile::ByokJsonV1 => vectors::byok_json_v1::check_filtered(dir, adapter, filter)
            .with_context(|| format!("checking the {profile} vectors in {}", dir.display())),
        Profile::MetamaskVault => vectors::metamask_vault::check_filtered(dir, adapter, filter)
            .with_context(|| format!("checking the {profile} vectors in {}", dir.display())),
        Profile::DbmStreamV1 => vectors::dbm_stream_v1::check_filtered(dir, adapter, filter)
            .with_context(|| format!("checking the {profile} vectors in {}", dir.display())),
        Profile::NoahV0 => vectors::noah_v0::check_filtered(dir, adapter, filter)
            .with_context(|| format!("checking the {profile} vectors in {}", dir.display())),
    }
}

fn report(results: &[vectors::CaseResult], started: Instant, verbose: bool) -> anyhow::Result<u8> {
    for r in results {
        match &r.outcome {
            CaseOutcome::Pass if verbose => println!("pass {} {}", r.id, r.comment),
            CaseOutcome::PassAcceptable { reason } if verbose => {
                println!("pass-acceptable {} {}: {reason}", r.id, r.comment)
            }
            CaseOutcome::PassAcceptable { .. } => {}
            CaseOutcome::Pass => {}
            CaseOutcome::Fail { expected, observed } => {
                println!(
                    "FAIL {} {}: expected {expected}, observed {observed}",
                    r.id, r.comment
                )
            }
            CaseOutcome::Unsupported { op } => {
                if verbose {
                    println!("unsupported {} (op {op} not offered)", r.id)
                }
            }
            CaseOutcome::NotRun { reason } => {
                if verbose {
                    println!("unsupported {} {}: {reason}", r.id, r.comment)
                }
            }
            CaseOutcome::Error { message } => println!("ERROR {} {}: {message}", r.id, r.comment),
        }
    }
    let s = vectors::summarize(results);
    eprintln!("{} cases in {:.2?}", results.len(), started.elapsed());
    if s.errors > 0 {
        eprintln!("{} cases could not be run (ERROR lines above)", s.errors);
    }
    println!(
        "{} passed, {} failed, {} unsupported",
        s.passed,
        s.failed + s.errors,
        s.unsupported
    );
    Ok(if s.failed > 0 {
        exit::FAILED
    } else if s.errors > 0 {
        exit::HARNESS
    } else {
        exit::OK
    })
}
