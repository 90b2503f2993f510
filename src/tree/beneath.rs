//! Entries beneath a destination's top, reached without following a symlink anywhere below it.
//!
//! A replica is written by whoever runs tern (often root) while others may write into it: a web
//! user, a service, whoever owns a synced subtree. A symlink they plant at any level must never
//! turn one of tern's writes, renames or deletes into one outside the destination, not even in
//! the moment between a check and the write (a check by path, then a write by path, is a race
//! the planter can win). So nothing below the top is reached by a path string:
//!
//! - the top is opened once; it is the user's to trust (it may itself be a symlink);
//! - each directory below it is opened relative to that handle with `openat2(RESOLVE_BENEATH |
//!   RESOLVE_NO_SYMLINKS)` (Linux 5.6 and later), or, where the kernel or a seccomp filter
//!   refuses that call, one component at a time with `O_NOFOLLOW`, each checked to be a directory;
//! - an entry is then its directory's handle and one name ([`At`]), and every operation on it is
//!   an `*at` call on the two, which never follows a symlink at the name either.
//!
//! A directory handle keeps naming the same directory whatever is renamed around it meanwhile.
//! Handles are cached per directory (a commit's operations come in path order); the cache is told
//! when a directory moves away ([`Beneath::forget`]). This is the resolution rsync 3.2.4 and later
//! make for the same reason.

use crate::tree::state::Unsafe;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Directory handles kept at most; the cache starts again past it (a handle is one descriptor).
const CACHED: usize = 256;

/// A destination's top, and handles of directories below it resolved without symlinks.
pub struct Beneath {
    top: OwnedFd,
    shown: PathBuf,
    cache: HashMap<PathBuf, Arc<OwnedFd>>,
    /// Whether `openat2` may be tried: cleared the first time the kernel refuses it.
    openat2: bool,
}

/// One entry beneath the top: the handle of its directory and its name there.
pub struct At {
    dir: Arc<OwnedFd>,
    name: OsString,
}

/// A directory's path through its handle (`/proc/self/fd/N`), for the calls that take a
/// directory's path (temporary files made in it, a file renamed into it). The handle stays open
/// as long as this lives.
pub struct DirPath {
    _dir: Arc<OwnedFd>,
    path: PathBuf,
}

impl std::ops::Deref for DirPath {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

/// Whether `e` says a symlink or something other than a directory stood on the way: the entry
/// cannot be reached without following it.
pub fn is_planted(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR | libc::EXDEV))
}

fn errno(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// The components of `rel`, which must be relative and plain (no `..`, no root).
fn names(rel: &Path) -> io::Result<Vec<&OsStr>> {
    rel.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "not a plain relative path")),
        })
        .collect()
}

const DIR_FLAGS: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);

impl Beneath {
    /// Open the top, following a symlink there (the user named it).
    pub fn open(top: &Path) -> io::Result<Beneath> {
        let fd = rustix::fs::open(top, DIR_FLAGS, Mode::empty()).map_err(errno)?;
        Ok(Beneath { top: fd, shown: top.to_path_buf(), cache: HashMap::new(), openat2: true })
    }

    /// `rel` as messages show it.
    pub fn shown(&self, rel: &Path) -> PathBuf {
        self.shown.join(rel)
    }

    /// Open `rel` (a directory, or the top when empty) with `flags`, never through a symlink.
    fn resolve(&mut self, rel: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        let parts = names(rel)?;
        if parts.is_empty() {
            return rustix::fs::openat(&self.top, ".", flags, Mode::empty()).map_err(errno);
        }
        if self.openat2 {
            let how =
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
            match rustix::fs::openat2(&self.top, rel, flags | OFlags::NOFOLLOW, Mode::empty(), how)
            {
                Ok(fd) => return Ok(fd),
                // Not this kernel, or a seccomp filter in the way: walk instead, from now on.
                Err(e) if e == rustix::io::Errno::NOSYS || e == rustix::io::Errno::PERM => {
                    self.openat2 = false;
                }
                // A changing tree can make RESOLVE_BENEATH give up, and a symlink as the last
                // name reads as "not a directory": the walk decides, and names a symlink ELOOP.
                Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::NOTDIR => {}
                Err(e) => return Err(errno(e)),
            }
        }
        walk(self.top.as_fd(), &parts, flags)
    }

