//! `backproof run --shard K/N` + `backproof report merge`: four shards of the protocol family,
//! merged, give the report of one unsharded run of it (equal snapshots), and a merge with a
//! shard missing is refused.

use std::collections::BTreeSet;
use std::process::Command;

use backproof_report::{Report, Shard};
use common::{exe, run};

mod common;

#[test]
fn four_shards_merge_into_the_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let whole = run(&dir.path().join("whole"), &["--filter", "protocol/*"]);
    assert_eq!(whole.code, 0, "{}", whole.log());
    let whole_report = whole.report();
    assert!(whole_report.cases.len() >= 8, "{}", whole.log());
    assert_eq!(whole_report.shard, None);

    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    for k in 1..=4 {
        let d = dir.path().join(format!("shard-{k}"));
        let shard = format!("{k}/4");
        let out = run(&d, &["--filter", "protocol/*", "--shard", &shard]);
        assert_eq!(out.code, 0, "{}", out.log());
        let r = out.report();
        assert_eq!(r.shard, Some(Shard::new(k, 4).unwrap()));
        // Each shard runs its round-robin share and nothing else.
        let want = Shard::new(k, 4)
            .unwrap()
            .select(whole_report.cases.iter().map(|c| c.id.as_str()));
        let got: Vec<&str> = r.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(got, want, "shard {shard}");
        for c in &r.cases {
            assert!(seen.insert(c.id.clone()), "{} ran twice", c.id);
            assert!(r.timings.cases.contains_key(&c.id), "{} has no time", c.id);
        }
        files.push(d.join("report.json"));
    }

    let merged_path = dir.path().join("merged/report.json");
    let out = Command::new(exe())
        .args(["report", "merge"])
        .args(&files)
        .arg("-o")
        .arg(&merged_path)
        .output()
        .unwrap();
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{log}");
    let merged = Report::load(&merged_path).unwrap();
    assert_eq!(
        merged.snapshot_json(),
        whole_report.snapshot_json(),
        "{log}"
    );
    // Written like a run: the renderings next to the JSON.
    for name in ["report.md", "junit.xml", "report.html"] {
        assert!(merged_path.with_file_name(name).is_file(), "{name}: {log}");
    }

    // Shard 3 lost: refused, exit 2, saying which.
    let out = Command::new(exe())
        .args(["report", "merge"])
        .args([&files[0], &files[1], &files[3]])
        .arg("-o")
        .arg(dir.path().join("partial/report.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("3/4"), "{stderr}");
    assert!(!dir.path().join("partial/report.json").exists());
}

#[test]
fn a_bad_shard_is_refused_before_anything_starts() {
    for bad in ["0/4", "5/4", "2", "x/4"] {
        let out = Command::new(exe())
            .args(["run", "--shard", bad, "--list"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("K/N"), "{bad}: {stderr}");
    }
}
