//! What the `backproof run` integration tests share: the binary, the source tree, one run
//! and what it left behind, and the rule for tools a test needs from the machine.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use backproof_report::{Outcome, Report};
use serde_json::Value;

pub mod url_server;

pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_backproof")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the source tree")
}

/// The binary's path quoted for a `sh -c` command line (`--server-cmd`, `--client-adapter`).
pub fn quoted_exe() -> String {
    format!("'{}'", exe().replace('\'', "'\\''"))
}

/// Whether a tool the test needs is here (`probe` succeeds). Without it the test says so
/// and passes — unless BACKPROOF_REQUIRE_TOOLS=1 (.ci/run installs every tool), which makes
/// a missing tool a failure.
pub fn tool_available(probe: &mut Command, what: &str) -> bool {
    if probe.output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    assert!(
        std::env::var("BACKPROOF_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "{what} is missing and BACKPROOF_REQUIRE_TOOLS=1"
    );
    eprintln!("SKIPPED: {what} is missing");
    false
}

/// What one `backproof run` left behind.
pub struct RunOut {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
}

impl RunOut {
    pub fn log(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    pub fn report(&self) -> Report {
        let text = std::fs::read_to_string(self.dir.join("report.json"))
            .unwrap_or_else(|e| panic!("no report.json ({e})\n{}", self.log()));
        Report::from_json_str(&text, "report.json").expect("a valid report")
    }

    pub fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap_or_else(|e| panic!("no {name} ({e})\n{}", self.log()))
    }

    /// Case ids with this outcome, in report order.
    pub fn ids(&self, outcome: Outcome) -> Vec<String> {
        self.report()
            .cases
            .iter()
            .filter(|c| c.outcome == outcome)
            .map(|c| c.id.clone())
            .collect()
    }

    /// Every failing case (fail or error) with what was expected and observed.
    pub fn failures(&self) -> Vec<String> {
        self.report()
            .cases
            .iter()
            .filter(|c| c.outcome.is_failing())
            .map(|c| {
                format!(
                    "{} {:?}: expected {}; observed {}; {}",
                    c.id, c.outcome, c.expected, c.observed, c.reason
                )
            })
            .collect()
    }
}

/// `backproof run --quiet --scenarios … --vectors … --report <dir>/report.json ARGS`, run
/// from the source tree (relative adapter paths resolve there).
pub fn run(dir: &Path, args: &[&str]) -> RunOut {
    let started = Instant::now();
    let out = Command::new(exe())
        .current_dir(root())
        .arg("run")
        .arg("--quiet")
        .arg("--scenarios")
        .arg(root().join("scenarios"))
        .arg("--vectors")
        .arg(root().join("vectors"))
        .arg("--report")
        .arg(dir.join("report.json"))
        .args(args)
        // The run's own log filter is part of what the tests check.
        .env_remove("RUST_LOG")
        .output()
        .expect("backproof runs");
    eprintln!("backproof run {args:?}: {:?}", started.elapsed());
    RunOut {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        dir: dir.to_path_buf(),
    }
}

/// Every test of a profile's vector file `vectors/<profile>/<profile>.json`, group after
/// group, read from the committed file (not from the generator the test judges).
pub fn profile_vectors(profile: &str) -> Vec<Value> {
    let path = root().join(format!("vectors/{profile}/{profile}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap().clone())
        .collect()
}

/// The case ids (`<profile>/vectors/<profile>/<tcId>`) of the vectors `pick` selects, in
/// file order.
pub fn profile_vector_ids(profile: &str, pick: impl Fn(&Value) -> bool) -> Vec<String> {
    profile_vectors(profile)
        .iter()
        .filter(|t| pick(t))
        .map(|t| format!("{profile}/vectors/{profile}/{}", t["tcId"]))
        .collect()
}

/// The ids (`<profile>/<family>/<name>`) of a profile's store scenarios, from the files
/// under `scenarios/<profile>/<family>/`, sorted.
pub fn profile_scenario_ids(profile: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for family in std::fs::read_dir(root().join("scenarios").join(profile)).unwrap() {
        let family = family.unwrap().path();
        for f in std::fs::read_dir(&family).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|x| x == "toml") {
                ids.push(format!(
                    "{profile}/{}/{}",
                    family.file_name().unwrap().to_string_lossy(),
                    f.file_stem().unwrap().to_string_lossy()
                ));
            }
        }
    }
    ids.sort();
    ids
}
