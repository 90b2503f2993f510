//! The SFTP fallback for hosts without tern: whole files, no compression, same safety rules.
//!
//! The manifest lives in `.tern/` on the remote as usual. What SFTP cannot do is named here:
//!
//! - SFTP v3 (OpenSSH's server) cannot rename over an existing file, so a file is replaced in two
//!   renames: the old one into the trash, then the staged one into place. A crash between the two
//!   leaves the path missing (its old version in the trash) until the next run puts it back.
//! - The manifest is replaced the same way, through `manifest.old`, which a reader falls back to.
//! - Timestamps have whole seconds only, and a symlink's own mtime cannot be set.
//! - The lock is a directory (`.tern/lock.d`): a lock left by a crashed run of this machine is
//!   taken over; one left by another machine must be removed by hand (the message says how).
//! - Reused ranges cannot be copied on the server, so every changed file is sent whole.
//! - Extended attributes (ACLs and file capabilities among them) cannot be set: each run's
//!   commit report counts them, and the run warns once.

use super::ssh::Connection;
use super::ssh::SshTarget;
use crate::transport::{
    Commit, CommitOp, CommitReport, StageHeader, StageOutcome, StageReport, Transport,
    TransportError,
};
use crate::tree::chunk::{ChunkRef, FileDigest};
use crate::tree::hash::ContentHash;
use crate::tree::manifest::{KindTag, Meta};
use crate::tree::meta::Unkept;
use crate::tree::path::RelPath;
use crate::tree::state::{self, STATE_DIR};
use crate::tree::store::StoredManifest;
use ssh2::{FileStat, OpenFlags, OpenType, Sftp};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

struct Upload {
    header: StageHeader,
    file: ssh2::File,
    path: PathBuf,
    /// The chunks written so far, hashed as they came.
    chunks: Vec<ChunkRef>,
    written: u64,
}

/// A destination directory reached over plain SFTP.
pub struct SftpDest {
    sftp: Sftp,
    _conn: Connection,
    root: PathBuf,
    name: String,
    locked: bool,
    current: Option<Upload>,
    outcomes: StageReport,
    /// Extended attributes of what was staged, which SFTP cannot set.
    unkept: Unkept,
}

/// Count the xattrs of `meta` as not kept: SFTP has no request to set them.
fn cannot_keep(unkept: &mut Unkept, meta: &Meta) {
    for _ in meta.xattrs.iter() {
        unkept.add(|| {
            "SFTP cannot set extended attributes, ACLs or file capabilities (install tern on the \
             host to keep them)"
                .into()
        });
    }
}

fn sftp_io(e: ssh2::Error) -> std::io::Error {
    std::io::Error::from(e)
}

fn not_found(e: &ssh2::Error) -> bool {
    matches!(e.code(), ssh2::ErrorCode::SFTP(2))
}

impl SftpDest {
    pub fn new(conn: Connection, target: &SshTarget, name: String) -> Result<Self, TransportError> {
        let sftp = conn
            .session
            .sftp()
            .map_err(|e| TransportError::io("open SFTP on", &name, sftp_io(e)))?;
        let root = PathBuf::from(if target.path.is_empty() { "." } else { target.path.as_str() });
        Ok(SftpDest {
            sftp,
            _conn: conn,
            root,
            name,
            locked: false,
            current: None,
            outcomes: StageReport::default(),
            unkept: Unkept::default(),
        })
    }

