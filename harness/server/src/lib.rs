#![forbid(unsafe_code)]
//! backproof reference server: the v1 backup API (docs/API.md) and API v0 (docs/API-v0.md)
//! on Postgres + S3.
//!
//! ```no_run
//! # async fn demo() -> Result<(), backproof_server::ServerError> {
//! let config = backproof_server::Config {
//!     database_url: "postgres://postgres@127.0.0.1:5432/backproof".into(),
//!     s3_endpoint: "http://127.0.0.1:9000".into(),
//!     s3_bucket: "backproof".into(),
//!     s3_access_key: "ak".into(),
//!     s3_secret_key: "sk".into(),
//!     auth_secret: "a long random secret".into(),
//!     ..Default::default()
//! };
//! let server = backproof_server::bind(config).await?;
//! println!("listening on http://{}", server.local_addr());
//! server.run().await
//! # }
//! ```

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

mod api;
// The token code is the head crate's, so the fuzz targets link it without the server.
use backproof_head::token as auth;
mod config;
mod conn;
mod extract;
pub mod failpoint;
mod problem;
mod storage;
mod sweep;
mod v0;
mod write;

pub use api::{MIN_BLOB_BYTES, ROUTES};
pub use auth::{mint_token, user_from_header, valid_user, verify_token};
pub use config::{
    Config, DEFAULT_MAX_BLOB_BYTES, DEFAULT_V0_DOWNLOAD_URL_EXPIRY, DEFAULT_V0_MAX_BACKUP_BYTES,
    DEFAULT_V0_UPLOAD_URL_EXPIRY, Hook, Hooks, ServerArgs, UnsafeFlags, parse_duration, redact_url,
};
pub use conn::{LINGER_MAX_BYTES, LINGER_TIME};
pub use extract::Precondition;
pub use problem::ProblemKind;
pub use sweep::SweepStats;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot reach Postgres at {url}: {source} (is it running? check --database-url)")]
    Database { url: String, source: sqlx::Error },
    #[error("applying database migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "cannot use S3 bucket {bucket:?} at {endpoint}: {message} (check --s3-endpoint, --s3-bucket and the keys)"
    )]
    S3 {
        endpoint: String,
        bucket: String,
        message: String,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage failed: {0}")]
    Storage(String),
}

/// A server bound to its address, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    state: api::Shared,
}

/// A cheap handle to a running server's storage, for tests and tooling.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    state: api::Shared,
}

impl ServerHandle {
    /// Runs one sweep now (in addition to the periodic ones).
    pub async fn sweep_now(&self) -> Result<SweepStats, ServerError> {
        sweep::sweep_once(&self.state)
            .await
            .map_err(|e| ServerError::Storage(e.to_string()))
    }
}

