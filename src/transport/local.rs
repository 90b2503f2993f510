//! A destination directory on this machine, and the crash-safe way of changing it.
//!
//! This is the code that writes replicas: the local transport uses it directly and the remote
//! agent runs it on the far side of an SSH connection. Its promises:
//!
//! - New content is assembled in `.tern/staging/`, verified against its SHA-256, fsynced, and only
//!   then renamed into place, so every file is always either its old or its new version.
//! - Nothing is destroyed: an entry that is deleted or overwritten is moved (or, for an overwrite,
//!   hard-linked first) into `.tern/trash/<run-id>/`.
//! - Writes never follow symlinks, at any level below the top, `.tern` included: every entry is
//!   reached through directory handles opened with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`
//!   ([`crate::tree::beneath`]), so a symlink planted between a check and the write changes
//!   nothing outside. A parent that is not a real directory where the manifest has one (changed
//!   out of band) is moved to the trash and recreated; a symlink where tern keeps its own state
//!   is an error.
//! - The new manifest is written last, atomically, after the directories holding the changes have
//!   been fsynced. A run killed at any point leaves the old manifest, which the next run reconciles.
//! - One writer at a time: an `flock` on `.tern/lock`, which the kernel releases when its holder
//!   dies, so a crashed run never leaves the destination locked.

use super::{
    Commit, CommitOp, CommitReport, ManifestId, StageHeader, StageOutcome, StageReport, Transport,
    TransportError,
};
use crate::plan::delta::{DeltaError, DeltaReader, apply_streamed};
use crate::plan::patch::Base;
use crate::transport::admin::{AdminOp, AdminResult};
use crate::tree::beneath::{At, Beneath, is_planted};
use crate::tree::blocks;
use crate::tree::chunk::{ChunkRef, FileDigest};
use crate::tree::hash::ContentHash;
use crate::tree::manifest::{EntryReader, KindTag, Manifest, Meta, write_replacing_with};
use crate::tree::meta::{Unkept, make_node, set_handle_meta, set_node_meta, set_symlink_meta};
use crate::tree::path::RelPath;
use crate::tree::state::{self, STATE_DIR};
use crate::tree::store::{EntrySource, StoredManifest};
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Files per staging subdirectory.
const STAGING_SHARD: u64 = 256;

/// Reused bytes read and verified at a time: large enough to hash on two cores, small enough to
/// stay in the caches between the read, the hash and the write (4 MiB took twice the CPU).
const REUSE_BLOCK: u64 = 1 << 20;

/// A file being staged.
struct Staging {
    header: StageHeader,
    file: File,
    /// The staged file's path, as messages show it, and the entry to remove it by.
    path: PathBuf,
    at: At,
    written: u64,
    /// The file's chunks so far, each reused and verified or sent as one, hashed as it came:
    /// the file's hash is computed from them at the end, without reading the file again.
    chunks: Vec<ChunkRef>,
    failed: Option<StageOutcome>,
}

/// A destination directory on this machine.
pub struct LocalDir {
    root: PathBuf,
    /// The top, opened by [`Transport::lock`]: everything below is reached through it.
    pinned: Option<Beneath>,
    lock: Option<File>,
    /// Which manifest `read_manifest` last returned.
    last_read: Option<ManifestId>,
    current: Option<Staging>,
    outcomes: StageReport,
    /// The committed manifest, loaded when a reused range must be verified against it.
    manifest: Option<Manifest>,
    /// Digests of the files of several chunks staged (and verified) since the last commit, by id.
    staged: HashMap<u64, FileDigest>,
    /// Small staged files are made durable in the background, a batch at a time.
    flusher: Flusher,
    /// Extended attributes of staged files this destination could not keep, since the last
    /// commit's report.
    unkept: Unkept,
    /// The old bytes the last sub-chunk delta was rebuilt from: a run of changed chunks shares
    /// them.
    delta_base: Option<(Base, Vec<u8>)>,
}

impl LocalDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDir {
            root: root.into(),
            pinned: None,
            lock: None,
            last_read: None,
            current: None,
            outcomes: StageReport::default(),
            manifest: None,
            staged: HashMap::new(),
            flusher: Flusher::default(),
            unkept: Unkept::default(),
            delta_base: None,
        }
    }

    /// The old bytes `base` names, read whole (at most [`crate::tree::blocks::MAX_BASE`]).
    fn read_base(&mut self, base: &Base) -> io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        if base.len > crate::tree::blocks::MAX_BASE {
            return Err(io::Error::other("more old bytes than a delta is matched against"));
        }
        let file = self.open_inside(&base.from)?;
        let mut bytes = vec![0; base.len as usize];
        file.read_exact_at(&mut bytes, base.offset)?;
        Ok(bytes)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The state file `name` (a two-way base) decoded as a manifest, if its bytes hash to `hash`:
    /// `None` when it is missing or another.
    pub fn state_manifest(
        &mut self,
        name: &str,
        hash: &crate::tree::hash::ContentHash,
    ) -> Result<Option<Manifest>, TransportError> {
        let Some(bytes) = self.read_state(name)? else { return Ok(None) };
        if crate::tree::hash::ContentHash::of(&bytes) != *hash {
            return Ok(None);
        }
        Manifest::decode(&bytes)
            .map(Some)
            .map_err(|e| TransportError::Protocol(format!("state {name}: {e}")))
    }

    /// Whether the destination exists (as a directory); an error naming the problem when it, or
    /// a parent, is something else.
    pub fn check_root(&self) -> Result<bool, TransportError> {
        match fs::metadata(&self.root) {
            Ok(md) if md.is_dir() => Ok(true),
            Ok(_) => Err(TransportError::NotADirectory(self.describe())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                Err(TransportError::ParentNotADirectory(self.describe()))
            }
            Err(e) => Err(self.io("read", &self.root, e)),
        }
    }

    fn state(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// The top's handle, opened by the lock (or now, for work that does not lock).
    fn pinned(&mut self) -> io::Result<&mut Beneath> {
        let pinned = match self.pinned.take() {
            Some(b) => b,
            None => Beneath::open(&self.root)?,
        };
        Ok(self.pinned.insert(pinned))
    }

    /// `.tern/<name>` as a path through the handle of a real `.tern` (for the calls that take a
    /// path: the manifest is written beside itself and renamed over itself), and as it is shown.
    fn state_file(&mut self, name: &str) -> Result<(PathBuf, PathBuf), TransportError> {
        let shown = self.state().join(name);
        let dir = self
            .pinned()
            .and_then(|b| b.dir_path(Path::new(STATE_DIR)))
            .map_err(|e| self.io("open", &self.state(), e))?;
        Ok((dir.join(name), shown))
    }

    /// An empty staging directory. On ext4 it is marked as the top of a hierarchy (`chattr +T`),
    /// so that its shards, and the files staged in them, are spread over the block groups the
    /// way top-level directories are: allocated near one parent, 50,000 new files were created
    /// 4x slower (the allocator scans its group's bitmap, skipping recently freed inodes).
    fn reset_staging(&mut self) -> Result<(), TransportError> {
        let rel = staging_rel();
        let shown = self.root.join(&rel);
        let root = self.root.clone();
        let b = self.pinned().map_err(|e| TransportError::io("open", root.display(), e))?;
        let at = b.at(&rel).map_err(|e| state_error("open", &shown, e))?;
        b.forget(&rel);
        match own_kind(&at, &shown)? {
            // std's remove_dir_all opens each directory with O_NOFOLLOW and unlinks through its
            // handle; the path goes through the handle of `.tern`.
            Some(rustix::fs::FileType::Directory) => fs::remove_dir_all(at.proc_path())
                .map_err(|e| TransportError::io("clean", shown.display(), e))?,
            Some(_) => at.remove_file().map_err(|e| state_error("open", &shown, e))?,
            None => {}
        }
        b.make_dirs(&rel).map_err(unsafe_state)?;
        // Best effort: other file systems may not know the flag.
        let _ = b.open_dir(&rel).and_then(|dir| {
            let flags = rustix::fs::ioctl_getflags(&dir)?;
            Ok(rustix::fs::ioctl_setflags(&dir, flags | rustix::fs::IFlags::TOPDIR)?)
        });
        Ok(())
    }

    /// Where the file staged as `id` is: in a directory of at most [`STAGING_SHARD`] files, so
    /// that creating and renaming them stays cheap (in one directory of 100,000 entries every
    /// create and rename searches and grows a large index).
    fn staged_file(id: u64) -> PathBuf {
        staging_rel().join(format!("{}", id / STAGING_SHARD)).join(format!("{id}"))
    }

    fn io(&self, action: &'static str, p: &Path, e: io::Error) -> TransportError {
        TransportError::io(action, p.display(), e)
    }

    /// Open `p` for reading without following a symlink anywhere below the root.
    fn open_inside(&mut self, p: &RelPath) -> io::Result<File> {
        self.pinned()?.at(p.as_path())?.open(rustix::fs::OFlags::RDONLY, 0)
    }

    fn fail_current(&mut self, outcome: StageOutcome) {
        if let Some(s) = &mut self.current
            && s.failed.is_none()
        {
            s.failed = Some(outcome);
        }
    }

    /// Whether the file being staged still takes data (`false`: it has failed, and what else is
    /// sent for it is ignored); `request` without a file being staged is a protocol error.
    fn current_takes_data(&self, request: &str) -> Result<bool, TransportError> {
        match &self.current {
            None => Err(TransportError::Protocol(format!("{request} without a file"))),
            Some(s) => Ok(s.failed.is_none()),
        }
    }

    /// Append `data` to the file being staged; `chunks` are its chunks, already hashed.
    fn write_current(&mut self, data: &[u8], chunks: &[ChunkRef]) -> Result<(), TransportError> {
        match &mut self.current {
            Some(s) => s.append(data, chunks),
            None => Err(TransportError::Protocol("stage data without a file".into())),
        }
    }

    /// The committed manifest, decoded whole (empty where there is none): for the destination's
    /// own work on it (verifying reused ranges, maintenance).
    fn load_manifest(&mut self) -> Result<Manifest, TransportError> {
        if !self.check_root()? {
            return Ok(Manifest::default());
        }
        Ok(Manifest::load(&self.state().join("manifest"))?.unwrap_or_default())
    }

    /// Store `m` as the destination's manifest, after making every change it describes durable.
    fn store_manifest(&mut self, m: &dyn EntrySource) -> Result<(), TransportError> {
        self.sync_filesystem()?;
        let (path, shown) = self.state_file("manifest")?;
        write_replacing_with(&path, true, |w| m.write_to(w))
            .map_err(|e| self.io("write", &shown, e))?;
        self.manifest = None;
        Ok(())
    }

    /// Make everything written so far durable: one `syncfs` instead of an fsync per file or
    /// directory (the difference between seconds and minutes for 100k small files).
    ///
    /// It goes through the lock's descriptor, opened before anything was written: `syncfs`
    /// reports a write-back error only to descriptors opened before the error, and pages written
    /// back early (see [`start_writeback`]) may fail before the sync. A descriptor opened here
    /// would not hear of that, and a lost write would pass for durable.
    fn sync_filesystem(&mut self) -> Result<(), TransportError> {
        self.flusher.wait().map_err(|e| self.io("sync", &self.root, e))?;
        let Some(lock) = &self.lock else {
            return Err(TransportError::Protocol("sync without the destination lock".into()));
        };
        rustix::fs::syncfs(lock).map_err(|e| self.io("sync", &self.root, e.into()))
    }
}

