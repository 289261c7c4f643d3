//! Secrets never leave the client: a canary run (docs/CLIENT.md, "Secrets in memory and in
//! logs").
//!
//! The wrong-passphrase, conflict and mid-rotation-crash cases run with every ASCII
//! passphrase and raw key of their scenario files replaced by a recognisable canary, against
//! the reference server started by command (so its auth secret and every token it mints are
//! recorded), with `RUST_LOG=debug` for the run, the server and the adapter. Afterwards
//! every log line, every report file and every row of every database of the run's Postgres
//! cluster (`pg_dump --data-only`) is searched for each canary in raw, hex (either case)
//! and base64 (standard and URL-safe, at the three byte alignments) form: none may appear.
//! `the_scan_finds_a_planted_canary_in_every_form` proves the search can fail.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{exe, quoted_exe, root};

mod common;

const FAMILIES: [&str; 3] = ["wrong-passphrase", "conflict", "mid-rotation-crash"];

/// Which cases run: the three families without the load cases (the stress writers add
/// minutes and carry the same secrets as the cases kept).
const FILTER: &str = "{wrong-passphrase/*,conflict/[!s]*,conflict/stale-*,\
                      mid-rotation-crash/lost-*,mid-rotation-crash/rotate-twice-idempotent,\
                      mid-rotation-crash/client-killed-then-restarted,\
                      mid-rotation-crash/server-503-retry,mid-rotation-crash/storage-503-retry}";

// ---------------------------------------------------------------------------------------
// The search

/// One secret and the spellings it must not appear in.
struct Canary {
    what: String,
    forms: Vec<(String, Vec<u8>)>,
}

const B64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize]);
        }
    }
    out
}

/// The base64 characters that depend on `bytes` alone when they start `k` bytes into a
/// longer encoded run: what any base64 text containing them must contain.
fn base64_core(bytes: &[u8], k: usize, alphabet: &[u8; 64]) -> Vec<u8> {
    let mut padded = vec![0u8; k];
    padded.extend_from_slice(bytes);
    let enc = base64(&padded, alphabet);
    let start = (8 * k).div_ceil(6);
    let end = (8 * (k + bytes.len())) / 6;
    enc[start..end.min(enc.len())].to_vec()
}

impl Canary {
    fn new(what: &str, bytes: &[u8]) -> Canary {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut forms = vec![
            ("raw".to_string(), bytes.to_vec()),
            ("hex".to_string(), hex.clone().into_bytes()),
            ("HEX".to_string(), hex.to_uppercase().into_bytes()),
        ];
        for k in 0..3 {
            forms.push((format!("base64@{k}"), base64_core(bytes, k, B64_STD)));
            forms.push((format!("base64url@{k}"), base64_core(bytes, k, B64_URL)));
        }
        forms.dedup_by(|a, b| a.1 == b.1);
        Canary {
            what: what.to_string(),
            forms,
        }
    }
}

/// Every (canary, form) found in `haystack`, named for the report.
fn hits(haystack: &[u8], canaries: &[Canary]) -> Vec<String> {
    let mut found = Vec::new();
    for c in canaries {
        for (form, needle) in &c.forms {
            if haystack
                .windows(needle.len())
                .any(|w| w == needle.as_slice())
            {
                found.push(format!("{} ({form})", c.what));
            }
        }
    }
    found
}

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Hits in every file under `dir`, each with the file's path.
fn scan_dir(dir: &Path, canaries: &[Canary]) -> Vec<String> {
    let mut paths = Vec::new();
    files(dir, &mut paths);
    let mut found = Vec::new();
    for p in paths {
        let bytes = std::fs::read(&p).unwrap_or_default();
        for h in hits(&bytes, canaries) {
            found.push(format!("{}: {h}", p.display()));
        }
    }
    found
}

