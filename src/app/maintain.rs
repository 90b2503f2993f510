//! The maintenance commands: `verify`, `trash list`, `trash purge`, `undo`.

use super::{Ui, dest_spec, scan_source, write_or_pipe_closed};
use crate::cli::{SshArgs, TrashAction, VerifyArgs, VerifyFormat};
use crate::exit::Status;
use crate::sync;
use crate::sync::transfer;
use crate::transport::admin::{AdminOp, AdminResult};
use crate::util::timefmt;
use anyhow::bail;
use indicatif::HumanBytes;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

pub(super) fn verify(ui: &Ui, args: &VerifyArgs) -> anyhow::Result<Status> {
    let (source, dest) = match (args.paths.as_slice(), &args.source) {
        ([d], s) => (s.clone(), d.clone()),
        ([s, d], None) => (Some(PathBuf::from(s)), d.clone()),
        _ => bail!("give the source once, either with --source or before DEST"),
    };
    if args.repair && source.is_none() {
        bail!("--repair needs a source to re-send from: tern verify --repair SOURCE DEST");
    }
    if let Some(s) = &source
        && !s.is_dir()
    {
        bail!("source {} is not a directory; check the path", s.display());
    }
    let spec = dest_spec(source.clone(), &dest, &args.ssh)?;
    let mut t = sync::open(&spec)?;
    if args.repair {
        t.lock()?;
    }
    let AdminResult::Verified { findings, files, bytes } =
        t.admin(&AdminOp::Verify { deep: true })?
    else {
        bail!("{} gave an unexpected answer to verify", t.describe());
    };
    let wrong = findings.iter().any(crate::transport::admin::Finding::is_wrong);
    let mut pending = None;
    let mut repaired = None;
    if source.is_some() {
        let scanned = scan_source(ui, &spec)?;
        let manifest = t.read_manifest()?.unwrap_or_default();
        if args.repair {
            // Plan against the manifest minus what is wrong: those entries are sent again.
            let broken = crate::transport::admin::wrong_paths(&findings);
            let planned = sync::plan_against(&spec, &scanned, manifest.without(&broken));
            sync::check_guards(&planned)?;
            let applied = if planned.plan.is_empty() {
                Default::default()
            } else {
                let bar = ui.progress("repairing");
                let never = AtomicBool::new(false);
                let run_id = timefmt::run_id(SystemTime::now());
                transfer::apply(
                    &planned.plan,
                    &mut crate::transport::local::DirSource { root: &spec.source },
                    &planned.dest_manifest,
                    t.as_mut(),
                    &run_id,
                    &never,
                    &bar,
                )?
            };
            repaired = Some((planned.plan.len(), applied.bytes_sent, applied.skipped.len()));
        } else {
            pending = Some(sync::plan_against(&spec, &scanned, manifest).plan.stats);
        }
    }
    let mut out = String::new();
    if args.format == VerifyFormat::Json {
        let doc = serde_json::json!({
            "destination": dest,
            "files": files,
            "bytes": bytes,
            "findings": findings,
            "pending_changes": pending.as_ref().map(|s| s.changed_entries()),
            "repaired_changes": repaired.map(|r| r.0),
        });
        out = serde_json::to_string_pretty(&doc)? + "\n";
    } else {
        for f in &findings {
            let _ = writeln!(out, "{:<8} {}: {}", f.problem, f.path, f.detail);
        }
        let count = |p: &str| findings.iter().filter(|f| f.problem == p).count();
        let _ = writeln!(
            out,
            "verify: {files} files ({}) checked: {} missing, {} changed, {} of another kind, {} metadata, {} extra",
            HumanBytes(bytes),
            count("missing"),
            count("changed"),
            count("kind"),
            count("metadata"),
            count("extra")
        );
        if let Some(s) = &pending {
            let _ = writeln!(
                out,
                "source: {} changes pending ({} to send); `tern plan` lists them",
                s.changed_entries(),
                HumanBytes(s.bytes_to_send)
            );
        }
        if let Some((changes, sent, skipped)) = repaired {
            let _ = writeln!(
                out,
                "repaired: {changes} changes applied, {} sent, {skipped} skipped",
                HumanBytes(sent)
            );
        }
    }
    write_or_pipe_closed(&mut std::io::stdout().lock(), out.as_bytes())?;
    Ok(match repaired {
        Some((_, _, 0)) => Status::Success,
        Some(_) => Status::Partial,
        None if wrong || pending.as_ref().is_some_and(|s| s.changed_entries() > 0) => {
            Status::Differences
        }
        None => Status::Success,
    })
}

pub(super) fn trash(action: &TrashAction) -> anyhow::Result<Status> {
    match action {
        TrashAction::List { dest, json, ssh } => {
            let mut t = sync::open(&dest_spec(None, dest, ssh)?)?;
            let AdminResult::Trash { runs } = t.admin(&AdminOp::TrashList)? else {
                bail!("{} gave an unexpected answer", t.describe());
            };
            let mut out = String::new();
            if *json {
                out = serde_json::to_string_pretty(&runs)? + "\n";
            } else if runs.is_empty() {
                out.push_str("the trash is empty\n");
            } else {
                let _ =
                    writeln!(out, "{:<24} {:>8} {:>12} {:>10}", "RUN", "ENTRIES", "SIZE", "AGE");
                for r in &runs {
                    let age = humanize(r.age_secs);
                    let _ = writeln!(
                        out,
                        "{:<24} {:>8} {:>12} {:>10}",
                        r.run,
                        r.entries,
                        HumanBytes(r.bytes).to_string(),
                        age
                    );
                }
            }
            write_or_pipe_closed(&mut std::io::stdout().lock(), out.as_bytes())?;
        }
        TrashAction::Purge { dest, older_than, ssh } => {
            let older_than_secs = match older_than {
                Some(d) => Some(
                    crate::sync::spec::parse_duration(d).map_err(anyhow::Error::msg)?.as_secs(),
                ),
                None => None,
            };
            let mut t = sync::open(&dest_spec(None, dest, ssh)?)?;
            let op = AdminOp::TrashPurge { older_than_secs, except: None };
            let AdminResult::Purged { runs, bytes } = t.admin(&op)? else {
                bail!("{} gave an unexpected answer", t.describe());
            };
            println!("purged {runs} trash runs ({})", HumanBytes(bytes));
        }
    }
    Ok(Status::Success)
}

fn humanize(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

pub(super) fn undo(run: Option<&str>, dest: &str, ssh: &SshArgs) -> anyhow::Result<Status> {
    let mut t = sync::open(&dest_spec(None, dest, ssh)?)?;
    let new_run = timefmt::run_id(SystemTime::now());
    let op = AdminOp::Undo { run: run.map(String::from), new_run: new_run.clone() };
    let AdminResult::Undone { run, restored, displaced, .. } = t.admin(&op)? else {
        bail!("{} gave an unexpected answer", t.describe());
    };
    let aside = if displaced > 0 {
        format!(
            "; {displaced} entries that were in the way are in trash run {new_run} (`tern undo --run {new_run}` reverses this)"
        )
    } else {
        String::new()
    };
    println!("undid run {run}: {restored} entries put back{aside}");
    Ok(Status::Success)
}
