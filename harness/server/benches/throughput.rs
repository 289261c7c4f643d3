#![forbid(unsafe_code)]
//! Server throughput against raw S3, and the server's peak memory under concurrent uploads
//! Run with
//!
//! ```sh
//! cargo bench -p backproof-server --bench throughput            # full run, ≈ 1–2 min
//! cargo bench -p backproof-server --bench throughput -- --quick # smoke run, seconds
//! ```
//!
//! A plain `main` (`harness = false`), not criterion: what matters here is latency while 32
//! clients compete for the same server, Postgres and S3, and criterion measures one
//! closure at a time. Every number is taken on one stack started by this process: a
//! throwaway Postgres and the embedded s3s-fs server.
//!
//! 1. Throughput: the server runs in this process. Per repetition, 32 clients (32 users —
//!    one backup each, so 32 users is 32-way concurrency) each POST `rounds` 1 MiB bodies
//!    one after another (`If-Match` of their current version), then each GETs its backup
//!    `rounds` times; the raw side does the same count of aws-sdk-s3 PutObject/GetObject
//!    with 32 tasks against the same endpoint and bucket (prefix `bench-raw/`). Sides
//!    alternate A B B A … so drift (other load, disk caches) hits both alike.
//! 2. Peak RSS: `backproof-test-server` runs as a child process (its RSS is then its own,
//!    without the embedded S3 or the clients); 32 users POST 2 MiB bodies at once, a few
//!    bursts; the peak is `VmHWM` from /proc, reset after warm-up through `clear_refs`.
//!
//! Settings: `BENCH_CLIENTS` (32), `BENCH_ROUNDS` (8), `BENCH_REPS` (6), `BENCH_BURSTS` (5),
//! `BENCH_RSS_BLOB_KIB` (2048), `BENCH_QUICK=1` or `--quick` (1 round, 1 repetition, 1
//! burst). Without `--bench` among
//! the arguments (that is, under `cargo test --benches`) it runs the quick mode, as
//! criterion benches do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::primitives::ByteStream;
use backproof_stack::{PgHandle, S3Handle};
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::task::JoinSet;

const SECRET: &str = "bench-secret-for-backproof";
const MIB: usize = 1024 * 1024;
/// Throughput blob size.
const BLOB: usize = MIB;
/// Peak-RSS blob size: the server's default limit (2,097,152 bytes).
const BIG_BLOB_KIB: usize = 2048;

#[derive(Debug, Clone, Copy)]
struct Settings {
    clients: usize,
    rounds: usize,
    reps: usize,
    bursts: usize,
    /// Body size of the peak-RSS bursts; smaller sizes show what RSS does not scale with.
    rss_blob: usize,
    quick: bool,
    /// The throwaway Postgres' postmaster, whose CPU time (with its backends') is counted.
    pg_pid: Option<u32>,
}

fn env_usize(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => {
            let n: usize = v
                .parse()
                .with_context(|| format!("{name}={v:?} is not a whole number"))?;
            ensure!(n > 0, "{name} must be at least 1");
            Ok(n)
        }
        Err(_) => Ok(default),
    }
}

fn settings() -> anyhow::Result<Settings> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "throughput bench: cargo bench -p backproof-server --bench throughput [-- --quick]\n\
             env: BENCH_CLIENTS (32) BENCH_ROUNDS (8) BENCH_REPS (6) BENCH_BURSTS (5)\n     \
             BENCH_RSS_BLOB_KIB (2048) BENCH_QUICK=1"
        );
        std::process::exit(0);
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and wants a smoke run.
    let quick = args.iter().any(|a| a == "--quick")
        || !args.iter().any(|a| a == "--bench")
        || std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
    let (rounds, reps, bursts) = if quick { (1, 1, 1) } else { (8, 6, 5) };
    let rss_blob = env_usize("BENCH_RSS_BLOB_KIB", BIG_BLOB_KIB)? * 1024;
    ensure!(
        rss_blob as u64 <= backproof_server::DEFAULT_MAX_BLOB_BYTES,
        "BENCH_RSS_BLOB_KIB is over the server's {} KiB limit",
        backproof_server::DEFAULT_MAX_BLOB_BYTES / 1024
    );
    Ok(Settings {
        clients: env_usize("BENCH_CLIENTS", 32)?,
        rounds: env_usize("BENCH_ROUNDS", rounds)?,
        reps: env_usize("BENCH_REPS", reps)?,
        bursts: env_usize("BENCH_BURSTS", bursts)?,
        rss_blob,
        quick,
        pg_pid: None,
    })
}