/// A state file's name, checked: lower-case letters, digits and `-` only, so that a name
/// from the network stays a file directly in `.tern`.
fn state_name(name: &str) -> Result<&str, TransportError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !["lock", "manifest", "staging", "trash"].contains(&name);
    if ok { Ok(name) } else { Err(TransportError::Protocol(format!("bad state name {name:?}"))) }
}

/// A source directory on this machine: what a one-way sync reads the bytes it sends from.
pub struct DirSource<'a> {
    pub root: &'a Path,
}

impl super::FileSource for DirSource<'_> {
    fn open_ranges(
        &mut self,
        path: &RelPath,
        ranges: &[(u64, u64)],
        sparse: bool,
    ) -> io::Result<Box<dyn Read + '_>> {
        use std::os::unix::fs::OpenOptionsExt;
        let full = self.root.join(path.as_path());
        let file = File::options().read(true).custom_flags(libc::O_NOFOLLOW).open(full)?;
        Ok(Box::new(Ranges::new(file, ranges, sparse)))
    }
}

/// Ranges (offset, length) of a file read one after another as one stream. A range the file
/// ends in ends the stream: what follows would be read at the wrong place, and the file's
/// hash check at the destination rejects what was sent.
pub struct Ranges {
    file: File,
    ranges: Vec<(u64, u64)>,
    next: usize,
    left: u64,
    /// Whether the range being read lies in a hole of a sparse file (zeros, not read).
    hole: bool,
    sparse: bool,
}

impl Ranges {
    pub fn new(file: File, ranges: &[(u64, u64)], sparse: bool) -> Ranges {
        Ranges { file, ranges: ranges.to_vec(), next: 0, left: 0, hole: false, sparse }
    }
}

impl Read for Ranges {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.left == 0 {
            let Some(&(offset, len)) = self.ranges.get(self.next) else { return Ok(0) };
            self.next += 1;
            self.hole = self.sparse && crate::tree::sparse::in_hole(&self.file, offset, len);
            if !self.hole {
                self.file.seek(SeekFrom::Start(offset))?;
            }
            self.left = len;
        }
        let n = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let got = if self.hole {
            buf[..n].fill(0);
            n
        } else {
            self.file.read(&mut buf[..n])?
        };
        if got == 0 {
            self.next = self.ranges.len();
        }
        self.left = if got == 0 { 0 } else { self.left - got as u64 };
        Ok(got)
    }
}

/// `.tern/staging`, relative to the top.
fn staging_rel() -> PathBuf {
    Path::new(STATE_DIR).join("staging")
}

/// A symlink at `shown`, where tern keeps its own state.
fn state_symlink(shown: &Path) -> TransportError {
    TransportError::StateSymlink { path: shown.display().to_string() }
}

/// An I/O error met doing `action` at a path tern keeps its state in, `shown`: a symlink on the
/// way (`ELOOP`) is named as one.
fn state_error(action: &'static str, shown: &Path, e: io::Error) -> TransportError {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return state_symlink(shown);
    }
    TransportError::io(action, shown.display(), e)
}

/// What stands at the state entry `at` (shown as `shown`), refusing a symlink there.
fn own_kind(at: &At, shown: &Path) -> Result<Option<rustix::fs::FileType>, TransportError> {
    match at.kind().map_err(|e| state_error("open", shown, e))? {
        Some(rustix::fs::FileType::Symlink) => Err(state_symlink(shown)),
        kind => Ok(kind),
    }
}

/// A state path's problem as the error a run reports.
fn unsafe_state(u: state::Unsafe) -> TransportError {
    match u {
        state::Unsafe::Symlink(p) => state_symlink(&p),
        state::Unsafe::Io(p, e) => TransportError::io("create", p.display(), e),
    }
}

/// A staged file is handed to the disk in steps of this many bytes as it is written.
const WRITEBACK_STEP: u64 = 8 << 20;
/// A staged file smaller than this is left to a `syncfs`, which writes small files together
/// (see [`Flusher`]); a larger one is handed to the disk as soon as it is complete.
const WRITEBACK_MIN: u64 = 256 << 10;

