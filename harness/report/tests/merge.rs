//! `merge` joins the shards of a run into the whole run's report: on the real reference run
//! (reports/reference.snap.json), every split merges back to the same snapshot bytes; and
//! every way of merging the wrong things is refused with the files named.

use std::path::Path;

use backproof_report::{MergeError, Report, merge};

mod common;

fn reference() -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reports/reference.snap.json");
    Report::load(&path).expect("the reference report loads")
}

/// The report `backproof run --shard k/n` would write for the reference run: its share of
/// the cases, its own timings.
fn shard_of(whole: &Report, k: u32, n: u32) -> Report {
    let mut r = common::shard_of(whole, k, n);
    r.timings.started_at = format!("2026-01-31T12:00:0{k}Z");
    r.timings.wall_ms = 1000 * u64::from(k);
    r.timings.cases = r
        .cases
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.clone(), i as u64))
        .collect();
    r
}

fn named(reports: Vec<Report>) -> Vec<(String, Report)> {
    reports
        .into_iter()
        .map(|r| {
            let name = match r.shard {
                Some(s) => format!("shard-{}-of-{}.json", s.index, s.count),
                None => "whole.json".into(),
            };
            (name, r)
        })
        .collect()
}

#[test]
fn shards_of_the_reference_run_merge_back_to_its_snapshot() {
    let whole = reference();
    assert!(whole.cases.len() > 200, "a real run: {}", whole.cases.len());
    for n in [1, 2, 3, 4, 7] {
        let shards: Vec<Report> = (1..=n).map(|k| shard_of(&whole, k, n)).collect();
        // Dealt evenly, and a shard's snapshot says it is one.
        let sizes: Vec<usize> = shards.iter().map(|s| s.cases.len()).collect();
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{n}: {sizes:?}"
        );
        assert_eq!(
            shards[0].snapshot()["shard"],
            serde_json::json!({"index": 1, "count": n})
        );
        // Any order of the files.
        let mut files = named(shards);
        files.reverse();
        let merged = merge(&files).unwrap();
        assert_eq!(merged.snapshot_json(), whole.snapshot_json(), "{n} shards");
        assert_eq!(merged.shard, None);
        assert_eq!(merged.totals, whole.totals);
        // Timings: every case once, the earliest start, the longest wall.
        assert_eq!(merged.timings.cases.len(), whole.cases.len());
        assert_eq!(merged.timings.started_at, "2026-01-31T12:00:01Z");
        assert_eq!(merged.timings.wall_ms, 1000 * u64::from(n));
        // What a report file goes through: written, read back, merged.
        let reloaded: Vec<(String, Report)> = files
            .iter()
            .map(|(name, r)| {
                (
                    name.clone(),
                    Report::from_json_str(&r.to_json(), name).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            merge(&reloaded).unwrap().snapshot_json(),
            whole.snapshot_json()
        );
    }
}

#[test]
fn a_lost_case_shows_in_the_snapshot() {
    // The comparison the tests rely on can fail: a merge missing one case differs.
    let whole = reference();
    let mut shards: Vec<Report> = (1..=4).map(|k| shard_of(&whole, k, 4)).collect();
    shards[2].cases.pop();
    shards[2].totals = backproof_report::Totals::from_cases(&shards[2].cases);
    let merged = merge(&named(shards)).unwrap();
    assert_ne!(merged.snapshot_json(), whole.snapshot_json());
}

#[test]
fn missing_repeated_and_foreign_shards_are_refused() {
    let whole = reference();
    let s = |k| shard_of(&whole, k, 4);

    let e = merge(&named(vec![s(1), s(2), s(4)])).unwrap_err();
    assert!(
        matches!(&e, MergeError::MissingShards { missing, count: 4 } if missing == "3/4"),
        "{e}"
    );

    let e = merge(&named(vec![s(1), s(2), s(3), s(4), s(2)])).unwrap_err();
    assert!(matches!(&e, MergeError::DuplicateShard { .. }), "{e}");
    assert!(e.to_string().contains("shard 2/4 is given twice"), "{e}");

    let e = merge(&named(vec![s(1), s(2), s(3), shard_of(&whole, 4, 5)])).unwrap_err();
    assert!(matches!(&e, MergeError::Count { .. }), "{e}");

    let e = merge(&named(vec![s(1), whole.clone()])).unwrap_err();
    assert!(matches!(&e, MergeError::Mixed { .. }), "{e}");

    assert_eq!(merge(&[]).unwrap_err(), MergeError::Empty);
}

#[test]
fn different_suites_targets_and_stacks_are_refused_with_the_files_named() {
    let whole = reference();
    let mut other_suite = shard_of(&whole, 2, 2);
    other_suite.suite.scenarios_digest = "sha256:another".into();
    let e = merge(&named(vec![shard_of(&whole, 1, 2), other_suite])).unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(&e, MergeError::Different { field: "suite", .. }),
        "{text}"
    );
    assert!(
        text.contains("shard-2-of-2.json") && text.contains("shard-1-of-2.json"),
        "{text}"
    );

    let mut other_target = shard_of(&whole, 2, 2);
    other_target.target.client = "someone else's client".into();
    let e = merge(&named(vec![shard_of(&whole, 1, 2), other_target])).unwrap_err();
    assert!(
        matches!(
            &e,
            MergeError::Different {
                field: "target",
                ..
            }
        ),
        "{e}"
    );

    let mut other_stack = shard_of(&whole, 2, 2);
    other_stack.stack = "minio".into();
    let e = merge(&named(vec![shard_of(&whole, 1, 2), other_stack])).unwrap_err();
    assert!(
        matches!(&e, MergeError::Different { field: "stack", .. }),
        "{e}"
    );
}

