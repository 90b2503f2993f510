//! Walking the source tree into a [`Manifest`](crate::tree::manifest::Manifest), with a hash
//! cache so unchanged files are not read.
//!
//! The walk never follows symlinks and skips a top-level `.tern` (a destination's state). It is read
//! in batches; a batch's files are hashed in parallel on all cores. A file whose size, mtime,
//! ctime, inode and device match the previous scan reuses that scan's digest, so a re-run on an
//! unchanged tree reads no file contents. The walk lists siblings by name, which is manifest
//! order, the order the cache is written in: the previous cache is read side by side with the
//! walk, an entry at a time, never decoded whole, and the next one is written as the walk goes
//! (from the first file that differs from the previous one), so nothing but the manifest's
//! entries is held per file.
//! Entries the walk cannot read are reported as [`ScanIssue`]s; the planner then protects their
//! destination copies instead of deleting them.

use crate::tree::chunk::digest_sized;
use crate::tree::codec::{DecodeError, Reader, StreamReader, Writer};
use crate::tree::filter::Excludes;
use crate::tree::hash::ContentHash;
use crate::tree::manifest::{
    Entry, Kind, Meta, Mtime, check_container, decode_digest, decode_meta, encode_digest,
    encode_meta, open_container_writer, open_if_exists, read_up_to,
};
use crate::tree::meta::{meta_of, mtime_of, read_xattrs, read_xattrs_of, special_of};
use crate::tree::path::{MAX_PATH_LEN, RelPath, cmp_bytes};
use crate::tree::state::STATE_DIR;
use crate::tree::store::{EntryStore, StoreWriter};
use crate::util::progress::Progress;
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const CACHE_MAGIC: &[u8; 8] = b"TERNCACH";
/// 5: an entry's metadata carries its extended attributes (a cache from before would give files
/// without them). 3: file hashes are hashes of chunk lists ([`crate::tree::hash`]). 4: written as the walk goes,
/// so the entries end with an empty path instead of following their count.
const CACHE_VERSION: u16 = 5;
/// A cache entry whose ctime is this close to the start of the scan that wrote it may have been
/// modified again within the same clock tick, so it is not trusted.
const RACY_MARGIN: Duration = Duration::from_millis(20);
/// How often a file that changes while it is being hashed is read again before giving up.
const HASH_ATTEMPTS: usize = 3;

/// How to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Re-hash every file, ignoring the cache.
    pub checksum: bool,
    /// Where the hash cache for this source lives; `None` disables it.
    pub cache_file: Option<PathBuf>,
    /// Entries not to replicate.
    pub excludes: Excludes,
    /// Do not read extended attributes (`--no-xattrs`): entries are listed without them.
    pub no_xattrs: bool,
    /// Replicate every file as a file of its own, not hard links as links (`--no-hard-links`).
    pub no_hard_links: bool,
    /// Do not descend into directories on another file system than the source's (`-x`); the
    /// mount point itself is listed, empty, as rsync -x lists it.
    pub one_file_system: bool,
}

/// Something in the source that could not be read. Its destination copy is protected.
#[derive(Debug, Clone)]
pub struct ScanIssue {
    pub path: RelPath,
    pub message: String,
}

/// Counters of one scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub entries: u64,
    pub files: u64,
    pub bytes: u64,
    /// Files whose content was read and hashed.
    pub hashed_files: u64,
    pub hashed_bytes: u64,
    /// Files whose digest came from the cache.
    pub cached_files: u64,
    /// Sockets, which tern does not replicate (they belong to the process listening on them).
    pub skipped_sockets: u64,
    /// Files with more than one name (a link count above one), hard links kept or not.
    pub linked_files: u64,
}

/// Parts of a tree to scan again, as `tern watch` does after the kernel named what changed: each
/// `deep` path with everything below it, and each `shallow` path alone (a directory whose own
/// metadata changed with what it holds). Neither list need be sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Within {
    pub deep: Vec<RelPath>,
    pub shallow: Vec<RelPath>,
}

impl Within {
    /// The paths these parts cover, looked up by a path's bytes in time of its depth.
    pub fn cover(&self) -> Cover<'_> {
        Cover {
            deep: self.deep.iter().map(|p| p.as_bytes()).collect(),
            shallow: self.shallow.iter().map(|p| p.as_bytes()).collect(),
        }
    }
}

/// What a [`Within`] covers: see [`Within::cover`].
pub struct Cover<'a> {
    deep: std::collections::HashSet<&'a [u8]>,
    shallow: std::collections::HashSet<&'a [u8]>,
}

impl Cover<'_> {
    /// Whether `path` is a shallow part, or a deep part or below one (one of its parents, each a
    /// prefix ending before a '/', is a deep part).
    pub fn contains(&self, path: &RelPath) -> bool {
        let p = path.as_bytes();
        self.shallow.contains(p)
            || self.deep.contains(p)
            || p.iter().enumerate().any(|(i, &b)| b == b'/' && self.deep.contains(&p[..i]))
    }
}

/// The result of a scan.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The source's entries, in path order, held compactly.
    pub manifest: EntryStore,
    pub issues: Vec<ScanIssue>,
    pub stats: ScanStats,
}

/// A scan that could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("source {} does not exist; check the path", .0.display())]
    Missing(PathBuf),
    #[error("source {} is not a directory; tern replicates directory trees", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot read source {}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot keep the list of source entries in {}", crate::tree::store::temp_room())]
    Spool(#[source] std::io::Error),
}

/// The identity of a file's content as the kernel reports it; equal stamps mean unchanged content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime: Mtime,
    ctime: Mtime,
    ino: u64,
    dev: u64,
}

/// What a cache entry keeps of a file's [`Stamp`] besides what its manifest entry already holds
/// (the size and the mtime): a file read or found in the cache waits beside its entry, in its
/// batch, until it is added to the next cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ident {
    ctime: Mtime,
    ino: u64,
    dev: u64,
}

impl Stamp {
    fn ident(&self) -> Ident {
        Ident { ctime: self.ctime, ino: self.ino, dev: self.dev }
    }

    fn of(md: &Metadata) -> Self {
        Stamp {
            size: md.len(),
            mtime: mtime_of(md),
            ctime: Mtime { secs: md.ctime(), nanos: md.ctime_nsec() as u32 },
            ino: md.ino(),
            dev: md.dev(),
        }
    }
}

struct PendingFile {
    path: RelPath,
    stamp: Stamp,
    /// It has other names (a link count above one): it may be one of a hard-link group.
    linked: bool,
}

/// Files walked before their batch is read: enough to keep every core busy between batches,
/// few enough that a batch's slots are a small, fixed amount of memory.
const BATCH_FILES: usize = if cfg!(test) { 3 } else { 4096 };
/// A batch also ends once its files hold this many bytes, so the progress bar's total grows
/// ahead of the reading in useful steps.
const BATCH_BYTES: u64 = 1 << 30;

