//! The backup designs the suite checks (docs/GATE.md "Profiles"): each profile names its
//! store, the case families that apply to it and the advisories its design carries.
//!
//! Adding a profile is adding a variant here and filling in its `match` arms; the compiler
//! finds every place that has to decide something about it.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One backup design, end to end: codec, store, vectors, families, advisories.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Profile {
    /// Blob v1 over API v1 (docs/FORMAT.md, docs/API.md): the suite's original design.
    #[serde(rename = "v1")]
    V1,
    /// The JSON blob of a bring-your-own-key cloud backup, written to S3 object paths by
    /// the client itself (docs/profiles/byok-json-v1.md).
    #[serde(rename = "byok-json-v1")]
    ByokJsonV1,
    /// The password-encrypted vault of `@metamask/browser-passworder`
    /// (docs/profiles/metamask-vault.md), kept as one object per user in an object store.
    #[serde(rename = "metamask-vault")]
    MetamaskVault,
    /// The Database Backup Manager's streamed AES-256-GCM artifact with a `.meta.json`
    /// sidecar, hex key export/import and smart recovery
    /// (docs/profiles/dbm-stream-v1.md), stored as two S3 objects.
    #[serde(rename = "dbm-stream-v1")]
    DbmStreamV1,
    /// The Noah wallet's database backup: base64 of an AES-256-GCM body under a
    /// PBKDF2-SHA256 key derived from the seedphrase (docs/profiles/noah-v0.md), stored
    /// through a server's presigned URLs in two rolling slots.
    #[serde(rename = "noah-v0")]
    NoahV0,
}

impl Default for Profile {
    /// Absent from a request or a scenario file means `v1`.
    fn default() -> Profile {
        Profile::V1
    }
}

/// How a profile's bytes reach storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The backproof server API (docs/API.md), If-Match / 409.
    ApiV1,
    /// The client writes S3 object paths itself; there is no server.
    ObjectStore,
    /// The client writes an encrypted artifact and a `.meta.json` sidecar beside it, two
    /// objects per backup, to S3 itself; there is no server.
    ArtifactSidecar,
    /// A server that hands out presigned S3 URLs and keeps two rolling slots per user
    /// (docs/profiles/noah-v0.md §8).
    NoahV0,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::ApiV1 => "api-v1",
            StoreKind::ObjectStore => "object-store",
            StoreKind::ArtifactSidecar => "artifact+sidecar",
            StoreKind::NoahV0 => "noah-v0",
        }
    }

    /// Whether the client talks to S3 itself, with no server between: the adapter request
    /// then carries the S3 coordinates (`store`, kind `object-store`, docs/ADAPTER.md).
    pub fn client_writes_s3(self) -> bool {
        match self {
            StoreKind::ApiV1 | StoreKind::NoahV0 => false,
            StoreKind::ObjectStore | StoreKind::ArtifactSidecar => true,
        }
    }
}

/// Something the suite knows to be weak in a design that is nevertheless conformant.
/// Printed in every report format in a section of its own; never a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advisory {
    /// Stable id (`no-key-check`), what reports and tools match on.
    pub id: &'static str,
    /// One line.
    pub title: &'static str,
    /// Why it matters, for the report's reader.
    pub detail: &'static str,
}

const NO_KEY_CHECK: Advisory = Advisory {
    id: "no-key-check",
    title: "a wrong passphrase and a damaged backup are the same failure",
    detail: "The design has no key check: both are an AES-GCM tag mismatch, so the user with a damaged backup is told to retype a correct passphrase and the user with a wrong one may conclude the data is lost. AES-GCM is not key-committing either. Cases accept `wrong_key` or `corrupted` for a tag failure (pass-acceptable).",
};

const LAST_WRITER_WINS: Advisory = Advisory {
    id: "last-writer-wins",
    title: "two devices that back up at once lose an update",
    detail: "Writes are plain S3 PUTs without a precondition: both devices succeed and the slower one silently replaces the other's backup. The conflict cases run and show the lost update happening.",
};

