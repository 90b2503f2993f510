//! Rendering plans and run results for people.
//!
//! One line per change, with a stable one-character code, the entry kind and the escaped path (a
//! newline in a file name cannot forge a line), then a summary. This module formats; it computes
//! nothing that the plan or the run did not already decide.
//!
//! Codes: `+` created, `>` content updated, `.` metadata only, `-` deleted, `~` kind changed,
//! `R` renamed (content moved from a path this plan deletes), `C` copied from an existing file.
//!
//! [`json`] and [`markdown`] render the same [`PlanReport`] for machines and for CI summaries.

pub mod json;
pub mod markdown;
pub mod twoway;

use crate::plan::guard::Verdict;
use crate::plan::{Action, ChangeRef, Plan, PlanStats, Recipe};
use crate::sync::transfer::Applied;
use crate::transport::Transport;
use crate::tree::manifest::{Entry, Kind, Xattrs};
use crate::tree::scan::ScanIssue;
use indicatif::HumanBytes;
use std::fmt::Write;
use std::time::Duration;

/// A plan and everything a report shows with it.
pub struct PlanReport<'a> {
    pub source: String,
    pub destination: String,
    /// RFC 3339, UTC.
    pub generated_at: String,
    pub plan: &'a Plan,
    pub verdicts: &'a [Verdict],
    pub issues: &'a [ScanIssue],
}

/// Output formats of `tern plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// Render `r` in `format`. `limit` caps the changes a Markdown report lists.
pub fn render(r: &PlanReport<'_>, format: Format, verbose: bool, limit: usize) -> String {
    match format {
        Format::Text => text(r, verbose),
        Format::Json => json::render(r),
        Format::Markdown => markdown::render(r, limit),
    }
}

/// The itemized plan, its summary and the guard verdicts.
pub fn text(r: &PlanReport<'_>, verbose: bool) -> String {
    let mut out = plan_lines(r.plan, verbose);
    let _ = writeln!(out, "plan: {}", plan_summary(&r.plan.stats));
    let _ = writeln!(out, "{}", guard_line(r.verdicts));
    out
}

/// All verdicts in one line: `guards: empty-source passed; max-delete REFUSED (...)`.
pub fn guard_line(verdicts: &[Verdict]) -> String {
    let parts: Vec<String> = verdicts
        .iter()
        .map(|v| {
            if v.passed {
                format!("{} passed", v.guard)
            } else {
                format!("{} REFUSED ({})", v.guard, v.detail)
            }
        })
        .collect();
    format!("guards: {}", parts.join("; "))
}

/// The one-character code of a change.
pub fn code(c: &ChangeRef<'_>) -> char {
    let copy = c.recipe.and_then(Recipe::whole_copy_of).is_some();
    match c.action {
        Action::Create | Action::Update if copy && c.renamed => 'R',
        Action::Create | Action::Update if copy => 'C',
        Action::Create => '+',
        Action::Update => '>',
        Action::Metadata => '.',
        Action::Delete => '-',
        Action::Replace => '~',
    }
}

fn kind_name(e: &Entry) -> &'static str {
    e.kind.tag().name()
}

/// One line describing a change (no trailing newline).
pub fn change_line(c: &ChangeRef<'_>, verbose: bool) -> String {
    let new = c.new.as_ref();
    let entry = new.or(c.old);
    let kind = entry.map_or("?", kind_name);
    let mut line = format!("{} {:<7} {}", code(c), kind, c.path.display());
    if let Some(Entry { kind: Kind::Dir, .. }) = entry {
        line.push('/');
    }
    if let Some(from) = c.recipe.and_then(Recipe::whole_copy_of) {
        let _ = write!(line, " <- {}", from.display());
    }
    let mut details: Vec<String> = Vec::new();
    match c.action {
        Action::Create | Action::Update | Action::Replace => {
            if let Some(Entry { kind: Kind::File(d), .. }) = new {
                details.push(HumanBytes(d.size).to_string());
                if let Some(r) = c.recipe
                    && r.whole_copy_of().is_none()
                    && c.bytes_reused() > 0
                {
                    details.push(format!("send {}", HumanBytes(c.bytes_to_send())));
                }
            }
            if let Some(Entry { kind: Kind::Symlink(t), .. }) = new {
                details.push(format!("-> {}", crate::tree::path::escape(t)));
            }
            if let Some(Entry { kind: Kind::HardLink(first), .. }) = new {
                details.push(format!("=> {}", first.display()));
            }
            if c.action == Action::Replace
                && let Some(old) = c.old
            {
                details.push(format!("was {}", kind_name(old)));
            }
        }
        Action::Delete => {
            if c.removed_entries > 1 {
                details.push(format!("{} entries", c.removed_entries));
            }
            if c.removed_bytes > 0 {
                details.push(HumanBytes(c.removed_bytes).to_string());
            }
        }
        Action::Metadata => {}
    }
    if c.action != Action::Replace
        && let (Some(old), Some(new)) = (c.old, new)
    {
        let names = xattr_changes(&old.meta.xattrs, &new.meta.xattrs);
        if !names.is_empty() {
            details.push(format!("xattrs {}", names.join(" ")));
        }
    }
    if verbose
        && c.action != Action::Replace
        && let (Some(old), Some(new)) = (c.old, new)
    {
        if old.meta.mode != new.meta.mode && !matches!(new.kind, Kind::Symlink(_)) {
            details.push(format!("mode {:o} -> {:o}", old.meta.mode, new.meta.mode));
        }
        if (old.meta.uid, old.meta.gid) != (new.meta.uid, new.meta.gid) {
            details.push(format!(
                "owner {}:{} -> {}:{}",
                old.meta.uid, old.meta.gid, new.meta.uid, new.meta.gid
            ));
        }
        if old.meta.mtime != new.meta.mtime {
            details.push("mtime".into());
        }
    }
    if !details.is_empty() {
        let _ = write!(line, " ({})", details.join(", "));
    }
    line
}

