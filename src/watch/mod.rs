//! Real-time replication: `tern watch` and the daemon's watch jobs. A change at the source
//! reaches each destination about a second later.
//!
//! One pass scans the whole source and syncs it, as `tern sync` does; from then on the kernel
//! names what changes ([`kernel`]), the names wait until the tree is quiet ([`batch`]), and a
//! batch scans **only those paths** again ([`crate::tree::scan::scan_within`]), puts them in
//! place of their old entries in the source's manifest, and syncs that manifest through the one
//! sync path ([`crate::sync::apply_planned`]): the same plan, guards, transfer, commit and crash
//! safety as a sync, with no walk of the whole tree per change.
//!
//! Never silently stale: lost events (a full queue), a mount or unmount below the source, a
//! batch that cannot be judged from its paths (a hard-link group), a reconnection, and the
//! optional schedule each make the next batch a whole scan; the source moved away, deleted or
//! unmounted, or the kernel's watch limit reached, end the watch with an error that says what
//! to do. Destinations stay open between batches (one SSH handshake per watch, the lock taken
//! per batch); one that fails is retried with a growing delay, the others go on.

pub mod batch;
pub mod kernel;

use crate::sync::spec::SyncSpec;
use crate::sync::{self, OnChange, SyncError, Synced};
use crate::transport::Transport;
use crate::tree::path::RelPath;
use crate::tree::scan::{self, Scan, ScanError, ScanIssue};
use crate::tree::state::STATE_DIR;
use crate::util::progress::Progress;
use batch::{Batch, Pending, Timing, Work};
use kernel::{Kernel, Signal};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

/// When whole passes are made besides the batches, as a safety net: the next time after a
/// given one (`--full-every`, or a watch job's cron schedule).
pub type FullPasses = Arc<dyn Fn(SystemTime) -> Option<SystemTime> + Send + Sync>;

/// How a watch batches and when it scans the whole tree.
#[derive(Clone)]
pub struct WatchOptions {
    /// Quiet needed before a batch goes (`--delay`, 200 ms by default).
    pub delay: Duration,
    /// The longest a change waits while the tree stays busy.
    pub hold: Duration,
    pub full_passes: Option<FullPasses>,
}

impl WatchOptions {
    /// Options with quiet time `delay`, a hold of ten times it (at least 5 s), no whole passes.
    pub fn with_delay(delay: Duration) -> Self {
        WatchOptions { delay, hold: (delay * 10).max(Duration::from_secs(5)), full_passes: None }
    }

    /// When the next whole pass is due, from now.
    fn next_full(&self) -> Option<Instant> {
        let f = self.full_passes.as_ref()?;
        let now = SystemTime::now();
        let at = f(now)?;
        Some(Instant::now() + at.duration_since(now).unwrap_or_default())
    }
}

/// What a watch tells its caller as it goes.
#[derive(Debug)]
pub enum Report<'a> {
    /// A whole scan starts, for this reason.
    Scanning { reason: &'a str },
    /// The first pass is done: the tree is watched from now on.
    Watching { entries: u64 },
    /// A batch was synced to `dest` (an empty plan included): `lag` from its oldest change to
    /// the commit; `paths` named by the kernel (0 for a whole scan).
    Synced { dest: &'a str, synced: &'a Synced, paths: usize, lag: Duration },
    /// A batch could not be synced to `dest`; it is tried again in `retry_in` (with a new
    /// connection and a whole pass), or with the next change (a plan the guards refused).
    Failed { dest: &'a str, error: &'a SyncError, retry_in: Option<Duration> },
}

/// Why a watch ended other than by being stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Kernel(#[from] kernel::KernelError),
    #[error("{0}")]
    Fatal(String),
    #[error(
        "the source {} {why}; nothing more is replicated; start the watch again once it is back",
        .path.display()
    )]
    SourceGone { path: PathBuf, why: &'static str },
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// The first pass to a destination failed for a reason waiting will not fix.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// The channel a watch listens on: changes from the kernel, and [`Signal::Stop`] from whoever
/// holds a sender (a signal handler, the daemon).
pub fn channel() -> (Sender<Signal>, Receiver<Signal>) {
    std::sync::mpsc::channel()
}

/// A destination kept open between batches.
struct Dest<'a> {
    spec: &'a SyncSpec,
    name: String,
    conn: Option<Box<dyn Transport>>,
    /// After a failed connection: when to try again, and the delay after that.
    retry_at: Option<Instant>,
    backoff: Duration,
}

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The source's identity (device and inode): a different one at its path means it was moved,
/// replaced or unmounted.
fn identity(root: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(root).ok().map(|md| (md.dev(), md.ino()))
}

