//! The one error type of the stack. Every variant says what to do next, because the
//! person reading it is usually setting up a machine, not debugging the harness.

use std::path::PathBuf;

/// Why a stack (or one of its parts) could not be started, reached or controlled.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// No provider fits on this machine; `hint` says what to install or set.
    #[error("no {what} available: {hint}")]
    NotAvailable { what: &'static str, hint: String },

    /// `--stack containers` (or a containers provider) was asked for, but no Docker engine answers.
    #[error(
        "no Docker engine answers ({detail}); the containers stack needs one: start Docker \
         (or set DOCKER_HOST), or use --stack local (PostgreSQL binaries on PATH + embedded S3) \
         or --stack env (BACKPROOF_DATABASE_URL and BACKPROOF_S3_* variables)"
    )]
    DockerUnavailable { detail: String },

    /// `--stack env` was asked for, but a required variable is not set.
    #[error("{var} is not set; --stack env needs {needs}")]
    MissingEnv {
        var: &'static str,
        needs: &'static str,
    },

    /// A variable is set but its value cannot be used.
    #[error("{var} is invalid: {reason}")]
    InvalidEnv { var: &'static str, reason: String },

    /// A program could not be started at all.
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    /// A program ran and failed; `output` is the tail of what it printed or logged.
    #[error("{program} failed ({status}):\n{output}")]
    CommandFailed {
        program: String,
        status: String,
        output: String,
    },

    /// A service did not become ready in time.
    #[error("{what} did not become ready within {seconds} s{detail}")]
    NotReady {
        what: String,
        seconds: u64,
        detail: String,
    },

    /// Talking to PostgreSQL failed.
    #[error("PostgreSQL: {context}: {source}")]
    Postgres {
        context: String,
        #[source]
        source: sqlx::Error,
    },

    /// Talking to S3 failed.
    #[error("S3: {context}: {message}")]
    S3 { context: String, message: String },

    /// A local file-system or socket operation failed.
    #[error("{context} ({path}): {source}", path = path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A database or bucket name was rejected before reaching the server.
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidName {
        kind: &'static str,
        name: String,
        reason: &'static str,
    },

    /// The operation makes no sense for this provider (e.g. stopping an external database).
    #[error("{op} is not supported by {provider}: {why}")]
    Unsupported {
        op: &'static str,
        provider: String,
        why: &'static str,
    },

    /// testcontainers reported an error after Docker was found.
    #[error("testcontainers: {0}")]
    Container(String),
}

impl StackError {
    /// True when the error means "this machine lacks something" rather than "something
    /// broke": the CLI prints it as setup advice. Both map to exit code 2.
    pub fn is_missing_infrastructure(&self) -> bool {
        matches!(
            self,
            StackError::NotAvailable { .. }
                | StackError::DockerUnavailable { .. }
                | StackError::MissingEnv { .. }
        )
    }

    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StackError::Io {
            context,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn pg(context: impl Into<String>, source: sqlx::Error) -> Self {
        StackError::Postgres {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn s3(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        StackError::S3 {
            context: context.into(),
            message: err.to_string(),
        }
    }
}
