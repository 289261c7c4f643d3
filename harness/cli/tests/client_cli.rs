//! `backproof client --profile byok-json-v1|metamask-vault` (docs/CLIENT.md §7): the
//! binary against the real embedded S3 of backproof-stack. What the CLI wrote is read back
//! past it, straight from S3, and opened with the profile's codec; exit codes and the
//! `error: CLASS:` line are checked for every refusal, and a refusal must leave the stored
//! objects as they were.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use backproof_format::profiles::byok_json_v1 as byok;
use backproof_format::profiles::metamask_vault::{self as mm, Kdf as VaultKdf};
use backproof_stack::S3Handle;

const OLD: &str = "correct horse battery staple";
const NEW: &str = "a brand new passphrase";
/// The policy floor keeps every Argon2id derivation cheap on a loaded machine.
const FLOOR: &str = "m=7168,t=5,p=1";

struct World {
    s3: S3Handle,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let s3 = rt.block_on(S3Handle::embedded()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("s3-secret"),
            format!("{}\n", s3.secret_key()),
        )
        .unwrap();
        std::fs::write(dir.path().join("old.txt"), format!("{OLD}\n")).unwrap();
        std::fs::write(dir.path().join("new.txt"), format!("{NEW}\n")).unwrap();
        std::fs::write(dir.path().join("wrong.txt"), "not the passphrase\n").unwrap();
        std::fs::write(dir.path().join("key.hex"), "ab".repeat(32)).unwrap();
        World { s3, rt, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// `backproof client OP --profile PROFILE` with the store's coordinates as
    /// `backproof stack` exports them, the secret key from a file.
    fn client(&self, op: &str, profile: &str, user: &str, args: &[&str]) -> Output {
        Command::new(common::exe())
            .args(["client", op, "--profile", profile, "--user", user])
            .args(["--s3-secret-key-file", &self.arg("s3-secret")])
            .args(args)
            .env("BACKPROOF_S3_ENDPOINT", self.s3.endpoint())
            .env("BACKPROOF_S3_BUCKET", self.s3.bucket())
            .env("BACKPROOF_S3_REGION", self.s3.region())
            .env("BACKPROOF_S3_ACCESS_KEY", self.s3.access_key())
            .env_remove("BACKPROOF_S3_SECRET_KEY")
            .env_remove("BACKPROOF_SERVER")
            .env_remove("BACKPROOF_TOKEN")
            .output()
            .unwrap()
    }

    /// The object's bytes, read past the CLI.
    fn raw_get(&self, key: &str) -> Option<Vec<u8>> {
        self.rt.block_on(async {
            let out = self
                .s3
                .client()
                .await
                .get_object()
                .bucket(self.s3.bucket())
                .key(key)
                .send()
                .await
                .ok()?;
            Some(out.body.collect().await.unwrap().into_bytes().to_vec())
        })
    }
}

#[track_caller]
fn expect(out: &Output, code: i32, stream_has: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code\nstdout: {stdout}\nstderr: {stderr}"
    );
    let text = if code == 0 { &stdout } else { &stderr };
    assert!(
        text.contains(stream_has),
        "expected {stream_has:?} in\nstdout: {stdout}\nstderr: {stderr}"
    );
    text.clone()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn byok_backup_restore_rotate_recover_delete() {
    let w = World::new();
    let user = "alice";
    let final_key = format!("users/{user}/api_key_backup.json");
    let temp_key = format!("users/{user}/api_key_backup_temp.json");
    // Not UTF-8: the design's plaintext is bytes, carried as they are.
    let payload = b"{\"apiKey\":\"AIza\"}\xff\x00".to_vec();
    std::fs::write(w.path("payload.bin"), &payload).unwrap();
    let old = w.arg("old.txt");
    let new = w.arg("new.txt");

    let out = w.client(
        "backup",
        "byok-json-v1",
        user,
        &[
            "--kdf",
            FLOOR,
            "--passphrase-file",
            &old,
            "--payload",
            &w.arg("payload.bin"),
        ],
    );
    expect(&out, 0, &format!("to s3://{}/{final_key}", w.s3.bucket()));
    let stored = w.raw_get(&final_key).expect("the final object was written");
    let opened = byok::open(OLD, &stored).expect("the stored blob opens with the passphrase");
    assert_eq!(&opened.plaintext[..], &payload[..]);
    let byok::Kdf::Argon2id(params) = opened.envelope.kdf else {
        panic!("the writer's --kdf is Argon2id: {:?}", opened.envelope.kdf);
    };
    assert_eq!((params.m_cost, params.t_cost, params.p_cost), (7168, 5, 1));

    // A wrong passphrase: no key check in this design, so `wrong_key`; nothing written.
    let out = w.client(
        "restore",
        "byok-json-v1",
        user,
        &[
            "--passphrase-file",
            &w.arg("wrong.txt"),
            "--out",
            &w.arg("bad.bin"),
        ],
    );
    expect(&out, 1, "error: wrong_key:");
    assert!(
        !w.path("bad.bin").exists(),
        "a refused restore wrote its output"
    );
    // A backup under the wrong passphrase must not replace the stored one.
    let out = w.client(
        "backup",
        "byok-json-v1",
        user,
        &[
            "--kdf",
            FLOOR,
            "--passphrase-file",
            &w.arg("wrong.txt"),
            "--payload",
            &w.arg("payload.bin"),
        ],
    );
    expect(&out, 1, "error: wrong_key:");
    assert_eq!(w.raw_get(&final_key), Some(stored.clone()));

    let out = w.client(
        "restore",
        "byok-json-v1",
        user,
        &["--passphrase-file", &old, "--out", &w.arg("restored.bin")],
    );
    expect(&out, 0, &format!("restored {} bytes", payload.len()));
    assert_eq!(read(&w.path("restored.bin")), payload);

    // Raw keys are v1's: refused before anything is read or written.
    let out = w.client(
        "restore",
        "byok-json-v1",
        user,
        &["--key-file", &w.arg("key.hex"), "--out", &w.arg("k.bin")],
    );
    expect(&out, 2, "raw key");

    let out = w.client(
        "rotate",
        "byok-json-v1",
        user,
        &[
            "--kdf",
            FLOOR,
            "--passphrase-file",
            &old,
            "--new-passphrase-file",
            &new,
        ],
    );
    expect(&out, 0, "opens with the new passphrase");
    let rotated = w.raw_get(&final_key).unwrap();
    assert_eq!(
        &byok::open(NEW, &rotated).unwrap().plaintext[..],
        &payload[..]
    );
    assert!(
        byok::open(OLD, &rotated).is_err(),
        "the old passphrase still opens it"
    );
    assert_eq!(
        w.raw_get(&temp_key),
        None,
        "the temporary object was left behind"
    );

    let out = w.client(
        "recover",
        "byok-json-v1",
        user,
        &[
            "--candidate",
            &format!("passphrase:first={old}"),
            "--candidate",
            &format!("passphrase:second={new}"),
            "--out",
            &w.arg("recovered.bin"),
        ],
    );
    expect(&out, 0, "candidate \"second\" opens the final object");
    assert_eq!(read(&w.path("recovered.bin")), payload);
    let out = w.client(
        "recover",
        "byok-json-v1",
        user,
        &[
            "--candidate",
            &format!("passphrase:only={old}"),
            "--out",
            &w.arg("r2.bin"),
        ],
    );
    expect(&out, 1, "error: wrong_key:");

    let out = w.client("delete", "byok-json-v1", user, &[]);
    expect(&out, 0, "deleted");
    assert_eq!(w.raw_get(&final_key), None);
    let out = w.client("delete", "byok-json-v1", user, &[]);
    expect(&out, 1, "error: not_found:");
}

#[test]
fn metamask_vault_backup_restore_update_change_delete() {
    let w = World::new();
    let user = "bob";
    let key = format!("users/{user}/vault.json");
    let vault_json = br#"[{"type":"HD Key Tree","data":{"mnemonic":"abandon"}}]"#.to_vec();
    std::fs::write(w.path("vault.json"), &vault_json).unwrap();
    std::fs::write(w.path("not-json.bin"), b"\x00\x01 not json").unwrap();
    let old = w.arg("old.txt");
    let new = w.arg("new.txt");
    // Small counts (`--iterations`) keep PBKDF2 cheap; the bounds accept them.

    // Not JSON: refused before anything is written.
    let out = w.client(
        "backup",
        "metamask-vault",
        user,
        &[
            "--iterations",
            "1000",
            "--passphrase-file",
            &old,
            "--payload",
            &w.arg("not-json.bin"),
        ],
    );
    expect(&out, 1, "error: payload_invalid:");
    assert_eq!(w.raw_get(&key), None, "a refused backup wrote the vault");

    let out = w.client(
        "backup",
        "metamask-vault",
        user,
        &[
            "--iterations",
            "1000",
            "--passphrase-file",
            &old,
            "--payload",
            &w.arg("vault.json"),
        ],
    );
    expect(&out, 0, "1000 iterations");
    let stored = w.raw_get(&key).unwrap();
    assert_eq!(
        mm::parse(&stored).unwrap().kdf,
        VaultKdf::Pbkdf2 { iterations: 1000 }
    );
    assert_eq!(
        &mm::open(OLD, &stored).unwrap().plaintext[..],
        &vault_json[..]
    );

    let out = w.client(
        "restore",
        "metamask-vault",
        user,
        &[
            "--passphrase-file",
            &w.arg("wrong.txt"),
            "--out",
            &w.arg("bad.json"),
        ],
    );
    expect(&out, 1, "error: wrong_key:");
    assert!(!w.path("bad.json").exists());
    let out = w.client(
        "restore",
        "metamask-vault",
        user,
        &["--passphrase-file", &old, "--out", &w.arg("restored.json")],
    );
    expect(&out, 0, "restored");
    assert_eq!(read(&w.path("restored.json")), vault_json);

    // The library's update: to 2000 iterations, same password; then again, a no-op.
    let out = w.client(
        "rotate",
        "metamask-vault",
        user,
        &["--iterations", "2000", "--passphrase-file", &old],
    );
    expect(&out, 0, "to 2000 iterations");
    let updated = w.raw_get(&key).unwrap();
    assert_eq!(
        mm::parse(&updated).unwrap().kdf,
        VaultKdf::Pbkdf2 { iterations: 2000 }
    );
    assert_eq!(
        &mm::open(OLD, &updated).unwrap().plaintext[..],
        &vault_json[..]
    );
    let out = w.client(
        "rotate",
        "metamask-vault",
        user,
        &["--iterations", "2000", "--passphrase-file", &old],
    );
    expect(&out, 0, "nothing written");
    assert_eq!(
        w.raw_get(&key),
        Some(updated),
        "a no-op update rewrote the vault"
    );

    // A password change.
    let out = w.client(
        "rotate",
        "metamask-vault",
        user,
        &[
            "--iterations",
            "2000",
            "--passphrase-file",
            &old,
            "--new-passphrase-file",
            &new,
        ],
    );
    expect(&out, 0, "password changed");
    let changed = w.raw_get(&key).unwrap();
    assert_eq!(
        &mm::open(NEW, &changed).unwrap().plaintext[..],
        &vault_json[..]
    );
    assert!(mm::open(OLD, &changed).is_err());

    let out = w.client(
        "recover",
        "metamask-vault",
        user,
        &[
            "--candidate",
            &format!("passphrase:a={new}"),
            "--out",
            &w.arg("x.json"),
        ],
    );
    expect(&out, 2, "has no recover");

    let out = w.client("delete", "metamask-vault", user, &[]);
    expect(&out, 0, "deleted");
    assert_eq!(w.raw_get(&key), None);
}

/// Mistakes of profile and connection are named with the flag to give, exit 2, and touch
/// nothing (no S3 is needed to tell them).
#[test]
fn profile_and_connection_mistakes_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("p.txt");
    std::fs::write(&pass, "pass\n").unwrap();
    let pass = pass.display().to_string();
    let out_file = dir.path().join("o.bin").display().to_string();
    let run = |op: &[&str], more: &[&str]| {
        Command::new(common::exe())
            .arg("client")
            .args(op)
            .args(more)
            .env_remove("BACKPROOF_SERVER")
            .env_remove("BACKPROOF_TOKEN")
            .env_remove("BACKPROOF_S3_ENDPOINT")
            .env_remove("BACKPROOF_S3_ACCESS_KEY")
            .env_remove("BACKPROOF_S3_SECRET_KEY")
            .env_remove("BACKPROOF_USER")
            .output()
            .unwrap()
    };
    let restore = ["restore", "--passphrase-file", &pass, "--out", &out_file];

