//! Running a parsed command: parse, then resolve, then run.
//!
//! This is the only place that knows about the terminal (progress bars, what goes to stdout and
//! stderr) and that maps outcomes onto [`Status`]. `plan`, `sync --dry-run`, `sync` and `apply`
//! all go through `prepare`, so they compute the very same plan; only `execute` writes.
//!
//! The folder: [`resolve`] turns clap's arguments into the core's validated types (the one place
//! where `cli` meets the core), `watch` runs `tern watch`, `jobs` runs the job-file commands (`run`, `daemon`, `status`,
//! `jobs`, `config check`) and `maintain` the destination commands (`verify`, `trash`, `undo`).

mod jobs;
mod lines;
mod maintain;
mod resolve;
mod twoway;
mod watch;

use crate::cli::{ApplyArgs, Cli, Command, ConfigAction, FormatArg, PlanArgs, SshArgs};
use crate::exit::Status;
use crate::plan::PlanOptions;
use crate::plan::guard::GuardPolicy;
use crate::plan::saved::{SavedPlan, fingerprint};
use crate::report::{self, Format, PlanReport};
use crate::sync::spec::{DEFAULT_KEEP_TRASH, SyncSpec, parse_destination};
use crate::sync::{self, OnChange, Planned};
use crate::transport::Transport;
use crate::tree::filter::Excludes;
use crate::tree::manifest::{Entry, write_replacing_with};
use crate::tree::scan::{Scan, ScanOptions, default_cache_file, scan};
use crate::util::progress::Progress;
use crate::util::timefmt;
use anyhow::Context;
use resolve::{guard_policy, resolve, resolve_two_way, ssh_options};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Instant, SystemTime};