/// Distinct, deterministic contents per client, so a GET that returned another user's
/// backup would be caught.
fn blob(seed: usize, len: usize) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed as u8))
        .collect::<Vec<u8>>()
        .into()
}

fn token(user: &str) -> String {
    backproof_server::mint_token(SECRET.as_bytes(), user)
}

/// The same S3 client settings as the server's own (harness/server/src/storage.rs), so the
/// raw side measures the S3 leg of the server's path and nothing else.
fn raw_s3_client(s3: &S3Handle) -> aws_sdk_s3::Client {
    let endpoint = backproof_s3::Endpoint {
        url: s3.endpoint(),
        region: s3.region(),
        access_key: s3.access_key(),
        secret_key: s3.secret_key(),
    };
    let conf = backproof_s3::config(endpoint, "bench")
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A streamed body, like the server's PUT: the SDK then signs `UNSIGNED-PAYLOAD` instead of
/// hashing an in-memory body, exactly as for the bytes the server forwards.
fn streamed(data: Bytes) -> ByteStream {
    ByteStream::from_body_1_x(http_body_util::Full::new(data))
}

// ---------------------------------------------------------------------------------------
// Measurement

/// utime + stime of /proc/<pid>/stat, in ms. The kernel reports clock ticks of USER_HZ,
/// which is 100 on every Linux ABI (it is independent of the kernel's HZ).
fn cpu_ms_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces:
    // [0] state, [1] ppid, … [11] utime, [12] stime.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 * 10.0)
}

/// CPU time so far of this process (clients, in-process server, embedded S3; threads that
/// ended included) and of Postgres (postmaster and its live children: the backends).
fn cpu_now(pg_pid: Option<u32>) -> (f64, f64) {
    let own = cpu_ms_of("self").unwrap_or(f64::NAN);
    let Some(pg) = pg_pid else {
        return (own, f64::NAN);
    };
    let mut pg_ms = cpu_ms_of(&pg.to_string()).unwrap_or(f64::NAN);
    let pg_ppid = pg.to_string();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1));
            if ppid == Some(pg_ppid.as_str()) {
                pg_ms += cpu_ms_of(pid).unwrap_or(0.0);
            }
        }
    }
    (own, pg_ms)
}

/// One phase: every client did `rounds` operations of one kind.
#[derive(Debug)]
struct Phase {
    wall: Duration,
    /// Bytes of the operations that succeeded.
    bytes: u64,
    latencies: Vec<Duration>,
    /// Failed operations (e.g. a 503 under load) and the first one's error: counted and
    /// shown, not fatal, so one refusal does not discard the run.
    failures: usize,
    first_error: Option<String>,
    /// CPU time this process and Postgres spent during the phase.
    cpu_ms: f64,
    pg_cpu_ms: f64,
}

impl Phase {
    fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / MIB as f64 / self.wall.as_secs_f64()
    }
}

