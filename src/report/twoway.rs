//! Rendering a two-way plan: each change with the side it goes to, then every conflict and how
//! it is decided, as text, JSON (`docs/plan-json.md`, `"two_way": true`) or Markdown.

use super::json::{ChangeDoc, PathDoc, change_doc, path_doc};
use super::markdown::{code_span, fence};
use super::{Format, change_line, plan_summary};
use crate::plan::reconcile::{Conflict, Side};
use crate::sync::twoway::TwoWayPlan;
use serde::Serialize;
use std::fmt::Write;

/// A two-way plan and what a report shows with it.
pub struct TwoWayReport<'a> {
    pub a: String,
    pub b: String,
    pub generated_at: String,
    pub plan: &'a TwoWayPlan,
}

/// Render `r` in `format`; `limit` caps the changes a Markdown report lists.
pub fn render(r: &TwoWayReport<'_>, format: Format, verbose: bool, limit: usize) -> String {
    match format {
        Format::Text => text(r, verbose),
        Format::Json => json(r),
        Format::Markdown => markdown(r, limit),
    }
}

/// `a->b` for a change made at B (it comes from A), `b->a` for one made at A.
pub fn arrow(to: Side) -> &'static str {
    match to {
        Side::A => "b->a",
        Side::B => "a->b",
    }
}

/// One line per conflict: see [`Conflict`]'s `Display`.
pub fn conflict_line(c: &Conflict) -> String {
    format!("conflict: {c}")
}

/// The change lines of both plans, each prefixed with its direction.
pub fn change_lines(plan: &TwoWayPlan, verbose: bool) -> String {
    let mut out = String::new();
    for to in [Side::B, Side::A] {
        for c in plan.toward(to).iter() {
            let _ = writeln!(out, "{} {}", arrow(to), change_line(&c, verbose));
        }
    }
    out
}

/// The summary: what goes each way, then [`conflicts_line`].
pub fn summary(plan: &TwoWayPlan) -> String {
    let mut out = String::new();
    for to in [Side::B, Side::A] {
        let _ = writeln!(out, "{}: {}", arrow(to), plan_summary(&plan.toward(to).stats));
    }
    out + &conflicts_line(plan)
}

/// `conflicts: N`, and whether this is the pair's first two-way sync (a union of both trees).
pub fn conflicts_line(plan: &TwoWayPlan) -> String {
    let first = if plan.had_base {
        ""
    } else {
        " (first two-way sync of this pair: a union of both trees)"
    };
    format!("conflicts: {}{first}", plan.reconciled.conflicts.len())
}

fn text(r: &TwoWayReport<'_>, verbose: bool) -> String {
    let mut out = change_lines(r.plan, verbose);
    for c in &r.plan.reconciled.conflicts {
        let _ = writeln!(out, "{}", conflict_line(c));
    }
    let _ = writeln!(out, "{}", summary(r.plan));
    out
}

#[derive(Serialize)]
struct Doc<'a> {
    schema_version: u32,
    tern_version: &'static str,
    two_way: bool,
    generated_at: &'a str,
    a: &'a str,
    b: &'a str,
    in_sync: bool,
    first_run: bool,
    summary: Summary,
    conflicts: Vec<ConflictDoc>,
    changes: Vec<DirectedChange>,
}

#[derive(Serialize)]
struct Summary {
    to_a: u64,
    to_b: u64,
    conflicts: u64,
    bytes_to_a: u64,
    bytes_to_b: u64,
}

#[derive(Serialize)]
struct ConflictDoc {
    #[serde(flatten)]
    path: PathDoc,
    kind: crate::plan::reconcile::ConflictKind,
    winner: Side,
    copy: Option<String>,
}

#[derive(Serialize)]
struct DirectedChange {
    from: Side,
    to: Side,
    #[serde(flatten)]
    change: ChangeDoc,
}

fn json(r: &TwoWayReport<'_>) -> String {
    let p = r.plan;
    let mut changes = Vec::new();
    for to in [Side::B, Side::A] {
        for c in p.toward(to).iter() {
            changes.push(DirectedChange { from: to.other(), to, change: change_doc(c) });
        }
    }
    let doc = Doc {
        schema_version: super::json::SCHEMA_VERSION,
        tern_version: env!("CARGO_PKG_VERSION"),
        two_way: true,
        generated_at: &r.generated_at,
        a: &r.a,
        b: &r.b,
        in_sync: p.is_empty() && p.reconciled.conflicts.is_empty(),
        first_run: !p.had_base,
        summary: Summary {
            to_a: p.to_a.len() as u64,
            to_b: p.to_b.len() as u64,
            conflicts: p.reconciled.conflicts.len() as u64,
            bytes_to_a: p.to_a.stats.bytes_to_send,
            bytes_to_b: p.to_b.stats.bytes_to_send,
        },
        conflicts: p
            .reconciled
            .conflicts
            .iter()
            .map(|c| ConflictDoc {
                path: path_doc(c.path.as_bytes()),
                kind: c.kind,
                winner: c.winner,
                copy: c.copy.as_ref().map(|p| p.display().to_string()),
            })
            .collect(),
        changes,
    };
    let mut out =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    out.push('\n');
    out
}

fn markdown(r: &TwoWayReport<'_>, limit: usize) -> String {
    let p = r.plan;
    let mut out = String::new();
    let _ = writeln!(out, "### tern plan --two-way: {} ⇄ {}\n", code_span(&r.a), code_span(&r.b));
    let status = if !p.reconciled.conflicts.is_empty() {
        "**conflicts**"
    } else if p.is_empty() {
        "**in sync**: nothing to change"
    } else {
        "**changes pending**"
    };
    let _ = writeln!(out, "{status}\n");
    let _ = writeln!(out, "| direction | changes | to send |\n| --- | ---: | ---: |");
    for to in [Side::B, Side::A] {
        let plan = p.toward(to);
        let bytes = indicatif::HumanBytes(plan.stats.bytes_to_send);
        let _ = writeln!(out, "| {} | {} | {bytes} |", arrow(to), plan.len());
    }
    let _ = writeln!(out, "| conflicts | {} | |", p.reconciled.conflicts.len());
    let mut lines: Vec<String> = p.reconciled.conflicts.iter().map(conflict_line).collect();
    lines.extend(change_lines(p, false).lines().map(String::from));
    if !lines.is_empty() {
        let shown = lines.len().min(limit);
        let _ = writeln!(out, "\n<details><summary>{shown} of {} lines</summary>\n", lines.len());
        let body = lines[..shown].join("\n");
        let fence = fence(&body, 3);
        let _ = writeln!(out, "{fence}\n{body}\n{fence}\n</details>");
    }
    out
}
