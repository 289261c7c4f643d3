#![forbid(unsafe_code)]
//! See docs/ARCHITECTURE.md.
