//! Markdown sized for a CI step summary (GitHub's `$GITHUB_STEP_SUMMARY` takes at most
//! 1 MiB): verdict and totals, failures first with expected vs observed, known
//! deviations, then one collapsible table per family.

use std::fmt::Write as _;

use crate::{CaseResult, Outcome, Report};

/// GitHub rejects step summaries above 1 MiB; stay well below so that a diff can follow.
const MAX_BYTES: usize = 900 * 1024;

pub fn render_markdown(report: &Report) -> String {
    let full = render(report, true);
    if full.len() <= MAX_BYTES {
        return full;
    }
    // Passing rows are the bulk (hundreds of vectors); failures and deviations always stay.
    render(report, false)
}

fn render(report: &Report, passing_rows: bool) -> String {
    let mut out = String::new();
    let t = &report.totals;
    let unexcused = report.unexcused_failures();
    let verdict = if unexcused.is_empty() {
        if t.fail + t.error > 0 {
            "✅ no failures beyond known deviations".to_string()
        } else {
            "✅ all cases passed".to_string()
        }
    } else {
        format!("❌ {} failing case(s)", unexcused.len())
    };
    let _ = writeln!(out, "## backproof conformance: {verdict}\n");
    let _ = writeln!(
        out,
        "**server** {} · **client** {} · **stack** {} · **suite** {} {} (vectors `{}`, scenarios `{}`)\n",
        esc(&report.target.server),
        esc(&report.target.client),
        esc(&report.stack),
        esc(&report.suite.name),
        esc(&report.suite.version),
        esc(short(&report.suite.vectors_digest)),
        esc(short(&report.suite.scenarios_digest)),
    );
    if !report.target.capabilities.is_empty() {
        let caps: Vec<String> = report.target.capabilities.iter().map(|c| esc(c)).collect();
        let _ = writeln!(out, "**capabilities** {}\n", caps.join(", "));
    }
    out.push_str(
        "| ✅ pass | 🟢 pass-acceptable | ❌ fail | ⚪ unsupported | ⚠️ error | total |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} |\n",
        t.pass,
        t.pass_acceptable,
        t.fail,
        t.unsupported,
        t.error,
        t.total()
    );

    if !unexcused.is_empty() {
        out.push_str("### Failures\n\n");
        for c in &unexcused {
            case_block(&mut out, c);
        }
    }

    if !report.deviations.is_empty() {
        out.push_str("### Known deviations\n\n");
        out.push_str("| case | outcome | reason | expected | observed |\n|---|---|---|---|---|\n");
        for d in &report.deviations {
            let (outcome, expected, observed) = match report.case(&d.case) {
                Some(c) => (
                    c.outcome.to_string(),
                    c.expected.as_str(),
                    c.observed.as_str(),
                ),
                None => ("not in this run".to_string(), "", ""),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                esc(&d.case),
                outcome,
                esc(&d.reason),
                esc(expected),
                esc(observed)
            );
        }
        out.push('\n');
        let stale = report.stale_deviations();
        if !stale.is_empty() {
            // Listed, never dropped: a stale entry should be deleted from the file.
            out.push_str("Stale deviations (delete them from the deviations file):\n\n");
            for (d, why) in stale {
                let _ = writeln!(out, "- {}: {}", esc(&d.case), esc(why));
            }
            out.push('\n');
        }
    }

    if !report.advisories.is_empty() {
        advisories(&mut out, report);
    }

    for (profile, family, cases) in report.profile_families() {
        let mut counts = crate::Totals::default();
        for c in &cases {
            counts.add(c.outcome);
        }
        let summary: Vec<String> = Outcome::ALL
            .into_iter()
            .filter(|o| counts.get(*o) > 0)
            .map(|o| format!("{} {}", counts.get(o), o))
            .collect();
        let open = if counts.fail + counts.error > 0 {
            " open"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<details{open}><summary><b>{}</b> — {}</summary>\n",
            html_esc(&report.group_label(&profile, &family)),
            summary.join(", ")
        );
        out.push_str("| case | outcome | expected | observed | reason |\n|---|---|---|---|---|\n");
        let mut omitted = 0;
        for c in &cases {
            if !passing_rows && c.outcome.is_passing() && report.deviation(&c.id).is_none() {
                omitted += 1;
                continue;
            }
            let dev = match report.deviation(&c.id) {
                Some(d) => format!(" (known deviation: {})", esc(&d.reason)),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "| {} | {} {}{} | {} | {} | {} |",
                esc(&c.id),
                icon(c.outcome),
                c.outcome,
                dev,
                esc(&c.expected),
                esc(&c.observed),
                esc(&c.reason)
            );
        }
        if omitted > 0 {
            let _ = writeln!(
                out,
                "\n{omitted} passing case(s) left out to fit a step summary; report.html and report.json have them."
            );
        }
        out.push_str("\n</details>\n\n");
    }
    out
}

/// Advisories: known weaknesses of a conformant design, never failures.
fn advisories(out: &mut String, report: &Report) {
    out.push_str("### Advisories\n\n");
    out.push_str("Known weaknesses of the designs checked; not failures (the cases passed).\n\n");
    out.push_str("| profile | advisory | what | shown by |\n|---|---|---|---|\n");
    for a in &report.advisories {
        let shown = if a.shown_by.is_empty() {
            "no case of this run".to_string()
        } else {
            a.shown_by
                .iter()
                .map(|c| esc(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let measured = match report.kdf_speed_for(a) {
            Some(k) => format!("<br>*{}*", esc(&k.report_line())),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | **{}**: {}{} | {} |",
            esc(&a.profile),
            a.id.replace('`', ""),
            esc(&a.title),
            esc(&a.detail),
            measured,
            shown
        );
    }
    out.push('\n');
}

fn case_block(out: &mut String, c: &CaseResult) {
    let _ = writeln!(
        out,
        "- {} **{}** ({}) {}: {}",
        icon(c.outcome),
        esc(&c.id),
        esc(&c.family),
        c.outcome,
        esc(&c.title)
    );
    let _ = writeln!(out, "  - expected: {}", esc(&c.expected));
    let _ = writeln!(out, "  - observed: {}", esc(&c.observed));
    if !c.reason.is_empty() {
        let _ = writeln!(out, "  - reason: {}", esc(&c.reason));
    }
    out.push('\n');
}

pub(crate) fn icon(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "✅",
        Outcome::PassAcceptable => "🟢",
        Outcome::Fail => "❌",
        Outcome::Unsupported => "⚪",
        Outcome::Error => "⚠️",
    }
}

fn short(digest: &str) -> &str {
    match digest.char_indices().nth(12) {
        Some((i, _)) => &digest[..i],
        None => digest,
    }
}

/// Makes arbitrary text inert inside a Markdown table cell or list item: Markdown
/// punctuation is backslash-escaped (`\|` is GFM's escape for a pipe in a table), HTML is
/// neutralised, and line breaks become `<br>` so a row stays one line.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(ch);
            }
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn html_esc(s: &str) -> String {
    crate::html::escape(s)
}