/// The bytes of a staged file to hand to the disk now that it has grown from `before` to `after`
/// bytes (`done`: it is complete and verified): each step of the file once, and its tail when it
/// is done, so every byte of a file of `WRITEBACK_MIN` or more is handed over exactly once.
fn writeback_due(before: u64, after: u64, done: bool) -> Option<std::ops::Range<u64>> {
    let from = before / WRITEBACK_STEP * WRITEBACK_STEP;
    let to = if done { after } else { after / WRITEBACK_STEP * WRITEBACK_STEP };
    (to > from && (!done || after >= WRITEBACK_MIN)).then_some(from..to)
}

/// Start writing `range` of a staged file to disk, without waiting: the `syncfs` before the
/// renames then waits only for what is still in flight, instead of for everything at once
/// (1 GiB of new files took 7% less time over SSH). Linux starts the writeback of a range's dirty
/// pages on `POSIX_FADV_DONTNEED`, without waiting; it drops only pages already clean, and these
/// were just written. (`sync_file_range` says it more directly, but has no safe wrapper.) Only a
/// hint: durability still comes from the `syncfs`, so a failure here changes nothing and is
/// ignored.
fn start_writeback(f: &File, range: Option<std::ops::Range<u64>>) {
    if let Some(r) = range {
        let len = std::num::NonZeroU64::new(r.end - r.start);
        let _ = rustix::fs::fadvise(f, r.start, len, rustix::fs::Advice::DontNeed);
    }
}

impl Staging {
    /// Append `data`, whose chunks are `chunks`, unless the file has already failed.
    fn append(&mut self, data: &[u8], chunks: &[ChunkRef]) -> Result<(), TransportError> {
        if self.failed.is_some() {
            return Ok(());
        }
        let write = |s: &mut Self| {
            if s.header.meta.sparse {
                crate::tree::sparse::write_holey(&mut s.file, data, s.written)
            } else {
                s.file.write_all(data)
            }
        };
        if let Err(e) = crate::util::failpoint::error("disk-full").and_then(|()| write(self)) {
            // A full disk or a failing device: the destination stays as it is.
            return Err(TransportError::io("write staged file", self.path.display(), e));
        }
        self.chunks.extend_from_slice(chunks);
        let before = self.written;
        self.written += data.len() as u64;
        start_writeback(&self.file, writeback_due(before, self.written, false));
        Ok(())
    }
}

/// Small staged files written since the last batch began to be made durable, this many bytes
/// and more, start a `syncfs` in the background (a large one hands itself to the disk).
const FLUSH_EVERY: u64 = 32 << 20;