    let out = run(&restore, &["--token", "t"]);
    expect(&out, 2, "give --server URL (or BACKPROOF_SERVER)");
    let out = run(
        &restore,
        &[
            "--profile",
            "byok-json-v1",
            "--server",
            "http://127.0.0.1:9",
        ],
    );
    expect(&out, 2, "--server and --token are for profile v1");
    let out = run(&restore, &["--profile", "byok-json-v1", "--user", "u"]);
    expect(&out, 2, "give --s3-endpoint (or BACKPROOF_S3_ENDPOINT)");
    let out = run(
        &restore,
        &[
            "--profile",
            "metamask-vault",
            "--user",
            "u",
            "--s3-endpoint",
            "http://127.0.0.1:9",
            "--s3-access-key",
            "a",
        ],
    );
    expect(
        &out,
        2,
        "give --s3-secret-key-file (or BACKPROOF_S3_SECRET_KEY)",
    );
    let out = run(
        &["rotate", "--passphrase-file", &pass],
        &["--server", "http://127.0.0.1:9", "--token", "t"],
    );
    expect(
        &out,
        2,
        "give exactly one of --new-passphrase-file or --new-key-file",
    );
    let out = run(&restore, &["--profile", "dbm-stream-v1"]);
    expect(&out, 2, "is checked through an adapter");
    let out = run(&restore, &["--profile", "nonsense"]);
    expect(&out, 2, "byok-json-v1");
    assert!(!Path::new(&out_file).exists());
}
