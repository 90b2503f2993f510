//! Maintenance of a destination directory: verify it against its manifest, list and purge its
//! trash, and undo a run. The same code serves a local destination and, through the agent, a
//! remote one ([`AdminOp`] travels as JSON).
//!
//! Every run that moves something aside keeps `.tern/trash/<run-id>/` (the entries, under their
//! original paths) and `.tern/trash/<run-id>.index` (each original path with its place in the
//! trash, written before the move). `undo` puts a run's entries back; whatever stands in the way
//! goes to a new trash run, so an undo can itself be undone.

use crate::tree::beneath::{Beneath, DirPath, is_planted};
use crate::tree::chunk::digest_reader;
use crate::tree::manifest::{Entry, Kind, Manifest};
use crate::tree::meta::{is_root, meta_of, read_xattrs, special_of};
use crate::tree::path::RelPath;
use crate::tree::state::{
    STATE_DIR, Unsafe, index_path, read_trash_index, trash_record, trash_root,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A maintenance request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "op")]
pub enum AdminOp {
    /// Check every entry against the manifest: re-hash files when `deep`, else compare size and
    /// mtime only (a stat per entry, no reading).
    Verify {
        #[serde(default = "yes")]
        deep: bool,
    },
    TrashList,
    /// Remove trash runs older than this many seconds (`None`: all), except run `except`.
    TrashPurge {
        older_than_secs: Option<u64>,
        #[serde(default)]
        except: Option<String>,
    },
    /// Put back what a run (the newest, if `None`) moved to the trash.
    Undo {
        run: Option<String>,
        new_run: String,
    },
}

/// What a maintenance request found or did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum AdminResult {
    Verified { findings: Vec<Finding>, files: u64, bytes: u64 },
    Trash { runs: Vec<TrashRun> },
    Purged { runs: u64, bytes: u64 },
    Undone { run: String, restored: u64, displaced: u64, generation: u64 },
}

/// One difference between the destination and its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Escaped for display.
    pub path: String,
    /// The exact bytes, for repair.
    #[serde(with = "bytes_b64")]
    pub path_bytes: Vec<u8>,
    /// `missing`, `changed`, `kind` (a different kind of entry), `metadata`, `extra`.
    pub problem: String,
    pub detail: String,
}

impl Finding {
    /// Whether the entry is wrong at the destination (anything but an extra entry, which the
    /// manifest does not describe).
    pub fn is_wrong(&self) -> bool {
        self.problem != "extra"
    }
}

/// The entries `findings` show to be wrong, as paths to send again.
pub fn wrong_paths(findings: &[Finding]) -> Vec<RelPath> {
    findings
        .iter()
        .filter(|f| f.is_wrong())
        .filter_map(|f| RelPath::new(f.path_bytes.clone()).ok())
        .collect()
}

/// One run's trash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrashRun {
    pub run: String,
    pub entries: u64,
    pub bytes: u64,
    pub age_secs: u64,
}

fn yes() -> bool {
    true
}

mod bytes_b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

fn size_of_tree(p: &Path) -> (u64, u64) {
    let (mut entries, mut bytes) = (0, 0);
    for e in walkdir::WalkDir::new(p).min_depth(1).into_iter().flatten() {
        entries += 1;
        if let Ok(md) = e.metadata()
            && md.is_file()
        {
            bytes += md.len();
        }
    }
    (entries, bytes)
}