/// Walk `root` and build its manifest.
///
/// The walk is read in batches: each batch's files are looked up in the hash cache, the others
/// hashed on every core, and then all of it is appended to the manifest and to the next cache in
/// walk order, which is manifest order. Nothing is held per file but its manifest entry.
pub fn scan(root: &Path, opts: &ScanOptions, progress: &Progress) -> Result<Scan, ScanError> {
    walk_tree(root, None, opts, progress)
}

/// Scan only the parts `within` of the tree at `root`: their entries (in path order) and issues,
/// as [`scan`] would list them there, with the same excludes. The hash cache is neither read nor
/// written: every file in them is read, as the kernel said it changed. A path that is no longer
/// there is left out (it was deleted), not reported.
pub fn scan_within(
    root: &Path,
    within: &Within,
    opts: &ScanOptions,
    progress: &Progress,
) -> Result<Scan, ScanError> {
    let opts = ScanOptions { cache_file: None, ..opts.clone() };
    walk_tree(root, Some(within), &opts, progress)
}

/// Where the walks of a scan start: the root's walk for a whole tree, else one per path of
/// `within` in path order (each with the depths below it that are walked).
fn walk_starts(
    root: &Path,
    within: Option<&Within>,
    opts: &ScanOptions,
) -> Vec<(PathBuf, usize, usize)> {
    let Some(w) = within else { return vec![(root.to_path_buf(), 1, usize::MAX)] };
    let mut starts: Vec<(&RelPath, bool)> =
        w.deep.iter().map(|p| (p, true)).chain(w.shallow.iter().map(|p| (p, false))).collect();
    starts.sort();
    starts.dedup_by(|b, a| a.0 == b.0);
    let dev_of = |p: &Path| std::fs::symlink_metadata(p).map(|md| md.dev()).ok();
    let root_dev = dev_of(root);
    let mut out = Vec::new();
    for (p, deep) in starts {
        let full = root.join(p.as_path());
        let mut max = if deep { usize::MAX } else { 0 };
        if opts.one_file_system {
            let parent = full.parent().map_or(root_dev, dev_of);
            if parent != root_dev {
                // Inside another file system: never walked with -x.
                continue;
            }
            if dev_of(&full).is_some_and(|d| Some(d) != root_dev) {
                // A mount point: listed, empty.
                max = 0;
            }
        }
        out.push((full, 0, max));
    }
    out
}

fn walk_tree(
    root: &Path,
    within: Option<&Within>,
    opts: &ScanOptions,
    progress: &Progress,
) -> Result<Scan, ScanError> {
    let started = SystemTime::now();
    match std::fs::metadata(root) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => return Err(ScanError::NotADirectory(root.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ScanError::Missing(root.to_owned()));
        }
        Err(e) => {
            return Err(ScanError::Unreadable { path: root.to_owned(), source: e });
        }
    }
    if let Err(e) = std::fs::read_dir(root) {
        return Err(ScanError::Unreadable { path: root.to_owned(), source: e });
    }

    let mut old = HashCache::default();
    if let Some(f) = &opts.cache_file
        && !opts.checksum
    {
        match HashCache::load(f) {
            // A cache whose entries were read with or without xattrs unlike this scan would give
            // files the wrong attributes: it is rebuilt.
            Ok(cache) if cache.xattrs == opts.no_xattrs => {}
            Ok(cache) => old = cache,
            Err(e) => warn_cache(progress, f, "ignoring", &e),
        }
    }
    let mut out = Walked {
        root,
        progress,
        started,
        cache_file: opts.cache_file.as_deref(),
        old,
        next: NextCache::Waiting,
        entries: StoreWriter::new(),
        last: None,
        sorted: true,
        issues: Vec::new(),
        stats: ScanStats::default(),
        no_xattrs: opts.no_xattrs,
        no_hard_links: opts.no_hard_links,
        link_groups: HashMap::new(),
    };
    let mut batch: Vec<Slot> = Vec::new();
    let mut batch_bytes = 0;
    let keep = |e: &walkdir::DirEntry| {
        let rel = e.path().strip_prefix(root).ok();
        if rel == Some(Path::new(STATE_DIR)) {
            return false;
        }
        let rel = rel.and_then(|p| RelPath::from_path(p).ok());
        !rel.is_some_and(|p| opts.excludes.excludes(&p, e.file_type().is_dir()))
    };
    let walk = walk_starts(root, within, opts).into_iter().flat_map(|(start, min, max)| {
        walkdir::WalkDir::new(start)
            .min_depth(min)
            .max_depth(max)
            .follow_links(false)
            .follow_root_links(false)
            .same_file_system(opts.one_file_system)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(keep)
    });
    for item in walk {
        let de = match item {
            Ok(de) => de,
            // A part to scan again that is gone was deleted: nothing to list.
            Err(err)
                if within.is_some()
                    && err.depth() == 0
                    && err.io_error().is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
            {
                continue;
            }
            Err(err) => {
                let at = err.path().unwrap_or(root).to_owned();
                let path = at.strip_prefix(root).ok().and_then(|p| RelPath::from_path(p).ok());
                let message = err.io_error().map(|e| e.to_string()).unwrap_or(err.to_string());
                match path {
                    Some(path) => out.issues.push(ScanIssue { path, message }),
                    None => {
                        let source = err.into();
                        return Err(ScanError::Unreadable { path: at, source });
                    }
                }
                continue;
            }
        };
        let rel = de.path().strip_prefix(root).unwrap_or(de.path());
        let path = match RelPath::from_path(rel) {
            Ok(p) => p,
            Err(e) => {
                // Only reachable for names the kernel allows but tern cannot carry; report, skip.
                progress.note(format!("tern: warning: skipping {}: {e}", rel.display()));
                continue;
            }
        };
        let md = match de.metadata() {
            Ok(md) => md,
            Err(e) => {
                let message = e.io_error().map(|e| e.to_string()).unwrap_or(e.to_string());
                out.issues.push(ScanIssue { path, message });
                continue;
            }
        };
        let ft = md.file_type();
        if ft.is_file() {
            let stamp = Stamp::of(&md);
            batch_bytes += stamp.size;
            let linked = md.nlink() > 1;
            batch.push(Slot::Todo(PendingFile { path, stamp, linked }));
        } else if ft.is_dir() {
            match with_xattrs(meta_of(&md), de.path(), opts) {
                Ok(meta) => batch.push(Slot::Ready(Entry { path, meta, kind: Kind::Dir })),
                Err(message) => out.issues.push(ScanIssue { path, message }),
            }
        } else if ft.is_symlink() {
            match std::fs::read_link(de.path()) {
                Ok(t) => {
                    use std::os::unix::ffi::OsStrExt;
                    let target = t.as_os_str().as_bytes().to_vec();
                    if target.len() > MAX_PATH_LEN {
                        let message = "symlink target is longer than 4096 bytes".to_string();
                        out.issues.push(ScanIssue { path, message });
                        continue;
                    }
                    let kind = Kind::Symlink(target);
                    match with_xattrs(meta_of(&md), de.path(), opts) {
                        Ok(meta) => batch.push(Slot::Ready(Entry { path, meta, kind })),
                        Err(message) => out.issues.push(ScanIssue { path, message }),
                    }
                }
                Err(e) => out.issues.push(ScanIssue { path, message: e.to_string() }),
            }
        } else if let Some(special) = special_of(&md) {
            let kind = Kind::Special(special);
            match with_xattrs(meta_of(&md), de.path(), opts) {
                Ok(meta) => batch.push(Slot::Ready(Entry { path, meta, kind })),
                Err(message) => out.issues.push(ScanIssue { path, message }),
            }
        } else {
            // A socket belongs to the process that listens on it, as rsync also judges.
            out.stats.skipped_sockets += 1;
            progress.note(format!("tern: note: skipping socket {}", path.display()));
        }
        if batch.len() >= BATCH_FILES || batch_bytes >= BATCH_BYTES {
            out.take(&mut batch);
            batch_bytes = 0;
        }
    }
    out.take(&mut batch);
    drop(batch);

    // Every file a hit and no file gone: the cache on disk already says all this.
    if !(out.stats.hashed_files == 0 && out.old.holds_exactly(out.stats.files)) {
        out.start_next_cache();
    }
    let Walked { next, entries, mut issues, mut stats, sorted, .. } = out;
    if let (Some(f), NextCache::Writing(w)) = (&opts.cache_file, next)
        && let Err(e) = w.finish(f)
    {
        warn_cache(progress, f, "cannot write", &e);
    }
    // The walk lists a directory's entries by name, a parent before what it holds, which is
    // path order. Checked, not trusted: a manifest out of order would be refused later.
    let mut manifest = entries.finish().map_err(ScanError::Spool)?;
    if !sorted {
        let mut m = manifest.to_manifest(0);
        m.sort();
        manifest = EntryStore::from(&m);
    }
    stats.entries = manifest.len();
    issues.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Scan { manifest, issues, stats })
}

