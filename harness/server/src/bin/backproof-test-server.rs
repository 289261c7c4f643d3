#![forbid(unsafe_code)]
//! The reference server configured from BACKPROOF_* environment variables only. Crash tests
//! and the bench run it as a child process; people run `backproof serve`.

use std::time::Duration;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

fn env_parse<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("backproof-test-server: {name}={v:?} is not valid");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber_init();
    let d = backproof_server::Config::default();
    let config = backproof_server::Config {
        listen: env_parse("BACKPROOF_LISTEN", d.listen),
        database_url: env("BACKPROOF_DATABASE_URL"),
        s3_endpoint: env("BACKPROOF_S3_ENDPOINT"),
        s3_bucket: env("BACKPROOF_S3_BUCKET"),
        s3_access_key: env("BACKPROOF_S3_ACCESS_KEY"),
        s3_secret_key: env("BACKPROOF_S3_SECRET_KEY"),
        s3_region: std::env::var("BACKPROOF_S3_REGION").unwrap_or(d.s3_region.clone()),
        auth_secret: env("BACKPROOF_AUTH_SECRET"),
        max_blob_bytes: env_parse("BACKPROOF_MAX_BLOB_BYTES", d.max_blob_bytes),
        orphan_grace: Duration::from_secs(env_parse(
            "BACKPROOF_ORPHAN_GRACE_SECS",
            d.orphan_grace.as_secs(),
        )),
        sweep_interval: Duration::from_secs(env_parse(
            "BACKPROOF_SWEEP_INTERVAL_SECS",
            d.sweep_interval.as_secs(),
        )),
        unsafe_overwrite_in_place: env("BACKPROOF_UNSAFE_OVERWRITE_IN_PLACE") == "1",
        ..d
    };
    if let Err(e) = backproof_server::serve(config).await {
        eprintln!("backproof-test-server: {e}");
        std::process::exit(2);
    }
}

fn tracing_subscriber_init() {
    // Kept dependency-free: the child's stderr is only read when a test fails.
}