/// `.tern/trash`, as a path through its handle (`None` when there is none yet). A trash
/// reached through a symlink is refused: what is listed, purged or put back must be tern's, and
/// the handle keeps it so while it is worked on.
fn own_trash(root: &Path) -> io::Result<Option<DirPath>> {
    match Beneath::open(root)?.dir_path(&trash_rel()) {
        Ok(dir) => Ok(Some(dir)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if is_planted(&e) => Err(Unsafe::Symlink(trash_root(root)).into()),
        Err(e) => Err(e),
    }
}

/// `.tern/trash`, relative to the top.
fn trash_rel() -> PathBuf {
    Path::new(STATE_DIR).join("trash")
}

/// Trash runs, oldest first.
pub fn trash_list(root: &Path) -> io::Result<Vec<TrashRun>> {
    let mut runs = Vec::new();
    let Some(dir) = own_trash(root)? else { return Ok(runs) };
    let list = match fs::read_dir(&*dir) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(runs),
        Err(e) => return Err(e),
    };
    for e in list {
        let e = e?;
        if !e.file_type()?.is_dir() {
            continue;
        }
        let run = e.file_name().to_string_lossy().into_owned();
        let (entries, bytes) = size_of_tree(&e.path());
        let age_secs = e
            .metadata()?
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .map_or(0, |d| d.as_secs());
        runs.push(TrashRun { run, entries, bytes, age_secs });
    }
    runs.sort_by(|a, b| a.run.cmp(&b.run));
    Ok(runs)
}

/// Delete trash runs older than `older_than` (all of them when `None`), except run `except`.
pub fn trash_purge(
    root: &Path,
    older_than: Option<Duration>,
    except: Option<&str>,
) -> io::Result<(u64, u64)> {
    let (mut runs, mut bytes) = (0, 0);
    let Some(trash) = own_trash(root)? else { return Ok((0, 0)) };
    for run in trash_list(root)? {
        if older_than.is_some_and(|d| run.age_secs < d.as_secs())
            || except == Some(run.run.as_str())
        {
            continue;
        }
        let dir = trash.join(&run.run);
        // Trashed directories may have lost their write bits with the mode tern replicated.
        for e in walkdir::WalkDir::new(&dir).into_iter().flatten() {
            if e.file_type().is_dir() {
                use std::os::unix::fs::PermissionsExt;
                let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(0o700));
            }
        }
        fs::remove_dir_all(&dir)?;
        let _ = fs::remove_file(index_path(&dir));
        runs += 1;
        bytes += run.bytes;
    }
    Ok((runs, bytes))
}

