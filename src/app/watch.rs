//! `tern watch`: its arguments resolved, a signal turned into a stop, and each batch printed.

use super::Ui;
use super::resolve::{guard_policy, resolve};
use crate::cli::WatchArgs;
use crate::exit::Status;
use crate::report;
use crate::sync::spec::parse_duration;
use crate::util::progress::Progress;
use crate::watch::kernel::Signal;
use crate::watch::{self, Report, WatchOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub fn watch(ui: &Ui, args: &WatchArgs) -> anyhow::Result<Status> {
    let mut specs = Vec::new();
    for dest in std::iter::once(&args.tree.dest).chain(&args.more) {
        let tree = crate::cli::TreeArgs { dest: dest.clone(), ..args.tree.clone() };
        let mut spec = resolve(&tree, Some(&args.keep_trash))?;
        spec.guards = guard_policy(&args.guards);
        specs.push(spec);
    }
    let delay = parse_duration(&args.delay).map_err(|e| anyhow::anyhow!("--delay: {e}"))?;
    let full_every = match &args.full_every {
        Some(d) => match parse_duration(d).map_err(|e| anyhow::anyhow!("--full-every: {e}"))? {
            d if d.is_zero() => anyhow::bail!("--full-every: give a duration above zero, e.g. 1h"),
            d => Some(d),
        },
        None => None,
    };
    let mut opts = WatchOptions::with_delay(delay);
    opts.full_passes =
        full_every.map(|every| -> watch::FullPasses { Arc::new(move |t| Some(t + every)) });
    let (tx, rx) = watch::channel();
    let cancel = Arc::new(AtomicBool::new(false));
    stop_on_signals(tx.clone(), cancel.clone())?;
    let source = args.tree.source.display().to_string();
    let dests: Vec<String> = specs.iter().map(|s| s.dest.to_string()).collect();
    let (quiet, verbose) = (ui.quiet, ui.verbose);
    let mut first = true;
    let mut print = |r: Report<'_>| match r {
        Report::Scanning { reason } if !quiet && first => {
            eprintln!("tern: {reason}: scanning {source}");
        }
        Report::Scanning { reason } if !quiet => {
            eprintln!("tern: scanning {source} whole: {reason}")
        }
        Report::Scanning { .. } => {}
        Report::Watching { entries } => {
            first = false;
            if !quiet {
                eprintln!(
                    "tern: watching {source} ({entries} entries) for {}; SIGINT or SIGTERM stops",
                    dests.join(", ")
                );
            }
        }
        Report::Synced { dest, synced, paths, lag } => {
            let applied = synced.applied.as_ref();
            if let Some(w) = applied.and_then(|a| a.commit.unkept.warning(dest)) {
                eprintln!("tern: warning: {w}");
            }
            if quiet || (applied.is_none() && !verbose) {
                return;
            }
            let empty = Default::default();
            let line = report::batch_summary(
                dest,
                &synced.planned.plan,
                applied.unwrap_or(&empty),
                paths,
                lag,
            );
            println!("{line}");
        }
        // The error names the destination.
        Report::Failed { error, retry_in, .. } => {
            let again = match retry_in {
                Some(wait) => format!("; trying again in {}s", wait.as_secs()),
                None => "; trying again with the next change".into(),
            };
            eprintln!("tern: error: {}{again}", error.one_line());
        }
    };
    let progress = Progress::hidden();
    watch::watch(&specs, &opts, (tx, rx), &cancel, &progress, &mut print)?;
    Ok(Status::Success)
}

/// A thread that, on SIGINT or SIGTERM, stops any transfer before its commit and the watch.
fn stop_on_signals(
    tx: std::sync::mpsc::Sender<Signal>,
    cancel: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Registered now, before any work: a signal that comes early is not lost.
    let (mut term, mut int) = rt.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    std::thread::spawn(move || {
        rt.block_on(async {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        });
        cancel.store(true, Ordering::SeqCst);
        let _ = tx.send(Signal::Stop);
    });
    Ok(())
}
