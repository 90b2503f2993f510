//! Walking the source tree into a [`Manifest`], with a hash cache so unchanged files are not read.
//!
//! The walk never follows symlinks and skips a top-level `.tern` (a destination's state). Files are
//! hashed in parallel on all cores. A file whose size, mtime, ctime, inode and device match the
//! previous scan reuses that scan's digest, so a re-run on an unchanged tree reads no file contents.
//! Entries the walk cannot read are reported as [`ScanIssue`]s; the planner then protects their
//! destination copies instead of deleting them.

use crate::chunk::digest_sized;
use crate::codec::{DecodeError, Reader, Writer};
use crate::filter::Excludes;
use crate::manifest::{
    Entry, Kind, Manifest, Meta, Mtime, decode_digest, decode_meta, encode_digest, encode_meta,
    open_container, seal_into, write_replacing_with,
};
use crate::path::{MAX_PATH_LEN, RelPath};
use indicatif::ProgressBar;
use rayon::prelude::*;
use std::fs::{File, Metadata};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The destination state directory's name; never replicated from a source's top level.
pub const STATE_DIR: &str = ".tern";
const CACHE_MAGIC: &[u8; 8] = b"TERNCACH";
/// 3: file hashes are hashes of chunk lists ([`crate::hash`]).
const CACHE_VERSION: u16 = 3;
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
    /// Sockets, FIFOs and devices, which tern does not replicate.
    pub skipped_special: u64,
}

