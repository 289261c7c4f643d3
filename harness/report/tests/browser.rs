//! The HTML report in a real browser (headless Chromium): after its scripts ran, the grid
//! holds one cell per (implementation, case) with the right outcome counts, and a URL
//! ending in `#case=<id>&report=<n>` opens that case's detail with expected vs observed.
//! The screenshot is kept under target/ (CARGO_TARGET_TMPDIR/report-html/).
//!
//! Skips with a printed reason only when Chromium is not installed (`apt-get install -y
//! chromium`); with BACKPROOF_REQUIRE_TOOLS=1 a missing Chromium fails the test instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backproof_report::{Outcome, render_html};
use common::*;

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new(name).arg("--version").output()
            && out.status.success()
        {
            return Some(PathBuf::from(name));
        }
    }
    None
}

/// Runs headless Chromium with `args` + `url`, bounded in time; returns stdout.
fn run_chromium(bin: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap()
}

/// The opening tag of the first element whose tag starts with `start`.
fn opening_tag<'a>(dom: &'a str, start: &str) -> &'a str {
    let i = dom
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in the DOM"));
    let end = i + dom[i..].find('>').unwrap();
    &dom[i..=end]
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    Some(tag[i..i + tag[i..].find('"')?].to_string())
}

#[test]
fn html_report_renders_grid_and_failing_detail_in_chromium() {
    let Some(bin) = chromium() else {
        let msg = "chromium not installed (apt-get install -y chromium); skipping the browser test";
        if std::env::var("BACKPROOF_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
            panic!("{msg} — but BACKPROOF_REQUIRE_TOOLS=1");
        }
        eprintln!("SKIPPED: {msg}");
        return;
    };
    let reports = [
        large_report("reference", false),
        large_report("acme-backup 2.3", true),
    ];
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-html");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("matrix.html");
    std::fs::write(&page, render_html(&reports)).unwrap();
    let profile = tempfile::tempdir().unwrap();

    let url = format!("file://{}#case={FAILING_ID_LARGE}&report=1", page.display());
    let dom = run_chromium(&bin, profile.path(), &["--dump-dom".into()], &url);

    assert_eq!(
        attr(opening_tag(&dom, "<body"), "data-ready").as_deref(),
        Some("1"),
        "the script ran to its end"
    );

    // Counts the script found in the DOM = the models' totals over both reports.
    let counts = opening_tag(&dom, "<p id=\"dom-counts\"");
    for o in Outcome::ALL {
        let want: u32 = reports.iter().map(|r| r.totals.get(o)).sum();
        assert_eq!(
            attr(counts, &format!("data-{o}")),
            Some(want.to_string()),
            "grid cells with outcome {o}: {counts}"
        );
    }
    assert_eq!(attr(counts, "data-missing").as_deref(), Some("0"));
    assert!(
        reports[1].totals.fail >= 3,
        "the faulty implementation has failures to show"
    );

    // The failing cell's detail is open, for the right implementation, with what was expected and seen.
    let aside = opening_tag(&dom, "<aside id=\"detail\"");
    assert!(!aside.contains(" hidden"), "detail panel is open: {aside}");
    assert_eq!(attr(aside, "data-case").as_deref(), Some(FAILING_ID_LARGE));
    assert_eq!(attr(aside, "data-report").as_deref(), Some("1"));
    let detail = &dom[dom.find("<aside id=\"detail\"").unwrap()..];
    let detail = &detail[..detail.find("</aside>").unwrap()];
    assert!(
        detail.contains(&format!(
            "<pre class=\"v-expected\">{FAILING_EXPECTED}</pre>"
        )),
        "{detail}"
    );
    assert!(
        detail.contains(&format!(
            "<pre class=\"v-observed\">{FAILING_OBSERVED}</pre>"
        )),
        "{detail}"
    );
    assert!(
        detail.contains("<span class=\"badge o-fail\">fail</span>"),
        "{detail}"
    );
    assert!(
        detail.contains("acme-backup 2.3"),
        "names the implementation: {detail}"
    );
    // The selected cell is highlighted in the grid.
    let selected = dom.matches("selected").count();
    assert!(selected >= 1, "a cell is marked selected");

    // Without a fragment, no detail is open.
    let plain = run_chromium(
        &bin,
        profile.path(),
        &["--dump-dom".into()],
        &format!("file://{}", page.display()),
    );
    assert!(opening_tag(&plain, "<aside id=\"detail\"").contains(" hidden"));

    // Screenshot kept as an artifact.
    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &bin,
        profile.path(),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,900".into(),
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "a real PNG ({} bytes)",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}
