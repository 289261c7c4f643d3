//! `backproof report`: render report JSON files (written by `backproof run`) as Markdown,
//! JUnit XML or one HTML page; all renderings come from the same model.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use backproof_report::Report;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Markdown for a CI step summary: totals, failures first (expected vs observed),
    /// known deviations, a table per family.
    ///
    /// Example: backproof report md report.json >> "$GITHUB_STEP_SUMMARY"
    Md {
        /// A report JSON written by `backproof run` (or a snapshot like reports/reference.json).
        file: PathBuf,
    },
    /// JUnit XML: one testsuite per family, one testcase per case; fail → failure,
    /// error → error, unsupported and known deviations → skipped.
    Junit {
        /// A report JSON written by `backproof run`.
        file: PathBuf,
    },
    /// One self-contained HTML page (no network). Several files are put side by side,
    /// one column per implementation: backproof report html a.json b.json > matrix.html
    Html {
        /// One or more report JSON files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The full report as pretty JSON, or with --snapshot only its deterministic part
    /// (what reports/reference.json keeps). Also checks that the file is a valid report.
    Json {
        file: PathBuf,
        /// Print only the deterministic part (no timings; cases sorted by id).
        #[arg(long)]
        snapshot: bool,
    },
}

fn load(path: &std::path::Path) -> anyhow::Result<Report> {
    // The error names the file and what is wrong with it; nothing to add.
    Ok(Report::load(path)?)
}

pub fn run(command: Command) -> anyhow::Result<u8> {
    let text = match command {
        Command::Md { file } => backproof_report::render_markdown(&load(&file)?),
        Command::Junit { file } => backproof_report::render_junit(&load(&file)?),
        Command::Html { files } => {
            let reports = files
                .iter()
                .map(PathBuf::as_path)
                .map(load)
                .collect::<anyhow::Result<Vec<_>>>()?;
            backproof_report::render_html(&reports)
        }
        Command::Json { file, snapshot } => {
            let report = load(&file)?;
            if snapshot {
                report.snapshot_json()
            } else {
                report.to_json()
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to stdout")?;
    Ok(crate::exit::OK)
}
