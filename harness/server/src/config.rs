//! The server's one configuration: [`Config`], and [`ServerArgs`], the flags and `BACKPROOF_*`
//! variables that fill it for both `backproof serve` and `backproof-test-server` (one set of
//! names, listed in docs/API.md, "Configuration").

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Default body limit: 2 MiB (docs/API.md).
pub const DEFAULT_MAX_BLOB_BYTES: u64 = 2 * 1024 * 1024;
/// Default bound of an API v0 `backup_size`: the noah-v0 profile's largest body, 64 MiB
/// (docs/profiles/noah-v0.md). v0 objects go to S3 through presigned URLs, never through
/// the server, so this bound is not the server's memory.
pub const DEFAULT_V0_MAX_BACKUP_BYTES: u64 = 64 * 1024 * 1024;

/// How long an API v0 upload URL is valid by default: the original design's 15 minutes
/// (docs/API-v0.md).
pub const DEFAULT_V0_UPLOAD_URL_EXPIRY: Duration = Duration::from_secs(15 * 60);
/// How long an API v0 download URL is valid by default: the original design's 5 minutes.
pub const DEFAULT_V0_DOWNLOAD_URL_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Everything the server needs. `Default` gives the documented defaults and empty storage
/// settings, which [`crate::bind`] refuses with a message naming the missing setting.
#[derive(Clone)]
pub struct Config {
    /// Where to listen (127.0.0.1:8080 by default).
    pub listen: SocketAddr,
    pub database_url: String,
    pub s3_endpoint: String,
    pub s3_bucket: String,
    pub s3_access_key: String,
    pub s3_secret_key: String,
    pub s3_region: String,
    /// HMAC key for bearer tokens (see [`crate::mint_token`]).
    pub auth_secret: String,
    /// Bodies longer than this are refused with 413.
    pub max_blob_bytes: u64,
    /// Unreferenced objects younger than this are left alone by the sweeper.
    pub orphan_grace: Duration,
    /// How often the sweeper runs (it also runs once at start).
    pub sweep_interval: Duration,
    /// Where bodies of unknown length (chunked) are spooled, at most `max_blob_bytes` each.
    pub spool_dir: PathBuf,
    pub db_max_connections: u32,
    /// An upload that receives no body byte for this long is answered 408.
    pub body_idle_timeout: Duration,
    /// A connection that does not complete its request head within this is closed.
    pub header_read_timeout: Duration,
    /// Uploads in progress at once, all users together (503 `server-busy` above).
    pub max_uploads: usize,
    /// Uploads in progress at once for one user (429 `too-many-uploads` above).
    pub max_uploads_per_user: usize,
    /// Largest API v0 `backup_size` (413 `too-large` above).
    pub v0_max_backup_bytes: u64,
    /// How long a presigned API v0 upload URL (PUT) is valid.
    pub v0_upload_url_expiry: Duration,
    /// How long a presigned API v0 download URL (GET) is valid.
    pub v0_download_url_expiry: Duration,
    /// `fail`-crate spec arming the failpoints (docs/API.md, "Failpoints"); None: inert.
    pub failpoints: Option<String>,
    /// Deliberately broken behaviours, for proving the suite catches them.
    pub unsafe_flags: UnsafeFlags,
    #[doc(hidden)]
    pub hooks: Hooks,
}

/// Deliberately broken servers (hidden flags). Never use them outside the suite's own tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnsafeFlags {
    /// One S3 key per user (`backups/{user}`), overwritten before the
    /// database update.
    pub overwrite_in_place: bool,
    /// Commits the new version even when its S3 PUT failed: the row names a missing object.
    pub commit_on_failed_put: bool,
    /// A GET whose object vanished answers 500 at once instead of reading the row again.
    pub no_reread_on_get_race: bool,
    /// Never deletes replaced, deleted or uncommitted objects; the sweeper deletes nothing.
    pub never_delete_objects: bool,
    /// `?user=NAME` or `X-Backproof-User: NAME` replaces the bearer token's user.
    pub user_override: bool,
    /// A stalled upload body is answered 503 `storage-unavailable`, as when the S3 client
    /// judged the client's pace, instead of 408.
    pub stall_is_unavailable: bool,
    /// API v0: `complete_upload` does not HEAD the object and records the client's
    /// `backup_size`, so a row can name a missing object or one of another size.
    pub complete_trusts_client_size: bool,
    /// API v0: any `backup_version` is accepted, not only the two slots 1 and 2.
    pub any_backup_version: bool,
    /// API v0: `complete_upload` takes any key of the v0 layout, another user's too, so a
    /// user can point a slot at an object someone else uploaded.
    pub complete_any_key: bool,
}

