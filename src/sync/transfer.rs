//! Executing a [`Plan`] against a [`Transport`].
//!
//! This module decides *how* to carry out a plan, never *what* to change: it streams each file's
//! recipe (reused ranges and source bytes) to the destination, re-sends whole files whose reused
//! ranges turned out to be wrong at the destination, drops files that changed in the source while
//! being sent, and finally commits the operations together with the manifest that describes the
//! result. Dropped files keep their previous destination version and manifest entry.

use crate::plan::patch::{Base, PatchRun, patch_runs};
use crate::plan::{Action, ChangeRef, NewManifest, Piece, Plan, Recipe};
use crate::transport::{
    Commit, CommitOp, CommitReport, FileSource, NewLink, NewNode, StageHeader, StageOutcome,
    StageReport, Transport, TransportError,
};
use crate::tree::blocks::{MIN_PATCHED, Signed};
use crate::tree::manifest::{Entry, Kind};
use crate::tree::path::RelPath;
use crate::tree::store::{EntrySource, StoredManifest};
use crate::util::progress::Progress;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest block of source bytes handed to the transport at once: one chunk.
const SEND_BLOCK: usize = crate::tree::chunk::MAX_CHUNK;

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

/// Apply `plan` (computed against the destination manifest `dest_manifest`), reading file
/// contents from `source`. The caller holds the destination lock.
pub fn apply(
    plan: &Plan,
    source: &mut dyn FileSource,
    dest_manifest: &StoredManifest,
    dest: &mut dyn Transport,
    run_id: &str,
    cancel: &AtomicBool,
    progress: &Progress,
) -> Result<Applied, TransportError> {
    let mut applied = Applied::default();
    // Files to write, by id: the plan's writes (id = change index), then repairs. Walked again
    // where needed rather than listed, so a large plan carries no second list of its files.
    let planned =
        || plan.iter().enumerate().filter_map(|(i, c)| Some((i as u64, c.new?, Some(c.recipe?))));
    // Every file written is sent or rebuilt from what the destination has, byte for byte.
    // Files are counted only for a line that shows them: it is one more walk of the plan.
    let files = if progress.is_visible() { planned().count() as u64 } else { 0 };
    progress.restart(plan.stats.bytes_to_send + plan.stats.bytes_reused, files);

    // First pass: as planned (or whole files, where the destination cannot reuse ranges).
    let whole_files = !dest.reuses_chunks();
    let mut local_errors: HashMap<u64, String> = HashMap::new();
    let mut src = Source { files: source, applied: &mut applied, progress };
    // Changed chunks of files the destination has an old version of go as block deltas, where
    // bytes cross a network; their signatures are asked for a window of files at a time.
    let deltas = sends_deltas(plan, dest);
    let mut signatures = Signatures::new(deltas.then(|| delta_runs(plan, dest_manifest)));
    dest.expect_to_send(plan.stats.bytes_to_send)?;
    // The files after the one being sent are announced to a remote source, a few ahead, so
    // that they are on their way (one round trip per file would bound a run of small files by
    // the latency). A local source is not told: it would be work for nothing on every file.
    let (mut ahead, mut taken, mut announcing) = (planned(), 0, true);
    for (done, (id, entry, recipe)) in planned().enumerate() {
        // A safe point: nothing is committed yet, so stopping here changes nothing.
        if cancel.load(Ordering::Relaxed) {
            return Err(TransportError::Interrupted);
        }
        crate::util::failpoint::delay("stage");
        while announcing && src.files.reads_ahead() && taken < done + READ_AHEAD {
            let Some((_, next, recipe)) = ahead.next() else { break };
            taken += 1;
            let recipe = if whole_files { None } else { recipe };
            if let Some(d) = next.digest() {
                let sent = sent_ranges(&recipe.unwrap_or(&Recipe::SendAll).pieces(d));
                // A source that cannot be asked ahead is asked when each file comes.
                announcing = sent.is_empty() || src.files.announce(&next.path, &sent).is_ok();
            }
        }
        let recipe = if whole_files { None } else { recipe };
        let runs = signatures.take(dest, id)?;
        crate::util::failpoint::delay("signed");
        if let Err(e) = src.stage(dest, id, &entry, recipe, &runs) {
            local_errors.insert(id, e?);
        }
        progress.file_done();
    }
    let mut next_id = plan.len() as u64;
    let mut outcomes = Outcomes::default();
    outcomes.add(dest.finish_staging()?, next_id);

    // Second pass: a file whose reused ranges were wrong gets all its bytes; and the destination
    // file they came from, now known to be damaged, is sent again too unless the plan rewrites it.
    let mut damaged: BTreeSet<RelPath> = BTreeSet::new();
    let mut retry = Vec::new();
    // Walked again only where the destination reported a failed reuse.
    let reuse_failed = |(_, o): &(u64, StageOutcome)| matches!(o, StageOutcome::ReuseFailed(_));
    let walk = outcomes.other.iter().any(reuse_failed).then(planned).into_iter().flatten();
    for (id, entry, _) in walk {
        if let Some(StageOutcome::ReuseFailed(from)) = outcomes.get(id) {
            damaged.insert(from.clone());
            if !local_errors.contains_key(&id) {
                retry.push((id, entry));
            }
        }
    }
    let mut repairs = Vec::new();
    if !damaged.is_empty() {
        let rewritten: HashSet<RelPath> = planned().map(|(_, e, _)| e.path).collect();
        for path in damaged.iter().filter(|p| !rewritten.contains(*p)) {
            match plan.new_manifest().get(path) {
                Some(entry) if entry.digest().is_some() => {
                    repairs.push((next_id, entry));
                    next_id += 1;
                }
                // Not in the source any more: it is deleted or kept as it is; nothing to send.
                _ => {}
            }
        }
    }
    for (id, entry) in retry.iter().chain(&repairs) {
        src.applied.repaired_files += 1;
        src.progress.inc_length(entry.size());
        if let Err(e) = src.stage(dest, *id, entry, None, &[]) {
            local_errors.insert(*id, e?);
        }
    }
    if !retry.is_empty() || !repairs.is_empty() {
        outcomes.add(dest.finish_staging()?, next_id);
    }

    let mut dropped: HashSet<RelPath> = HashSet::new();
    let writes = planned().map(|(id, e, _)| (id, e)).chain(repairs.iter().cloned());
    for (id, entry) in writes {
        let reason = match (local_errors.remove(&id), outcomes.get(id)) {
            (Some(e), _) => e,
            (None, Some(StageOutcome::Ok)) => continue,
            (None, Some(StageOutcome::Mismatch)) => {
                "changed while being sent; it will be sent on the next run".to_string()
            }
            (None, Some(StageOutcome::ReuseFailed(_))) => "destination could not rebuild it".into(),
            (None, Some(StageOutcome::Failed(e))) => e.clone(),
            (None, None) => "destination reported no outcome".into(),
        };
        progress.note(format!("tern: error: {}: {reason}", entry.path.display()));
        applied.skipped.push(Skipped { path: entry.path.clone(), reason });
        dropped.insert(entry.path.clone());
    }
    // Another name of a file that was not written would name its old version, or nothing: it
    // waits for the file, as the file waits for the next run.
    if !dropped.is_empty() {
        let followers: Vec<RelPath> = plan
            .iter()
            .filter_map(|c| match c.new.as_ref().map(|e| &e.kind) {
                Some(Kind::HardLink(first)) if dropped.contains(first) => Some(c.path),
                _ => None,
            })
            .collect();
        for path in followers {
            let reason = "a hard link of a file that could not be written".to_string();
            applied.skipped.push(Skipped { path: path.clone(), reason });
            dropped.insert(path);
        }
    }

    let ops = || {
        let repaired = repairs.iter().filter(|(_, e)| !dropped.contains(&e.path));
        let placed = repaired.map(|(id, e)| CommitOp::Place { path: e.path.clone(), id: *id });
        commit_ops(plan, &dropped).chain(placed)
    };
    // About how many operations there are, without a pass over the plan to count them.
    let op_count = plan.len() + repairs.len();
    let planned_manifest = plan.new_manifest();
    let reverted;
    let manifest: &dyn EntrySource = if dropped.is_empty() {
        &planned_manifest
    } else {
        reverted = Reverted::new(planned_manifest, dest_manifest, &dropped);
        &reverted
    };
    if cancel.load(Ordering::Relaxed) {
        return Err(TransportError::Interrupted);
    }
    entries_read_whole(plan, dest_manifest)?;
    crate::util::failpoint::hit("before-commit");
    let base = Some(dest_manifest);
    let (run_id, ops) = (run_id.to_string(), Box::new(ops()));
    progress.phase("committing", op_count as u64);
    applied.commit = dest.commit(Commit { run_id, ops, op_count, manifest, base })?;
    Ok(applied)
}

