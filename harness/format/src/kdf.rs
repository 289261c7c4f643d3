//! Argon2id parameters, the policy that bounds them, and the passphrase derivation.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::Error;

/// Argon2id cost parameters as stored in a v1 header (`p_cost` takes one byte there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes over memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// The cheapest parameters the default policy accepts (OWASP's Argon2id floor); vectors
    /// use it so that a whole file checks in seconds.
    pub const FLOOR: KdfParams = KdfParams {
        m_cost: OWASP_FLOOR_M_COST,
        t_cost: OWASP_FLOOR_T_COST,
        p_cost: 1,
    };
    /// RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes).
    pub const RFC9106_SECOND: KdfParams = KdfParams {
        m_cost: 65536,
        t_cost: 3,
        p_cost: 4,
    };
}

/// Bounds a reader accepts for the parameters found in a blob, checked before any
/// derivation so that a hostile blob cannot make a reader burn memory or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub min_m_cost: u32,
    pub max_m_cost: u32,
    pub min_t_cost: u32,
    pub max_t_cost: u32,
    pub min_p_cost: u32,
    pub max_p_cost: u32,
    pub min_m_times_t: u64,
}

/// OWASP's cheapest Argon2id configuration is 7 MiB of memory with 5 passes; its other
/// configurations trade memory for passes at no less total work. The default policy takes
/// the memory as its lower bound and the product as its work floor, so the policy floor
/// [`KdfParams::FLOOR`] sits exactly on both bounds.
const OWASP_FLOOR_M_COST: u32 = 7 * 1024;
const OWASP_FLOOR_T_COST: u32 = 5;
/// m·t of the OWASP floor: 5 passes × 7168 KiB = 35 840.
const OWASP_FLOOR_WORK: u64 = OWASP_FLOOR_M_COST as u64 * OWASP_FLOOR_T_COST as u64;
/// 1 GiB in KiB: more than a phone can spare, so a hostile header cannot ask for it.
const MAX_M_COST: u32 = 1024 * 1024;
/// Passes and lanes beyond this only slow a reader down; no tuned device needs them.
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_m_cost: OWASP_FLOOR_M_COST,
            max_m_cost: MAX_M_COST,
            min_t_cost: 1,
            max_t_cost: MAX_T_COST,
            min_p_cost: 1,
            max_p_cost: MAX_P_COST,
            min_m_times_t: OWASP_FLOOR_WORK,
        }
    }
}

impl Policy {
    pub fn check(&self, p: &KdfParams) -> Result<(), Error> {
        let reject = |reason: String| Err(Error::KdfParamsRejected { params: *p, reason });
        if p.m_cost < self.min_m_cost || p.m_cost > self.max_m_cost {
            return reject(format!(
                "m_cost must be {}..={} KiB",
                self.min_m_cost, self.max_m_cost
            ));
        }
        if p.t_cost < self.min_t_cost || p.t_cost > self.max_t_cost {
            return reject(format!(
                "t_cost must be {}..={}",
                self.min_t_cost, self.max_t_cost
            ));
        }
        if p.p_cost < self.min_p_cost || p.p_cost > self.max_p_cost {
            return reject(format!(
                "p_cost must be {}..={}",
                self.min_p_cost, self.max_p_cost
            ));
        }
        if u64::from(p.m_cost) < 8 * u64::from(p.p_cost) {
            return reject("m_cost must be at least 8 KiB per lane".to_owned());
        }
        if u64::from(p.m_cost) * u64::from(p.t_cost) < self.min_m_times_t {
            return reject(format!(
                "m_cost * t_cost must be at least {}",
                self.min_m_times_t
            ));
        }
        Ok(())
    }
}

/// The passphrase as it enters Argon2id: NFC-normalized, so that the same passphrase typed
/// on keyboards that produce composed or decomposed characters gives the same key.
pub(crate) fn normalize(passphrase: &str) -> Zeroizing<String> {
    Zeroizing::new(passphrase.nfc().collect())
}

/// `ikm` of the v1 key schedule: Argon2id v1.3 over the UTF-8 of the NFC-normalized
/// passphrase, 32 bytes. No policy is applied here (tuning and vectors derive with any
/// parameters Argon2 itself accepts); `seal` and `open` apply theirs.
pub fn derive_ikm(
    passphrase: &str,
    salt: &[u8],
    params: &KdfParams,
) -> Result<Zeroizing<[u8; 32]>, Error> {
    derive_ikm_normalized(&normalize(passphrase), salt, params)
}

/// [`derive_ikm`] for a passphrase that [`normalize`] already produced (sealing normalizes
/// once to count characters, and passes the result on rather than normalizing again).
pub(crate) fn derive_ikm_normalized(
    normalized: &str,
    salt: &[u8],
    params: &KdfParams,
) -> Result<Zeroizing<[u8; 32]>, Error> {
    let mut out = Zeroizing::new([0u8; 32]);
    argon2id_into(
        normalized.as_bytes(),
        salt,
        &[],
        &[],
        params,
        out.as_mut_slice(),
    )?;
    Ok(out)
}

/// General Argon2id v1.3 (with the optional secret and associated data of RFC 9106), for
/// known-answer vectors. `tag_len` is the output length in bytes.
pub fn argon2id(
    password: &[u8],
    salt: &[u8],
    secret: &[u8],
    ad: &[u8],
    params: &KdfParams,
    tag_len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut out = Zeroizing::new(vec![0u8; tag_len]);
    argon2id_into(password, salt, secret, ad, params, out.as_mut_slice())?;
    Ok(out)
}

