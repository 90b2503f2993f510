//! Diff and plan: pure functions from (source manifest, destination manifest, policy) to a [`Plan`].
//!
//! No I/O happens here. `tern plan` renders the plan, `tern sync` applies the very same object, so
//! a dry run can never disagree with the real run. The plan also carries the manifest the
//! destination will hold once it is applied, and for every file to write a *recipe*: which byte
//! ranges the destination already has (in any of its files, found by chunk hash) and which must
//! be sent.
//!
//! The folder, beside this module's diff: [`guard`] checks a plan before anything is written
//! (deletion guardrails), [`delta`] is the manifest delta a remote commit sends instead of the
//! whole next manifest, [`saved`] the file format of a saved plan (`tern plan --out`), and
//! [`patch`] which old bytes a changed run of chunks is matched against (sub-chunk deltas).

pub mod delta;
pub mod guard;
pub mod patch;
pub mod reconcile;
pub mod saved;

use crate::tree::chunk::{ChunkAt, FileDigest};
use crate::tree::filter::Excludes;
use crate::tree::hash::ContentHash;
use crate::tree::manifest::{Entry, Kind, Manifest, OpenDirs};
use crate::tree::path::RelPath;
use crate::tree::store::{EntrySource, EntryStore, StoredManifest};
use std::borrow::Cow;
use std::collections::HashSet;

/// Policy knobs that change what a plan does.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Remove destination entries that the source does not have (mirror). Off = `--no-delete`.
    pub delete: bool,
    /// Destination entries these match are left alone, like unreadable source entries.
    pub excludes: Excludes,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions { delete: true, excludes: Excludes::default() }
    }
}

/// What happens to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A new entry.
    Create,
    /// A file's content or a symlink's target changes.
    Update,
    /// Only mode or mtime changes; no data moves.
    Metadata,
    /// The entry (and everything below it) goes to the trash.
    Delete,
    /// The entry changes kind (file, directory, symlink): the old one goes to the trash.
    Replace,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Metadata => "metadata",
            Action::Delete => "delete",
            Action::Replace => "replace",
        }
    }
}

/// Where the bytes of one range of a file to write come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Read from the destination's own copy of `from` (verified against `hash` before use).
    Reuse { from: RelPath, offset: u64, len: u64, hash: ContentHash },
    /// Send from the source file.
    Send { offset: u64, len: u64, hash: ContentHash },
}

impl Piece {
    /// The chunk `c` of the source file, sent.
    pub fn send(c: ChunkAt) -> Piece {
        Piece::Send { offset: c.offset, len: u64::from(c.len), hash: c.hash }
    }

    pub fn len(&self) -> u64 {
        match self {
            Piece::Reuse { len, .. } | Piece::Send { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a file's new content is assembled at the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipe {
    /// Nothing at the destination matches: every chunk is sent (the common case, kept free of
    /// any per-file allocation).
    SendAll,
    /// The whole content already exists at the destination under this path.
    Copy(RelPath),
    /// Some chunks are reused from the destination, the others sent, in file order.
    Pieces(Box<[Piece]>),
}

impl Recipe {
    /// The pieces of a file with this digest, in file order.
    pub fn pieces<'a>(&'a self, digest: &FileDigest) -> Cow<'a, [Piece]> {
        match self {
            Recipe::SendAll => Cow::Owned(digest.chunks_at().map(Piece::send).collect()),
            Recipe::Copy(from) => Cow::Owned(vec![Piece::Reuse {
                from: from.clone(),
                offset: 0,
                len: digest.size,
                hash: digest.hash,
            }]),
            Recipe::Pieces(p) => Cow::Borrowed(p),
        }
    }

    /// Set when the whole content already exists at the destination under this path.
    pub fn whole_copy_of(&self) -> Option<&RelPath> {
        match self {
            Recipe::Copy(from) => Some(from),
            _ => None,
        }
    }

    /// Bytes that cross to the destination, for a file of `size` bytes.
    pub fn bytes_to_send(&self, size: u64) -> u64 {
        match self {
            Recipe::SendAll => size,
            Recipe::Copy(_) => 0,
            Recipe::Pieces(p) => {
                p.iter().filter(|p| matches!(p, Piece::Send { .. })).map(Piece::len).sum()
            }
        }
    }

    /// Bytes the destination takes from what it already has, for a file of `size` bytes.
    pub fn bytes_reused(&self, size: u64) -> u64 {
        size - self.bytes_to_send(size)
    }
}

/// One change to one path, as the plan stores it: the entries it refers to live in the plan's
/// new manifest (by index) and, for what it replaces or removes, in a box. Read it through
/// [`Plan::iter`], which resolves both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    action: Action,
    /// Set when the content is copied from a destination file that this plan deletes.
    renamed: bool,
    entries: Refers,
    /// The recipe is [`Recipe::SendAll`], the common case, which then takes no room.
    send_all: bool,
    /// Any other recipe, boxed: a plan holds a change per entry of a first sync.
    recipe: Option<Box<Recipe>>,
}

static SEND_ALL: Recipe = Recipe::SendAll;

impl Change {
    fn new(action: Action, entries: Refers, recipe: Option<Recipe>) -> Change {
        let (send_all, recipe) = match recipe {
            Some(Recipe::SendAll) => (true, None),
            other => (false, other.map(Box::new)),
        };
        Change { action, renamed: false, entries, send_all, recipe }
    }

    fn recipe(&self) -> Option<&Recipe> {
        if self.send_all { Some(&SEND_ALL) } else { self.recipe.as_deref() }
    }

    /// How many changes of the plan this one stands for.
    fn count(&self) -> u32 {
        match self.entries {
            Refers::Created { count, .. } => count,
            _ => 1,
        }
    }
}

/// The entries a change refers to: the one it will be (by index in [`Plan::new_manifest`]),
/// the one the destination holds now, or both. What only some changes need is boxed, so a
/// change stays at 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refers {
    /// A run of plain creations: `count` new entries from index `first` on, each a directory, a
    /// link, or a file whose every byte is sent. A first sync is one run per stretch of the tree
    /// between kept entries, not a change per entry.
    Created {
        first: u32,
        count: u32,
    },
    New(u32),
    Old(Box<Old>),
    Both(u32, Box<Old>),
}