/// `base` (a whole tree's entries) with the parts `within` replaced by `fresh` (those parts
/// scanned again by [`scan_within`]). `None` where only a whole scan can say what the tree is:
/// a hard-link group's first name is in a replaced part (the group's other names may be
/// anywhere), or the result is not a valid tree (a part's parent was not scanned again).
pub fn replace_within(
    base: &EntryStore,
    within: &Within,
    fresh: &EntryStore,
) -> Result<Option<EntryStore>, ScanError> {
    let replaced = within.cover();
    let mut out = StoreWriter::new();
    let mut fresh_entries = fresh.iter().peekable();
    for e in base.iter() {
        while let Some(f) = fresh_entries.next_if(|f| f.path < e.path) {
            out.push(&f);
        }
        if replaced.contains(&e.path) {
            if base.is_link_first(&e.path) {
                return Ok(None);
            }
            continue;
        }
        if fresh_entries.peek().is_some_and(|f| f.path == e.path) {
            continue;
        }
        out.push(&e);
    }
    for f in fresh_entries {
        out.push(&f);
    }
    let merged = out.finish().map_err(ScanError::Spool)?;
    Ok(merged.validate().is_ok().then_some(merged))
}

/// Say that the hash cache at `file` is not used as it should be (`what`: "ignoring", "cannot
/// write"): it only saves work, so the scan goes on.
fn warn_cache(progress: &Progress, file: &Path, what: &str, e: &dyn std::fmt::Display) {
    let msg = format!("tern: warning: {what} hash cache {}: {e}", file.display());
    progress.note(msg);
}

/// A walk in progress: what its batches have added up to so far.
struct Walked<'a> {
    root: &'a Path,
    progress: &'a Progress,
    started: SystemTime,
    cache_file: Option<&'a Path>,
    old: HashCache,
    next: NextCache,
    /// What the walk found so far, in its order, and the last path of it.
    entries: StoreWriter,
    last: Option<RelPath>,
    /// Whether that order is path order so far.
    sorted: bool,
    issues: Vec<ScanIssue>,
    stats: ScanStats,
    no_xattrs: bool,
    no_hard_links: bool,
    /// The first name met of every file with several, by device and inode, with its content's
    /// hash: a later name of the same file becomes a [`Kind::HardLink`] to it.
    link_groups: HashMap<(u64, u64), (RelPath, ContentHash)>,
}

/// The next hash cache. It is started only once the walk differs from the previous cache (a file
/// read, unreadable, or gone): an unchanged tree's scan writes nothing.
enum NextCache {
    /// Every file so far took the previous cache's entry, in its order.
    Waiting,
    Writing(CacheWriter),
    /// It could not be written.
    Off,
}

