//! Changes in a source tree as the kernel reports them: inotify through the `notify` crate,
//! recursive (a new directory is watched as it appears), and the mount table, which the kernel
//! marks when a file system is mounted or unmounted. Both block in the kernel until something
//! happens: an idle watch uses no CPU.
//!
//! What arrives is turned into [`Signal`]s on one channel; reads (tern's own scans open every
//! file they hash) are not changes and are dropped here.

use notify::event::{AccessKind, AccessMode, EventKind, Flag};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

/// What the watch loop is told.
#[derive(Debug)]
pub enum Signal {
    /// Something at this path (absolute) was created, written, removed, renamed or changed
    /// its metadata.
    Changed(PathBuf),
    /// Events were lost: only a whole scan can say what changed.
    Lost(String),
    /// The mount table changed.
    Mounts,
    /// Watching cannot go on, for this reason (a sentence that says what to do).
    Fatal(String),
    /// Stop (a signal, or the caller).
    Stop,
}

/// Why the tree cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("{0}")]
    WatchLimit(String),
    #[error("cannot watch {}: {reason}", path.display())]
    Watch { path: PathBuf, reason: String },
}

/// The kernel's watches of one tree, held while it is watched.
pub struct Kernel {
    _watcher: RecommendedWatcher,
}

/// The message for a reached watch limit: which setting to raise, and how.
pub fn watch_limit_message(root: &Path) -> String {
    let now = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let (now, more) = match now {
        Some(n) => (format!(" ({n})"), (n * 2).max(524_288)),
        None => (String::new(), 524_288),
    };
    format!(
        "the kernel's limit of inotify watches{now} is reached watching {}: raise it with `sysctl \
         fs.inotify.max_user_watches={more}` (and in /etc/sysctl.d/ to keep it), then start again",
        root.display()
    )
}

impl Kernel {
    /// Watch `root` and everything below it, and the mount table, sending to `tx`.
    pub fn start(root: &Path, tx: Sender<Signal>) -> Result<Kernel, KernelError> {
        let events = tx.clone();
        let shown = root.to_path_buf();
        let handler = move |res: notify::Result<notify::Event>| {
            let signals: Vec<Signal> = match res {
                Ok(ev) if ev.flag() == Some(Flag::Rescan) => vec![Signal::Lost(
                    "the kernel's event queue overflowed (fs.inotify.max_queued_events)".into(),
                )],
                Ok(ev) if is_change(&ev.kind) => {
                    ev.paths.into_iter().map(Signal::Changed).collect()
                }
                Ok(_) => Vec::new(),
                Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                    vec![Signal::Fatal(watch_limit_message(&shown))]
                }
                Err(e) => vec![Signal::Lost(format!("the watcher reported: {e}"))],
            };
            for s in signals {
                let _ = events.send(s);
            }
        };
        let config = notify::Config::default().with_follow_symlinks(false);
        let fail = |e: notify::Error| match e.kind {
            notify::ErrorKind::MaxFilesWatch => KernelError::WatchLimit(watch_limit_message(root)),
            _ => KernelError::Watch { path: root.to_path_buf(), reason: e.to_string() },
        };
        let mut watcher = RecommendedWatcher::new(handler, config).map_err(fail)?;
        watcher.watch(root, RecursiveMode::Recursive).map_err(fail)?;
        watch_mounts(tx);
        Ok(Kernel { _watcher: watcher })
    }
}

/// Whether an event is a change (not a read of a file, which every scan makes).
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// A thread that sends [`Signal::Mounts`] each time the mount table changes: the kernel marks
/// `/proc/self/mountinfo` readable with priority then (see proc(5)). Without it, nothing is
/// sent; the thread ends when the watch loop is gone.
fn watch_mounts(tx: Sender<Signal>) {
    let Ok(mut file) = std::fs::File::open("/proc/self/mountinfo") else { return };
    std::thread::spawn(move || {
        use rustix::event::{PollFd, PollFlags};
        let mut buf = Vec::new();
        loop {
            // The table is read whole after each change, as the kernel asks.
            buf.clear();
            use std::io::Seek;
            if file.rewind().and_then(|()| file.read_to_end(&mut buf)).is_err() {
                return;
            }
            let mut fds = [PollFd::new(&file, PollFlags::PRI | PollFlags::ERR)];
            match rustix::event::poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return,
            }
            if tx.send(Signal::Mounts).is_err() {
                return;
            }
        }
    });
}

/// The mount points at or below `root` (in the order the table lists them), from this process's
/// mount table: a change in them means a whole scan.
pub fn mounts_below(root: &Path) -> Vec<PathBuf> {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else { return Vec::new() };
    table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mount)
        .filter(|p| p.starts_with(root))
        .collect()
}

/// A mount point as mountinfo writes it: space, tab, newline and backslash as octal escapes.
fn unescape_mount(field: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped_as_mountinfo_writes_them() {
        assert_eq!(unescape_mount("/mnt/with\\040space"), PathBuf::from("/mnt/with space"));
        assert_eq!(unescape_mount("/a\\134b"), PathBuf::from("/a\\b"));
        assert_eq!(unescape_mount("/plain"), PathBuf::from("/plain"));
        assert!(mounts_below(Path::new("/")).contains(&PathBuf::from("/")));
    }

    #[test]
    fn reads_are_not_changes() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(is_change(&EventKind::Remove(notify::event::RemoveKind::Any)));
    }

    #[test]
    fn the_watch_limit_message_names_the_setting_and_how_to_raise_it() {
        let m = watch_limit_message(Path::new("/srv/site"));
        assert!(m.contains("fs.inotify.max_user_watches="), "{m}");
        assert!(m.contains("/srv/site") && m.contains("/etc/sysctl.d/"), "{m}");
    }
}
