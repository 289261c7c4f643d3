//! `BlobTruncation`: both base blobs cut at every field boundary. Cut inside the header, or
//! with no room left for a tag, is `malformed` (open steps 1 and 3); once a tag could be
//! present it is `corrupted` (step 7).

use serde_json::Value;

use super::super::negative;
use super::Bases;

pub(super) fn all(b: &Bases) -> Vec<Value> {
    let base = b.base.as_slice();
    let raw_base = b.raw_base.as_slice();
    let hl = b.hl();
    let mut rows = Vec::new();
    let bounds = [
        ("inside magic", 2usize),
        ("after magic", 4),
        ("after version", 5),
        ("after kdf_id", 6),
        ("after m_cost", 10),
        ("after t_cost", 14),
        ("after p_cost", 15),
        ("after salt_len", 16),
        ("after salt", 32),
        ("after nonce", 44),
        ("after key_check", 76),
        ("after header_digest", hl),
        ("15 bytes after the header", hl + 15),
    ];
    for (what, len) in bounds {
        rows.push(negative(
            format!("passphrase blob truncated {what} ({len} bytes)"),
            &["Truncated"],
            b.ps(),
            &base[..len],
            "malformed",
        ));
    }
    rows.push(negative(
        "passphrase blob without its last byte",
        &["Truncated"],
        b.ps(),
        &base[..base.len() - 1],
        "corrupted",
    ));
    rows.push(negative(
        "passphrase blob without its ciphertext (header + tag only)",
        &["Truncated"],
        b.ps(),
        &[&base[..hl], &base[base.len() - 16..]].concat(),
        "corrupted",
    ));
    for (what, len) in [
        ("after nonce", 28usize),
        ("after key_check", 60),
        ("after header_digest", 68),
        ("15 bytes after the header", 83),
    ] {
        rows.push(negative(
            format!("raw-key blob truncated {what} ({len} bytes)"),
            &["Truncated", "RawKey"],
            b.ka(),
            &raw_base[..len],
            "malformed",
        ));
    }
    rows.push(negative(
        "raw-key blob without its last byte",
        &["Truncated", "RawKey"],
        b.ka(),
        &raw_base[..raw_base.len() - 1],
        "corrupted",
    ));
    rows
}
