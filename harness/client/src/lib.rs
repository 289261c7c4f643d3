#![forbid(unsafe_code)]
//! backproof's reference client and the JSON Lines adapter protocol.
//!
//! - [`Client`]: backup / restore / rotate / recover / delete against a server speaking the
//!   API of docs/API.md, with retries, the 409 merge loop and a crash-surviving
//!   state directory (docs/CLIENT.md).
//! - [`adapter`]: the protocol types of docs/ADAPTER.md, the serving loop behind
//!   `backproof adapter`, and [`adapter::AdapterProcess`], the driver the suite uses to talk
//!   to any client through its adapter.
//!
//! - [`object_store`]: profile `byok-json-v1`'s client, which writes S3 objects itself
//!   (docs/profiles/byok-json-v1.md).
//! - [`dbm_store`]: profile `dbm-stream-v1`'s keyring and artifact+sidecar store
//!   (docs/profiles/dbm-stream-v1.md §8).
//! - [`noah_store`]: profile `noah-v0`'s client of API v0's presigned URLs and two rolling
//!   slots (docs/profiles/noah-v0.md §8).
//! - [`vault_store`]: profile `metamask-vault`'s client, one vault object per user
//!   (docs/profiles/metamask-vault.md §10).
//!
//! The format layer (`backproof-format`) is pure; this crate supplies what it does not do:
//! I/O, randomness (salt, nonce, jitter) and time.

pub mod adapter;
mod client;
pub mod dbm_store;
mod error;
mod http;
pub mod noah_store;
pub mod object_store;
mod retry;
mod state;
pub mod vault_store;

pub use client::{
    BackupOutcome, Broken, Candidate, Client, ClientConfig, Recovered, Restored, RotateOutcome,
    Server, random_nonce, random_salt,
};
pub use error::ClientError;
pub use retry::RetryPolicy;
pub use state::StateStore;
