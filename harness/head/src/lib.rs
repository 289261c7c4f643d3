//! The reference server's request-head parsers (docs/API.md): the bearer token of
//! `Authorization` ([`token`]) and the `If-Match` / `If-None-Match` preconditions
//! ([`precondition`]). Pure functions over header bytes, so that the server and the fuzz
//! targets (docs/FUZZING.md) run the same code without a socket.
#![forbid(unsafe_code)]

pub mod precondition;
pub mod token;

pub use precondition::{Precondition, PreconditionError, if_match, if_none_match_hits};
pub use token::{mint_token, user_from_header, valid_user, verify_token};