/// Makes batches of small staged files durable in the background, one `syncfs` at a time, so
/// that the one before the renames finds most of them on disk already (at 50,000 new small
/// files, it waited 0.05-0.13 s instead of 0.40).
#[derive(Default)]
struct Flusher {
    /// Bytes of small files staged since the last background sync began.
    pending: u64,
    running: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Flusher {
    /// Count a small staged file of `len` bytes; past `FLUSH_EVERY`, start a sync through `lock`
    /// (a duplicate of it) unless one is still running. Reports the error of one that ended.
    fn staged(&mut self, len: u64, lock: &File) -> io::Result<()> {
        self.pending += len;
        if self.pending < FLUSH_EVERY || self.running.as_ref().is_some_and(|t| !t.is_finished()) {
            return Ok(());
        }
        self.wait()?;
        self.pending = 0;
        // The duplicate shares the lock's open file, and so its record of write-back errors
        // seen: an error this sync takes is reported by `wait`, not by the next sync.
        let fd = lock.try_clone()?;
        let sync = move || Ok(rustix::fs::syncfs(&fd)?);
        self.running = Some(std::thread::Builder::new().name("tern-sync".into()).spawn(sync)?);
        Ok(())
    }

    /// Wait for the background sync, if any, and report its error.
    fn wait(&mut self) -> io::Result<()> {
        match self.running.take().map(std::thread::JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the background sync thread panicked")),
        }
    }
}

impl Drop for Flusher {
    /// A destination given up mid-run (an error) still waits for its background sync: the sync
    /// holds a duplicate of the lock's descriptor, and with it the lock.
    fn drop(&mut self) {
        let _ = self.wait();
    }
}

/// Read the bytes of `chunks` from `file` into `buf`, or what the file has of them: a block cut
/// short (or unreadable, left empty) fails its check.
fn read_block(file: &mut File, chunks: &[ChunkRef], buf: &mut Vec<u8>) {
    let bytes: u64 = chunks.iter().map(|c| u64::from(c.len)).sum();
    buf.clear();
    if file.take(bytes).read_to_end(buf).is_err() {
        buf.clear();
    }
}

fn os_str(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

impl Transport for LocalDir {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn lock(&mut self) -> Result<(), TransportError> {
        match fs::symlink_metadata(&self.root) {
            Ok(md) if md.is_dir() => {}
            Ok(md) if md.is_symlink() && self.root.is_dir() => {}
            Ok(_) => return Err(TransportError::NotADirectory(self.describe())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = self.root.parent().filter(|p| !p.as_os_str().is_empty())
                    && !parent.is_dir()
                {
                    return Err(TransportError::MissingParent(parent.display().to_string()));
                }
                fs::create_dir(&self.root).map_err(|e| self.io("create", &self.root, e))?;
            }
            Err(e) => return Err(self.io("read", &self.root, e)),
        }
        // The top is opened once, now: everything below is reached through this handle.
        self.pinned = None;
        let root = self.root.clone();
        let b = self.pinned().map_err(|e| TransportError::io("open", root.display(), e))?;
        b.make_dirs(Path::new(STATE_DIR)).map_err(unsafe_state)?;
        let state = root.join(STATE_DIR);
        for own in ["lock", "manifest", "staging", "trash"] {
            let shown = state.join(own);
            let at = b.at(&Path::new(STATE_DIR).join(own));
            own_kind(&at.map_err(|e| state_error("open", &shown, e))?, &shown)?;
        }
        let lock_path = state.join("lock");
        let mut file = b
            .at(&Path::new(STATE_DIR).join("lock"))
            .and_then(|at| {
                use rustix::fs::OFlags;
                at.open(OFlags::RDWR | OFlags::CREATE, 0o644)
            })
            .map_err(|e| self.io("open", &lock_path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "unknown process".to_string(),
                    h => h.to_string(),
                };
                return Err(TransportError::Locked { path: self.describe(), holder });
            }
            Err(fs::TryLockError::Error(e)) => return Err(self.io("lock", &lock_path, e)),
        }
        // Record who holds it, for the message another run prints.
        let _ = file.set_len(0);
        let _ = file.write_all(state::lock_holder().as_bytes());
        self.lock = Some(file);
        // Leftovers of a crashed run are garbage: nothing refers to them.
        self.reset_staging()
    }

    fn unlock(&mut self) -> Result<(), TransportError> {
        // Whatever this run left in staging is garbage (a commit empties it).
        self.current = None;
        self.staged.clear();
        self.manifest = None;
        self.lock = None;
        Ok(())
    }

    fn read_manifest(&mut self) -> Result<Option<StoredManifest>, TransportError> {
        if !self.check_root()? {
            self.last_read = Some(ManifestId(None));
            return Ok(None);
        }
        for own in [self.state(), self.state().join("manifest")] {
            state::not_a_symlink(&own).map_err(unsafe_state)?;
        }
        let read = StoredManifest::load_identified(&self.state().join("manifest"))?;
        self.last_read = Some(ManifestId(read.as_ref().map(|(_, hash)| *hash)));
        Ok(read.map(|(m, _)| m))
    }

    fn last_read_id(&self) -> Option<ManifestId> {
        self.last_read
    }

    fn manifest_id(&mut self) -> Result<Option<ManifestId>, TransportError> {
        if !self.check_root()? {
            return Ok(Some(ManifestId(None)));
        }
        let file = self.state().join("manifest");
        let hash =
            crate::tree::manifest::file_hash(&file).map_err(|e| self.io("read", &file, e))?;
        Ok(Some(ManifestId(hash)))
    }

    fn stage_begin(&mut self, header: &StageHeader) -> Result<(), TransportError> {
        if self.lock.is_none() {
            return Err(TransportError::Protocol("staging without the destination lock".into()));
        }
        if self.current.is_some() {
            return Err(TransportError::Protocol("stage_begin before stage_end".into()));
        }
        let rel = Self::staged_file(header.id);
        let path = self.root.join(&rel);
        let root = self.root.clone();
        let b = self.pinned().map_err(|e| TransportError::io("open", root.display(), e))?;
        // The shard's directory is made by the first file staged in it.
        let shard = rel.parent().unwrap_or(&rel);
        b.make_dirs(shard).map_err(unsafe_state)?;
        let at = b.at(&rel).map_err(|e| state_error("open", &path, e))?;
        let file = {
            use rustix::fs::OFlags;
            at.open(OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC, 0o600)
        }
        .map_err(|e| self.io("create staged file", &path, e))?;
        self.current = Some(Staging {
            header: header.clone(),
            file,
            path,
            at,
            written: 0,
            chunks: Vec::new(),
            failed: None,
        });
        Ok(())
    }

    fn stage_chunk(&mut self, data: &[u8]) -> Result<(), TransportError> {
        let Ok(len) = u32::try_from(data.len()) else {
            return Err(TransportError::Protocol("a chunk larger than 4 GiB".into()));
        };
        let hash = crate::tree::chunk::chunk_hash(data);
        self.write_current(data, &[ChunkRef { len, hash }])
    }

    fn stage_reuse(&mut self, from: &RelPath, offset: u64, len: u64) -> Result<(), TransportError> {
        if !self.current_takes_data("stage reuse")? {
            return Ok(());
        }
        if self.manifest.is_none() {
            self.manifest = Some(self.load_manifest()?);
        }
        // The chunks of `from` that make up the range, with the hashes they must still have, read
        // from its entry in order (a large file's list is not copied whole for each range).
        let end = offset.saturating_add(len);
        let mut first = None;
        let chunks: Vec<ChunkRef> = self
            .manifest
            .as_ref()
            .and_then(|m| m.get(from))
            .and_then(|e| e.digest())
            .map(|d| {
                let chunks = d.chunks_at().skip_while(|c| c.offset < offset);
                let mut list = Vec::new();
                for c in chunks.take_while(|c| c.offset < end) {
                    first.get_or_insert(c.offset);
                    list.push(ChunkRef { len: c.len, hash: c.hash });
                }
                list
            })
            .unwrap_or_default();
        let covered: u64 = chunks.iter().map(|c| u64::from(c.len)).sum();
        if first != Some(offset) || covered != len {
            self.fail_current(StageOutcome::ReuseFailed(from.clone()));
            return Ok(());
        }
        let mut file = match self.open_inside(from).and_then(|mut f| {
            f.seek(SeekFrom::Start(offset))?;
            Ok(f)
        }) {
            Ok(f) => f,
            Err(_) => {
                self.fail_current(StageOutcome::ReuseFailed(from.clone()));
                return Ok(());
            }
        };
        // Verify before use: the destination may have been changed behind tern's back. The range
        // is read 1 MiB at a time; while a block's chunks are checked on all cores, the block is
        // written and the next one read. A damaged block fails the file, so a block written
        // before its check ended never reaches a commit.
        let blocks: Vec<&[ChunkRef]> = crate::tree::chunk::runs_of(&chunks, REUSE_BLOCK).collect();
        let Some(s) = &mut self.current else {
            return Err(TransportError::Protocol("stage reuse without a file".into()));
        };
        // Both buffers come from this thread's heap, whole: grown by the pool threads, they
        // would be scattered over their allocator arenas (6.8 MiB more resident at the agent
        // while it rebuilt a 1 GiB file).
        let largest = blocks.iter().map(|b| b.iter().map(|c| c.len as usize).sum()).max();
        let (mut block, mut next) = (Vec::new(), Vec::new());
        block.reserve_exact(largest.unwrap_or(0));
        next.reserve_exact(largest.unwrap_or(0));
        if let Some(first) = blocks.first() {
            read_block(&mut file, first, &mut block);
        }
        for (i, chunks) in blocks.iter().enumerate() {
            let (verified, appended) = match blocks.get(i + 1) {
                // The last block (most ranges have one): no thread to hand work to.
                None => (crate::tree::chunk::intact(&block, chunks), s.append(&block, chunks)),
                Some(following) => rayon::join(
                    || crate::tree::chunk::intact(&block, chunks),
                    || {
                        let appended = s.append(&block, chunks);
                        read_block(&mut file, following, &mut next);
                        appended
                    },
                ),
            };
            appended?;
            if !verified {
                self.fail_current(StageOutcome::ReuseFailed(from.clone()));
                return Ok(());
            }
            std::mem::swap(&mut block, &mut next);
        }
        Ok(())
    }

    fn block_signatures(&mut self, bases: &[Base]) -> Result<Vec<Option<Vec<u8>>>, TransportError> {
        Ok(bases.iter().map(|b| self.read_base(b).ok().map(|old| blocks::sign(&old))).collect())
    }

    fn stage_delta(
        &mut self,
        base: &Base,
        delta: &[u8],
        len: u32,
        hash: ContentHash,
    ) -> Result<(), TransportError> {
        if !self.current_takes_data("stage delta")? {
            return Ok(());
        }
        if self.delta_base.as_ref().is_none_or(|(b, _)| b != base) {
            self.delta_base = None;
            match self.read_base(base) {
                Ok(old) => self.delta_base = Some((base.clone(), old)),
                Err(_) => {
                    self.fail_current(StageOutcome::ReuseFailed(base.from.clone()));
                    return Ok(());
                }
            }
        }
        let old = self.delta_base.as_ref().map_or(&[][..], |(_, old)| &old[..]);
        // The old bytes may have changed since they were signed: only the hash says it came out.
        match blocks::patch(old, delta, len as usize) {
            Some(chunk) if crate::tree::chunk::chunk_hash(&chunk) == hash => {
                self.write_current(&chunk, &[ChunkRef { len, hash }])
            }
            _ => {
                self.fail_current(StageOutcome::ReuseFailed(base.from.clone()));
                Ok(())
            }
        }
    }

    fn stage_end(&mut self) -> Result<(), TransportError> {
        let Some(s) = self.current.take() else {
            return Err(TransportError::Protocol("stage_end without a file".into()));
        };
        let id = s.header.id;
        // The digest verifies the file and gives the chunk list a manifest delta may refer to.
        let complete = s.failed.is_none() && s.written == s.header.size;
        let digest = if complete { FileDigest::of_chunks(s.chunks) } else { FileDigest::empty() };
        let outcome = match s.failed {
            Some(o) => o,
            None if s.written != s.header.size || digest.hash != s.header.hash => {
                StageOutcome::Mismatch
            }
            None if s.header.meta.sparse
                && let Err(e) = crate::tree::sparse::finish_holey(&s.file, s.written) =>
            {
                StageOutcome::Failed(format!(
                    "cannot extend {} past its last hole: {e}",
                    s.path.display()
                ))
            }
            None => {
                start_writeback(&s.file, writeback_due(s.written, s.written, true));
                if s.written < WRITEBACK_MIN
                    && let Some(lock) = &self.lock
                {
                    self.flusher
                        .staged(s.written, lock)
                        .map_err(|e| self.io("sync", &self.root, e))?;
                }
                set_handle_meta(&s.file, &s.header.meta, &mut self.unkept)
                    .map_err(|e| self.io("finish staged file", &s.path, e))?;
                StageOutcome::Ok
            }
        };
        if outcome == StageOutcome::Ok {
            // A manifest delta refers to a staged file only for its chunk list: one of a single
            // chunk travels inline, so its digest need not be kept.
            if !digest.stored_chunks().is_empty() {
                self.staged.insert(id, digest);
            }
        } else {
            let _ = s.at.remove_file();
        }
        self.outcomes.push(id, outcome);
        Ok(())
    }

    fn finish_staging(&mut self) -> Result<StageReport, TransportError> {
        if self.current.is_some() {
            return Err(TransportError::Protocol("finish_staging with a file still open".into()));
        }
        self.delta_base = None;
        // Staged content is durable before any of it is renamed into place.
        if !self.outcomes.is_empty() {
            self.sync_filesystem()?;
        }
        Ok(std::mem::take(&mut self.outcomes))
    }

    fn scan_tree(
        &mut self,
        opts: &crate::tree::scan::ScanOptions,
        cache: bool,
        _since: Option<&super::StateCopy<'_>>,
    ) -> Result<crate::tree::scan::Scan, TransportError> {
        use crate::tree::scan::{Scan, ScanOptions, default_cache_file, scan};
        // A replica not made yet holds nothing (its first sync makes it).
        if !self.check_root()? {
            let empty = Scan {
                manifest: Default::default(),
                issues: Vec::new(),
                stats: Default::default(),
            };
            self.manifest = Some(Manifest::default());
            return Ok(empty);
        }
        let hidden = crate::util::progress::Progress::hidden();
        let cache_file = if cache { default_cache_file(&self.root) } else { None };
        let opts = ScanOptions { cache_file, ..opts.clone() };
        let scanned = scan(&self.root, &opts, &hidden).map_err(|e| {
            TransportError::Protocol(format!("cannot scan {}: {e}", self.describe()))
        })?;
        // A two-way sync reuses what the replica holds now, so reused ranges are checked
        // against this scan, not the manifest last committed here, until the next commit.
        self.manifest = Some(scanned.manifest.to_manifest(0));
        Ok(scanned)
    }

    fn read_state(&mut self, name: &str) -> Result<Option<Vec<u8>>, TransportError> {
        let shown = self.state().join(state_name(name)?);
        if !self.check_root()? {
            return Ok(None);
        }
        for own in [self.state(), shown.clone()] {
            state::not_a_symlink(&own).map_err(unsafe_state)?;
        }
        match fs::read(&shown) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("read", &shown, e)),
        }
    }

    fn write_state(&mut self, name: &str, data: &[u8]) -> Result<(), TransportError> {
        let (path, shown) = self.state_file(state_name(name)?)?;
        write_replacing_with(&path, true, |w| w.write_all(data))
            .map_err(|e| self.io("write", &shown, e))
    }

    fn write_state_delta(
        &mut self,
        name: &str,
        old: &crate::tree::hash::ContentHash,
        delta: &[u8],
    ) -> Result<bool, TransportError> {
        let Some(base) = self.state_manifest(name, old)? else { return Ok(false) };
        let bad = |e: String| TransportError::Protocol(format!("state {name}: {e}"));
        let delta = crate::plan::delta::Delta::decode(delta).map_err(|e| bad(e.to_string()))?;
        let next = delta.apply(base, |_| None).map_err(|e| bad(e.to_string()))?;
        self.write_state(name, &next.encode())?;
        Ok(true)
    }

    fn read_ranges(
        &mut self,
        path: &RelPath,
        ranges: &[(u64, u64)],
    ) -> Result<Box<dyn Read + '_>, TransportError> {
        let file = self
            .open_inside(path)
            .map_err(|e| TransportError::io("read", self.root.join(path.as_path()).display(), e))?;
        Ok(Box::new(Ranges::new(file, ranges, false)))
    }

    fn admin(&mut self, op: &AdminOp) -> Result<AdminResult, TransportError> {
        self.admin_op(op)
    }

    fn commit(&mut self, commit: Commit<'_>) -> Result<CommitReport, TransportError> {
        if self.lock.is_none() {
            return Err(TransportError::Protocol("commit without the destination lock".into()));
        }
        let Commit { run_id, ops, op_count: count, manifest, .. } = commit;
        let metas = |touched: &HashSet<Option<RelPath>>| {
            let touched: HashSet<&RelPath> = touched.iter().flatten().collect();
            let found = manifest.entries_at(|p| touched.contains(p));
            Ok(found.into_iter().map(|(p, e)| (p, e.meta)).collect())
        };
        // Applied: the operations go before the manifest is encoded.
        let mut report =
            self.apply_ops(&run_id, ops.map(Ok), count, manifest.generation(), metas)?;
        report.unkept = self.staged_then(report.unkept);
        self.store_manifest(manifest)?;
        self.finish_commit();
        Ok(report)
    }
}