/// The destination's latest outcome for each staged id. Almost every file is `Ok`, so those
/// take one bit each; the other outcomes are a list sorted by id. Ids at or above the bound given
/// to `add` were never staged and are ignored (a peer cannot make this grow beyond the plan).
#[derive(Default)]
struct Outcomes {
    ok: Vec<u64>,
    other: Vec<(u64, StageOutcome)>,
}

static OK: StageOutcome = StageOutcome::Ok;

impl Outcomes {
    /// Take in a report; it replaces any earlier one for the ids it names.
    fn add(&mut self, report: StageReport, below: u64) {
        let StageReport { ok, mut other } = report;
        let words = below.div_ceil(64) as usize;
        if self.ok.len() < words {
            self.ok.resize(words, 0);
        }
        for id in ok.into_iter().flat_map(|run| run.start..run.end.min(below)) {
            self.ok[(id / 64) as usize] |= 1 << (id % 64);
        }
        other.retain(|(id, o)| *id < below && *o != StageOutcome::Ok);
        crate::util::sorted::sort_keep_last(&mut other, |a, b| a.0.cmp(&b.0));
        for (id, outcome) in other {
            self.ok[(id / 64) as usize] &= !(1 << (id % 64));
            self.other.push((id, outcome));
        }
        crate::util::sorted::sort_keep_last(&mut self.other, |a, b| a.0.cmp(&b.0));
        // An id that failed before and is `Ok` now keeps only its newer report.
        let ok = &self.ok;
        self.other.retain(|(id, _)| !Outcomes::bit(ok, *id));
    }