/// Runs `op(client, round)` for every client concurrently (one task each), each client's
/// rounds one after another; times every successful call and the whole phase.
async fn phase<F, Fut>(s: Settings, bytes_per_op: usize, op: F) -> anyhow::Result<Phase>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let (clients, rounds) = (s.clients, s.rounds);
    let op = Arc::new(op);
    let cpu_start = cpu_now(s.pg_pid);
    let start = Instant::now();
    let mut set = JoinSet::new();
    for c in 0..clients {
        let op = op.clone();
        set.spawn(async move {
            let mut lat = Vec::with_capacity(rounds);
            let mut errors = Vec::new();
            for r in 0..rounds {
                let t = Instant::now();
                match op(c, r).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(e) => errors.push(format!("client {c} round {r}: {e:#}")),
                }
            }
            (lat, errors)
        });
    }
    let mut latencies = Vec::with_capacity(clients * rounds);
    let mut errors = Vec::new();
    while let Some(res) = set.join_next().await {
        let (lat, errs) = res.context("a benchmark task panicked")?;
        latencies.extend(lat);
        errors.extend(errs);
    }
    let wall = start.elapsed();
    let cpu_end = cpu_now(s.pg_pid);
    Ok(Phase {
        wall,
        cpu_ms: cpu_end.0 - cpu_start.0,
        pg_cpu_ms: cpu_end.1 - cpu_start.1,
        bytes: (latencies.len() * bytes_per_op) as u64,
        latencies,
        failures: errors.len(),
        first_error: errors.into_iter().next(),
    })
}

/// Nearest-rank percentile of a sorted slice, in milliseconds.
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Every repetition of one operation: throughput per repetition, latencies pooled.
#[derive(Debug, Default)]
struct Series {
    mib_per_s: Vec<f64>,
    /// CPU ms per MiB moved, per repetition: this process, and Postgres.
    cpu_per_mib: Vec<f64>,
    pg_cpu_per_mib: Vec<f64>,
    latencies: Vec<Duration>,
    failures: usize,
    first_error: Option<String>,
}

impl Series {
    fn add(&mut self, p: Phase) {
        self.mib_per_s.push(p.mib_per_s());
        let moved = p.bytes as f64 / MIB as f64;
        self.cpu_per_mib.push(p.cpu_ms / moved);
        self.pg_cpu_per_mib.push(p.pg_cpu_ms / moved);
        self.latencies.extend(p.latencies);
        self.failures += p.failures;
        if self.first_error.is_none() {
            self.first_error = p.first_error;
        }
    }

