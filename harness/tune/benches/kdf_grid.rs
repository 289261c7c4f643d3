//! Argon2id over the grid m ∈ {19, 46, 64, 128} MiB × t ∈ {1, 2, 3, 4} × p ∈ {1, 4}, through
//! backproof-format's `derive_ikm` (the reference client's path), then a summary of which
//! grid points take 500–1000 ms on this machine.
//!
//! `cargo bench -p backproof-tune --bench kdf_grid` (a filter after `--` narrows the grid,
//! e.g. `-- m64`). Ten samples per point: a point costs up to a few seconds, and the spread
//! of a memory-bound kernel is small.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use backproof_format::{KdfParams, derive_ikm};
use criterion::{BenchmarkId, Criterion};

const GROUP: &str = "argon2id_grid";
const WINDOW_MS: (f64, f64) = (500.0, 1000.0);

fn grid() -> Vec<KdfParams> {
    let mut out = Vec::new();
    for m_mib in [19u32, 46, 64, 128] {
        for t in 1..=4u32 {
            for p in [1u32, 4] {
                out.push(KdfParams {
                    m_cost: m_mib * 1024,
                    t_cost: t,
                    p_cost: p,
                });
            }
        }
    }
    out
}

fn id(p: &KdfParams) -> String {
    format!("m{}_t{}_p{}", p.m_cost / 1024, p.t_cost, p.p_cost)
}

fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")));
    target.join("criterion")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group(GROUP);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let salt = [0x5au8; 16];
    for params in grid() {
        group.bench_with_input(BenchmarkId::from_parameter(id(&params)), &params, |b, p| {
            b.iter(|| {
                let ikm = derive_ikm(
                    black_box("correct horse battery staple"),
                    black_box(&salt),
                    black_box(p),
                )
                .expect("grid parameters are valid");
                black_box(ikm)
            })
        });
    }
    group.finish();
}

/// Reads criterion's median estimate (ns) for one grid point, if that point ran.
fn median_ms(dir: &std::path::Path, p: &KdfParams) -> Option<f64> {
    let path = dir
        .join(GROUP)
        .join(id(p))
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(v.pointer("/median/point_estimate")?.as_f64()? / 1e6)
}

fn main() {
    let dir = output_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    bench(&mut c);
    c.final_summary();

    let mut inside = Vec::new();
    println!(
        "\nArgon2id grid on this machine (criterion median, ms; * = inside {}–{} ms):",
        WINDOW_MS.0, WINDOW_MS.1
    );
    println!("{:>8} {:>3} {:>3} {:>10}", "m (MiB)", "t", "p", "median");
    for p in grid() {
        if let Some(ms) = median_ms(&dir, &p) {
            let hit = (WINDOW_MS.0..=WINDOW_MS.1).contains(&ms);
            println!(
                "{:>8} {:>3} {:>3} {:>10.1}{}",
                p.m_cost / 1024,
                p.t_cost,
                p.p_cost,
                ms,
                if hit { " *" } else { "" }
            );
            if hit {
                inside.push(format!("m={},t={},p={}", p.m_cost, p.t_cost, p.p_cost));
            }
        }
    }
    if inside.is_empty() {
        println!(
            "no measured grid point is inside the window (run `backproof tune` for exact parameters)"
        );
    } else {
        println!("inside the window: {}", inside.join("  "));
    }
}
