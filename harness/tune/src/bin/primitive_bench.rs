#![forbid(unsafe_code)]
//! One primitive, timed in-process, for ci/bench/compare.sh (side by side with libargon2 and
//! `openssl speed`). Not a user command: numbers go to stdout, one per line.
//!
//! ```text
//! backproof-primitive-bench argon2id M_KIB T P RUNS   # one line per derivation: "WALL_MS CPU_MS"
//! backproof-primitive-bench aes256gcm BYTES SECONDS   # one line: "WALL_MBPS CPU_MBPS" (10^6 B/s)
//! ```
//! CPU time is the whole process's (every thread, from /proc/self/task/*/schedstat), the
//! measure libargon2's command prints and the one least disturbed by other load on the
//! machine. The first derivation is printed like the others; the caller decides whether to count it
//! (compare.sh reports it separately as "cold").

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use backproof_format::{KdfParams, derive_ikm};

fn num<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, String> {
    args.get(i)
        .ok_or_else(|| format!("missing {what}"))?
        .parse()
        .map_err(|_| format!("{what} must be a number"))
}

/// CPU time of every thread of this process so far, in ns (0 where /proc is absent; rayon's
/// worker threads stay alive between derivations, so differences are exact).
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("argon2id") => {
            let params = KdfParams {
                m_cost: num(args, 1, "M_KIB")?,
                t_cost: num(args, 2, "T")?,
                p_cost: num(args, 3, "P")?,
            };
            let runs: u32 = num(args, 4, "RUNS")?;
            let salt = [0x5au8; 16];
            for _ in 0..runs {
                let cpu_start = cpu_ns();
                let start = Instant::now();
                let ikm = derive_ikm(
                    black_box("correct horse battery staple"),
                    black_box(&salt),
                    black_box(&params),
                )
                .map_err(|e| e.to_string())?;
                let elapsed = start.elapsed();
                let cpu = cpu_ns().saturating_sub(cpu_start);
                black_box(ikm);
                println!("{:.3} {:.3}", elapsed.as_secs_f64() * 1e3, cpu as f64 / 1e6);
            }
            Ok(())
        }
        Some("aes256gcm") => {
            let size: usize = num(args, 1, "BYTES")?;
            let seconds: f64 = num(args, 2, "SECONDS")?;
            let cipher = Aes256Gcm::new(&[0x42u8; 32].into());
            let nonce = Nonce::from([0x17u8; 12]);
            let mut buf = vec![0xa5u8; size];
            let budget = Duration::from_secs_f64(seconds);
            let cpu_start = cpu_ns();
            let start = Instant::now();
            let mut bytes = 0u64;
            while start.elapsed() < budget {
                for _ in 0..64 {
                    let tag = cipher
                        .encrypt_inout_detached(
                            black_box(&nonce),
                            b"",
                            black_box(buf.as_mut_slice()).into(),
                        )
                        .map_err(|e| e.to_string())?;
                    black_box(tag);
                    bytes += size as u64;
                }
            }
            let wall = start.elapsed().as_secs_f64();
            let cpu = cpu_ns().saturating_sub(cpu_start) as f64 / 1e9;
            println!(
                "{:.1} {:.1}",
                bytes as f64 / wall / 1e6,
                bytes as f64 / cpu.max(1e-9) / 1e6
            );
            Ok(())
        }
        _ => Err(
            "usage: backproof-primitive-bench argon2id M_KIB T P RUNS | aes256gcm BYTES SECONDS"
                .into(),
        ),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("backproof-primitive-bench: {e}");
            ExitCode::from(2)
        }
    }
}
