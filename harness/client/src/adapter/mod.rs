//! The adapter protocol (docs/ADAPTER.md): how the suite drives any client through a child
//! process speaking JSON Lines. [`protocol`] has the wire types, [`serve`] the reference
//! adapter's loop, and [`AdapterProcess`] the driver.

mod driver;
pub mod protocol;
mod serve;

pub use driver::{
    AdapterError, AdapterProcess, DriverError, HELLO_TIMEOUT, check_answer, split_command,
};
pub use serve::{AdapterConfig, DbmBroken, MAX_LINE_BYTES, ServeError, parse_request, serve};