#[test]
fn a_case_in_two_reports_is_refused() {
    let whole = reference();
    // Two whole reports of overlapping selections.
    let protocol: Vec<_> = whole
        .cases
        .iter()
        .filter(|c| c.family == "protocol")
        .cloned()
        .collect();
    let first = protocol[0].id.clone();
    let a = Report::from_cases(
        whole.suite.clone(),
        whole.target.clone(),
        whole.stack.clone(),
        protocol.clone(),
        vec![],
        Default::default(),
    );
    let b = Report::from_cases(
        whole.suite.clone(),
        whole.target.clone(),
        whole.stack.clone(),
        protocol[..1].to_vec(),
        vec![],
        Default::default(),
    );
    let e = merge(&[("a.json".into(), a.clone()), ("b.json".into(), b)]).unwrap_err();
    assert_eq!(
        e,
        MergeError::DuplicateCase {
            id: first,
            first: "a.json".into(),
            second: "b.json".into()
        }
    );
    // Disjoint whole reports merge: protocol + everything else is the whole run.
    let rest = Report::from_cases(
        whole.suite.clone(),
        whole.target.clone(),
        whole.stack.clone(),
        whole
            .cases
            .iter()
            .filter(|c| c.family != "protocol")
            .cloned()
            .collect(),
        whole.deviations.clone(),
        Default::default(),
    );
    let merged = merge(&[("a.json".into(), a), ("rest.json".into(), rest)]).unwrap();
    assert_eq!(merged.snapshot_json(), whole.snapshot_json());
}

#[test]
fn family_time_is_the_sum_of_its_cases() {
    let mut r = reference();
    r.timings.cases.clear();
    let protocol: Vec<String> = r
        .cases
        .iter()
        .filter(|c| c.family == "protocol")
        .map(|c| c.id.clone())
        .take(3)
        .collect();
    for (i, id) in protocol.iter().enumerate() {
        r.timings.cases.insert(id.clone(), 100 * (i as u64 + 1));
    }
    let families = r.family_millis();
    let get = |f: &str| families.iter().find(|(n, _)| n == f).map(|(_, ms)| *ms);
    assert_eq!(get("protocol"), Some(600));
    assert_eq!(get("conflict"), Some(0), "no timings: 0, still listed");
    // Report order: vectors first, protocol last.
    assert_eq!(families.first().unwrap().0, "vectors");
    assert_eq!(families.last().unwrap().0, "protocol");
}