#[test]
fn the_scan_finds_a_planted_canary_in_every_form() {
    let secret = b"canary-planted-passphrase";
    let canaries = [Canary::new("planted", secret)];
    let dir = tempfile::tempdir().unwrap();
    assert!(scan_dir(dir.path(), &canaries).is_empty());
    std::fs::write(dir.path().join("clean.log"), "nothing to see here\n").unwrap();
    assert!(scan_dir(dir.path(), &canaries).is_empty());

    // Raw, in a log line.
    std::fs::write(
        dir.path().join("raw.log"),
        "DEBUG passphrase=canary-planted-passphrase\n",
    )
    .unwrap();
    // Hex and base64 inside longer encodings, at every alignment.
    let hex: String = secret.iter().map(|b| format!("{b:02X}")).collect();
    std::fs::write(dir.path().join("hex.txt"), format!("\\x00{hex}ff")).unwrap();
    for k in 0..3 {
        let mut wrapped = b"xyz"[..k].to_vec();
        wrapped.extend_from_slice(secret);
        wrapped.extend_from_slice(b"tail");
        let enc = base64(&wrapped, B64_URL);
        std::fs::write(dir.path().join(format!("b64-{k}.json")), enc).unwrap();
    }
    let found = scan_dir(dir.path(), &canaries);
    let joined = found.join("\n");
    for file in [
        "raw.log",
        "hex.txt",
        "b64-0.json",
        "b64-1.json",
        "b64-2.json",
    ] {
        assert!(joined.contains(file), "{file} not flagged:\n{joined}");
    }
    assert!(!joined.contains("clean.log"), "{joined}");
    assert!(
        joined.contains("(raw)") && joined.contains("(HEX)"),
        "{joined}"
    );
    // This secret's base64 has no `+/-_`, so the standard and URL-safe forms coincide.
    for k in 0..3 {
        assert!(joined.contains(&format!("(base64@{k})")), "{joined}");
    }
}

// ---------------------------------------------------------------------------------------
// Canary scenarios

/// Replaces the value of every `name = "..."` whose value passes `take` by its mapping.
fn substitute(
    text: &str,
    name: &str,
    take: impl Fn(&str) -> bool,
    map: &mut impl FnMut(&str) -> String,
) -> String {
    let pat = format!("{name} = \"");
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(&pat) {
        let start = i + pat.len();
        let end = start + rest[start..].find('"').expect("a closing quote");
        let value = &rest[start..end];
        out.push_str(&rest[..start]);
        if take(value) && !value.contains('\\') {
            out.push_str(&map(value));
        } else {
            out.push_str(value);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A canary passphrase with as many characters as `original` (so length rules still hold).
fn canary_passphrase(n: usize, original: &str) -> String {
    let mut s = format!("CNRY{n:02}q");
    let fill = b"zxwvkj";
    let mut i = 0;
    while s.chars().count() < original.chars().count() {
        s.push(fill[i % fill.len()] as char);
        i += 1;
    }
    assert!(
        s.len() >= 7,
        "passphrase {original:?} is too short to carry a canary"
    );
    s
}

fn canary_key(n: usize) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..4].copy_from_slice(&[0xc4, 0x1a, 0x2b, 0x9e]);
    k[4] = n as u8;
    for (i, b) in k.iter_mut().enumerate().skip(5) {
        *b = 0x5e ^ (i as u8).wrapping_mul(37);
    }
    k
}

/// Copies the families into `dir` with canary secrets; returns (original → canary) maps.
fn canary_scenarios(dir: &Path) -> (BTreeMap<String, String>, BTreeMap<String, [u8; 32]>) {
    let mut phrases: BTreeMap<String, String> = BTreeMap::new();
    let mut keys: BTreeMap<String, [u8; 32]> = BTreeMap::new();
    for family in FAMILIES {
        let src = root().join("scenarios").join(family);
        let dst = dir.join(family);
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(&src).unwrap().flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap();
            // Unicode passphrases stay: their cases are about normalization, which a
            // canary spelled differently would break.
            let text = substitute(&text, "passphrase", str::is_ascii, &mut |p| {
                let n = phrases.len();
                phrases
                    .entry(p.to_string())
                    .or_insert_with(|| canary_passphrase(n, p))
                    .clone()
            });
            let is_key = |k: &str| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit());
            let text = substitute(&text, "key", is_key, &mut |k| {
                let n = keys.len();
                let key = *keys.entry(k.to_string()).or_insert_with(|| canary_key(n));
                key.iter().map(|b| format!("{b:02x}")).collect()
            });
            for original in phrases.keys() {
                assert!(
                    !text.contains(&format!("\"{original}\"")),
                    "{original:?} left in {}",
                    e.path().display()
                );
            }
            std::fs::write(dst.join(e.file_name()), text).unwrap();
        }
    }
    assert!(phrases.len() >= 4 && !keys.is_empty(), "{phrases:?}");
    (phrases, keys)
}

