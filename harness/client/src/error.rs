//! The client's typed errors. Every error maps onto one class of the closed list of
//! docs/FORMAT.md, so the CLI, the adapter and the suite speak the same vocabulary.

use std::path::PathBuf;

use backproof_format::ErrorClass;

/// Everything a client operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The blob, the secret or the payload was refused by the format layer (wrong key,
    /// corrupted blob, KDF parameters outside policy, passphrase too short, ...).
    #[error(transparent)]
    Format(#[from] backproof_format::Error),

    /// The server answered with a status that ends the operation.
    #[error("the server answered HTTP {status} to {method} {url}: {detail}")]
    Status {
        /// The class this status maps onto (401 unauthorized, 404 not_found, ...).
        class: ErrorClass,
        /// The HTTP status code.
        status: u16,
        /// The request method.
        method: String,
        /// The URL requested.
        url: String,
        /// The problem's title/detail, or the start of the body.
        detail: String,
    },

    /// The server could not be reached (connection refused, reset, timed out), after retries.
    #[error("could not reach the server at {url}: {detail} (gave up after {attempts} attempts)")]
    Network {
        /// The URL requested.
        url: String,
        /// What went wrong on the last attempt.
        detail: String,
        /// How many attempts were made.
        attempts: u32,
    },

    /// The server answered something this client cannot interpret (no ETag on a blob, a
    /// success answer without a version, ...).
    #[error("the server broke the protocol: {0}")]
    Protocol(String),

    /// Smart recovery: no candidate's key check matched the stored blob.
    #[error("none of the {} candidates opens the backup (tried, in order: {})", tried.len(), tried.join(", "))]
    NoCandidateMatched {
        /// The candidate ids, in the order they were tried.
        tried: Vec<String>,
    },

    /// Every write of the merge loop lost against a concurrent writer.
    #[error(
        "gave up after {attempts} conflicting writes: other devices kept updating the backup; try again"
    )]
    ConflictRetriesExhausted {
        /// How many uploads were attempted.
        attempts: u32,
    },

    /// The server description is unusable (not an http(s) URL, token with control characters).
    #[error("invalid server {what}: {detail}")]
    BadServer {
        /// "URL" or "token".
        what: &'static str,
        /// Why it was refused.
        detail: String,
    },

    /// The state directory (last acknowledged versions) could not be read or written.
    #[error("state directory {}: {source}", path.display())]
    State {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// The operating system's random source failed (salt/nonce generation).
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

impl ClientError {
    /// The error class of docs/FORMAT.md this error reports as.
    ///
    /// The closed list has no class for local environment failures; a broken state
    /// directory or random source reports as `network` ("the operation could not be carried
    /// out, nothing is known to have changed"), and [`ClientError::is_local`] tells them apart.
    pub fn class(&self) -> ErrorClass {
        match self {
            ClientError::Format(e) => e.class(),
            ClientError::Status { class, .. } => *class,
            ClientError::Network { .. } => ErrorClass::Network,
            ClientError::Protocol(_) => ErrorClass::ServerError,
            ClientError::NoCandidateMatched { .. } => ErrorClass::WrongKey,
            ClientError::ConflictRetriesExhausted { .. } => ErrorClass::Conflict,
            ClientError::BadServer { .. } => ErrorClass::Malformed,
            ClientError::State { .. } | ClientError::Random(_) => ErrorClass::Network,
        }
    }

    /// True for failures of this machine (state directory, random source) rather than of
    /// the server or the data: the CLI exits 2 for these.
    pub fn is_local(&self) -> bool {
        matches!(self, ClientError::State { .. } | ClientError::Random(_))
    }

    /// For [`ClientError::NoCandidateMatched`], the ids tried.
    pub fn tried(&self) -> Option<&[String]> {
        match self {
            ClientError::NoCandidateMatched { tried } => Some(tried),
            _ => None,
        }
    }
}