const FINAL_PATH_GAP: Advisory = Advisory {
    id: "final-path-gap",
    title: "during a rotation only the temporary object holds the backup",
    detail: "Between rotation steps \"delete final\" and \"upload final\" a crash leaves a restore saying not_found until someone runs recover on the temporary object. Writing the final object over the old one (a PUT replaces atomically) would have no gap.",
};

const VAULT_NO_KEY_CHECK: Advisory = Advisory {
    id: "no-key-check",
    title: "a wrong password and a damaged vault are the same failure",
    detail: "The vault has no key check and the library throws \"Incorrect password\" for a tag failure and for an authentic plaintext that is not JSON alike, so a user with a damaged vault is told their password is wrong. Cases accept `wrong_key`, `corrupted` or `wrong_key_or_corrupted` for these (pass-acceptable).",
};

const KDF_WEAK: Advisory = Advisory {
    id: "kdf-weak",
    title: "legacy vaults are derived with 10 000 PBKDF2-SHA256 rounds",
    detail: "A vault without keyMetadata is derived with 10 000 iterations, about 1/60 of current guidance for PBKDF2-HMAC-SHA256; the library's vault update lifts it to 900 000, and the update vectors check that it does.",
};

const UNBOUNDED_KDF: Advisory = Advisory {
    id: "unbounded-kdf",
    title: "the reader derives whatever iteration count the vault declares",
    detail: "The library has no upper bound on keyMetadata.params.iterations: a vault declaring 2^31-1 rounds keeps decrypt busy for hours, hanging whoever opens it. The profile refuses counts above 10 000 000 (kdf_params_rejected); through the library those vectors are not sent (unsupported, with the reason).",
};

const DBM_NO_KEY_CHECK: Advisory = Advisory {
    id: "no-key-check",
    title: "a wrong key and a damaged artifact or sidecar are the same failure",
    detail: "The artifact has no key check: a wrong key, a changed byte of the artifact, a truncated or extended artifact and an altered iv or authTag all fail the one GCM tag. Cases accept `wrong_key`, `corrupted` or `wrong_key_or_corrupted` for these (pass-acceptable). AES-GCM is not key-committing either.",
};

const UNAUTHENTICATED_HEURISTIC: Advisory = Advisory {
    id: "unauthenticated-heuristic",
    title: "smart recovery as designed picks a key by unauthenticated first bytes",
    detail: "The design's smart recovery decrypts the first 1 KiB without the tag and takes the first key under which it looks like gzip (1f 8b 08) or printable text. Such decoy keys are found by search in about 2^24 trials; brotli has no magic at all. The profile matches a key only after the whole tag verifies, and the recovery vectors put decoys before the right key.",
};

const PLAINTEXT_BEFORE_TAG: Advisory = Advisory {
    id: "plaintext-before-tag",
    title: "a streaming restore releases plaintext before the tag is checked",
    detail: "Node's GCM decipher checks the tag only in final(): a pipeline that feeds the database CLI from it has restored forged or truncated data by the time the tag fails. The profile verifies the whole artifact first (pass 1) and only then decrypts (pass 2); after a corrupted answer the output holds nothing.",
};

const NOAH_NO_KEY_CHECK: Advisory = Advisory {
    id: "no-key-check",
    title: "a wrong seedphrase and a damaged backup are the same failure",
    detail: "The body has no key check: a wrong seedphrase and a changed, cut or extended body all fail the one GCM tag, so the app cannot tell the user which. Cases accept `wrong_key`, `corrupted` or `wrong_key_or_corrupted` for these (pass-acceptable). AES-GCM is not key-committing either.",
};

const NOAH_KDF_WEAK: Advisory = Advisory {
    id: "kdf-weak",
    title: "the key is derived with 10 000 PBKDF2-SHA256 rounds",
    detail: "PBKDF2-HMAC-SHA256 at a fixed 10 000 iterations is about 1/60 of current guidance for that hash; whoever holds a backup body tests seedphrase guesses cheaply. A seedphrase of random BIP-39 words resists that; one a user typed or shortened may not.",
};

