//! The history checker of the stress driver.
//!
//! A history is what concurrent clients did and saw, with the harness's own clock around
//! every operation (`invoke` before sending, `complete` after the answer). The checker
//! tests the properties a backup service owes its users under concurrency:
//!
//! 1. every acknowledged write has a unique version (`duplicate-version`);
//! 2. a write acknowledged with `If-Match: v` produced `v + 1`, a create produced 1
//!    (`wrong-successor`), and versions only grow in real time: a write that started after
//!    another was acknowledged got a larger version (`version-regressed`);
//! 3. every body read hashes to what was acknowledged for its version, or to a write still
//!    in flight or of unknown outcome; all reads of one version agree (`body-mismatch`);
//!    a read started after version v was acknowledged returns at least v (`stale-read`);
//! 4. the versions one client sees never go backwards (`client-went-back`);
//! 5. every contact added by an acknowledged write is in the final payload (`lost-update`).
//!
//! `check` returns the first violation found, naming the operations involved.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// The precondition a write was sent with, when the harness knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precondition {
    /// The write went through a client under test that chooses its own `If-Match`.
    Unknown,
    /// No `If-Match`: create version 1.
    Create,
    /// `If-Match: "v"`.
    IfMatch(u64),
}

/// How a write ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteResult {
    /// The server (or the client under test) acknowledged this version.
    Ack { version: u64 },
    /// Definitely not applied (409, 4xx).
    Rejected,
    /// No answer: it may or may not have been applied.
    Unknown,
}

/// How a read ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadResult {
    Ok { version: u64, sha256: String },
    NotFound,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    Write {
        precondition: Precondition,
        /// SHA-256 (hex) of the uploaded body, when the harness made it.
        sha256: Option<String>,
        /// Contact uuids this write added.
        adds: Vec<String>,
        result: WriteResult,
    },
    Read {
        result: ReadResult,
    },
}

/// One operation, bracketed by the harness's monotonic clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub id: usize,
    pub client: String,
    pub invoke: u64,
    pub complete: u64,
    pub kind: OpKind,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "op {} by {} [{}..{}]: ",
            self.id, self.client, self.invoke, self.complete
        )?;
        match &self.kind {
            OpKind::Write {
                precondition,
                sha256,
                adds,
                result,
            } => {
                write!(f, "write ")?;
                match precondition {
                    Precondition::Unknown => {}
                    Precondition::Create => write!(f, "(create) ")?,
                    Precondition::IfMatch(v) => write!(f, "If-Match {v} ")?,
                }
                if let Some(s) = sha256 {
                    write!(f, "sha256 {} ", short(s))?;
                }
                if !adds.is_empty() {
                    write!(f, "adding {} ", adds.join(","))?;
                }
                match result {
                    WriteResult::Ack { version } => write!(f, "→ acknowledged version {version}"),
                    WriteResult::Rejected => write!(f, "→ rejected"),
                    WriteResult::Unknown => write!(f, "→ no answer"),
                }
            }
            OpKind::Read { result } => match result {
                ReadResult::Ok { version, sha256 } => {
                    write!(f, "read → version {version} sha256 {}", short(sha256))
                }
                ReadResult::NotFound => write!(f, "read → not found"),
                ReadResult::Failed => write!(f, "read → failed"),
            },
        }
    }
}

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

/// What the stress driver recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub ops: Vec<Op>,
    /// Contact uuids of the final payload, restored after every writer finished.
    pub final_contacts: Option<Vec<String>>,
}

