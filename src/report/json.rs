//! The plan as JSON: one documented, versioned schema (`docs/plan-json.md`).
//!
//! Paths are exact: a UTF-8 name is a JSON string as it is (JSON escapes control characters); a
//! name that is not UTF-8 is shown escaped in `path` and given byte for byte in `path_base64`, with
//! `path_utf8: false`.

use super::{PlanReport, code};
use crate::plan::{Action, ChangeRef, Recipe};
use crate::tree::manifest::{Entry, Kind, Mtime};
use base64::Engine;
use serde::Serialize;

/// Bumped on any change a consumer could notice (fields removed, renamed or retyped).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Doc<'a> {
    schema_version: u32,
    tern_version: &'static str,
    generated_at: &'a str,
    source: &'a str,
    destination: &'a str,
    in_sync: bool,
    refused: bool,
    summary: Summary,
    guards: &'a [crate::plan::guard::Verdict],
    scan_errors: Vec<ScanError>,
    changes: Vec<ChangeDoc>,
}

#[derive(Serialize)]
struct Summary {
    changes: u64,
    created: u64,
    updated: u64,
    metadata: u64,
    replaced: u64,
    deleted: u64,
    deleted_bytes: u64,
    bytes_to_send: u64,
    bytes_reused: u64,
    kept: u64,
    source_entries: u64,
    destination_entries: u64,
}

#[derive(Serialize)]
struct ScanError {
    #[serde(flatten)]
    path: PathDoc,
    message: String,
}

/// A byte string as JSON: exact when it is UTF-8, else escaped plus base64.
#[derive(Serialize)]
pub(crate) struct PathDoc {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_utf8: Option<bool>,
}

fn bytes_doc(b: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(b) {
        Ok(s) => (s.to_string(), None),
        Err(_) => (
            crate::tree::path::escape(b),
            Some(base64::engine::general_purpose::STANDARD.encode(b)),
        ),
    }
}

pub(crate) fn path_doc(b: &[u8]) -> PathDoc {
    let (path, path_base64) = bytes_doc(b);
    let path_utf8 = path_base64.as_ref().map(|_| false);
    PathDoc { path, path_base64, path_utf8 }
}

#[derive(Serialize)]
struct Change2<T> {
    old: T,
    new: T,
}

#[derive(Serialize)]
pub(crate) struct ChangeDoc {
    code: String,
    action: &'static str,
    kind: &'static str,
    #[serde(flatten)]
    path: PathDoc,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_to_send: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_reused: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    copied_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    copied_from_base64: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    renamed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    symlink_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    symlink_target_base64: Option<String>,
    /// For a hard link: the path of the file it is another name of.
    #[serde(skip_serializing_if = "Option::is_none")]
    hard_link_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hard_link_to_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    removed_entries: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    removed_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<Change2<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtime: Option<Change2<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<Change2<String>>,
    /// Extended attributes whose value changes, that are added or removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    xattrs: Vec<String>,
}

fn mtime_text(m: Mtime) -> String {
    crate::util::timefmt::rfc3339_nanos(m.secs, m.nanos)
}

pub(crate) fn change_doc(c: ChangeRef<'_>) -> ChangeDoc {
    let new = c.new.as_ref();
    let entry: Option<&Entry> = new.or(c.old);
    let (copied_from, copied_from_base64) = c
        .recipe
        .and_then(Recipe::whole_copy_of)
        .map(|p| bytes_doc(p.as_bytes()))
        .map_or((None, None), |(s, b)| (Some(s), b));
    let (symlink_target, symlink_target_base64) = match new.map(|e| &e.kind) {
        Some(Kind::Symlink(t)) => {
            let (s, b) = bytes_doc(t);
            (Some(s), b)
        }
        _ => (None, None),
    };
    let (hard_link_to, hard_link_to_base64) = match new.map(|e| &e.kind) {
        Some(Kind::HardLink(first)) => {
            let (s, b) = bytes_doc(first.as_bytes());
            (Some(s), b)
        }
        _ => (None, None),
    };
    let writes = matches!(c.action, Action::Create | Action::Update | Action::Replace);
    let removes = matches!(c.action, Action::Delete | Action::Replace);
    let owner = match (c.old, new) {
        (Some(o), Some(n))
            if c.action != Action::Replace
                && (o.meta.uid, o.meta.gid) != (n.meta.uid, n.meta.gid) =>
        {
            Some(Change2 {
                old: format!("{}:{}", o.meta.uid, o.meta.gid),
                new: format!("{}:{}", n.meta.uid, n.meta.gid),
            })
        }
        _ => None,
    };
    let (mode, mtime) = match (c.old, new) {
        (Some(o), Some(n)) if c.action != Action::Replace => (
            (o.meta.mode != n.meta.mode && !matches!(n.kind, Kind::Symlink(_))).then(|| Change2 {
                old: format!("{:o}", o.meta.mode),
                new: format!("{:o}", n.meta.mode),
            }),
            (o.meta.mtime != n.meta.mtime)
                .then(|| Change2 { old: mtime_text(o.meta.mtime), new: mtime_text(n.meta.mtime) }),
        ),
        _ => (None, None),
    };
    let xattrs = match (c.old, new) {
        (Some(o), Some(n)) if c.action != Action::Replace => {
            super::xattr_changes(&o.meta.xattrs, &n.meta.xattrs)
        }
        _ => Vec::new(),
    };
    ChangeDoc {
        code: code(&c).to_string(),
        action: c.action.name(),
        kind: entry.map_or("unknown", |e| e.kind.tag().name()),
        path: path_doc(c.path.as_bytes()),
        old_kind: (c.action == Action::Replace)
            .then(|| c.old.map(|o| o.kind.tag().name()))
            .flatten(),
        size: new.and_then(|e| e.digest()).filter(|_| writes).map(|d| d.size),
        bytes_to_send: c.recipe.map(|_| c.bytes_to_send()),
        bytes_reused: c.recipe.map(|_| c.bytes_reused()),
        copied_from,
        copied_from_base64,
        renamed: c.renamed,
        symlink_target,
        symlink_target_base64,
        hard_link_to,
        hard_link_to_base64,
        removed_entries: removes.then_some(c.removed_entries),
        removed_bytes: removes.then_some(c.removed_bytes),
        mode,
        mtime,
        owner,
        xattrs,
    }
}

/// The whole report as pretty JSON, ending with a newline.
pub fn render(r: &PlanReport<'_>) -> String {
    let s = &r.plan.stats;
    let doc = Doc {
        schema_version: SCHEMA_VERSION,
        tern_version: env!("CARGO_PKG_VERSION"),
        generated_at: &r.generated_at,
        source: &r.source,
        destination: &r.destination,
        in_sync: r.plan.is_empty(),
        refused: crate::plan::guard::refusal(r.verdicts).is_some(),
        summary: Summary {
            changes: r.plan.len() as u64,
            created: s.created,
            updated: s.updated,
            metadata: s.metadata,
            replaced: s.replaced,
            deleted: s.deleted,
            deleted_bytes: s.deleted_bytes,
            bytes_to_send: s.bytes_to_send,
            bytes_reused: s.bytes_reused,
            kept: s.kept,
            source_entries: s.source_entries,
            destination_entries: s.dest_entries,
        },
        guards: r.verdicts,
        scan_errors: r
            .issues
            .iter()
            .map(|i| ScanError { path: path_doc(i.path.as_bytes()), message: i.message.clone() })
            .collect(),
        changes: r.plan.iter().map(change_doc).collect(),
    };
    let mut out =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    out.push('\n');
    out
}