impl LocalDir {
    /// An unnamed file in the staging directory, gone when closed: where the agent spools a
    /// commit's operations and manifest delta as they arrive. Lock the destination first.
    pub fn spool_file(&self) -> Result<File, TransportError> {
        let shown = self.root.join(staging_rel());
        let dir = Beneath::open(&self.root).and_then(|mut b| b.dir_path(&staging_rel()));
        dir.and_then(|d| tempfile::tempfile_in(&*d))
            .map_err(|e| self.io("create a file in", &shown, e))
    }

    /// Commit `count` operations, read from `ops` as they are applied, with the manifest the
    /// committed one becomes with the delta read from `delta` applied (see
    /// [`crate::plan::delta::apply_streamed`]). Neither manifest is held whole: the next one is
    /// written to a file in staging (its entry count and hash checked against the delta's)
    /// before any operation is applied, and renamed over the committed one last, after the
    /// `syncfs`, as [`Transport::commit`] stores its manifest.
    pub fn commit_delta<D: Read>(
        &mut self,
        run_id: &str,
        ops: impl Iterator<Item = Result<CommitOp, TransportError>>,
        count: usize,
        delta: D,
    ) -> Result<CommitReport, TransportError> {
        if self.lock.is_none() {
            return Err(TransportError::Protocol("commit without the destination lock".into()));
        }
        self.manifest = None;
        let (path, shown) = self.state_file("manifest")?;
        // In staging, which the next lock empties, should this run die before the rename.
        let staging = self.root.join(staging_rel());
        let mut next = self
            .pinned()
            .and_then(|b| b.dir_path(&staging_rel()))
            .and_then(|dir| tempfile::Builder::new().prefix("manifest-").tempfile_in(&*dir))
            .map_err(|e| self.io("create a file in", &staging, e))?;
        let base = match crate::tree::manifest::open_if_exists(&path) {
            Ok(Some(f)) => EntryReader::open(io::BufReader::new(f))
                .map(Some)
                .map_err(|e| DeltaError::Base(e.to_string())),
            Ok(None) => Ok(None),
            Err(e) => Err(DeltaError::Base(format!("{}: {e}", shown.display()))),
        };
        let staged = |id| self.staged.get(&id).cloned();
        let mut out = io::BufWriter::new(next.as_file_mut());
        let generation = DeltaReader::open(delta)
            .map_err(DeltaError::Malformed)
            .and_then(|delta| apply_streamed(delta, base?, staged, &mut out))
            .and_then(|g| out.flush().map(|()| g).map_err(|e| DeltaError::Write(e.to_string())))
            .map_err(|e| match e {
                DeltaError::Base(reason) => {
                    TransportError::corrupt_manifest(&self.describe(), reason)
                }
                e => TransportError::Protocol(format!(
                    "cannot apply the manifest delta: {e}; run the sync again"
                )),
            })?;
        drop(out);
        let written = next.path().to_owned();
        let metas = |touched: &HashSet<Option<RelPath>>| -> Result<_, TransportError> {
            let unreadable = |e: String| TransportError::corrupt_manifest(&self.describe(), e);
            let file = File::open(&written).map_err(|e| self.io("read", &written, e))?;
            let mut next = EntryReader::open(io::BufReader::new(file))
                .map_err(|e| unreadable(e.to_string()))?;
            let mut metas = HashMap::new();
            while let Some(e) = next.next_entry().map_err(|e| unreadable(e.to_string()))? {
                if matches!(e.kind, crate::tree::manifest::Kind::Dir)
                    && touched.contains(&Some(e.path.clone()))
                {
                    metas.insert(e.path, e.meta);
                }
            }
            Ok(metas)
        };
        let mut report = self.apply_ops(run_id, ops, count, generation, metas)?;
        report.unkept = self.staged_then(report.unkept);
        self.sync_filesystem()?;
        crate::tree::manifest::persist_durably(next, &path)
            .map_err(|e| self.io("write", &shown, e))?;
        self.finish_commit();
        Ok(report)
    }

