//! Measuring through the adapter protocol's `derive` op (docs/ADAPTER.md), so that an adapter
//! running on a phone tunes for the phone. The process driver lives in backproof-client; this
//! module builds the request and checks the answer, so the CLI only times the round trip.

use serde_json::{Value, json};

use crate::KdfParams;
use crate::search::MeasureError;

/// The passphrase every probe derives from (timing does not depend on it).
pub const PASSPHRASE: &str = "correct horse battery staple";
/// The salt every probe derives with.
pub const SALT: [u8; 16] = [0x5a; 16];

/// The fields of a `derive` request for `params`.
pub fn derive_fields(params: &KdfParams) -> Value {
    json!({
        "passphrase": PASSPHRASE,
        "salt": hex::encode(SALT),
        "kdf": {"m_cost": params.m_cost, "t_cost": params.t_cost, "p_cost": params.p_cost},
    })
}

/// Checks a `derive` result: `ikm` must be 64 lowercase hex digits, and equal to `expected`
/// when given (the warm-up checks against our own derivation, so a tuning run cannot be
/// fooled by an adapter that answers without deriving).
pub fn check_derive_result(
    result: &Value,
    expected: Option<&[u8; 32]>,
) -> Result<(), MeasureError> {
    let ikm = result.get("ikm").and_then(Value::as_str).ok_or_else(|| {
        MeasureError::new(format!(
            "`derive` answered without an \"ikm\" string: {result}"
        ))
    })?;
    let is_hex = ikm.len() == 64 && ikm.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !is_hex {
        return Err(MeasureError::new(format!(
            "`derive` answered an ikm that is not 32 bytes of lowercase hex: {ikm:?}"
        )));
    }
    if let Some(expected) = expected
        && ikm != hex::encode(expected)
    {
        return Err(MeasureError::new(format!(
            "`derive` answered {ikm}, but Argon2id gives {} for the same input: the \
             adapter's derivation is wrong, so its timing would tune nothing real",
            hex::encode(expected)
        )));
    }
    Ok(())
}

/// Our own derivation of the probe input, for [`check_derive_result`].
pub fn expected_ikm(params: &KdfParams) -> Result<[u8; 32], MeasureError> {
    let ikm = backproof_format::derive_ikm(PASSPHRASE, &SALT, params)
        .map_err(|e| MeasureError::new(format!("derivation failed: {e}")))?;
    Ok(*ikm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_results_are_checked() {
        let p = KdfParams::FLOOR;
        let expected = expected_ikm(&p).unwrap();
        let good = json!({"ikm": hex::encode(expected)});
        check_derive_result(&good, Some(&expected)).unwrap();
        check_derive_result(&good, None).unwrap();
        let other = json!({"ikm": hex::encode([0u8; 32])});
        assert!(check_derive_result(&other, None).is_ok());
        let err = check_derive_result(&other, Some(&expected)).unwrap_err();
        assert!(err.message.contains("wrong"), "{err}");
        for bad in [
            json!({}),
            json!({"ikm": 5}),
            json!({"ikm": "ABCD"}),
            json!({"ikm": "zz".repeat(32)}),
        ] {
            assert!(check_derive_result(&bad, None).is_err(), "{bad}");
        }
        let fields = derive_fields(&p);
        assert_eq!(fields["kdf"]["m_cost"], 7168);
        assert_eq!(fields["salt"], hex::encode(SALT));
    }
}
