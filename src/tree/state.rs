//! The `.tern` directory a replicated tree keeps at its top: its name, the lock holder line,
//! trash slots and the trash index.
//!
//! Every destination kind (a local directory, the agent's, the SFTP fallback) keeps the same
//! layout, and the source scan skips a `.tern` at the source's top, so the rules live here, below
//! all of them:
//!
//! ```text
//! .tern/lock                    held while a run writes (its holder line says who)
//! .tern/manifest                what was last committed
//! .tern/staging/                files written but not yet committed
//! .tern/trash/<run>/            what run <run> replaced or deleted, under the original paths
//! .tern/trash/<run>.index       each original path with its slot, written before the move
//! ```

use crate::tree::codec::{Reader, Writer};
use crate::tree::path::{MAX_PATH_LEN, RelPath};
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The destination state directory's name; never replicated from a source's top level.
pub const STATE_DIR: &str = ".tern";

/// Why a path where tern keeps its state cannot be used.
#[derive(Debug)]
pub enum Unsafe {
    /// A symlink stands where tern keeps a directory or file of its own: following it would let
    /// whoever can write into the destination steer tern's writes elsewhere.
    Symlink(PathBuf),
    Io(PathBuf, io::Error),
}

impl From<Unsafe> for io::Error {
    /// The problem as the error of an I/O operation, for callers that report those.
    fn from(u: Unsafe) -> io::Error {
        match u {
            Unsafe::Symlink(p) => io::Error::other(format!(
                "{} is a symlink where tern keeps its own state; remove it",
                p.display()
            )),
            Unsafe::Io(p, e) => io::Error::new(e.kind(), format!("{}: {e}", p.display())),
        }
    }
}

/// Make sure every component of `rel` below `root` is a real directory, creating what is missing,
/// and never following a symlink; the directory's path. `root` itself is the caller's to trust.
pub fn real_dirs(root: &Path, rel: &Path) -> Result<PathBuf, Unsafe> {
    let mut at = root.to_path_buf();
    for c in rel.components() {
        at.push(c);
        real_dir(&at)?;
    }
    Ok(at)
}

/// Make sure `at` is a real directory, making it if it is missing. A directory made by someone
/// else meanwhile is looked at again; one that keeps changing is an error, never passed over.
fn real_dir(at: &Path) -> Result<(), Unsafe> {
    for _ in 0..2 {
        match fs::symlink_metadata(at) {
            Ok(md) if md.is_dir() => return Ok(()),
            Ok(md) if md.file_type().is_symlink() => return Err(Unsafe::Symlink(at.into())),
            Ok(_) => return Err(Unsafe::Io(at.into(), io::Error::other("not a directory"))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(at) {
                Ok(()) => return Ok(()),
                // Made meanwhile: look again at what it is.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Unsafe::Io(at.into(), e)),
            },
            Err(e) => return Err(Unsafe::Io(at.into(), e)),
        }
    }
    Err(Unsafe::Io(at.into(), io::Error::other("changed while it was being made; try again")))
}

/// Refuse a symlink at `path` (a state file, which may be missing).
pub fn not_a_symlink(path: &Path) -> Result<(), Unsafe> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => Err(Unsafe::Symlink(path.to_path_buf())),
        _ => Ok(()),
    }
}

/// This machine's name, as lock holders record it.
pub fn this_host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string()
}

/// What a lock records about its holder, for the message another run prints.
pub fn lock_holder() -> String {
    format!("pid {} on {}", std::process::id(), this_host())
}

/// The first of `base`, `base.~1`, `base.~2`... that `taken` says is free: where an entry moved to
/// the trash goes when an earlier one of the same run already has its name.
pub fn free_slot<E>(
    base: PathBuf,
    mut taken: impl FnMut(&Path) -> Result<bool, E>,
) -> Result<PathBuf, E> {
    let mut slot = base.clone();
    let mut n = 1;
    while taken(&slot)? {
        let mut name = base.clone().into_os_string();
        name.push(format!(".~{n}"));
        slot = name.into();
        n += 1;
    }
    Ok(slot)
}

/// The index file beside a run's trash directory.
pub fn index_path(trash_run: &Path) -> PathBuf {
    let mut s: OsString = trash_run.as_os_str().to_owned();
    s.push(".index");
    PathBuf::from(s)
}

/// Record that `original` is about to be moved to `slot` (relative to the run's trash dir).
pub fn append_trash_index(index: &Path, original: &RelPath, slot: &Path) -> io::Result<()> {
    let mut w = Writer::new();
    w.bytes(original.as_bytes());
    w.bytes(slot.as_os_str().as_bytes());
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(index)?;
    f.write_all(&w.buf)
}

/// The (original path, trash slot) pairs of an index; a torn last record is ignored. A pair
/// without a slot records a path an undo put back where nothing stood: undoing that undo moves
/// it aside again.
pub fn read_trash_index(index: &Path) -> io::Result<Vec<(RelPath, Option<PathBuf>)>> {
    let data = fs::read(index)?;
    let mut r = Reader::new(&data);
    let mut out = Vec::new();
    while !r.is_empty() {
        let Ok(orig) = r.bytes("path", MAX_PATH_LEN) else { break };
        let Ok(slot) = r.bytes("slot", MAX_PATH_LEN + 16) else { break };
        let Ok(orig) = RelPath::new(orig) else { continue };
        if slot.is_empty() {
            out.push((orig, None));
            continue;
        }
        let Ok(slot_rel) = RelPath::new(slot) else { continue };
        out.push((orig, Some(slot_rel.as_path().to_path_buf())));
    }
    Ok(out)
}

/// `.tern/trash` under a destination's root.
pub fn trash_root(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("trash")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Missing directories are made, real ones pass, and a symlink or a file at any level is
    /// refused without anything made through it.
    #[test]
    fn real_dirs_makes_what_is_missing_and_refuses_a_symlink_at_any_level() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let made = real_dirs(root.path(), Path::new(".tern/trash/run/a/b")).unwrap();
        assert!(made.is_dir() && made.ends_with("a/b"));
        assert!(real_dirs(root.path(), Path::new(".tern/trash/run/a")).is_ok());
        std::os::unix::fs::symlink(outside.path(), root.path().join(".tern/trash/run/a/b/link"))
            .unwrap();
        match real_dirs(root.path(), Path::new(".tern/trash/run/a/b/link/c")) {
            Err(Unsafe::Symlink(p)) => assert!(p.ends_with("link")),
            other => panic!("{other:?}"),
        }
        assert!(fs::read_dir(outside.path()).unwrap().next().is_none(), "made through a link");
        fs::write(root.path().join("file"), "x").unwrap();
        assert!(matches!(real_dirs(root.path(), Path::new("file/d")), Err(Unsafe::Io(..))));
        assert!(not_a_symlink(&root.path().join("missing")).is_ok());
        assert!(matches!(
            not_a_symlink(&root.path().join(".tern/trash/run/a/b/link")),
            Err(Unsafe::Symlink(_))
        ));
    }
}