/// The first property that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Stable rule name: `duplicate-version`, `wrong-successor`, `version-regressed`,
    /// `body-mismatch`, `stale-read`, `client-went-back`, `lost-update`.
    pub rule: &'static str,
    pub message: String,
    pub ops: Vec<Op>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)?;
        for op in &self.ops {
            write!(f, "\n  {op}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}

fn violation(rule: &'static str, message: String, ops: &[&Op]) -> Violation {
    Violation {
        rule,
        message,
        ops: ops.iter().map(|o| (*o).clone()).collect(),
    }
}

/// Checks every property; `Ok` carries a one-line summary.
pub fn check(h: &History) -> Result<String, Violation> {
    let acks: Vec<(&Op, u64)> = h
        .ops
        .iter()
        .filter_map(|op| match &op.kind {
            OpKind::Write {
                result: WriteResult::Ack { version },
                ..
            } => Some((op, *version)),
            _ => None,
        })
        .collect();

    // 1. unique versions
    let mut by_version: BTreeMap<u64, &Op> = BTreeMap::new();
    for (op, v) in &acks {
        if let Some(prev) = by_version.insert(*v, op) {
            return Err(violation(
                "duplicate-version",
                format!("version {v} was acknowledged to two writes"),
                &[prev, op],
            ));
        }
    }

    // 2. successor and real-time growth
    for (op, v) in &acks {
        if let OpKind::Write { precondition, .. } = &op.kind {
            let expected = match precondition {
                Precondition::Unknown => None,
                Precondition::Create => Some(1),
                Precondition::IfMatch(m) => Some(m + 1),
            };
            if let Some(e) = expected
                && e != *v
            {
                return Err(violation(
                    "wrong-successor",
                    format!("acknowledged version {v}, the precondition implies {e}"),
                    &[op],
                ));
            }
        }
        for (other, u) in &acks {
            if other.complete < op.invoke && u >= v {
                return Err(violation(
                    "version-regressed",
                    format!(
                        "version {v} was acknowledged to a write started after version {u} was acknowledged"
                    ),
                    &[other, op],
                ));
            }
        }
    }

    // 3. reads
    let mut read_sha: BTreeMap<u64, &Op> = BTreeMap::new();
    for op in &h.ops {
        let OpKind::Read {
            result: ReadResult::Ok { version, sha256 },
        } = &op.kind
        else {
            continue;
        };
        if let Some(prev) = read_sha.get(version) {
            if let OpKind::Read {
                result: ReadResult::Ok {
                    sha256: prev_sha, ..
                },
            } = &prev.kind
                && prev_sha != sha256
            {
                return Err(violation(
                    "body-mismatch",
                    format!("two reads of version {version} returned different bodies"),
                    &[prev, op],
                ));
            }
        } else {
            read_sha.insert(*version, op);
        }
        match by_version.get(version) {
            Some(w) => {
                if let OpKind::Write {
                    sha256: Some(acked),
                    ..
                } = &w.kind
                    && acked != sha256
                {
                    return Err(violation(
                        "body-mismatch",
                        format!(
                            "read of version {version} returned a body other than the one acknowledged for it"
                        ),
                        &[w, op],
                    ));
                }
            }
            None => {
                // Not (yet) acknowledged: it must be explainable by a write in flight
                // during the read or one whose outcome is unknown.
                let explained = h.ops.iter().any(|w| match &w.kind {
                    OpKind::Write {
                        sha256: s, result, ..
                    } => {
                        let possible = matches!(result, WriteResult::Unknown)
                            || (matches!(result, WriteResult::Ack { .. })
                                && w.invoke <= op.complete);
                        possible && s.as_ref().is_none_or(|s| s == sha256)
                    }
                    OpKind::Read { .. } => false,
                });
                if !explained {
                    return Err(violation(
                        "body-mismatch",
                        format!(
                            "read of version {version} returned a body no write could have produced"
                        ),
                        &[op],
                    ));
                }
            }
        }
        for (w, v) in &acks {
            if w.complete < op.invoke && v > version {
                return Err(violation(
                    "stale-read",
                    format!(
                        "read returned version {version} after version {v} had been acknowledged"
                    ),
                    &[w, op],
                ));
            }
        }
    }

    // 4. per-client monotonic versions
    let mut per_client: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in &h.ops {
        per_client.entry(op.client.as_str()).or_default().push(op);
    }
    for ops in per_client.values_mut() {
        ops.sort_by_key(|o| (o.invoke, o.id));
        let mut last: Option<(&Op, u64)> = None;
        for op in ops.iter() {
            let seen = match &op.kind {
                OpKind::Write {
                    result: WriteResult::Ack { version },
                    ..
                } => Some(*version),
                OpKind::Read {
                    result: ReadResult::Ok { version, .. },
                } => Some(*version),
                _ => None,
            };
            let Some(v) = seen else { continue };
            if let Some((prev, pv)) = last
                && v < pv
            {
                return Err(violation(
                    "client-went-back",
                    format!("{} saw version {pv}, then version {v}", op.client),
                    &[prev, op],
                ));
            }
            last = Some((op, v));
        }
    }

    // 5. no lost update
    if let Some(final_contacts) = &h.final_contacts {
        let present: BTreeSet<&str> = final_contacts.iter().map(String::as_str).collect();
        for (op, _) in &acks {
            if let OpKind::Write { adds, .. } = &op.kind
                && let Some(missing) = adds.iter().find(|c| !present.contains(c.as_str()))
            {
                return Err(violation(
                    "lost-update",
                    format!("contact {missing} was acknowledged but is not in the final backup"),
                    &[op],
                ));
            }
        }
    }

    let reads = h
        .ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Read { .. }))
        .count();
    Ok(format!(
        "{} acknowledged writes (versions {}..={}), {} reads, {} clients: consistent",
        acks.len(),
        by_version.keys().next().copied().unwrap_or(0),
        by_version.keys().last().copied().unwrap_or(0),
        reads,
        per_client.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct B {
        ops: Vec<Op>,
    }

    impl B {
        fn new() -> B {
            B { ops: vec![] }
        }
        fn write(
            mut self,
            client: &str,
            t: (u64, u64),
            pre: Precondition,
            sha: &str,
            adds: &[&str],
            result: WriteResult,
        ) -> B {
            self.ops.push(Op {
                id: self.ops.len(),
                client: client.into(),
                invoke: t.0,
                complete: t.1,
                kind: OpKind::Write {
                    precondition: pre,
                    sha256: Some(sha.into()),
                    adds: adds.iter().map(|s| s.to_string()).collect(),
                    result,
                },
            });
            self
        }
        fn read(mut self, client: &str, t: (u64, u64), result: ReadResult) -> B {
            self.ops.push(Op {
                id: self.ops.len(),
                client: client.into(),
                invoke: t.0,
                complete: t.1,
                kind: OpKind::Read { result },
            });
            self
        }
        fn done(self, final_contacts: &[&str]) -> History {
            History {
                ops: self.ops,
                final_contacts: Some(final_contacts.iter().map(|s| s.to_string()).collect()),
            }
        }
    }

    fn ack(v: u64) -> WriteResult {
        WriteResult::Ack { version: v }
    }

    fn ok(v: u64, sha: &str) -> ReadResult {
        ReadResult::Ok {
            version: v,
            sha256: sha.into(),
        }
    }

    use Precondition::{Create, IfMatch};

    /// Two devices race; the loser is rejected, reads, merges and retries.
    fn clean() -> B {
        B::new()
            .write("a", (0, 1), Create, "s1", &["c1"], ack(1))
            .read("b", (2, 3), ok(1, "s1"))
            .read("a", (2, 3), ok(1, "s1"))
            .write("a", (4, 6), IfMatch(1), "s2", &["c2"], ack(2))
            .write(
                "b",
                (4, 7),
                IfMatch(1),
                "s3",
                &["c3"],
                WriteResult::Rejected,
            )
            .read("b", (8, 9), ok(2, "s2"))
            .write("b", (10, 11), IfMatch(2), "s4", &["c3"], ack(3))
            .read("a", (12, 13), ok(3, "s4"))
    }

    #[test]
    fn clean_history_passes() {
        let summary = check(&clean().done(&["c1", "c2", "c3"])).unwrap();
        assert!(summary.starts_with("3 acknowledged writes (versions 1..=3), 4 reads, 2 clients"));
    }

    #[test]
    fn concurrent_read_of_in_flight_write_is_fine() {
        let h = B::new()
            .write("a", (0, 1), Create, "s1", &[], ack(1))
            .write("a", (2, 10), IfMatch(1), "s2", &[], ack(2))
            .read("b", (3, 4), ok(2, "s2"))
            .done(&[]);
        assert!(check(&h).is_ok());
    }

    #[test]
    fn lost_update_is_caught() {
        // The final backup forgot c3 although its write was acknowledged.
        let err = check(&clean().done(&["c1", "c2"])).unwrap_err();
        assert_eq!(err.rule, "lost-update");
        assert!(err.message.contains("c3"));
        assert_eq!(err.ops.len(), 1);
        assert_eq!(err.ops[0].id, 6);
        assert!(err.to_string().contains("op 6 by b"));
    }

    #[test]
    fn duplicate_version_is_caught() {
        // An in-place overwrite (docs/API.md, write path): two writers both told "version 2".
        let h = B::new()
            .write("a", (0, 1), Create, "s1", &["c1"], ack(1))
            .write("a", (2, 4), IfMatch(1), "s2", &["c2"], ack(2))
            .write("b", (2, 5), IfMatch(1), "s3", &["c3"], ack(2))
            .done(&["c1", "c3"]);
        let err = check(&h).unwrap_err();
        assert_eq!(err.rule, "duplicate-version");
        let ids: Vec<usize> = err.ops.iter().map(|o| o.id).collect();
        assert_eq!(ids, [1, 2]);
    }

    #[test]
    fn stale_read_is_caught() {
        let h = B::new()
            .write("a", (0, 1), Create, "s1", &[], ack(1))
            .write("a", (2, 3), IfMatch(1), "s2", &[], ack(2))
            .read("b", (4, 5), ok(1, "s1"))
            .done(&[]);
        let err = check(&h).unwrap_err();
        assert_eq!(err.rule, "stale-read");
        assert_eq!(err.ops.iter().map(|o| o.id).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn new_body_under_old_version_is_caught() {
        // A crash between the S3 overwrite and the DB update serves s2 as version 1.
        let h = B::new()
            .write("a", (0, 1), Create, "s1", &[], ack(1))
            .write("a", (2, 3), IfMatch(1), "s2", &[], WriteResult::Unknown)
            .read("b", (4, 5), ok(1, "s2"))
            .done(&[]);
        let err = check(&h).unwrap_err();
        assert_eq!(err.rule, "body-mismatch");
    }

    #[test]
    fn wrong_successor_and_regression_are_caught() {
        let h = B::new()
            .write("a", (0, 1), Create, "s1", &[], ack(1))
            .write("a", (2, 3), IfMatch(1), "s2", &[], ack(3))
            .done(&[]);
        assert_eq!(check(&h).unwrap_err().rule, "wrong-successor");
        let mut h = B::new()
            .write("a", (0, 1), Create, "s1", &[], ack(5))
            .write("b", (2, 3), Create, "s2", &[], ack(4))
            .done(&[]);
        for op in &mut h.ops {
            if let OpKind::Write { precondition, .. } = &mut op.kind {
                *precondition = Precondition::Unknown;
            }
        }
        assert_eq!(check(&h).unwrap_err().rule, "version-regressed");
    }

    #[test]
    fn client_going_back_is_caught() {
        // Reads overlap the write (so not stale in real time), but one client sees 2 then 1.
        let h = B::new()
            .write("a", (0, 1), Create, "s1", &[], ack(1))
            .write("a", (2, 20), IfMatch(1), "s2", &[], ack(2))
            .read("b", (3, 4), ok(2, "s2"))
            .read("b", (5, 6), ok(1, "s1"))
            .done(&[]);
        assert_eq!(check(&h).unwrap_err().rule, "client-went-back");
    }

    #[test]
    fn unexplained_body_is_caught() {
        let h = B::new()
            .write("a", (0, 1), Create, "s1", &[], ack(1))
            .read("b", (2, 3), ok(2, "garbage"))
            .done(&[]);
        assert_eq!(check(&h).unwrap_err().rule, "body-mismatch");
    }
}