/// Check the destination against `manifest`: what is missing, changed, of another kind, or not
/// in the manifest at all. `deep` re-hashes every file; otherwise a file counts as changed when
/// its size or mtime differ, and nothing is read (and extra entries are not looked for).
pub fn verify(
    root: &Path,
    manifest: &Manifest,
    deep: bool,
) -> io::Result<(Vec<Finding>, u64, u64)> {
    let mut findings = Vec::new();
    let (mut files, mut bytes) = (0, 0);
    let finding = |path: &RelPath, problem: &str, detail: String| Finding {
        path: path.display().to_string(),
        path_bytes: path.as_bytes().to_vec(),
        problem: problem.into(),
        detail,
    };
    // The directories found to be real ones, each under real ones: the manifest lists a
    // directory before what it holds, so an entry is looked at only when its parent is here, and
    // nothing is ever looked up through a symlink that replaced a directory, at any depth.
    let mut real_dirs: HashSet<RelPath> = HashSet::new();
    // Each entry is looked at through its directory's handle, so that even a directory
    // swapped for a symlink while it is checked is never read through.
    let mut b = Beneath::open(root)?;
    let gone = "a parent is no longer a directory";
    for e in &manifest.entries {
        if e.path.parent().is_some_and(|p| !real_dirs.contains(&p)) {
            findings.push(finding(&e.path, "missing", gone.into()));
            continue;
        }
        let at = match b.at(e.path.as_path()) {
            Ok(at) => at,
            Err(err) if err.kind() == io::ErrorKind::NotFound || is_planted(&err) => {
                findings.push(finding(&e.path, "missing", gone.into()));
                continue;
            }
            Err(err) => return Err(err),
        };
        // The calls below take a path: this one goes through the handle, and none of them
        // follows a symlink at the entry itself.
        let full = at.proc_path();
        let md = match fs::symlink_metadata(&full) {
            Ok(md) => md,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                findings.push(finding(&e.path, "missing", "not at the destination".into()));
                continue;
            }
            Err(err) => return Err(err),
        };
        let special = special_of(&md);
        let actual = if md.is_dir() {
            "dir"
        } else if md.file_type().is_symlink() {
            "symlink"
        } else if md.is_file() {
            "file"
        } else if let Some(s) = special {
            Kind::Special(s).tag().name()
        } else {
            "socket"
        };
        let expected = match e.kind {
            Kind::HardLink(_) => "file",
            _ => e.kind.tag().name(),
        };
        if actual != expected {
            findings.push(finding(
                &e.path,
                "kind",
                format!("a {actual} where the manifest has a {}", e.kind.tag().name()),
            ));
            continue;
        }
        if actual == "dir" {
            real_dirs.insert(e.path.clone());
        }
        match &e.kind {
            Kind::File(d) if !deep => {
                files += 1;
                bytes += md.len();
                if md.len() != d.size || meta_of(&md).mtime != e.meta.mtime {
                    findings.push(finding(
                        &e.path,
                        "changed",
                        "size or mtime differs from the manifest".into(),
                    ));
                    continue;
                }
            }
            Kind::File(d) => {
                files += 1;
                bytes += md.len();
                let got = File::options()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&full)
                    .and_then(digest_reader)?;
                if got.size != d.size || got.hash != d.hash {
                    findings.push(finding(
                        &e.path,
                        "changed",
                        format!("content differs ({} bytes, manifest says {})", got.size, d.size),
                    ));
                    continue;
                }
            }
            Kind::Symlink(t) => {
                let target = fs::read_link(&full)?;
                if target.as_os_str().as_bytes() != t.as_slice() {
                    findings.push(finding(
                        &e.path,
                        "changed",
                        "the symlink points elsewhere".into(),
                    ));
                    continue;
                }
            }
            Kind::HardLink(first) => {
                use std::os::unix::fs::MetadataExt;
                let first_at = b.at(first.as_path()).ok();
                let same = first_at
                    .and_then(|at| fs::symlink_metadata(at.proc_path()).ok())
                    .is_some_and(|f| (f.dev(), f.ino()) == (md.dev(), md.ino()));
                if !same {
                    let detail = format!("not a hard link of {}", first.display());
                    findings.push(finding(&e.path, "changed", detail));
                    continue;
                }
            }
            Kind::Special(want) => {
                if special != Some(*want) {
                    let detail = "the device number differs".into();
                    findings.push(finding(&e.path, "changed", detail));
                    continue;
                }
            }
            Kind::Dir => {}
        }
        let meta = meta_of(&md);
        let mode_differs = !matches!(e.kind, Kind::Symlink(_)) && meta.mode != e.meta.mode;
        // Owners are replicated only by root, so only root can expect them to match.
        let owner_differs = is_root() && (meta.uid, meta.gid) != (e.meta.uid, e.meta.gid);
        if mode_differs || owner_differs || meta.mtime != e.meta.mtime {
            findings.push(finding(&e.path, "metadata", "mode, owner or mtime differs".into()));
            continue;
        }
        let xattrs = read_xattrs(&full)?;
        let differ = xattrs.changed_names(&e.meta.xattrs);
        if !differ.is_empty() {
            let names: Vec<String> = differ.iter().map(|n| crate::tree::path::escape(n)).collect();
            let detail = format!("extended attributes differ ({})", names.join(", "));
            findings.push(finding(&e.path, "metadata", detail));
        }
    }
    if !deep {
        return Ok((findings, files, bytes));
    }
    let walk = walkdir::WalkDir::new(root).min_depth(1).follow_links(false).into_iter();
    for item in walk.filter_entry(|e| !(e.depth() == 1 && e.file_name() == STATE_DIR)) {
        let item = item.map_err(io::Error::other)?;
        let Ok(rel) = RelPath::from_path(item.path().strip_prefix(root).unwrap_or(item.path()))
        else {
            continue;
        };
        if manifest.get(&rel).is_none() {
            findings.push(finding(
                &rel,
                "extra",
                "not in the manifest (not written by tern)".into(),
            ));
        }
    }
    findings.sort_by(|a, b| a.path_bytes.cmp(&b.path_bytes));
    Ok((findings, files, bytes))
}

