//! Shards and their merge: `backproof run --shard K/N` runs a deterministic share of the
//! selected cases, and [`merge`] joins the N reports into the one a whole run writes
//! (docs/GATE.md, "Sharding").

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Report, Timings};

/// Share `index` of `count` (1-based, like nextest's `--partition count:K/N`).
///
/// The selected cases — scenarios and vectors together — are sorted by id; the case at
/// position `p` (0-based) belongs to share `p mod count + 1`. Round-robin over the sorted ids
/// rather than a hash: every share gets the same number of cases (±1), neighbours in id
/// order (the cases of one family, such as the two stress cases) land on different shares,
/// and the assignment depends only on the ids, never on timings or the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// 1..=count.
    pub index: u32,
    pub count: u32,
}

/// A `--shard` value that is not `K/N` with 1 ≤ K ≤ N.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad shard {given:?}: {why}; expected K/N with 1 <= K <= N, e.g. 2/4")]
pub struct ShardError {
    pub given: String,
    pub why: &'static str,
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        let err = |why| ShardError {
            given: format!("{index}/{count}"),
            why,
        };
        if count == 0 {
            return Err(err("N must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(err("K must be between 1 and N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether the case at `position` of the sorted selection belongs to this share.
    pub fn owns(&self, position: usize) -> bool {
        position % self.count as usize == (self.index - 1) as usize
    }

    /// The ids of this share, from all selected ids (sorted here, duplicates ignored).
    pub fn select<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        let mut all: Vec<&str> = ids.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        all.into_iter()
            .enumerate()
            .filter(|(p, _)| self.owns(*p))
            .map(|(_, id)| id)
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let err = |why| ShardError {
            given: s.to_string(),
            why,
        };
        let (k, n) = s.split_once('/').ok_or_else(|| err("no '/'"))?;
        let k: u32 = k.trim().parse().map_err(|_| err("K is not a number"))?;
        let n: u32 = n.trim().parse().map_err(|_| err("N is not a number"))?;
        Shard::new(k, n).map_err(|e| err(e.why))
    }
}

/// Why reports cannot be merged. Each names the files involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: give the report JSON of every shard")]
    Empty,
    #[error(
        "{file} and {first} differ in `{field}` ({found:?} vs {expected:?}): only shards of one run \
         (same suite files, same target, same stack) can be merged"
    )]
    Different {
        field: &'static str,
        first: String,
        file: String,
        expected: String,
        found: String,
    },
    #[error(
        "case {id:?} is in both {first} and {second}: the same shard given twice, or reports of overlapping runs"
    )]
    DuplicateCase {
        id: String,
        first: String,
        second: String,
    },
    #[error(
        "{sharded} is shard {shard} but {whole} is not a shard: merge either all N shards of one run \
         or reports of disjoint whole runs (e.g. different --filter), not both"
    )]
    Mixed {
        sharded: String,
        shard: Shard,
        whole: String,
    },
    #[error(
        "{file} is shard {found} but {first} is shard {expected}: all shards must split the run into the same N"
    )]
    Count {
        first: String,
        expected: Shard,
        file: String,
        found: Shard,
    },
    #[error("shard {shard} is given twice ({first} and {second})")]
    DuplicateShard {
        shard: Shard,
        first: String,
        second: String,
    },
    #[error(
        "shard(s) {missing} of {count} missing: a merge without them would silently lack their cases"
    )]
    MissingShards { missing: String, count: u32 },
}