/// The extended attributes that differ between two versions of an entry, by name (the ACLs and
/// the file capability by what they are).
pub(crate) fn xattr_changes(old: &Xattrs, new: &Xattrs) -> Vec<String> {
    let name = |n: &[u8]| match n {
        b"system.posix_acl_access" => "acl".to_string(),
        b"system.posix_acl_default" => "default-acl".to_string(),
        b"security.capability" => "capability".to_string(),
        n => crate::tree::path::escape(n),
    };
    old.changed_names(new).into_iter().map(name).collect()
}

/// The itemized plan, one line per change.
pub fn plan_lines(plan: &Plan, verbose: bool) -> String {
    let mut out = String::with_capacity(plan.len() * 48);
    for c in plan.iter() {
        out.push_str(&change_line(&c, verbose));
        out.push('\n');
    }
    out
}

/// Counts and bytes of a plan in one line.
pub fn plan_summary(s: &PlanStats) -> String {
    let mut parts = vec![
        format!("{} created", s.created),
        format!("{} updated", s.updated),
        format!("{} metadata", s.metadata),
        format!("{} replaced", s.replaced),
        format!("{} deleted", s.deleted),
    ];
    parts.push(format!("{} to send", HumanBytes(s.bytes_to_send)));
    parts.push(format!("{} reused", HumanBytes(s.bytes_reused)));
    if s.kept > 0 {
        parts.push(format!("{} kept", s.kept));
    }
    parts.join(", ")
}

/// The line printed at the end of a sync.
pub fn sync_summary(
    plan: &Plan,
    applied: &Applied,
    dest: &dyn Transport,
    elapsed: Duration,
) -> String {
    let mut line = format!("synced: {}", applied_changes(plan, applied));
    if let Some(wire) = dest.wire_bytes() {
        let _ = write!(line, "; {} on the wire", HumanBytes(wire));
    }
    if dest.mode() != "local" {
        let _ = write!(line, "; via {}", dest.mode());
    }
    let _ = write!(line, " in {:.2}s", elapsed.as_secs_f64());
    line
}

/// The line `tern watch` prints for a batch synced to `dest`: the time, what changed, for how
/// many changed paths (none: a whole scan) and how long after the oldest change.
pub fn batch_summary(
    dest: &str,
    plan: &Plan,
    applied: &Applied,
    paths: usize,
    lag: Duration,
) -> String {
    let now = chrono::Local::now().format("%H:%M:%S");
    let changes = applied_changes(plan, applied);
    let what = match paths {
        0 => return format!("{now} {dest}: {changes} (whole scan)"),
        1 => "1 changed path".to_string(),
        n => format!("{n} changed paths"),
    };
    format!("{now} {dest}: {changes} ({what}, {:.2}s after the first)", lag.as_secs_f64())
}

/// What a sync changed and sent.
pub fn applied_changes(plan: &Plan, applied: &Applied) -> String {
    let s = &plan.stats;
    let mut line = format!(
        "{} created, {} updated, {} metadata, {} replaced, {} deleted; {} sent, {} reused",
        s.created,
        s.updated,
        s.metadata,
        s.replaced,
        s.deleted,
        HumanBytes(applied.bytes_sent),
        HumanBytes(applied.bytes_reused),
    );
    if applied.repaired_files > 0 {
        let _ = write!(line, ", {} repaired", applied.repaired_files);
    }
    if !applied.skipped.is_empty() {
        let _ = write!(line, ", {} skipped", applied.skipped.len());
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlanOptions, plan};
    use crate::tree::manifest::Manifest;
    use crate::tree::manifest::tests::{e, file};

    #[test]
    fn lines_use_stable_codes_and_escape_names() {
        let mut dst = Manifest {
            generation: 1,
            entries: vec![file("gone", b"bye"), file("old-name", b"moved content")],
        };
        dst.sort();
        let mut src = Manifest {
            generation: 0,
            entries: vec![
                file("evil\nname", b"x"),
                file("new-name", b"moved content"),
                e("d", Kind::Dir),
            ],
        };
        src.sort();
        let p = plan(&src, &dst, &[], &PlanOptions::default());
        let text = plan_lines(&p, false);
        assert_eq!(
            text,
            "+ dir     d/\n+ file    evil\\nname (1 B)\n- file    gone (3 B)\n\
             R file    new-name <- old-name (13 B)\n- file    old-name (13 B)\n"
        );
        assert!(
            plan_summary(&p.stats)
                .starts_with("3 created, 0 updated, 0 metadata, 0 replaced, 2 deleted")
        );
    }
}
