//! `backproof report`: render report JSON files (written by `backproof run`) as Markdown,
//! JUnit XML or one HTML page; all renderings come from the same model. `merge` joins the
//! reports of `backproof run --shard K/N` into one.

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
    /// Join the reports of `backproof run --shard 1/N` … `--shard N/N` into the report of
    /// the whole run (same cases, same totals, same snapshot), and write it with its
    /// renderings like `backproof run` does.
    ///
    /// Refuses reports of different suites, targets or stacks, a missing or repeated shard,
    /// and a case present twice. Reports of disjoint whole runs (different --filter) can be
    /// joined too. Exit 0 merged (whatever the cases' outcomes: each shard's exit code is
    /// the gate for its cases), 2 cannot merge. Example:
    ///   backproof report merge shard-*/report.json -o out/report.json
    Merge {
        /// The report JSON of every shard.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where the merged JSON goes; report.md, junit.xml and report.html are written in
        /// the same directory.
        #[arg(
            short,
            long,
            value_name = "FILE",
            default_value = "reports/latest/report.json"
        )]
        output: PathBuf,
    },
}

fn load(path: &std::path::Path) -> anyhow::Result<Report> {
    // The error names the file and what is wrong with it; nothing to add.
    Ok(Report::load(path)?)
}

pub fn run(command: Command) -> anyhow::Result<u8> {
    let text = match command {
        Command::Merge { files, output } => return merge(&files, &output),
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

/// `backproof report merge`: exit 0 when the reports were merged, 2 when they cannot be.
/// Not 1 for failing cases: each shard's own exit code already applied the gate (baseline,
/// deviations) to its cases, and the gate judges case by case, so the shards' verdicts
/// together are the whole run's.
fn merge(files: &[PathBuf], output: &std::path::Path) -> anyhow::Result<u8> {
    let reports = files
        .iter()
        .map(|f| Ok((f.display().to_string(), load(f)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let merged = backproof_report::merge(&reports)?;
    let outputs = super::run::output_paths(output)?;
    super::run::write_all(&merged, &outputs)?;
    let t = &merged.totals;
    println!(
        "merged {} reports: {} cases, {} passed, {} failed, {} unsupported{}",
        reports.len(),
        merged.cases.len(),
        t.pass + t.pass_acceptable,
        t.fail,
        t.unsupported,
        if t.error > 0 {
            format!(", {} errors", t.error)
        } else {
            String::new()
        },
    );
    for p in &outputs {
        println!("wrote {}", p.display());
    }
    Ok(crate::exit::OK)
}
