//! Executing a [`Plan`] against a [`Transport`].
//!
//! This module decides *how* to carry out a plan, never *what* to change: it streams each file's
//! recipe (reused ranges and source bytes) to the destination, re-sends whole files whose reused
//! ranges turned out to be wrong at the destination, drops files that changed in the source while
//! being sent, and finally commits the operations together with the manifest that describes the
//! result. Dropped files keep their previous destination version and manifest entry.

use crate::manifest::{Entry, Kind, Manifest};
use crate::path::RelPath;
use crate::plan::{Action, Change, Piece, Plan};
use crate::transport::{
    Commit, CommitOp, CommitReport, StageHeader, StageOutcome, Transport, TransportError,
};
use indicatif::ProgressBar;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Largest block of source bytes handed to the transport at once.
const SEND_BLOCK: usize = 256 * 1024;

/// A file of the plan that was not replicated, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: RelPath,
    pub reason: String,
}

/// What applying a plan did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub commit: CommitReport,
    /// Content bytes sent from the source.
    pub bytes_sent: u64,
    /// Content bytes the destination rebuilt from what it had.
    pub bytes_reused: u64,
    /// Files re-sent in full because the destination's copy of a reused range was wrong.
    pub repaired_files: u64,
    pub skipped: Vec<Skipped>,
}

/// Apply `plan` (computed against the destination manifest of generation `base_generation`),
/// reading file contents from `source_root`. The caller holds the destination lock.
pub fn apply(
    plan: &Plan,
    source_root: &Path,
    dest_manifest: &Manifest,
    dest: &mut dyn Transport,
    run_id: &str,
    progress: &ProgressBar,
) -> Result<Applied, TransportError> {
    let mut applied = Applied::default();
    let writes: Vec<(u64, &Change)> = plan
        .changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.recipe.is_some())
        .map(|(i, c)| (i as u64, c))
        .collect();
    let total: u64 = writes.iter().filter_map(|(_, c)| c.new.as_ref()).map(Entry::size).sum();
    progress.set_length(total);
    progress.set_position(0);

    // First pass: as planned (or whole files, where the destination cannot reuse ranges).
    // Local read errors are remembered per file.
    let whole_files = !dest.reuses_chunks();
    let mut local_errors: HashMap<u64, String> = HashMap::new();
    for &(id, c) in &writes {
        if let Err(e) = stage(dest, source_root, id, c, whole_files, &mut applied, progress) {
            local_errors.insert(id, e?);
        }
    }
    let outcomes = dest.finish_staging()?;

    // Second pass: files whose reused ranges were wrong at the destination get all their bytes.
    let retry: HashSet<u64> = outcomes
        .iter()
        .filter(|(id, o)| *o == StageOutcome::ReuseFailed && !local_errors.contains_key(id))
        .map(|(id, _)| *id)
        .collect();
    let mut outcomes: HashMap<u64, StageOutcome> = outcomes.into_iter().collect();
    for &(id, c) in writes.iter().filter(|(id, _)| retry.contains(id)) {
        applied.repaired_files += 1;
        if let Err(e) = stage(dest, source_root, id, c, true, &mut applied, progress) {
            local_errors.insert(id, e?);
        }
    }
    outcomes.extend(dest.finish_staging()?);

    let mut dropped: HashSet<RelPath> = HashSet::new();
    for &(id, c) in &writes {
        let reason = match (local_errors.remove(&id), outcomes.get(&id)) {
            (Some(e), _) => e,
            (None, Some(StageOutcome::Ok)) => continue,
            (None, Some(StageOutcome::Mismatch)) => {
                "changed while being sent; it will be sent on the next run".to_string()
            }
            (None, Some(StageOutcome::ReuseFailed)) => "destination could not rebuild it".into(),
            (None, Some(StageOutcome::Failed(e))) => e.clone(),
            (None, None) => "destination reported no outcome".into(),
        };
        progress.println(format!("tern: error: {}: {reason}", c.path.display()));
        applied.skipped.push(Skipped { path: c.path.clone(), reason });
        dropped.insert(c.path.clone());
    }

    let ops = commit_ops(plan, &dropped);
    let mut manifest = if dropped.is_empty() {
        plan.new_manifest.clone()
    } else {
        revert(&plan.new_manifest, dest_manifest, &dropped)
    };
    manifest.generation = dest_manifest.generation + 1;
    crate::failpoint::hit("before-commit");
    applied.commit = dest.commit(&Commit { run_id: run_id.to_string(), ops, manifest })?;
    Ok(applied)
}

