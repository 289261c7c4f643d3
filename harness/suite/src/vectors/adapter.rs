//! An [`Implementation`] behind the JSON Lines adapter protocol (docs/ADAPTER.md): the
//! vectors that a client can answer through `derive`, `seal` and `open` are sent to its
//! adapter process.
//!
//! The protocol has no `argon2id`, `hkdf-sha256`, `aes-256-gcm` or `open_payload` op, so
//! those vectors are `unsupported` (argon2id vectors that `derive` can express still run;
//! the checker decides). `open_payload` is deliberately not emulated with `open` plus a
//! local decode: that would test the harness's decoder, not the client's.
//!
//! Failures are kept apart: an error answer from the adapter is a [`ClassError`] (judged
//! against the vector), while a broken exchange (timeout, exit, protocol violation) is an
//! infrastructure error that makes the case `error`. After such a failure the adapter is
//! killed and restarted (with a fresh `hello`) before the next case, so one hang costs
//! one case, never the run.

use std::time::Duration;

use backproof_client::adapter::protocol::{
    DeriveRequest, DeriveResult, HelloResult, Hex, OpenRequest, OpenResult, PROFILE_V1,
    SealRequest, SealResult, WireKdf,
};
use backproof_client::adapter::{AdapterProcess, DriverError};
use backproof_format::KdfParams;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::check::{ClassError, Implementation, OpResult, SecretSpec};

/// Time allowed for one adapter call (and for the `hello` after a restart). Generous:
/// a `seal` without pinned KDF parameters runs the client's own Argon2id, which may be
/// tuned to take seconds, and a byok-json-v1 vector runs PBKDF2-HMAC-SHA512 at the design's
/// 600 000 rounds, which a debug build on a loaded 2-core machine took over 30 s for. Only
/// a hung adapter waits this long, so the bound costs a correct one nothing.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// A client under test, driven through its adapter.
#[derive(Debug)]
pub struct AdapterImplementation {
    process: AdapterProcess,
    hello: HelloResult,
    timeout: Duration,
    /// Set after a broken exchange: restart before the next call.
    broken: bool,
}

/// Protocol op ↔ checker op, for the ops vectors can use.
const OPS: [&str; 3] = ["derive", "seal", "open"];

impl AdapterImplementation {
    /// Starts `cmd` (no state directory: vectors need none) and sends `hello`, with
    /// [`CALL_TIMEOUT`] per call.
    pub fn start(cmd: &str) -> Result<AdapterImplementation, DriverError> {
        AdapterImplementation::start_with_timeout(cmd, CALL_TIMEOUT)
    }

    /// [`AdapterImplementation::start`] with another per-call timeout.
    pub fn start_with_timeout(
        cmd: &str,
        timeout: Duration,
    ) -> Result<AdapterImplementation, DriverError> {
        let mut process = AdapterProcess::spawn(cmd, None)?;
        let hello = process.hello_with_timeout(timeout)?;
        Ok(AdapterImplementation {
            process,
            hello,
            timeout,
            broken: false,
        })
    }

    /// The `hello` answer of the running adapter.
    pub fn hello(&self) -> &HelloResult {
        &self.hello
    }

    /// The command the adapter was started with.
    pub fn command(&self) -> &str {
        self.process.command()
    }

    fn ensure_running(&mut self) -> Result<(), String> {
        if !self.broken && self.process.is_running() {
            return Ok(());
        }
        self.process
            .restart()
            .and_then(|()| self.process.hello_with_timeout(self.timeout))
            .map(|hello| {
                self.hello = hello;
                self.broken = false;
            })
            .map_err(|e| {
                self.process.kill();
                format!("restarting the adapter after an earlier failure: {e}")
            })
    }

    /// One request; the answer's `result` parsed as `T`.
    fn call<T: DeserializeOwned>(&mut self, op: &str, request: impl Serialize) -> OpResult<T> {
        self.ensure_running()?;
        let fields = serde_json::to_value(request)
            .map_err(|e| format!("cannot encode the `{op}` request: {e}"))?;
        match self.process.call(op, fields, self.timeout) {
            Ok(Ok(result)) => serde_json::from_value::<T>(result).map(Ok).map_err(|e| {
                self.fail();
                format!("adapter broke the protocol answering `{op}`: bad result ({e})")
            }),
            Ok(Err(e)) => Ok(Err(ClassError {
                class: e.class,
                message: e.message,
            })),
            Err(e) => {
                self.fail();
                Err(e.to_string())
            }
        }
    }

