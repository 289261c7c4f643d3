//! Parsers for the tune command's options and for the KDF parameters the client accepts.
//!
//! The client takes its write parameters either as `--kdf m=65536,t=3,p=4` ([`parse_kdf`]) or
//! as a file ([`load_kdf_file`]): the JSON `backproof tune --json FILE` writes (see
//! [`crate::TuneReport`]), a bare `{"m_cost": …, "t_cost": …, "p_cost": …}` object, or a text
//! file holding one `m=…,t=…,p=…` line. Both check the parameters against the default policy
//! of docs/FORMAT.md, so a writer can never be configured below the floor.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::search::Window;
use crate::{KdfParams, Policy};

/// Why KDF parameters or a tune option could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum KdfParseError {
    /// The text does not have the expected shape.
    #[error("{what} {input:?}: {reason}")]
    Syntax {
        /// Which kind of value was being parsed.
        what: &'static str,
        /// The offending input.
        input: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// Well-formed parameters outside the policy of docs/FORMAT.md.
    #[error("KDF parameters m={m},t={t},p={p} are outside the policy: {reason}",
        m = .params.m_cost, t = .params.t_cost, p = .params.p_cost)]
    Rejected {
        /// The parameters.
        params: KdfParams,
        /// The policy's reason.
        reason: String,
    },
    /// The file could not be read.
    #[error("cannot read KDF file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but holds no usable parameters.
    #[error("KDF file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl KdfParseError {
    /// The error class of docs/FORMAT.md that fits: parameters outside the policy are
    /// `kdf_params_rejected`; everything else is `malformed` input.
    pub fn class(&self) -> backproof_format::ErrorClass {
        match self {
            KdfParseError::Rejected { .. } => backproof_format::ErrorClass::KdfParamsRejected,
            _ => backproof_format::ErrorClass::Malformed,
        }
    }
}

fn syntax(what: &'static str, input: &str, reason: impl Into<String>) -> KdfParseError {
    KdfParseError::Syntax {
        what,
        input: input.to_owned(),
        reason: reason.into(),
    }
}

const KDF_SHAPE: &str =
    "expected m=KiB,t=PASSES,p=LANES, e.g. m=65536,t=3,p=4 (m also takes MiB/GiB: m=64MiB)";

/// Parses `m=65536,t=3,p=4` (keys in any order, each exactly once; `m_cost`/`t_cost`/`p_cost`
/// are accepted as key names; m in KiB, or with a `KiB`/`MiB`/`GiB` suffix) and checks the
/// result against the default policy.
pub fn parse_kdf(s: &str) -> Result<KdfParams, KdfParseError> {
    const WHAT: &str = "KDF parameters";
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(syntax(WHAT, s, KDF_SHAPE));
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for part in trimmed.split(',') {
        let part = part.trim();
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| syntax(WHAT, s, format!("{part:?} has no '='; {KDF_SHAPE}")))?;
        let (key, value) = (key.trim(), value.trim());
        let slot = match key.to_ascii_lowercase().as_str() {
            "m" | "m_cost" => &mut m,
            "t" | "t_cost" => &mut t,
            "p" | "p_cost" => &mut p,
            other => {
                return Err(syntax(
                    WHAT,
                    s,
                    format!("unknown key {other:?}; {KDF_SHAPE}"),
                ));
            }
        };
        if slot.is_some() {
            return Err(syntax(WHAT, s, format!("key {key:?} given twice")));
        }
        let number = if key.starts_with(['m', 'M']) {
            parse_kib(value).map_err(|r| syntax(WHAT, s, format!("m: {r}")))?
        } else {
            value
                .parse::<u32>()
                .map_err(|_| syntax(WHAT, s, format!("{key}: {value:?} is not a whole number")))?
        };
        *slot = Some(number);
    }
    let missing: Vec<&str> = [("m", m), ("t", t), ("p", p)]
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| *k)
        .collect();
    if !missing.is_empty() {
        return Err(syntax(
            WHAT,
            s,
            format!("missing {}; {KDF_SHAPE}", missing.join(", ")),
        ));
    }
    let params = KdfParams {
        m_cost: m.unwrap_or_default(),
        t_cost: t.unwrap_or_default(),
        p_cost: p.unwrap_or_default(),
    };
    checked(params)
}

fn checked(params: KdfParams) -> Result<KdfParams, KdfParseError> {
    Policy::default()
        .check(&params)
        .map_err(|e| KdfParseError::Rejected {
            params,
            reason: e.to_string(),
        })?;
    Ok(params)
}

/// The canonical `m=…,t=…,p=…` form (what `--kdf` takes).
pub fn format_kdf(p: &KdfParams) -> String {
    format!("m={},t={},p={}", p.m_cost, p.t_cost, p.p_cost)
}

