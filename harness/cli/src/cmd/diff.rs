//! `backproof diff`: compare two reports.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use backproof_report::Report;

/// Compare two report JSON files: regressions (pass or pass-acceptable → fail or error),
/// fixes, other outcome changes, new and removed cases.
///
/// Exit code: 1 when there is at least one regression, 0 otherwise, 2 when a file cannot
/// be read. Example: backproof diff reports/reference.json report.json
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit code: 1 when at least one case regressed (pass or pass-acceptable → fail or error), 0 otherwise, 2 when a file cannot be read.\nExample: backproof diff reports/reference.json report.json"
)]
pub struct Args {
    /// The earlier report (e.g. the committed baseline).
    old: PathBuf,
    /// The later report.
    new: PathBuf,
    /// Output format: text for a terminal, md for a CI step summary, json for tools.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Md,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let old = Report::load(&args.old).context("loading the old report")?;
    let new = Report::load(&args.new).context("loading the new report")?;
    let diff = backproof_report::diff(&old, &new);
    let text = match args.format {
        Format::Text => diff.render_text(),
        Format::Md => diff.render_markdown(),
        Format::Json => diff.to_json(),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to stdout")?;
    Ok(if diff.has_regressions() {
        crate::exit::FAILED
    } else {
        crate::exit::OK
    })
}
