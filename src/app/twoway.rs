//! `tern sync --two-way A B` and `tern plan --two-way A B`: open both replicas, prepare the
//! two-way plan, show it or carry it out, and map the outcome onto an exit status.

use super::{Output, Ui, write_or_pipe_closed};
use crate::exit::Status;
use crate::plan::guard::GuardPolicy;
use crate::plan::reconcile::Side;
use crate::report::applied_changes;
use crate::report::twoway::{TwoWayReport, arrow, conflict_line, conflicts_line, render};
use crate::sync::open_destination;
use crate::sync::transfer::Applied;
use crate::sync::twoway::{self, TwoWaySpec};
use crate::transport::Transport;
use crate::util::timefmt;
use indicatif::HumanBytes;
use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;
use std::time::{Instant, SystemTime};

/// Open both replicas.
fn open_both(spec: &TwoWaySpec) -> anyhow::Result<(Box<dyn Transport>, Box<dyn Transport>)> {
    Ok((open_destination(&spec.a, &spec.ssh)?, open_destination(&spec.b, &spec.ssh)?))
}

/// Say what a scan could not read: it is left as it is on both sides.
fn report_issues(p: &twoway::TwoWayPlan) {
    for (side, issue) in &p.issues {
        eprintln!("tern: error: {}", twoway::issue_line(*side, issue));
    }
}

/// `tern plan --two-way` (and `sync --two-way --dry-run`).
pub(super) fn plan(
    ui: &Ui,
    spec: &TwoWaySpec,
    guards: &GuardPolicy,
    out: &Output<'_>,
    detailed: bool,
) -> anyhow::Result<Status> {
    if out.save.is_some() {
        anyhow::bail!("--out does not apply to a two-way plan yet; run `tern sync --two-way`");
    }
    let (mut a, mut b) = open_both(spec)?;
    let p = twoway::prepare(spec, a.as_mut(), b.as_mut(), false)?;
    report_issues(&p);
    let r = TwoWayReport {
        a: spec.a.to_string(),
        b: spec.b.to_string(),
        generated_at: timefmt::rfc3339(SystemTime::now()),
        plan: &p,
    };
    let text = render(&r, out.format, ui.verbose, out.limit);
    write_or_pipe_closed(&mut std::io::stdout().lock(), text.as_bytes())?;
    twoway::check_guards(&p, guards)?;
    Ok(if !p.issues.is_empty() {
        if detailed { Status::Error } else { Status::Partial }
    } else if detailed && !p.reconciled.conflicts.is_empty() {
        Status::Conflicts
    } else if detailed && !p.is_empty() {
        Status::ChangesPending
    } else {
        Status::Success
    })
}

/// `tern sync --two-way`.
pub(super) fn sync(ui: &Ui, spec: &TwoWaySpec, guards: &GuardPolicy) -> anyhow::Result<Status> {
    let started = Instant::now();
    let bar = ui.progress("sending");
    let run_id = timefmt::run_id(SystemTime::now());
    let never = AtomicBool::new(false);
    let run = twoway::sync(spec, guards, &run_id, &never, &bar)?;
    bar.finish();
    let p = &run.plan;
    report_issues(p);
    let mut out = String::new();
    if ui.verbose {
        out.push_str(&crate::report::twoway::change_lines(p, false));
    }
    for c in &p.reconciled.conflicts {
        let _ = writeln!(out, "{}", conflict_line(c));
    }
    let nothing = Applied::default();
    for (to, applied, replica) in
        [(Side::B, &run.applied.b, &spec.b), (Side::A, &run.applied.a, &spec.a)]
    {
        let applied = applied.as_ref().unwrap_or(&nothing);
        if let Some(warning) = applied.commit.unkept.warning(&replica.to_string()) {
            eprintln!("tern: warning: {warning}");
        }
        let _ = writeln!(out, "{}: {}", arrow(to), applied_changes(p.toward(to), applied));
    }
    let skipped: usize = run.applied.each().map(|a| a.skipped.len()).sum();
    let n = p.reconciled.conflicts.len();
    let _ = write!(out, "synced two-way: {n} conflict{}", if n == 1 { "" } else { "s" });
    if run.wire_bytes > 0 {
        let _ = write!(out, "; {} on the wire", HumanBytes(run.wire_bytes));
    }
    let _ = writeln!(out, " in {:.2}s", started.elapsed().as_secs_f64());
    if !p.had_base {
        let _ = writeln!(out, "{}", conflicts_line(p));
    }
    if !ui.quiet {
        write_or_pipe_closed(&mut std::io::stdout().lock(), out.as_bytes())?;
    }
    Ok(if skipped > 0 || !p.issues.is_empty() {
        Status::Partial
    } else if !p.reconciled.conflicts.is_empty() {
        Status::Conflicts
    } else {
        Status::Success
    })
}