    fn bit(ok: &[u64], id: u64) -> bool {
        ok.get((id / 64) as usize).is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn get(&self, id: u64) -> Option<&StageOutcome> {
        if Outcomes::bit(&self.ok, id) {
            return Some(&OK);
        }
        let i = self.other.binary_search_by_key(&id, |(id, _)| *id).ok()?;
        Some(&self.other[i].1)
    }
}

/// Whether `plan` sends block deltas to `dest`: it takes them, and the plan writes files the
/// destination has old versions of (or reuses ranges) and sends enough to match.
fn sends_deltas(plan: &Plan, dest: &dyn Transport) -> bool {
    let stats = &plan.stats;
    dest.reuses_chunks()
        && dest.takes_deltas()
        && (stats.updated > 0 || stats.bytes_reused > 0)
        && stats.bytes_to_send >= MIN_PATCHED
}

/// Tell `dest` which old bytes the first window of `plan`'s deltas will be matched against,
/// before the lock: a network destination asks for their signatures with the lock, in the same
/// round trip. If the plan is made again under the lock, signatures it does not use are dropped.
pub fn presign(plan: &Plan, dest_manifest: &StoredManifest, dest: &mut dyn Transport) {
    if sends_deltas(plan, dest) {
        dest.presign(window_bases(&next_window(&mut delta_runs(plan, dest_manifest))));
    }
}

/// The next files' delta runs, up to a window's worth of bases or old bytes.
fn next_window(
    ahead: &mut impl Iterator<Item = (u64, Vec<PatchRun>)>,
) -> Vec<(u64, Vec<PatchRun>)> {
    let (mut window, mut bases, mut bytes) = (Vec::new(), 0, 0);
    for (next, runs) in ahead.by_ref() {
        bases += runs.len();
        bytes += runs.iter().map(|r| r.base.len).sum::<u64>();
        window.push((next, runs));
        if bases >= WINDOW_BASES || bytes >= WINDOW_BYTES {
            break;
        }
    }
    window
}

/// The old bytes a window's runs are matched against, in order.
fn window_bases(window: &[(u64, Vec<PatchRun>)]) -> Vec<Base> {
    window.iter().flat_map(|(_, runs)| runs.iter().map(|r| r.base.clone())).collect()
}

/// The runs of sent chunks worth a delta, by the id of their file, for the files of `plan` that
/// the destination has old bytes for, walked as the transfer needs them.
fn delta_runs<'a>(
    plan: &'a Plan,
    dest_manifest: &'a StoredManifest,
) -> impl Iterator<Item = (u64, Vec<PatchRun>)> + 'a {
    let size_of =
        |p: &RelPath| dest_manifest.entries.get(p).and_then(|e| e.digest().map(|d| d.size));
    plan.iter().enumerate().filter_map(move |(id, c)| {
        let (new, recipe) = (c.new.as_ref()?, c.recipe?);
        let old_size = c.old.and_then(Entry::digest).map(|d| d.size);
        // Most new files reuse nothing and have no old version: no pieces are listed for them.
        if old_size.is_none() && matches!(recipe, Recipe::SendAll) {
            return None;
        }
        let runs = patch_runs(&c.path, &recipe.pieces(new.digest()?), old_size, size_of);
        (!runs.is_empty()).then_some((id as u64, runs))
    })
}