/// The manifest entries of what is now on disk at `path` and below (no symlinks followed).
fn entries_at(root: &Path, path: &RelPath) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for item in walkdir::WalkDir::new(root.join(path.as_path())).follow_links(false) {
        let item = item.map_err(io::Error::other)?;
        let Ok(rel) = RelPath::from_path(item.path().strip_prefix(root).unwrap_or(item.path()))
        else {
            continue;
        };
        let md = fs::symlink_metadata(item.path())?;
        let kind = if md.is_dir() {
            Kind::Dir
        } else if md.file_type().is_symlink() {
            Kind::Symlink(fs::read_link(item.path())?.as_os_str().as_bytes().to_vec())
        } else if md.is_file() {
            let f = File::options().read(true).custom_flags(libc::O_NOFOLLOW).open(item.path())?;
            Kind::File(digest_reader(f)?)
        } else {
            continue;
        };
        out.push(Entry { path: rel, meta: meta_of(&md), kind });
    }
    Ok(out)
}

/// Put back what run `run` (the newest if `None`) moved to the trash. Whatever is in the way goes
/// to the trash of run `new_run`. Returns the new manifest and (restored, displaced) counts.
/// The caller holds the destination lock and stores the manifest.
pub fn undo(
    root: &Path,
    manifest: &Manifest,
    run: Option<&str>,
    new_run: &str,
) -> Result<(Manifest, String, u64, u64), String> {
    let runs = trash_list(root).map_err(|e| format!("cannot list the trash: {e}"))?;
    let run = match run {
        Some(r) => runs
            .iter()
            .find(|t| t.run == r)
            .map(|t| t.run.clone())
            .ok_or_else(|| format!("no trash run {r:?}; `tern trash list` shows the runs"))?,
        None => runs.last().map(|t| t.run.clone()).ok_or("the trash is empty: nothing to undo")?,
    };
    let shown = |rel: &Path| root.join(rel);
    let io = |what: &str, rel: &Path, e: io::Error| {
        format!("cannot {what} {}: {e}", shown(rel).display())
    };
    // Everything below the top is reached through its handles: a symlink planted anywhere,
    // the trash included, never takes what is put back or moved aside elsewhere.
    let mut b = Beneath::open(root).map_err(|e| io("open", Path::new(""), e))?;
    let run_dir = trash_rel().join(&run);
    let index =
        b.dir_path(&trash_rel()).and_then(|trash| read_trash_index(&index_path(&trash.join(&run))));
    let pairs = index.map_err(|e| {
        format!(
            "run {run} has no usable trash index ({e}); restore by hand from {}",
            shown(&run_dir).display()
        )
    })?;
    let aside = Aside { dir: trash_rel().join(new_run) };
    // By path: each restored or displaced path changes its own subtree, found by a range.
    let mut entries: BTreeMap<RelPath, Entry> =
        manifest.entries.iter().map(|e| (e.path.clone(), e.clone())).collect();
    let (mut restored, mut displaced) = (0, 0);
    let stands = |b: &mut Beneath, rel: &Path| {
        b.at(rel).and_then(|at| at.kind()).is_ok_and(|kind| kind.is_some())
    };
    for (orig, slot) in pairs {
        let to = orig.as_path();
        let Some(slot) = slot else {
            // Put back by an earlier undo where nothing stood: undoing means moving it aside.
            if stands(&mut b, to) {
                aside.displace(&mut b, &orig).map_err(|e| io("move aside", to, e))?;
                displaced += 1;
                remove_within(&mut entries, &orig);
            }
            continue;
        };
        let from = run_dir.join(&slot);
        if !stands(&mut b, &from) {
            continue;
        }
        // Parents must be real directories; anything else in the way is displaced.
        let mut rel = PathBuf::new();
        let parent = orig.parent();
        for c in parent.iter().flat_map(|p| p.components()) {
            rel.push(std::ffi::OsStr::from_bytes(c));
            let at = b.at(&rel).map_err(|e| io("open", &rel, e))?;
            match at.kind().map_err(|e| io("read", &rel, e))? {
                Some(rustix::fs::FileType::Directory) => {}
                Some(_) => {
                    let p = RelPath::from_path(&rel).map_err(|e| e.to_string())?;
                    aside.displace(&mut b, &p).map_err(|e| io("move aside", &rel, e))?;
                    displaced += 1;
                    at.mkdir(0o777).map_err(|e| io("create", &rel, e))?;
                }
                None => at.mkdir(0o777).map_err(|e| io("create", &rel, e))?,
            }
        }
        if stands(&mut b, to) {
            aside.displace(&mut b, &orig).map_err(|e| io("move aside", to, e))?;
            displaced += 1;
        } else {
            aside.record(&mut b, &orig, Path::new("")).map_err(|e| io("write", &aside.dir, e))?;
        }
        let restore = b.at(&from).and_then(|from| from.rename_to(&b.at(to)?));
        restore.map_err(|e| io("restore", to, e))?;
        b.forget(to);
        restored += 1;
        // The manifest follows: drop what was there, add what is back (and any new parents).
        remove_within(&mut entries, &orig);
        for e in entries_at(root, &orig).map_err(|e| io("read", to, e))? {
            entries.insert(e.path.clone(), e);
        }
        let mut parent = orig.parent();
        while let Some(p) = parent {
            if !entries.contains_key(&p) {
                let own = entries_at(root, &p).map_err(|e| io("read", to, e))?.into_iter().next();
                if let Some(e) = own {
                    entries.insert(e.path.clone(), e);
                }
            }
            parent = p.parent();
        }
    }
    let _ = b.at(&index_path(&run_dir)).and_then(|at| at.remove_file());
    let _ = b.at(&run_dir).and_then(|at| fs::remove_dir_all(at.proc_path()));
    // In path order already: the map's order is the manifest's.
    let m =
        Manifest { generation: manifest.generation + 1, entries: entries.into_values().collect() };
    m.validate().map_err(|e| format!("the restored tree does not make a valid manifest: {e}"))?;
    Ok((m, run, restored, displaced))
}

