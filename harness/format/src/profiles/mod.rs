//! Blob codecs of the profiles other than `v1` (docs/profiles/): each module is one
//! design's envelope, key schedule and open order, built on this crate's primitives.
//! Pure like the rest of the crate: salts, nonces and timestamps come in as arguments.

pub mod byok_json_v1;
pub mod metamask_vault;
