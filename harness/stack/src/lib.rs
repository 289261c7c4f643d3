#![forbid(unsafe_code)]
//! The infrastructure backproof tests against: PostgreSQL and S3, owned by the harness so
//! it can inspect and damage them (docs/STACK.md).
//!
//! ```no_run
//! # async fn demo() -> Result<(), backproof_stack::StackError> {
//! use backproof_stack::{Stack, StackChoice};
//! let stack = Stack::start(StackChoice::Auto).await?;
//! let db_url = stack.postgres.create_unique_database("my_test").await?;
//! let s3 = stack.s3.client().await;
//! println!("{}", stack.describe()); // postgres 15.18 (throwaway initdb) + s3s-fs 0.14.1 (embedded)
//! # let _ = (db_url, s3); Ok(()) }
//! ```
//!
//! No provider is a mock: the local ones are a real `initdb` cluster and the s3s-fs server.

mod error;
mod postgres;
pub mod reaper;
mod s3;
mod util;

pub use error::StackError;
pub use postgres::PgHandle;
pub use s3::{
    DEFAULT_BUCKET, DEFAULT_REGION, EMBEDDED_S3S_FS_VERSION, EmbeddedS3, S3Handle, run_embedded_s3,
    s3_client, validate_bucket_name,
};
pub use util::{SCRATCH_DIR_VAR, docker_engine, scratch_dir};

/// Environment variable names the stack reads (`--stack env`, `--stack auto`) and prints
/// (`backproof stack up`). The server's flags read the same names.
pub mod vars {
    pub const DATABASE_URL: &str = "BACKPROOF_DATABASE_URL";
    pub const S3_ENDPOINT: &str = "BACKPROOF_S3_ENDPOINT";
    pub const S3_BUCKET: &str = "BACKPROOF_S3_BUCKET";
    pub const S3_ACCESS_KEY: &str = "BACKPROOF_S3_ACCESS_KEY";
    pub const S3_SECRET_KEY: &str = "BACKPROOF_S3_SECRET_KEY";
    pub const S3_REGION: &str = "BACKPROOF_S3_REGION";
}

/// Which providers to use (`--stack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum StackChoice {
    /// Per service, the first that fits: Postgres from BACKPROOF_DATABASE_URL, else a
    /// throwaway initdb cluster, else a container; S3 from BACKPROOF_S3_ENDPOINT, else a
    /// minio binary on PATH, else a container, else the embedded s3s-fs server.
    #[default]
    Auto,
    /// Processes on this machine only: a throwaway initdb cluster, and a minio binary on
    /// PATH if there is one, else the embedded s3s-fs server.
    Local,
    /// testcontainers' Postgres and MinIO modules; needs a Docker engine.
    Containers,
    /// Only what BACKPROOF_DATABASE_URL and BACKPROOF_S3_* point at.
    Env,
}

impl StackChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            StackChoice::Auto => "auto",
            StackChoice::Local => "local",
            StackChoice::Containers => "containers",
            StackChoice::Env => "env",
        }
    }
}

impl std::fmt::Display for StackChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for StackChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(StackChoice::Auto),
            "local" => Ok(StackChoice::Local),
            "containers" => Ok(StackChoice::Containers),
            "env" => Ok(StackChoice::Env),
            other => Err(format!(
                "unknown stack {other:?}: expected auto, local, containers or env"
            )),
        }
    }
}

/// A running Postgres + S3 pair. Dropping it tears down everything it started.
#[derive(Debug)]
pub struct Stack {
    pub postgres: PgHandle,
    pub s3: S3Handle,
    choice: StackChoice,
}

impl Stack {
    /// Starts (or connects to) both services as `choice` says. Both start concurrently.
    pub async fn start(choice: StackChoice) -> Result<Stack, StackError> {
        let (postgres, s3) = match choice {
            StackChoice::Auto => tokio::try_join!(auto_postgres(), auto_s3())?,
            StackChoice::Local => tokio::try_join!(PgHandle::throwaway(), local_s3())?,
            StackChoice::Containers => {
                // Checked once up front so the error names Docker, not whichever
                // container happened to fail first.
                docker_engine()?;
                tokio::try_join!(PgHandle::container(), S3Handle::container())?
            }
            StackChoice::Env => tokio::try_join!(env_postgres(), env_s3())?,
        };
        Ok(Stack {
            postgres,
            s3,
            choice,
        })
    }

    /// Puts two already-started handles together (e.g. a throwaway cluster and the
    /// embedded server, chosen explicitly by a test).
    pub fn from_parts(postgres: PgHandle, s3: S3Handle) -> Stack {
        Stack {
            postgres,
            s3,
            choice: StackChoice::Local,
        }
    }

