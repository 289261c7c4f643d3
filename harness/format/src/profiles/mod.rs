//! Blob codecs of the profiles other than `v1` (docs/profiles/): each module is one
//! design's envelope, key schedule and open order, built on this crate's primitives.
//! Pure like the rest of the crate: salts, nonces and timestamps come in as arguments.

pub mod byok_json_v1;
pub mod dbm_stream_v1;
pub mod metamask_vault;
pub mod noah_v0;

use std::fmt;

use zeroize::Zeroizing;

/// What a profile's `open` returns: the plaintext (wiped on drop, never printed) and the
/// envelope it came from.
pub struct Opened<E> {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub envelope: E,
}

impl<E: fmt::Debug> fmt::Debug for Opened<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field(
                "plaintext",
                &format_args!("<{} bytes>", self.plaintext.len()),
            )
            .field("envelope", &self.envelope)
            .finish()
    }
}