/// Most old byte ranges signed per request, and most old bytes: the signatures of one window
/// are held until their files are sent (about 10 KiB per 8 MiB signed).
const WINDOW_BASES: usize = 1024;
const WINDOW_BYTES: u64 = 256 << 20;

/// The block signatures of the next files' delta runs, asked for a window of files at a time
/// (one round trip per window, never one per file).
struct Signatures<I> {
    ahead: Option<I>,
    /// Ids below this have been looked at.
    upto: u64,
    fetched: HashMap<u64, Vec<(PatchRun, Signed)>>,
}

impl<I: Iterator<Item = (u64, Vec<PatchRun>)>> Signatures<I> {
    fn new(ahead: Option<I>) -> Self {
        Signatures { ahead, upto: 0, fetched: HashMap::new() }
    }

    /// The signed runs of file `id` (files are taken in id order); none where the destination
    /// could not sign them.
    fn take(
        &mut self,
        dest: &mut dyn Transport,
        id: u64,
    ) -> Result<Vec<(PatchRun, Signed)>, TransportError> {
        while id >= self.upto {
            let Some(ahead) = &mut self.ahead else { break };
            let window = next_window(ahead);
            let Some((last, _)) = window.last() else {
                self.ahead = None;
                break;
            };
            self.upto = last + 1;
            let mut answers = dest.block_signatures(&window_bases(&window))?.into_iter();
            for (next, runs) in window {
                let signed = runs.into_iter().zip(answers.by_ref());
                // A signature that is missing or malformed only means the run goes as chunks.
                let signed = signed.filter_map(|(run, s)| Some((run, Signed::parse(s?).ok()?)));
                self.fetched.insert(next, signed.collect());
            }
        }
        Ok(self.fetched.remove(&id).unwrap_or_default())
    }
}

/// Files announced to the source ahead of the one being sent.
const READ_AHEAD: usize = 32;

/// The ranges of the source file that `pieces` send, each one chunk.
fn sent_ranges(pieces: &[Piece]) -> Vec<(u64, u64)> {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Send { offset, len, .. } => Some((*offset, (*len).min(SEND_BLOCK as u64))),
            Piece::Reuse { .. } => None,
        })
        .collect()
}