/// An async callback for tests that must interleave with a request deterministically.
pub type Hook = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Test-only interleaving points; all `None` in real servers.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Runs in GET /v1/backup between reading the row and fetching its object.
    pub get_after_row_read: Option<Hook>,
    /// Runs in POST /v0/backup/complete_upload between its HEAD and its commit.
    pub v0_complete_after_head: Option<Hook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("get_after_row_read", &self.get_after_row_read.is_some())
            .field(
                "v0_complete_after_head",
                &self.v0_complete_after_head.is_some(),
            )
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: String::new(),
            s3_endpoint: String::new(),
            s3_bucket: String::new(),
            s3_access_key: String::new(),
            s3_secret_key: String::new(),
            s3_region: "us-east-1".into(),
            auth_secret: String::new(),
            max_blob_bytes: DEFAULT_MAX_BLOB_BYTES,
            orphan_grace: Duration::from_secs(600),
            sweep_interval: Duration::from_secs(60),
            spool_dir: std::env::temp_dir(),
            db_max_connections: 16,
            body_idle_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            max_uploads: 256,
            max_uploads_per_user: 32,
            v0_max_backup_bytes: DEFAULT_V0_MAX_BACKUP_BYTES,
            v0_upload_url_expiry: DEFAULT_V0_UPLOAD_URL_EXPIRY,
            v0_download_url_expiry: DEFAULT_V0_DOWNLOAD_URL_EXPIRY,
            failpoints: None,
            unsafe_flags: UnsafeFlags::default(),
            hooks: Hooks::default(),
        }
    }
}

impl std::fmt::Debug for Config {
    // Hand-written so that secrets (and a password inside the database URL) never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_access_key", &"<redacted>")
            .field("s3_secret_key", &"<redacted>")
            .field("s3_region", &self.s3_region)
            .field("auth_secret", &"<redacted>")
            .field("max_blob_bytes", &self.max_blob_bytes)
            .field("orphan_grace", &self.orphan_grace)
            .field("sweep_interval", &self.sweep_interval)
            .field("spool_dir", &self.spool_dir)
            .field("db_max_connections", &self.db_max_connections)
            .field("body_idle_timeout", &self.body_idle_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_uploads", &self.max_uploads)
            .field("max_uploads_per_user", &self.max_uploads_per_user)
            .field("v0_max_backup_bytes", &self.v0_max_backup_bytes)
            .field("v0_upload_url_expiry", &self.v0_upload_url_expiry)
            .field("v0_download_url_expiry", &self.v0_download_url_expiry)
            .field("failpoints", &self.failpoints)
            .field("unsafe_flags", &self.unsafe_flags)
            .finish()
    }
}

/// `postgres://user:pass@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_owned()
}

/// A duration flag: `30` (seconds), `30s`, `500ms`, `10m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 30, 30s, 500ms, 10m)"))?;
    match unit.trim() {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        u => Err(format!("unknown unit {u:?} in {s:?} (use ms, s, m or h)")),
    }
}