/// A destination entry a change replaces or removes, with what goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Old {
    entry: Entry,
    /// Entries and file bytes removed, descendants included (0 unless the change removes).
    removed_entries: u64,
    removed_bytes: u64,
}

impl Old {
    fn kept(entry: Entry) -> Box<Old> {
        Box::new(Old { entry, removed_entries: 0, removed_bytes: 0 })
    }

    fn removed(entry: Entry) -> Box<Old> {
        let removed_bytes = entry.size();
        Box::new(Old { entry, removed_entries: 1, removed_bytes })
    }
}

/// One change with the entries it refers to: the new one decoded for it, the others the plan's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRef<'a> {
    pub path: RelPath,
    pub action: Action,
    /// The entry as it will be; `None` for deletions.
    pub new: Option<Entry>,
    /// The entry as it is at the destination; `None` for creations.
    pub old: Option<&'a Entry>,
    /// For files whose content is written: how.
    pub recipe: Option<&'a Recipe>,
    /// For deletions and replacements: entries and file bytes removed, descendants included.
    pub removed_entries: u64,
    pub removed_bytes: u64,
    /// Set when the content is copied from a destination file that this plan deletes.
    pub renamed: bool,
}

impl ChangeRef<'_> {
    /// Content bytes this change sends (0 unless it writes a file).
    pub fn bytes_to_send(&self) -> u64 {
        self.recipe.zip(self.new.as_ref()).map_or(0, |(r, e)| r.bytes_to_send(e.size()))
    }

    /// Content bytes this change takes from the destination (0 unless it writes a file).
    pub fn bytes_reused(&self) -> u64 {
        self.recipe.zip(self.new.as_ref()).map_or(0, |(r, e)| r.bytes_reused(e.size()))
    }
}

/// Totals of a plan, for summaries and guardrails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanStats {
    pub created: u64,
    pub updated: u64,
    pub metadata: u64,
    pub replaced: u64,
    /// Entries removed, descendants of removed directories included.
    pub deleted: u64,
    pub deleted_bytes: u64,
    /// File content bytes that must cross to the destination.
    pub bytes_to_send: u64,
    /// File content bytes the destination rebuilds from what it already has.
    pub bytes_reused: u64,
    /// Destination entries kept although the source lacks them (`--no-delete`, scan errors).
    pub kept: u64,
    /// Entries in the source manifest.
    pub source_entries: u64,
    /// Entries in the destination manifest before the plan.
    pub dest_entries: u64,
}

impl PlanStats {
    /// Entries the plan changes: created, updated, metadata, replaced and deleted ones.
    pub fn changed_entries(&self) -> u64 {
        self.created + self.updated + self.metadata + self.replaced + self.deleted
    }
}

/// Everything a sync will do, in order, and what the destination will hold afterwards.
#[derive(Debug, Clone)]
pub struct Plan {
    changes: Vec<Change>,
    /// How many changes `changes` stands for (a run of creations is one record).
    len: usize,
    /// The source's entries, taken over by the plan: with `kept`, the manifest to commit once
    /// every change is applied ([`Plan::new_manifest`]).
    source: EntryStore,
    /// The destination entries the new manifest keeps, each with its index there, in order;
    /// the other entries are the source's.
    kept: Vec<(u32, Entry)>,
    /// The new manifest's generation.
    generation: u64,
    pub stats: PlanStats,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The source entries this plan was made from (shared, not copied).
    pub fn source(&self) -> EntryStore {
        self.source.clone()
    }

    /// The manifest the destination holds once this plan is applied (the next generation): the
    /// source's entries with the destination entries kept among them, read as they are needed.
    pub fn new_manifest(&self) -> NewManifest<'_> {
        NewManifest { plan: self }
    }

    /// Number of changes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Change `i`, in plan order (found by walking the plan).
    pub fn change(&self, i: usize) -> ChangeRef<'_> {
        self.iter().nth(i).expect("a change index within the plan")
    }

    /// The changes, in plan order (parents before their children).
    pub fn iter(&self) -> Changes<'_> {
        Changes { plan: self, next: 0, k: 0, entries: self.new_manifest().iter_from(0) }
    }
}

/// The manifest a plan commits: see [`Plan::new_manifest`].
#[derive(Clone, Copy)]
pub struct NewManifest<'a> {
    plan: &'a Plan,
}

impl<'a> NewManifest<'a> {
    /// The entries from index `at` on.
    fn iter_from(self, at: u32) -> NewEntries<'a> {
        let kept = &self.plan.kept;
        let before = kept.partition_point(|(k, _)| *k < at);
        let source = self.plan.source.iter_from(u64::from(at) - before as u64);
        NewEntries { source, kept: &kept[before..], at, manifest: self }
    }

    /// The entry at `path`.
    pub fn get(self, path: &RelPath) -> Option<Entry> {
        let kept = &self.plan.kept;
        match kept.binary_search_by(|(_, e)| e.path.cmp(path)) {
            Ok(i) => Some(kept[i].1.clone()),
            Err(_) => self.plan.source.get(path),
        }
    }

    /// Decoded whole (for small trees and tests).
    pub fn to_manifest(self) -> Manifest {
        (&self as &dyn EntrySource).to_manifest()
    }
}

impl EntrySource for NewManifest<'_> {
    fn generation(&self) -> u64 {
        self.plan.generation
    }

    fn count(&self) -> u64 {
        self.plan.source.len() + self.plan.kept.len() as u64
    }

    fn entries(&self) -> Box<dyn Iterator<Item = Cow<'_, Entry>> + '_> {
        Box::new(self.iter_from(0))
    }
}

/// The entries of a plan's new manifest, in order: the source's, decoded as they come, and the
/// kept ones at their places.
struct NewEntries<'a> {
    source: crate::tree::store::Iter<'a>,
    /// The kept entries not reached yet.
    kept: &'a [(u32, Entry)],
    /// The index of the entry `next` gives.
    at: u32,
    manifest: NewManifest<'a>,
}