    /// What staging did not keep since the last commit, then what the commit did not: in the
    /// order they happened, so a warning's first reason is the run's first.
    fn staged_then(&mut self, committed: Unkept) -> Unkept {
        let mut unkept = std::mem::take(&mut self.unkept);
        unkept.merge(committed);
        unkept
    }

    /// Apply a commit's operations, then restore the mode and mtime of the directories they
    /// touched (`metas` gives those the next manifest has). The caller holds the lock.
    fn apply_ops(
        &self,
        run_id: &str,
        ops: impl Iterator<Item = Result<CommitOp, TransportError>>,
        count: usize,
        generation: u64,
        metas: impl FnOnce(&HashSet<Option<RelPath>>) -> Result<HashMap<RelPath, Meta>, TransportError>,
    ) -> Result<CommitReport, TransportError> {
        let mut c = Committer::new(self, run_id)?;
        for (n, op) in ops.enumerate() {
            if n == count / 2 {
                crate::util::failpoint::hit("commit-midway");
            }
            c.apply(&op?)?;
        }
        crate::util::failpoint::hit("before-manifest");
        let metas = metas(&c.touched)?;
        c.finish_dirs(&metas)?;
        Ok(c.report(generation))
    }

    /// After the manifest is stored: staging is emptied for the next run.
    fn finish_commit(&mut self) {
        crate::util::failpoint::hit("after-manifest");
        self.staged.clear();
        let _ = self.reset_staging();
    }
}

impl LocalDir {
    fn admin_op(&mut self, op: &AdminOp) -> Result<AdminResult, TransportError> {
        use crate::transport::admin;
        if !self.root.is_dir() {
            return Err(TransportError::NotADirectory(self.describe()));
        }
        let root = self.root.clone();
        let io = move |e: io::Error| TransportError::io("maintain", root.display(), e);
        Ok(match op {
            AdminOp::Verify { deep } => {
                let manifest = self.load_manifest()?;
                let (findings, files, bytes) =
                    admin::verify(&self.root, &manifest, *deep).map_err(io)?;
                AdminResult::Verified { findings, files, bytes }
            }
            AdminOp::TrashList => {
                AdminResult::Trash { runs: admin::trash_list(&self.root).map_err(io)? }
            }
            AdminOp::TrashPurge { older_than_secs, except } => {
                if self.lock.is_none() {
                    self.lock()?;
                }
                let older = older_than_secs.map(std::time::Duration::from_secs);
                let (runs, bytes) =
                    admin::trash_purge(&self.root, older, except.as_deref()).map_err(io)?;
                AdminResult::Purged { runs, bytes }
            }
            AdminOp::Undo { run, new_run } => {
                if self.lock.is_none() {
                    self.lock()?;
                }
                let manifest = self.load_manifest()?;
                let (next, run, restored, displaced) =
                    admin::undo(&self.root, &manifest, run.as_deref(), new_run)
                        .map_err(TransportError::Protocol)?;
                self.store_manifest(&next)?;
                AdminResult::Undone { run, restored, displaced, generation: next.generation }
            }
        })
    }
}

/// Applies one commit's operations and remembers which directories it touched. Every entry is
/// reached through the handles of [`Beneath`]: never through a symlink, wherever one is planted.
struct Committer<'a> {
    dest: &'a LocalDir,
    b: Beneath,
    /// This run's trash directory, relative to the top.
    trash: PathBuf,
    /// Directories verified (or made) real during this commit.
    verified: HashSet<RelPath>,
    /// Directories whose content changed: their mode and mtime are restored and they are fsynced.
    touched: HashSet<Option<RelPath>>,
    trashed: u64,
    repaired: u64,
    /// Extended attributes this commit could not set.
    unkept: Unkept,
}

impl<'a> Committer<'a> {
    fn new(dest: &'a LocalDir, run_id: &str) -> Result<Self, TransportError> {
        let b = Beneath::open(&dest.root).map_err(|e| dest.io("open", &dest.root, e))?;
        Ok(Committer {
            dest,
            b,
            trash: Path::new(STATE_DIR).join("trash").join(run_id),
            verified: HashSet::new(),
            touched: HashSet::new(),
            trashed: 0,
            repaired: 0,
            unkept: Unkept::default(),
        })
    }

    /// An I/O error at `rel` (relative to the top), naming it as the user knows it.
    fn err(&self, action: &'static str, rel: &Path, e: io::Error) -> TransportError {
        self.dest.io(action, &self.b.shown(rel), e)
    }

    /// The entry `rel`, its parent reached without symlinks (the caller made sure it is there).
    fn at(&mut self, rel: &Path) -> Result<At, TransportError> {
        self.b.at(rel).map_err(|e| self.err("open", rel, e))
    }

    /// A scratch entry in staging, emptied.
    fn scratch(&mut self, name: &str) -> Result<At, TransportError> {
        let rel = staging_rel().join(name);
        let at = self.at(&rel)?;
        at.remove_file().map_err(|e| self.err("remove", &rel, e))?;
        Ok(at)
    }

