//! JUnit XML in the dialect every CI reads (Jenkins' junit-10.xsd, Ant's format):
//! one `<testsuite>` per family, one `<testcase>` per case.
//!
//! Mapping: `pass` → passed; `pass-acceptable` → passed, with the accepted alternative in
//! `<system-out>`; `fail` → `<failure>`; `error` → `<error>`; `unsupported` → `<skipped>`; a
//! failing case covered by a known deviation → `<skipped>` whose message names the
//! deviation (the gate accepts it, so the CI's test view should not go red for it), with
//! expected vs observed in the body. Run facts and every deviation are also in the
//! `<properties>` of a leading `backproof` suite that has no test cases.

use std::fmt::Write as _;

use crate::{CaseResult, Report};

pub fn render_junit(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let t = &report.totals;
    let families = report.profile_families();
    // Counted from the cases as rendered: deviated failures are skipped, not failures.
    // (Jenkins' schema has no `skipped` on <testsuites>; each <testsuite> carries it.)
    let mut failures = 0;
    let mut errors = 0;
    for c in &report.cases {
        match kind(report, c) {
            Kind::Failure => failures += 1,
            Kind::Error => errors += 1,
            Kind::Skipped | Kind::Passed => {}
        }
    }
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{}\">",
        attr(&format!("{} {}", report.suite.name, report.suite.version)),
        t.total(),
        seconds(report.timings.wall_ms)
    );

    let timestamp = match junit_timestamp(&report.timings.started_at) {
        Some(t) => format!(" timestamp=\"{t}\""),
        None => String::new(),
    };

    // Run facts and deviations.
    let _ = writeln!(
        out,
        "  <testsuite name=\"backproof\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0\"{timestamp}>"
    );
    out.push_str("    <properties>\n");
    let mut props: Vec<(String, String)> = vec![
        ("suite.name".into(), report.suite.name.clone()),
        ("suite.version".into(), report.suite.version.clone()),
        (
            "suite.vectors_digest".into(),
            report.suite.vectors_digest.clone(),
        ),
        (
            "suite.scenarios_digest".into(),
            report.suite.scenarios_digest.clone(),
        ),
        ("target.server".into(), report.target.server.clone()),
        ("target.client".into(), report.target.client.clone()),
        (
            "target.capabilities".into(),
            report.target.capabilities.join(","),
        ),
        ("stack".into(), report.stack.clone()),
    ];
    for d in &report.deviations {
        props.push((format!("deviation:{}", d.case), d.reason.clone()));
    }
    for (name, value) in props {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            attr(&name),
            attr(&value)
        );
    }
    out.push_str("    </properties>\n  </testsuite>\n");

    if !report.advisories.is_empty() {
        advisories(&mut out, report, &timestamp);
    }

    for (profile, family, cases) in &families {
        let (mut f, mut e, mut s, mut ms) = (0, 0, 0, 0u64);
        for c in cases {
            match kind(report, c) {
                Kind::Failure => f += 1,
                Kind::Error => e += 1,
                Kind::Skipped => s += 1,
                Kind::Passed => {}
            }
            ms += report.timings.cases.get(&c.id).copied().unwrap_or(0);
        }
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" package=\"backproof\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{s}\" time=\"{}\"{timestamp}>",
            attr(&report.group_label(profile, family)),
            cases.len(),
            seconds(ms)
        );
        for c in cases {
            testcase(&mut out, report, c);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Advisories are no tests: a suite of their own with no test cases, one property each
/// (`advisory:<profile>/<id>` = title) and the details in `<system-out>`, so no CI counts
/// them as failures.
fn advisories(out: &mut String, report: &Report, timestamp: &str) {
    let _ = writeln!(
        out,
        "  <testsuite name=\"advisories\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0\"{timestamp}>"
    );
    out.push_str("    <properties>\n");
    for a in &report.advisories {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            attr(&format!("advisory:{}/{}", a.profile, a.id)),
            attr(&a.title)
        );
    }
    out.push_str("    </properties>\n    <system-out>");
    for a in &report.advisories {
        let shown = if a.shown_by.is_empty() {
            "no case of this run".to_string()
        } else {
            a.shown_by.join(", ")
        };
        let measured = match report.kdf_speed_for(a) {
            Some(k) => format!("  {}\n", k.report_line()),
            None => String::new(),
        };
        let _ = write!(
            out,
            "{}",
            text_esc(&format!(
                "[{}] {}: {}\n  {}\n{measured}  shown by: {}\n",
                a.profile, a.id, a.title, a.detail, shown
            ))
        );
    }
    out.push_str("</system-out>\n  </testsuite>\n");
}

enum Kind {
    Passed,
    Failure,
    Error,
    Skipped,
}

fn kind(report: &Report, c: &CaseResult) -> Kind {
    use crate::Outcome::*;
    match c.outcome {
        Pass | PassAcceptable => Kind::Passed,
        Unsupported => Kind::Skipped,
        Fail | Error if report.deviation(&c.id).is_some() => Kind::Skipped,
        Fail => Kind::Failure,
        Error => Kind::Error,
    }
}