impl<'a> NewEntries<'a> {
    /// Entry `at`, at or after the one `next` would give: read on to it, or start again there
    /// when that is far (a plan of a few changes in a large tree decodes little else). `None`
    /// only where reading the entries failed (the store says why: [`EntryStore::check`]).
    fn entry(&mut self, at: u32) -> Option<Entry> {
        if at > self.at.saturating_add(256) {
            *self = self.manifest.iter_from(at);
        }
        while self.at < at {
            self.skip_one()?;
        }
        self.next().map(Cow::into_owned)
    }

    /// Go past the next entry without decoding it (a kept one is not decoded anyway).
    fn skip_one(&mut self) -> Option<()> {
        match self.kept.split_first() {
            Some(((k, _), rest)) if *k == self.at => self.kept = rest,
            _ => self.source.skip_one()?,
        }
        self.at += 1;
        Some(())
    }
}

impl<'a> Iterator for NewEntries<'a> {
    type Item = Cow<'a, Entry>;

    fn next(&mut self) -> Option<Cow<'a, Entry>> {
        let e = match self.kept.split_first() {
            Some(((k, e), rest)) if *k == self.at => {
                self.kept = rest;
                Cow::Borrowed(e)
            }
            _ => Cow::Owned(self.source.next()?),
        };
        self.at += 1;
        Some(e)
    }
}

/// The changes of a plan, in order: see [`Plan::iter`].
pub struct Changes<'a> {
    plan: &'a Plan,
    /// The record of the next change, and which of those it stands for.
    next: usize,
    k: u32,
    entries: NewEntries<'a>,
}

impl<'a> Iterator for Changes<'a> {
    type Item = ChangeRef<'a>;

    fn next(&mut self) -> Option<ChangeRef<'a>> {
        let c = self.plan.changes.get(self.next)?;
        let k = self.k;
        self.k += 1;
        if self.k == c.count() {
            (self.next, self.k) = (self.next + 1, 0);
        }
        let (new, old) = match &c.entries {
            // An entry that cannot be read ends the changes (see [`NewEntries::entry`]).
            Refers::Created { first, .. } => (Some(self.entries.entry(first + k)?), None),
            Refers::New(i) => (Some(self.entries.entry(*i)?), None),
            Refers::Old(o) => (None, Some(&**o)),
            Refers::Both(i, o) => (Some(self.entries.entry(*i)?), Some(&**o)),
        };
        let path = match (&new, old) {
            (_, Some(o)) => o.entry.path.clone(),
            (Some(n), None) => n.path.clone(),
            (None, None) => unreachable!("a change refers to an entry"),
        };
        let recipe = match c.entries {
            Refers::Created { .. } => new.as_ref().and_then(|e| e.digest()).map(|_| &SEND_ALL),
            _ => c.recipe(),
        };
        Some(ChangeRef {
            path,
            action: c.action,
            new,
            old: old.map(|o| &o.entry),
            recipe,
            removed_entries: old.map_or(0, |o| o.removed_entries),
            removed_bytes: old.map_or(0, |o| o.removed_bytes),
            renamed: c.renamed,
        })
    }
}

/// Compute the plan that turns `dest` into a replica of `source`.
///
/// `protected` lists source paths the scan could not read: destination entries at or below them
/// are kept as they are rather than deleted or overwritten.
pub fn plan(source: &Manifest, dest: &Manifest, protected: &[RelPath], opts: &PlanOptions) -> Plan {
    plan_owned(EntryStore::from(source), &StoredManifest::from(dest), protected, opts)
}