impl Walked<'_> {
    /// Start writing the next cache, unless it is started (or off): it begins with the files
    /// added so far, which are the previous cache's first entries, copied from it.
    fn start_next_cache(&mut self) {
        let (NextCache::Waiting, Some(f)) = (&self.next, self.cache_file) else { return };
        let started = CacheWriter::create(f, self.started, !self.no_xattrs)
            .and_then(|mut w| self.old.copy_prefix(self.stats.files, &mut w).map(|()| w));
        self.next = match started {
            Ok(w) => NextCache::Writing(w),
            Err(e) => {
                warn_cache(self.progress, f, "cannot write", &e);
                NextCache::Off
            }
        };
    }

    /// Add `e` to what the walk found.
    fn push(&mut self, e: Entry) {
        if self.last.as_ref().is_some_and(|last| *last >= e.path) {
            self.sorted = false;
        }
        self.entries.push(&e);
        self.last = Some(e.path);
    }

    /// Read the files of `batch` (from the cache where it can, else from disk, in parallel)
    /// and add everything in it to the manifest and the next cache, in order, emptying it.
    /// Make `entry` a hard link to the first name met of the same file, or record it as that
    /// first name. Only an identical content joins a group: a file rewritten between the reads of
    /// two of its names stays a file of its own.
    fn link(&mut self, entry: &mut Entry, ident: &Ident) {
        let Kind::File(digest) = &entry.kind else { return };
        match self.link_groups.entry((ident.dev, ident.ino)) {
            std::collections::hash_map::Entry::Occupied(first) => {
                let (path, hash) = first.get();
                if *hash == digest.hash {
                    entry.kind = Kind::HardLink(path.clone());
                }
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert((entry.path.clone(), digest.hash));
            }
        }
    }

    fn take(&mut self, batch: &mut Vec<Slot>) {
        let pending_size = |s: &Slot| if let Slot::Todo(p) = s { p.stamp.size } else { 0 };
        self.progress.inc_length(batch.iter().map(pending_size).sum());
        if let Err(e) = self.old.resolve(batch, self.progress)
            && let Some(f) = self.cache_file
        {
            // Ends the cache's use; the hits so far stand.
            warn_cache(self.progress, f, "ignoring the rest of", &e);
        }
        let (root, progress, xattrs) = (self.root, self.progress, !self.no_xattrs);
        batch.par_iter_mut().for_each(|slot| {
            let Slot::Todo(p) = slot else { return };
            *slot = match hash_file(&root.join(p.path.as_path()), &p.path, xattrs) {
                Ok((entry, stamp)) => {
                    progress.inc(p.stamp.size);
                    progress.file_done();
                    Slot::Done { entry, ident: stamp.ident(), hashed: true, linked: p.linked }
                }
                Err(message) => Slot::Failed(ScanIssue { path: p.path.clone(), message }),
            };
        });
        for slot in batch.drain(..) {
            if !matches!(slot, Slot::Ready(_) | Slot::Done { hashed: false, .. })
                || self.old.passed > 0
            {
                self.start_next_cache();
            }
            match slot {
                Slot::Ready(entry) => self.push(entry),
                Slot::Done { mut entry, ident, hashed, linked } => {
                    let stats = &mut self.stats;
                    stats.files += 1;
                    stats.bytes += entry.size();
                    if hashed {
                        stats.hashed_files += 1;
                        stats.hashed_bytes += entry.size();
                    } else {
                        stats.cached_files += 1;
                    }
                    if let (NextCache::Writing(w), Some(f)) = (&mut self.next, self.cache_file)
                        && let Err(e) = w.push(&entry, &ident)
                    {
                        warn_cache(self.progress, f, "cannot write", &e);
                        self.next = NextCache::Off;
                    }
                    if linked {
                        stats.linked_files += 1;
                    }
                    if linked && !self.no_hard_links {
                        self.link(&mut entry, &ident);
                    }
                    self.push(entry);
                }
                Slot::Failed(issue) => self.issues.push(issue),
                // Every file is read above; one that was not is protected, never dropped.
                Slot::Todo(p) => {
                    let issue = ScanIssue { path: p.path, message: "was not read".into() };
                    self.issues.push(issue);
                }
            }
        }
    }
}

/// `meta` with the extended attributes of the entry at `full`, unless the scan does not read them.
fn with_xattrs(mut meta: Meta, full: &Path, opts: &ScanOptions) -> Result<Meta, String> {
    if !opts.no_xattrs {
        meta.xattrs =
            read_xattrs(full).map_err(|e| format!("cannot read extended attributes: {e}"))?;
    }
    Ok(meta)
}

/// Hash one file, making sure the bytes read belong to one version of it: the file is stat'ed
/// through the open descriptor before and after reading, and read again if it changed meanwhile.
fn hash_file(full: &Path, path: &RelPath, xattrs: bool) -> Result<(Entry, Stamp), String> {
    for _ in 0..HASH_ATTEMPTS {
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(full)
            .map_err(|e| e.to_string())?;
        let before = file.metadata().map_err(|e| e.to_string())?;
        if !before.is_file() {
            return Err("was replaced by something that is not a file while scanning".into());
        }
        let digest = if crate::tree::sparse::is_sparse(&before) {
            digest_sized(crate::tree::sparse::HoleSkipping::new(&file), before.len())
        } else {
            digest_sized(&file, before.len())
        };
        let digest = digest.map_err(|e| e.to_string())?;
        let after = file.metadata().map_err(|e| e.to_string())?;
        let stamp = Stamp::of(&after);
        if Stamp::of(&before) == stamp && digest.size == stamp.size {
            let mut meta = meta_of(&after);
            if xattrs {
                meta.xattrs = read_xattrs_of(&file)
                    .map_err(|e| format!("cannot read extended attributes: {e}"))?;
            }
            let entry = Entry { path: path.clone(), meta, kind: Kind::File(digest) };
            return Ok((entry, stamp));
        }
    }
    Err(format!("kept changing while being read ({HASH_ATTEMPTS} attempts); try again later"))
}

#[derive(Debug, Clone)]
struct CachedFile {
    stamp: Stamp,
    meta: Meta,
    digest: crate::tree::chunk::FileDigest,
}

/// The previous scan of one source, as its file has it: entries sorted by path, decoded one at a
/// time alongside the files of the new walk (in the same order), so the cache of a large tree is
/// never held decoded, and a path in it is compared, never allocated.
#[derive(Default)]
struct HashCache {
    scan_start: Option<SystemTime>,
    /// Whether its entries' metadata holds their extended attributes.
    xattrs: bool,
    /// The stream the entries come from (decompressed as they are decoded); `None` once it has
    /// ended, or failed.
    entries: Option<StreamReader<Box<dyn Read>>>,
    /// The entry read last and not yet matched.
    ahead: Option<(Vec<u8>, CachedFile)>,
    /// How many entries have been read, and whether the last has (the end was reached).
    read: u64,
    ended: bool,
    /// Entries read past without a file of the walk taking them: files gone since.
    passed: u64,
    /// The cache's file, to read its first entries again ([`HashCache::copy_prefix`]).
    file: Option<File>,
}

/// A file of the walk: still to read, read, or unreadable; or a directory or link, ready.
enum Slot {
    Todo(PendingFile),
    Done { entry: Entry, ident: Ident, hashed: bool, linked: bool },
    Failed(ScanIssue),
    Ready(Entry),
}

impl HashCache {
    /// Give every file of `slots` (sorted by path, as the walk lists them, and after those of
    /// the batches before) whose stamp matches its cached one that entry's digest. Stops using
    /// the cache, keeping the hits so far, at an entry that does not decode. A path out of order
    /// could only miss, never take another file's digest.
    fn resolve(&mut self, slots: &mut [Slot], progress: &Progress) -> Result<(), DecodeError> {
        let Some(start) = self.scan_start else {
            return Ok(());
        };
        for slot in slots {
            let Slot::Todo(p) = slot else { continue };
            // Cached entries before this path are of files gone since.
            while self
                .ahead
                .as_ref()
                .is_none_or(|(path, _)| cmp_bytes(path, p.path.as_bytes()).is_lt())
            {
                match self.next_entry() {
                    Ok(Some(entry)) => {
                        if self.ahead.replace(entry).is_some() {
                            self.passed += 1;
                        }
                    }
                    Ok(None) => {
                        self.ahead = None;
                        return Ok(());
                    }
                    Err(e) => {
                        self.ahead = None;
                        return Err(e);
                    }
                }
            }
            let Some((_, hit)) = self.ahead.take_if(|(path, _)| *path == p.path.as_bytes()) else {
                continue;
            };
            // Changed within the clock tick of the scan that cached it: not trusted. (Checked:
            // a cache file can claim any time.)
            let settled = || {
                let ctime = SystemTime::UNIX_EPOCH.checked_add(Duration::new(
                    hit.stamp.ctime.secs.max(0) as u64,
                    hit.stamp.ctime.nanos,
                ));
                ctime.and_then(|c| c.checked_add(RACY_MARGIN)).is_some_and(|c| c < start)
            };
            if hit.stamp == p.stamp && settled() {
                progress.inc(p.stamp.size);
                progress.file_done();
                let entry =
                    Entry { path: p.path.clone(), meta: hit.meta, kind: Kind::File(hit.digest) };
                *slot =
                    Slot::Done { entry, ident: hit.stamp.ident(), hashed: false, linked: p.linked };
            }
        }
        Ok(())
    }