/// Joins reports into one: the shards `1/N`..`N/N` of one run (all of them, each once), or
/// whole reports of disjoint selections. The merged report has every case once, sorted by id,
/// the totals recounted, the deviations of all inputs, no `shard`, so its snapshot equals
/// the one of an unsharded run of the same selection. `suite`, `target` and `stack` must be
/// equal in all inputs. Timings: every case's milliseconds, the earliest start, and the
/// longest wall time (the shards ran side by side). Measured guess rates (`kdf_speed`): those
/// of the lowest shard that has them.
///
/// `reports` pairs each report with a name for messages (its file name).
pub fn merge(reports: &[(String, Report)]) -> Result<Report, MergeError> {
    let Some((first_name, first)) = reports.first() else {
        return Err(MergeError::Empty);
    };
    for (name, r) in &reports[1..] {
        let differ = |field, expected: String, found: String| MergeError::Different {
            field,
            first: first_name.clone(),
            file: name.clone(),
            expected,
            found,
        };
        if r.suite != first.suite {
            return Err(differ(
                "suite",
                format!("{:?}", first.suite),
                format!("{:?}", r.suite),
            ));
        }
        if r.target != first.target {
            return Err(differ(
                "target",
                format!("{:?}", first.target),
                format!("{:?}", r.target),
            ));
        }
        if r.stack != first.stack {
            return Err(differ("stack", first.stack.clone(), r.stack.clone()));
        }
    }
    check_shards(reports)?;

    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    let mut cases = Vec::new();
    let mut deviations = Vec::new();
    let mut advisories: BTreeMap<(String, String), crate::Advisory> = BTreeMap::new();
    let mut timings = Timings::default();
    for (name, r) in reports {
        // Each shard lists a profile's advisories with the cases it ran that show them.
        for a in &r.advisories {
            let entry = advisories
                .entry((a.profile.clone(), a.id.clone()))
                .or_insert_with(|| crate::Advisory {
                    shown_by: Vec::new(),
                    ..a.clone()
                });
            entry.shown_by.extend(a.shown_by.iter().cloned());
            entry.shown_by.sort();
            entry.shown_by.dedup();
        }
        for c in &r.cases {
            if let Some(prev) = owner.insert(c.id.as_str(), name.as_str()) {
                return Err(MergeError::DuplicateCase {
                    id: c.id.clone(),
                    first: prev.to_string(),
                    second: name.clone(),
                });
            }
            cases.push(c.clone());
        }
        deviations.extend(r.deviations.iter().cloned());
        let t = &r.timings;
        if !t.started_at.is_empty()
            && (timings.started_at.is_empty() || t.started_at < timings.started_at)
        {
            // RFC 3339 UTC to the second: text order is time order.
            timings.started_at = t.started_at.clone();
        }
        timings.wall_ms = timings.wall_ms.max(t.wall_ms);
        timings
            .cases
            .extend(t.cases.iter().map(|(k, v)| (k.clone(), *v)));
    }
    let mut merged = Report::from_cases(
        first.suite.clone(),
        first.target.clone(),
        first.stack.clone(),
        cases,
        deviations,
        timings,
    );
    merged.advisories = advisories.into_values().collect();
    // Each shard that ran noah-v0 measured on its own machine, side by side with the other
    // shards: keep one measurement whole (both rates come from one machine, or the ratio
    // means nothing), the lowest shard's, so the choice does not depend on argument order.
    merged.kdf_speed = reports
        .iter()
        .enumerate()
        .filter_map(|(i, (_, r))| {
            r.kdf_speed
                .as_ref()
                .map(|k| ((r.shard.map(|s| s.index), i), k))
        })
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, k)| k.clone());
    Ok(merged)
}

/// All inputs shards of one N, each index once and none missing — or none a shard.
fn check_shards(reports: &[(String, Report)]) -> Result<(), MergeError> {
    let sharded: Vec<(&String, Shard)> = reports
        .iter()
        .filter_map(|(n, r)| r.shard.map(|s| (n, s)))
        .collect();
    let Some(&(first_name, first)) = sharded.first() else {
        return Ok(());
    };
    if let Some((whole, _)) = reports.iter().find(|(_, r)| r.shard.is_none()) {
        return Err(MergeError::Mixed {
            sharded: first_name.clone(),
            shard: first,
            whole: whole.clone(),
        });
    }
    let mut seen: BTreeMap<u32, &String> = BTreeMap::new();
    for &(name, s) in &sharded {
        if s.count != first.count {
            return Err(MergeError::Count {
                first: first_name.clone(),
                expected: first,
                file: name.clone(),
                found: s,
            });
        }
        if let Some(prev) = seen.insert(s.index, name) {
            return Err(MergeError::DuplicateShard {
                shard: s,
                first: prev.clone(),
                second: name.clone(),
            });
        }
    }
    let missing: Vec<String> = (1..=first.count)
        .filter(|k| !seen.contains_key(k))
        .map(|k| format!("{k}/{}", first.count))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::MissingShards {
            missing: missing.join(", "),
            count: first.count,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
        for bad in ["0/4", "5/4", "1/0", "2", "a/4", "2/b", "-1/4", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let e = "5/4".parse::<Shard>().unwrap_err().to_string();
        assert!(
            e.contains("K must be between 1 and N") && e.contains("\"5/4\""),
            "{e}"
        );
    }

    #[test]
    fn shares_are_round_robin_over_sorted_ids_and_cover_everything_once() {
        let ids = ["b", "a", "e", "c", "d", "a"];
        let shares: Vec<Vec<&str>> = (1..=3)
            .map(|k| Shard::new(k, 3).unwrap().select(ids))
            .collect();
        assert_eq!(shares, [vec!["a", "d"], vec!["b", "e"], vec!["c"]]);
        // More shares than cases: the extra ones are empty, none is lost.
        let many: Vec<&str> = (1..=7)
            .flat_map(|k| Shard::new(k, 7).unwrap().select(ids))
            .collect();
        assert_eq!(many, ["a", "b", "c", "d", "e"]);
        assert_eq!(Shard::new(1, 1).unwrap().select(ids).len(), 5);
    }
}