const DETERMINISTIC_SALT: Advisory = Advisory {
    id: "deterministic-salt",
    title: "the salt is derived from the seedphrase",
    detail: "The salt is SHA-256(seedphrase)[:16]: equal seedphrases give equal keys, a guess is tested against every user's backup at once, and once the seedphrase leaks the salt adds nothing. A random salt stored beside the IV would cost 16 bytes.",
};

impl Profile {
    /// Every profile, in the order reports list them (`v1` first).
    pub const ALL: [Profile; 5] = [
        Profile::V1,
        Profile::ByokJsonV1,
        Profile::MetamaskVault,
        Profile::DbmStreamV1,
        Profile::NoahV0,
    ];

    /// The name on the command line, in scenario files, adapter requests and case ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::V1 => backproof_adapter_protocol::PROFILE_V1,
            Profile::ByokJsonV1 => "byok-json-v1",
            Profile::MetamaskVault => "metamask-vault",
            Profile::DbmStreamV1 => "dbm-stream-v1",
            Profile::NoahV0 => "noah-v0",
        }
    }

    pub fn store(self) -> StoreKind {
        match self {
            Profile::V1 => StoreKind::ApiV1,
            Profile::ByokJsonV1 | Profile::MetamaskVault => StoreKind::ObjectStore,
            Profile::DbmStreamV1 => StoreKind::ArtifactSidecar,
            Profile::NoahV0 => StoreKind::NoahV0,
        }
    }

    /// The case families that apply. `hygiene` and `protocol` check the backproof server
    /// API, which an object-store design does not have.
    pub fn families(self) -> &'static [&'static str] {
        match self {
            Profile::V1 => &[
                "vectors",
                "conflict",
                "wrong-passphrase",
                "corrupted-blob",
                "mid-rotation-crash",
                "smart-recovery",
                "hygiene",
                "protocol",
            ],
            Profile::ByokJsonV1 => &[
                "vectors",
                "conflict",
                "wrong-passphrase",
                "corrupted-blob",
                "mid-rotation-crash",
            ],
            // No `conflict`: the library has no merge and the store no precondition, so two
            // writers are byok-json-v1's last-writer-wins again, with nothing of the
            // library's in it.
            Profile::MetamaskVault => &[
                "vectors",
                "wrong-passphrase",
                "corrupted-blob",
                "mid-rotation-crash",
            ],
            // No `conflict`: every backup is a new name, nothing is read-modify-written.
            Profile::DbmStreamV1 => &[
                "vectors",
                "wrong-passphrase",
                "corrupted-blob",
                "mid-rotation-crash",
                "smart-recovery",
            ],
            // No `smart-recovery` (one seedphrase, nothing to search), no `hygiene` (a
            // v1 blob's header); `protocol` holds API v0's rules.
            Profile::NoahV0 => &[
                "vectors",
                "conflict",
                "wrong-passphrase",
                "corrupted-blob",
                "mid-rotation-crash",
                "protocol",
            ],
        }
    }

    pub fn applies_to(self, family: &str) -> bool {
        self.families().contains(&family)
    }

    /// What the suite knows to be weak in this design (docs/profiles/<name>.md).
    pub fn advisories(self) -> &'static [Advisory] {
        match self {
            Profile::V1 => &[],
            Profile::ByokJsonV1 => &[NO_KEY_CHECK, LAST_WRITER_WINS, FINAL_PATH_GAP],
            Profile::MetamaskVault => &[VAULT_NO_KEY_CHECK, KDF_WEAK, UNBOUNDED_KDF],
            Profile::DbmStreamV1 => &[
                DBM_NO_KEY_CHECK,
                UNAUTHENTICATED_HEURISTIC,
                PLAINTEXT_BEFORE_TAG,
            ],
            Profile::NoahV0 => &[NOAH_NO_KEY_CHECK, NOAH_KDF_WEAK, DETERMINISTIC_SALT],
        }
    }

    /// The case id of a scenario (`<family>/<name>`) or vector (`vectors/…`) run under
    /// this profile: `v1` keeps the id as it always was, so old reports and baselines stay
    /// comparable; every other profile puts its name in front.
    pub fn case_id(self, id: &str) -> String {
        match self {
            Profile::V1 => id.to_string(),
            p => format!("{}/{id}", p.as_str()),
        }
    }

    /// The folder under vectors/ that holds this profile's vector files; `None` for v1,
    /// whose files sit in vectors/ itself.
    pub fn vectors_subdir(self) -> Option<&'static str> {
        match self {
            Profile::V1 => None,
            p => Some(p.as_str()),
        }
    }

    /// The profile a case id belongs to (the inverse of [`Profile::case_id`]).
    pub fn of_case_id(id: &str) -> Profile {
        Profile::ALL
            .into_iter()
            .filter(|p| *p != Profile::V1)
            .find(|p| {
                id.strip_prefix(p.as_str())
                    .is_some_and(|r| r.starts_with('/'))
            })
            .unwrap_or(Profile::V1)
    }

    fn names() -> String {
        Profile::ALL
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A profile name that is not one of [`Profile::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile {given:?}; known profiles: {known} (or `all`)")]
pub struct UnknownProfile {
    pub given: String,
    pub known: String,
}

impl FromStr for Profile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Profile, UnknownProfile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProfile {
                given: s.to_string(),
                known: Profile::names(),
            })
    }
}

/// `--profile NAME|all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileChoice {
    /// One profile (default `v1`).
    One(Profile),
    /// Every profile: those the target's `hello` does not offer are `unsupported`, case by
    /// case, with the reason.
    All,
}

impl Default for ProfileChoice {
    fn default() -> ProfileChoice {
        ProfileChoice::One(Profile::V1)
    }
}

impl ProfileChoice {
    /// The profiles the choice runs, in report order.
    pub fn profiles(self) -> Vec<Profile> {
        match self {
            ProfileChoice::One(p) => vec![p],
            ProfileChoice::All => Profile::ALL.to_vec(),
        }
    }
}

impl FromStr for ProfileChoice {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<ProfileChoice, UnknownProfile> {
        if s == "all" {
            Ok(ProfileChoice::All)
        } else {
            s.parse().map(ProfileChoice::One)
        }
    }
}

impl fmt::Display for ProfileChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileChoice::One(p) => p.fmt(f),
            ProfileChoice::All => f.write_str("all"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_case_ids_are_unchanged_and_others_are_prefixed() {
        for id in [
            "protocol/auth-missing-token",
            "conflict/two-devices-merge",
            "vectors/blob-v1/12",
        ] {
            assert_eq!(Profile::V1.case_id(id), id);
            assert_eq!(Profile::of_case_id(id), Profile::V1);
        }
        let byok = Profile::ByokJsonV1.case_id("conflict/two-devices");
        assert_eq!(byok, "byok-json-v1/conflict/two-devices");
        assert_eq!(Profile::of_case_id(&byok), Profile::ByokJsonV1);
        // A family that merely starts like a profile name is not one.
        assert_eq!(Profile::of_case_id("byok-json-v1x/a"), Profile::V1);
    }

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_known() {
        for p in Profile::ALL {
            assert_eq!(p.as_str().parse::<Profile>(), Ok(p));
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::json!(p.as_str())
            );
        }
        assert_eq!("all".parse::<ProfileChoice>(), Ok(ProfileChoice::All));
        let e = "bogus".parse::<ProfileChoice>().unwrap_err().to_string();
        assert!(
            e.contains("\"bogus\"") && e.contains("v1, byok-json-v1") && e.contains("all"),
            "{e}"
        );
    }

    #[test]
    fn advisories_have_unique_ids() {
        let mut seen = std::collections::BTreeSet::new();
        for p in Profile::ALL {
            for a in p.advisories() {
                seen.insert(a.id);
                assert!(!a.title.is_empty() && !a.detail.is_empty());
            }
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            [
                "deterministic-salt",
                "final-path-gap",
                "kdf-weak",
                "last-writer-wins",
                "no-key-check",
                "plaintext-before-tag",
                "unauthenticated-heuristic",
                "unbounded-kdf"
            ]
        );
        assert!(Profile::V1.advisories().is_empty());
    }
}
