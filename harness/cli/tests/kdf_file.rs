//! Parameters written by `backproof tune --json` are what the reference writer seals with.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use backproof_format::{KdfParams, Policy, Secret, open, parse_header};

const PASSPHRASE: &str = "correct horse battery staple";

/// Seals `plaintext` through `backproof adapter <args>` and returns the blob.
fn seal_through_adapter(args: &[&str], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_backproof"))
        .arg("adapter")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the adapter");
    let hex: String = plaintext.iter().map(|b| format!("{b:02x}")).collect();
    let request = serde_json::json!({
        "id": 1, "op": "seal", "profile": "v1",
        "secret": {"passphrase": PASSPHRASE}, "plaintext": hex,
    });
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{request}").unwrap();
    drop(stdin);
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let status = child.wait().unwrap();
    if line.is_empty() {
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        return Err(format!("no answer (exit {status}): {err}"));
    }
    let answer: serde_json::Value = serde_json::from_str(&line).unwrap();
    let blob = answer["result"]["blob"]
        .as_str()
        .ok_or_else(|| format!("no blob in {answer}"))?;
    Ok((0..blob.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&blob[i..i + 2], 16).unwrap())
        .collect())
}

#[test]
fn a_tune_json_file_sets_the_writers_parameters() {
    let dir = tempfile::tempdir().unwrap();
    // The shape `backproof tune --json` writes (docs/TUNING.md); not the default parameters.
    let want = KdfParams {
        m_cost: 9216,
        t_cost: 4,
        p_cost: 2,
    };
    let file = dir.path().join("kdf.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "schema": "backproof-tune/1",
            "ok": true,
            "kdf": {"m_cost": want.m_cost, "t_cost": want.t_cost, "p_cost": want.p_cost},
        })
        .to_string(),
    )
    .unwrap();
    let blob = seal_through_adapter(&["--kdf-file", file.to_str().unwrap()], b"payload")
        .expect("seal with --kdf-file");
    let header = parse_header(&blob).expect("a v1 blob");
    assert_eq!(header.kdf, Some(want));
    let opened = open(&Secret::passphrase(PASSPHRASE), &blob, &Policy::default()).unwrap();
    assert_eq!(&opened[..], b"payload");
}

#[test]
fn a_kdf_file_below_the_policy_floor_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("weak.txt");
    std::fs::write(&file, "m=1024,t=1,p=1\n").unwrap();
    let err = seal_through_adapter(&["--kdf-file", file.to_str().unwrap()], b"x").unwrap_err();
    assert!(err.contains("kdf-file"), "{err}");
}