    fn apply(&mut self, op: &CommitOp) -> Result<(), TransportError> {
        let path = op.path();
        if !matches!(op, CommitOp::SetMeta { .. }) {
            self.touched.insert(path.parent());
        }
        match op {
            CommitOp::Trash(p) => {
                if self.parents_are_dirs(p)? && self.exists(p)? {
                    self.move_to_trash(p)?;
                    self.trashed += 1;
                }
            }
            CommitOp::MkDir(p) => {
                self.ensure_dir(p)?;
                self.touched.insert(Some(p.clone()));
            }
            CommitOp::Symlink { path, link } => {
                self.ensure_parents(path)?;
                let tmp = self.scratch("symlink.tmp")?;
                let shown = self.b.shown(&staging_rel().join("symlink.tmp"));
                tmp.symlink(os_str(&link.target))
                    .map_err(|e| self.dest.io("create symlink", &shown, e))?;
                set_symlink_meta(&tmp.proc_path(), &link.meta, &mut self.unkept)
                    .map_err(|e| self.dest.io("set metadata of", &shown, e))?;
                self.replace_with(path, &tmp)?;
            }
            CommitOp::Place { path, id } => {
                self.ensure_parents(path)?;
                let staged = self.at(&LocalDir::staged_file(*id))?;
                self.replace_with(path, &staged)?;
            }
            CommitOp::HardLink { path, first } => {
                self.ensure_parents(path)?;
                // The first name must be a file reached through directories: never a link
                // planted there to make this one name something outside the destination.
                let target = match self.parents_are_dirs(first)? {
                    true => Some(self.at(first.as_path())?),
                    false => None,
                };
                let is_file = match &target {
                    Some(t) => t.kind().ok().flatten() == Some(rustix::fs::FileType::RegularFile),
                    None => false,
                };
                let (Some(target), true) = (target, is_file) else {
                    let e = io::Error::other(format!("{} is not a file", first.display()));
                    return Err(self.err("make a hard link to", first.as_path(), e));
                };
                let tmp = self.scratch("hardlink.tmp")?;
                target
                    .link_to(&tmp)
                    .map_err(|e| self.err("make a hard link to", first.as_path(), e))?;
                self.replace_with(path, &tmp)?;
            }
            CommitOp::Node { path, node } => {
                self.ensure_parents(path)?;
                let tmp = self.scratch("node.tmp")?;
                let shown = self.b.shown(&staging_rel().join("node.tmp"));
                match make_node(&tmp.proc_path(), node.special, node.meta.mode) {
                    Ok(()) => {
                        set_node_meta(&tmp.proc_path(), &node.meta, &mut self.unkept)
                            .map_err(|e| self.dest.io("set metadata of", &shown, e))?;
                        self.replace_with(path, &tmp)?;
                    }
                    // Only root may make device files (CAP_MKNOD), as with rsync -D.
                    Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
                        self.unkept.add(|| {
                            format!(
                                "{}: only root creates device files (as root, --check-dest \
                                 creates them later)",
                                path.display()
                            )
                        });
                    }
                    Err(e) => return Err(self.dest.io("create", &shown, e)),
                }
            }
            CommitOp::SetMeta { path, meta, kind } => match kind {
                KindTag::Dir => {
                    self.touched.insert(Some(path.clone()));
                }
                KindTag::File | KindTag::HardLink => {
                    if self.parents_are_dirs(path)? {
                        let at = self.at(path.as_path())?;
                        let unkept = &mut self.unkept;
                        let set = at
                            .open(rustix::fs::OFlags::RDONLY, 0)
                            .and_then(|f| set_handle_meta(&f, meta, unkept));
                        set.map_err(|e| self.err("set metadata of", path.as_path(), e))?;
                    }
                }
                KindTag::Symlink => {
                    if self.parents_are_dirs(path)? {
                        let at = self.at(path.as_path())?;
                        set_symlink_meta(&at.proc_path(), meta, &mut self.unkept)
                            .map_err(|e| self.err("set metadata of", path.as_path(), e))?;
                    }
                }
                KindTag::Fifo | KindTag::CharDevice | KindTag::BlockDevice => {
                    if self.parents_are_dirs(path)? && self.exists(path)? {
                        let at = self.at(path.as_path())?;
                        set_node_meta(&at.proc_path(), meta, &mut self.unkept)
                            .map_err(|e| self.err("set metadata of", path.as_path(), e))?;
                    }
                }
            },
        }
        Ok(())
    }

    /// Whether anything is at `p` (its parents are real directories).
    fn exists(&mut self, p: &RelPath) -> Result<bool, TransportError> {
        let at = self.at(p.as_path())?;
        let kind = at.kind().map_err(|e| self.err("read", p.as_path(), e))?;
        Ok(kind.is_some())
    }

    /// Whether every parent of `p` is a real directory (without changing anything).
    fn parents_are_dirs(&mut self, p: &RelPath) -> Result<bool, TransportError> {
        let Some(parent) = p.parent() else { return Ok(true) };
        match self.b.dir(parent.as_path()) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound || is_planted(&e) => Ok(false),
            Err(e) => Err(self.err("read", parent.as_path(), e)),
        }
    }

    /// Make every parent of `p` a real directory, repairing out-of-band damage on the way.
    fn ensure_parents(&mut self, p: &RelPath) -> Result<(), TransportError> {
        match p.parent() {
            Some(parent) => self.ensure_dir(&parent),
            None => Ok(()),
        }
    }

    /// Make `p` (and its parents) a real directory; whatever else is in the way goes to the trash.
    fn ensure_dir(&mut self, p: &RelPath) -> Result<(), TransportError> {
        use rustix::fs::FileType;
        if self.verified.contains(p) {
            return Ok(());
        }
        self.ensure_parents(p)?;
        let rel = p.as_path();
        let at = self.at(rel)?;
        let st = at.stat().map_err(|e| self.err("read", rel, e))?;
        match st.map(|st| (FileType::from_raw_mode(st.st_mode), st.st_mode)) {
            Some((FileType::Directory, mode)) => {
                // A directory tern must write into has to be writable by us (mode is reset later).
                if mode & 0o300 != 0o300 {
                    let fixed = self.b.open_dir(rel).and_then(|d| {
                        d.set_permissions(fs::Permissions::from_mode((mode & 0o7777) | 0o700))
                    });
                    fixed.map_err(|e| self.err("make writable", rel, e))?;
                    self.touched.insert(Some(p.clone()));
                }
            }
            Some(_) => {
                // A file or symlink where a directory belongs: never write through it.
                self.move_to_trash(p)?;
                self.repaired += 1;
                self.touched.insert(p.parent());
                at.mkdir(0o777).map_err(|e| self.err("create directory", rel, e))?;
                self.touched.insert(Some(p.clone()));
            }
            None => {
                at.mkdir(0o777).map_err(|e| self.err("create directory", rel, e))?;
                self.touched.insert(p.parent());
                self.touched.insert(Some(p.clone()));
            }
        }
        self.verified.insert(p.clone());
        Ok(())
    }

    /// Put `new` (a staged file or symlink) at `p` with one atomic rename. An old file or symlink
    /// there is hard-linked into the trash first, so the path is never missing; an old directory
    /// is moved to the trash.
    fn replace_with(&mut self, p: &RelPath, new: &At) -> Result<(), TransportError> {
        use rustix::fs::FileType;
        let rel = p.as_path();
        let at = self.at(rel)?;
        // Tests change the tree here, after the path was resolved and before it is written.
        crate::util::failpoint::delay("commit-resolved");
        match at.kind().map_err(|e| self.err("read", rel, e))? {
            Some(FileType::Directory) => {
                self.move_to_trash(p)?;
                self.trashed += 1;
            }
            Some(_) => {
                let slot = self.trash_slot(p)?;
                // linkat without AT_SYMLINK_FOLLOW links a symlink itself.
                if at.link_to(&slot).is_err() {
                    at.rename_to(&slot).map_err(|e| self.err("move to trash", rel, e))?;
                }
                self.trashed += 1;
            }
            None => {}
        }
        new.rename_to(&at).map_err(|e| self.err("move into place", rel, e))
    }

    /// A free entry in this run's trash for `p`, with its parent directories made (real ones,
    /// never a symlink planted to move what is trashed out of the destination). The pair is
    /// recorded in the run's trash index first, so `tern undo` knows what to put back where.
    fn trash_slot(&mut self, p: &RelPath) -> Result<At, TransportError> {
        let base = self.trash.join(p.as_path());
        let parent = base.parent().unwrap_or(&self.trash).to_path_buf();
        self.b.make_dirs(&parent).map_err(unsafe_state)?;
        let b = &mut self.b;
        let slot = state::free_slot(base, |t| Ok(b.at(t)?.kind()?.is_some()))
            .map_err(|e: io::Error| self.err("read", &parent, e))?;
        let rel = slot.strip_prefix(&self.trash).unwrap_or(&slot).to_path_buf();
        let index = state::index_path(&self.trash);
        let record = state::trash_record(p, &rel);
        let written = self.b.at(&index).and_then(|at| at.append(&record));
        written.map_err(|e| state_error("write", &self.b.shown(&index), e))?;
        self.at(&slot)
    }

    fn move_to_trash(&mut self, p: &RelPath) -> Result<(), TransportError> {
        let at = self.at(p.as_path())?;
        let slot = self.trash_slot(p)?;
        at.rename_to(&slot).map_err(|e| self.err("move to trash", p.as_path(), e))?;
        // Anything verified below it is gone now, and its handles name the trash.
        self.verified.retain(|d| !d.is_within(p));
        self.b.forget(p.as_path());
        Ok(())
    }

    /// Restore mode and mtime of every directory whose content changed, deepest first, and fsync
    /// them so the renames are durable before the manifest says they happened.
    fn finish_dirs(&mut self, metas: &HashMap<RelPath, Meta>) -> Result<(), TransportError> {
        let mut dirs: Vec<Option<RelPath>> = self.touched.drain().collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.as_ref().map_or(0, RelPath::depth)));
        for dir in dirs {
            let rel = dir.as_ref().map_or(Path::new(""), |p| p.as_path());
            let meta: Option<&Meta> = dir.as_ref().and_then(|p| metas.get(p));
            let unkept = &mut self.unkept;
            let finish = self.b.open_dir(rel).and_then(|f| match meta {
                Some(meta) => set_handle_meta(&f, meta, unkept),
                None => Ok(()),
            });
            match finish {
                Ok(()) => {}
                // Gone (trashed later in the run) or not a directory: nothing to restore.
                Err(e) if e.kind() == io::ErrorKind::NotFound || is_planted(&e) => {}
                Err(e) => return Err(self.err("finish directory", rel, e)),
            }
        }
        Ok(())
    }

    fn report(&self, generation: u64) -> CommitReport {
        let trash = self.b.shown(&self.trash);
        let trash_dir = fs::symlink_metadata(&trash).is_ok().then(|| trash.display().to_string());
        CommitReport {
            generation,
            trashed: self.trashed,
            trash_dir,
            repaired: self.repaired,
            unkept: self.unkept.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small files start a background sync once `FLUSH_EVERY` bytes of them are staged, and
    /// `wait` ends it; below that, none starts.
    #[test]
    fn small_staged_files_are_synced_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let lock = File::create(dir.path().join("lock")).unwrap();
        let mut f = Flusher::default();
        f.staged(FLUSH_EVERY - 2, &lock).unwrap();
        assert!(f.running.is_none());
        f.staged(1, &lock).unwrap();
        assert!(f.running.is_none());
        f.staged(1, &lock).unwrap();
        assert!(f.running.is_some());
        assert_eq!(f.pending, 0);
        f.wait().unwrap();
        assert!(f.running.is_none());
        f.wait().unwrap();
    }

    /// A destination dropped while its background sync runs (a run that failed mid-transfer)
    /// leaves its lock free for the next run at once: the sync's duplicate of the lock's
    /// descriptor would otherwise hold the lock until the sync ends.
    /// A destination kept open between runs (a watch) lets another writer in while unlocked,
    /// and takes the lock again on the same handle.
    #[test]
    fn unlock_lets_another_writer_in_and_the_lock_can_be_taken_again() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("dst");
        let (mut ours, mut theirs) = (LocalDir::new(&root), LocalDir::new(&root));
        ours.lock().unwrap();
        assert!(matches!(theirs.lock(), Err(TransportError::Locked { .. })));
        ours.unlock().unwrap();
        theirs.lock().unwrap();
        assert!(matches!(ours.lock(), Err(TransportError::Locked { .. })));
        theirs.unlock().unwrap();
        ours.lock().unwrap();
        ours.unlock().unwrap();
        ours.unlock().unwrap();
    }

    #[test]
    fn dropping_a_destination_mid_flush_releases_its_lock() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("dst");
        let data = vec![7u8; (WRITEBACK_MIN - 1) as usize];
        let hash = crate::tree::hash::ContentHash::of_chunk(&data);
        for _ in 0..3 {
            let mut d = LocalDir::new(&root);
            d.lock().unwrap();
            let mut id = 0;
            while d.flusher.running.is_none() {
                d.stage_begin(&StageHeader {
                    id,
                    size: data.len() as u64,
                    hash,
                    meta: Meta::default(),
                })
                .unwrap();
                d.stage_chunk(&data).unwrap();
                d.stage_end().unwrap();
                id += 1;
            }
            drop(d);
            LocalDir::new(&root).lock().unwrap();
        }
    }

    /// A chunk staged as a block delta against the destination's old bytes: rebuilt and kept
    /// when it comes out with its hash; `ReuseFailed` (so the file is sent whole) when the old
    /// bytes are not the ones signed, the base is out of the file, or no file is being staged.
    #[test]
    fn a_delta_chunk_is_rebuilt_from_the_old_bytes_or_fails_as_a_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("dst");
        let old: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("f"), &old).unwrap();
        let mut new = old.clone();
        new[9000..9010].copy_from_slice(b"0123456789");
        let (hash, len) = (crate::tree::chunk::chunk_hash(&new), new.len() as u32);
        let f = RelPath::new("f").unwrap();
        let base = Base { from: f.clone(), offset: 0, len: old.len() as u64 };
        let mut d = LocalDir::new(&root);
        d.lock().unwrap();
        let signed = blocks::Signed::parse(
            d.block_signatures(std::slice::from_ref(&base)).unwrap()[0].clone().unwrap(),
        )
        .unwrap();
        let delta = signed.index().delta(&new).unwrap();
        assert!(delta.len() < 2000, "{}", delta.len());
        let header = |id| StageHeader {
            id,
            size: u64::from(len),
            hash: FileDigest::of_chunks(vec![ChunkRef { len, hash }]).hash,
            meta: Meta::default(),
        };
        assert!(matches!(
            d.stage_delta(&base, &delta, len, hash),
            Err(TransportError::Protocol(_))
        ));
        let outcome = |d: &mut LocalDir, id, base: &Base, delta: &[u8]| {
            d.stage_begin(&header(id)).unwrap();
            d.stage_delta(base, delta, len, hash).unwrap();
            d.stage_end().unwrap();
            let report = &d.outcomes;
            match report.ok.iter().any(|r| r.contains(&id)) {
                true => Some(StageOutcome::Ok),
                false => report.other.iter().find(|(i, _)| *i == id).map(|(_, o)| o.clone()),
            }
        };
        assert_eq!(outcome(&mut d, 1, &base, &delta), Some(StageOutcome::Ok));
        let staged = std::fs::read(root.join(LocalDir::staged_file(1))).unwrap();
        assert_eq!(staged, new);
        // Out of the file, or the old bytes changed since they were signed.
        let past = Base { offset: 10, ..base.clone() };
        assert_eq!(outcome(&mut d, 2, &past, &delta), Some(StageOutcome::ReuseFailed(f.clone())));
        std::fs::write(root.join("f"), vec![1; old.len()]).unwrap();
        d.delta_base = None;
        assert_eq!(outcome(&mut d, 3, &base, &delta), Some(StageOutcome::ReuseFailed(f.clone())));
        // The signatures of what cannot be read are none.
        let missing = Base { from: RelPath::new("nope").unwrap(), offset: 0, len: 5 };
        let huge = Base { len: blocks::MAX_BASE + 1, ..base };
        assert_eq!(d.block_signatures(&[missing, huge]).unwrap(), vec![None, None]);
    }

    /// Every byte of a staged file of `WRITEBACK_MIN` or more is handed to the disk exactly once,
    /// in order, whatever the sizes of the writes; a smaller file is left to the `syncfs`.
    #[test]
    fn writeback_covers_a_large_file_once_and_leaves_a_small_one() {
        let step = WRITEBACK_STEP;
        for (size, write) in [
            (WRITEBACK_MIN - 1, 4096),
            (WRITEBACK_MIN, 4096),
            (1 << 20, 70_000),
            (step, 1 << 20),
            (step + 1, 1 << 20),
            (3 * step + 12_345, 999_999),
            (3 * step + 12_345, 3 * step + 12_345),
        ] {
            let mut ranges = Vec::new();
            let mut written = 0;
            while written < size {
                let before = written;
                written = (written + write).min(size);
                ranges.extend(writeback_due(before, written, false));
            }
            ranges.extend(writeback_due(written, written, true));
            if size < WRITEBACK_MIN {
                assert!(ranges.is_empty(), "{size}: {ranges:?}");
                continue;
            }
            let mut at = 0;
            for r in &ranges {
                assert_eq!(r.start, at, "{size}, written {write} at a time: {ranges:?}");
                assert!(r.end > r.start && r.end - r.start <= step.max(write), "{ranges:?}");
                at = r.end;
            }
            assert_eq!(at, size, "{size}, written {write} at a time: {ranges:?}");
        }
    }
}
