//! v1 seal and open at the policy-floor KDF for 32 B, 64 KiB and 2 MiB payloads, and raw
//! AES-256-GCM throughput (what the blob's payload encryption costs without the KDF).
//!
//! `cargo bench -p backproof-tune --bench seal_open`

use std::hint::black_box;
use std::time::Duration;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use backproof_format::{KdfParams, Policy, Secret, open, seal};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [(usize, &str); 3] = [(32, "32B"), (64 * 1024, "64KiB"), (2 * 1024 * 1024, "2MiB")];

fn seal_open(c: &mut Criterion) {
    let secret = Secret::passphrase("correct horse battery staple");
    let salt = [0x5au8; 16];
    let nonce = [0x17u8; 12];
    let policy = Policy::default();
    let mut group = c.benchmark_group("blob_v1_floor_kdf");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    for (size, name) in SIZES {
        let plaintext = vec![0xa5u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", name), &plaintext, |b, pt| {
            b.iter(|| {
                seal(
                    black_box(&secret),
                    black_box(&KdfParams::FLOOR),
                    black_box(&salt),
                    black_box(&nonce),
                    black_box(pt),
                )
                .expect("seal")
            })
        });
        let blob = seal(&secret, &KdfParams::FLOOR, &salt, &nonce, &plaintext).expect("seal");
        group.bench_with_input(BenchmarkId::new("open", name), &blob, |b, blob| {
            b.iter(|| open(black_box(&secret), black_box(blob), black_box(&policy)).expect("open"))
        });
    }
    group.finish();
}

fn aes_gcm(c: &mut Criterion) {
    let cipher = Aes256Gcm::new(&[0x42u8; 32].into());
    let nonce = Nonce::from([0x17u8; 12]);
    let mut group = c.benchmark_group("aes256gcm_raw");
    group.measurement_time(Duration::from_secs(3));
    for (size, name) in [(16 * 1024, "16KiB"), (2 * 1024 * 1024, "2MiB")] {
        let mut buf = vec![0xa5u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("encrypt_in_place", name), |b| {
            b.iter(|| {
                let tag = cipher
                    .encrypt_inout_detached(
                        black_box(&nonce),
                        b"",
                        black_box(buf.as_mut_slice()).into(),
                    )
                    .expect("encrypt");
                black_box(tag)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, seal_open, aes_gcm);
criterion_main!(benches);