/// Reads source files and streams them to the destination.
struct Source<'a> {
    files: &'a mut dyn FileSource,
    applied: &'a mut Applied,
    progress: &'a Progress,
}

impl Source<'_> {
    /// Stream one file: its recipe's pieces, or (`None`) all its bytes. `Err(Ok(msg))` is a
    /// local problem with this file (the run goes on); `Err(Err(e))` ends the run.
    fn stage(
        &mut self,
        dest: &mut dyn Transport,
        id: u64,
        entry: &Entry,
        recipe: Option<&Recipe>,
        runs: &[(PatchRun, Signed)],
    ) -> Result<(), Result<String, TransportError>> {
        let Kind::File(digest) = &entry.kind else { return Ok(()) };
        let header =
            StageHeader { id, size: digest.size, hash: digest.hash, meta: entry.meta.clone() };
        let pieces = recipe.unwrap_or(&Recipe::SendAll).pieces(digest);
        dest.stage_begin(&header).map_err(Err)?;
        let result = self.send_pieces(dest, &entry.path, &pieces, entry.meta.sparse, runs);
        dest.stage_end().map_err(Err)?;
        result
    }

    /// Hand `pieces` of the file at `path` to the destination: reused runs as ranges, sent ones
    /// one chunk at a time, read from the source file (opened on the first sent piece), as a
    /// block delta where a signed run in `runs` covers them and the delta is smaller.
    fn send_pieces(
        &mut self,
        dest: &mut dyn Transport,
        path: &RelPath,
        pieces: &[Piece],
        sparse: bool,
        runs: &[(PatchRun, Signed)],
    ) -> Result<(), Result<String, TransportError>> {
        let (applied, progress) = (&mut *self.applied, self.progress);
        // The sent ranges, read from the source as one stream when the first is needed.
        let sent = sent_ranges(pieces);
        let read_err = |e: io::Error| Ok(format!("cannot read source file: {e}"));
        let mut source = match sent.is_empty() {
            true => None,
            false => Some(self.files.open_ranges(path, &sent, sparse).map_err(read_err)?),
        };
        let mut buf = Vec::new();
        // The run the current piece is in, with its signature indexed (once per run).
        let mut runs = runs.iter().peekable();
        let mut index = None;
        let mut i = 0;
        while i < pieces.len() {
            let piece = &pieces[i];
            i += 1;
            match piece {
                Piece::Reuse { from, offset, len, .. } => {
                    // One request for a run of chunks that follow each other in the same file.
                    let mut total = *len;
                    while let Some(Piece::Reuse { from: f, offset: o, len: l, .. }) = pieces.get(i)
                    {
                        if f != from || *o != offset + total {
                            break;
                        }
                        total += l;
                        i += 1;
                    }
                    dest.stage_reuse(from, *offset, total).map_err(Err)?;
                    applied.bytes_reused += total;
                    progress.inc(total);
                }
                Piece::Send { len, .. } => {
                    let Some(f) = source.as_mut() else { continue };
                    // A sent piece is one chunk (at most 64 KiB), sent as one: its boundaries become
                    // the staged file's chunk list at the destination.
                    // Read into a buffer of the piece's size: one read for a piece the page
                    // cache holds (growing a buffer as `read_to_end` does took four).
                    let len = (*len).min(SEND_BLOCK as u64) as usize;
                    buf.resize(len, 0);
                    let got = crate::tree::manifest::read_up_to(f, &mut buf).map_err(read_err)?;
                    buf.truncate(got);
                    while runs.peek().is_some_and(|(run, _)| run.pieces.end < i) {
                        runs.next();
                        index = None;
                    }
                    let delta = match runs.peek() {
                        Some((run, signed)) if run.pieces.contains(&(i - 1)) => {
                            let index = index.get_or_insert_with(|| signed.index());
                            index.delta(&buf).map(|d| (&run.base, d))
                        }
                        _ => None,
                    };
                    let sent = match delta {
                        // The hash of what was read, not of what was planned: a source file that
                        // changed since is the size and hash checks' to catch, not the rebuild's.
                        Some((base, delta)) => {
                            let hash = crate::tree::chunk::chunk_hash(&buf);
                            dest.stage_delta(base, &delta, got as u32, hash).map_err(Err)?;
                            delta.len()
                        }
                        // A file that shrank sends less; the destination's size check rejects it.
                        None => {
                            dest.stage_chunk(&buf).map_err(Err)?;
                            got
                        }
                    };
                    applied.bytes_sent += sent as u64;
                    progress.inc(got as u64);
                }
            }
        }
        Ok(())
    }
}

