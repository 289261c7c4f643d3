//! The Nix flake stays in step with what README.md and .ci/run rely on.
//!
//! No Nix binary cache is reachable from CI, so the flake cannot be built here: this test
//! checks its text (the devShell's tool list, the pins in flake.lock) and, when `nix-instantiate`
//! is on PATH (Debian's `nix-bin`), that flake.nix parses.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// The `devTools = pkgs: [ … ];` list of flake.nix (the devShell's packages).
fn dev_tools(flake: &str) -> String {
    let start = flake
        .find("devTools = pkgs:")
        .expect("flake.nix defines devTools");
    let rest = &flake[start..];
    let end = rest
        .find("];\n      backproofFor")
        .expect("devTools list ends before backproofFor");
    rest[..end].to_owned()
}

#[test]
fn dev_shell_covers_what_readme_and_ci_rely_on() {
    let flake = read("flake.nix");
    let tools = dev_tools(&flake);
    assert!(
        flake.contains("packages = devTools pkgs;"),
        "the devShell uses devTools"
    );
    // Always required.
    let mut required: Vec<(&str, &str)> = vec![
        ("Rust 1.95", "rust-bin.stable.\"1.95.0\""),
        ("cargo-nextest", "pkgs.cargo-nextest"),
        ("cargo-insta", "pkgs.cargo-insta"),
        ("postgresql", "pkgs.postgresql_15"),
        ("minio", "pkgs.minio"),
        ("minio-client", "pkgs.minio-client"),
        ("argon2", "pkgs.libargon2"),
        ("openssl", "pkgs.openssl"),
        ("python3", "pythonFor pkgs"),
        ("nodejs", "pkgs.nodejs"),
    ];
    // What the README and .ci/run mention: each mention needs its package.
    let docs = read("README.md") + &read(".ci/run");
    for (mention, package) in [
        ("initdb", "pkgs.postgresql_15"),
        ("npm", "pkgs.nodejs"),
        ("node", "pkgs.nodejs"),
        ("chromium", "pkgs.chromium"),
        ("xmllint", "pkgs.libxml2"),
        ("nextest", "pkgs.cargo-nextest"),
        ("insta", "pkgs.cargo-insta"),
        ("openssl", "pkgs.openssl"),
        ("minio", "pkgs.minio"),
        ("python3", "pythonFor pkgs"),
    ] {
        if docs.contains(mention) {
            required.push((mention, package));
        }
    }
    let rust_line = flake
        .lines()
        .find(|l| l.contains("rustFor = pkgs:"))
        .expect("rustFor");
    for (what, package) in required {
        let present = if package.starts_with("rust-bin") {
            rust_line.contains(package) && tools.contains("(rustFor pkgs)")
        } else {
            tools.contains(package)
        };
        assert!(present, "the devShell lacks {package} (for {what})");
    }
    // The Python packages the crosscheck and the Python adapter import.
    let python_line = flake
        .lines()
        .find(|l| l.contains("pythonFor = pkgs:"))
        .expect("pythonFor");
    let requirements = read("ci/crosscheck/requirements.txt");
    for (pip_name, nix_name) in [
        ("cryptography", "ps.cryptography"),
        ("argon2-cffi", "ps.argon2-cffi"),
    ] {
        assert!(python_line.contains(nix_name), "python3 lacks {nix_name}");
        assert!(
            requirements.to_lowercase().contains(pip_name),
            "ci/crosscheck/requirements.txt no longer names {pip_name}: update this test and the flake"
        );
    }
    // The package builds from the lock file, and there is an app and a check.
    for needle in [
        "cargoLock.lockFile = ./Cargo.lock",
        "buildRustPackage",
        "apps = forAllSystems",
        "checks = forAllSystems",
        "devShells = forAllSystems",
    ] {
        assert!(flake.contains(needle), "flake.nix lacks {needle}");
    }
}

#[test]
fn lock_pins_match_the_documented_inputs() {
    let lock: serde_json::Value =
        serde_json::from_str(&read("flake.lock")).expect("flake.lock is JSON");
    assert_eq!(lock["version"], 7);
    assert_eq!(lock["root"], "root");
    let nixpkgs = &lock["nodes"]["nixpkgs"]["locked"];
    assert_eq!(nixpkgs["rev"], "e2587caef70cea85dd97d7daab492899902dbf5d");
    assert_eq!(
        nixpkgs["narHash"],
        "sha256-wWFrV5/Qbm+lyt5x20E/bSbfJiGKMo4RCxZV8cl/WZI="
    );
    assert_eq!(nixpkgs["lastModified"], 1_784_796_856u64);
    let overlay = &lock["nodes"]["rust-overlay"];
    assert_eq!(
        overlay["locked"]["rev"],
        "471286a5fadc690e2408ad854eb32325f5e74da7"
    );
    assert_eq!(
        overlay["locked"]["narHash"],
        "sha256-ZaS89rj5u6pygXKDRfCzPMGm7isJxLsSeIAR5EaSyu8="
    );
    assert_eq!(overlay["locked"]["lastModified"], 1_784_870_759u64);
    // rust-overlay's nixpkgs follows the root's, as flake.nix declares.
    assert_eq!(overlay["inputs"]["nixpkgs"], serde_json::json!(["nixpkgs"]));
    assert!(read("flake.nix").contains("inputs.nixpkgs.follows = \"nixpkgs\""));
    let root_inputs = &lock["nodes"]["root"]["inputs"];
    assert_eq!(root_inputs["nixpkgs"], "nixpkgs");
    assert_eq!(root_inputs["rust-overlay"], "rust-overlay");
}

