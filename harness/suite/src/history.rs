//! The history checker of the stress driver (docs/SCENARIOS.md, "The stress driver").
//!
//! A history is what concurrent clients did and saw, with the harness's own clock around
//! every operation (`invoke` before sending, `complete` after the answer). Writes and reads
//! are the exchanges seen on the wire (what was sent, what was answered); claims are what
//! the client under test reported for a backup. The checker tests the properties a backup
//! service owes its users under concurrency:
//!
//! 0. no request is answered 5xx (`server-error`), every read gets an answer, 200 or 404
//!    (`read-failed`), and an acknowledged write's reported SHA-256 is that of the body
//!    sent (`ack-mismatch`);
//! 1. every acknowledged write has a unique version (`duplicate-version`);
//! 2. a write acknowledged with `If-Match: v` produced `v + 1`, a create produced 1
//!    (`wrong-successor`), and versions only grow in real time: a write that started after
//!    another was acknowledged got a larger version (`version-regressed`);
//! 3. every body read hashes to what was acknowledged for its version, or to a write still
//!    in flight or of unknown outcome; all reads of one version agree (`body-mismatch`);
//!    a read started after version v was acknowledged returns at least v (`stale-read`);
//! 4. the versions one client sees never go backwards (`client-went-back`);
//! 5. every version a client reported was acknowledged on the wire (`unacknowledged-claim`),
//!    and every contact added by an acknowledged write or claim is in the final payload
//!    (`lost-update`).
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
    /// The server acknowledged this version (and, when it said, this body hash).
    Ack {
        version: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
    /// Definitely not applied (409, 4xx).
    Rejected,
    /// No answer: it may or may not have been applied.
    Unknown,
    /// Answered 5xx.
    ServerError { status: u16 },
}

/// How a read ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadResult {
    Ok {
        version: u64,
        sha256: String,
    },
    NotFound,
    /// No answer.
    Failed,
    /// Answered with a status other than 200 or 404.
    Status {
        status: u16,
    },
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
    /// The client under test reported that its backup adding `adds` became `version`.
    Claim {
        adds: Vec<String>,
        version: u64,
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
                    WriteResult::Ack { version, sha256 } => {
                        write!(f, "→ acknowledged version {version}")?;
                        match sha256 {
                            Some(s) => write!(f, " sha256 {}", short(s)),
                            None => Ok(()),
                        }
                    }
                    WriteResult::Rejected => write!(f, "→ rejected"),
                    WriteResult::Unknown => write!(f, "→ no answer"),
                    WriteResult::ServerError { status } => write!(f, "→ {status}"),
                }
            }
            OpKind::Read { result } => match result {
                ReadResult::Ok { version, sha256 } => {
                    write!(f, "read → version {version} sha256 {}", short(sha256))
                }
                ReadResult::NotFound => write!(f, "read → not found"),
                ReadResult::Failed => write!(f, "read → no answer"),
                ReadResult::Status { status } => write!(f, "read → {status}"),
            },
            OpKind::Claim { adds, version } => write!(
                f,
                "client reported version {version} for its backup adding {}",
                adds.join(",")
            ),
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
    /// Stable rule name: `server-error`, `read-failed`, `ack-mismatch`,
    /// `duplicate-version`, `wrong-successor`, `version-regressed`, `body-mismatch`,
    /// `stale-read`, `client-went-back`, `unacknowledged-claim`, `lost-update`.
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

/// How much concurrency a history shows: a history without conflicts or without reads
/// overlapping writes proves nothing about races, whatever the checker says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Concurrency {
    /// Write attempts on the wire.
    pub writes: usize,
    /// Write attempts refused (409 or another 4xx): lost compare-and-set races.
    pub conflicts: usize,
    /// Write attempts that overlapped in time another write attempt.
    pub overlapping_writes: usize,
    /// Reads.
    pub reads: usize,
    /// Reads that overlapped in time a write attempt.
    pub overlapping_reads: usize,
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} write attempts ({} overlapping another, {} conflicts), {} reads ({} overlapping a write)",
            self.writes,
            self.overlapping_writes,
            self.conflicts,
            self.reads,
            self.overlapping_reads
        )
    }
}