/// Watch the source of `specs` (all of one source, one spec per destination) and replicate
/// every change until [`Signal::Stop`] arrives on `rx` (or `cancel` is set, which also stops a
/// transfer before its commit).
pub fn watch(
    specs: &[SyncSpec],
    opts: &WatchOptions,
    (tx, rx): (Sender<Signal>, Receiver<Signal>),
    cancel: &AtomicBool,
    progress: &Progress,
    report: &mut dyn FnMut(Report<'_>),
) -> Result<(), WatchError> {
    let Some(first) = specs.first() else { return Ok(()) };
    let source = &first.source;
    let root = std::fs::canonicalize(source).map_err(|_| ScanError::Missing(source.clone()))?;
    let ident = identity(&root);
    // Watched before the first scan: a change made while it runs is not missed.
    let _kernel = Kernel::start(&root, tx)?;
    let mut mounts = kernel::mounts_below(&root);
    let timing = Timing { delay: opts.delay, hold: opts.hold };
    let mut dests: Vec<Dest<'_>> = specs
        .iter()
        .map(|spec| Dest {
            spec,
            name: spec.dest.to_string(),
            conn: None,
            retry_at: None,
            backoff: FIRST_BACKOFF,
        })
        .collect();

    report(Report::Scanning { reason: "first pass" });
    let mut tree = scan::scan(source, &first.scan, progress)?;
    for d in &mut dests {
        if let Err(e) = sync_dest(d, &tree, Instant::now(), 0, cancel, progress, report) {
            // Waiting fixes a held lock or a dropped connection, not a wrong path.
            if !e.is_transient() {
                return Err(e.into());
            }
        }
    }
    report(Report::Watching { entries: tree.manifest.len() });

    let mut pending = Pending::default();
    let mut next_full = opts.next_full();
    loop {
        let now = Instant::now();
        let deadline = [pending.due(timing), next_full]
            .into_iter()
            .chain(dests.iter().map(|d| d.retry_at))
            .flatten()
            .min();
        let arrived = match deadline {
            None => rx.recv().ok(),
            Some(at) => match rx.recv_timeout(at.saturating_duration_since(now)) {
                Ok(s) => Some(s),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            },
        };
        for signal in arrived.into_iter().chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            let now = Instant::now();
            match signal {
                Signal::Stop => return Ok(()),
                Signal::Fatal(why) => return Err(WatchError::Fatal(why)),
                Signal::Lost(why) => pending.rescan_all(why, now),
                Signal::Mounts => {
                    if identity(&root) != ident {
                        return Err(gone(&root, ident));
                    }
                    let now_mounted = kernel::mounts_below(&root);
                    if now_mounted != mounts {
                        mounts = now_mounted;
                        pending.rescan_all("a file system was mounted or unmounted in it", now);
                    }
                }
                Signal::Changed(path) if path == root => {
                    if identity(&root) != ident {
                        return Err(gone(&root, ident));
                    }
                    pending.rescan_all("its top directory changed", now);
                }
                Signal::Changed(path) => {
                    if let Some(rel) = relative(&root, &path, &first.scan.excludes) {
                        pending.touch(rel, now);
                    }
                }
            }
        }
        let now = Instant::now();
        if next_full.is_some_and(|at| at <= now) {
            next_full = opts.next_full();
            pending.rescan_all("the scheduled whole pass", now);
        }
        for d in &mut dests {
            if d.retry_at.is_some_and(|at| at <= now) {
                d.retry_at = None;
                pending.rescan_all(format!("reconnecting to {}", d.name), now);
            }
        }
        let Some(Batch { work, since }) = pending.take(now, timing) else { continue };
        let paths = match &work {
            Work::Full(_) => 0,
            Work::Paths(p) => p.len(),
        };
        tree = match next_tree(first, source, tree, work, progress, report) {
            Ok(t) => t,
            Err(_) if identity(&root) != ident => {
                return Err(gone(&root, ident));
            }
            Err(e) => return Err(e.into()),
        };
        for d in dests.iter_mut().filter(|d| d.retry_at.is_none()) {
            let _ = sync_dest(d, &tree, since, paths, cancel, progress, report);
        }
    }
}

/// The source is no longer the directory it was (`was`, its device and inode): said by what is at
/// its path now, not by which signal saw it first (an unmount reaches the root's watch and the
/// mount table in either order). Another device there means a file system was unmounted (or
/// mounted, or the path replaced by one elsewhere); nothing there, or another inode on the same
/// device, means the directory was moved away or deleted.
fn gone(root: &Path, was: Option<(u64, u64)>) -> WatchError {
    let why = match (identity(root), was) {
        (Some((dev, _)), Some((was_dev, _))) if dev != was_dev => "was unmounted or replaced",
        _ => "was moved away or deleted",
    };
    WatchError::SourceGone { path: root.to_path_buf(), why }
}

