//! The closed list of client-side error classes and the crate's one error type.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::KdfParams;

/// Every outcome a vector or scenario can expect, other than `ok` (docs/FORMAT.md).
///
/// The list is closed: implementations under test must map each of their failures onto one
/// of these, so that reports from different implementations compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    Malformed,
    UnsupportedVersion,
    UnsupportedKdf,
    KdfParamsRejected,
    WrongKey,
    Corrupted,
    PayloadInvalid,
    PassphraseTooShort,
    IdentityMismatch,
    NotFound,
    Conflict,
    Unauthorized,
    TooLarge,
    TooSmall,
    Network,
    ServerError,
    /// For formats without a key check, which cannot tell the two apart.
    WrongKeyOrCorrupted,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 17] = [
        ErrorClass::Malformed,
        ErrorClass::UnsupportedVersion,
        ErrorClass::UnsupportedKdf,
        ErrorClass::KdfParamsRejected,
        ErrorClass::WrongKey,
        ErrorClass::Corrupted,
        ErrorClass::PayloadInvalid,
        ErrorClass::PassphraseTooShort,
        ErrorClass::IdentityMismatch,
        ErrorClass::NotFound,
        ErrorClass::Conflict,
        ErrorClass::Unauthorized,
        ErrorClass::TooLarge,
        ErrorClass::TooSmall,
        ErrorClass::Network,
        ErrorClass::ServerError,
        ErrorClass::WrongKeyOrCorrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Malformed => "malformed",
            ErrorClass::UnsupportedVersion => "unsupported_version",
            ErrorClass::UnsupportedKdf => "unsupported_kdf",
            ErrorClass::KdfParamsRejected => "kdf_params_rejected",
            ErrorClass::WrongKey => "wrong_key",
            ErrorClass::Corrupted => "corrupted",
            ErrorClass::PayloadInvalid => "payload_invalid",
            ErrorClass::PassphraseTooShort => "passphrase_too_short",
            ErrorClass::IdentityMismatch => "identity_mismatch",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Conflict => "conflict",
            ErrorClass::Unauthorized => "unauthorized",
            ErrorClass::TooLarge => "too_large",
            ErrorClass::TooSmall => "too_small",
            ErrorClass::Network => "network",
            ErrorClass::ServerError => "server_error",
            ErrorClass::WrongKeyOrCorrupted => "wrong_key_or_corrupted",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returned when a string is not one of the closed class names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error class {0:?}; expected one of the names listed in docs/FORMAT.md")]
pub struct UnknownClass(pub String);

impl FromStr for ErrorClass {
    type Err = UnknownClass;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownClass(s.to_owned()))
    }
}

/// Why a blob or an input was refused. Each variant belongs to exactly one [`ErrorClass`];
/// the message tells a person what they can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "not a backproof blob: {0}; check that the whole object was downloaded and that it is a backproof backup"
    )]
    Malformed(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(
        "blob format version {0} is not supported (this build reads version 1); upgrade the software that reads it"
    )]
    UnsupportedVersion(u8),
    #[error(
        "key derivation function id {0} is not supported (known: 0 raw key, 1 Argon2id v1.3); upgrade the software that reads it"
    )]
    UnsupportedKdf(u8),
    #[error(
        "Argon2id parameters m={}, t={}, p={} are outside the accepted policy ({reason}); the blob was written with unsafe or excessive parameters, re-create it with sane ones",
        .params.m_cost, .params.t_cost, .params.p_cost
    )]
    KdfParamsRejected { params: KdfParams, reason: String },
    #[error(
        "the passphrase or key does not match this backup; try another passphrase or a recovery key"
    )]
    WrongKey,
    #[error(
        "the backup is damaged ({0}); the key is right but the data was changed in storage or transit: restore an older copy"
    )]
    Corrupted(&'static str),
    #[error(
        "the backup decrypted but its content is not a valid backup payload ({0}); the writer produced a broken payload: report it to its maintainers"
    )]
    PayloadInvalid(String),
    #[error(
        "the passphrase has {got} characters after Unicode NFC normalization; use at least {min}"
    )]
    PassphraseTooShort { got: usize, min: usize },
    #[error(
        "the two backups belong to different identities and cannot be merged; restore the stored backup on this device instead of merging"
    )]
    IdentityMismatch,
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Malformed(_) | Error::InvalidInput(_) => ErrorClass::Malformed,
            Error::UnsupportedVersion(_) => ErrorClass::UnsupportedVersion,
            Error::UnsupportedKdf(_) => ErrorClass::UnsupportedKdf,
            Error::KdfParamsRejected { .. } => ErrorClass::KdfParamsRejected,
            Error::WrongKey => ErrorClass::WrongKey,
            Error::Corrupted(_) => ErrorClass::Corrupted,
            Error::PayloadInvalid(_) => ErrorClass::PayloadInvalid,
            Error::PassphraseTooShort { .. } => ErrorClass::PassphraseTooShort,
            Error::IdentityMismatch => ErrorClass::IdentityMismatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip_through_str_and_serde() {
        for class in ErrorClass::ALL {
            assert_eq!(class.as_str().parse::<ErrorClass>(), Ok(class));
            let json = serde_json::to_string(&class).expect("serializes");
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            let back: ErrorClass = serde_json::from_str(&json).expect("deserializes");
            assert_eq!(back, class);
        }
        assert!("wrong-key".parse::<ErrorClass>().is_err());
        assert_eq!(
            ErrorClass::WrongKeyOrCorrupted.as_str(),
            "wrong_key_or_corrupted"
        );
    }
}
