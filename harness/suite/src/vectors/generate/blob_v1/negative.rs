//! `BlobNegative`: one or more vectors per error class and per header field, one function
//! per family, in the file's order.

use serde_json::Value;

use super::super::{GenResult, fix_digest, key_secret, negative, pass_secret};
use super::{Bases, edit, seal_key};

pub(super) fn all(b: &Bases) -> GenResult<Vec<Value>> {
    let mut rows = malformed(b);
    rows.extend(unsupported(b));
    rows.extend(stale_digest(b));
    rows.extend(body(b));
    rows.extend(key_commitment(b)?);
    rows.extend(policy(b));
    rows.extend(wrong_key(b));
    Ok(rows)
}

/// Structure broken (open steps 1 and 3): too short, bad magic, `salt_len` out of range, a
/// raw-key header with parameters.
// One `push` per vector, in tcId order, so a new vector is one block anywhere in the list.
#[allow(clippy::vec_init_then_push)]
fn malformed(b: &Bases) -> Vec<Value> {
    let base = b.base.as_slice();
    let raw_base = b.raw_base.as_slice();
    let mut rows = Vec::new();
    rows.push(negative(
        "empty input",
        &["Malformed"],
        b.ps(),
        &[],
        "malformed",
    ));
    rows.push(negative(
        "three bytes",
        &["Malformed"],
        b.ps(),
        &base[..3],
        "malformed",
    ));
    for (comment, magic) in [
        ("magic \"BKPG\"", b"BKPG"),
        ("magic \"bkpf\" (case matters)", b"bkpf"),
    ] {
        rows.push(negative(
            comment,
            &["Malformed", "HeaderField"],
            b.ps(),
            &edit(base, &|v| v[..4].copy_from_slice(magic), true),
            "malformed",
        ));
    }
    for sl in [0u8, 15, 33, 255] {
        rows.push(negative(
            format!("salt_len {sl} for Argon2id"),
            &["Malformed", "HeaderField"],
            b.ps(),
            &edit(base, &|v| v[15] = sl, false),
            "malformed",
        ));
    }
    // A raw-key header has all parameters zero; each one set (in its low byte) is malformed.
    for (field, at, value) in [
        ("m_cost", 9, 1u8),
        ("t_cost", 13, 1),
        ("p_cost", 14, 1),
        ("salt_len", 15, 16),
    ] {
        rows.push(negative(
            format!("raw-key header with {field} {value}"),
            &["Malformed", "HeaderField", "RawKey"],
            b.ka(),
            &edit(raw_base, &|v| v[at] = value, false),
            "malformed",
        ));
    }
    rows
}

/// `unsupported_version` / `unsupported_kdf` (open step 2, checked before the digest).
fn unsupported(b: &Bases) -> Vec<Value> {
    let base = b.base.as_slice();
    let mut rows = Vec::new();
    for ver in [0u8, 2, 255] {
        rows.push(negative(
            format!("version {ver}"),
            &["UnsupportedVersion", "HeaderField"],
            b.ps(),
            &edit(base, &|v| v[4] = ver, true),
            "unsupported_version",
        ));
    }
    rows.push(negative(
        "version 2 with a stale header digest: the version is reported",
        &["UnsupportedVersion", "Order"],
        b.ps(),
        &edit(base, &|v| v[4] = 2, false),
        "unsupported_version",
    ));
    for id in [2u8, 0x13, 255] {
        rows.push(negative(
            format!("kdf_id {id}"),
            &["UnsupportedKdf", "HeaderField"],
            b.ps(),
            &edit(base, &|v| v[5] = id, true),
            "unsupported_kdf",
        ));
    }
    rows
}