/// The server's flags, each also read from its `BACKPROOF_*` variable. `backproof serve`
/// flattens this into its own arguments; `backproof-test-server` parses it alone.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on [default: 127.0.0.1:8080; `backproof serve` also reads PORT].
    #[arg(long, env = "BACKPROOF_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Postgres URL (`backproof serve` without it and --s3-endpoint starts a throwaway stack).
    #[arg(long, env = "BACKPROOF_DATABASE_URL")]
    pub database_url: Option<String>,
    /// S3 endpoint, addressed path-style.
    #[arg(long, env = "BACKPROOF_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = "BACKPROOF_S3_BUCKET", default_value = "backproof")]
    pub s3_bucket: String,
    #[arg(long, env = "BACKPROOF_S3_ACCESS_KEY", default_value = "")]
    pub s3_access_key: String,
    #[arg(
        long,
        env = "BACKPROOF_S3_SECRET_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub s3_secret_key: String,
    #[arg(long, env = "BACKPROOF_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// HMAC secret for bearer tokens (random when `backproof serve` starts a throwaway stack).
    #[arg(long, env = "BACKPROOF_AUTH_SECRET", hide_env_values = true)]
    pub auth_secret: Option<String>,
    /// Largest accepted body in bytes (413 above).
    #[arg(long, env = "BACKPROOF_MAX_BLOB_BYTES", default_value_t = DEFAULT_MAX_BLOB_BYTES)]
    pub max_blob_bytes: u64,
    /// How long an unreferenced object is kept before the sweeper deletes it (30, 30s, 10m).
    #[arg(long, env = "BACKPROOF_ORPHAN_GRACE", default_value = "600", value_parser = parse_duration)]
    pub orphan_grace: Duration,
    /// Time between sweeps (at least 1s).
    #[arg(long, env = "BACKPROOF_SWEEP_INTERVAL", default_value = "60", value_parser = parse_duration)]
    pub sweep_interval: Duration,
    /// An upload that sends no body byte for this long gets 408 and nothing is committed.
    #[arg(long, env = "BACKPROOF_BODY_IDLE_TIMEOUT", default_value = "30", value_parser = parse_duration)]
    pub body_idle_timeout: Duration,
    /// A connection must complete its request head within this, or it is closed.
    #[arg(long, env = "BACKPROOF_HEADER_READ_TIMEOUT", default_value = "30", value_parser = parse_duration)]
    pub header_read_timeout: Duration,
    /// Uploads in progress at once, all users (503 server-busy with Retry-After above).
    #[arg(long, env = "BACKPROOF_MAX_UPLOADS", default_value_t = 256)]
    pub max_uploads: usize,
    /// Uploads in progress at once for one user (429 too-many-uploads with Retry-After above).
    #[arg(long, env = "BACKPROOF_MAX_UPLOADS_PER_USER", default_value_t = 32)]
    pub max_uploads_per_user: usize,
    /// Directory for spooling chunked bodies [default: the system temp dir].
    #[arg(long, env = "BACKPROOF_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,
    /// Postgres connections in the pool.
    #[arg(long, env = "BACKPROOF_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// Largest API v0 `backup_size` in bytes (413 above); the default is the noah-v0
    /// profile's largest body.
    #[arg(long, env = "BACKPROOF_V0_MAX_BACKUP_BYTES", default_value_t = DEFAULT_V0_MAX_BACKUP_BYTES)]
    pub v0_max_backup_bytes: u64,
    /// How long an API v0 upload URL (presigned PUT) is valid (at most 7 days).
    #[arg(long, env = "BACKPROOF_V0_UPLOAD_URL_EXPIRY", default_value = "15m", value_parser = parse_duration)]
    pub v0_upload_url_expiry: Duration,
    /// How long an API v0 download URL (presigned GET) is valid (at most 7 days).
    #[arg(long, env = "BACKPROOF_V0_DOWNLOAD_URL_EXPIRY", default_value = "5m", value_parser = parse_duration)]
    pub v0_download_url_expiry: Duration,
    /// Arms failpoints (docs/API.md, "Failpoints").
    #[arg(long, env = "BACKPROOF_FAILPOINTS", hide = true)]
    pub failpoints: Option<String>,
    /// Overwrite backups/{user} before the DB update, for proving the suite.
    #[arg(long, env = "BACKPROOF_UNSAFE_OVERWRITE_IN_PLACE", hide = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub unsafe_overwrite_in_place: bool,
    /// Commit a new version although its S3 PUT failed, for proving the suite.
    #[arg(long, env = "BACKPROOF_UNSAFE_COMMIT_ON_FAILED_PUT", hide = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub unsafe_commit_on_failed_put: bool,
    /// Answer 500 when a GET races an update, without reading the row again.
    #[arg(long, env = "BACKPROOF_UNSAFE_NO_REREAD_ON_GET_RACE", hide = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub unsafe_no_reread_on_get_race: bool,
    /// Never delete replaced or deleted objects (the sweeper deletes nothing either).
    #[arg(long, env = "BACKPROOF_UNSAFE_NEVER_DELETE_OBJECTS", hide = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub unsafe_never_delete_objects: bool,
    /// Let ?user=NAME or X-Backproof-User: NAME override the bearer token's user.
    #[arg(long, env = "BACKPROOF_UNSAFE_USER_OVERRIDE", hide = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub unsafe_user_override: bool,
    /// Answer a stalled upload 503 storage-unavailable instead of 408, for proving the suite.
    #[arg(long, env = "BACKPROOF_UNSAFE_STALL_IS_UNAVAILABLE", hide = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub unsafe_stall_is_unavailable: bool,
    /// API v0: complete_upload records the client's size without a HEAD, for proving the suite.
    #[arg(long, env = "BACKPROOF_UNSAFE_COMPLETE_TRUSTS_CLIENT_SIZE", hide = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub unsafe_complete_trusts_client_size: bool,
    /// API v0: accept any backup_version, not only the slots 1 and 2, for proving the suite.
    #[arg(long, env = "BACKPROOF_UNSAFE_ANY_BACKUP_VERSION", hide = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub unsafe_any_backup_version: bool,
    /// API v0: complete_upload accepts another user's key, for proving the suite.
    #[arg(long, env = "BACKPROOF_UNSAFE_COMPLETE_ANY_KEY", hide = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub unsafe_complete_any_key: bool,
}

