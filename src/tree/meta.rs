//! An entry's metadata as this machine's file system holds it: read from a stat, and applied
//! to a file, directory or symlink at a destination.
//!
//! The manifest's [`Meta`] is what travels; this module is where it meets the system calls, on
//! both sides of a run, so a new metadata field is read and applied in one place.
//!
//! Extended attributes are read raw, whatever their namespace (`user.*`, `trusted.*` as root,
//! `security.*` with file capabilities, `system.posix_acl_*` with the POSIX ACLs), and applied
//! raw: an ACL's value holds numeric ids, so ACLs replicate numerically. An attribute the
//! destination cannot keep (its file system has no xattrs, or only root may set it) does not fail
//! the file: it is counted in [`Unkept`], and the run warns once.

use crate::tree::manifest::{Meta, Mtime, Special, Xattr, Xattrs};
use filetime::FileTime;
use rustix::fs::XattrFlags;
use rustix::io::Errno;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// What a destination did not keep: extended attributes it could not set and device files it
/// could not make; how many, and the first reason, for the one warning a run prints about them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unkept {
    pub count: u64,
    pub first: Option<String>,
}

impl Unkept {
    pub fn add(&mut self, reason: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(reason());
        }
    }

    /// The one warning about them for destination `dest` (without a `tern: warning:` prefix),
    /// if anything was not kept.
    pub fn warning(&self, dest: &str) -> Option<String> {
        let first = self.first.as_deref()?;
        let n = self.count;
        let what = if n == 1 { "item" } else { "items" };
        Some(format!(
            "{dest} did not keep {n} {what} of metadata (xattrs, ACLs, file capabilities) or \
             device files; the first: {first}"
        ))
    }

    pub fn merge(&mut self, other: Unkept) {
        self.count += other.count;
        if self.first.is_none() {
            self.first = other.first;
        }
    }
}

/// Where xattrs are read from or written to: an open file, or a path not followed if it is a
/// symlink.
#[derive(Clone, Copy)]
enum Target<'a> {
    Fd(&'a File),
    NoFollow(&'a Path),
}

impl Target<'_> {
    fn list(self, buf: &mut [u8]) -> Result<usize, Errno> {
        match self {
            Target::Fd(f) => rustix::fs::flistxattr(f.as_fd(), buf),
            Target::NoFollow(p) => rustix::fs::llistxattr(p, buf),
        }
    }

    fn get(self, name: &[u8], buf: &mut [u8]) -> Result<usize, Errno> {
        match self {
            Target::Fd(f) => rustix::fs::fgetxattr(f.as_fd(), name, buf),
            Target::NoFollow(p) => rustix::fs::lgetxattr(p, name, buf),
        }
    }

    fn set(self, name: &[u8], value: &[u8]) -> Result<(), Errno> {
        match self {
            Target::Fd(f) => rustix::fs::fsetxattr(f.as_fd(), name, value, XattrFlags::empty()),
            Target::NoFollow(p) => rustix::fs::lsetxattr(p, name, value, XattrFlags::empty()),
        }
    }

    fn remove(self, name: &[u8]) -> Result<(), Errno> {
        match self {
            Target::Fd(f) => rustix::fs::fremovexattr(f.as_fd(), name),
            Target::NoFollow(p) => rustix::fs::lremovexattr(p, name),
        }
    }
}

/// Call `op` with a buffer until it is large enough (`ERANGE`: the value grew meanwhile, or the
/// first guess was short), up to the largest size the kernel allows.
fn read_sized(mut op: impl FnMut(&mut [u8]) -> Result<usize, Errno>) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 256];
    loop {
        match op(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(Errno::RANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e),
        }
    }
}

/// The names an xattr list holds (NUL-terminated, as the kernel gives them).
fn names(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| b == 0).filter(|n| !n.is_empty())
}