/// Take `p` and everything below it out of `entries` (they follow `p` in path order).
fn remove_within(entries: &mut BTreeMap<RelPath, Entry>, p: &RelPath) {
    let gone: Vec<RelPath> = entries
        .range(p.clone()..)
        .map(|(k, _)| k)
        .take_while(|k| k.is_within(p))
        .cloned()
        .collect();
    for k in gone {
        entries.remove(&k);
    }
}

/// The trash run an undo moves aside what stands in its way to (relative to the top).
struct Aside {
    dir: PathBuf,
}

impl Aside {
    /// Record in the run's index that `p` goes to `slot` (empty: it was put back where nothing
    /// stood), making the run's directory first.
    fn record(&self, b: &mut Beneath, p: &RelPath, slot: &Path) -> io::Result<()> {
        b.make_dirs(&self.dir).map_err(io::Error::from)?;
        b.at(&index_path(&self.dir))?.append(&trash_record(p, slot))
    }

    /// Move `p` into the run, under its own path.
    fn displace(&self, b: &mut Beneath, p: &RelPath) -> io::Result<()> {
        let slot = self.dir.join(p.as_path());
        b.make_dirs(slot.parent().unwrap_or(&self.dir)).map_err(io::Error::from)?;
        self.record(b, p, p.as_path())?;
        b.at(p.as_path())?.rename_to(&b.at(&slot)?)?;
        b.forget(p.as_path());
        Ok(())
    }
}
