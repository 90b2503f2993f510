//! The plan as Markdown, for CI step summaries and pull-request comments: a summary table, the
//! guard verdicts, and the first changes in a collapsible block.

use super::{PlanReport, change_line};
use indicatif::HumanBytes;
use std::fmt::Write;

/// Backticks enough to fence `s` (one more than its longest run, at least `min`).
pub(crate) fn fence(s: &str, min: usize) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(min))
}

/// `s` as an inline code span that no content can break out of; padded with a space inside only
/// where a backtick at its edge would join the fence (CommonMark strips that space).
pub(crate) fn code_span(s: &str) -> String {
    let s = crate::tree::path::escape(s.as_bytes());
    let f = fence(&s, 1);
    if s.starts_with('`') || s.ends_with('`') {
        format!("{f} {s} {f}")
    } else {
        format!("{f}{s}{f}")
    }
}

/// Render with at most `limit` change lines.
pub fn render(r: &PlanReport<'_>, limit: usize) -> String {
    let s = &r.plan.stats;
    let mut out = String::new();
    let _ =
        writeln!(out, "### tern plan: {} → {}\n", code_span(&r.source), code_span(&r.destination));
    let status = if crate::plan::guard::refusal(r.verdicts).is_some() {
        "**refused by a guard**"
    } else if r.plan.is_empty() {
        "**in sync**: nothing to change"
    } else {
        "**changes pending**"
    };
    let _ = writeln!(out, "{status}\n");
    let _ = writeln!(out, "| change | entries |\n| --- | ---: |");
    for (name, n) in [
        ("created", s.created),
        ("updated", s.updated),
        ("metadata only", s.metadata),
        ("replaced (kind changed)", s.replaced),
        ("deleted (to trash)", s.deleted),
        ("kept (not in source)", s.kept),
    ] {
        let _ = writeln!(out, "| {name} | {n} |");
    }
    let _ = writeln!(out, "| **bytes to send** | {} |", HumanBytes(s.bytes_to_send));
    let _ = writeln!(out, "| bytes reused at the destination | {} |", HumanBytes(s.bytes_reused));
    let _ = writeln!(out);
    if !r.verdicts.is_empty() {
        let _ = writeln!(out, "| guard | verdict |\n| --- | --- |");
        for v in r.verdicts {
            let mark = if v.passed { "✅ passed" } else { "❌ refused" };
            let detail = v.detail.replace('|', "\\|");
            let _ = writeln!(out, "| {} | {mark}: {detail} |", v.guard);
        }
        let _ = writeln!(out);
    }
    if !r.issues.is_empty() {
        let _ = writeln!(
            out,
            "⚠️ {} source entries could not be read; their destination copies are kept.\n",
            r.issues.len()
        );
    }
    if r.plan.is_empty() {
        return out;
    }
    let mut lines = String::new();
    for c in r.plan.iter().take(limit) {
        lines.push_str(&change_line(&c, false));
        lines.push('\n');
    }
    let total = r.plan.len();
    let shown = total.min(limit);
    let f = fence(&lines, 3);
    let _ = writeln!(
        out,
        "<details><summary>{total} changes{}</summary>\n",
        if shown < total { format!(" (first {shown} shown)") } else { String::new() }
    );
    let _ = write!(out, "{f}\n{lines}{f}\n");
    if shown < total {
        let _ = writeln!(out, "\n… and {} more; run `tern plan` for the full list.", total - shown);
    }
    let _ = writeln!(out, "\n</details>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_their_content() {
        assert_eq!(fence("plain", 3), "```");
        assert_eq!(fence("a ```` b", 3), "`````");
        assert_eq!(code_span("x`y"), "``x`y``");
        assert_eq!(code_span("`edge"), "`` `edge ``");
        assert_eq!(code_span("new\nline"), "`new\\nline`");
    }
}