    fn summary(&self) -> Summary {
        let mut lat = self.latencies.clone();
        lat.sort();
        let min = self.mib_per_s.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.mib_per_s.iter().copied().fold(0.0, f64::max);
        Summary {
            mib_per_s: median(self.mib_per_s.clone()),
            min,
            max,
            p50: percentile_ms(&lat, 50.0),
            p99: percentile_ms(&lat, 99.0),
            n: lat.len(),
            failures: self.failures,
            cpu_per_mib: median(self.cpu_per_mib.clone()),
            pg_cpu_per_mib: median(self.pg_cpu_per_mib.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Summary {
    mib_per_s: f64,
    min: f64,
    max: f64,
    p50: f64,
    p99: f64,
    n: usize,
    failures: usize,
    cpu_per_mib: f64,
    pg_cpu_per_mib: f64,
}

// ---------------------------------------------------------------------------------------
// The two sides

/// Clients of the in-process server: one user per client, with its current version.
struct ServerSide {
    http: reqwest::Client,
    url: String,
    tokens: Vec<String>,
    blobs: Vec<Bytes>,
    versions: Vec<std::sync::Mutex<Option<u64>>>,
}

impl ServerSide {
    async fn post(&self, c: usize) -> anyhow::Result<()> {
        let version = *self.versions[c].lock().expect("version lock");
        let mut req = self
            .http
            .post(format!("{}/v1/backup", self.url))
            .bearer_auth(&self.tokens[c])
            .body(self.blobs[c].clone());
        if let Some(v) = version {
            req = req.header("if-match", format!("\"{v}\""));
        }
        let resp = req.send().await?;
        let status = resp.status();
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim_matches('"').parse::<u64>().ok());
        let body = resp.bytes().await?;
        ensure!(
            status.is_success(),
            "POST answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        *self.versions[c].lock().expect("version lock") =
            Some(etag.context("POST answered without a numeric ETag")?);
        Ok(())
    }

    async fn get(&self, c: usize) -> anyhow::Result<()> {
        let resp = self
            .http
            .get(format!("{}/v1/backup", self.url))
            .bearer_auth(&self.tokens[c])
            .send()
            .await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        ensure!(status.is_success(), "GET answered {status}");
        ensure!(
            body == self.blobs[c],
            "GET returned other bytes than POSTed"
        );
        Ok(())
    }
}

/// Raw aws-sdk-s3 clients: one object per client under `bench-raw/`.
struct RawSide {
    s3: aws_sdk_s3::Client,
    bucket: String,
    blobs: Vec<Bytes>,
}

impl RawSide {
    fn key(c: usize) -> String {
        format!("bench-raw/{c}")
    }

    async fn put(&self, c: usize) -> anyhow::Result<()> {
        let data = self.blobs[c].clone();
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(Self::key(c))
            .content_length(data.len() as i64)
            .content_type("application/octet-stream")
            .body(streamed(data))
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("PutObject: {}", aws_sdk_s3::error::DisplayErrorContext(e))
            })?;
        Ok(())
    }

    async fn get(&self, c: usize) -> anyhow::Result<()> {
        let obj = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(Self::key(c))
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("GetObject: {}", aws_sdk_s3::error::DisplayErrorContext(e))
            })?;
        let body = obj.body.collect().await?.into_bytes();
        ensure!(
            body == self.blobs[c],
            "GetObject returned other bytes than PUT"
        );
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Results {
    post: Series,
    get: Series,
    put: Series,
    raw_get: Series,
}

async fn run_server(side: &Arc<ServerSide>, s: Settings, res: &mut Results) -> anyhow::Result<()> {
    let sd = side.clone();
    res.post.add(
        phase(s, BLOB, move |c, _| {
            let sd = sd.clone();
            async move { sd.post(c).await }
        })
        .await?,
    );
    let sd = side.clone();
    res.get.add(
        phase(s, BLOB, move |c, _| {
            let sd = sd.clone();
            async move { sd.get(c).await }
        })
        .await?,
    );
    Ok(())
}

async fn run_raw(side: &Arc<RawSide>, s: Settings, res: &mut Results) -> anyhow::Result<()> {
    let sd = side.clone();
    res.put.add(
        phase(s, BLOB, move |c, _| {
            let sd = sd.clone();
            async move { sd.put(c).await }
        })
        .await?,
    );
    let sd = side.clone();
    res.raw_get.add(
        phase(s, BLOB, move |c, _| {
            let sd = sd.clone();
            async move { sd.get(c).await }
        })
        .await?,
    );
    Ok(())
}

/// Prints the table; returns how many measured operations failed.
async fn throughput(pg: &PgHandle, s3: &S3Handle, s: Settings) -> anyhow::Result<usize> {
    let db_url = pg.create_unique_database("bench_tp").await?;
    let config = backproof_server::Config {
        listen: "127.0.0.1:0".parse()?,
        database_url: db_url,
        s3_endpoint: s3.endpoint().to_owned(),
        s3_bucket: s3.bucket().to_owned(),
        s3_access_key: s3.access_key().to_owned(),
        s3_secret_key: s3.secret_key().to_owned(),
        s3_region: s3.region().to_owned(),
        auth_secret: SECRET.to_owned(),
        // No sweeps while measuring (it runs once at start, on an empty bucket).
        sweep_interval: Duration::from_secs(3600),
        ..backproof_server::Config::default()
    };
    let server = backproof_server::bind(config).await?;
    let url = format!("http://{}", server.local_addr());
    tokio::spawn(server.run());

    let blobs: Vec<Bytes> = (0..s.clients).map(|c| blob(c, BLOB)).collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(s.clients)
        .build()?;
    let server_side = Arc::new(ServerSide {
        http,
        url,
        tokens: (0..s.clients)
            .map(|c| token(&format!("bench-{c}")))
            .collect(),
        blobs: blobs.clone(),
        versions: (0..s.clients)
            .map(|_| std::sync::Mutex::new(None))
            .collect(),
    });
    let raw_side = Arc::new(RawSide {
        s3: raw_s3_client(s3),
        bucket: s3.bucket().to_owned(),
        blobs,
    });

    // Warm-up, not recorded: creates every user's backup and every raw object, and opens
    // the connection pools (client→server, server→Postgres, server→S3, raw→S3).
    let warm = Settings { rounds: 1, ..s };
    run_server(&server_side, warm, &mut Results::default()).await?;
    run_raw(&raw_side, warm, &mut Results::default()).await?;

    let mut res = Results::default();
    for rep in 0..s.reps {
        // A B B A A B …: each side goes first as often as second.
        if rep % 2 == 0 {
            run_server(&server_side, s, &mut res).await?;
            run_raw(&raw_side, s, &mut res).await?;
        } else {
            run_raw(&raw_side, s, &mut res).await?;
            run_server(&server_side, s, &mut res).await?;
        }
        eprintln!(
            "  rep {}/{}: POST {:.0} PUT {:.0} GET {:.0} raw GET {:.0} MiB/s",
            rep + 1,
            s.reps,
            res.post.mib_per_s[rep],
            res.put.mib_per_s[rep],
            res.get.mib_per_s[rep],
            res.raw_get.mib_per_s[rep],
        );
    }

    let post = res.post.summary();
    let put = res.put.summary();
    let get = res.get.summary();
    let rget = res.raw_get.summary();
    println!();
    println!(
        "throughput: {} clients × {} rounds × 1 MiB per phase, {} repetitions (sides alternated)",
        s.clients, s.rounds, s.reps
    );
    println!(
        "{:<30} {:>24} {:>9} {:>9} {:>6} {:>7}",
        "", "MiB/s median (min–max)", "p50 ms", "p99 ms", "n", "failed"
    );
    let row = |name: &str, x: Summary| {
        println!(
            "{:<30} {:>24} {:>9.1} {:>9.1} {:>6} {:>7}",
            name,
            format!("{:.0} ({:.0}–{:.0})", x.mib_per_s, x.min, x.max),
            x.p50,
            x.p99,
            x.n,
            x.failures
        );
    };
    let ratio = |name: &str, a: Summary, b: Summary| {
        println!(
            "{:<30} {:>24} {:>9.2} {:>9.2}",
            name,
            format!("{:.2}", a.mib_per_s / b.mib_per_s),
            a.p50 / b.p50,
            a.p99 / b.p99
        );
    };
    row("server POST /v1/backup", post);
    row("raw S3 PutObject", put);
    ratio("ratio server/raw (write)", post, put);
    row("server GET /v1/backup", get);
    row("raw S3 GetObject", rget);
    ratio("ratio server/raw (read)", get, rget);

    // Wall-clock numbers move with whatever else runs on the machine; CPU time per MiB
    // much less so, and it says where the work goes.
    println!();
    println!(
        "CPU time per MiB moved, ms (median of repetitions; this process = clients + server + S3)"
    );
    println!(
        "{:<30} {:>12} {:>9} {:>9}",
        "", "this process", "Postgres", "total"
    );
    let cpu_row = |name: &str, x: Summary| {
        println!(
            "{:<30} {:>12.2} {:>9.2} {:>9.2}",
            name,
            x.cpu_per_mib,
            x.pg_cpu_per_mib,
            x.cpu_per_mib + x.pg_cpu_per_mib
        );
    };
    let cpu_ratio = |name: &str, a: Summary, b: Summary| {
        println!(
            "{:<30} {:>12.2} {:>9} {:>9.2}",
            name,
            a.cpu_per_mib / b.cpu_per_mib,
            "",
            (a.cpu_per_mib + a.pg_cpu_per_mib) / (b.cpu_per_mib + b.pg_cpu_per_mib)
        );
    };
    cpu_row("server POST /v1/backup", post);
    cpu_row("raw S3 PutObject", put);
    cpu_ratio("ratio server/raw (write)", post, put);
    cpu_row("server GET /v1/backup", get);
    cpu_row("raw S3 GetObject", rget);
    cpu_ratio("ratio server/raw (read)", get, rget);
    let mut failures = 0;
    for (name, series) in [
        ("POST", &res.post),
        ("PutObject", &res.put),
        ("GET", &res.get),
        ("GetObject", &res.raw_get),
    ] {
        failures += series.failures;
        if let Some(e) = &series.first_error {
            println!("  {} {name} failed; the first: {e}", series.failures);
        }
    }
    Ok(failures)
}

// ---------------------------------------------------------------------------------------
// Peak RSS of the server as a child process

/// A `Vm*:` line of /proc/<pid>/status, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {field} in {path}"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn post_all(
    http: &reqwest::Client,
    url: &str,
    tokens: &[String],
    versions: &mut [Option<u64>],
    body: &Bytes,
    failed: &mut Vec<String>,
) -> anyhow::Result<()> {
    let mut set = JoinSet::new();
    for (c, (tok, ver)) in tokens.iter().zip(versions.iter()).enumerate() {
        let mut req = http
            .post(format!("{url}/v1/backup"))
            .bearer_auth(tok)
            .body(body.clone());
        if let Some(v) = ver {
            req = req.header("if-match", format!("\"{v}\""));
        }
        set.spawn(async move {
            let res = async {
                let resp = req.send().await?;
                let status = resp.status();
                let etag = resp
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim_matches('"').parse::<u64>().ok());
                let text = resp.text().await?;
                ensure!(status.is_success(), "POST answered {status}: {text}");
                etag.context("POST answered without a numeric ETag")
            }
            .await;
            (c, res)
        });
    }
    while let Some(r) = set.join_next().await {
        // A failed POST changed nothing (the API's promise), so the version stays.
        match r.context("an upload task panicked")? {
            (c, Ok(v)) => versions[c] = Some(v),
            (c, Err(e)) => failed.push(format!("user rss-{c}: {e:#}")),
        }
    }
    Ok(())
}