/// [`plan`], taking the source's entries over: they become the new manifest's without a copy
/// (a sync does not hold a tree's entries twice), and [`Plan::source`] gives them back.
pub fn plan_owned(
    source: EntryStore,
    dest: &StoredManifest,
    protected: &[RelPath],
    opts: &PlanOptions,
) -> Plan {
    // Built on the first file to write: a plan that writes none (an unchanged tree) needs none.
    let index = std::cell::LazyCell::new(|| ChunkIndex::build(dest));
    let is_protected = |e: &Entry| {
        protected.iter().any(|q| e.path.is_within(q))
            || opts.excludes.excludes(&e.path, e.kind == Kind::Dir)
    };
    let mut changes: Vec<Change> = Vec::new();
    // The new manifest is the source's entries with these destination entries kept among them
    // (each with the index it will have), in path order.
    let mut kept: Vec<(u32, Entry)> = Vec::new();
    let mut stats = PlanStats {
        source_entries: source.len(),
        dest_entries: dest.len(),
        ..PlanStats::default()
    };
    // The most recent removal (its change and path); destination entries below it go with it.
    let mut removing: Option<(usize, RelPath)> = None;
    // The index in the new manifest of source entry `i`.
    let next = |i: usize, kept: &Vec<(u32, Entry)>| {
        u32::try_from(i + kept.len()).expect("a manifest holds fewer than 2^32 entries")
    };
    let change = Change::new;
    // The source's directories open at the last entry read: the source parent of a destination
    // entry, if there is one, is the innermost of them.
    let mut dirs = OpenDirs::default();

    // Files of hard-link groups written anew (a new inode): their other names are linked again.
    let mut relinked: HashSet<RelPath> = HashSet::new();
    let mut i = 0;
    let mut src = source.iter().peekable();
    let mut dst = dest.entries.iter().peekable();
    while src.peek().is_some() || dst.peek().is_some() {
        let order = match (src.peek(), dst.peek()) {
            (Some(s), Some(d)) => s.path.cmp(&d.path),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        // Destination entries below a removed directory leave with it.
        if order != std::cmp::Ordering::Less
            && let Some((k, path)) = &removing
            && let Some(d) = dst.next_if(|d| path.is_ancestor_of(&d.path))
        {
            if let Refers::Old(o) | Refers::Both(_, o) = &mut changes[*k].entries {
                o.removed_entries += 1;
                o.removed_bytes += d.size();
            }
            continue;
        }
        match order {
            std::cmp::Ordering::Less => {
                let s = src.next().expect("peeked");
                let at = next(i, &kept);
                if source.is_link_first(&s.path) {
                    relinked.insert(s.path.clone());
                }
                match file_recipe(&s, &index) {
                    // Plain: joins the run of plain creations just before it, if any.
                    None | Some(Recipe::SendAll) => match changes.last_mut() {
                        Some(Change { entries: Refers::Created { first, count }, .. })
                            if *first + *count == at =>
                        {
                            *count += 1
                        }
                        _ => changes.push(change(
                            Action::Create,
                            Refers::Created { first: at, count: 1 },
                            None,
                        )),
                    },
                    recipe => changes.push(change(Action::Create, Refers::New(at), recipe)),
                }
                dirs.reach(&s.path);
                dirs.open(&s);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                let d = dst.next().expect("peeked");
                // The new manifest so far: the source before `i`, and what was kept; both are
                // in path order, so the parent is found among the source's open directories or
                // searched for among the kept.
                let parent_kept = d.path.parent().is_none_or(|p| {
                    dirs.reach(&d.path) == Some(&p)
                        || kept
                            .binary_search_by(|(_, e)| e.path.cmp(&p))
                            .is_ok_and(|k| kept[k].1.kind == Kind::Dir)
                });
                if (!opts.delete || is_protected(&d)) && parent_kept {
                    kept.push((next(i, &kept), d));
                    stats.kept += 1;
                } else {
                    removing = Some((changes.len(), d.path.clone()));
                    changes.push(change(Action::Delete, Refers::Old(Old::removed(d)), None));
                }
            }
            std::cmp::Ordering::Equal => {
                let (s, d) = (src.next().expect("peeked"), dst.next().expect("peeked"));
                let at = next(i, &kept);
                let same_kind = s.kind.tag() == d.kind.tag();
                let compared = if same_kind { compare_same_kind(&s, &d) } else { None };
                if source.is_link_first(&s.path) && (!same_kind || compared == Some(Action::Update))
                {
                    relinked.insert(s.path.clone());
                }
                let relink = match &s.kind {
                    Kind::HardLink(first) => relinked.contains(first),
                    _ => false,
                };
                if !same_kind {
                    removing = Some((changes.len(), d.path.clone()));
                    let refers = Refers::Both(at, Old::removed(d));
                    changes.push(change(Action::Replace, refers, file_recipe(&s, &index)));
                } else if relink {
                    changes.push(change(Action::Update, Refers::Both(at, Old::kept(d)), None));
                } else if let Some(action) = compared {
                    let recipe =
                        if action == Action::Update { file_recipe(&s, &index) } else { None };
                    changes.push(change(action, Refers::Both(at, Old::kept(d)), recipe));
                }
                dirs.reach(&s.path);
                dirs.open(&s);
                i += 1;
            }
        }
    }
    drop((src, dst));
    // Grown by doubling; a plan lives through the whole transfer.
    changes.shrink_to_fit();
    kept.shrink_to_fit();
    let mut plan = Plan {
        len: changes.iter().map(|c| c.count() as usize).sum(),
        changes,
        source,
        kept,
        generation: dest.generation + 1,
        stats,
    };
    mark_renames(&mut plan);
    plan.stats = counted(&plan);
    plan
}

/// A copy whose origin this plan removes is a rename, as far as a reader is concerned.
fn mark_renames(plan: &mut Plan) {
    if !plan
        .changes
        .iter()
        .any(|c| c.recipe.as_deref().is_some_and(|r| r.whole_copy_of().is_some()))
    {
        return;
    }
    let removed: HashSet<RelPath> = plan
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .map(|c| c.path)
        .collect();
    for c in &mut plan.changes {
        if let Some(from) = c.recipe.as_deref().and_then(Recipe::whole_copy_of) {
            c.renamed = from.self_and_ancestors().any(|p| removed.contains(&p));
        }
    }
}

/// `plan.stats` with what the plan's changes do added up.
fn counted(plan: &Plan) -> PlanStats {
    let mut stats = plan.stats.clone();
    for c in plan.iter() {
        match c.action {
            Action::Create => stats.created += 1,
            Action::Update => stats.updated += 1,
            Action::Metadata => stats.metadata += 1,
            Action::Replace => stats.replaced += 1,
            Action::Delete => {}
        }
        if matches!(c.action, Action::Delete | Action::Replace) {
            stats.deleted += c.removed_entries;
            stats.deleted_bytes += c.removed_bytes;
        }
        stats.bytes_to_send += c.bytes_to_send();
        stats.bytes_reused += c.bytes_reused();
    }
    stats
}

/// For two entries of the same kind, what (if anything) must change.
fn compare_same_kind(s: &Entry, d: &Entry) -> Option<Action> {
    let content_differs = match (&s.kind, &d.kind) {
        (Kind::File(a), Kind::File(b)) => a.hash != b.hash || a.size != b.size,
        (Kind::Symlink(a), Kind::Symlink(b)) => a != b,
        (Kind::Special(a), Kind::Special(b)) => a != b,
        (Kind::HardLink(a), Kind::HardLink(b)) => a != b,
        _ => false,
    };
    if content_differs {
        return Some(Action::Update);
    }
    let meta_differs = match s.kind {
        // Linux ignores a symlink's mode; its mtime, owner and xattrs are preserved.
        Kind::Symlink(_) => {
            s.meta.mtime != d.meta.mtime
                || (s.meta.uid, s.meta.gid) != (d.meta.uid, d.meta.gid)
                || s.meta.xattrs != d.meta.xattrs
        }
        _ => s.meta != d.meta,
    };
    meta_differs.then_some(Action::Metadata)
}

/// Where each chunk and each whole file of the destination can be found: lists sorted by hash
/// and then by path, so that of equal chunks the first in path order is the one used (a hash
/// map of every chunk and file took twice the memory).
///
/// The destination's manifest is not held decoded, so the index keeps what a lookup compares:
/// the whole hash, the length, and where the chunk is (48 bytes a chunk). A holder's path is
/// read from the manifest only for a chunk that is used.
struct ChunkIndex<'a> {
    dest: &'a EntryStore,
    /// The path found last: the chunks of one file are mostly reused from one file.
    last_path: std::cell::RefCell<Option<(u32, RelPath)>>,
    /// Every chunk of every non-empty file.
    chunks: Vec<Located>,
    /// Files of several chunks, by file hash (a one-chunk file's hash is its chunk's).
    files: Vec<(ContentHash, u32)>,
}

