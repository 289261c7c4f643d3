//! What the always-compiled failpoints cost (docs/API.md, "Failpoints"): an unarmed
//! `failpoint::hit` against an empty function, and, for scale, the `fail` crate's registry
//! lookup that an armed process pays at every point (here for a name that is not armed).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

#[inline(never)]
fn baseline(name: &'static str) -> Result<(), ()> {
    black_box(name);
    Ok(())
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("failpoint");
    g.bench_function("none (empty function)", |b| {
        b.iter(|| baseline(black_box("after_s3_put")))
    });
    g.bench_function("unarmed hit", |b| {
        b.iter(|| backproof_server::failpoint::hit(black_box("after_s3_put")).is_ok())
    });
    // Arming one point makes every hit consult the registry; `during_sweep` stays off here,
    // which is what the other points of an armed process pay.
    backproof_server::failpoint::configure("after_s3_put=off").expect("valid spec");
    g.bench_function("armed process, point not armed", |b| {
        b.iter(|| backproof_server::failpoint::hit(black_box("during_sweep")).is_ok())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
