//! Running a parsed command: parse, then resolve, then run.
//!
//! This is the only place that knows about the terminal (progress bars, what goes to stdout and
//! stderr) and that maps outcomes onto [`Status`].

use crate::cli::{Cli, Command, TreeArgs};
use crate::config::{Destination, SyncSpec, resolve};
use crate::exit::Status;
use crate::manifest::Manifest;
use crate::plan::{Plan, plan};
use crate::scan::{Scan, scan};
use crate::transport::Transport;
use crate::transport::local::LocalDir;
use crate::{report, transfer};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::{Instant, SystemTime};

/// Run `cli` and say how it ended.
pub fn run(cli: Cli) -> anyhow::Result<Status> {
    let ui = Ui { quiet: cli.quiet, verbose: cli.verbose };
    match cli.command {
        Command::Sync(args) => {
            let spec = resolve(&args.tree)?;
            if args.dry_run {
                dry_run(&ui, &spec, args.detailed_exitcode)
            } else {
                sync(&ui, &spec)
            }
        }
        Command::Plan(args) => plan_command(&ui, &args.tree, args.detailed_exitcode),
        Command::Completions { shell } => {
            crate::cli::write_completions(shell, &mut std::io::stdout().lock());
            Ok(Status::Success)
        }
        Command::Serve { root } => {
            crate::remote::agent::serve(root, std::io::stdin().lock(), std::io::stdout().lock())
                .context("tern agent")?;
            Ok(Status::Success)
        }
        Command::GenerateDocs { dir } => {
            crate::cli::write_generated_docs(&dir)
                .with_context(|| format!("cannot write docs into {}", dir.display()))?;
            Ok(Status::Success)
        }
    }
}

/// How chatty to be.
struct Ui {
    quiet: bool,
    verbose: bool,
}

impl Ui {
    /// A byte progress bar on stderr when it is a terminal and not `--quiet`, else a hidden one.
    fn progress(&self, what: &'static str) -> ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let style = ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(style);
        bar.set_prefix(what);
        bar
    }
}

fn open_destination(spec: &SyncSpec) -> anyhow::Result<Box<dyn Transport>> {
    Ok(match &spec.dest {
        Destination::Local(p) => Box::new(LocalDir::new(p)),
        Destination::Ssh(t) => crate::transport::ssh::open(t, &spec.ssh)?,
    })
}

/// Scan the source, read the destination manifest, and plan. Shared by `plan`, `sync --dry-run`
/// and `sync`, so all three see the same plan.
fn scan_and_plan(
    ui: &Ui,
    spec: &SyncSpec,
    dest: &mut dyn Transport,
) -> anyhow::Result<(Scan, Manifest, Plan)> {
    let dest_manifest = dest.read_manifest()?.unwrap_or_default();
    let bar = ui.progress("scanning");
    let scanned = scan(&spec.source, &spec.scan, &bar)?;
    bar.finish_and_clear();
    for issue in &scanned.issues {
        eprintln!(
            "tern: error: cannot read {}: {}; its destination copy is kept",
            issue.path.display(),
            issue.message
        );
    }
    if ui.verbose {
        let s = &scanned.stats;
        eprintln!(
            "tern: scanned {} entries: {} files hashed ({}), {} from cache",
            s.entries,
            s.hashed_files,
            indicatif::HumanBytes(s.hashed_bytes),
            s.cached_files
        );
    }
    let protected: Vec<_> = scanned.issues.iter().map(|i| i.path.clone()).collect();
    let plan = plan(&scanned.manifest, &dest_manifest, &protected, &spec.plan);
    Ok((scanned, dest_manifest, plan))
}

fn plan_command(ui: &Ui, args: &TreeArgs, detailed: bool) -> anyhow::Result<Status> {
    let spec = resolve(args)?;
    dry_run(ui, &spec, detailed)
}

fn dry_run(ui: &Ui, spec: &SyncSpec, detailed: bool) -> anyhow::Result<Status> {
    let mut dest = open_destination(spec)?;
    let (scanned, _, plan) = scan_and_plan(ui, spec, dest.as_mut())?;
    let mut out = std::io::stdout().lock();
    write_or_pipe_closed(&mut out, report::plan_lines(&plan, ui.verbose).as_bytes())?;
    if !ui.quiet {
        let line = format!("plan: {}\n", report::plan_summary(&plan.stats));
        write_or_pipe_closed(&mut out, line.as_bytes())?;
    }
    Ok(if !scanned.issues.is_empty() {
        Status::Partial
    } else if detailed && !plan.is_empty() {
        Status::ChangesPending
    } else {
        Status::Success
    })
}

fn sync(ui: &Ui, spec: &SyncSpec) -> anyhow::Result<Status> {
    let started = Instant::now();
    let mut dest = open_destination(spec)?;
    dest.lock()?;
    let (scanned, dest_manifest, plan) = scan_and_plan(ui, spec, dest.as_mut())?;
    let mut out = std::io::stdout().lock();
    if ui.verbose {
        write_or_pipe_closed(&mut out, report::plan_lines(&plan, false).as_bytes())?;
    }
    if plan.is_empty() {
        // In sync already: leave the destination exactly as it is.
        if !ui.quiet {
            let line =
                report::sync_summary(&plan, &Default::default(), dest.as_ref(), started.elapsed());
            write_or_pipe_closed(&mut out, format!("{line}\n").as_bytes())?;
        }
        return Ok(if scanned.issues.is_empty() { Status::Success } else { Status::Partial });
    }
    let bar = ui.progress("syncing");
    let applied = transfer::apply(
        &plan,
        &spec.source,
        &dest_manifest,
        dest.as_mut(),
        &run_id(SystemTime::now()),
        &bar,
    )
    .with_context(|| format!("sync to {} failed; run it again to complete it", dest.describe()))?;
    bar.finish_and_clear();
    if !ui.quiet {
        let line = report::sync_summary(&plan, &applied, dest.as_ref(), started.elapsed());
        write_or_pipe_closed(&mut out, format!("{line}\n").as_bytes())?;
    }
    Ok(if scanned.issues.is_empty() && applied.skipped.is_empty() {
        Status::Success
    } else {
        Status::Partial
    })
}

/// Write to stdout, treating a closed pipe (`tern plan | head`) as success.
fn write_or_pipe_closed(out: &mut impl Write, data: &[u8]) -> anyhow::Result<()> {
    match out.write_all(data).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r.context("cannot write to standard output")?),
    }
}

/// A sortable, unique-enough name for one run: `20261126T034512.345Z`.
pub fn run_id(now: SystemTime) -> String {
    let d = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn run_ids_are_utc_timestamps() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_664_712_345);
        assert_eq!(run_id(t), "20261126T034512.345Z");
        assert_eq!(run_id(SystemTime::UNIX_EPOCH), "19700101T000000.000Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&run_id(leap)[..8], "20000229");
    }
}