/// A chunk of destination file `entry` (its index in the manifest).
struct Located {
    hash: ContentHash,
    offset: u64,
    entry: u32,
    /// The chunk's length, with [`WHOLE`] set when it is its file's only chunk.
    len: u32,
}

/// In [`Located::len`]: the chunk is the whole file (a chunk is at most 64 KiB).
const WHOLE: u32 = 1 << 31;

impl<'a> ChunkIndex<'a> {
    fn build(dest: &'a StoredManifest) -> Self {
        let digests = || {
            dest.entries.iter().enumerate().filter_map(|(i, e)| match e.kind {
                Kind::File(d) if d.size > 0 => {
                    let entry = u32::try_from(i).expect("a manifest holds fewer than 2^32 entries");
                    Some((entry, d))
                }
                _ => None,
            })
        };
        // Counted first: built in one allocation of the size it needs.
        let (mut n_chunks, mut n_files) = (0, 0);
        for (_, d) in digests() {
            n_chunks += d.chunk_count();
            n_files += usize::from(!d.stored_chunks().is_empty());
        }
        let mut chunks = Vec::with_capacity(n_chunks);
        let mut files = Vec::with_capacity(n_files);
        for (entry, d) in digests() {
            let whole = if d.stored_chunks().is_empty() { WHOLE } else { 0 };
            if whole == 0 {
                files.push((d.hash, entry));
            }
            for ChunkAt { offset, hash, len } in d.chunks_at() {
                chunks.push(Located { hash, offset, entry, len: len | whole });
            }
        }
        // Unstable is enough: (hash, entry, offset) is unique.
        chunks.sort_unstable_by(|a, b| {
            (a.hash.0, a.entry, a.offset).cmp(&(b.hash.0, b.entry, b.offset))
        });
        files.sort_unstable_by_key(|f| (f.0.0, f.1));
        ChunkIndex { dest: &dest.entries, last_path: Default::default(), chunks, files }
    }

    /// The path of destination entry `entry`.
    fn path(&self, entry: u32) -> Option<RelPath> {
        let mut last = self.last_path.borrow_mut();
        if let Some((i, p)) = &*last
            && *i == entry
        {
            return Some(p.clone());
        }
        let path = self.dest.path_at(u64::from(entry))?;
        *last = Some((entry, path.clone()));
        Some(path)
    }

    /// The chunks with this hash, first in path order first.
    fn chunks_of(&self, hash: &ContentHash) -> &[Located] {
        let from = self.chunks.partition_point(|c| c.hash.0 < hash.0);
        let to = from + self.chunks[from..].partition_point(|c| c.hash == *hash);
        &self.chunks[from..to]
    }

    /// The first destination chunk like `c` (same hash, same length).
    fn located(&self, c: &ChunkAt) -> Option<&Located> {
        self.chunks_of(&c.hash).first().filter(|first| first.len & !WHOLE == c.len)
    }

    /// A destination file and offset holding chunk `c`.
    fn holder(&self, c: &ChunkAt) -> Option<(RelPath, u64)> {
        let first = self.located(c)?;
        Some((self.path(first.entry)?, first.offset))
    }

    /// The first destination file, in path order, whose content is that of `d`.
    fn file(&self, d: &FileDigest) -> Option<RelPath> {
        let entry = if d.stored_chunks().is_empty() {
            // A one-chunk file: a chunk that is its file's whole content.
            let whole = |c: &&Located| c.len & WHOLE != 0 && u64::from(c.len & !WHOLE) == d.size;
            self.chunks_of(&d.hash).iter().find(whole)?.entry
        } else {
            let from = self.files.partition_point(|f| f.0.0 < d.hash.0);
            self.files.get(from).filter(|f| f.0 == d.hash)?.1
        };
        self.path(entry)
    }
}

