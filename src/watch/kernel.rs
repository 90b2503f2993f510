//! Changes in a source tree as the kernel reports them: inotify (through the `inotify` crate) on
//! every directory of the tree, a watch added for each directory made or moved in, and the mount
//! table, which the kernel marks when a file system is mounted or unmounted. Both block in the
//! kernel until something happens: an idle watch uses no CPU.
//!
//! Only changes are asked for: creations, writes (`IN_MODIFY`, `IN_CLOSE_WRITE`), metadata,
//! renames and deletions; never opens or reads, which every reader of the tree (tern's own scans
//! included, or a web server) would otherwise turn into events by the hundred thousand, enough to
//! overflow the kernel's queue and ask for a whole scan after every scan. What arrives becomes
//! [`Signal`]s on one channel.

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

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
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a directory's watch asks the kernel for.
const MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MODIFY)
    .union(WatchMask::CLOSE_WRITE)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF)
    .union(WatchMask::ONLYDIR)
    .union(WatchMask::DONT_FOLLOW)
    .union(WatchMask::EXCL_UNLINK);

/// Each watch's directory, by descriptor.
type Dirs = Arc<Mutex<HashMap<WatchDescriptor, PathBuf>>>;

/// The kernel's watches of one tree, held while it is watched; dropping it ends its thread.
pub struct Kernel {
    watches: Watches,
    dirs: Dirs,
    stop: Arc<AtomicBool>,
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

/// Watch every directory at and below `dir` (symlinks not followed), recording each; a
/// directory gone meanwhile is skipped (its parent's events say so).
fn watch_tree(watches: &mut Watches, dirs: &Dirs, dir: &Path) -> Result<(), KernelError> {
    let walk = walkdir::WalkDir::new(dir).follow_links(false).follow_root_links(false);
    for entry in walk.into_iter().filter_entry(|e| e.file_type().is_dir()).flatten() {
        match watches.add(entry.path(), MASK) {
            Ok(wd) => {
                dirs.lock().unwrap_or_else(|p| p.into_inner()).insert(wd, entry.into_path());
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                return Err(KernelError::WatchLimit(watch_limit_message(dir)));
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {}
            Err(source) => return Err(KernelError::Watch { path: entry.into_path(), source }),
        }
    }
    Ok(())
}

impl Kernel {
    /// Watch `root` and everything below it, and the mount table, sending to `tx`.
    pub fn start(root: &Path, tx: Sender<Signal>) -> Result<Kernel, KernelError> {
        let fail = |source| KernelError::Watch { path: root.to_path_buf(), source };
        let inotify = Inotify::init().map_err(fail)?;
        let mut watches = inotify.watches();
        let dirs: Dirs = Arc::default();
        watch_tree(&mut watches, &dirs, root)?;
        let stop = Arc::new(AtomicBool::new(false));
        let events =
            Events { inotify, watches: watches.clone(), dirs: dirs.clone(), tx: tx.clone() };
        let stopped = stop.clone();
        std::thread::spawn(move || events.run(&stopped));
        watch_mounts(tx);
        Ok(Kernel { watches, dirs, stop })
    }
}

impl Drop for Kernel {
    /// Remove every watch: the kernel answers each with `IN_IGNORED`, which wakes the thread to
    /// see it is to stop (and to close the inotify descriptor).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let wds: Vec<WatchDescriptor> =
            self.dirs.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        for wd in wds {
            let _ = self.watches.remove(wd);
        }
    }
}

/// The thread reading a tree's events.
struct Events {
    inotify: Inotify,
    watches: Watches,
    dirs: Dirs,
    tx: Sender<Signal>,
}

impl Events {
    fn run(mut self, stop: &AtomicBool) {
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            // Tests pause the reader here, so that a burst surely overflows a small queue.
            crate::util::failpoint::delay("watch-read");
            let read = self.inotify.read_events_blocking(&mut buffer);
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let events: Vec<(WatchDescriptor, EventMask, u32, Option<std::ffi::OsString>)> =
                match read {
                    Ok(events) => events
                        .map(|e| (e.wd, e.mask, e.cookie, e.name.map(OsStr::to_os_string)))
                        .collect(),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ =
                            self.tx.send(Signal::Fatal(format!("cannot read inotify events: {e}")));
                        return;
                    }
                };
            // A directory moved away in this read, by cookie, not yet seen arriving.
            let mut moved_from: HashMap<u32, PathBuf> = HashMap::new();
            let mut signals = Vec::new();
            for (wd, mask, cookie, name) in events {
                if mask.contains(EventMask::Q_OVERFLOW) {
                    signals.push(Signal::Lost(
                        "the kernel's event queue overflowed (fs.inotify.max_queued_events)".into(),
                    ));
                    continue;
                }
                let dir = self.dirs.lock().unwrap_or_else(|p| p.into_inner()).get(&wd).cloned();
                let Some(dir) = dir else { continue };
                if mask.contains(EventMask::IGNORED) {
                    self.dirs.lock().unwrap_or_else(|p| p.into_inner()).remove(&wd);
                    continue;
                }
                let path = match &name {
                    Some(n) => dir.join(n),
                    None => dir.clone(),
                };
                let is_dir = mask.contains(EventMask::ISDIR);
                if is_dir && mask.contains(EventMask::MOVED_FROM) {
                    moved_from.insert(cookie, path.clone());
                } else if is_dir && mask.contains(EventMask::MOVED_TO) {
                    match moved_from.remove(&cookie) {
                        // Renamed within the tree: its watches name it by its new path.
                        Some(old) => self.rename_dirs(&old, &path),
                        // Moved in from outside: watched from now on.
                        None => self.add_tree(&path, &mut signals),
                    }
                } else if is_dir && mask.contains(EventMask::CREATE) {
                    self.add_tree(&path, &mut signals);
                }
                signals.push(Signal::Changed(path));
            }
            // Moved out of the tree: its watches would name paths that are gone.
            for old in moved_from.into_values() {
                self.forget_dirs(&old);
            }
            for s in signals {
                if self.tx.send(s).is_err() {
                    return;
                }
            }
        }
    }

    fn add_tree(&mut self, dir: &Path, signals: &mut Vec<Signal>) {
        match watch_tree(&mut self.watches, &self.dirs, dir) {
            Ok(()) => {}
            Err(KernelError::WatchLimit(m)) => signals.push(Signal::Fatal(m)),
            Err(e) => signals.push(Signal::Lost(e.to_string())),
        }
    }

    fn rename_dirs(&self, old: &Path, new: &Path) {
        let mut dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        for path in dirs.values_mut() {
            if let Ok(rest) = path.strip_prefix(old) {
                *path = new.join(rest);
            }
        }
    }

    fn forget_dirs(&mut self, old: &Path) {
        let gone: Vec<WatchDescriptor> = {
            let dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
            dirs.iter().filter(|(_, p)| p.starts_with(old)).map(|(wd, _)| wd.clone()).collect()
        };
        for wd in gone {
            let _ = self.watches.remove(wd.clone());
            self.dirs.lock().unwrap_or_else(|p| p.into_inner()).remove(&wd);
        }
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
    fn the_watch_limit_message_names_the_setting_and_how_to_raise_it() {
        let m = watch_limit_message(Path::new("/srv/site"));
        assert!(m.contains("fs.inotify.max_user_watches="), "{m}");
        assert!(m.contains("/srv/site") && m.contains("/etc/sysctl.d/"), "{m}");
    }
}