/// The result of a scan.
#[derive(Debug, Clone)]
pub struct Scan {
    pub manifest: Manifest,
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

impl Stamp {
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

pub(crate) fn mtime_of(md: &Metadata) -> Mtime {
    Mtime { secs: md.mtime(), nanos: md.mtime_nsec() as u32 }
}

pub(crate) fn meta_of(md: &Metadata) -> Meta {
    Meta { mode: md.mode() & 0o7777, mtime: mtime_of(md), uid: md.uid(), gid: md.gid() }
}

struct PendingFile {
    path: RelPath,
    stamp: Stamp,
}

/// Walk `root` and build its manifest.
pub fn scan(root: &Path, opts: &ScanOptions, progress: &ProgressBar) -> Result<Scan, ScanError> {
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

    let mut stats = ScanStats::default();
    let mut issues = Vec::new();
    let mut entries = Vec::new();
    let mut pending = Vec::new();
    let walk = walkdir::WalkDir::new(root).min_depth(1).follow_links(false).into_iter();
    let walk = walk.filter_entry(|e| {
        if e.depth() == 1 && e.file_name() == STATE_DIR {
            return false;
        }
        let rel = e.path().strip_prefix(root).ok().and_then(|p| RelPath::from_path(p).ok());
        !rel.is_some_and(|p| opts.excludes.excludes(&p, e.file_type().is_dir()))
    });
    for item in walk {
        let de = match item {
            Ok(de) => de,
            Err(err) => {
                let at = err.path().unwrap_or(root).to_owned();
                let path = at.strip_prefix(root).ok().and_then(|p| RelPath::from_path(p).ok());
                let message = err.io_error().map(|e| e.to_string()).unwrap_or(err.to_string());
                match path {
                    Some(path) => issues.push(ScanIssue { path, message }),
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
                crate::report::say(
                    progress,
                    format!("tern: warning: skipping {}: {e}", rel.display()),
                );
                continue;
            }
        };
        let md = match de.metadata() {
            Ok(md) => md,
            Err(e) => {
                let message = e.io_error().map(|e| e.to_string()).unwrap_or(e.to_string());
                issues.push(ScanIssue { path, message });
                continue;
            }
        };
        let ft = md.file_type();
        if ft.is_file() {
            pending.push(PendingFile { path, stamp: Stamp::of(&md) });
        } else if ft.is_dir() {
            entries.push(Entry { path, meta: meta_of(&md), kind: Kind::Dir });
        } else if ft.is_symlink() {
            match std::fs::read_link(de.path()) {
                Ok(t) => {
                    use std::os::unix::ffi::OsStrExt;
                    let target = t.as_os_str().as_bytes().to_vec();
                    if target.len() > MAX_PATH_LEN {
                        let message = "symlink target is longer than 4096 bytes".to_string();
                        issues.push(ScanIssue { path, message });
                        continue;
                    }
                    entries.push(Entry { path, meta: meta_of(&md), kind: Kind::Symlink(target) });
                }
                Err(e) => issues.push(ScanIssue { path, message: e.to_string() }),
            }
        } else {
            stats.skipped_special += 1;
            crate::report::say(
                progress,
                format!(
                    "tern: warning: skipping {}: not a file, directory or symlink",
                    path.display()
                ),
            );
        }
    }

    let cache = match &opts.cache_file {
        Some(f) if !opts.checksum => HashCache::load(f).unwrap_or_else(|e| {
            crate::report::say(
                progress,
                format!("tern: warning: ignoring hash cache {}: {e}", f.display()),
            );
            HashCache::default()
        }),
        _ => HashCache::default(),
    };

    let total: u64 = pending.iter().map(|p| p.stamp.size).sum();
    progress.set_length(total);
    let results: Vec<Result<(Entry, Stamp, bool), ScanIssue>> = pending
        .into_par_iter()
        .map(|p| {
            if let Some(hit) = cache.lookup(&p.path, &p.stamp) {
                progress.inc(p.stamp.size);
                let entry =
                    Entry { path: p.path, meta: hit.meta, kind: Kind::File(hit.digest.clone()) };
                return Ok((entry, p.stamp, false));
            }
            let (entry, stamp) = hash_file(&root.join(p.path.as_path()), &p.path)
                .map_err(|message| ScanIssue { path: p.path, message })?;
            progress.inc(p.stamp.size);
            Ok((entry, stamp, true))
        })
        .collect();

    let old_cache_len = cache.entries.len();
    drop(cache);
    // Files with their stamps, for the next scan's cache; directories and links without. The
    // files are collected in the results' own buffer (the layouts allow it), then the others
    // join them: no second list of every file.
    let mut stamped: Vec<(Entry, Option<Stamp>)> = results
        .into_iter()
        .filter_map(|r| match r {
            Ok((entry, stamp, hashed)) => {
                stats.files += 1;
                stats.bytes += entry.size();
                if hashed {
                    stats.hashed_files += 1;
                    stats.hashed_bytes += entry.size();
                } else {
                    stats.cached_files += 1;
                }
                Some((entry, Some(stamp)))
            }
            Err(issue) => {
                issues.push(issue);
                None
            }
        })
        .collect();
    stamped.reserve_exact(entries.len());
    stamped.extend(entries.into_iter().map(|e| (e, None)));
    // Paths are unique, so an unstable sort gives the one order, without a scratch copy.
    stamped.sort_unstable_by(|a, b| a.0.path.cmp(&b.0.path));
    // Every file a hit and no file gone: the cache on disk already says all this.
    let unchanged = stats.hashed_files == 0 && stats.files as usize == old_cache_len;
    if let Some(f) = &opts.cache_file
        && !unchanged
        && let Err(e) = HashCache::store(f, started, &stamped)
    {
        crate::report::say(
            progress,
            format!("tern: warning: cannot write hash cache {}: {e}", f.display()),
        );
    }
    // Collected in place, the entries would keep the larger buffer of `stamped` for the rest of
    // the run; they live as long as the sync, so they get a buffer of their own size.
    let mut entries = Vec::with_capacity(stamped.len());
    entries.extend(stamped.into_iter().map(|(e, _)| e));
    let manifest = Manifest { generation: 0, entries };
    stats.entries = manifest.entries.len() as u64;
    issues.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Scan { manifest, issues, stats })
}

/// Hash one file, making sure the bytes read belong to one version of it: the file is stat'ed
/// through the open descriptor before and after reading, and read again if it changed meanwhile.
fn hash_file(full: &Path, path: &RelPath) -> Result<(Entry, Stamp), String> {
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
        let digest = digest_sized(&file, before.len()).map_err(|e| e.to_string())?;
        let after = file.metadata().map_err(|e| e.to_string())?;
        let stamp = Stamp::of(&after);
        if Stamp::of(&before) == stamp && digest.size == stamp.size {
            let entry =
                Entry { path: path.clone(), meta: meta_of(&after), kind: Kind::File(digest) };
            return Ok((entry, stamp));
        }
    }
    Err(format!("kept changing while being read ({HASH_ATTEMPTS} attempts); try again later"))
}

#[derive(Debug, Clone)]
struct CachedFile {
    stamp: Stamp,
    meta: Meta,
    digest: crate::chunk::FileDigest,
}

/// Digests of the previous scan of one source, sorted by path (a sorted Vec costs far less memory
/// than a map, and the file is written in that order).
#[derive(Default)]
struct HashCache {
    scan_start: Option<SystemTime>,
    entries: Vec<(RelPath, CachedFile)>,
}

impl HashCache {
    fn lookup(&self, path: &RelPath, stamp: &Stamp) -> Option<&CachedFile> {
        let start = self.scan_start?;
        let i = self.entries.binary_search_by(|(p, _)| p.cmp(path)).ok()?;
        let hit = Some(&self.entries[i].1).filter(|c| c.stamp == *stamp)?;
        let ctime = SystemTime::UNIX_EPOCH.checked_add(Duration::new(
            hit.stamp.ctime.secs.max(0) as u64,
            hit.stamp.ctime.nanos,
        ))?;
        (ctime + RACY_MARGIN < start).then_some(hit)
    }

