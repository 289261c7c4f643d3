//! PostgreSQL providers: an external URL, a throwaway `initdb` cluster, a testcontainer.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::Connection;
use tokio::sync::Mutex;

use crate::StackError;
use crate::util::{free_port, log_tail, tail_lines};

/// The unprivileged account the throwaway cluster runs as when we are root: `initdb` and
/// `postgres` refuse to run as root, and CI runs as root. 65534 is `nobody`/`nogroup` on
/// Debian and most other systems.
const NOBODY: u32 = 65534;

/// How long a cluster may take to initialize or start before we give up.
const START_TIMEOUT_SECS: u64 = 60;

/// A reachable PostgreSQL server. Dropping it tears down what it started (throwaway
/// cluster: stopped and its directory removed; container: removed). An external server
/// is left untouched.
#[derive(Debug)]
pub struct PgHandle {
    url: String,
    version: String,
    provider: PgProvider,
}

#[derive(Debug)]
enum PgProvider {
    External,
    Throwaway(Box<Throwaway>),
    #[expect(
        dead_code,
        reason = "held so the container lives as long as the handle"
    )]
    Container(Box<ContainerPg>),
}

#[derive(Debug)]
struct ContainerPg {
    // Held only so the container lives as long as the handle (testcontainers removes it on drop).
    _container: testcontainers_modules::testcontainers::ContainerAsync<
        testcontainers_modules::postgres::Postgres,
    >,
}

impl PgHandle {
    /// The server at `url` (e.g. from `BACKPROOF_DATABASE_URL`), checked with one query.
    pub async fn external(url: &str) -> Result<PgHandle, StackError> {
        split_database(url).ok_or_else(|| StackError::InvalidEnv {
            var: "BACKPROOF_DATABASE_URL",
            reason: format!(
                "expected postgres://user[:password]@host[:port]/database, got {:?}",
                redact(url)
            ),
        })?;
        let version = server_version(url).await?;
        Ok(PgHandle {
            url: url.to_owned(),
            version,
            provider: PgProvider::External,
        })
    }

    /// A fresh cluster from the `initdb`/`pg_ctl` binaries on PATH, in a temporary directory,
    /// on a free port of 127.0.0.1, with `fsync=off`.
    pub async fn throwaway() -> Result<PgHandle, StackError> {
        let cluster = Throwaway::create().await?;
        let url = cluster.base_url();
        let version = server_version(&url).await?;
        Ok(PgHandle {
            url,
            version,
            provider: PgProvider::Throwaway(Box::new(cluster)),
        })
    }

    /// testcontainers' Postgres module (image `postgres:15-alpine`). Fails at once, with
    /// advice, when no Docker engine answers.
    pub async fn container() -> Result<PgHandle, StackError> {
        use testcontainers_modules::testcontainers::ImageExt;
        use testcontainers_modules::testcontainers::runners::AsyncRunner;

        crate::util::docker_engine()?;
        let container = testcontainers_modules::postgres::Postgres::default()
            .with_tag("15-alpine")
            .start()
            .await
            .map_err(|e| StackError::Container(e.to_string()))?;
        let port = container
            .get_host_port_ipv4(5432)
            .await
            .map_err(|e| StackError::Container(e.to_string()))?;
        let host = container
            .get_host()
            .await
            .map_err(|e| StackError::Container(e.to_string()))?;
        let url = format!("postgres://postgres:postgres@{host}:{port}/postgres");
        let version = server_version(&url).await?;
        Ok(PgHandle {
            url,
            version,
            provider: PgProvider::Container(Box::new(ContainerPg {
                _container: container,
            })),
        })
    }

    /// The URL of the server's maintenance database (`postgres`); connect to it to create
    /// databases. Tests should use [`PgHandle::create_database`] instead of sharing it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's version as it reports it (`SHOW server_version`), e.g. "15.18 (Debian ...)".
    pub fn version(&self) -> &str {
        &self.version
    }

    /// e.g. "postgres 15.18 (throwaway initdb)".
    pub fn describe(&self) -> String {
        let short = self.version.split_whitespace().next().unwrap_or("?");
        let how = match &self.provider {
            PgProvider::External => "BACKPROOF_DATABASE_URL",
            PgProvider::Throwaway(_) => "throwaway initdb",
            PgProvider::Container(_) => "testcontainers",
        };
        format!("postgres {short} ({how})")
    }