fn testcase(out: &mut String, report: &Report, c: &CaseResult) {
    let ms = report.timings.cases.get(&c.id).copied().unwrap_or(0);
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"backproof.{}\" time=\"{}\"",
        attr(&c.id),
        attr(&c.family),
        seconds(ms)
    );
    let body = detail(c);
    let deviation = report.deviation(&c.id);
    match (kind(report, c), deviation) {
        (Kind::Passed, _) if c.reason.is_empty() && deviation.is_none() => {
            out.push_str("/>\n");
            return;
        }
        (Kind::Passed, _) => {
            out.push_str(">\n");
            let mut text = format!("{}: {}\n{body}", c.outcome, c.title);
            if let Some(d) = deviation {
                let _ = writeln!(text, "known deviation (no longer needed): {}", d.reason);
            }
            let _ = writeln!(out, "      <system-out>{}</system-out>", text_esc(&text));
        }
        (Kind::Skipped, Some(d)) => {
            let _ = writeln!(
                out,
                ">\n      <skipped type=\"known-deviation\" message=\"{}\">{}</skipped>",
                attr(&format!("known deviation ({}): {}", c.outcome, d.reason)),
                text_esc(&body)
            );
        }
        (Kind::Skipped, None) => {
            let _ = writeln!(
                out,
                ">\n      <skipped type=\"unsupported\" message=\"{}\">{}</skipped>",
                attr(&format!("unsupported: {}", c.reason)),
                text_esc(&body)
            );
        }
        (Kind::Failure, _) => {
            let _ = writeln!(
                out,
                ">\n      <failure type=\"fail\" message=\"{}\">{}</failure>",
                attr(&format!("expected {}; observed {}", c.expected, c.observed)),
                text_esc(&body)
            );
        }
        (Kind::Error, _) => {
            let _ = writeln!(
                out,
                ">\n      <error type=\"infrastructure\" message=\"{}\">{}</error>",
                attr(&format!("harness error: {}", c.reason)),
                text_esc(&body)
            );
        }
    }
    out.push_str("    </testcase>\n");
}

fn detail(c: &CaseResult) -> String {
    let mut s = format!(
        "{}\nexpected: {}\nobserved: {}\n",
        c.title, c.expected, c.observed
    );
    if !c.reason.is_empty() {
        let _ = writeln!(s, "reason: {}", c.reason);
    }
    s
}

/// JUnit's `timestamp` from the report's `started_at` (RFC 3339 UTC): `YYYY-MM-DDTHH:MM:SS`,
/// the form Jenkins' junit-10.xsd requires (no fraction, no zone; the time is UTC). Anything
/// else — empty, or an older report's `unix:<secs>`, which broke schema validation — leaves
/// the optional attribute out rather than making the whole file invalid.
fn junit_timestamp(started_at: &str) -> Option<&str> {
    let b = started_at.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return None;
    }
    // Only UTC ("Z", optionally after a fraction) can drop its zone without changing the time.
    let rest = &started_at[19..];
    let rest = match rest.strip_prefix('.') {
        Some(f) => f.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    if !matches!(rest, "Z" | "z" | "+00:00") {
        return None;
    }
    let num = |r: std::ops::Range<usize>| started_at[r].parse::<u32>().unwrap_or(u32::MAX);
    let valid = (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
        && num(11..13) <= 23
        && num(14..16) <= 59
        && num(17..19) <= 59;
    valid.then(|| &started_at[..19])
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Escapes for an attribute value. Characters XML 1.0 cannot carry at all (most C0
/// controls) are written as `\u{..}` text instead of being dropped; tab/newline become
/// character references so attribute normalisation keeps them.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => push_legal(&mut out, c),
        }
    }
    out
}

/// Escapes for element text.
fn text_esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\t' => out.push(ch),
            '\r' => out.push_str("&#13;"),
            c => push_legal(&mut out, c),
        }
    }
    out
}

fn push_legal(out: &mut String, c: char) {
    let legal = matches!(c as u32, 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
    if legal {
        out.push(c);
    } else {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::junit_timestamp;

    #[test]
    fn timestamps_are_junit_datetimes_or_absent() {
        assert_eq!(
            junit_timestamp("2026-11-23T14:00:00Z"),
            Some("2026-11-23T14:00:00")
        );
        assert_eq!(
            junit_timestamp("2026-11-23T14:00:00.123Z"),
            Some("2026-11-23T14:00:00")
        );
        assert_eq!(
            junit_timestamp("2026-11-23T14:00:00+00:00"),
            Some("2026-11-23T14:00:00")
        );
        // Another zone would change the time if dropped; what is not a date is left out.
        for bad in [
            "",
            "unix:1795455579",
            "2026-11-23T14:00:00+02:00",
            "2026-11-23T14:00:00",
            "2026-13-23T14:00:00Z",
            "2026-11-23 14:00:00Z",
            "2026-11-23T14:00:00Z<",
        ] {
            assert_eq!(junit_timestamp(bad), None, "{bad}");
        }
    }
}