    /// Whether the cache holds exactly `files` entries, reading what is left of it to know.
    fn holds_exactly(&mut self, files: u64) -> bool {
        self.ahead.is_none()
            && matches!(self.next_entry(), Ok(None))
            && self.ended
            && self.read == files
    }

    /// The cache's next entry, counted in `read`; `None` at its end (then `ended`), and from
    /// then on, as after an error, which is returned once.
    fn next_entry(&mut self) -> Result<Option<(Vec<u8>, CachedFile)>, DecodeError> {
        let Some(stream) = &mut self.entries else {
            return Ok(None);
        };
        match stream.decode(decode_cached) {
            Ok(Some(entry)) => {
                self.read += 1;
                Ok(Some(entry))
            }
            Ok(None) => {
                (self.entries, self.ended) = (None, true);
                Ok(None)
            }
            Err(e) => {
                self.entries = None;
                Err(e)
            }
        }
    }

    fn load(file: &Path) -> Result<Self, String> {
        let Some(f) = open_if_exists(file).map_err(|e| e.to_string())? else {
            return Ok(Self::default());
        };
        let again = f.try_clone().map_err(|e| e.to_string())?;
        // This reader moves the descriptor's offset; `copy_prefix` reads the clone with `pread`,
        // which does not.
        let cache = Self::decode(std::io::BufReader::new(f));
        Ok(HashCache { file: Some(again), ..cache.map_err(|e| e.to_string())? })
    }

    /// Add this cache's first `n` entries to `next`, reading them again from the start of the
    /// file (the one opened: another scan may have replaced the name since).
    fn copy_prefix(&self, n: u64, next: &mut CacheWriter) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        let lost = |what: &str| std::io::Error::other(format!("the previous cache {what}"));
        let file = self.file.as_ref().ok_or_else(|| lost("is gone"))?.try_clone()?;
        let again = Self::decode(std::io::BufReader::new(ReadAt { file, pos: 0 }))
            .map_err(|e| lost(&e.to_string()))?;
        let mut stream = again.entries.ok_or_else(|| lost("changed"))?;
        for _ in 0..n {
            let (path, c) = stream
                .decode(decode_cached)
                .map_err(|e| lost(&e.to_string()))?
                .ok_or_else(|| lost("ended early"))?;
            next.push_parts(&path, &c.meta, &c.stamp.ident(), &c.digest)?;
        }
        Ok(())
    }

    /// Read the header of a cache; its entries are decoded as [`HashCache::resolve`] needs them.
    fn decode(mut data: impl Read + 'static) -> Result<Self, DecodeError> {
        let mut head = [0u8; 10];
        let io = |e: std::io::Error| DecodeError::invalid("hash cache", e.to_string());
        let got = read_up_to(&mut data, &mut head).map_err(io)?;
        // A cache written by another tern version is just rebuilt.
        if got == head.len()
            && head[..8] == CACHE_MAGIC[..]
            && head[8..10] != CACHE_VERSION.to_le_bytes()
        {
            return Ok(Self::default());
        }
        check_container(&head[..got], CACHE_MAGIC, CACHE_VERSION..=CACHE_VERSION, "hash cache")?;
        let body: Box<dyn Read> = Box::new(zstd::stream::read::Decoder::new(data).map_err(io)?);
        let mut stream = StreamReader::new(body);
        let (secs, nanos, xattrs) = stream.decode(|r| {
            let secs = r.varint("scan start")?;
            let nanos = r.varint_max("scan start", 999_999_999)? as u32;
            Ok((secs, nanos, r.u8("xattrs read")? != 0))
        })?;
        let scan_start = SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos));
        Ok(HashCache { scan_start, xattrs, entries: Some(stream), ..Self::default() })
    }
}

/// The next hash cache, written as the walk goes: encoded, compressed and written to an unnamed
/// file beside the cache, which takes the cache's place at the end. A scan that stops midway
/// leaves nothing behind.
struct CacheWriter {
    z: zstd::stream::write::Encoder<'static, std::io::BufWriter<File>>,
    w: Writer,
}

impl CacheWriter {
    /// Start the cache of a scan started at `start`, to be stored at `file`, whose entries hold
    /// their extended attributes if `xattrs`.
    fn create(file: &Path, start: SystemTime, xattrs: bool) -> std::io::Result<Self> {
        let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let out = std::io::BufWriter::new(tempfile::tempfile_in(dir)?);
        let z =
            open_container_writer(out, CACHE_MAGIC, CACHE_VERSION, crate::tree::manifest::LEVEL)?;
        let mut w = Writer::new();
        let since = start.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        w.varint(since.as_secs());
        w.varint(u64::from(since.subsec_nanos()));
        w.u8(u8::from(xattrs));
        Ok(CacheWriter { z, w })
    }

    /// Add a file, after those added before it in path order.
    fn push(&mut self, e: &Entry, ident: &Ident) -> std::io::Result<()> {
        match e.digest() {
            Some(digest) => self.push_parts(e.path.as_bytes(), &e.meta, ident, digest),
            None => Ok(()),
        }
    }

    fn push_parts(
        &mut self,
        path: &[u8],
        meta: &Meta,
        ident: &Ident,
        digest: &crate::tree::chunk::FileDigest,
    ) -> std::io::Result<()> {
        let w = &mut self.w;
        w.bytes(path);
        encode_meta(w, meta);
        w.zigzag(ident.ctime.secs);
        w.varint(u64::from(ident.ctime.nanos));
        w.varint(ident.ino);
        w.varint(ident.dev);
        encode_digest(w, digest);
        if w.buf.len() >= 64 * 1024 {
            self.z.write_all(&w.buf)?;
            w.buf.clear();
        }
        Ok(())
    }

    /// End the cache (an empty path marks the end) and put it in place at `file`.
    fn finish(mut self, file: &Path) -> std::io::Result<()> {
        self.w.bytes(b"");
        self.z.write_all(&self.w.buf)?;
        let mut f = self.z.finish()?.into_inner().map_err(|e| e.into_error())?;
        put_in_place(&mut f, file)
    }
}