/// Reads KDF parameters from a file: `tune --json` output, a bare parameters object, or one
/// `m=…,t=…,p=…` line. A tune result that did not find parameters is refused with its
/// reason.
pub fn load_kdf_file(path: impl AsRef<Path>) -> Result<KdfParams, KdfParseError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| KdfParseError::Io {
        path: path.to_owned(),
        source,
    })?;
    let file_err = |reason: String| KdfParseError::File {
        path: path.to_owned(),
        reason,
    };
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return parse_kdf(trimmed);
    }
    let value: serde_json::Value =
        serde_json::from_str(trimmed).map_err(|e| file_err(format!("not valid JSON: {e}")))?;
    let object = if let Some(kdf) = value.get("kdf") {
        if kdf.is_null() {
            let why = value
                .pointer("/error/message")
                .and_then(|m| m.as_str())
                .unwrap_or("no reason recorded");
            return Err(file_err(format!(
                "the tune run it records found no parameters ({why})"
            )));
        }
        kdf
    } else {
        &value
    };
    let params: KdfParams = serde_json::from_value(object.clone()).map_err(|e| {
        file_err(format!(
            "expected {{\"m_cost\": KiB, \"t_cost\": N, \"p_cost\": N}} (or tune --json output \
             with such a \"kdf\" field): {e}"
        ))
    })?;
    checked(params)
}

/// Parses a memory size into KiB: `256MiB`, `256 MiB`, `1GiB`, `65536KiB` (also `K`, `M`,
/// `G`, `KB`, `MB`, `GB`, all binary, case-insensitive); a bare number means MiB.
pub fn parse_memory(s: &str) -> Result<u32, KdfParseError> {
    parse_size(s, 1024).map_err(|r| syntax("memory size", s, r))
}

fn parse_kib(s: &str) -> Result<u32, String> {
    parse_size(s, 1)
}

fn parse_size(s: &str, bare_unit_kib: u64) -> Result<u32, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return Err("expected a whole number with an optional unit (KiB, MiB, GiB)".into());
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{digits:?} is too large"))?;
    let unit_kib = match unit.trim().to_ascii_lowercase().as_str() {
        "" => bare_unit_kib,
        "k" | "kb" | "kib" => 1,
        "m" | "mb" | "mib" => 1024,
        "g" | "gb" | "gib" => 1024 * 1024,
        other => return Err(format!("unknown unit {other:?} (use KiB, MiB or GiB)")),
    };
    n.checked_mul(unit_kib)
        .and_then(|kib| u32::try_from(kib).ok())
        .ok_or_else(|| "too large (at most 4 TiB)".to_owned())
}

