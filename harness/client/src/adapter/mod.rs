//! The adapter protocol (docs/ADAPTER.md): how the suite drives any client through a child
//! process speaking JSON Lines. [`protocol`] has the wire types, [`serve`] the reference
//! adapter's loop, and [`AdapterProcess`] the driver.

mod driver;
mod serve;

/// The wire types and framing live in their own crate, so that the fuzz targets link them
/// without the client (docs/FUZZING.md).
pub use backproof_adapter_protocol as protocol;

pub use driver::{AdapterError, AdapterProcess, DriverError, HELLO_TIMEOUT, split_command};
pub use serve::{AdapterConfig, DbmBroken, MAX_LINE_BYTES, ServeError, serve};

impl From<&protocol::WireServer> for crate::Server {
    fn from(s: &protocol::WireServer) -> Self {
        crate::Server {
            url: s.url.clone(),
            token: s.token.clone(),
        }
    }
}

impl From<&protocol::WireStore> for crate::object_store::StoreConfig {
    fn from(s: &protocol::WireStore) -> Self {
        crate::object_store::StoreConfig {
            endpoint: s.endpoint.clone(),
            bucket: s.bucket.clone(),
            region: s.region.clone(),
            access_key: s.access_key.clone(),
            secret_key: s.secret_key.clone(),
            prefix: s.prefix.clone(),
            user: s.user.clone(),
        }
    }
}