/// Run `cli` and say how it ended.
pub fn run(cli: Cli) -> anyhow::Result<Status> {
    let show = match (cli.quiet, cli.progress) {
        (true, _) => lines::Show::Never,
        (false, true) => lines::Show::Always,
        (false, false) => lines::Show::Auto,
    };
    let ui = Ui { quiet: cli.quiet, verbose: cli.verbose, show };
    match cli.command {
        Command::Sync(args) if args.two_way.two_way => {
            let spec = resolve_two_way(&args.tree, &args.two_way, Some(&args.keep_trash))?;
            let guards = guard_policy(&args.guards);
            if args.dry_run {
                let out = Output { format: Format::Text, save: None, limit: usize::MAX };
                twoway::plan(&ui, &spec, &guards, &out, args.detailed_exitcode)
            } else {
                twoway::sync(&ui, &spec, &guards)
            }
        }
        Command::Plan(args) if args.two_way.two_way => {
            let spec = resolve_two_way(&args.tree, &args.two_way, None)?;
            twoway::plan(
                &ui,
                &spec,
                &guard_policy(&args.guards),
                &Output::of(&args),
                args.detailed_exitcode,
            )
        }
        Command::Sync(args) => {
            let mut spec = resolve(&args.tree, Some(&args.keep_trash))?;
            spec.guards = guard_policy(&args.guards);
            if args.dry_run {
                let out = Output { format: Format::Text, save: None, limit: usize::MAX };
                plan_command(&ui, &spec, &out, args.detailed_exitcode)
            } else {
                sync(&ui, &spec)
            }
        }
        Command::Plan(args) => {
            let mut spec = resolve(&args.tree, None)?;
            spec.guards = guard_policy(&args.guards);
            plan_command(&ui, &spec, &Output::of(&args), args.detailed_exitcode)
        }
        Command::Watch(args) => watch::watch(&ui, &args),
        Command::Apply(args) => apply_command(&ui, &args),
        Command::Verify(args) => maintain::verify(&ui, &args),
        Command::Trash { action } => maintain::trash(&action),
        Command::Undo { run, dest, ssh } => maintain::undo(run.as_deref(), &dest, &ssh),
        Command::Config { action: ConfigAction::Check { file } } => jobs::config_check(&file),
        Command::Jobs { file, next } => jobs::list_jobs(&file, next),
        Command::Run { file, name, log_format } => {
            jobs::run_job(&file, &name, log_format, ui.quiet)
        }
        Command::Daemon { file, log_format, metrics_listen } => {
            jobs::run_daemon(&file, log_format, metrics_listen)
        }
        Command::Status { file, json } => jobs::status(&file, json),
        Command::Completions { shell } => {
            crate::cli::write_completions(shell, &mut std::io::stdout().lock());
            Ok(Status::Success)
        }
        Command::Serve { root, restrict_to, read_only } => {
            use crate::remote::agent::{Limits, restricted_root, serve_limited};
            let root = match (restrict_to, root) {
                (Some(dir), root) => {
                    let original = std::env::var("SSH_ORIGINAL_COMMAND").ok();
                    restricted_root(&dir, root.as_deref(), original.as_deref())
                        .map_err(anyhow::Error::msg)?
                }
                (None, Some(root)) => root,
                (None, None) => anyhow::bail!("tern serve needs --root DIR (or --restrict-to DIR)"),
            };
            let limits = Limits { read_only };
            serve_limited(root, limits, std::io::stdin().lock(), std::io::stdout().lock())
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
    show: lines::Show,
}

impl Ui {
    /// Progress lines on stderr, starting with phase `what`, as `--progress`/`--quiet` say.
    fn progress(&self, what: &'static str) -> Progress {
        lines::progress(self.show, what)
    }
}

/// Where and how a plan is reported.
struct Output<'a> {
    format: Format,
    save: Option<&'a Path>,
    limit: usize,
}

impl<'a> Output<'a> {
    fn of(args: &'a PlanArgs) -> Self {
        let format = match args.format {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Markdown => Format::Markdown,
        };
        Output { format, save: args.out.as_deref(), limit: args.limit }
    }
}

/// A scanned source and the plan against one destination.
struct Prepared {
    scanned: Scan,
    planned: Planned,
}

/// Scan the source and print what it could not read (and, verbose, what it read).
fn scan_source(ui: &Ui, spec: &SyncSpec) -> anyhow::Result<Scan> {
    let bar = ui.progress("scanning");
    let scanned = scan(&spec.source, &spec.scan, &bar)?;
    bar.finish();
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
    Ok(scanned)
}

/// Open the destination and read its manifest while the source is scanned on another thread
/// (connecting over SSH then costs no time of its own), then plan and check the guards.
fn prepare(ui: &Ui, spec: &SyncSpec) -> anyhow::Result<(Box<dyn Transport>, Prepared)> {
    let (dest, scanned) = std::thread::scope(|s| {
        let scan = s.spawn(|| scan_source(ui, spec));
        let dest = sync::open(spec).and_then(|mut d| {
            let read = sync::read_dest(spec, d.as_mut())?;
            Ok((d, read))
        });
        (dest, scan.join())
    });
    let (dest, read) = dest?;
    let mut scanned = match scanned {
        Ok(r) => r?,
        Err(_) => anyhow::bail!("internal error: the source scan panicked"),
    };
    for p in &read.corrected {
        eprintln!("tern: {} changed at the destination; sending it again", p.display());
    }
    // The plan takes the scanned entries over (`Plan::source` gives them back).
    let source = std::mem::take(&mut scanned.manifest);
    let planned = sync::plan_source(spec, source, &scanned.issues, read.manifest);
    crate::sync::transfer::entries_read_whole(&planned.plan, &planned.dest_manifest)?;
    let planned = sync::Planned { corrected: read.corrected, dest_id: read.id, ..planned };
    Ok((dest, Prepared { scanned, planned }))
}

fn plan_command(
    ui: &Ui,
    spec: &SyncSpec,
    out: &Output<'_>,
    detailed: bool,
) -> anyhow::Result<Status> {
    let (_dest, p) = prepare(ui, spec)?;
    let now = SystemTime::now();
    let r = PlanReport {
        source: spec.source.display().to_string(),
        destination: spec.dest.to_string(),
        generated_at: timefmt::rfc3339(now),
        plan: &p.planned.plan,
        verdicts: &p.planned.verdicts,
        issues: &p.scanned.issues,
    };
    let text = if ui.quiet && out.format == Format::Text {
        report::plan_lines(&p.planned.plan, false)
    } else {
        report::render(&r, out.format, ui.verbose, out.limit)
    };
    write_or_pipe_closed(&mut std::io::stdout().lock(), text.as_bytes())?;
    if let Some(file) = out.save {
        save_plan(spec, &p, now, file)?;
    }
    sync::check_guards(&p.planned)?;
    Ok(if !p.scanned.issues.is_empty() {
        if detailed { Status::Error } else { Status::Partial }
    } else if detailed && !p.planned.plan.is_empty() {
        Status::ChangesPending
    } else {
        Status::Success
    })
}

fn save_plan(spec: &SyncSpec, p: &Prepared, now: SystemTime, file: &Path) -> anyhow::Result<()> {
    let (dest_generation, dest_hash) = fingerprint(&p.planned.dest_manifest);
    let saved = SavedPlan {
        source: std::fs::canonicalize(&spec.source)
            .with_context(|| format!("cannot resolve {}", spec.source.display()))?,
        destination: spec.dest.to_string(),
        created_at: timefmt::rfc3339(now),
        delete: spec.plan.delete,
        xattrs: !spec.scan.no_xattrs,
        one_file_system: spec.scan.one_file_system,
        hard_links: !spec.scan.no_hard_links,
        excludes: spec.plan.excludes.patterns().to_vec(),
        protected: p.scanned.issues.iter().map(|i| i.path.clone()).collect(),
        dest_generation,
        dest_hash,
        source_entries: p.planned.plan.source(),
    };
    // Encoded as it is written: a large tree's plan is never held whole.
    write_replacing_with(file, true, |w| saved.write_to(w))
        .with_context(|| format!("cannot write plan {}", file.display()))?;
    eprintln!(
        "tern: plan saved to {}; apply it with `tern apply {}`",
        file.display(),
        file.display()
    );
    Ok(())
}

fn sync(ui: &Ui, spec: &SyncSpec) -> anyhow::Result<Status> {
    let started = Instant::now();
    let (mut dest, p) = prepare(ui, spec)?;
    execute(ui, spec, dest.as_mut(), p, OnChange::Replan, started)
}

/// Apply a prepared plan and report.
fn execute(
    ui: &Ui,
    spec: &SyncSpec,
    dest: &mut dyn Transport,
    p: Prepared,
    on_change: OnChange,
    started: Instant,
) -> anyhow::Result<Status> {
    let bar = ui.progress("sending");
    let run_id = timefmt::run_id(SystemTime::now());
    let never = AtomicBool::new(false);
    let issues = &p.scanned.issues;
    let had_issues = !issues.is_empty();
    let synced =
        sync::apply_planned(spec, issues, dest, p.planned, on_change, &run_id, &never, &bar)?;
    bar.finish();
    let mut out = std::io::stdout().lock();
    if ui.verbose && synced.applied.is_some() {
        write_or_pipe_closed(&mut out, report::plan_lines(&synced.planned.plan, false).as_bytes())?;
    }
    let applied = synced.applied.unwrap_or_default();
    if let Some(warning) = applied.commit.unkept.warning(&dest.describe()) {
        eprintln!("tern: warning: {warning}");
    }
    if !ui.quiet {
        let line = report::sync_summary(&synced.planned.plan, &applied, dest, started.elapsed());
        write_or_pipe_closed(&mut out, format!("{line}\n").as_bytes())?;
    }
    let partial = had_issues || !applied.skipped.is_empty();
    Ok(if partial { Status::Partial } else { Status::Success })
}

fn apply_command(ui: &Ui, args: &ApplyArgs) -> anyhow::Result<Status> {
    let started = Instant::now();
    let saved = SavedPlan::load(&args.plan).map_err(anyhow::Error::msg)?;
    let excludes =
        crate::tree::filter::Excludes::new(&saved.excludes).map_err(anyhow::Error::msg)?;
    let mut spec = dest_spec(Some(saved.source.clone()), &saved.destination, &args.ssh)?;
    spec.scan.excludes = excludes.clone();
    spec.scan.no_xattrs = !saved.xattrs;
    spec.scan.one_file_system = saved.one_file_system;
    spec.scan.no_hard_links = !saved.hard_links;
    spec.plan = PlanOptions { delete: saved.delete, excludes };
    spec.guards = guard_policy(&args.guards);
    let stale = |what: String| {
        anyhow::anyhow!(
            "{what} since plan {} was made ({}); nothing was written; make a new plan with `tern plan --out`",
            args.plan.display(),
            saved.created_at
        )
    };
    let mut dest = sync::open(&spec)?;
    let dest_manifest = dest.read_manifest()?.unwrap_or_default();
    let dest_id = dest.last_read_id();
    let (generation, hash) = fingerprint(&dest_manifest);
    if (generation, hash) != (saved.dest_generation, saved.dest_hash) {
        return Err(stale(format!(
            "the destination {} changed (manifest generation {generation}, planned against {})",
            spec.dest, saved.dest_generation
        )));
    }
    // Every entry the plan writes must still be, in the source, what was planned.
    let mut scanned = scan_source(ui, &spec)?;
    let planned = {
        // Plan from the saved source manifest; the saved unreadable entries stay protected.
        let source_now = std::mem::replace(&mut scanned.manifest, saved.source_entries.clone());
        scanned.issues = saved
            .protected
            .iter()
            .map(|p| crate::tree::scan::ScanIssue {
                path: p.clone(),
                message: "unreadable when planned".into(),
            })
            .collect();
        let planned = sync::plan_against(&spec, &scanned, dest_manifest);
        let planned = sync::Planned { dest_id, ..planned };
        // Both in path order: the source as it is now is read alongside the plan.
        let mut now = source_now.iter().peekable();
        let mut differs = |e: &Entry| {
            while now.next_if(|n| n.path < e.path).is_some() {}
            now.peek() != Some(e)
        };
        let changed: Vec<String> = planned
            .plan
            .iter()
            .filter(|c| c.new.as_ref().is_some_and(&mut differs))
            .map(|c| c.path.display().to_string())
            .collect();
        if let Some(first) = changed.first() {
            let more = if changed.len() > 1 {
                format!(" and {} more", changed.len() - 1)
            } else {
                String::new()
            };
            return Err(stale(format!("source entry {first}{more} changed")));
        }
        planned
    };
    // Those entries were reported when the plan was made; they do not make this run partial.
    scanned.issues.clear();
    let p = Prepared { scanned, planned };
    execute(ui, &spec, dest.as_mut(), p, OnChange::Refuse, started)
}

/// A spec for `dest` with the defaults of the command line (and, when given, a source to compare
/// with or send from): used by `apply` and the maintenance commands.
fn dest_spec(source: Option<PathBuf>, dest: &str, ssh: &SshArgs) -> anyhow::Result<SyncSpec> {
    let source = source.unwrap_or_default();
    Ok(SyncSpec {
        scan: ScanOptions {
            checksum: false,
            cache_file: default_cache_file(&source),
            excludes: Excludes::default(),
            no_xattrs: false,
            one_file_system: false,
            no_hard_links: false,
        },
        source,
        dest: parse_destination(dest)?,
        plan: PlanOptions::default(),
        ssh: ssh_options(ssh),
        guards: GuardPolicy::default(),
        keep_trash: Some(DEFAULT_KEEP_TRASH),
        check_dest: false,
    })
}

/// Write to stdout, treating a closed pipe (`tern plan | head`) as success.
pub(crate) fn write_or_pipe_closed(out: &mut impl Write, data: &[u8]) -> anyhow::Result<()> {
    match out.write_all(data).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r.context("cannot write to standard output")?),
    }
}