    fn state(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    fn at(&self, p: &RelPath) -> PathBuf {
        self.root.join(p.as_path())
    }

    fn err(&self, action: &'static str, p: &Path, e: ssh2::Error) -> TransportError {
        TransportError::io(action, format!("{}:{}", self.name_host(), p.display()), sftp_io(e))
    }

    fn name_host(&self) -> &str {
        self.name.split(':').next().unwrap_or(&self.name)
    }

    fn lstat(&self, p: &Path) -> Result<Option<FileStat>, TransportError> {
        match self.sftp.lstat(p) {
            Ok(s) => Ok(Some(s)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(self.err("read", p, e)),
        }
    }

    fn mkdir_if_missing(&self, p: &Path) -> Result<(), TransportError> {
        match self.lstat(p)? {
            Some(s) if s.is_dir() => Ok(()),
            Some(_) => {
                Err(TransportError::NotADirectory(format!("{}:{}", self.name_host(), p.display())))
            }
            None => self.sftp.mkdir(p, 0o755).map_err(|e| self.err("create", p, e)),
        }
    }

    fn mkdir_all(&self, p: &Path) -> Result<(), TransportError> {
        let mut at = PathBuf::new();
        for c in p.components() {
            at.push(c);
            if at.as_os_str() == "/" || at.as_os_str() == "." {
                continue;
            }
            self.mkdir_if_missing(&at)?;
        }
        Ok(())
    }

    fn read_file(&self, p: &Path) -> Result<Option<Vec<u8>>, TransportError> {
        let mut f = match self.sftp.open(p) {
            Ok(f) => f,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(self.err("open", p, e)),
        };
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(|e| TransportError::io("read", p.display(), e))?;
        Ok(Some(buf))
    }

    fn write_file(&self, p: &Path, data: &[u8]) -> Result<(), TransportError> {
        let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
        let mut f = self
            .sftp
            .open_mode(p, flags, 0o600, OpenType::File)
            .map_err(|e| self.err("create", p, e))?;
        f.write_all(data).map_err(|e| TransportError::io("write", p.display(), e))?;
        let _ = f.fsync();
        Ok(())
    }

    fn remove_if_exists(&self, p: &Path) -> Result<(), TransportError> {
        match self.sftp.unlink(p) {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(self.err("remove", p, e)),
        }
    }

    fn take_lock(&mut self) -> Result<(), TransportError> {
        let dir = self.state().join("lock.d");
        let owner = dir.join("owner");
        let host = state::this_host();
        for _ in 0..2 {
            if self.sftp.mkdir(&dir, 0o700).is_ok() {
                self.write_file(&owner, state::lock_holder().as_bytes())?;
                self.locked = true;
                return Ok(());
            }
            let holder = self.read_file(&owner)?.map(|b| String::from_utf8_lossy(&b).into_owned());
            let holder = holder.unwrap_or_else(|| "unknown".into());
            // A holder on this machine that is gone is stale: take the lock over.
            let stale = holder
                .strip_prefix("pid ")
                .and_then(|rest| rest.split_once(" on "))
                .is_some_and(|(pid, h)| h == host && !Path::new(&format!("/proc/{pid}")).exists());
            if !stale {
                return Err(TransportError::Locked {
                    path: format!("{} (SFTP lock {})", self.name, dir.display()),
                    holder,
                });
            }
            self.remove_if_exists(&owner)?;
            let _ = self.sftp.rmdir(&dir);
        }
        Err(TransportError::Locked {
            path: self.name.clone(),
            holder: "a stale lock that could not be removed".into(),
        })
    }
}

impl SftpDest {
    /// Remove the lock directory, if this run holds it.
    fn release(&mut self) -> Result<(), TransportError> {
        if !self.locked {
            return Ok(());
        }
        let dir = self.state().join("lock.d");
        self.remove_if_exists(&dir.join("owner"))?;
        self.sftp.rmdir(&dir).map_err(|e| self.err("remove", &dir, e))?;
        self.locked = false;
        Ok(())
    }
}

impl Drop for SftpDest {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

impl Transport for SftpDest {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn mode(&self) -> &'static str {
        "sftp (no tern on the remote host)"
    }

    fn reuses_chunks(&self) -> bool {
        false
    }

    fn unlock(&mut self) -> Result<(), TransportError> {
        self.release()
    }

    fn lock(&mut self) -> Result<(), TransportError> {
        match self.lstat(&self.root)? {
            Some(s) if s.is_dir() => {}
            Some(_) => return Err(TransportError::NotADirectory(self.name.clone())),
            None => {
                if let Some(parent) = self.root.parent().filter(|p| !p.as_os_str().is_empty())
                    && !self.lstat(parent)?.is_some_and(|s| s.is_dir())
                {
                    return Err(TransportError::MissingParent(format!(
                        "{}:{}",
                        self.name_host(),
                        parent.display()
                    )));
                }
                self.sftp
                    .mkdir(&self.root, 0o755)
                    .map_err(|e| self.err("create", &self.root, e))?;
            }
        }
        // tern's own directories must be directories: a symlink there would take its lock, staging
        // and trash elsewhere on the host. (SFTP resolves paths at the server; a symlink planted
        // after this check, between two requests, is not seen: README, "SSH destinations".)
        let state = self.state();
        for own in [state.clone(), state.join("lock.d"), state.join("staging"), state.join("trash")]
        {
            if self.lstat(&own)?.is_some_and(|s| s.file_type() == ssh2::FileType::Symlink) {
                return Err(TransportError::StateSymlink {
                    path: format!("{}:{}", self.name_host(), own.display()),
                });
            }
        }
        self.mkdir_if_missing(&self.state())?;
        self.take_lock()?;
        let staging = self.state().join("staging");
        self.mkdir_if_missing(&staging)?;
        if let Ok(list) = self.sftp.readdir(&staging) {
            for (p, _) in list {
                let _ = self.sftp.unlink(&p);
            }
        }
        Ok(())
    }

    fn read_manifest(&mut self) -> Result<Option<StoredManifest>, TransportError> {
        let state = self.state();
        let bytes = match self.read_file(&state.join("manifest"))? {
            Some(b) => b,
            // A crash between the two renames of a manifest update leaves only the old one.
            None => match self.read_file(&state.join("manifest.old"))? {
                Some(b) => b,
                None => return Ok(None),
            },
        };
        StoredManifest::read_file(&bytes[..])
            .map(|(m, _)| Some(m))
            .map_err(|e| TransportError::reading_manifest(&self.name, e))
    }

    fn stage_begin(&mut self, header: &StageHeader) -> Result<(), TransportError> {
        if !self.locked || self.current.is_some() {
            return Err(TransportError::Protocol("staging out of order".into()));
        }
        let path = self.state().join("staging").join(header.id.to_string());
        let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
        let file = self
            .sftp
            .open_mode(&path, flags, 0o600, OpenType::File)
            .map_err(|e| self.err("create staged file", &path, e))?;
        self.current =
            Some(Upload { header: header.clone(), file, path, chunks: Vec::new(), written: 0 });
        Ok(())
    }

    fn stage_chunk(&mut self, data: &[u8]) -> Result<(), TransportError> {
        let Some(u) = &mut self.current else {
            return Err(TransportError::Protocol("stage data without a file".into()));
        };
        u.file.write_all(data).map_err(|e| TransportError::io("write", u.path.display(), e))?;
        let Ok(len) = u32::try_from(data.len()) else {
            return Err(TransportError::Protocol("a chunk larger than 4 GiB".into()));
        };
        u.chunks.push(ChunkRef { len, hash: ContentHash::of_chunk(data) });
        u.written += data.len() as u64;
        Ok(())
    }

    fn makes_hard_links(&self) -> bool {
        false
    }

    fn stage_reuse(&mut self, _: &RelPath, _: u64, _: u64) -> Result<(), TransportError> {
        Err(TransportError::Protocol("SFTP destinations cannot reuse ranges".into()))
    }

    fn stage_end(&mut self) -> Result<(), TransportError> {
        let Some(mut u) = self.current.take() else {
            return Err(TransportError::Protocol("stage_end without a file".into()));
        };
        let ok = u.written == u.header.size
            && FileDigest::of_chunks(std::mem::take(&mut u.chunks)).hash == u.header.hash;
        let outcome = if ok {
            let _ = u.file.fsync();
            drop(u.file);
            set_meta(&self.sftp, &u.path, &u.header.meta)
                .map_err(|e| self.err("set metadata of", &u.path, e))?;
            cannot_keep(&mut self.unkept, &u.header.meta);
            StageOutcome::Ok
        } else {
            drop(u.file);
            let _ = self.sftp.unlink(&u.path);
            StageOutcome::Mismatch
        };
        self.outcomes.push(u.header.id, outcome);
        Ok(())
    }

    fn finish_staging(&mut self) -> Result<StageReport, TransportError> {
        Ok(std::mem::take(&mut self.outcomes))
    }

    fn commit(&mut self, commit: Commit<'_>) -> Result<CommitReport, TransportError> {
        if !self.locked {
            return Err(TransportError::Protocol("commit without the destination lock".into()));
        }
        let trash = self.state().join("trash").join(&commit.run_id);
        let mut report = CommitReport {
            generation: commit.manifest.generation(),
            unkept: std::mem::take(&mut self.unkept),
            ..Default::default()
        };
        let mut touched: HashSet<Option<RelPath>> = HashSet::new();
        for op in commit.ops {
            let op = &op;
            let path = op.path();
            let full = self.at(path);
            if !matches!(op, CommitOp::SetMeta { .. }) {
                touched.insert(path.parent());
            }
            match op {
                CommitOp::Trash(p) => {
                    if self.parents_are_dirs(p)? && self.lstat(&full)?.is_some() {
                        self.to_trash(&trash, p)?;
                        report.trashed += 1;
                    }
                }
                CommitOp::MkDir(p) => {
                    report.repaired += self.ensure_dir(&trash, p)?;
                    touched.insert(Some(p.clone()));
                }
                CommitOp::Symlink { path, link } => {
                    self.make_way(&trash, path, &mut report)?;
                    // OpenSSH's server takes SYMLINK's arguments in the reverse order of the
                    // draft; libssh2 passes them so that this call order works with OpenSSH.
                    let target = Path::new(OsStr::from_bytes(&link.target));
                    cannot_keep(&mut report.unkept, &link.meta);
                    self.sftp
                        .symlink(target, &full)
                        .map_err(|e| self.err("create symlink", &full, e))?;
                }
                CommitOp::HardLink { path, .. } => {
                    return Err(TransportError::Protocol(format!(
                        "SFTP cannot make hard links ({}); install tern on the host, or sync with \
                         --no-hard-links",
                        path.display()
                    )));
                }
                CommitOp::Node { path, .. } => {
                    report.unkept.add(|| {
                        format!("{}: SFTP cannot create FIFOs or device files", path.display())
                    });
                }
                CommitOp::Place { path, id } => {
                    self.make_way(&trash, path, &mut report)?;
                    let staged = self.state().join("staging").join(id.to_string());
                    self.sftp
                        .rename(&staged, &full, None)
                        .map_err(|e| self.err("move into place", &full, e))?;
                }
                CommitOp::SetMeta { path, meta, kind } => match kind {
                    KindTag::Dir => {
                        touched.insert(Some(path.clone()));
                    }
                    KindTag::File if self.parents_are_dirs(path)? => {
                        set_meta(&self.sftp, &full, meta)
                            .map_err(|e| self.err("set metadata of", &full, e))?;
                        cannot_keep(&mut report.unkept, meta);
                    }
                    // SFTP's setstat follows symlinks: a symlink's own mtime cannot be set.
                    _ => {}
                },
            }
        }
        let mut dirs: Vec<RelPath> = touched.into_iter().flatten().collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.depth()));
        let wanted: HashSet<&RelPath> = dirs.iter().collect();
        let found = commit.manifest.entries_at(|p| wanted.contains(p));
        for d in &dirs {
            if let Some(e) = found.get(d)
                && self.lstat(&self.at(d))?.is_some_and(|s| s.is_dir())
            {
                let _ = set_meta(&self.sftp, &self.at(d), &e.meta);
                cannot_keep(&mut report.unkept, &e.meta);
            }
        }
        let state = self.state();
        let (new, cur, old) =
            (state.join("manifest.new"), state.join("manifest"), state.join("manifest.old"));
        let mut encoded = Vec::new();
        commit.manifest.write_to(&mut encoded).map_err(|e| {
            TransportError::Protocol(format!(
                "cannot encode the manifest for {}: {e}",
                self.describe()
            ))
        })?;
        self.write_file(&new, &encoded)?;
        self.remove_if_exists(&old)?;
        if self.lstat(&cur)?.is_some() {
            self.sftp.rename(&cur, &old, None).map_err(|e| self.err("rename", &cur, e))?;
        }
        self.sftp.rename(&new, &cur, None).map_err(|e| self.err("rename", &new, e))?;
        self.remove_if_exists(&old)?;
        if self.lstat(&trash)?.is_some() {
            report.trash_dir = Some(trash.display().to_string());
        }
        Ok(report)
    }
}