fn read_from(target: Target<'_>) -> io::Result<Xattrs> {
    // Most entries have none: one call with a small buffer on the stack answers that.
    let mut first = [0u8; 256];
    let list = match target.list(&mut first) {
        Ok(0) => return Ok(Xattrs::default()),
        Ok(n) => first[..n].to_vec(),
        Err(Errno::RANGE) => read_sized(|b| target.list(b))?,
        // No xattrs on this file system, or none on this kind of file.
        Err(Errno::NOTSUP) => return Ok(Xattrs::default()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in names(&list) {
        match read_sized(|b| target.get(name, b)) {
            Ok(value) => out.push(Xattr { name: name.into(), value: value.into() }),
            // Removed since it was listed.
            Err(Errno::NODATA) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Xattrs::new(out))
}

/// The extended attributes of the entry at `path` (a symlink's own, not its target's).
pub fn read_xattrs(path: &Path) -> io::Result<Xattrs> {
    read_from(Target::NoFollow(path))
}

/// The extended attributes of an open file or directory.
pub fn read_xattrs_of(f: &File) -> io::Result<Xattrs> {
    read_from(Target::Fd(f))
}

/// Give `target` exactly the attributes of `want`: set what differs, remove what is not listed
/// (a new file can inherit an ACL from its directory). What cannot be kept is counted in
/// `unkept`; only an error reading the file's own list fails.
fn apply_to(target: Target<'_>, want: &Xattrs, unkept: &mut Unkept) -> io::Result<()> {
    let have = match read_from(target) {
        Ok(have) => have,
        // Nothing to keep: a file whose list cannot be read is left as it is.
        Err(_) if want.is_empty() => return Ok(()),
        Err(e) => return Err(e),
    };
    if have == *want {
        return Ok(());
    }
    for x in have.iter().filter(|x| want.get(&x.name).is_none()) {
        // An attribute tern may not remove (security.selinux as a user) stays.
        let _ = target.remove(&x.name);
    }
    for x in want.iter().filter(|x| have.get(&x.name) != Some(&*x.value)) {
        if let Err(e) = target.set(&x.name, &x.value) {
            let name = String::from_utf8_lossy(&x.name).into_owned();
            unkept.add(|| match e {
                Errno::NOTSUP => format!("{name}: the file system does not support it"),
                Errno::PERM | Errno::ACCESS => {
                    format!("{name}: not permitted (only root keeps security.* and trusted.*)")
                }
                e => format!("{name}: {}", io::Error::from(e)),
            });
        }
    }
    Ok(())
}

/// The modification time of a stat, to the nanosecond.
pub fn mtime_of(md: &Metadata) -> Mtime {
    Mtime { secs: md.mtime(), nanos: md.mtime_nsec() as u32 }
}

/// The mode bits (permissions, set-ID, sticky), mtime and owner of a stat.
pub fn meta_of(md: &Metadata) -> Meta {
    Meta {
        mode: md.mode() & 0o7777,
        mtime: mtime_of(md),
        uid: md.uid(),
        gid: md.gid(),
        xattrs: Default::default(),
        sparse: crate::tree::sparse::is_sparse(md),
    }
}

/// Owners are replicated only by a root destination, as rsync does: anyone else cannot chown.
/// Asked once per process (tern never changes its user): it was a system call per file written.
pub fn is_root() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| rustix::process::geteuid().is_root())
}

/// Give an open file or directory the owner (when root), mode, xattrs and mtime of `meta`. The
/// owner goes first: changing it clears the set-user-ID and set-group-ID bits and the file
/// capability, which come back after it.
pub fn set_handle_meta(f: &File, meta: &Meta, unkept: &mut Unkept) -> io::Result<()> {
    if is_root() {
        std::os::unix::fs::fchown(f, Some(meta.uid), Some(meta.gid))?;
    }
    f.set_permissions(fs::Permissions::from_mode(meta.mode))?;
    apply_to(Target::Fd(f), &meta.xattrs, unkept)?;
    filetime::set_file_handle_times(f, None, Some(to_filetime(meta.mtime)))
}

/// Give the symlink at `p` itself (not its target) the owner (when root), xattrs and mtime of
/// `meta`.
pub fn set_symlink_meta(p: &Path, meta: &Meta, unkept: &mut Unkept) -> io::Result<()> {
    set_path_meta(p, meta, false, unkept)
}

/// The owner (when root), the mode if `mode`, the xattrs and the mtime of `meta`, set on the
/// entry at `p` itself, by path, in that order.
fn set_path_meta(p: &Path, meta: &Meta, mode: bool, unkept: &mut Unkept) -> io::Result<()> {
    if is_root() {
        std::os::unix::fs::lchown(p, Some(meta.uid), Some(meta.gid))?;
    }
    if mode {
        fs::set_permissions(p, fs::Permissions::from_mode(meta.mode))?;
    }
    apply_to(Target::NoFollow(p), &meta.xattrs, unkept)?;
    let t = to_filetime(meta.mtime);
    filetime::set_symlink_file_times(p, t, t)
}

/// Make the FIFO or device file `special` at `p` (which must not exist), with permission bits
/// `mode` (before the umask; [`set_node_meta`] sets them exactly).
pub fn make_node(p: &Path, special: Special, mode: u32) -> io::Result<()> {
    use rustix::fs::{CWD, FileType, Mode};
    let (kind, dev) = match special {
        Special::Fifo => (FileType::Fifo, 0),
        Special::CharDevice { rdev } => (FileType::CharacterDevice, rdev),
        Special::BlockDevice { rdev } => (FileType::BlockDevice, rdev),
    };
    rustix::fs::mknodat(CWD, p, kind, Mode::from_raw_mode(mode & 0o777), dev)?;
    Ok(())
}

/// Give the FIFO or device file at `p` the owner (when root), mode, xattrs and mtime of `meta`,
/// by path: opening a device can have effects of its own, and a FIFO blocks until a writer comes.
pub fn set_node_meta(p: &Path, meta: &Meta, unkept: &mut Unkept) -> io::Result<()> {
    // chmod follows a symlink: one found here instead of the node keeps its target's mode.
    let mode = !fs::symlink_metadata(p)?.file_type().is_symlink();
    set_path_meta(p, meta, mode, unkept)
}

/// A special file as a stat describes it, if it is one tern keeps (sockets are not).
pub fn special_of(md: &Metadata) -> Option<Special> {
    use std::os::unix::fs::FileTypeExt;
    let ft = md.file_type();
    if ft.is_fifo() {
        Some(Special::Fifo)
    } else if ft.is_char_device() {
        Some(Special::CharDevice { rdev: md.rdev() })
    } else if ft.is_block_device() {
        Some(Special::BlockDevice { rdev: md.rdev() })
    } else {
        None
    }
}

/// A manifest time as the `filetime` crate takes it.
pub fn to_filetime(m: Mtime) -> FileTime {
    FileTime::from_unix_time(m.secs, m.nanos)
}
