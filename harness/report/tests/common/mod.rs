//! Crafted reports shared by the integration tests. They are built from the public model
//! only, the way `backproof run` builds them.
#![allow(dead_code)]

use std::collections::BTreeMap;

use backproof_report::{
    CaseResult, Deviation, Outcome, Report, Shard, SuiteInfo, TargetInfo, Timings,
};

pub const FAILING_ID: &str = "conflict/lost-update";
pub const FAILING_EXPECTED: &str = "second writer gets 409 conflict";
pub const FAILING_OBSERVED: &str = "second writer got 200; the first writer's contacts were lost";

pub fn case(
    id: &str,
    outcome: Outcome,
    expected: &str,
    observed: &str,
    reason: &str,
) -> CaseResult {
    let family = id.split('/').next().unwrap_or("protocol").to_string();
    CaseResult {
        id: id.to_string(),
        family,
        title: format!("title of {id}"),
        outcome,
        expected: expected.to_string(),
        observed: observed.to_string(),
        reason: reason.to_string(),
    }
}

pub fn suite() -> SuiteInfo {
    SuiteInfo {
        name: "backproof".into(),
        version: "0.1.0".into(),
        vectors_digest: "sha256:7d1c0f3e9a".into(),
        scenarios_digest: "sha256:4b2a99e1c0".into(),
    }
}

pub fn target(name: &str) -> TargetInfo {
    TargetInfo {
        server: name.into(),
        client: name.into(),
        capabilities: vec!["restart".into(), "storage".into(), "op:recover".into()],
    }
}

/// Every outcome at least once, and exactly one injected `fail` (FAILING_ID).
pub fn cases_with_one_failure() -> Vec<CaseResult> {
    use Outcome::*;
    vec![
        case("vectors/blob-v1/1", Pass, "ok", "ok", ""),
        case("vectors/blob-v1/2", Pass, "wrong_key", "wrong_key", ""),
        case("vectors/argon2id/1", Pass, "ok", "ok", ""),
        case(
            "conflict/two-writers",
            PassAcceptable,
            "409 conflict",
            "428 precondition required",
            "428 is an accepted alternative to 409",
        ),
        case(
            FAILING_ID,
            Fail,
            FAILING_EXPECTED,
            FAILING_OBSERVED,
            "the server overwrote version 3 in place",
        ),
        case(
            "wrong-passphrase/restore",
            Pass,
            "wrong_key",
            "wrong_key",
            "",
        ),
        case(
            "corrupted-blob/flipped-tag",
            Pass,
            "corrupted",
            "corrupted",
            "",
        ),
        case(
            "mid-rotation-crash/kill-after-upload",
            Unsupported,
            "old or new passphrase restores",
            "not run",
            "target given by URL: cannot restart the server",
        ),
        case(
            "smart-recovery/second-candidate",
            Pass,
            "matched b",
            "matched b",
            "",
        ),
        case("protocol/hello", Pass, "protocol 1", "protocol 1", ""),
    ]
}

pub fn timings(cases: &[CaseResult]) -> Timings {
    Timings {
        started_at: "2026-11-23T14:00:00Z".into(),
        wall_ms: 12_345,
        cases: cases
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), 100 + i as u64 * 7))
            .collect::<BTreeMap<_, _>>(),
    }
}

pub fn report_with_one_failure() -> Report {
    let cases = cases_with_one_failure();
    let t = timings(&cases);
    Report::from_cases(
        suite(),
        target("acme-backup 2.3"),
        "local (initdb + s3s-fs)",
        cases,
        Vec::new(),
        t,
    )
}

pub fn all_passing(name: &str) -> Report {
    let cases: Vec<CaseResult> = cases_with_one_failure()
        .into_iter()
        .map(|mut c| {
            if c.outcome.is_failing() {
                c.outcome = Outcome::Pass;
                c.observed = c.expected.clone();
                c.reason.clear();
            }
            c
        })
        .collect();
    let t = timings(&cases);
    Report::from_cases(
        suite(),
        target(name),
        "local (initdb + s3s-fs)",
        cases,
        Vec::new(),
        t,
    )
}