/// Reads a file from its own position (`pread`), whatever else reads the same descriptor.
struct ReadAt {
    file: File,
    pos: u64,
}

impl Read for ReadAt {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Make the content of `f`, an unnamed file made in `path`'s directory, the file at `path`: by
/// giving it that name where the file system allows it, else by copying it to a new file there.
fn put_in_place(f: &mut File, path: &Path) -> std::io::Result<()> {
    // A file system without `O_TMPFILE` (NFS) gives a file whose name is already gone, and one
    // without `/proc` cannot name it: either way, the content is copied.
    if link_unnamed(f, path).is_ok() {
        return Ok(());
    }
    use std::io::Seek;
    f.rewind()?;
    crate::tree::manifest::write_replacing_with(path, false, |out| {
        std::io::copy(f, out).map(|_| ())
    })
}

/// Give `f`, an unnamed file made in `path`'s directory, the name `path`, replacing what is
/// there (through a temporary name, as a rename is the one way to replace a name).
fn link_unnamed(f: &File, path: &Path) -> std::io::Result<()> {
    use rustix::fs::{AtFlags, CWD, linkat};
    use std::os::unix::io::AsRawFd;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let tmp = dir.join(format!(".tmp-{name}-{}-{}", std::process::id(), nanos.as_nanos()));
    let fd = format!("/proc/self/fd/{}", f.as_raw_fd());
    linkat(CWD, fd.as_str(), CWD, &tmp, AtFlags::SYMLINK_FOLLOW)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// One entry of a cache body: its path, and what the scan that wrote it found there; `None` at
/// the end (an empty path).
fn decode_cached(r: &mut Reader<'_>) -> Result<Option<(Vec<u8>, CachedFile)>, DecodeError> {
    let path = r.bytes("path", MAX_PATH_LEN)?.to_vec();
    if path.is_empty() {
        return Ok(None);
    }
    let meta = decode_meta(r)?;
    let secs = r.zigzag("ctime")?;
    let ctime = Mtime { secs, nanos: r.varint_max("ctime", 999_999_999)? as u32 };
    let ino = r.varint("inode")?;
    let dev = r.varint("device")?;
    let digest = decode_digest(r)?;
    let stamp = Stamp { size: digest.size, mtime: meta.mtime, ctime, ino, dev };
    Ok(Some((path, CachedFile { stamp, meta, digest })))
}

/// tern's cache directory: `$TERN_CACHE_DIR`, else `tern` in the user's cache directory.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("TERN_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("tern")))
}

/// The default cache file for a source, in [`cache_dir`], keyed by the source's canonical path.
pub fn default_cache_file(source: &Path) -> Option<PathBuf> {
    let base = cache_dir()?;
    let canon = std::fs::canonicalize(source).ok()?;
    use std::os::unix::ffi::OsStrExt;
    let key = crate::tree::hash::ContentHash::of(canon.as_os_str().as_bytes()).to_hex();
    Some(base.join(format!("scan-{}", &key[..32])))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source holding one file `f`, and scan options keeping a hash cache beside it.
    fn one_file_source() -> (tempfile::TempDir, PathBuf, ScanOptions) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("f"), b"data").unwrap();
        let opts = ScanOptions { cache_file: Some(dir.path().join("cache")), ..Default::default() };
        (dir, root, opts)
    }

    /// The walk is read in batches (of three files, in these tests): what one batch leaves off,
    /// the next takes up, in the manifest and in the cache. An unchanged tree leaves the cache
    /// file as it was; a changed one replaces it; neither leaves another file beside it.
    #[test]
    fn batches_add_up_to_one_manifest_and_one_cache() {
        assert_eq!(BATCH_FILES, 3);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        let cache_dir = dir.path().join("cache");
        for i in 0..20 {
            let p = root.join(format!("d{}/f{i:02}", i % 3));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, format!("file {i}")).unwrap();
        }
        std::os::unix::fs::symlink("d0/f00", root.join("link")).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        let opts = ScanOptions { cache_file: Some(cache_dir.join("c")), ..Default::default() };
        let scan_now = || scan(&root, &opts, &Progress::hidden()).unwrap();
        let listing = || {
            let mut names: Vec<_> = std::fs::read_dir(&cache_dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let inode = || std::fs::metadata(cache_dir.join("c")).unwrap().ino();

        let first = scan_now();
        first.manifest.validate().unwrap();
        assert_eq!(first.manifest.len() as usize, 3 + 20 + 1);
        assert_eq!((first.stats.files, first.stats.hashed_files), (20, 20));
        assert_eq!(listing(), ["c"]);
        let written = inode();

        let again = scan_now();
        assert_eq!((again.stats.hashed_files, again.stats.cached_files), (0, 20));
        assert_eq!(again.manifest, first.manifest);
        assert_eq!((listing(), inode()), (vec!["c".to_string()], written));

        // One file gone from the middle: nothing to read, but the cache is rewritten without it.
        std::fs::remove_file(root.join("d1/f10")).unwrap();
        let fewer = scan_now();
        assert_eq!((fewer.stats.hashed_files, fewer.stats.cached_files), (0, 19));
        assert_ne!(inode(), written);
        assert_eq!(listing(), ["c"]);
        let hits = scan_now();
        assert_eq!((hits.stats.hashed_files, hits.stats.cached_files), (0, 19));
        let fresh = ScanOptions { checksum: true, ..Default::default() };
        let fresh = || scan(&root, &fresh, &Progress::hidden()).unwrap().manifest;
        assert_eq!(hits.manifest, fresh());

        // One file changed near the end: the cache is started there, the files before it
        // copied from the previous one, so the next scan reads nothing.
        std::fs::write(root.join("d2/f17"), b"changed, and longer").unwrap();
        let before = inode();
        let changed = scan_now();
        assert_eq!((changed.stats.hashed_files, changed.stats.cached_files), (1, 18));
        assert_ne!(inode(), before);
        std::thread::sleep(Duration::from_millis(60));
        scan_now();
        let settled = scan_now();
        assert_eq!((settled.stats.hashed_files, settled.stats.cached_files), (0, 19));
        assert_eq!(settled.manifest, fresh());
        assert_eq!(listing(), ["c"]);
    }

    fn rel(p: &str) -> RelPath {
        RelPath::new(p).unwrap()
    }

    /// The parts the kernel named, scanned again and put in place of the old ones, make the same
    /// manifest as a whole scan: created, modified, deleted and renamed entries, a new directory
    /// with files, an excluded part, and a part whose parent is gone (a whole scan is asked for).
    #[test]
    fn parts_scanned_again_in_place_of_the_old_ones_make_the_whole_scan() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let put = |p: &str, data: &str| {
            let at = root.join(p);
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, data).unwrap();
        };
        put("a/keep", "k");
        put("a/old", "o");
        put("b/x", "x");
        put("b/y/z", "z");
        put("c", "c1");
        let opts = ScanOptions {
            excludes: Excludes::new(&["*.tmp".to_string()]).unwrap(),
            ..Default::default()
        };
        let hidden = Progress::hidden();
        let base = scan(root, &opts, &hidden).unwrap().manifest;
        put("a/new/deep/f", "new");
        std::fs::rename(root.join("a/old"), root.join("a/renamed")).unwrap();
        std::fs::remove_dir_all(root.join("b/y")).unwrap();
        put("c", "c2, longer");
        put("a/skip.tmp", "excluded");
        let within = Within {
            deep: ["a/new", "a/old", "a/renamed", "b/y", "c", "a/skip.tmp"].map(rel).to_vec(),
            shallow: vec![rel("a"), rel("b")],
        };
        let fresh = scan_within(root, &within, &opts, &hidden).unwrap();
        assert!(fresh.issues.is_empty(), "{:?}", fresh.issues);
        let names: Vec<String> =
            fresh.manifest.iter().map(|e| e.path.display().to_string()).collect();
        assert_eq!(names, ["a", "a/new", "a/new/deep", "a/new/deep/f", "a/renamed", "b", "c"]);
        let merged = replace_within(&base, &within, &fresh.manifest).unwrap().unwrap();
        let whole = scan(root, &opts, &hidden).unwrap().manifest;
        assert_eq!(merged.to_manifest(0).entries, whole.to_manifest(0).entries);

        // A part whose new parent was not scanned again: not a tree, so a whole scan decides.
        put("d/e", "e");
        let orphan = Within { deep: vec![rel("d/e")], shallow: vec![] };
        let fresh = scan_within(root, &orphan, &opts, &hidden).unwrap();
        assert!(replace_within(&merged, &orphan, &fresh.manifest).unwrap().is_none());
    }

    /// Removing the first name of a hard-link group cannot be judged from the parts alone.
    #[test]
    fn a_replaced_first_name_of_a_hard_link_group_asks_for_a_whole_scan() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a"), "same").unwrap();
        std::fs::hard_link(root.join("a"), root.join("b")).unwrap();
        let hidden = Progress::hidden();
        let base = scan(root, &ScanOptions::default(), &hidden).unwrap().manifest;
        assert!(base.is_link_first(&rel("a")));
        std::fs::remove_file(root.join("a")).unwrap();
        let within = Within { deep: vec![rel("a")], shallow: vec![] };
        let fresh = scan_within(root, &within, &ScanOptions::default(), &hidden).unwrap();
        assert!(fresh.manifest.is_empty());
        assert!(replace_within(&base, &within, &fresh.manifest).unwrap().is_none());
        // A part holding a file of several names says so, for the caller to scan whole.
        let within = Within { deep: vec![rel("b")], shallow: vec![] };
        let fresh = scan_within(root, &within, &ScanOptions::default(), &hidden).unwrap();
        assert_eq!(fresh.stats.linked_files, 0, "b has one name now");
        std::fs::hard_link(root.join("b"), root.join("c")).unwrap();
        let fresh = scan_within(root, &within, &ScanOptions::default(), &hidden).unwrap();
        assert_eq!(fresh.stats.linked_files, 1);
    }

    #[test]
    fn scan_lists_tree_and_skips_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join(".tern/staging")).unwrap();
        std::fs::create_dir_all(root.join("a/.tern")).unwrap();
        std::fs::write(root.join("a/b/f"), b"data").unwrap();
        std::os::unix::fs::symlink("b/f", root.join("a/link")).unwrap();
        let s = scan(root, &ScanOptions::default(), &Progress::hidden()).unwrap();
        let names: Vec<String> = s.manifest.iter().map(|e| e.path.display().to_string()).collect();
        assert_eq!(names, ["a", "a/.tern", "a/b", "a/b/f", "a/link"]);
        assert!(matches!(&s.manifest.get_index(4).unwrap().kind, Kind::Symlink(t) if t == b"b/f"));
        assert_eq!(s.stats.hashed_files, 1);
        s.manifest.validate().unwrap();
    }

    #[test]
    fn cache_round_trip_and_racy_entries() {
        let (_dir, root, opts) = one_file_source();
        let first = scan(&root, &opts, &Progress::hidden()).unwrap();
        assert_eq!(first.stats.hashed_files, 1);
        // the file was written right before the scan: racy, so hashed again
        let second = scan(&root, &opts, &Progress::hidden()).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        let third = scan(&root, &opts, &Progress::hidden()).unwrap();
        let fourth = scan(&root, &opts, &Progress::hidden()).unwrap();
        assert_eq!(second.manifest, first.manifest);
        assert_eq!(third.manifest, first.manifest);
        assert_eq!((fourth.stats.hashed_files, fourth.stats.cached_files), (0, 1));
        let forced = scan(&root, &ScanOptions { checksum: true, ..opts }, &Progress::hidden());
        assert_eq!(forced.unwrap().stats.hashed_files, 1);
    }

    /// The cache is read side by side with the walk, so both must be in manifest order: names
    /// whose byte order is not their path order ("a b" sorts after "a/x") must still hit.
    #[test]
    fn cache_is_read_alongside_the_walk_in_manifest_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        let names =
            ["a b", "a-b", "a.b", "a/x/y", "a/z", "a0", "b", "c/d/e/f", "\u{e9}", "a/x/y2", "a/x."];
        for n in names {
            let p = root.join(n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, n.as_bytes()).unwrap();
        }
        // Older than the cache's racy margin when the first scan starts.
        std::thread::sleep(Duration::from_millis(60));
        let opts = ScanOptions { cache_file: Some(dir.path().join("cache")), ..Default::default() };
        let scan_now = || scan(&root, &opts, &Progress::hidden()).unwrap();
        let fresh = || {
            let opts = ScanOptions { checksum: true, ..Default::default() };
            scan(&root, &opts, &Progress::hidden()).unwrap().manifest
        };
        let first = scan_now();
        assert_eq!(first.stats.hashed_files, names.len() as u64);
        let again = scan_now();
        assert_eq!((again.stats.hashed_files, again.stats.cached_files), (0, names.len() as u64));
        assert_eq!(again.manifest, first.manifest);

        // One changed, one gone, one new: only the changed and the new one are read.
        std::fs::write(root.join("a-b"), b"changed, and longer").unwrap();
        std::fs::remove_file(root.join("a/z")).unwrap();
        std::fs::write(root.join("a/w"), b"new").unwrap();
        let second = scan_now();
        let kept = names.len() as u64 - 2;
        assert_eq!((second.stats.hashed_files, second.stats.cached_files), (2, kept));
        assert_eq!(second.manifest, fresh());

        // A cache cut short inside an entry: the entries before the cut still hit, the rest
        // are read again, and the manifest is the same.
        std::thread::sleep(Duration::from_millis(60));
        let third = scan_now();
        let file = dir.path().join("cache");
        let sealed = std::fs::read(&file).unwrap();
        let body = crate::tree::manifest::open_container(
            &sealed,
            CACHE_MAGIC,
            CACHE_VERSION,
            "hash cache",
        )
        .unwrap();
        let cut = &body[..body.len() - 20];
        std::fs::write(
            &file,
            crate::tree::manifest::seal_container(cut, CACHE_MAGIC, CACHE_VERSION),
        )
        .unwrap();
        let torn = scan_now();
        assert!(torn.stats.cached_files > 0 && torn.stats.hashed_files > 0, "{:?}", torn.stats);
        assert_eq!(torn.stats.cached_files + torn.stats.hashed_files, third.stats.files);
        assert_eq!(torn.manifest, third.manifest);
        assert_eq!(torn.manifest, fresh());
    }

    /// A cache can claim any change time: one at the end of time is not trusted (the file is
    /// read again).
    #[test]
    fn a_cache_from_the_end_of_time_is_not_trusted() {
        let (_dir, root, opts) = one_file_source();
        std::thread::sleep(Duration::from_millis(60));
        let file = opts.cache_file.clone().unwrap();
        let first = scan(&root, &opts, &Progress::hidden()).unwrap();
        let md = std::fs::symlink_metadata(root.join("f")).unwrap();
        let far = Mtime { secs: i64::MAX, nanos: 999_999_999 };
        let stamp = Stamp { ctime: far, ..Stamp::of(&md) };
        let e = first.manifest.get_index(0).unwrap();
        let mut w = CacheWriter::create(&file, SystemTime::now(), true).unwrap();
        w.push(&e, &stamp.ident()).unwrap();
        w.finish(&file).unwrap();
        let again = scan(&root, &opts, &Progress::hidden()).unwrap();
        assert_eq!(again.stats.hashed_files, 1);
        assert_eq!(again.manifest, first.manifest);
    }

    /// Put a file with `data` at `rel` below `root`, whatever is there or above it now.
    fn put_file(root: &Path, rel: &str, data: &[u8]) {
        let full = root.join(rel);
        let mut at = root.to_path_buf();
        for part in Path::new(rel).parent().into_iter().flat_map(|p| p.components()) {
            at.push(part);
            if at.is_file() {
                std::fs::remove_file(&at).unwrap();
            }
        }
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        if full.is_dir() {
            std::fs::remove_dir_all(&full).unwrap();
        }
        std::fs::write(&full, data).unwrap();
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 32, ..Default::default() })]

        /// Whatever happens to a tree between scans (files written, rewritten, removed, turned
        /// into directories and back), a scan with the cache lists exactly what a scan without
        /// it does, over batches of three; and once the tree has settled, the cache holds every
        /// file, so a scan reads nothing, and the cache is one file.
        #[test]
        fn cached_scans_agree_with_fresh_ones(
            rounds in proptest::collection::vec(
                proptest::collection::vec((0u8..3, 0usize..10, proptest::prelude::any::<u8>()), 1..8),
                1..4,
            )
        ) {
            const PATHS: [&str; 10] =
                ["a", "b/c", "b/d", "b/e/f", "b/e/g", "b.x", "h", "h/i", "j/k/l", "j/m"];
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("src");
            std::fs::create_dir(&root).unwrap();
            let cache_dir = dir.path().join("cache");
            let opts = ScanOptions { cache_file: Some(cache_dir.join("c")), ..Default::default() };
            let fresh = ScanOptions { checksum: true, ..Default::default() };
            let bar = Progress::hidden();
            for ops in rounds {
                for (op, i, byte) in ops {
                    let full = root.join(PATHS[i]);
                    match op {
                        0 => put_file(&root, PATHS[i], &vec![byte; usize::from(byte) * 7]),
                        1 if full.is_dir() => std::fs::remove_dir_all(&full).unwrap(),
                        1 => {
                            let _ = std::fs::remove_file(&full);
                        }
                        _ => {
                            put_file(&root, PATHS[i], b"");
                            std::fs::remove_file(&full).unwrap();
                            std::fs::create_dir(&full).unwrap();
                        }
                    }
                }
                let cached = scan(&root, &opts, &bar).unwrap();
                proptest::prop_assert_eq!(&cached.manifest, &scan(&root, &fresh, &bar).unwrap().manifest);
                // Past the racy margin of the files just written, then once more to cache them.
                std::thread::sleep(Duration::from_millis(30));
                scan(&root, &opts, &bar).unwrap();
                let settled = scan(&root, &opts, &bar).unwrap();
                proptest::prop_assert_eq!(settled.stats.hashed_files, 0);
                proptest::prop_assert_eq!(settled.stats.cached_files, cached.stats.files);
                proptest::prop_assert_eq!(&settled.manifest, &cached.manifest);
                let names: Vec<_> = std::fs::read_dir(&cache_dir).unwrap().collect();
                proptest::prop_assert_eq!(names.len(), 1);
                // Nothing changed since: the cache is left as it is.
                let inode = || std::fs::metadata(cache_dir.join("c")).unwrap().ino();
                let before = inode();
                scan(&root, &opts, &bar).unwrap();
                proptest::prop_assert_eq!(inode(), before);
            }
        }
    }

    /// Where the unnamed file cannot be named (its name is already gone, as on a file system
    /// without `O_TMPFILE`), its content is copied into place instead.
    #[test]
    fn a_cache_that_cannot_be_linked_into_place_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("c");
        std::fs::write(&target, b"old").unwrap();
        let named = dir.path().join("gone");
        std::fs::write(&named, b"the new cache").unwrap();
        let mut f = File::options().read(true).write(true).open(&named).unwrap();
        std::fs::remove_file(&named).unwrap();
        assert!(link_unnamed(&f, &target).is_err());
        std::io::Seek::seek(&mut f, std::io::SeekFrom::End(0)).unwrap();
        put_in_place(&mut f, &target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"the new cache");
        let mut names: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["c"]);

        // An unnamed file is linked.
        let mut f = tempfile::tempfile_in(dir.path()).unwrap();
        f.write_all(b"linked").unwrap();
        put_in_place(&mut f, &target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"linked");
    }

    #[test]
    fn corrupt_cache_is_an_error_not_a_panic() {
        let decode = |b: &'static [u8]| HashCache::decode(b);
        assert!(decode(b"TERNCACH\x05\x00garbage").is_err());
        // A cache of another version is rebuilt, not an error.
        assert!(decode(b"TERNCACH\x04\x00garbage").unwrap().entries.is_none());
        assert!(decode(b"").is_err());
        assert!(decode(b"TERNCAC").is_err());
        assert!(decode(b"NOTACACHE\x00").is_err());
    }
}