/// One Nix command at a time: the first one on a fresh machine creates /nix/var/nix
/// (gcroots, profiles), and two doing that at once fail with "File exists".
static NIX: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `nix-instantiate` (Debian's `nix-bin`; .ci/run installs it) with the lock that must be
/// held while it runs, or None with a note. With BACKPROOF_REQUIRE_TOOLS=1 a missing Nix
/// fails the test instead.
fn nix_instantiate() -> Option<(std::sync::MutexGuard<'static, ()>, Command)> {
    let guard = NIX.lock().unwrap_or_else(|p| p.into_inner());
    let found = Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("BACKPROOF_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "nix-instantiate is missing (apt-get install nix-bin) and BACKPROOF_REQUIRE_TOOLS=1"
        );
        println!(
            "note: nix-instantiate is not on PATH (apt-get install nix-bin); flake.nix parse and \
             evaluation checks skipped, the tool-list and lock checks still ran"
        );
        return None;
    }
    Some((guard, Command::new("nix-instantiate")))
}

#[test]
fn flake_parses() {
    let Some((_nix_lock, mut nix)) = nix_instantiate() else {
        return;
    };
    let out = nix
        .arg("--parse")
        .arg(repo().join("flake.nix"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nix-instantiate --parse flake.nix failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Evaluates the flake's outputs against stub inputs (tests/nix/eval.nix): this catches
/// what parsing cannot — an undefined name, a wrong argument, a devShell list that differs
/// by platform — without a Nix store, a cache or the network. What the stubs cannot check
/// (that the attributes exist at the pinned nixpkgs, the vendored build) is listed in
/// docs/ARCHITECTURE.md.
#[test]
fn flake_outputs_evaluate() {
    let Some((_nix_lock, mut nix)) = nix_instantiate() else {
        return;
    };
    let out = nix
        .args(["--eval", "--strict", "--json"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nix/eval.nix"))
        .arg("--arg")
        .arg("flake")
        .arg(repo().join("flake.nix").canonicalize().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "evaluating flake.nix failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from nix");
    let list = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap_or_else(|| panic!("{k} in {v}"))
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(list("outputs"), ["apps", "checks", "devShells", "packages"]);
    assert_eq!(
        list("systems"),
        [
            "aarch64-darwin",
            "aarch64-linux",
            "x86_64-darwin",
            "x86_64-linux"
        ]
    );
    let shell = list("devShell");
    for tool in [
        "rust-1.95.0",
        "cargo-nextest",
        "cargo-insta",
        "postgresql_15",
        "minio",
        "minio-client",
        "libargon2",
        "openssl",
        "python3",
        "nodejs",
        "chromium",
        "libxml2",
    ] {
        assert!(
            shell.iter().any(|t| t == tool),
            "devShell lacks {tool}: {shell:?}"
        );
    }
    // Chromium and libxml2 are Linux-only in nixpkgs; everything else is everywhere.
    let darwin = list("devShellDarwin");
    assert!(!darwin.iter().any(|t| t == "chromium"), "{darwin:?}");
    assert_eq!(darwin.len() + 2, shell.len(), "{darwin:?} vs {shell:?}");
    assert_eq!(list("python"), ["cryptography", "argon2-cffi"]);
    for ext in ["rustfmt", "clippy"] {
        assert!(list("rustExtensions").iter().any(|e| e == ext));
    }
    assert_eq!(
        v["package"],
        format!("backproof-{}", env!("CARGO_PKG_VERSION")),
        "flake.nix's version follows the workspace's"
    );
    assert!(
        v["cargoLock"].as_str().unwrap().ends_with("/Cargo.lock"),
        "{}",
        v["cargoLock"]
    );
    // The sandboxed check runs the README's test command.
    assert_eq!(list("cargoTestFlags"), ["--workspace", "--all-features"]);
    assert!(
        v["app"].as_str().unwrap().ends_with("/bin/backproof"),
        "{}",
        v["app"]
    );
    assert_eq!(list("checks"), ["build", "fmt"]);
}