    /// What was asked for (`from_parts` reports `Local`).
    pub fn choice(&self) -> StackChoice {
        self.choice
    }

    /// Kind and version of each service, as reports record it, e.g.
    /// "postgres 15.18 (throwaway initdb) + s3s-fs 0.14.1 (embedded)".
    pub fn describe(&self) -> String {
        format!("{} + {}", self.postgres.describe(), self.s3.describe())
    }

    /// The variables that point a server (or another implementation's tests) at this
    /// stack, in the order `backproof stack up` prints them.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            (vars::DATABASE_URL, self.postgres.url()),
            (vars::S3_ENDPOINT, self.s3.endpoint()),
            (vars::S3_BUCKET, self.s3.bucket()),
            (vars::S3_ACCESS_KEY, self.s3.access_key()),
            (vars::S3_SECRET_KEY, self.s3.secret_key()),
            (vars::S3_REGION, self.s3.region()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn auto_postgres() -> Result<PgHandle, StackError> {
    if let Some(url) = env_var(vars::DATABASE_URL) {
        return PgHandle::external(&url).await;
    }
    if which::which("initdb").is_ok() && which::which("pg_ctl").is_ok() {
        return PgHandle::throwaway().await;
    }
    if docker_engine().is_ok() {
        return PgHandle::container().await;
    }
    // Same advice as the throwaway provider gives when its binaries are missing.
    PgHandle::throwaway().await
}

async fn auto_s3() -> Result<S3Handle, StackError> {
    if env_var(vars::S3_ENDPOINT).is_some() {
        return env_s3().await;
    }
    if which::which("minio").is_ok() {
        return S3Handle::minio().await;
    }
    if docker_engine().is_ok() {
        return S3Handle::container().await;
    }
    S3Handle::embedded().await
}

async fn local_s3() -> Result<S3Handle, StackError> {
    if which::which("minio").is_ok() {
        S3Handle::minio().await
    } else {
        S3Handle::embedded().await
    }
}

async fn env_postgres() -> Result<PgHandle, StackError> {
    let url = env_var(vars::DATABASE_URL).ok_or(StackError::MissingEnv {
        var: vars::DATABASE_URL,
        needs: "a PostgreSQL URL, e.g. postgres://user:password@127.0.0.1:5432/postgres",
    })?;
    PgHandle::external(&url).await
}

async fn env_s3() -> Result<S3Handle, StackError> {
    const NEEDS: &str = "BACKPROOF_S3_ENDPOINT, BACKPROOF_S3_ACCESS_KEY and BACKPROOF_S3_SECRET_KEY \
                         (BACKPROOF_S3_BUCKET defaults to backproof, BACKPROOF_S3_REGION to us-east-1)";
    let need = |var| env_var(var).ok_or(StackError::MissingEnv { var, needs: NEEDS });
    let endpoint = need(vars::S3_ENDPOINT)?;
    let access_key = need(vars::S3_ACCESS_KEY)?;
    let secret_key = need(vars::S3_SECRET_KEY)?;
    let bucket = env_var(vars::S3_BUCKET).unwrap_or_else(|| DEFAULT_BUCKET.to_owned());
    let region = env_var(vars::S3_REGION).unwrap_or_else(|| DEFAULT_REGION.to_owned());
    S3Handle::external(&endpoint, &access_key, &secret_key, &bucket, &region).await
}

/// True while process `pid` exists and is not a zombie. Daemonized postmasters are
/// reparented to PID 1, which may leave them as zombies after they exit; those count as gone.
pub fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Format: "pid (comm) S ..."; comm may contain spaces and parentheses, so the
        // state is the first field after the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_parses_its_own_names_and_rejects_others() {
        for c in [
            StackChoice::Auto,
            StackChoice::Local,
            StackChoice::Containers,
            StackChoice::Env,
        ] {
            assert_eq!(c.as_str().parse::<StackChoice>().unwrap(), c);
            assert_eq!(
                <StackChoice as clap::ValueEnum>::from_str(c.as_str(), false).unwrap(),
                c
            );
        }
        let err = "docker".parse::<StackChoice>().unwrap_err();
        assert!(
            err.contains("expected auto, local, containers or env"),
            "{err}"
        );
    }

    #[test]
    fn process_alive_sees_ourselves_and_not_a_free_pid() {
        assert!(process_alive(std::process::id() as i32));
        // Above the kernel's pid_max ceiling (2^22), so it never exists.
        assert!(!process_alive(4_194_305));
    }
}