/// `corrupted` at open step 4: a header field changed and the digest left stale.
fn stale_digest(b: &Bases) -> Vec<Value> {
    let base = b.base.as_slice();
    let hl = b.hl();
    let mut rows = Vec::new();
    let fields: [(&str, usize); 8] = [
        ("m_cost", 9),
        ("t_cost", 13),
        ("p_cost", 14),
        ("salt", 16),
        ("nonce", 16 + 16),
        ("key_check", 16 + 16 + 12),
        ("header_digest", hl - 8),
        ("header_digest (last byte)", hl - 1),
    ];
    for (name, at) in fields {
        rows.push(negative(
            format!("{name} changed, header digest not updated"),
            &["Corrupted", "HeaderField"],
            b.ps(),
            &edit(base, &|v| v[at] ^= 0x01, false),
            "corrupted",
        ));
    }
    rows.push(negative(
        "out-of-policy m_cost and a stale digest: the digest is checked first",
        &["Corrupted", "Order"],
        b.ps(),
        &edit(
            base,
            &|v| v[6..10].copy_from_slice(&1024u32.to_be_bytes()),
            false,
        ),
        "corrupted",
    ));
    rows
}

/// `corrupted` at open step 7: ciphertext, tag or trailing bytes changed, or the nonce
/// changed with a valid digest.
fn body(b: &Bases) -> Vec<Value> {
    let base = b.base.as_slice();
    let raw_base = b.raw_base.as_slice();
    let hl = b.hl();
    let mut rows = Vec::new();
    rows.push(negative(
        "first ciphertext byte flipped",
        &["Corrupted"],
        b.ps(),
        &edit(base, &|v| v[hl] ^= 0x01, false),
        "corrupted",
    ));
    rows.push(negative(
        "last ciphertext byte flipped",
        &["Corrupted"],
        b.ps(),
        &edit(base, &flip_from_end(17, 0x80), false),
        "corrupted",
    ));
    rows.push(negative(
        "tag byte flipped",
        &["Corrupted"],
        b.ps(),
        &edit(base, &flip_from_end(1, 0x01), false),
        "corrupted",
    ));
    rows.push(negative(
        "one trailing byte appended",
        &["Corrupted", "Trailing"],
        b.ps(),
        &edit(base, &|v| v.push(0), false),
        "corrupted",
    ));
    rows.push(negative(
        "a second copy of the tag appended",
        &["Corrupted", "Trailing"],
        b.ka(),
        &edit(
            raw_base,
            &|v| {
                let t = v[v.len() - 16..].to_vec();
                v.extend_from_slice(&t)
            },
            false,
        ),
        "corrupted",
    ));
    rows.push(negative(
        "nonce changed with a valid digest: key check passes, authentication fails",
        &["Corrupted", "HeaderField"],
        b.ps(),
        &edit(base, &|v| v[32] ^= 0x01, true),
        "corrupted",
    ));
    rows.push(negative(
        "raw key: tag byte flipped",
        &["Corrupted", "RawKey"],
        b.ka(),
        &edit(raw_base, &flip_from_end(8, 0x20), false),
        "corrupted",
    ));
    rows
}

/// The two-key case: `key_check` of key A, ciphertext authenticating under key B.
fn key_commitment(b: &Bases) -> GenResult<Vec<Value>> {
    let raw_base = b.raw_base.as_slice();
    let mut rows = Vec::new();
    let under_b = seal_key(&b.key_b, &b.nonce, &b.pt)?;
    let mut two_key = under_b.clone();
    two_key[28..60].copy_from_slice(&raw_base[28..60]);
    fix_digest(&mut two_key);
    rows.push(negative(
        "two keys: key_check of key A, ciphertext under key B, opened with A",
        &["Corrupted", "KeyCommitment"],
        b.ka(),
        &two_key,
        "corrupted",
    ));
    rows.push(negative(
        "two keys: key_check of key A, ciphertext under key B, opened with B",
        &["WrongKey", "KeyCommitment"],
        key_secret(&b.key_b),
        &two_key,
        "wrong_key",
    ));
    Ok(rows)
}