pub fn deviation(case: &str, reason: &str) -> Deviation {
    Deviation {
        case: case.into(),
        reason: reason.into(),
    }
}

/// A bigger report for the browser test and the README screenshot: many vector cases,
/// every family, two failures, one error, a deviation.
pub fn large_report(name: &str, faulty: bool) -> Report {
    use Outcome::*;
    let mut cases = Vec::new();
    for i in 1..=60 {
        cases.push(case(
            &format!("vectors/blob-v1/{i:03}"),
            Pass,
            "ok",
            "ok",
            "",
        ));
    }
    for i in 1..=24 {
        cases.push(case(
            &format!("vectors/argon2id/{i:03}"),
            Pass,
            "ok",
            "ok",
            "",
        ));
    }
    let families = [
        "conflict",
        "wrong-passphrase",
        "corrupted-blob",
        "mid-rotation-crash",
        "smart-recovery",
        "protocol",
    ];
    for f in families {
        for i in 1..=9 {
            cases.push(case(
                &format!("{f}/case-{i:02}"),
                Pass,
                "as specified",
                "as specified",
                "",
            ));
        }
    }
    let set = |cases: &mut Vec<CaseResult>, id: &str, o: Outcome, e: &str, obs: &str, r: &str| {
        let c = cases
            .iter_mut()
            .find(|c| c.id == id)
            .expect("crafted id exists");
        c.outcome = o;
        c.expected = e.into();
        c.observed = obs.into();
        c.reason = r.into();
    };
    set(
        &mut cases,
        "conflict/case-02",
        PassAcceptable,
        "409 conflict",
        "428 precondition required",
        "428 is an accepted alternative",
    );
    set(
        &mut cases,
        "mid-rotation-crash/case-07",
        Unsupported,
        "restore with either passphrase",
        "not run",
        "no restart capability",
    );
    if faulty {
        set(
            &mut cases,
            FAILING_ID_LARGE,
            Fail,
            FAILING_EXPECTED,
            FAILING_OBSERVED,
            "server overwrote the stored version in place",
        );
        set(
            &mut cases,
            "corrupted-blob/case-04",
            Fail,
            "corrupted",
            "wrong_key",
            "tag damage reported as a wrong passphrase",
        );
        set(
            &mut cases,
            "protocol/case-09",
            Error,
            "adapter answers hello",
            "adapter exited with status 127",
            "infrastructure: adapter command not found",
        );
        set(
            &mut cases,
            "wrong-passphrase/case-03",
            Fail,
            "wrong_key after 1 attempt",
            "wrong_key after 3 attempts",
            "retries the KDF",
        );
    }
    let devs = if faulty {
        vec![deviation(
            "wrong-passphrase/case-03",
            "we retry twice on purpose (flaky storage)",
        )]
    } else {
        vec![]
    };
    let t = timings(&cases);
    Report::from_cases(
        suite(),
        target(name),
        "local (initdb + s3s-fs)",
        cases,
        devs,
        t,
    )
}

pub const FAILING_ID_LARGE: &str = "conflict/case-05";

/// The report `backproof run --shard k/n` would start from: `whole`'s share of the cases,
/// with its suite, target, stack and deviations, and fresh timings.
pub fn shard_of(whole: &Report, k: u32, n: u32) -> Report {
    let shard = Shard::new(k, n).unwrap();
    let mine = shard.select(whole.cases.iter().map(|c| c.id.as_str()));
    let mut r = Report::from_cases(
        whole.suite.clone(),
        whole.target.clone(),
        whole.stack.clone(),
        whole
            .cases
            .iter()
            .filter(|c| mine.contains(&c.id.as_str()))
            .cloned()
            .collect(),
        whole.deviations.clone(),
        Default::default(),
    );
    r.shard = Some(shard);
    r
}

/// reports/schema.json, the document every report must match.
pub fn report_schema() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reports/schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