// ---------------------------------------------------------------------------------------
// The stack the run uses, kept after it for the database scan

/// `backproof stack up`, stopped with SIGTERM (which tears it down) when dropped.
struct StackUp {
    child: Child,
    env: Vec<(String, String)>,
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(inner) => inner.replace(r"'\''", "'"),
        None => v.to_string(),
    }
}

impl StackUp {
    fn start(log: &Path) -> StackUp {
        let mut child = Command::new(exe())
            .args(["stack", "up"])
            .env_remove("BACKPROOF_DATABASE_URL")
            .env_remove("BACKPROOF_S3_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
            .spawn()
            .expect("backproof stack up starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut env = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line == "# ready" {
                    let _ = tx.send(std::mem::take(&mut env));
                } else if let Some((k, v)) = line.split_once('=')
                    && !line.starts_with('#')
                {
                    env.push((k.to_string(), unquote(v)));
                }
            }
        });
        let Ok(env) = rx.recv_timeout(Duration::from_secs(180)) else {
            let _ = child.kill();
            panic!(
                "backproof stack up never got ready:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        };
        StackUp { child, env }
    }

    fn var(&self, name: &str) -> &str {
        &self
            .env
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("{name} not in {:?}", self.env))
            .1
    }
}

impl Drop for StackUp {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Every row of every table of every database in the cluster, as `pg_dump` writes them.
fn dump_databases(url: &str, out: &Path) {
    let list = Command::new("psql")
        .args([
            url,
            "-Atc",
            "SELECT datname FROM pg_database WHERE NOT datistemplate",
        ])
        .output()
        .expect("psql runs");
    assert!(list.status.success(), "{list:?}");
    let names = String::from_utf8(list.stdout).unwrap();
    let mut dumped = 0;
    for name in names.lines().filter(|n| !n.is_empty()) {
        let (base, _) = url.rsplit_once('/').expect("a database URL");
        let db_url = format!("{base}/{name}");
        let dump = Command::new("pg_dump")
            .args(["--data-only", "--dbname", &db_url])
            .output()
            .expect("pg_dump runs");
        assert!(dump.status.success(), "{name}: {dump:?}");
        std::fs::write(out.join(format!("{name}.sql")), &dump.stdout).unwrap();
        dumped += 1;
    }
    // One database per scenario that started a server, plus `postgres`.
    assert!(dumped > 5, "only {dumped} databases: {names}");
}

#[test]
fn canary_secrets_appear_in_no_log_report_or_database_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let logs = d.join("logs");
    let out = d.join("out");
    let dumps = d.join("dumps");
    let recorded = d.join("recorded");
    for p in [&logs, &out, &dumps, &recorded] {
        std::fs::create_dir_all(p).unwrap();
    }
    let scenarios = d.join("scenarios");
    let (phrases, keys) = canary_scenarios(&scenarios);