    /// A handle of the directory `rel` (the top when empty), which must be a real directory at
    /// every level.
    pub fn dir(&mut self, rel: &Path) -> io::Result<Arc<OwnedFd>> {
        if let Some(fd) = self.cache.get(rel) {
            return Ok(fd.clone());
        }
        let fd = Arc::new(self.resolve(rel, DIR_FLAGS)?);
        if self.cache.len() >= CACHED {
            self.cache.clear();
        }
        self.cache.insert(rel.to_path_buf(), fd.clone());
        Ok(fd)
    }

    /// The directory `rel` as a path through its handle.
    pub fn dir_path(&mut self, rel: &Path) -> io::Result<DirPath> {
        let dir = self.dir(rel)?;
        let path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        Ok(DirPath { _dir: dir, path })
    }

    /// The directory `rel` opened for reading (to set its metadata, fsync it or list it).
    pub fn open_dir(&mut self, rel: &Path) -> io::Result<File> {
        let fd = self.resolve(rel, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC)?;
        Ok(File::from(fd))
    }

    /// The entry `rel`: its parent directory's handle and its name. `rel` must not be empty.
    pub fn at(&mut self, rel: &Path) -> io::Result<At> {
        let parts = names(rel)?;
        let Some((name, _)) = parts.split_last() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the top is not an entry"));
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        Ok(At { dir: self.dir(parent)?, name: name.to_os_string() })
    }

    /// Make every directory of `rel` that is missing (mode 0700 before the umask; tern's own
    /// directories), and return the last one's handle. A symlink or another kind of entry at any
    /// level is refused, naming it.
    pub fn make_dirs(&mut self, rel: &Path) -> Result<Arc<OwnedFd>, Unsafe> {
        if let Ok(fd) = self.dir(rel) {
            return Ok(fd);
        }
        let parts = names(rel).map_err(|e| Unsafe::Io(self.shown(rel), e))?;
        let mut at = PathBuf::new();
        let mut dir = self.dir(&at).map_err(|e| Unsafe::Io(self.shown.clone(), e))?;
        for name in parts {
            at.push(name);
            let here = At { dir: dir.clone(), name: name.to_os_string() };
            dir = match self.dir(&at) {
                Ok(fd) => fd,
                Err(_) => {
                    here.make_dir(&self.shown(&at))?;
                    self.dir(&at).map_err(|e| Unsafe::Io(self.shown(&at), e))?
                }
            };
        }
        Ok(dir)
    }

    /// Forget the handles of `rel` and of every directory below it: `rel` moved away (to the
    /// trash), and its handles no longer name what is at those paths.
    pub fn forget(&mut self, rel: &Path) {
        self.cache.retain(|p, _| !p.starts_with(rel));
    }
}

/// Open `parts` below `from` one component at a time, each with `O_NOFOLLOW` and checked to be a
/// directory, then the last with `flags`.
fn walk(from: BorrowedFd<'_>, parts: &[&OsStr], flags: OFlags) -> io::Result<OwnedFd> {
    let step = DIR_FLAGS | OFlags::NOFOLLOW;
    let mut cur: Option<OwnedFd> = None;
    for (i, name) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let base = cur.as_ref().map_or(from, |fd| fd.as_fd());
        let fd = rustix::fs::openat(
            base,
            *name,
            if last { flags | OFlags::NOFOLLOW } else { step },
            Mode::empty(),
        )
        .map_err(errno)?;
        // With O_PATH, O_NOFOLLOW opens a symlink itself rather than failing: look at what it is.
        let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd).map_err(errno)?.st_mode);
        if kind != FileType::Directory {
            return Err(io::Error::from_raw_os_error(if kind == FileType::Symlink {
                libc::ELOOP
            } else {
                libc::ENOTDIR
            }));
        }
        cur = Some(fd);
    }
    cur.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "an empty path"))
}