impl SftpDest {
    fn parents_are_dirs(&self, p: &RelPath) -> Result<bool, TransportError> {
        let mut at = self.root.clone();
        if let Some(parent) = p.parent() {
            for c in parent.components() {
                at.push(OsStr::from_bytes(c));
                if !self.lstat(&at)?.is_some_and(|s| s.is_dir()) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Make `p` free to be written: its parents real directories, an old entry there trashed.
    fn make_way(
        &self,
        trash: &Path,
        p: &RelPath,
        report: &mut CommitReport,
    ) -> Result<(), TransportError> {
        report.repaired += self.ensure_parents(trash, p)?;
        if self.lstat(&self.at(p))?.is_some() {
            self.to_trash(trash, p)?;
            report.trashed += 1;
        }
        Ok(())
    }

    fn ensure_parents(&self, trash: &Path, p: &RelPath) -> Result<u64, TransportError> {
        match p.parent() {
            Some(parent) => self.ensure_dir(trash, &parent),
            None => Ok(0),
        }
    }

    /// Make `p` a real directory, moving whatever else is in the way to the trash. Returns how
    /// many entries were moved aside.
    fn ensure_dir(&self, trash: &Path, p: &RelPath) -> Result<u64, TransportError> {
        let mut repaired = self.ensure_parents(trash, p)?;
        let full = self.at(p);
        match self.lstat(&full)? {
            Some(s) if s.is_dir() => {}
            Some(_) => {
                self.to_trash(trash, p)?;
                repaired += 1;
                self.sftp
                    .mkdir(&full, 0o755)
                    .map_err(|e| self.err("create directory", &full, e))?;
            }
            None => {
                self.sftp.mkdir(&full, 0o755).map_err(|e| self.err("create directory", &full, e))?
            }
        }
        Ok(repaired)
    }

    fn to_trash(&self, trash: &Path, p: &RelPath) -> Result<(), TransportError> {
        let slot = trash.join(p.as_path());
        if let Some(parent) = slot.parent() {
            self.mkdir_all(parent)?;
        }
        let slot = state::free_slot(slot, |s| self.lstat(s).map(|st| st.is_some()))?;
        let full = self.at(p);
        self.sftp.rename(&full, &slot, None).map_err(|e| self.err("move to trash", &full, e))
    }
}

fn set_meta(sftp: &Sftp, p: &Path, meta: &Meta) -> Result<(), ssh2::Error> {
    let secs = meta.mtime.secs.max(0) as u64;
    sftp.setstat(
        p,
        FileStat {
            size: None,
            uid: None,
            gid: None,
            perm: Some(meta.mode),
            atime: Some(secs),
            mtime: Some(secs),
        },
    )
}