/// The operations that carry out `plan`, minus the files in `dropped`: removals first (they free
/// names and never destroy anything), then creations and updates in path order (parents first).
pub fn commit_ops<'a>(
    plan: &'a Plan,
    dropped: &'a HashSet<RelPath>,
) -> impl Iterator<Item = CommitOp> + 'a {
    let kept = |c: &ChangeRef<'_>| !dropped.contains(&c.path);
    let trashed = plan.iter().filter(kept);
    let trashed = trashed
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .map(|c| CommitOp::Trash(c.path));
    let written = plan.iter().enumerate().filter(move |(_, c)| kept(c)).filter_map(|(id, c)| {
        let new = c.new.as_ref()?;
        Some(match (c.action, &new.kind) {
            (Action::Delete, _) => return None,
            (Action::Metadata, kind) => {
                let meta = Box::new(new.meta.clone());
                CommitOp::SetMeta { path: c.path.clone(), meta, kind: kind.tag() }
            }
            (_, Kind::Dir) => CommitOp::MkDir(c.path.clone()),
            (_, Kind::Symlink(t)) => {
                let link = Box::new(NewLink { target: t.clone(), meta: new.meta.clone() });
                CommitOp::Symlink { path: c.path.clone(), link }
            }
            (_, Kind::File(_)) => CommitOp::Place { path: c.path.clone(), id: id as u64 },
            (_, Kind::HardLink(first)) => {
                CommitOp::HardLink { path: c.path.clone(), first: first.clone() }
            }
            (_, Kind::Special(special)) => {
                let node = Box::new(NewNode { special: *special, meta: new.meta.clone() });
                CommitOp::Node { path: c.path.clone(), node }
            }
        })
    });
    trashed.chain(written)
}

/// Whether every pass over `plan` and the destination's manifest it was made against read all of
/// their entries so far: they may be in temporary files, whose reads can fail and stop short.
pub fn entries_read_whole(
    plan: &Plan,
    dest_manifest: &StoredManifest,
) -> Result<(), TransportError> {
    plan.source().check().map_err(|e| TransportError::io("read", "the source's entries", e))?;
    dest_manifest
        .entries
        .check()
        .map_err(|e| TransportError::io("read", "the copy of the destination's manifest", e))
}

/// A plan's new manifest with the entries at `dropped` paths put back as the destination had
/// them: a dropped write leaves the old entry in place, and, if it was a directory about to be
/// replaced, everything below it too. Read as it is needed, like the plan's.
struct Reverted<'a> {
    planned: NewManifest<'a>,
    dest: &'a StoredManifest,
    dropped: &'a HashSet<RelPath>,
    count: u64,
}

impl<'a> Reverted<'a> {
    fn new(
        planned: NewManifest<'a>,
        dest: &'a StoredManifest,
        dropped: &'a HashSet<RelPath>,
    ) -> Self {
        let mut r = Reverted { planned, dest, dropped, count: 0 };
        r.count = r.entries().count() as u64;
        r
    }
}