/// `kdf_params_rejected`: a valid digest, parameters outside the default policy.
fn policy(b: &Bases) -> Vec<Value> {
    let base = b.base.as_slice();
    let mut rows = Vec::new();
    let params_cases: [(&str, u32, u32, u8); 7] = [
        ("m_cost 4096 KiB, below the 7168 floor", 4096, 5, 1),
        (
            "m_cost 2^31 KiB, above the 1 GiB bound (must not be attempted)",
            1 << 31,
            5,
            1,
        ),
        ("t_cost 0", 7168, 0, 1),
        ("t_cost 2^32-1 (must not be attempted)", 7168, u32::MAX, 1),
        ("t_cost 17", 7168, 17, 1),
        ("p_cost 0", 7168, 5, 0),
        ("p_cost 17", 65536, 5, 17),
    ];
    for (what, m, t, p) in params_cases {
        rows.push(negative(
            what,
            &["KdfParamsRejected", "HeaderField"],
            b.ps(),
            &edit(base, &set_params(m, t, p), true),
            "kdf_params_rejected",
        ));
    }
    rows.push(negative(
        "m_cost*t_cost 28672, below the 35840 floor",
        &["KdfParamsRejected"],
        b.ps(),
        &edit(
            base,
            &|v| v[10..14].copy_from_slice(&4u32.to_be_bytes()),
            true,
        ),
        "kdf_params_rejected",
    ));
    rows.push(negative(
        "out-of-policy parameters and a wrong passphrase: the policy answers first",
        &["KdfParamsRejected", "Order"],
        pass_secret("not the passphrase at all"),
        &edit(
            base,
            &|v| v[6..10].copy_from_slice(&4096u32.to_be_bytes()),
            true,
        ),
        "kdf_params_rejected",
    ));
    rows
}

/// `wrong_key`: the wrong secret, the wrong kind of secret, or a key-schedule input changed
/// with a valid digest.
// One `push` per vector, in tcId order, so a new vector is one block anywhere in the list.
#[allow(clippy::vec_init_then_push)]
fn wrong_key(b: &Bases) -> Vec<Value> {
    let base = b.base.as_slice();
    let raw_base = b.raw_base.as_slice();
    let mut rows = Vec::new();
    rows.push(negative(
        "wrong passphrase (one letter appended)",
        &["WrongKey"],
        pass_secret("correct horse battery staples"),
        base,
        "wrong_key",
    ));
    rows.push(negative(
        "passphrase shorter than 13 characters: opening does not enforce the sealing minimum",
        &["WrongKey"],
        pass_secret("short"),
        base,
        "wrong_key",
    ));
    rows.push(negative(
        "raw key for a passphrase blob",
        &["WrongKey"],
        b.ka(),
        base,
        "wrong_key",
    ));
    rows.push(negative(
        "passphrase for a raw-key blob",
        &["WrongKey", "RawKey"],
        b.ps(),
        raw_base,
        "wrong_key",
    ));
    rows.push(negative(
        "wrong raw key",
        &["WrongKey", "RawKey"],
        key_secret(&b.key_b),
        raw_base,
        "wrong_key",
    ));
    for (name, at) in [("salt", 20usize), ("key_check", 50)] {
        rows.push(negative(
            format!("{name} changed with a valid digest"),
            &["WrongKey", "HeaderField"],
            b.ps(),
            &edit(base, &|v| v[at] ^= 0x01, true),
            "wrong_key",
        ));
    }
    for (name, m, t, p) in [
        ("m_cost 8192", 8192u32, 5u32, 1u8),
        ("t_cost 6", 7168, 6, 1),
        ("p_cost 2", 7168, 5, 2),
    ] {
        rows.push(negative(
            format!("{name} (in policy) with a valid digest: derives another key"),
            &["WrongKey", "HeaderField"],
            b.ps(),
            &edit(base, &set_params(m, t, p), true),
            "wrong_key",
        ));
    }
    rows
}

/// Flips the bits `mask` of the byte `back` places from the end (1 is the last byte), where
/// the tag and the end of the ciphertext are whatever the payload's length.
fn flip_from_end(back: usize, mask: u8) -> impl Fn(&mut Vec<u8>) {
    move |v| {
        let i = v.len() - back;
        v[i] ^= mask;
    }
}

/// Sets the header's `m_cost`, `t_cost` and `p_cost` (big-endian, docs/FORMAT.md).
fn set_params(m: u32, t: u32, p: u8) -> impl Fn(&mut Vec<u8>) {
    move |v| {
        v[6..10].copy_from_slice(&m.to_be_bytes());
        v[10..14].copy_from_slice(&t.to_be_bytes());
        v[14] = p;
    }
}
