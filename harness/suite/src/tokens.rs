//! A server given by URL (`backproof run --server-url URL --tokens FILE`): the base URL
//! and the tokens file, and how the scenarios' logical users map onto its accounts.
//!
//! ```toml
//! [users]
//! alice = "eyJhbGciOi…"
//! bob = "eyJhbGciOi…"
//! ```
//!
//! The scenarios name two logical users, `alice` and `bob` (a scenario's users are local
//! to it; the isolation cases need two). An entry named `alice` (or `bob`) is used for that
//! user; a logical user without an entry of its own name takes the first remaining entry in
//! sorted name order. So `{carol, dave}` maps alice → carol and bob → dave, and
//! `{bob, zed, amy}` maps alice → amy and bob → bob. Further entries are allowed and unused.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The logical users of the scenarios, in the order they are given entries.
pub const LOGICAL_USERS: [&str; 2] = ["alice", "bob"];

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("cannot read the tokens file {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "{origin} is not a valid tokens file: {message}\n\
         expected a TOML table of user names and bearer tokens, e.g.:\n  [users]\n  alice = \"<token>\"\n  bob = \"<token>\""
    )]
    Syntax { origin: String, message: String },
    #[error(
        "{origin}: [users] has {found} entr{} ({names}); the suite needs the tokens of at least 2 users (the isolation cases use two accounts)",
        if *found == 1 { "y" } else { "ies" }
    )]
    TooFew {
        origin: String,
        found: usize,
        names: String,
    },
    #[error(
        "{origin}: the token of user {name:?} {problem}; a token is the text sent after `Authorization: Bearer `"
    )]
    BadToken {
        origin: String,
        name: String,
        problem: &'static str,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    users: Option<BTreeMap<String, String>>,
}

/// The accounts of a server given by URL, by logical user. `Debug` never shows a token.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlTokens {
    /// Logical user → (entry name in the file, token).
    users: BTreeMap<String, (String, String)>,
}

impl fmt::Debug for UrlTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are credentials: only the mapping is shown.
        f.debug_map()
            .entries(self.users.iter().map(|(l, (name, _))| (l, name)))
            .finish()
    }
}

impl UrlTokens {
    /// The token of a logical user.
    pub fn token(&self, logical: &str) -> Option<&str> {
        self.users.get(logical).map(|(_, t)| t.as_str())
    }

    /// The file's entry name used for a logical user.
    pub fn entry(&self, logical: &str) -> Option<&str> {
        self.users.get(logical).map(|(n, _)| n.as_str())
    }

    /// `(logical user, entry name)` in logical-user order.
    pub fn mapping(&self) -> Vec<(&str, &str)> {
        LOGICAL_USERS
            .iter()
            .filter_map(|l| Some((*l, self.entry(l)?)))
            .collect()
    }
}