/// Stream one file's recipe. `Err(Ok(msg))` is a local problem with this file (the run goes on);
/// `Err(Err(e))` is a transport failure that ends the run.
fn stage(
    dest: &mut dyn Transport,
    source_root: &Path,
    id: u64,
    c: &Change,
    all_data: bool,
    applied: &mut Applied,
    progress: &ProgressBar,
) -> Result<(), Result<String, TransportError>> {
    let (Some(entry), Some(recipe)) = (&c.new, &c.recipe) else {
        return Ok(());
    };
    let Kind::File(digest) = &entry.kind else {
        return Ok(());
    };
    let header = StageHeader { id, size: digest.size, hash: digest.hash, meta: entry.meta };
    dest.stage_begin(&header).map_err(Err)?;
    let whole;
    let pieces: &[Piece] = if all_data {
        whole = [Piece::Send { offset: 0, len: digest.size, hash: digest.hash }];
        &whole
    } else {
        &recipe.pieces
    };
    let mut source: Option<File> = None;
    let result =
        send_pieces(dest, source_root, &entry.path, pieces, &mut source, applied, progress);
    dest.stage_end().map_err(Err)?;
    result
}

fn send_pieces(
    dest: &mut dyn Transport,
    source_root: &Path,
    path: &RelPath,
    pieces: &[Piece],
    source: &mut Option<File>,
    applied: &mut Applied,
    progress: &ProgressBar,
) -> Result<(), Result<String, TransportError>> {
    let mut buf = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Reuse { from, offset, len, hash } => {
                dest.stage_reuse(from, *offset, *len, hash).map_err(Err)?;
                applied.bytes_reused += len;
                progress.inc(*len);
            }
            Piece::Send { offset, len, .. } => {
                if source.is_none() {
                    let full = source_root.join(path.as_path());
                    let f = File::options()
                        .read(true)
                        .custom_flags(libc::O_NOFOLLOW)
                        .open(&full)
                        .map_err(|e| Ok(format!("cannot read source file: {e}")))?;
                    *source = Some(f);
                }
                let Some(f) = source.as_mut() else { continue };
                let read_err = |e: io::Error| Ok(format!("cannot read source file: {e}"));
                f.seek(SeekFrom::Start(*offset)).map_err(read_err)?;
                let mut left = *len;
                while left > 0 {
                    let n = left.min(SEND_BLOCK as u64) as usize;
                    buf.resize(n, 0);
                    let got = read_full(f, &mut buf).map_err(read_err)?;
                    if got == 0 {
                        // The file shrank: the destination's size check will reject it.
                        return Ok(());
                    }
                    dest.stage_data(&buf[..got]).map_err(Err)?;
                    applied.bytes_sent += got as u64;
                    progress.inc(got as u64);
                    left -= got as u64;
                }
            }
        }
    }
    Ok(())
}

fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The operations that carry out `plan`, minus the files in `dropped`: removals first (they free
/// names and never destroy anything), then creations and updates in path order (parents first).
pub fn commit_ops(plan: &Plan, dropped: &HashSet<RelPath>) -> Vec<CommitOp> {
    let mut ops = Vec::with_capacity(plan.changes.len());
    let kept = |c: &&Change| !dropped.contains(&c.path);
    for c in plan.changes.iter().filter(kept) {
        if matches!(c.action, Action::Delete | Action::Replace) {
            ops.push(CommitOp::Trash(c.path.clone()));
        }
    }
    for (id, c) in plan.changes.iter().enumerate().filter(|(_, c)| kept(c)) {
        let Some(new) = &c.new else { continue };
        let op = match (c.action, &new.kind) {
            (Action::Delete, _) => continue,
            (Action::Metadata, kind) => {
                CommitOp::SetMeta { path: c.path.clone(), meta: new.meta, kind: kind.tag() }
            }
            (_, Kind::Dir) => CommitOp::MkDir(c.path.clone()),
            (_, Kind::Symlink(t)) => {
                CommitOp::Symlink { path: c.path.clone(), target: t.clone(), mtime: new.meta.mtime }
            }
            (_, Kind::File(_)) => CommitOp::Place { path: c.path.clone(), id: id as u64 },
        };
        ops.push(op);
    }
    ops
}

/// `planned` with the entries at `dropped` paths put back as the destination had them.
fn revert(planned: &Manifest, dest: &Manifest, dropped: &HashSet<RelPath>) -> Manifest {
    let mut entries: Vec<Entry> =
        planned.entries.iter().filter(|e| !dropped.contains(&e.path)).cloned().collect();
    // A dropped write leaves the old entry in place, and, if it was a directory about to be
    // replaced, everything below it too.
    entries.extend(
        dest.entries.iter().filter(|e| dropped.iter().any(|d| e.path.is_within(d))).cloned(),
    );
    let mut m = Manifest { generation: planned.generation, entries };
    m.sort();
    m
}