fn overlaps(a: &Op, b: &Op) -> bool {
    a.invoke <= b.complete && b.invoke <= a.complete
}

/// Counts the concurrency a history shows.
pub fn concurrency(h: &History) -> Concurrency {
    let writes: Vec<&Op> = h
        .ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Write { .. }))
        .collect();
    let reads: Vec<&Op> = h
        .ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Read { .. }))
        .collect();
    Concurrency {
        writes: writes.len(),
        conflicts: writes
            .iter()
            .filter(|o| {
                matches!(
                    o.kind,
                    OpKind::Write {
                        result: WriteResult::Rejected,
                        ..
                    }
                )
            })
            .count(),
        overlapping_writes: writes
            .iter()
            .filter(|a| writes.iter().any(|b| a.id != b.id && overlaps(a, b)))
            .count(),
        reads: reads.len(),
        overlapping_reads: reads
            .iter()
            .filter(|r| writes.iter().any(|w| overlaps(r, w)))
            .count(),
    }
}

/// Checks every property; `Ok` carries a one-line summary.
pub fn check(h: &History) -> Result<String, Violation> {
    // 0. every answer is one a correct server gives
    for op in &h.ops {
        match &op.kind {
            OpKind::Write {
                result: WriteResult::ServerError { status },
                ..
            }
            | OpKind::Read {
                result: ReadResult::Status { status },
            } if *status >= 500 => {
                return Err(violation(
                    "server-error",
                    format!("the server answered {status} under concurrent load"),
                    &[op],
                ));
            }
            OpKind::Read {
                result: ReadResult::Status { status },
            } => {
                return Err(violation(
                    "read-failed",
                    format!("a read was answered {status}, not 200 or 404"),
                    &[op],
                ));
            }
            OpKind::Read {
                result: ReadResult::Failed,
            } => {
                return Err(violation(
                    "read-failed",
                    "a read got no answer".into(),
                    &[op],
                ));
            }
            OpKind::Write {
                sha256: Some(sent),
                result:
                    WriteResult::Ack {
                        sha256: Some(acked),
                        version,
                    },
                ..
            } if sent != acked => {
                return Err(violation(
                    "ack-mismatch",
                    format!(
                        "version {version} was acknowledged with sha256 {}, the body sent hashes to {}",
                        short(acked),
                        short(sent)
                    ),
                    &[op],
                ));
            }
            _ => {}
        }
    }

    let acks: Vec<(&Op, u64)> = h
        .ops
        .iter()
        .filter_map(|op| match &op.kind {
            OpKind::Write {
                result: WriteResult::Ack { version, .. },
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
                    OpKind::Read { .. } | OpKind::Claim { .. } => false,
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
                    result: WriteResult::Ack { version, .. },
                    ..
                } => Some(*version),
                OpKind::Read {
                    result: ReadResult::Ok { version, .. },
                } => Some(*version),
                OpKind::Claim { version, .. } => Some(*version),
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

    // 5. claims are backed by the wire, no lost update
    let claims: Vec<&Op> = h
        .ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Claim { .. }))
        .collect();
    for op in &claims {
        if let OpKind::Claim { version, .. } = &op.kind
            && !by_version.contains_key(version)
        {
            return Err(violation(
                "unacknowledged-claim",
                format!("the client reported version {version}, which no write was acknowledged"),
                &[op],
            ));
        }
    }
    if let Some(final_contacts) = &h.final_contacts {
        let present: BTreeSet<&str> = final_contacts.iter().map(String::as_str).collect();
        for op in acks.iter().map(|(op, _)| *op).chain(claims.iter().copied()) {
            let adds = match &op.kind {
                OpKind::Write { adds, .. } | OpKind::Claim { adds, .. } => adds,
                OpKind::Read { .. } => continue,
            };
            if let Some(missing) = adds.iter().find(|c| !present.contains(c.as_str())) {
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
        WriteResult::Ack {
            version: v,
            sha256: None,
        }
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

    fn claim(mut b: B, client: &str, t: (u64, u64), adds: &[&str], version: u64) -> B {
        b.ops.push(Op {
            id: b.ops.len(),
            client: client.into(),
            invoke: t.0,
            complete: t.1,
            kind: OpKind::Claim {
                adds: adds.iter().map(|s| s.to_string()).collect(),
                version,
            },
        });
        b
    }

    #[test]
    fn read_answered_500_is_caught() {
        // A GET racing an update whose object was just deleted, answered 500.
        let h = clean()
            .read("r", (5, 6), ReadResult::Status { status: 500 })
            .done(&["c1", "c2", "c3"]);
        let err = check(&h).unwrap_err();
        assert_eq!(err.rule, "server-error");
        assert_eq!(err.ops[0].id, 8);
        assert!(err.to_string().contains("read → 500"), "{err}");
    }

    #[test]
    fn write_answered_503_is_caught() {
        let h = clean()
            .write(
                "c",
                (14, 15),
                IfMatch(3),
                "s5",
                &[],
                WriteResult::ServerError { status: 503 },
            )
            .done(&["c1", "c2", "c3"]);
        let err = check(&h).unwrap_err();
        assert_eq!(err.rule, "server-error");
        assert!(err.to_string().contains("write If-Match 3"), "{err}");
    }

    #[test]
    fn unanswered_or_odd_read_is_caught() {
        let h = clean()
            .read("r", (5, 6), ReadResult::Failed)
            .done(&["c1", "c2", "c3"]);
        assert_eq!(check(&h).unwrap_err().rule, "read-failed");
        let h = clean()
            .read("r", (5, 6), ReadResult::Status { status: 401 })
            .done(&["c1", "c2", "c3"]);
        assert_eq!(check(&h).unwrap_err().rule, "read-failed");
    }

    #[test]
    fn acknowledged_hash_of_another_body_is_caught() {
        let h = B::new()
            .write(
                "a",
                (0, 1),
                Create,
                "s1",
                &[],
                WriteResult::Ack {
                    version: 1,
                    sha256: Some("other".into()),
                },
            )
            .done(&[]);
        assert_eq!(check(&h).unwrap_err().rule, "ack-mismatch");
        let h = B::new()
            .write(
                "a",
                (0, 1),
                Create,
                "s1",
                &[],
                WriteResult::Ack {
                    version: 1,
                    sha256: Some("s1".into()),
                },
            )
            .done(&[]);
        assert!(check(&h).is_ok());
    }

    #[test]
    fn read_of_a_version_with_another_body_is_caught() {
        // Version 2 was acknowledged for s2; a later read serves s3 under that version.
        let h = B::new()
            .write("a", (0, 1), Create, "s1", &[], ack(1))
            .write("a", (2, 3), IfMatch(1), "s2", &[], ack(2))
            .read("b", (4, 5), ok(2, "s3"))
            .done(&[]);
        let err = check(&h).unwrap_err();
        assert_eq!(err.rule, "body-mismatch");
        assert_eq!(err.ops.iter().map(|o| o.id).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn claim_without_a_wire_ack_is_caught() {
        let h = claim(clean(), "b", (10, 12), &["c3"], 4).done(&["c1", "c2", "c3"]);
        assert_eq!(check(&h).unwrap_err().rule, "unacknowledged-claim");
        let h = claim(clean(), "b", (10, 12), &["c3"], 3).done(&["c1", "c2", "c3"]);
        assert!(check(&h).is_ok());
    }

    #[test]
    fn claimed_contact_missing_at_the_end_is_caught() {
        // The wire writes carry no contacts (ciphertext); the claim does.
        let h = claim(clean(), "b", (10, 12), &["c9"], 3).done(&["c1", "c2", "c3"]);
        let err = check(&h).unwrap_err();
        assert_eq!(err.rule, "lost-update");
        assert!(err.message.contains("c9"));
    }

    #[test]
    fn concurrency_is_counted_from_the_history() {
        let c = concurrency(&clean().done(&[]));
        assert_eq!(
            c,
            Concurrency {
                writes: 4,
                conflicts: 1,
                overlapping_writes: 2,
                reads: 4,
                overlapping_reads: 0,
            }
        );
        let c = concurrency(
            &B::new()
                .write("a", (0, 10), Create, "s1", &[], ack(1))
                .read("b", (5, 6), ReadResult::NotFound)
                .read("b", (11, 12), ok(1, "s1"))
                .done(&[]),
        );
        assert_eq!((c.reads, c.overlapping_reads, c.conflicts), (2, 1, 0));
    }
}