/// Parses the TOML text of a tokens file; `origin` names it in errors.
pub fn parse_tokens(text: &str, origin: &str) -> Result<UrlTokens, TokensError> {
    let file: File = toml::from_str(text).map_err(|e| TokensError::Syntax {
        origin: origin.to_string(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let entries = file.users.unwrap_or_default();
    if entries.len() < LOGICAL_USERS.len() {
        return Err(TokensError::TooFew {
            origin: origin.to_string(),
            found: entries.len(),
            names: if entries.is_empty() {
                "no [users] table or an empty one".into()
            } else {
                entries.keys().cloned().collect::<Vec<_>>().join(", ")
            },
        });
    }
    for (name, token) in &entries {
        let problem = if token.trim().is_empty() {
            Some("is empty")
        } else if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            // It goes into an HTTP header as is.
            Some("contains whitespace or control characters")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(TokensError::BadToken {
                origin: origin.to_string(),
                name: name.clone(),
                problem,
            });
        }
    }
    let mut remaining: Vec<&String> = entries
        .keys()
        .filter(|n| !LOGICAL_USERS.contains(&n.as_str()))
        .collect();
    remaining.reverse(); // pop() takes the first in sorted order
    let mut users = BTreeMap::new();
    for logical in LOGICAL_USERS {
        let name = match entries.get_key_value(logical) {
            Some((n, _)) => n,
            None => remaining
                .pop()
                .expect("at least as many entries as logical users"),
        };
        users.insert(logical.to_string(), (name.clone(), entries[name].clone()));
    }
    Ok(UrlTokens { users })
}

pub fn load_tokens(path: &Path) -> Result<UrlTokens, TokensError> {
    let text = std::fs::read_to_string(path).map_err(|cause| TokensError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    parse_tokens(&text, &path.display().to_string())
}

/// Checks a `--server-url` and returns it without a trailing `/`. `http://` and `https://`
/// are accepted: the fault proxy between the client and the server listens plain HTTP
/// towards the client and opens its own TLS connection to an `https://` server.
pub fn parse_server_url(url: &str) -> Result<String, ServerUrlError> {
    let bad = |problem| ServerUrlError {
        url: url.to_string(),
        problem,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(UrlProblem::NotAUrl(e.to_string())))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => return Err(bad(UrlProblem::Scheme(other.to_string()))),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad(UrlProblem::NoHost));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad(UrlProblem::QueryOrFragment));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(UrlProblem::Credentials));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// A `--server-url` that cannot be a server's base URL.
#[derive(Debug, thiserror::Error)]
#[error("--server-url {url:?}{problem}")]
pub struct ServerUrlError {
    pub url: String,
    pub problem: UrlProblem,
}

/// What is wrong with a `--server-url`.
#[derive(Debug, thiserror::Error)]
pub enum UrlProblem {
    #[error(" is not a URL ({0}); expected e.g. http://127.0.0.1:8080")]
    NotAUrl(String),
    #[error(": scheme {0:?} is not supported; expected http://host[:port] or https://host[:port]")]
    Scheme(String),
    #[error(" has no host")]
    NoHost,
    #[error(": a base URL has no query or fragment; the API is under <URL>/v1/backup")]
    QueryOrFragment,
    #[error(": put credentials in the tokens file, not in the URL")]
    Credentials,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> Vec<(String, String)> {
        parse_tokens(text, "t.toml")
            .unwrap()
            .mapping()
            .into_iter()
            .map(|(l, n)| (l.to_string(), n.to_string()))
            .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn named_entries_win_then_sorted_order() {
        assert_eq!(
            map("[users]\nbob = \"b\"\nalice = \"a\"\n"),
            pairs(&[("alice", "alice"), ("bob", "bob")])
        );
        assert_eq!(
            map("[users]\ndave = \"d\"\ncarol = \"c\"\n"),
            pairs(&[("alice", "carol"), ("bob", "dave")])
        );
        assert_eq!(
            map("[users]\nzed = \"z\"\nbob = \"b\"\namy = \"a\"\n"),
            pairs(&[("alice", "amy"), ("bob", "bob")])
        );
        assert_eq!(
            map("[users]\nalice = \"a\"\nzed = \"z\"\nmia = \"m\"\n"),
            pairs(&[("alice", "alice"), ("bob", "mia")])
        );
        let t = parse_tokens("[users]\nx = \"tx\"\ny = \"ty\"\n", "t").unwrap();
        assert_eq!(t.token("alice"), Some("tx"));
        assert_eq!(t.token("bob"), Some("ty"));
        assert_eq!(t.token("carol"), None);
    }

    #[test]
    fn debug_never_shows_a_token() {
        let t = parse_tokens("[users]\nalice = \"s3cr3t-a\"\nbob = \"s3cr3t-b\"\n", "t").unwrap();
        let d = format!("{t:?}");
        assert!(!d.contains("s3cr3t"), "{d}");
        assert!(d.contains("alice"), "{d}");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let err = |text: &str| parse_tokens(text, "tok.toml").unwrap_err().to_string();
        let e = err("[users]\nalice = \"a\"\n");
        assert!(
            e.contains("tok.toml") && e.contains("1 entry") && e.contains("at least 2"),
            "{e}"
        );
        let e = err("");
        assert!(e.contains("0 entries") && e.contains("no [users]"), "{e}");
        let e = err("this is not toml");
        assert!(e.contains("tok.toml is not a valid tokens file"), "{e}");
        let e = err("[users]\nalice = 1\nbob = \"b\"\n");
        assert!(e.contains("not a valid tokens file"), "{e}");
        let e = err("[user]\nalice = \"a\"\nbob = \"b\"\n");
        assert!(e.contains("unknown field `user`"), "{e}");
        let e = err("[users]\nalice = \"\"\nbob = \"b\"\n");
        assert!(e.contains("\"alice\" is empty"), "{e}");
        let e = err("[users]\nalice = \"a b\"\nbob = \"b\"\n");
        assert!(e.contains("whitespace"), "{e}");
        let e = load_tokens(Path::new("/nonexistent/tokens.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot read the tokens file /nonexistent/tokens.toml"),
            "{e}"
        );
    }

    #[test]
    fn server_urls() {
        assert_eq!(
            parse_server_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            parse_server_url("http://backup.internal/api/").unwrap(),
            "http://backup.internal/api"
        );
        assert_eq!(
            parse_server_url("https://x.example/").unwrap(),
            "https://x.example"
        );
        assert_eq!(
            parse_server_url("https://x.example:8443/api/").unwrap(),
            "https://x.example:8443/api"
        );
        assert!(
            parse_server_url("ftp://x.example")
                .unwrap_err()
                .to_string()
                .contains("https://host")
        );
        assert!(parse_server_url("localhost:8080").is_err());
        assert!(
            parse_server_url("not a url")
                .unwrap_err()
                .to_string()
                .contains("not a URL")
        );
        assert!(
            parse_server_url("http://h/?a=1")
                .unwrap_err()
                .to_string()
                .contains("query")
        );
        assert!(
            parse_server_url("http://u:p@h/")
                .unwrap_err()
                .to_string()
                .contains("tokens file")
        );
    }
}