/// Prints the peak-RSS lines; returns how many uploads failed.
async fn peak_rss(pg: &PgHandle, s3: &S3Handle, s: Settings) -> anyhow::Result<usize> {
    // Cargo builds a package's binaries for its benches and names them here.
    let exe = env!("CARGO_BIN_EXE_backproof-test-server");
    let db_url = pg.create_unique_database("bench_rss").await?;
    let mut child = tokio::process::Command::new(exe)
        .env("BACKPROOF_LISTEN", "127.0.0.1:0")
        .env("BACKPROOF_DATABASE_URL", &db_url)
        .env("BACKPROOF_S3_ENDPOINT", s3.endpoint())
        .env("BACKPROOF_S3_BUCKET", s3.bucket())
        .env("BACKPROOF_S3_ACCESS_KEY", s3.access_key())
        .env("BACKPROOF_S3_SECRET_KEY", s3.secret_key())
        .env("BACKPROOF_S3_REGION", s3.region())
        .env("BACKPROOF_AUTH_SECRET", SECRET)
        .env("BACKPROOF_SWEEP_INTERVAL", "1h")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {exe}"))?;
    let pid = child.id().context("child has no pid")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("backproof-test-server did not print its address within 30 s")??
        .context("backproof-test-server exited before listening")?;
    let url = line
        .strip_prefix("listening on ")
        .with_context(|| format!("unexpected first line from the server: {line:?}"))?
        .to_owned();

    let rss_start = proc_status_kib(pid, "VmRSS")?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(s.clients)
        .build()?;
    let tokens: Vec<String> = (0..s.clients).map(|c| token(&format!("rss-{c}"))).collect();
    let mut versions = vec![None; s.clients];
    // Warm-up with small bodies: creates the backups and opens every connection and pool,
    // so the baseline holds what a busy server holds apart from request bodies.
    let mut warm_failed = Vec::new();
    post_all(
        &http,
        &url,
        &tokens,
        &mut versions,
        &blob(0, 64 * 1024),
        &mut warm_failed,
    )
    .await?;
    if let Some(e) = warm_failed.first() {
        bail!("warm-up upload failed: {e}");
    }
    let rss_warm = proc_status_kib(pid, "VmRSS")?;
    // "5" resets VmHWM to the current RSS (Linux ≥ 4.0), so the peak below is the bursts'.
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();

    // Sampling RSS as well shows whether the peak is held or a spike.
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut max = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(kib) = proc_status_kib(pid, "VmRSS") {
                    max = max.max(kib);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            max
        })
    };
    let big = blob(1, s.rss_blob);
    let start = Instant::now();
    // The peak after each burst: still rising after the first few would mean a leak.
    let mut per_burst = Vec::with_capacity(s.bursts);
    let mut failed = Vec::new();
    for _ in 0..s.bursts {
        post_all(&http, &url, &tokens, &mut versions, &big, &mut failed).await?;
        per_burst.push(format!("{:.1}", mib(proc_status_kib(pid, "VmHWM")?)));
    }
    let wall = start.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let sampled_max = sampler.await?;
    let hwm = proc_status_kib(pid, "VmHWM")?;
    let rss_end = proc_status_kib(pid, "VmRSS")?;
    child.start_kill()?;
    let _ = child.wait().await;

    let in_flight = (s.clients * s.rss_blob) as f64 / MIB as f64;
    println!();
    println!(
        "peak RSS of backproof-test-server (child process), {} bursts of {} concurrent {} KiB POSTs ({:.1} s)",
        s.bursts,
        s.clients,
        s.rss_blob / 1024,
        wall.as_secs_f64()
    );
    println!("  VmRSS after start            {:>8.1} MiB", mib(rss_start));
    println!("  VmRSS after warm-up (base)   {:>8.1} MiB", mib(rss_warm));
    println!(
        "  VmHWM during bursts          {:>8.1} MiB  (+{:.1} MiB over base{}; bodies in flight: {in_flight:.0} MiB)",
        mib(hwm),
        mib(hwm.saturating_sub(rss_warm)),
        if reset {
            ""
        } else {
            "; clear_refs refused, peak since start"
        }
    );
    println!(
        "  max sampled VmRSS (2 ms)     {:>8.1} MiB",
        mib(sampled_max)
    );
    println!("  VmRSS after bursts           {:>8.1} MiB", mib(rss_end));
    println!("  VmHWM after each burst       {} MiB", per_burst.join(" "));
    if let Some(e) = failed.first() {
        println!(
            "  {} of {} uploads failed; the first: {e}",
            failed.len(),
            s.bursts * s.clients
        );
    }
    Ok(failed.len())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let s = settings()?;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "backproof-server throughput bench{}: {} CPUs, load average {} at start",
        if s.quick { " (quick)" } else { "" },
        cpus,
        load_average()
    );
    let (pg, s3) = match tokio::try_join!(PgHandle::throwaway(), S3Handle::embedded()) {
        Ok(x) => x,
        Err(e) => bail!(
            "cannot start the stack: {e} (the bench needs initdb/pg_ctl/postgres on PATH, see docs/STACK.md)"
        ),
    };
    println!("stack: {} + {}", pg.describe(), s3.describe());
    let s = Settings {
        pg_pid: pg.pid(),
        ..s
    };
    let t = Instant::now();
    let failed = throughput(&pg, &s3, s).await? + peak_rss(&pg, &s3, s).await?;
    println!();
    println!(
        "done in {:.1} s, load average {} at end",
        t.elapsed().as_secs_f64(),
        load_average()
    );
    // Printed numbers count successful requests only; a failure still fails the bench so
    // that it is not overlooked.
    ensure!(failed == 0, "{failed} requests failed (listed above)");
    Ok(())
}