    /// Creates the database `name` (lowercase letters, digits, `_`; starts with a letter or
    /// `_`; at most 63 bytes) and returns a URL that points at it. Fails if it exists.
    pub async fn create_database(&self, name: &str) -> Result<String, StackError> {
        validate_database_name(name)?;
        let mut conn = sqlx::PgConnection::connect(&self.url)
            .await
            .map_err(|e| StackError::pg(format!("connect to {}", redact(&self.url)), e))?;
        // PostgreSQL 15 copies a template block by block through the WAL by default; for a
        // template as small as template1, copying its files is about a third faster
        // (measured: 190 → 130 ms a database on tmpfs). Older servers have only that.
        let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| StackError::pg("SHOW server_version_num", e))?;
        let strategy = if version >= 150_000 {
            " STRATEGY = FILE_COPY"
        } else {
            ""
        };
        // The name was validated to a plain identifier, so quoting cannot be escaped.
        sqlx::query(&format!("CREATE DATABASE \"{name}\"{strategy}"))
            .execute(&mut conn)
            .await
            .map_err(|e| StackError::pg(format!("CREATE DATABASE {name}"), e))?;
        let _ = conn.close().await;
        Ok(with_database(&self.url, name).unwrap_or_else(|| self.url.clone()))
    }

    /// Drops the database a URL from [`PgHandle::create_database`] points at, cutting its
    /// connections (`WITH (FORCE)`). A run drops each case's database when the case ends,
    /// so the cluster holds one per running case, not one per case of the run.
    pub async fn drop_database(&self, db_url: &str) -> Result<(), StackError> {
        let name = database_name(db_url).ok_or_else(|| StackError::InvalidName {
            kind: "database",
            name: redact(db_url),
            reason: "the URL names no database",
        })?;
        validate_database_name(name)?;
        let mut conn = sqlx::PgConnection::connect(&self.url)
            .await
            .map_err(|e| StackError::pg(format!("connect to {}", redact(&self.url)), e))?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .map_err(|e| StackError::pg(format!("DROP DATABASE {name}"), e))?;
        let _ = conn.close().await;
        Ok(())
    }

    /// Creates a database whose name starts with `prefix` (sanitized to a valid name) and
    /// is unique within this process and across runs, and returns its URL.
    pub async fn create_unique_database(&self, prefix: &str) -> Result<String, StackError> {
        self.create_database(&unique_name(prefix)).await
    }

    /// Stops the throwaway cluster as a crash would (`pg_ctl stop -m immediate`), for outage
    /// tests; connections are cut at once. The data directory and port are kept for
    /// [`PgHandle::start`]. Other providers answer [`StackError::Unsupported`].
    pub async fn stop(&self) -> Result<(), StackError> {
        self.throwaway_cluster("stop")?.stop().await
    }

    /// Starts the cluster again on the same port and data directory after [`PgHandle::stop`].
    pub async fn start(&self) -> Result<(), StackError> {
        self.throwaway_cluster("start")?.start().await
    }

    /// The postmaster's process id (throwaway cluster only, while it runs).
    pub fn pid(&self) -> Option<u32> {
        match &self.provider {
            PgProvider::Throwaway(t) => t.pid(),
            _ => None,
        }
    }

    /// The temporary directory holding the throwaway cluster (data directory and socket).
    pub fn dir(&self) -> Option<&Path> {
        match &self.provider {
            PgProvider::Throwaway(t) => Some(t.dir.path()),
            _ => None,
        }
    }

    fn throwaway_cluster(&self, op: &'static str) -> Result<&Throwaway, StackError> {
        match &self.provider {
            PgProvider::Throwaway(t) => Ok(t),
            PgProvider::External => Err(StackError::Unsupported {
                op,
                provider: self.describe(),
                why: "the harness does not own an external server",
            }),
            PgProvider::Container(_) => Err(StackError::Unsupported {
                op,
                provider: self.describe(),
                why: "a restarted container gets a new host port; use the throwaway cluster for outage tests",
            }),
        }
    }
}

/// A cluster in a temporary directory: `DIR/data` is the data directory, `DIR` holds the
/// Unix socket and `DIR/postgres.log`.
#[derive(Debug)]
struct Throwaway {
    dir: tempfile::TempDir,
    port: u16,
    pg_ctl: PathBuf,
    run_as_nobody: bool,
    // Serializes stop/start so two tests cannot interleave pg_ctl calls.
    lock: Mutex<()>,
}

