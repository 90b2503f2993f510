//! Deletion guardrails: pure checks of a plan before anything is written.
//!
//! rclone and rsync users have lost whole replicas to an empty or unmounted source mirrored onto
//! a full destination. tern refuses such plans unless told otherwise, and every verdict (passed
//! or not) is part of the plan report, so CI can show what would have been refused.

use crate::plan::Plan;
use serde::Serialize;
use std::str::FromStr;

/// `--max-delete`: an absolute number of entries or a share of the destination.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxDelete {
    Count(u64),
    Percent(f64),
}

impl FromStr for MaxDelete {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a number of entries (100) or a percentage (10%)");
        match s.strip_suffix('%') {
            Some(p) => {
                let v: f64 = p.trim().parse().map_err(|_| bad())?;
                if !(0.0..=100.0).contains(&v) {
                    return Err(format!("{s:?} is not a percentage from 0% to 100%"));
                }
                Ok(MaxDelete::Percent(v))
            }
            None => s.trim().parse().map(MaxDelete::Count).map_err(|_| bad()),
        }
    }
}

impl std::fmt::Display for MaxDelete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxDelete::Count(n) => write!(f, "{n}"),
            MaxDelete::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Which guards apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuardPolicy {
    pub max_delete: Option<MaxDelete>,
    /// Allow mirroring an empty source onto a non-empty destination.
    pub force: bool,
}

/// One guard's verdict on a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub guard: &'static str,
    pub passed: bool,
    pub detail: String,
    /// How to let the plan through, when it did not pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_hint: Option<String>,
}

/// Check `plan` against `policy`.
pub fn check(plan: &Plan, policy: &GuardPolicy) -> Vec<Verdict> {
    let s = &plan.stats;
    let mut out = Vec::new();

    let empty_source = s.source_entries == 0 && s.deleted > 0;
    out.push(Verdict {
        guard: "empty-source",
        passed: !empty_source || policy.force,
        detail: if empty_source {
            format!(
                "the source is empty and {} destination entries would be deleted{}",
                s.deleted,
                if policy.force { " (allowed by --force)" } else { "" }
            )
        } else {
            "the source is not empty".into()
        },
        override_hint: (empty_source && !policy.force).then(|| {
            "check that the source is mounted and readable; pass --force to mirror it anyway".into()
        }),
    });

    if let Some(max) = policy.max_delete {
        let limit = match max {
            MaxDelete::Count(n) => n,
            MaxDelete::Percent(p) => (s.dest_entries as f64 * p / 100.0).floor() as u64,
        };
        let passed = s.deleted <= limit;
        out.push(Verdict {
            guard: "max-delete",
            passed,
            detail: format!(
                "{} entries to delete, limit {limit} (--max-delete {max} of {} destination entries)",
                s.deleted, s.dest_entries
            ),
            override_hint: (!passed)
                .then(|| "review the deletions with `tern plan`, then raise --max-delete".into()),
        });
    }
    out
}

/// The first guard that did not pass, if any.
pub fn refusal(verdicts: &[Verdict]) -> Option<&Verdict> {
    verdicts.iter().find(|v| !v.passed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlanOptions, plan};
    use crate::tree::manifest::Manifest;
    use crate::tree::manifest::tests::file;

    fn dest(n: usize) -> Manifest {
        let mut m = Manifest {
            generation: 1,
            entries: (0..n).map(|i| file(&format!("f{i:03}"), b"x")).collect(),
        };
        m.sort();
        m
    }

    fn source(n: usize) -> Manifest {
        dest(n)
    }

    #[test]
    fn max_delete_counts_and_percentages() {
        let p = plan(&source(90), &dest(100), &[], &PlanOptions::default());
        assert_eq!(p.stats.deleted, 10);
        let verdict = |max: &str| {
            let policy = GuardPolicy { max_delete: Some(max.parse().unwrap()), force: false };
            refusal(&check(&p, &policy)).cloned()
        };
        assert!(verdict("10").is_none());
        assert!(verdict("9").is_some());
        assert!(verdict("10%").is_none());
        assert!(verdict("9.9%").is_some());
        let v = verdict("5").unwrap();
        assert_eq!(v.guard, "max-delete");
        assert!(v.detail.contains("10 entries to delete, limit 5"), "{}", v.detail);
        for bad in ["", "x", "-1", "101%", "5 %x"] {
            assert!(bad.parse::<MaxDelete>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_empty_source_cannot_wipe_a_destination_without_force() {
        let p = plan(&Manifest::default(), &dest(3), &[], &PlanOptions::default());
        let v = check(&p, &GuardPolicy::default());
        assert_eq!(refusal(&v).map(|v| v.guard), Some("empty-source"));
        assert!(refusal(&check(&p, &GuardPolicy { force: true, ..Default::default() })).is_none());
        // an empty source onto an empty destination is fine
        let p = plan(&Manifest::default(), &Manifest::default(), &[], &PlanOptions::default());
        assert!(refusal(&check(&p, &GuardPolicy::default())).is_none());
    }
}