    fn load(file: &Path) -> Result<Self, String> {
        let data = match std::fs::read(file) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e.to_string()),
        };
        // A cache written by another tern version is just rebuilt.
        if data.len() >= 10
            && data[..8] == CACHE_MAGIC[..]
            && data[8..10] != CACHE_VERSION.to_le_bytes()
        {
            return Ok(Self::default());
        }
        Self::decode(&data).map_err(|e| e.to_string())
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let body = open_container(data, CACHE_MAGIC, CACHE_VERSION, "hash cache")?;
        let mut r = Reader::new(&body);
        let secs = r.varint("scan start")?;
        let nanos = r.varint_max("scan start", 999_999_999)? as u32;
        let scan_start = SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos));
        let n = r.varint("cache entries")?;
        let mut entries = Vec::with_capacity(n.min(r.remaining() as u64 / 40) as usize);
        for _ in 0..n {
            let path = RelPath::new(r.bytes("path", MAX_PATH_LEN)?)
                .map_err(|e| DecodeError::invalid("path", e.to_string()))?;
            let meta = decode_meta(&mut r)?;
            let ctime = Mtime { secs: r.zigzag("ctime")?, nanos: r.varint("ctime")? as u32 };
            let ino = r.varint("inode")?;
            let dev = r.varint("device")?;
            let digest = decode_digest(&mut r)?;
            let stamp = Stamp { size: digest.size, mtime: meta.mtime, ctime, ino, dev };
            entries.push((path, CachedFile { stamp, meta, digest }));
        }
        r.finish("hash cache")?;
        // Written sorted; a file that is not is still usable once sorted.
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.dedup_by(|a, b| a.0 == b.0);
        }
        Ok(HashCache { scan_start, entries })
    }

    /// Write the files of `stamped` (sorted by path) as the cache of a scan started at `start`.
    fn store(
        file: &Path,
        start: SystemTime,
        stamped: &[(Entry, Option<Stamp>)],
    ) -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Encoded, compressed and written as it goes: the cache of a large tree is never held.
        write_replacing_with(file, false, |out| {
            seal_into(out, CACHE_MAGIC, CACHE_VERSION, |z| {
                let mut w = Writer::new();
                let since = start.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
                w.varint(since.as_secs());
                w.varint(u64::from(since.subsec_nanos()));
                let files =
                    || stamped.iter().filter_map(|(e, s)| Some((e, s.as_ref()?, e.digest()?)));
                w.varint(files().count() as u64);
                for (e, stamp, digest) in files() {
                    w.bytes(e.path.as_bytes());
                    encode_meta(&mut w, &e.meta);
                    w.zigzag(stamp.ctime.secs);
                    w.varint(u64::from(stamp.ctime.nanos));
                    w.varint(stamp.ino);
                    w.varint(stamp.dev);
                    encode_digest(&mut w, digest);
                    if w.buf.len() >= 64 * 1024 {
                        z.write_all(&w.buf)?;
                        w.buf.clear();
                    }
                }
                z.write_all(&w.buf)
            })
        })
    }
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
    let key = crate::hash::ContentHash::of(canon.as_os_str().as_bytes()).to_hex();
    Some(base.join(format!("scan-{}", &key[..32])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_lists_tree_and_skips_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join(".tern/staging")).unwrap();
        std::fs::create_dir_all(root.join("a/.tern")).unwrap();
        std::fs::write(root.join("a/b/f"), b"data").unwrap();
        std::os::unix::fs::symlink("b/f", root.join("a/link")).unwrap();
        let s = scan(root, &ScanOptions::default(), &ProgressBar::hidden()).unwrap();
        let names: Vec<String> =
            s.manifest.entries.iter().map(|e| e.path.display().to_string()).collect();
        assert_eq!(names, ["a", "a/.tern", "a/b", "a/b/f", "a/link"]);
        assert!(matches!(&s.manifest.entries[4].kind, Kind::Symlink(t) if t == b"b/f"));
        assert_eq!(s.stats.hashed_files, 1);
        s.manifest.validate().unwrap();
    }

    #[test]
    fn cache_round_trip_and_racy_entries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("f"), b"data").unwrap();
        let opts = ScanOptions { cache_file: Some(dir.path().join("cache")), ..Default::default() };
        let first = scan(&root, &opts, &ProgressBar::hidden()).unwrap();
        assert_eq!(first.stats.hashed_files, 1);
        // the file was written right before the scan: racy, so hashed again
        let second = scan(&root, &opts, &ProgressBar::hidden()).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        let third = scan(&root, &opts, &ProgressBar::hidden()).unwrap();
        let fourth = scan(&root, &opts, &ProgressBar::hidden()).unwrap();
        assert_eq!(second.manifest, first.manifest);
        assert_eq!(third.manifest, first.manifest);
        assert_eq!((fourth.stats.hashed_files, fourth.stats.cached_files), (0, 1));
        let forced = scan(&root, &ScanOptions { checksum: true, ..opts }, &ProgressBar::hidden());
        assert_eq!(forced.unwrap().stats.hashed_files, 1);
    }

    #[test]
    fn corrupt_cache_is_an_error_not_a_panic() {
        assert!(HashCache::decode(b"TERNCACH\x01\x00garbage").is_err());
        assert!(HashCache::decode(b"").is_err());
    }
}