impl Throwaway {
    async fn create() -> Result<Throwaway, StackError> {
        let not_available = || StackError::NotAvailable {
            what: "PostgreSQL",
            hint: pg_install_hint(),
        };
        let initdb = which::which("initdb").map_err(|_| not_available())?;
        let pg_ctl = which::which("pg_ctl").map_err(|_| not_available())?;
        let run_as_nobody = nix::unistd::geteuid().is_root();

        let dir = crate::util::scratch_tempdir("backproof-pg-")?;
        if run_as_nobody {
            nix::unistd::chown(
                dir.path(),
                Some(nix::unistd::Uid::from_raw(NOBODY)),
                Some(nix::unistd::Gid::from_raw(NOBODY)),
            )
            .map_err(|e| {
                StackError::io(
                    "cannot hand the cluster directory to uid 65534",
                    dir.path(),
                    e.into(),
                )
            })?;
        }
        let port = free_port()?;
        let cluster = Throwaway {
            dir,
            port,
            pg_ctl,
            run_as_nobody,
            lock: Mutex::new(()),
        };

        let mut cmd = cluster.command(&initdb);
        cmd.arg("--no-sync")
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "-D",
            ])
            .arg(cluster.data_dir());
        let out = tokio::time::timeout(Duration::from_secs(START_TIMEOUT_SECS), cmd.output())
            .await
            .map_err(|_| StackError::NotReady {
                what: "initdb".into(),
                seconds: START_TIMEOUT_SECS,
                detail: String::new(),
            })?
            .map_err(|e| StackError::Spawn {
                program: initdb.display().to_string(),
                source: e,
            })?;
        if !out.status.success() {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return Err(StackError::CommandFailed {
                program: initdb.display().to_string(),
                status: out.status.to_string(),
                output: tail_lines(&text, 20),
            });
        }
        cluster.start_locked().await?;
        Ok(cluster)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    fn base_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A command for a PostgreSQL binary, as uid/gid 65534 when we are root, in the
    /// cluster directory (uid 65534 may not be able to enter our working directory).
    fn command(&self, program: &Path) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        cmd.current_dir(self.dir.path())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        if self.run_as_nobody {
            cmd.uid(NOBODY).gid(NOBODY);
        }
        cmd
    }

    fn std_command(&self, program: &Path) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(program);
        cmd.current_dir(self.dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if self.run_as_nobody {
            cmd.uid(NOBODY).gid(NOBODY);
        }
        cmd
    }

    async fn start(&self) -> Result<(), StackError> {
        let _guard = self.lock.lock().await;
        self.start_locked().await
    }

    async fn start_locked(&self) -> Result<(), StackError> {
        let options = format!(
            "-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c full_page_writes=off -c max_connections=200",
            port = self.port,
            dir = self.dir.path().display(),
        );
        let mut cmd = self.command(&self.pg_ctl);
        cmd.args(["-w", "-t", &START_TIMEOUT_SECS.to_string(), "start", "-D"])
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .args(["-o", &options]);
        let out = cmd.output().await.map_err(|e| StackError::Spawn {
            program: self.pg_ctl.display().to_string(),
            source: e,
        })?;
        if !out.status.success() {
            return Err(StackError::CommandFailed {
                program: format!("{} start", self.pg_ctl.display()),
                status: out.status.to_string(),
                output: format!(
                    "{}\n{}\n--- {} ---\n{}",
                    String::from_utf8_lossy(&out.stdout).trim(),
                    String::from_utf8_lossy(&out.stderr).trim(),
                    self.log_path().display(),
                    log_tail(&self.log_path(), 20)
                ),
            });
        }
        // pg_ctl -w already waited for the postmaster to accept connections; one real
        // connection proves it does so on TCP as well (the socket comes up first).
        let url = self.base_url();
        let mut last = None;
        for _ in 0..100 {
            match sqlx::PgConnection::connect(&url).await {
                Ok(conn) => {
                    let _ = conn.close().await;
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(StackError::NotReady {
            what: format!("PostgreSQL on 127.0.0.1:{}", self.port),
            seconds: 5,
            detail: last.map(|e| format!(": {e}")).unwrap_or_default(),
        })
    }

    async fn stop(&self) -> Result<(), StackError> {
        let _guard = self.lock.lock().await;
        let mut cmd = self.command(&self.pg_ctl);
        cmd.args(["-w", "stop", "-m", "immediate", "-D"])
            .arg(self.data_dir());
        let out = cmd.output().await.map_err(|e| StackError::Spawn {
            program: self.pg_ctl.display().to_string(),
            source: e,
        })?;
        if !out.status.success() {
            return Err(StackError::CommandFailed {
                program: format!("{} stop", self.pg_ctl.display()),
                status: out.status.to_string(),
                output: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(())
    }

    /// The postmaster's pid from `postmaster.pid`, while the cluster runs.
    fn pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        // Drop cannot await: the blocking pg_ctl call takes a few milliseconds with
        // `-m immediate`. A postmaster that survives it is killed so no process outlives
        // the directory we are about to remove.
        let pid = self.pid();
        let _ = self
            .std_command(&self.pg_ctl)
            .args(["-w", "-t", "10", "stop", "-m", "immediate", "-D"])
            .arg(self.data_dir())
            .status();
        if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
            let pid = nix::unistd::Pid::from_raw(pid);
            if crate::process_alive(pid.as_raw()) {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
        // TempDir removes the directory itself when this struct's fields drop.
    }
}

async fn server_version(url: &str) -> Result<String, StackError> {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| StackError::pg(format!("connect to {}", redact(url)), e))?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| StackError::pg("SHOW server_version", e))?;
    let _ = conn.close().await;
    Ok(version)
}

fn pg_install_hint() -> String {
    "install the PostgreSQL 15 server binaries so that initdb and pg_ctl are on PATH \
     (Debian: `apt-get install postgresql-15` and add /usr/lib/postgresql/15/bin to PATH; \
     the project's nix shell has them), or set BACKPROOF_DATABASE_URL=postgres://user:password@host:port/postgres, \
     or start a Docker engine for --stack containers"
        .to_owned()
}

fn validate_database_name(name: &str) -> Result<(), StackError> {
    let invalid = |reason| StackError::InvalidName {
        kind: "database",
        name: name.to_owned(),
        reason,
    };
    let first = name.chars().next().ok_or_else(|| invalid("it is empty"))?;
    if name.len() > 63 {
        return Err(invalid(
            "PostgreSQL truncates identifiers longer than 63 bytes",
        ));
    }
    if !(first.is_ascii_lowercase() || first == '_') {
        return Err(invalid(
            "it must start with a lowercase ASCII letter or '_'",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(invalid(
            "only lowercase ASCII letters, digits and '_' are allowed",
        ));
    }
    Ok(())
}

/// `prefix` made into a valid identifier, plus a suffix unique in this process (counter)
/// and across runs against the same external server (pid and clock).
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut base: String = prefix
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !base.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        base.insert(0, '_');
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let suffix = format!(
        "_{}_{}_{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    base.truncate(63 - suffix.len());
    base + &suffix
}

/// Splits a postgres URL into (everything before the database, the query string).
fn split_database(url: &str) -> Option<(&str, &str)> {
    let scheme_end = url.find("://")? + 3;
    let scheme = &url[..scheme_end - 3];
    if scheme != "postgres" && scheme != "postgresql" {
        return None;
    }
    let (before_query, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let authority_end = before_query[scheme_end..]
        .find('/')
        .map_or(before_query.len(), |i| scheme_end + i);
    if authority_end == scheme_end {
        return None;
    }
    Some((&before_query[..authority_end], query))
}

/// The same URL pointing at database `name` (query parameters kept).
/// The database a URL names (`postgres://host/name?opts` → `name`).
fn database_name(url: &str) -> Option<&str> {
    let (authority, query) = split_database(url)?;
    let name = url[authority.len()..url.len() - query.len()].strip_prefix('/')?;
    (!name.is_empty()).then_some(name)
}

fn with_database(url: &str, name: &str) -> Option<String> {
    let (prefix, query) = split_database(url)?;
    Some(format!("{prefix}/{name}{query}"))
}

/// The URL with any password replaced, for error messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end],
                    &userinfo[..colon],
                    &url[scheme_end + at..]
                ),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "t1").as_deref(),
            Some("postgres://u:p@h:5432/t1?sslmode=disable")
        );
        assert_eq!(
            with_database("postgresql://h", "t2").as_deref(),
            Some("postgresql://h/t2")
        );
        assert_eq!(with_database("mysql://h/db", "t"), None);
        assert_eq!(with_database("postgres:///db", "t"), None);
        assert_eq!(with_database("not a url", "t"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://user:s3cret@host:1/db"),
            "postgres://user:***@host:1/db"
        );
        assert_eq!(redact("postgres://user@host/db"), "postgres://user@host/db");
        assert_eq!(redact("garbage"), "garbage");
    }

    #[test]
    fn database_names_are_plain_identifiers() {
        for ok in ["t", "_x", "case_01", &"a".repeat(63)] {
            validate_database_name(ok).unwrap();
        }
        for bad in [
            "",
            "1abc",
            "Abc",
            "a-b",
            "a\"b",
            "a b",
            &"a".repeat(64),
            "é",
        ] {
            let err = validate_database_name(bad).unwrap_err();
            assert!(
                matches!(err, StackError::InvalidName { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_database_of_a_url_is_its_path() {
        assert_eq!(
            database_name("postgres://u:p@h:5/bp_1?sslmode=disable"),
            Some("bp_1")
        );
        assert_eq!(database_name("postgresql://h/bp_2"), Some("bp_2"));
        assert_eq!(database_name("postgres://h"), None);
        assert_eq!(database_name("postgres://h/"), None);
        assert_eq!(database_name("mysql://h/x"), None);
    }

    #[test]
    fn unique_names_are_valid_and_distinct() {
        let a = unique_name("server::tests::If-Match quoted");
        let b = unique_name("server::tests::If-Match quoted");
        assert_ne!(a, b);
        validate_database_name(&a).unwrap();
        validate_database_name(&unique_name("9lives")).unwrap();
        validate_database_name(&unique_name(&"x".repeat(200))).unwrap();
        validate_database_name(&unique_name("")).unwrap();
    }
}