    fn fail(&mut self) {
        self.broken = true;
        self.process.kill();
    }

    /// Whether `hello` lists `profile` and `op`.
    pub fn offers(&self, profile: &str, op: &str) -> bool {
        self.hello.supports(op) && self.hello.profiles.iter().any(|p| p == profile)
    }

    /// One request given as JSON fields (a profile whose request shapes the protocol crate
    /// does not type); the answer's `result` as JSON.
    pub fn call_json(
        &mut self,
        op: &str,
        fields: serde_json::Value,
    ) -> OpResult<serde_json::Value> {
        self.call::<serde_json::Value>(op, fields)
    }

    fn offers_v1(&self) -> bool {
        self.hello.profiles.iter().any(|p| p == PROFILE_V1)
    }
}

impl Implementation for AdapterImplementation {
    fn name(&self) -> String {
        self.hello.implementation.clone()
    }

    fn ops(&mut self) -> Vec<String> {
        OPS.iter()
            .filter(|op| self.hello.supports(op))
            // seal/open speak blob profiles; without v1 they cannot answer v1 vectors.
            .filter(|op| **op == "derive" || self.offers_v1())
            .map(|op| op.to_string())
            .collect()
    }

    fn derive(&mut self, passphrase: &str, salt: &[u8], kdf: &KdfParams) -> OpResult<Vec<u8>> {
        let request = DeriveRequest {
            passphrase: backproof_format::Zeroizing::new(passphrase.to_owned()),
            salt: Hex(salt.to_vec()),
            kdf: WireKdf::from(*kdf),
        };
        Ok(self
            .call::<DeriveResult>("derive", request)?
            .map(|r| r.ikm.0))
    }

    fn seal(
        &mut self,
        secret: &SecretSpec,
        plaintext: &[u8],
        kdf: Option<&KdfParams>,
        salt: Option<&[u8]>,
        nonce: Option<&[u8]>,
    ) -> OpResult<Vec<u8>> {
        let request = SealRequest {
            profile: PROFILE_V1.to_owned(),
            secret: secret.clone(),
            plaintext: Hex(plaintext.to_vec()),
            kdf: kdf.map(|k| WireKdf::from(*k)),
            salt: salt.map(|s| Hex(s.to_vec())),
            nonce: nonce.map(|n| Hex(n.to_vec())),
        };
        Ok(self.call::<SealResult>("seal", request)?.map(|r| r.blob.0))
    }

    fn open(&mut self, secret: &SecretSpec, blob: &[u8]) -> OpResult<Vec<u8>> {
        let request = OpenRequest {
            profile: PROFILE_V1.to_owned(),
            secret: secret.clone(),
            blob: Hex(blob.to_vec()),
        };
        Ok(self
            .call::<OpenResult>("open", request)?
            .map(|r| r.plaintext.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unstartable_adapter_is_a_driver_error() {
        let e = AdapterImplementation::start("/nonexistent/backproof-adapter-xyz").unwrap_err();
        assert!(matches!(e, DriverError::Spawn { .. }), "{e}");
    }

    #[test]
    fn hang_becomes_error_then_restart() {
        // Answers hello (whatever its id), then hangs on the next request.
        let script = r#"read l; id=$(echo "$l" | sed 's/.*"id":\([0-9]*\).*/\1/'); echo "{\"id\":$id,\"result\":{\"protocol\":1,\"implementation\":\"hang 0\",\"profiles\":[\"v1\"],\"ops\":[\"hello\",\"open\"]}}"; sleep 600"#;
        // Shell syntax: the driver runs the line with `sh -c`.
        let mut imp =
            AdapterImplementation::start_with_timeout(script, Duration::from_millis(500)).unwrap();
        assert_eq!(imp.ops(), vec!["open".to_owned()]);
        assert_eq!(imp.name(), "hang 0");
        let secret = SecretSpec::key([7; 32]);
        for _ in 0..2 {
            let e = imp.open(&secret, b"x").unwrap_err();
            assert!(e.contains("did not answer"), "{e}");
        }
    }
}