impl ServerArgs {
    /// The configuration these arguments describe. Storage settings left unset stay empty
    /// (`bind` names what is missing); `listen` falls back to 127.0.0.1:8080.
    pub fn into_config(self) -> Config {
        let d = Config::default();
        Config {
            listen: self.listen.unwrap_or(d.listen),
            database_url: self.database_url.unwrap_or_default(),
            s3_endpoint: self.s3_endpoint.unwrap_or_default(),
            s3_bucket: self.s3_bucket,
            s3_access_key: self.s3_access_key,
            s3_secret_key: self.s3_secret_key,
            s3_region: self.s3_region,
            auth_secret: self.auth_secret.unwrap_or_default(),
            max_blob_bytes: self.max_blob_bytes,
            orphan_grace: self.orphan_grace,
            sweep_interval: self.sweep_interval.max(Duration::from_secs(1)),
            spool_dir: self.spool_dir.unwrap_or(d.spool_dir),
            db_max_connections: self.db_max_connections,
            body_idle_timeout: self.body_idle_timeout,
            header_read_timeout: self.header_read_timeout,
            max_uploads: self.max_uploads,
            max_uploads_per_user: self.max_uploads_per_user,
            v0_max_backup_bytes: self.v0_max_backup_bytes,
            v0_upload_url_expiry: self.v0_upload_url_expiry,
            v0_download_url_expiry: self.v0_download_url_expiry,
            failpoints: self.failpoints.filter(|s| !s.trim().is_empty()),
            unsafe_flags: UnsafeFlags {
                overwrite_in_place: self.unsafe_overwrite_in_place,
                commit_on_failed_put: self.unsafe_commit_on_failed_put,
                no_reread_on_get_race: self.unsafe_no_reread_on_get_race,
                never_delete_objects: self.unsafe_never_delete_objects,
                user_override: self.unsafe_user_override,
                stall_is_unavailable: self.unsafe_stall_is_unavailable,
                complete_trusts_client_size: self.unsafe_complete_trusts_client_size,
                any_backup_version: self.unsafe_any_backup_version,
                complete_any_key: self.unsafe_complete_any_key,
            },
            hooks: Hooks::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_bare_seconds() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServerArgs,
    }

    fn parse(args: &[&str]) -> Config {
        use clap::Parser;
        let mut argv = vec!["server"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().args.into_config()
    }

    #[test]
    fn v0_flags_reach_the_config() {
        let d = parse(&[]);
        assert_eq!(d.v0_upload_url_expiry, DEFAULT_V0_UPLOAD_URL_EXPIRY);
        assert_eq!(d.v0_download_url_expiry, DEFAULT_V0_DOWNLOAD_URL_EXPIRY);
        assert_eq!(d.v0_max_backup_bytes, 67_108_864);
        assert_eq!(d.unsafe_flags, UnsafeFlags::default());
        let c = parse(&[
            "--v0-max-backup-bytes",
            "5000",
            "--v0-upload-url-expiry",
            "90s",
            "--v0-download-url-expiry",
            "2m",
            "--unsafe-complete-trusts-client-size",
            "--unsafe-any-backup-version",
            "--unsafe-complete-any-key",
        ]);
        assert_eq!(c.v0_upload_url_expiry, Duration::from_secs(90));
        assert_eq!(c.v0_download_url_expiry, Duration::from_secs(120));
        assert_eq!(c.v0_max_backup_bytes, 5000);
        assert!(c.unsafe_flags.complete_trusts_client_size);
        assert!(c.unsafe_flags.any_backup_version);
        assert!(c.unsafe_flags.complete_any_key);
    }
}