impl EntrySource for Reverted<'_> {
    fn generation(&self) -> u64 {
        self.planned.generation()
    }

    fn count(&self) -> u64 {
        self.count
    }

    fn entries(&self) -> Box<dyn Iterator<Item = Cow<'_, Entry>> + '_> {
        let dropped = self.dropped;
        let planned = self.planned.entries().filter(move |e| !dropped.contains(&e.path));
        let old = self.dest.entries.iter();
        let old = old.filter(move |e| dropped.iter().any(|d| e.path.is_within(d)));
        // Both in path order, and no path in both: merged.
        let mut old = old.map(Cow::<Entry>::Owned).peekable();
        let mut planned = planned.peekable();
        Box::new(std::iter::from_fn(move || match (planned.peek(), old.peek()) {
            (Some(p), Some(o)) if o.path < p.path => old.next(),
            (Some(_), _) => planned.next(),
            (None, _) => old.next(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The source's entries, in a temporary file that loses its second half after planning:
    /// the plan's changes stop short (no panic), and the transfer refuses to commit; the
    /// destination gets nothing.
    #[test]
    fn a_plan_whose_entries_cannot_all_be_read_is_not_committed() {
        use crate::tree::manifest::tests::e;
        let mut entries = vec![e("d", Kind::Dir)];
        entries.extend((0..60_000).map(|i| e(&format!("d/sub{i:05}"), Kind::Dir)));
        let source = crate::tree::manifest::Manifest { generation: 0, entries };
        let store = crate::tree::store::EntryStore::spilled_from(&source);
        let empty = StoredManifest::default();
        let plan = crate::plan::plan_owned(store.clone(), &empty, &[], &Default::default());
        assert_eq!(plan.len(), 60_001);
        store.cut_in_half();
        let read = plan.iter().count();
        assert!(read < 60_001, "{read}");
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        let mut dest = crate::transport::local::LocalDir::new(&dst);
        dest.lock().unwrap();
        let never = AtomicBool::new(false);
        let bar = Progress::hidden();
        let err = apply(
            &plan,
            &mut crate::transport::local::DirSource { root: dir.path() },
            &empty,
            &mut dest,
            "r",
            &never,
            &bar,
        )
        .unwrap_err();
        assert!(err.to_string().contains("the source's entries"), "{err}");
        assert!(dest.read_manifest().unwrap().is_none());
        assert!(!dst.join("d").exists());
    }

    #[test]
    fn a_later_outcome_for_an_id_replaces_the_earlier_one() {
        let mut o = Outcomes::default();
        let reuse = StageOutcome::ReuseFailed(RelPath::new("old").unwrap());
        let failed = StageOutcome::Failed("disk full".into());
        let first = [
            (3, StageOutcome::Ok),
            (1, reuse.clone()),
            (7, StageOutcome::Mismatch),
            (70, failed.clone()),
        ];
        o.add(first.into_iter().collect(), 100);
        assert_eq!(o.get(1), Some(&reuse));
        assert_eq!(o.get(2), None);
        assert_eq!(o.get(70), Some(&failed));
        // The retry of 1 succeeds, 3 is staged again and fails; a repair gets a new id. An id
        // never staged is ignored.
        let second = [(1, StageOutcome::Ok), (3, StageOutcome::Mismatch), (109, StageOutcome::Ok)];
        o.add(second.into_iter().collect(), 110);
        let mut past = StageReport::default();
        past.ok.push(100..u64::MAX);
        o.add(past, 110);
        o.add([(1_000_000, StageOutcome::Ok)].into_iter().collect(), 110);
        assert_eq!(o.get(1), Some(&StageOutcome::Ok));
        assert_eq!(o.get(3), Some(&StageOutcome::Mismatch));
        assert_eq!(o.get(7), Some(&StageOutcome::Mismatch));
        assert_eq!(o.get(70), Some(&failed));
        assert_eq!(o.get(109), Some(&StageOutcome::Ok));
        assert_eq!(o.get(1_000_000), None);
        assert_eq!(o.other.len(), 3);
        assert!(o.ok.len() <= 2, "one bit per id: {} words", o.ok.len());
        // A run of ids reported fine, ending past what was staged: only the staged ones count.
        assert_eq!(o.get(105), Some(&StageOutcome::Ok));
        assert_eq!(o.get(110), None);
    }
}
