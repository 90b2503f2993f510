//! An entry's metadata as this machine's file system holds it: read from a stat, and applied
//! to a file, directory or symlink at a destination.
//!
//! The manifest's [`Meta`] is what travels; this module is where it meets the system calls, on
//! both sides of a run, so a new metadata field is read and applied in one place.

use crate::tree::manifest::{Meta, Mtime};
use filetime::FileTime;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The modification time of a stat, to the nanosecond.
pub fn mtime_of(md: &Metadata) -> Mtime {
    Mtime { secs: md.mtime(), nanos: md.mtime_nsec() as u32 }
}

/// The mode bits (permissions, set-ID, sticky), mtime and owner of a stat.
pub fn meta_of(md: &Metadata) -> Meta {
    Meta { mode: md.mode() & 0o7777, mtime: mtime_of(md), uid: md.uid(), gid: md.gid() }
}

/// Owners are replicated only by a root destination, as rsync does: anyone else cannot chown.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Give an open file or directory the owner (when root), mode and mtime of `meta`. The owner
/// goes first: changing it clears the set-user-ID and set-group-ID bits.
pub fn set_handle_meta(f: &File, meta: &Meta) -> io::Result<()> {
    if is_root() {
        std::os::unix::fs::fchown(f, Some(meta.uid), Some(meta.gid))?;
    }
    f.set_permissions(fs::Permissions::from_mode(meta.mode))?;
    filetime::set_file_handle_times(f, None, Some(to_filetime(meta.mtime)))
}

/// Give the symlink at `p` itself (not its target) the owner (when root) and mtime of `meta`.
pub fn set_symlink_meta(p: &Path, meta: &Meta) -> io::Result<()> {
    if is_root() {
        std::os::unix::fs::lchown(p, Some(meta.uid), Some(meta.gid))?;
    }
    let t = to_filetime(meta.mtime);
    filetime::set_symlink_file_times(p, t, t)
}

/// A manifest time as the `filetime` crate takes it.
pub fn to_filetime(m: Mtime) -> FileTime {
    FileTime::from_unix_time(m.secs, m.nanos)
}