/// How to build the content of `entry` (if it is a file) from the destination's chunks.
fn file_recipe(entry: &Entry, index: &ChunkIndex<'_>) -> Option<Recipe> {
    let Kind::File(d) = &entry.kind else {
        return None;
    };
    if let Some(from) = index.file(d) {
        return Some(Recipe::Copy(from));
    }
    // Read twice from the digest rather than copied: a large file's list is megabytes.
    if !d.chunks_at().any(|c| index.located(&c).is_some()) {
        return Some(Recipe::SendAll);
    }
    let pieces = d.chunks_at().map(|c| match index.holder(&c) {
        Some((from, offset)) => Piece::Reuse { from, offset, len: u64::from(c.len), hash: c.hash },
        None => Piece::send(c),
    });
    Some(Recipe::Pieces(pieces.collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::chunk::ChunkRef;
    use crate::tree::manifest::tests::{e, file};
    use crate::tree::manifest::{Meta, Mtime};

    /// A sync holds an entry per file, a plan a change per entry it does not create plainly, a
    /// commit an operation per entry, each with a path: their sizes are part of the memory
    /// budget (docs/performance.md).
    #[test]
    fn per_entry_records_stay_compact() {
        assert!(std::mem::size_of::<Change>() <= 32, "{}", std::mem::size_of::<Change>());
        // 88 bytes, 8 for the pointer to the entry's extended attributes and 8 for its sparse
        // flag (padding): an entry is decoded one at a time (a store holds them encoded, about
        // 66 bytes each), so only a plan's kept entries are held at this size.
        let entry = std::mem::size_of::<Entry>();
        assert!(entry <= 104, "{entry}");
        assert_eq!(std::mem::size_of::<crate::tree::manifest::Xattrs>(), 8);
        let op = std::mem::size_of::<crate::transport::CommitOp>();
        assert!(op <= 24, "{op}");
        assert_eq!(std::mem::size_of::<RelPath>(), 8);
        // And a re-sync's index, an item per destination chunk.
        assert_eq!(std::mem::size_of::<Located>(), 48);
    }

    /// Chunks whose hashes share all but their last byte are told apart: the chunk index sorts
    /// and compares whole hashes (it once kept only their first 8 bytes).
    #[test]
    fn chunks_sharing_an_index_key_are_told_apart_by_their_whole_hash() {
        use crate::tree::chunk::FileDigest;
        let hash = |last: u8| {
            let mut h = [7u8; 32];
            h[31] = last;
            ContentHash(h)
        };
        let one_chunk = |path: &str, last: u8| {
            e(path, Kind::File(FileDigest::new(100, hash(last), Vec::new()).unwrap()))
        };
        // "a" comes first in path order and shares the key of "b" and of everything sent.
        let dest = m(vec![one_chunk("a", 1), one_chunk("b", 2)]);
        let two = FileDigest::of_chunks(vec![
            ChunkRef { len: 100, hash: hash(2) },
            ChunkRef { len: 50, hash: hash(3) },
        ]);
        let source = m(vec![
            one_chunk("a", 1),
            one_chunk("b", 2),
            one_chunk("copy-of-b", 2),
            one_chunk("new", 3),
            e("pieces", Kind::File(two)),
        ]);
        let p = plan_default(&source, &dest);
        let recipe = |path: &str| {
            p.iter().find(|c| c.path.display().to_string() == path).unwrap().recipe.cloned()
        };
        assert_eq!(recipe("copy-of-b"), Some(Recipe::Copy(RelPath::new("b").unwrap())));
        assert_eq!(recipe("new"), Some(Recipe::SendAll));
        let Some(Recipe::Pieces(pieces)) = recipe("pieces") else { panic!("{p:?}") };
        assert_eq!(
            pieces[..],
            [
                Piece::Reuse {
                    from: RelPath::new("b").unwrap(),
                    offset: 0,
                    len: 100,
                    hash: hash(2)
                },
                Piece::Send { offset: 100, len: 50, hash: hash(3) },
            ]
        );
    }

    /// Plain creations are stored as runs: a first sync is one record, however large the tree,
    /// and reads back as a change per entry, each file sending all its bytes. A kept destination
    /// entry between two creations, or a creation that copies, ends a run.
    #[test]
    fn plain_creations_are_stored_as_runs_and_read_back_one_by_one() {
        let source = m(vec![
            e("a", Kind::Dir),
            file("a/one", b"1"),
            file("a/empty", b""),
            e("a/link", Kind::Symlink(b"one".to_vec())),
            file("b", b"copied"),
            file("c", b"3"),
            file("e", b"5"),
        ]);
        let first = plan_default(&source, &Manifest::default());
        assert_eq!(first.changes.len(), 1, "{:?}", first.changes);
        assert_eq!((first.len(), first.iter().count()), (7, 7));
        let paths: Vec<_> = first.iter().map(|c| c.path.clone()).collect();
        let expected: Vec<_> = source.entries.iter().map(|e| e.path.clone()).collect();
        assert_eq!(paths, expected);
        for c in first.iter() {
            assert_eq!(c.action, Action::Create);
            assert_eq!(c.new.as_ref().map(|n| &n.path), Some(&c.path));
            let file = c.new.unwrap().digest().is_some();
            assert_eq!(c.recipe, file.then_some(&Recipe::SendAll), "{}", c.path.display());
        }
        assert_eq!(first.change(4).path.display().to_string(), "b");
        assert_eq!(first.stats.created, 7);
        assert_eq!(first.stats.bytes_to_send, 1 + 6 + 1 + 1);

        // "b" copies "d/b" (kept, with --no-delete), "d" sits between "c" and "e".
        let dest = m(vec![e("d", Kind::Dir), file("d/b", b"copied")]);
        let opts = PlanOptions { delete: false, ..PlanOptions::default() };
        let p = plan(&source, &dest, &[], &opts);
        assert_eq!(p.changes.len(), 4, "{:?}", p.changes);
        assert_eq!(
            summary(&p),
            expected.iter().map(|p| format!("create {}", p.display())).collect::<Vec<_>>()
        );
        let b = p.iter().find(|c| c.path.display().to_string() == "b").unwrap();
        assert_eq!(b.recipe, Some(&Recipe::Copy(RelPath::new("d/b").unwrap())));
        // Every change points at its own entry of the new manifest, around the kept ones.
        for c in p.iter() {
            assert_eq!(p.new_manifest().get(&c.path), c.new);
        }
        assert_eq!(p.new_manifest().to_manifest().entries.len(), 9);
    }

    /// A few changes far apart in a large tree: each change's entry is found by reading on, or
    /// by starting again near it, among the source's entries and the kept ones.
    #[test]
    fn changes_far_apart_in_a_large_tree_name_their_own_entries() {
        let name = |i: usize| format!("f{i:05}");
        let mut source = vec![e("d", Kind::Dir)];
        let mut dest = source.clone();
        for i in 0..3000 {
            source.push(file(&format!("d/{}", name(i)), b"same"));
            let old: &[u8] = if i % 997 == 5 { b"old" } else { b"same" };
            dest.push(file(&format!("d/{}", name(i)), old));
            if i % 1200 == 7 {
                dest.push(file(&format!("d/{}x", name(i)), b"only here"));
            }
        }
        let (source, dest) = (m(source), m(dest));
        let opts = PlanOptions { delete: false, ..PlanOptions::default() };
        let p = plan(&source, &dest, &[], &opts);
        let updated: Vec<_> = (0..3000).filter(|i| i % 997 == 5).map(name).collect();
        assert_eq!(
            summary(&p),
            updated.iter().map(|n| format!("update d/{n}")).collect::<Vec<_>>()
        );
        for c in p.iter() {
            assert_eq!(c.new.as_ref(), source.get(&c.path), "{}", c.path.display());
            assert_eq!(c.old, dest.get(&c.path));
        }
        assert_eq!(p.stats.kept, 3);
        let new = p.new_manifest().to_manifest();
        let mut want = source.entries.clone();
        want.extend(
            dest.entries.iter().filter(|e| e.path.display().to_string().ends_with('x')).cloned(),
        );
        want.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(new.entries, want);
        for e in &want {
            assert_eq!(p.new_manifest().get(&e.path).as_ref(), Some(e));
        }
    }

    /// Entries read back from temporary files plan exactly as entries held in memory: changes,
    /// recipes (a renamed file found through the chunk index) and the new manifest.
    #[test]
    fn a_plan_of_spilled_entries_is_the_plan_of_held_ones() {
        let mut source = vec![e("d", Kind::Dir)];
        let mut dest = source.clone();
        for i in 0..20_000 {
            let path = format!("d/f{i:05}");
            let content = format!("file {i}");
            source.push(file(&path, content.as_bytes()));
            if i % 5000 != 3 {
                dest.push(file(&path, if i % 7000 == 1 { b"old" } else { content.as_bytes() }));
            }
        }
        dest.push(file("d/renamed-away", b"file 5003"));
        let (source, dest) = (m(source), m(dest));
        let spill = |m: &Manifest| {
            let (stored, _) = StoredManifest::read_file(&m.encode()[..]).unwrap();
            assert!(stored.entries.spilled());
            stored
        };
        let spilled =
            plan_owned(spill(&source).entries, &spill(&dest), &[], &PlanOptions::default());
        let held = plan(&source, &dest, &[], &PlanOptions::default());
        assert_eq!(spilled.iter().collect::<Vec<_>>(), held.iter().collect::<Vec<_>>());
        assert_eq!(spilled.stats, held.stats);
        assert_eq!(spilled.new_manifest().to_manifest(), held.new_manifest().to_manifest());
        let moved = spilled.iter().find(|c| c.path.display().to_string() == "d/f05003").unwrap();
        assert_eq!(moved.recipe, Some(&Recipe::Copy(RelPath::new("d/renamed-away").unwrap())));
        assert!(moved.renamed);
        assert_eq!(held.stats.updated, 3);
        assert_eq!(held.stats.created, 4);
    }

    /// A one-chunk file is copied whole only from a one-chunk file, even where a larger file
    /// that comes first holds the same bytes as a chunk; ranges come from the first holder.
    #[test]
    fn whole_copies_come_from_whole_files_and_ranges_from_the_first_holder() {
        let big = crate::tree::chunk::tests::noise(9, 300_000);
        let digest = file("x", &big).digest().cloned().unwrap();
        let first = digest.chunks()[0];
        let head = &big[..first.len as usize];
        let dest = m(vec![
            e("a", Kind::Dir),
            file("a/big", &big),
            e("z", Kind::Dir),
            file("z/small", head),
            file("z/twin", head),
        ]);
        let source = m(vec![file("n", head), file("o", &big)]);
        let p = plan_default(&source, &dest);
        let recipe = |path: &str| {
            p.iter().find(|c| c.path.display().to_string() == path).unwrap().recipe.cloned()
        };
        assert_eq!(recipe("n"), Some(Recipe::Copy(RelPath::new("z/small").unwrap())));
        assert_eq!(recipe("o"), Some(Recipe::Copy(RelPath::new("a/big").unwrap())));
        // A file starting like the big one reuses its first chunk from there. (A cut depends on
        // the byte after it too, so the shared start runs past the first cut.)
        let shared = (first.len + digest.chunks()[1].len) as usize + 1000;
        let mut grown = big[..shared].to_vec();
        grown.extend_from_slice(&crate::tree::chunk::tests::noise(10, 100_000));
        let p = plan_default(&m(vec![file("g", &grown)]), &dest);
        let g = p.iter().find(|c| c.path.display().to_string() == "g").unwrap();
        let pieces = match g.recipe {
            Some(Recipe::Pieces(pieces)) => pieces,
            other => panic!("{other:?}"),
        };
        let reused_from_big = matches!(&pieces[0],
            Piece::Reuse { from, offset: 0, .. } if from.display().to_string() == "a/big");
        assert!(reused_from_big, "{pieces:?}");
    }

    fn m(entries: Vec<Entry>) -> Manifest {
        let mut m = Manifest { generation: 1, entries };
        m.sort();
        m.validate().unwrap();
        m
    }

    fn summary(p: &Plan) -> Vec<String> {
        p.iter().map(|c| format!("{} {}", c.action.name(), c.path.display())).collect()
    }

    fn plan_default(s: &Manifest, d: &Manifest) -> Plan {
        plan(s, d, &[], &PlanOptions::default())
    }

    #[test]
    fn table_of_basic_changes() {
        let dir = || e("d", Kind::Dir);
        type Case = (&'static str, Vec<Entry>, Vec<Entry>, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            ("no change", vec![dir(), file("d/a", b"1")], vec![dir(), file("d/a", b"1")], vec![]),
            ("create", vec![dir(), file("d/a", b"1")], vec![], vec!["create d", "create d/a"]),
            ("update", vec![file("a", b"new")], vec![file("a", b"old")], vec!["update a"]),
            ("delete", vec![], vec![dir(), file("d/a", b"1")], vec!["delete d"]),
            (
                "file to dir",
                vec![dir(), file("d/x", b"1")],
                vec![file("d", b"was a file")],
                vec!["replace d", "create d/x"],
            ),
            (
                "dir to symlink",
                vec![e("d", Kind::Symlink(b"elsewhere".to_vec()))],
                vec![dir(), file("d/a", b"1"), file("d/b", b"2")],
                vec!["replace d"],
            ),
            (
                "symlink target",
                vec![e("l", Kind::Symlink(b"x".to_vec()))],
                vec![e("l", Kind::Symlink(b"y".to_vec()))],
                vec!["update l"],
            ),
        ];
        for (name, s, d, want) in cases {
            let p = plan_default(&m(s.clone()), &m(d));
            assert_eq!(summary(&p), want, "case {name}");
            assert_eq!(
                p.new_manifest().to_manifest().entries,
                m(s).entries,
                "case {name}: new manifest"
            );
        }
    }

    #[test]
    fn metadata_only() {
        let mut s = file("a", b"same");
        s.meta = Meta { mode: 0o600, mtime: Mtime { secs: 5, nanos: 1 }, ..Default::default() };
        let p = plan_default(&m(vec![s]), &m(vec![file("a", b"same")]));
        assert_eq!(summary(&p), ["metadata a"]);
        assert_eq!(p.stats.bytes_to_send, 0);
        assert!(p.change(0).recipe.is_none());
    }

    #[test]
    fn deletes_count_descendants_and_skip_siblings_with_similar_names() {
        let d = m(vec![
            e("a", Kind::Dir),
            file("a/1", b"one"),
            e("a/sub", Kind::Dir),
            file("a/sub/2", b"two"),
            file("a-b", b"sibling"),
        ]);
        let s = m(vec![file("a-b", b"sibling")]);
        let p = plan_default(&s, &d);
        assert_eq!(summary(&p), ["delete a"]);
        assert_eq!(p.change(0).removed_entries, 4);
        assert_eq!(p.change(0).removed_bytes, 6);
        assert_eq!(p.stats.deleted, 4);
    }

    #[test]
    fn no_delete_keeps_extra_entries_in_the_new_manifest() {
        let d = m(vec![e("a", Kind::Dir), file("a/1", b"one"), file("b", b"b")]);
        let s = m(vec![file("b", b"b")]);
        let p = plan(&s, &d, &[], &PlanOptions { delete: false, ..Default::default() });
        assert!(p.is_empty());
        assert_eq!(p.new_manifest().to_manifest().entries, d.entries);
        assert_eq!(p.stats.kept, 2);
    }

    #[test]
    fn protected_paths_are_kept_but_others_mirror() {
        let d = m(vec![e("a", Kind::Dir), file("a/1", b"one"), file("b", b"b"), file("c", b"c")]);
        let s = m(vec![e("a", Kind::Dir), file("c", b"c")]);
        let protected = [RelPath::new("a").unwrap()];
        let p = plan(&s, &d, &protected, &PlanOptions::default());
        assert_eq!(summary(&p), ["delete b"]);
        assert!(p.new_manifest().get(&RelPath::new("a/1").unwrap()).is_some());
        p.new_manifest().to_manifest().validate().unwrap();
    }

    #[test]
    fn kept_entries_under_a_replaced_dir_are_not_orphaned() {
        let d = m(vec![e("a", Kind::Dir), file("a/1", b"one")]);
        let s = m(vec![file("a", b"now a file")]);
        let p = plan(&s, &d, &[], &PlanOptions { delete: false, ..Default::default() });
        assert_eq!(summary(&p), ["replace a"]);
        assert_eq!(p.change(0).removed_entries, 2);
        p.new_manifest().to_manifest().validate().unwrap();
    }

    #[test]
    fn renames_and_copies_reuse_destination_bytes() {
        let content = crate::tree::chunk::tests::noise(5, 300_000);
        let d = m(vec![file("old", &content), file("keep", b"k")]);
        let s = m(vec![file("keep", b"k"), file("new", &content), file("copy-of-keep", b"k")]);
        let p = plan_default(&s, &d);
        assert_eq!(summary(&p), ["create copy-of-keep", "create new", "delete old"]);
        assert_eq!(p.stats.bytes_to_send, 0);
        assert_eq!(p.stats.bytes_reused, content.len() as u64 + 1);
        let new = &p.change(1);
        assert!(new.renamed);
        assert_eq!(new.recipe.unwrap().whole_copy_of(), Some(&RelPath::new("old").unwrap()));
        assert!(!p.change(0).renamed);
    }

    #[test]
    fn an_edit_in_a_large_file_sends_only_the_changed_chunks() {
        let content = crate::tree::chunk::tests::noise(9, 2_000_000);
        let mut edited = content.clone();
        edited[1_000_000..1_000_100].fill(b'!');
        let p = plan_default(&m(vec![file("big", &edited)]), &m(vec![file("big", &content)]));
        assert_eq!(summary(&p), ["update big"]);
        let sent = p.stats.bytes_to_send;
        assert!(sent > 0 && sent <= 3 * crate::tree::chunk::MAX_CHUNK as u64, "sent {sent}");
        assert_eq!(sent + p.stats.bytes_reused, edited.len() as u64);
    }

    #[test]
    fn recipes_take_the_cheapest_form_and_expand_to_the_same_pieces() {
        let content = crate::tree::chunk::tests::noise(3, 400_000);
        let mut edited = content.clone();
        edited[200_000..200_010].fill(b'#');
        let d = m(vec![file("a", &content)]);
        let s = m(vec![file("a", &content), file("b", &edited), file("c", b"fresh")]);
        let p = plan_default(&s, &d);
        assert_eq!(summary(&p), ["create b", "create c"]);
        let (b, c) = (p.change(0), p.change(1));
        let Some(Kind::File(digest)) = b.new.as_ref().map(|e| &e.kind) else {
            panic!("b is a file")
        };
        let pieces = b.recipe.unwrap().pieces(digest);
        assert!(matches!(b.recipe, Some(Recipe::Pieces(_))));
        assert_eq!(pieces.iter().map(Piece::len).sum::<u64>(), edited.len() as u64);
        assert!(pieces.iter().any(|p| matches!(p, Piece::Reuse { .. })));
        assert!(pieces.iter().any(|p| matches!(p, Piece::Send { .. })));
        assert_eq!(b.bytes_to_send() + b.bytes_reused(), edited.len() as u64);
        // Nothing at the destination matches "fresh": sent whole, without a piece list.
        assert_eq!(c.recipe, Some(&Recipe::SendAll));
        assert_eq!(c.bytes_to_send(), 5);
        let Some(Kind::File(digest)) = c.new.as_ref().map(|e| &e.kind) else {
            panic!("c is a file")
        };
        let all = Recipe::SendAll.pieces(digest);
        assert_eq!(&*all, &[Piece::Send { offset: 0, len: 5, hash: digest.hash }]);
        assert_eq!(p.stats.bytes_to_send, b.bytes_to_send() + 5);
    }
}