    let stack = StackUp::start(&logs.join("stack.log"));
    let q = |p: &Path| format!("'{}'", p.display());
    // Both commands append their stderr to files of ours; the token command also records
    // the auth secret and every token it prints.
    let server_cmd = format!(
        "exec {} serve 2>>{}",
        quoted_exe(),
        q(&logs.join("server.log"))
    );
    let token_cmd = format!(
        "printf '%s\\n' \"$BACKPROOF_AUTH_SECRET\" >> {rec}; \
         t=$({exe} serve token --user {{user}}) && printf '%s\\n' \"$t\" >> {rec} && printf '%s\\n' \"$t\"",
        exe = quoted_exe(),
        rec = q(&recorded.join("tokens"))
    );
    let adapter = d.join("adapter.sh");
    std::fs::write(
        &adapter,
        format!(
            "#!/bin/sh\nexec {} adapter --kdf m=7168,t=5,p=1 \"$@\" 2>>{}\n",
            quoted_exe(),
            q(&logs.join("adapter.log"))
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&adapter).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&adapter, perms).unwrap();

    let run = Command::new(exe())
        .current_dir(root())
        .env("RUST_LOG", "debug")
        // Every case's database stays for the dump below (a run drops them by default).
        .env("BACKPROOF_KEEP_DATABASES", "1")
        .envs(stack.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["run", "--stack", "env", "--filter", FILTER])
        .arg("--scenarios")
        .arg(&scenarios)
        .arg("--report")
        .arg(out.join("report.json"))
        .args(["--server-cmd", &server_cmd, "--token-cmd", &token_cmd])
        .arg("--client-adapter")
        .arg(&adapter)
        .output()
        .expect("backproof run starts");
    std::fs::write(logs.join("run.stdout"), &run.stdout).unwrap();
    std::fs::write(logs.join("run.stderr"), &run.stderr).unwrap();
    let log = format!(
        "exit {:?}\n{}\n{}",
        run.status.code(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );

    // The canaries did their work: every selected case ran with them and passed (a case
    // that could not run would have proven nothing about its secrets).
    let report = backproof_report::Report::load(&out.join("report.json"))
        .unwrap_or_else(|e| panic!("{e}\n{log}"));
    let failing: Vec<String> = report
        .cases
        .iter()
        .filter(|c| c.outcome.is_failing())
        .map(|c| format!("{} {}: {}", c.id, c.outcome, c.reason))
        .collect();
    assert!(failing.is_empty(), "{}\n{log}", failing.join("\n"));
    assert!(
        report.cases.len() >= 15,
        "{} cases\n{log}",
        report.cases.len()
    );
    assert!(
        std::fs::metadata(logs.join("adapter.log")).unwrap().len() > 0
            && std::fs::metadata(logs.join("server.log")).unwrap().len() > 0,
        "RUST_LOG=debug reached neither the adapter nor the server"
    );

    dump_databases(stack.var("BACKPROOF_DATABASE_URL"), &dumps);

    let mut canaries: Vec<Canary> = Vec::new();
    for (original, c) in &phrases {
        canaries.push(Canary::new(
            &format!("passphrase for {original:?}"),
            c.as_bytes(),
        ));
    }
    for (n, k) in keys.values().enumerate() {
        canaries.push(Canary::new(&format!("raw key #{n}"), k));
    }
    let recorded_text = std::fs::read_to_string(recorded.join("tokens")).unwrap();
    let mut seen = Vec::new();
    for line in recorded_text.lines().filter(|l| !l.is_empty()) {
        if !seen.contains(&line) {
            seen.push(line);
            canaries.push(Canary::new("auth secret or bearer token", line.as_bytes()));
        }
    }
    assert!(seen.len() >= 3, "the token command recorded {seen:?}");

    let mut found = Vec::new();
    for place in [&logs, &out, &dumps] {
        found.extend(scan_dir(place, &canaries));
    }
    assert!(found.is_empty(), "canaries leaked:\n{}", found.join("\n"));
}