fn argon2id_into(
    password: &[u8],
    salt: &[u8],
    secret: &[u8],
    ad: &[u8],
    params: &KdfParams,
    out: &mut [u8],
) -> Result<(), Error> {
    use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
    let rejected = |e: argon2::Error| Error::KdfParamsRejected {
        params: *params,
        reason: format!("Argon2 refused them: {e}"),
    };
    let mut builder = ParamsBuilder::new();
    builder
        .m_cost(params.m_cost)
        .t_cost(params.t_cost)
        .p_cost(params.p_cost)
        .output_len(out.len());
    if !ad.is_empty() {
        builder.data(AssociatedData::new(ad).map_err(rejected)?);
    }
    let argon_params = builder.build().map_err(rejected)?;
    let ctx = if secret.is_empty() {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
    } else {
        Argon2::new_with_secret(secret, Algorithm::Argon2id, Version::V0x13, argon_params)
            .map_err(rejected)?
    };
    ctx.hash_password_into(password, salt, out)
        .map_err(|e| Error::InvalidInput(format!("Argon2id refused the input: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9106_argon2id_vector() {
        // RFC 9106 section 5.3.
        let params = KdfParams {
            m_cost: 32,
            t_cost: 3,
            p_cost: 4,
        };
        let tag = argon2id(&[1; 32], &[2; 16], &[3; 8], &[4; 12], &params, 32).unwrap();
        assert_eq!(
            hex::encode(tag.as_slice()),
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
        );
    }

    #[test]
    fn nfc_and_nfd_passphrases_derive_the_same_ikm() {
        let salt = [7u8; 16];
        let composed = "caf\u{e9} au lait, s'il vous pla\u{ee}t";
        let decomposed = "cafe\u{301} au lait, s'il vous plai\u{302}t";
        assert_ne!(composed, decomposed);
        let a = derive_ikm(composed, &salt, &KdfParams::FLOOR).unwrap();
        let b = derive_ikm(decomposed, &salt, &KdfParams::FLOOR).unwrap();
        assert_eq!(*a, *b);
        let c = derive_ikm("cafe au lait, s'il vous plait", &salt, &KdfParams::FLOOR).unwrap();
        assert_ne!(*a, *c);
    }

    #[test]
    fn default_policy_is_the_documented_owasp_floor() {
        // The values docs/FORMAT.md states, written out here rather than taken from the
        // constants, so that a change to a constant shows up as a failing test.
        let policy = Policy::default();
        assert_eq!((policy.min_m_cost, policy.max_m_cost), (7168, 1_048_576));
        assert_eq!((policy.min_t_cost, policy.max_t_cost), (1, 16));
        assert_eq!((policy.min_p_cost, policy.max_p_cost), (1, 16));
        assert_eq!(policy.min_m_times_t, 35_840);
        // The work floor is the floor point's own work: 5 passes over the minimum memory.
        let floor = KdfParams::FLOOR;
        assert_eq!(floor.m_cost, policy.min_m_cost);
        assert_eq!(
            u64::from(floor.m_cost) * u64::from(floor.t_cost),
            policy.min_m_times_t
        );
    }

    #[test]
    fn the_work_floor_trades_passes_for_memory() {
        let policy = Policy::default();
        let params = |m_cost, t_cost| KdfParams {
            m_cost,
            t_cost,
            p_cost: 1,
        };
        // 35 840 / 4 = 8960 KiB: four passes need more memory than five, and exactly that.
        assert!(policy.check(&params(8960, 4)).is_ok());
        let err = policy.check(&params(8959, 4)).unwrap_err();
        assert!(err.to_string().contains("m_cost * t_cost"), "{err}");
        // One pass needs 35 840 KiB.
        assert!(policy.check(&params(35_840, 1)).is_ok());
        let err = policy.check(&params(35_839, 1)).unwrap_err();
        assert!(err.to_string().contains("m_cost * t_cost"), "{err}");
        // More passes never buy memory below the m_cost bound.
        let err = policy.check(&params(7167, 16)).unwrap_err();
        assert!(err.to_string().contains("m_cost must be"), "{err}");
    }

    #[test]
    fn policy_bounds() {
        let policy = Policy::default();
        assert!(policy.check(&KdfParams::FLOOR).is_ok());
        assert!(policy.check(&KdfParams::RFC9106_SECOND).is_ok());
        let cases = [
            KdfParams {
                m_cost: 7167,
                t_cost: 5,
                p_cost: 1,
            },
            KdfParams {
                m_cost: 1_048_577,
                t_cost: 1,
                p_cost: 1,
            },
            KdfParams {
                m_cost: 65536,
                t_cost: 0,
                p_cost: 1,
            },
            KdfParams {
                m_cost: 65536,
                t_cost: 17,
                p_cost: 1,
            },
            KdfParams {
                m_cost: 65536,
                t_cost: 1,
                p_cost: 0,
            },
            KdfParams {
                m_cost: 65536,
                t_cost: 1,
                p_cost: 17,
            },
            // m * t below the floor although each bound holds on its own
            KdfParams {
                m_cost: 7168,
                t_cost: 4,
                p_cost: 1,
            },
        ];
        for p in cases {
            let err = policy.check(&p).unwrap_err();
            assert_eq!(err.class(), crate::ErrorClass::KdfParamsRejected, "{p:?}");
        }
        let narrow = Policy {
            min_m_cost: 8,
            max_p_cost: 4096,
            min_m_times_t: 0,
            ..policy
        };
        let err = narrow
            .check(&KdfParams {
                m_cost: 64,
                t_cost: 1,
                p_cost: 16,
            })
            .unwrap_err();
        assert!(err.to_string().contains("per lane"), "{err}");
    }
}
