//! The TOML shape of a scenario file (docs/SCENARIOS.md, docs/schema/scenario.schema.json).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// `<family>/<name>`, unique across the suite; the family is the folder.
    pub id: String,
    pub title: String,
    /// The bug this case catches.
    pub why: String,
    /// Capabilities the target must offer; otherwise the case is `unsupported`.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Client instances (adapter processes, each with its own state dir).
    #[serde(default)]
    pub actors: Vec<Actor>,
    /// Scripted steps, run in order (before the driver, if any).
    #[serde(default)]
    pub steps: Vec<Step>,
    /// A built-in driver run after `steps`.
    #[serde(default)]
    pub driver: Option<Driver>,
    /// Extra flags for the reference server (a deliberately broken build in tests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_args: Vec<String>,
    /// Environment for the server's first start only (e.g. `FAILPOINTS`); restarts run
    /// without it, as a real process would after a crash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub server_env: BTreeMap<String, String>,
    /// Restart the server as soon as it dies (crash cases where the client retries).
    #[serde(default)]
    pub auto_restart: bool,
    #[serde(skip)]
    pub family: String,
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub name: String,
    /// Logical user; actors of one user are two devices of one account.
    pub user: String,
}

/// A secret as the adapter protocol spells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateDef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `"ok"`, one class, or several acceptable classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Expect {
    One(String),
    AnyOf(Vec<String>),
}

impl Default for Expect {
    fn default() -> Self {
        Expect::One("ok".into())
    }
}

impl Expect {
    pub fn allows(&self, outcome: &str) -> bool {
        match self {
            Expect::One(s) => s == outcome,
            Expect::AnyOf(v) => v.iter().any(|s| s == outcome),
        }
    }
    pub fn describe(&self) -> String {
        match self {
            Expect::One(s) => s.clone(),
            Expect::AnyOf(v) => v.join(" or "),
        }
    }
}

/// A request body for raw HTTP steps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyDef {
    /// Literal text.
    #[serde(default)]
    pub text: Option<String>,
    /// Literal bytes (hex).
    #[serde(default)]
    pub hex: Option<String>,
    /// This many pseudo-random bytes.
    #[serde(default)]
    pub random_len: Option<usize>,
    /// Send with `Transfer-Encoding: chunked` (no `Content-Length`).
    #[serde(default)]
    pub chunked: bool,
}