/// The source-relative path of an event's `path`, unless nothing there can be replicated: the
/// state directory at the top, or a path excluded whatever kind of entry it is (a busy excluded
/// log directory must not wake the watch).
fn relative(root: &Path, path: &Path, excludes: &crate::tree::filter::Excludes) -> Option<RelPath> {
    let rel = path.strip_prefix(root).ok()?;
    if rel.components().next().is_some_and(|c| c.as_os_str() == STATE_DIR) {
        return None;
    }
    let rel = RelPath::from_path(rel).ok()?;
    let excluded = excludes.excludes(&rel, false) && excludes.excludes(&rel, true);
    (!excluded).then_some(rel)
}

/// The source tree after `work`: scanned whole, or `tree` with the named paths scanned again in
/// place of their old entries (whole where those cannot say).
fn next_tree(
    spec: &SyncSpec,
    source: &Path,
    tree: Scan,
    work: Work,
    progress: &Progress,
    report: &mut dyn FnMut(Report<'_>),
) -> Result<Scan, ScanError> {
    let paths = match work {
        Work::Full(reason) => {
            report(Report::Scanning { reason: &reason });
            return scan::scan(source, &spec.scan, progress);
        }
        Work::Paths(paths) => paths,
    };
    let within = batch::parts(&paths);
    let fresh = scan::scan_within(source, &within, &spec.scan, &Progress::hidden())?;
    // A file of several names: its other names (anywhere) changed too, unseen.
    let linked = fresh.stats.linked_files > 0 && !spec.scan.no_hard_links;
    let merged = match linked {
        true => None,
        false => scan::replace_within(&tree.manifest, &within, &fresh.manifest)?,
    };
    let Some(manifest) = merged else {
        report(Report::Scanning { reason: "a change the named paths alone cannot describe" });
        return scan::scan(source, &spec.scan, progress);
    };
    let replaced = within.cover();
    let mut issues: Vec<ScanIssue> =
        tree.issues.into_iter().filter(|i| !replaced.contains(&i.path)).collect();
    issues.extend(fresh.issues);
    issues.sort_by(|a, b| a.path.cmp(&b.path));
    let mut stats = fresh.stats;
    stats.entries = manifest.len();
    Ok(Scan { manifest, issues, stats })
}

/// Sync `tree` to `d` on its open connection (opened now if it is not), then release the lock.
/// A failure is reported; a transient one closes the connection, to be opened again later.
fn sync_dest(
    d: &mut Dest<'_>,
    tree: &Scan,
    since: Instant,
    paths: usize,
    cancel: &AtomicBool,
    progress: &Progress,
    report: &mut dyn FnMut(Report<'_>),
) -> Result<(), SyncError> {
    let result = (|| -> Result<Synced, SyncError> {
        let conn = match &mut d.conn {
            Some(c) => c,
            None => d.conn.insert(sync::open(d.spec)?),
        };
        let dest = conn.as_mut();
        let run_id = crate::util::timefmt::run_id(SystemTime::now());
        let planned = sync::plan_for(d.spec, tree, dest)?;
        let synced = sync::apply_planned(
            d.spec,
            &tree.issues,
            dest,
            planned,
            OnChange::Replan,
            &run_id,
            cancel,
            progress,
        );
        let unlocked = dest.unlock();
        let synced = synced?;
        unlocked.map_err(|source| SyncError::Transport {
            dest: d.name.clone(),
            source: Box::new(source),
        })?;
        Ok(synced)
    })();
    match result {
        Ok(synced) => {
            d.backoff = FIRST_BACKOFF;
            report(Report::Synced { dest: &d.name, synced: &synced, paths, lag: since.elapsed() });
            Ok(())
        }
        Err(error) => {
            // A refused plan waits for the next change; anything from the destination itself
            // may have left the connection dead: a new one, later, and a whole pass then (the
            // replica is behind the tree until it succeeds, change or not).
            let retry_in = matches!(error, SyncError::Transport { .. }).then_some(d.backoff);
            if let Some(wait) = retry_in {
                d.conn = None;
                d.retry_at = Some(Instant::now() + wait);
                d.backoff = (d.backoff * 2).min(MAX_BACKOFF);
            }
            report(Report::Failed { dest: &d.name, error: &error, retry_in });
            Err(error)
        }
    }
}
