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
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
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

/// One trash index record: `original` is about to be moved to `slot` (relative to the run's
/// trash directory), appended whole with one write.
pub fn trash_record(original: &RelPath, slot: &Path) -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(original.as_bytes());
    w.bytes(slot.as_os_str().as_bytes());
    w.buf
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

    #[test]
    fn not_a_symlink_passes_a_missing_path_and_refuses_a_symlink() {
        let root = tempfile::tempdir().unwrap();
        assert!(not_a_symlink(&root.path().join("missing")).is_ok());
        std::os::unix::fs::symlink("/tmp", root.path().join("link")).unwrap();
        assert!(matches!(not_a_symlink(&root.path().join("link")), Err(Unsafe::Symlink(_))));
    }
}