/// How the harness damages or inspects the stored object of a user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum StorageOp {
    /// XOR one byte with 0x01: at `offset`, or at byte `index` of header `field`.
    Flip,
    /// Keep the first `len` bytes, or cut at the start (`index` = 0) of `field`.
    Truncate,
    /// Append `hex` bytes.
    Append,
    /// Remove the object.
    Delete,
    /// Count the objects under the user's prefix (`expect_count`, waiting up to `within_ms`).
    List,
    /// Replace the object with `hex` bytes.
    Replace,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Adapter `backup`: payload = the user's identity + `contacts`.
    Backup {
        actor: String,
        secret: SecretDef,
        #[serde(default)]
        contacts: Vec<String>,
        /// Use another identity key pair (identity_mismatch cases).
        #[serde(default)]
        identity: Option<String>,
        #[serde(default)]
        expect: Expect,
    },
    /// Adapter `restore`, with one secret, or with `any_of` (passes if any works).
    Restore {
        actor: String,
        #[serde(default)]
        secret: Option<SecretDef>,
        #[serde(default)]
        any_of: Vec<SecretDef>,
        #[serde(default)]
        expect: Expect,
        /// Exact set of contact uuids expected.
        #[serde(default)]
        contacts: Option<Vec<String>>,
        #[serde(default)]
        version: Option<u64>,
    },
    Rotate {
        actor: String,
        old: SecretDef,
        new: SecretDef,
        #[serde(default)]
        expect: Expect,
    },
    Recover {
        actor: String,
        candidates: Vec<CandidateDef>,
        #[serde(default)]
        expect: Expect,
        #[serde(default)]
        matched: Option<String>,
        #[serde(default)]
        tried: Option<Vec<String>>,
        #[serde(default)]
        contacts: Option<Vec<String>>,
    },
    Delete {
        actor: String,
        #[serde(default)]
        expect: Expect,
    },
    /// Adapter `open` on the blob currently stored for `user` (fetched by the harness).
    OpenStored {
        actor: String,
        user: String,
        secret: SecretDef,
        #[serde(default)]
        expect: Expect,
    },
    /// A raw request to the server.
    Http {
        /// Whose token; absent with `auth` = "none".
        #[serde(default)]
        user: Option<String>,
        /// "token" (default), "none", "garbage", "wrong-scheme", "forged".
        #[serde(default)]
        auth: Option<String>,
        #[serde(default = "default_method")]
        method: String,
        #[serde(default = "default_path")]
        path: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        body: Option<BodyDef>,
        /// Accepted statuses: the first is the reference answer, the others
        /// `pass-acceptable` alternatives.
        status: Vec<u16>,
        /// Response headers that must be present with exactly this value ("*" = any value).
        #[serde(default)]
        expect_headers: BTreeMap<String, String>,
        /// `type` of the problem+json body.
        #[serde(default)]
        problem: Option<String>,
        /// Members of a JSON body that must be present (and, for non-"*", equal as text).
        #[serde(default)]
        json: BTreeMap<String, String>,
        /// The body must equal the blob stored by this step label.
        #[serde(default)]
        body_equals: Option<String>,
        /// Remember the body under this label.
        #[serde(default)]
        save_body: Option<String>,
    },
    /// Damage or inspect the object that holds `user`'s current backup, on S3 directly.
    Storage {
        user: String,
        op: StorageOp,
        #[serde(default)]
        offset: Option<i64>,
        #[serde(default)]
        field: Option<String>,
        #[serde(default)]
        index: Option<usize>,
        #[serde(default)]
        len: Option<usize>,
        #[serde(default)]
        hex: Option<String>,
        #[serde(default)]
        expect_count: Option<usize>,
        #[serde(default)]
        within_ms: Option<u64>,
    },
    /// Arm a fault on a proxy for the next exchange.
    Fault {
        /// "client" (client↔server) or "s3" (server↔S3).
        proxy: String,
        /// 1-based step of the exchange.
        at: usize,
        /// "kill-client", "kill-server", "drop", "status", "delay".
        fault: String,
        /// For kill and drop: "before" or "after" forwarding.
        #[serde(default)]
        when: Option<String>,
        /// The actor to kill (kill-client).
        #[serde(default)]
        actor: Option<String>,
        #[serde(default)]
        status: Option<u16>,
        #[serde(default)]
        ms: Option<u64>,
        /// Count only requests with this method.
        #[serde(default)]
        method: Option<String>,
    },
    /// Start the server or an actor's adapter again (same database, same state dir).
    Restart {
        target: String,
        #[serde(default)]
        actor: Option<String>,
    },
}

fn default_method() -> String {
    "GET".into()
}

fn default_path() -> String {
    "/v1/backup".into()
}

/// Built-in drivers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Driver {
    /// Run `operation` once recording the proxy's steps, then once per step × {before,
    /// after}: crash `side` there, restart, and check the rotation invariants.
    Enumerate {
        /// Steps that set up each run (on a fresh database).
        setup: Vec<Step>,
        /// The operation under test: a `rotate` step.
        operation: Box<Step>,
        /// "client" or "server".
        side: String,
        /// "client" (client↔server) or "s3" (server↔S3).
        proxy: String,
        /// The user whose backup the operation changes.
        user: String,
        /// Expected contacts after everything.
        contacts: Vec<String>,
    },
    /// `writers` adapters × `updates` read-modify-write cycles, each adding one contact,
    /// with a reader recording every version it sees; then the history checker.
    Stress {
        writers: usize,
        updates: usize,
        secret: SecretDef,
        user: String,
    },
}

impl Scenario {
    /// Parses one file; the family is the name of its folder.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut s: Scenario =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let family = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        if !s.id.starts_with(&format!("{family}/")) {
            return Err(format!(
                "{}: id {:?} must start with its folder name {family:?}/",
                path.display(),
                s.id
            ));
        }
        s.family = family;
        s.path = path.to_path_buf();
        Ok(s)
    }
}

/// Every `*.toml` under `dir/<family>/`, sorted by id; ids must be unique.
pub fn load_all(dir: &Path) -> Result<Vec<Scenario>, String> {
    let mut out = Vec::new();
    let mut families: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read scenarios folder {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    families.sort();
    for fam in families {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&fam)
            .map_err(|e| format!("{}: {e}", fam.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for f in files {
            out.push(Scenario::load(&f)?);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    for w in out.windows(2) {
        if w[0].id == w[1].id {
            return Err(format!("duplicate scenario id {}", w[0].id));
        }
    }
    Ok(out)
}