impl At {
    /// What the entry is, itself (a symlink is not followed); `None` when nothing is there.
    pub fn stat(&self) -> io::Result<Option<Stat>> {
        match rustix::fs::statat(&*self.dir, &self.name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(e) if e == rustix::io::Errno::NOENT => Ok(None),
            Err(e) => Err(errno(e)),
        }
    }

    /// The kind of the entry, or `None` when nothing is there.
    pub fn kind(&self) -> io::Result<Option<FileType>> {
        Ok(self.stat()?.map(|st| FileType::from_raw_mode(st.st_mode)))
    }

    /// Open the entry with `flags` (and `mode` when it is created); a symlink there is refused.
    pub fn open(&self, flags: OFlags, mode: u32) -> io::Result<File> {
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&*self.dir, &self.name, flags, Mode::from_raw_mode(mode))
            .map_err(errno)?;
        Ok(File::from(fd))
    }

    /// Make a directory here, `shown` naming it in errors. One made by someone else meanwhile is
    /// looked at again: a directory is fine, anything else is refused.
    fn make_dir(&self, shown: &Path) -> Result<(), Unsafe> {
        for _ in 0..2 {
            match self.kind() {
                Ok(Some(FileType::Directory)) => return Ok(()),
                Ok(Some(FileType::Symlink)) => return Err(Unsafe::Symlink(shown.to_path_buf())),
                Ok(Some(_)) => {
                    return Err(Unsafe::Io(shown.into(), io::Error::other("not a directory")));
                }
                Ok(None) => match self.mkdir(0o700) {
                    Ok(()) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(Unsafe::Io(shown.into(), e)),
                },
                Err(e) => return Err(Unsafe::Io(shown.into(), e)),
            }
        }
        Err(Unsafe::Io(
            shown.into(),
            io::Error::other("changed while it was being made; try again"),
        ))
    }

    /// Append `bytes` with one write to the file here, made (mode 0600) if missing.
    pub fn append(&self, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        self.open(OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE, 0o600)?.write_all(bytes)
    }

    /// `mkdir` here with `mode` (before the umask).
    pub fn mkdir(&self, mode: u32) -> io::Result<()> {
        rustix::fs::mkdirat(&*self.dir, &self.name, Mode::from_raw_mode(mode)).map_err(errno)
    }

    /// Make a symlink here pointing at `target`.
    pub fn symlink(&self, target: &OsStr) -> io::Result<()> {
        rustix::fs::symlinkat(target, &*self.dir, &self.name).map_err(errno)
    }

    /// Rename this entry to `to`, replacing what is there (a symlink at either is not followed).
    pub fn rename_to(&self, to: &At) -> io::Result<()> {
        rustix::fs::renameat(&*self.dir, &self.name, &*to.dir, &to.name).map_err(errno)
    }

    /// Make `to` another name of this entry (a symlink here is linked itself, not its target).
    pub fn link_to(&self, to: &At) -> io::Result<()> {
        rustix::fs::linkat(&*self.dir, &self.name, &*to.dir, &to.name, AtFlags::empty())
            .map_err(errno)
    }

    /// Remove the entry, which must not be a directory; nothing there is fine.
    pub fn remove_file(&self) -> io::Result<()> {
        match rustix::fs::unlinkat(&*self.dir, &self.name, AtFlags::empty()) {
            Err(e) if e != rustix::io::Errno::NOENT => Err(errno(e)),
            _ => Ok(()),
        }
    }

    /// A path that names this entry through its directory's handle (`/proc/self/fd/N/name`), for
    /// the calls that take only a path (the xattrs, owner and times of a symlink or a device
    /// file). The directory is the handle's whatever was renamed since; the name is looked up by
    /// the call itself, with its own rule for a symlink there (the `l*` calls do not follow it).
    pub fn proc_path(&self) -> PathBuf {
        let mut p = PathBuf::from(format!("/proc/self/fd/{}", self.dir.as_raw_fd()));
        p.push(&self.name);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::create_dir_all(dir.path().join("top/a/b")).unwrap();
        fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, dir.path().join("top/a/link")).unwrap();
        fs::write(dir.path().join("top/a/file"), b"x").unwrap();
        (dir, outside)
    }

    #[test]
    fn a_symlink_or_a_file_on_the_way_is_refused_by_both_resolutions() {
        let (dir, _) = tree();
        for openat2 in [true, false] {
            let mut b = Beneath::open(&dir.path().join("top")).unwrap();
            b.openat2 = openat2;
            assert!(b.dir(Path::new("a/b")).is_ok());
            assert!(is_planted(&b.dir(Path::new("a/link")).unwrap_err()), "openat2 {openat2}");
            assert!(is_planted(&b.dir(Path::new("a/link/x")).unwrap_err()));
            assert!(is_planted(&b.dir(Path::new("a/file")).unwrap_err()));
            assert!(b.dir(Path::new("../outside")).is_err());
            assert_eq!(b.dir(Path::new("a/missing")).unwrap_err().kind(), io::ErrorKind::NotFound);
        }
    }

    #[test]
    fn operations_at_a_symlink_act_on_the_link_and_never_beyond_it() {
        let (dir, outside) = tree();
        let mut b = Beneath::open(&dir.path().join("top")).unwrap();
        let link = b.at(Path::new("a/link")).unwrap();
        assert_eq!(link.kind().unwrap(), Some(FileType::Symlink));
        assert!(link.open(OFlags::RDONLY, 0).is_err());
        let moved = b.at(Path::new("a/b/moved")).unwrap();
        link.rename_to(&moved).unwrap();
        assert_eq!(fs::read_link(dir.path().join("top/a/b/moved")).unwrap(), outside);
        moved.remove_file().unwrap();
        assert!(outside.is_dir(), "removing the link left its target");
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn make_dirs_makes_what_is_missing_and_names_a_symlink_in_the_way() {
        let (dir, outside) = tree();
        let mut b = Beneath::open(&dir.path().join("top")).unwrap();
        b.make_dirs(Path::new("a/b/c/d")).unwrap();
        assert!(dir.path().join("top/a/b/c/d").is_dir());
        match b.make_dirs(Path::new("a/link/x")) {
            Err(Unsafe::Symlink(p)) => assert_eq!(p, dir.path().join("top/a/link")),
            other => panic!("{:?}", other.err()),
        }
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        assert!(matches!(b.make_dirs(Path::new("a/file/d")), Err(Unsafe::Io(..))));
    }

    #[test]
    fn a_handle_keeps_its_directory_when_a_symlink_replaces_it() {
        let (dir, outside) = tree();
        let mut b = Beneath::open(&dir.path().join("top")).unwrap();
        let at = b.at(Path::new("a/b/new")).unwrap();
        fs::rename(dir.path().join("top/a/b"), dir.path().join("top/a/b.old")).unwrap();
        std::os::unix::fs::symlink(&outside, dir.path().join("top/a/b")).unwrap();
        at.open(OFlags::WRONLY | OFlags::CREATE, 0o600).unwrap();
        assert!(dir.path().join("top/a/b.old/new").is_file());
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        // After it is forgotten, the path is resolved again and the symlink refused.
        b.forget(Path::new("a/b"));
        assert!(is_planted(&b.at(Path::new("a/b/new")).err().unwrap()));
    }
}