/// Checks the configuration, connects to Postgres (applying the embedded migrations) and
/// S3 (the bucket must exist), and binds the listener.
pub async fn bind(config: Config) -> Result<Server, ServerError> {
    let missing = [
        (
            "database URL (--database-url / BACKPROOF_DATABASE_URL)",
            config.database_url.is_empty(),
        ),
        (
            "S3 endpoint (--s3-endpoint / BACKPROOF_S3_ENDPOINT)",
            config.s3_endpoint.is_empty(),
        ),
        (
            "S3 bucket (--s3-bucket / BACKPROOF_S3_BUCKET)",
            config.s3_bucket.is_empty(),
        ),
        (
            "auth secret (--auth-secret / BACKPROOF_AUTH_SECRET)",
            config.auth_secret.is_empty(),
        ),
    ];
    if let Some((what, _)) = missing.iter().find(|(_, m)| *m) {
        return Err(ServerError::Config(format!("no {what} given")));
    }
    if config.max_blob_bytes < MIN_BLOB_BYTES {
        return Err(ServerError::Config(format!(
            "--max-blob-bytes must be at least {MIN_BLOB_BYTES} (the minimum body size)"
        )));
    }
    if config.max_uploads == 0 || config.max_uploads_per_user == 0 {
        return Err(ServerError::Config(
            "--max-uploads and --max-uploads-per-user must be at least 1".into(),
        ));
    }
    if config.body_idle_timeout.is_zero() || config.header_read_timeout.is_zero() {
        return Err(ServerError::Config(
            "--body-idle-timeout and --header-read-timeout must be above zero".into(),
        ));
    }
    for (flag, d) in [
        ("--v0-upload-url-expiry", config.v0_upload_url_expiry),
        ("--v0-download-url-expiry", config.v0_download_url_expiry),
    ] {
        if d < std::time::Duration::from_secs(1) || d > v0::MAX_URL_EXPIRY {
            return Err(ServerError::Config(format!(
                "{flag} must be 1 s to 7 days (what a SigV4 presigned URL can carry), not {d:?}"
            )));
        }
    }
    failpoint::warn_plain_name();
    if let Some(spec) = &config.failpoints {
        failpoint::configure(spec).map_err(ServerError::Config)?;
    }

    let db = storage::db_pool(&config).map_err(|source| ServerError::Database {
        url: redact_url(&config.database_url),
        source,
    })?;
    // Connect eagerly once so a wrong URL fails here, with the URL in the message.
    db.acquire().await.map_err(|source| ServerError::Database {
        url: redact_url(&config.database_url),
        source,
    })?;
    sqlx::migrate!("./migrations").run(&db).await?;

    let s3 = storage::s3_client(&config);
    s3.head_bucket()
        .bucket(&config.s3_bucket)
        .send()
        .await
        .map_err(|e| ServerError::S3 {
            endpoint: config.s3_endpoint.clone(),
            bucket: config.s3_bucket.clone(),
            message: storage::StorageError::s3(e).to_string(),
        })?;

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let state = Arc::new(api::AppState {
        uploads: write::UploadSlots::new(config.max_uploads, config.max_uploads_per_user),
        config,
        db,
        s3,
        inflight: Mutex::new(HashSet::new()),
        v0_sweep: tokio::sync::RwLock::new(()),
    });
    Ok(Server { listener, state })
}

impl Server {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has an address")
    }

    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            state: self.state.clone(),
        }
    }

    /// Serves until the process ends.
    pub async fn run(self) -> Result<(), ServerError> {
        self.run_until(std::future::pending()).await
    }

    /// Serves until `shutdown` completes, then finishes the requests in progress.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let sweeper = tokio::spawn(sweep_loop(self.state.clone()));
        let app = api::router(self.state.clone());
        let res = conn::serve(
            self.listener,
            app,
            self.state.config.header_read_timeout,
            shutdown,
        )
        .await;
        sweeper.abort();
        res.map_err(ServerError::Io)
    }
}

async fn sweep_loop(state: api::Shared) {
    loop {
        if let Err(e) = sweep::sweep_once(&state).await {
            tracing::warn!(error = %e, "orphan sweep failed; retrying at the next interval");
        }
        tokio::time::sleep(state.config.sweep_interval).await;
    }
}

/// Binds, prints `listening on http://ADDR` on stdout (harnesses wait for that line), and
/// serves until SIGINT (Ctrl-C) or SIGTERM, then finishes the requests in progress.
pub async fn serve(config: Config) -> Result<(), ServerError> {
    // Listen for the signals before announcing the address: a harness that stops us right
    // after reading the line must get a graceful stop, not the default (kill) action.
    let stop = shutdown_signal().map_err(|e| {
        ServerError::Io(std::io::Error::new(
            e.kind(),
            format!("cannot listen for SIGINT/SIGTERM: {e}"),
        ))
    })?;
    let server = bind(config).await?;
    println!("listening on http://{}", server.local_addr());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    server.run_until(stop).await
}

/// Starts listening for SIGINT (Ctrl-C) and SIGTERM (what `kill`, systemd, Docker and test
/// harnesses send) and returns a future that completes at the first of them. The handlers
/// are installed when this is called, not when the future is first polled, so a signal that
/// arrives in between is not lost. Needs a running Tokio runtime.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// A fresh random secret (hex) for demo servers; from the OS RNG through UUID v4.
pub fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}