/// Parses a target window `LOW..HIGH`, each a number with a unit `us`, `ms` or `s`
/// (`500ms..1s`, `0.5s..1s`, `20ms..60ms`); LOW must be positive and below HIGH.
pub fn parse_target(s: &str) -> Result<Window, KdfParseError> {
    const WHAT: &str = "target window";
    let (low, high) = s
        .split_once("..")
        .ok_or_else(|| syntax(WHAT, s, "expected LOW..HIGH, e.g. 500ms..1s"))?;
    let low = parse_duration(low).map_err(|r| syntax(WHAT, s, format!("low end: {r}")))?;
    let high = parse_duration(high).map_err(|r| syntax(WHAT, s, format!("high end: {r}")))?;
    if low.is_zero() {
        return Err(syntax(WHAT, s, "the low end must be above zero"));
    }
    if low >= high {
        return Err(syntax(WHAT, s, "the low end must be below the high end"));
    }
    Ok(Window { low, high })
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{s:?} has no unit (use us, ms or s)"))?;
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{number:?} is not a number"))?;
    let seconds = match unit.trim() {
        "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        other => return Err(format!("unknown unit {other:?} (use us, ms or s)")),
    };
    if !(0.0..=3600.0).contains(&seconds) {
        return Err(format!("{s:?} is out of range (0 to 1 hour)"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Physical memory of this machine in KiB, from `/proc/meminfo` (`None` where that file
/// does not exist or cannot be parsed).
pub fn physical_memory_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo_total_kib(&text)
}

/// The `MemTotal:` line of a `/proc/meminfo` text, in KiB.
pub fn meminfo_total_kib(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdf_strings() {
        let p = parse_kdf("m=65536,t=3,p=4").unwrap();
        assert_eq!(p, KdfParams::RFC9106_SECOND);
        assert_eq!(parse_kdf(" p=4 , t=3, m=64MiB ").unwrap(), p);
        assert_eq!(parse_kdf("m_cost=65536,t_cost=3,p_cost=4").unwrap(), p);
        assert_eq!(parse_kdf(&format_kdf(&p)).unwrap(), p);
        assert_eq!(parse_kdf("m=7168,t=5,p=1").unwrap(), KdfParams::FLOOR);
    }

    #[test]
    fn kdf_garbage_is_rejected_with_a_reason() {
        for (input, needle) in [
            ("", "expected m="),
            ("m=65536,t=3", "missing p"),
            ("m=65536,t=3,p=4,t=2", "twice"),
            ("m 65536,t=3,p=4", "no '='"),
            ("m=65536;t=3;p=4", "unknown unit"),
            ("m=lots,t=3,p=4", "m:"),
            ("m=65536,t=-3,p=4", "whole number"),
            ("m=65536,t=3,q=4", "unknown key"),
            ("m=99999999999,t=3,p=4", "too large"),
        ] {
            let err = parse_kdf(input).expect_err(input);
            assert!(
                matches!(err, KdfParseError::Syntax { .. }),
                "{input}: {err}"
            );
            assert_eq!(err.class(), backproof_format::ErrorClass::Malformed);
            assert!(err.to_string().contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn kdf_below_the_floor_is_rejected() {
        for input in [
            "m=7168,t=4,p=1",
            "m=4096,t=16,p=1",
            "m=65536,t=3,p=17",
            "m=65536,t=0,p=1",
        ] {
            let err = parse_kdf(input).expect_err(input);
            assert!(
                matches!(err, KdfParseError::Rejected { .. }),
                "{input}: {err}"
            );
            assert_eq!(err.class(), backproof_format::ErrorClass::KdfParamsRejected);
        }
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("256MiB").unwrap(), 262_144);
        assert_eq!(parse_memory("256 MiB").unwrap(), 262_144);
        assert_eq!(parse_memory("256").unwrap(), 262_144);
        assert_eq!(parse_memory("1GiB").unwrap(), 1_048_576);
        assert_eq!(parse_memory("7168KiB").unwrap(), 7168);
        assert_eq!(parse_memory("64m").unwrap(), 65_536);
        for bad in ["", "MiB", "12 parsecs", "5000000GiB", "-1"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets() {
        let w = parse_target("500ms..1s").unwrap();
        assert_eq!(w, Window::DEFAULT);
        assert_eq!(parse_target("0.5s..1s").unwrap(), Window::DEFAULT);
        let w = parse_target("20ms..60ms").unwrap();
        assert_eq!(w.middle(), Duration::from_millis(40));
        for bad in [
            "1s..500ms",
            "0ms..1s",
            "500ms",
            "500..1000",
            "1s..2h",
            "a..b",
            "1s..1s",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn meminfo() {
        let text = "MemTotal:       24683396 kB\nMemFree:        23658572 kB\n";
        assert_eq!(meminfo_total_kib(text), Some(24_683_396));
        assert_eq!(meminfo_total_kib("MemFree: 1 kB\n"), None);
        assert_eq!(meminfo_total_kib("MemTotal: lots kB\n"), None);
        // This machine has a /proc/meminfo and some memory.
        if Path::new("/proc/meminfo").exists() {
            assert!(physical_memory_kib().unwrap() > 0);
        }
    }

    #[test]
    fn kdf_files() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let bare = write(
            "bare.json",
            r#"{"m_cost": 65536, "t_cost": 3, "p_cost": 4}"#,
        );
        assert_eq!(load_kdf_file(&bare).unwrap(), KdfParams::RFC9106_SECOND);
        let line = write("kdf.txt", "m=7168,t=5,p=1\n");
        assert_eq!(load_kdf_file(&line).unwrap(), KdfParams::FLOOR);
        let wrapped = write(
            "tune.json",
            r#"{"ok": true, "kdf": {"m_cost": 65536, "t_cost": 3, "p_cost": 4}, "median_ms": 1}"#,
        );
        assert_eq!(load_kdf_file(&wrapped).unwrap(), KdfParams::RFC9106_SECOND);
        let failed = write(
            "failed.json",
            r#"{"ok": false, "kdf": null, "error": {"message": "too slow", "limit": "--target"}}"#,
        );
        let err = load_kdf_file(&failed).unwrap_err();
        assert!(err.to_string().contains("too slow"), "{err}");
        let low = write("low.json", r#"{"m_cost": 1024, "t_cost": 1, "p_cost": 1}"#);
        assert!(matches!(
            load_kdf_file(&low).unwrap_err(),
            KdfParseError::Rejected { .. }
        ));
        let junk = write("junk.json", "{not json");
        assert!(
            load_kdf_file(&junk)
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
        let wrong = write("wrong.json", r#"{"m": 65536}"#);
        assert!(
            load_kdf_file(&wrong)
                .unwrap_err()
                .to_string()
                .contains("m_cost")
        );
        let missing = dir.path().join("missing.json");
        assert!(matches!(
            load_kdf_file(&missing).unwrap_err(),
            KdfParseError::Io { .. }
        ));
    }
}
