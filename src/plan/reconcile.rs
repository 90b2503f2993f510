//! Two-way reconciliation: a pure function from (the last common manifest, replica A's tree,
//! replica B's tree, policy) to the one tree both replicas are to hold, and the conflicts met on
//! the way.
//!
//! Each replica's changes are what differs between its tree and the *base*, the manifest both
//! agreed on at the end of their last two-way sync (as Unison's archives). A path changed on one
//! side only takes that side's entry; changed on both sides to the same thing, it is no conflict;
//! changed on both sides differently, it is a conflict, decided so that no side's bytes are lost:
//!
//! - both sides wrote content: the winner (the newer one, ties broken by content hash, so the
//!   same versions give the same winner wherever they meet) takes the path and the loser is kept
//!   beside it as `NAME.tern-conflict-<host>-<time>.EXT` on both replicas; with `--prefer` the
//!   preferred side wins and the other version goes only to its replica's trash;
//! - one side changed what the other deleted: the changed entry is kept (the deletion loses);
//! - a directory against anything else: the directory wins, the other entry is kept as a copy;
//! - metadata only (both changed mode or attributes differently): the winner's metadata, no copy;
//!   the same content written on both sides at other times is no conflict (the newer mtime).
//!
//! A directory that the tree still needs (something below it is kept) is kept too, whatever
//! happened to it. Owners and the mtime of directories are not compared: neither is a change a
//! user makes, and a replica that cannot set owners would see a change at every run.
//!
//! What is applied to each replica is then an ordinary one-way [`crate::plan::Plan`] from
//! [`Reconciled::target`] to that replica's tree, so a two-way sync carries out changes with the
//! same machinery, staging and crash safety as a one-way sync.

use crate::tree::manifest::{Entry, Kind, Manifest, Mtime};
use crate::tree::path::RelPath;
use std::collections::BTreeMap;

/// One of the two replicas of a two-way sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// Who wins a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// The newer version takes the path and the other is kept beside it (the default).
    #[default]
    KeepBoth,
    /// The newer version wins; the other goes to its replica's trash only.
    PreferNewer,
    /// This side's version wins; the other goes to its replica's trash only.
    Prefer(Side),
}

/// How a path came to be a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictKind {
    /// Both sides wrote different content (or made different kinds of entry) at the path.
    BothChanged,
    /// One side changed the entry, the other deleted it: the changed entry is kept.
    ChangedDeleted,
    /// A directory and another kind of entry met at the path: the directory is kept.
    DirectoryKept,
    /// Both sides changed only metadata, differently: the winner's is kept.
    Metadata,
}

impl ConflictKind {
    pub fn describe(self) -> &'static str {
        match self {
            ConflictKind::BothChanged => "changed on both sides",
            ConflictKind::ChangedDeleted => "changed on one side, deleted on the other",
            ConflictKind::DirectoryKept => "a directory on one side, something else on the other",
            ConflictKind::Metadata => "metadata changed on both sides",
        }
    }
}

/// A conflict and how it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub path: RelPath,
    pub kind: ConflictKind,
    /// The side whose version takes the path.
    pub winner: Side,
    /// Where the other side's version is kept on both replicas, when it is kept beside.
    pub copy: Option<RelPath>,
}

/// `PATH: changed on both sides; b's version wins, a's kept as COPY`.
impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (won, lost) = (self.winner.name(), self.winner.other().name());
        write!(f, "{}: {}; {won}'s version wins", self.path.display(), self.kind.describe())?;
        match &self.copy {
            Some(copy) => write!(f, ", {lost}'s kept as {}", copy.display()),
            None if self.kind == ConflictKind::BothChanged => {
                write!(f, ", {lost}'s goes to its trash")
            }
            None => Ok(()),
        }
    }
}

/// The inputs that name a conflict copy.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    /// A host name for each side (`a`, `b`), put into the names of conflict copies.
    pub hosts: [String; 2],
}

/// What reconciliation decided.
#[derive(Debug, Clone, Default)]
pub struct Reconciled {
    /// The tree both replicas are to hold.
    pub target: Manifest,
    pub conflicts: Vec<Conflict>,
    /// Conflict copies of side B's versions: the copy's path and the path whose bytes B holds
    /// now. Replica A, which is brought to the target first, reads them there; B keeps the same
    /// bytes at the copy's path once A holds them.
    pub copies_of_b: Vec<(RelPath, RelPath)>,
}

/// Whether two entries have the same kind and content (a file's hash, a link's target).
fn same_content(x: &Entry, y: &Entry) -> bool {
    match (&x.kind, &y.kind) {
        (Kind::File(a), Kind::File(b)) => a.hash == b.hash && a.size == b.size,
        (Kind::Dir, Kind::Dir) => true,
        (a, b) => a == b,
    }
}

/// Whether two entries are the same as far as two-way sync is concerned: the same content and
/// the metadata a user changes (mode, attributes, and for all but directories the mtime).
fn same(x: Option<&Entry>, y: Option<&Entry>) -> bool {
    match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => {
            same_but_mtime(x, y) && (x.kind == Kind::Dir || x.meta.mtime == y.meta.mtime)
        }
        _ => false,
    }
}

/// The same content, mode and attributes: written alike, if perhaps at other times.
fn same_but_mtime(x: &Entry, y: &Entry) -> bool {
    same_content(x, y) && x.meta.mode == y.meta.mode && x.meta.xattrs == y.meta.xattrs
}

/// Which of two different versions is newer: the later mtime, then the larger content hash (or
/// link target), then A. Depends only on the two versions, never on which replica is which,
/// except for versions equal in all of those.
fn newer(a: &Entry, b: &Entry) -> Side {
    let key = |e: &Entry| {
        let Mtime { secs, nanos } = e.meta.mtime;
        let content = match &e.kind {
            Kind::Symlink(t) => t.clone(),
            _ => e.digest().map(|d| d.hash.0.to_vec()).unwrap_or_default(),
        };
        (secs, nanos, content)
    };
    if key(b) > key(a) { Side::B } else { Side::A }
}

/// Reconcile: see the module documentation. `protected` are paths a scan could not read on
/// either side: nothing at or below them changes on either side, and [`next_base`] keeps their
/// base entries.
pub fn reconcile(
    base: &Manifest,
    a: &Manifest,
    b: &Manifest,
    protected: &[RelPath],
    policy: Policy,
    labels: &Labels,
) -> Reconciled {
    let mut target: BTreeMap<RelPath, Entry> = BTreeMap::new();
    let mut conflicts = Vec::new();
    // Losers to keep beside the winner: (path, side, entry).
    let mut keep_beside: Vec<(RelPath, Side, Entry)> = Vec::new();
    let mut paths: Vec<&RelPath> =
        base.entries.iter().chain(&a.entries).chain(&b.entries).map(|e| &e.path).collect();
    paths.sort();
    paths.dedup();
    for p in paths {
        let (o, ea, eb) = (base.get(p), a.get(p), b.get(p));
        if protected.iter().any(|q| p.is_within(q)) {
            if let Some(e) = ea.or(eb).or(o) {
                target.insert(p.clone(), e.clone());
            }
            continue;
        }
        let (ca, cb) = (!same(ea, o), !same(eb, o));
        let take = match (ca, cb) {
            (false, false) => ea.or(eb),
            (true, false) => ea,
            (false, true) => eb,
            (true, true) if same(ea, eb) => ea,
            (true, true) => match (ea, eb) {
                (None, None) => None,
                (None, Some(e)) | (Some(e), None) => {
                    let winner = if ea.is_some() { Side::A } else { Side::B };
                    let kind = ConflictKind::ChangedDeleted;
                    conflicts.push(Conflict { path: p.clone(), kind, winner, copy: None });
                    Some(e)
                }
                (Some(x), Some(y)) => {
                    let (x_dir, y_dir) = (x.kind == Kind::Dir, y.kind == Kind::Dir);
                    let by_policy = match policy {
                        Policy::KeepBoth | Policy::PreferNewer => newer(x, y),
                        Policy::Prefer(side) => side,
                    };
                    let (winner, kind, keep) = if x_dir != y_dir {
                        let w = if x_dir { Side::A } else { Side::B };
                        (w, ConflictKind::DirectoryKept, true)
                    } else if same_but_mtime(x, y) {
                        // The same bytes written on both sides, at other times: no conflict;
                        // the newer mtime is kept, as the winner of one would be.
                        target
                            .insert(p.clone(), if newer(x, y) == Side::A { x } else { y }.clone());
                        continue;
                    } else if same_content(x, y) {
                        (by_policy, ConflictKind::Metadata, false)
                    } else {
                        (by_policy, ConflictKind::BothChanged, policy == Policy::KeepBoth)
                    };
                    let (won, lost) = if winner == Side::A { (x, y) } else { (y, x) };
                    if keep {
                        keep_beside.push((p.clone(), winner.other(), lost.clone()));
                    }
                    conflicts.push(Conflict { path: p.clone(), kind, winner, copy: None });
                    Some(won)
                }
            },
        };
        if let Some(e) = take {
            target.insert(p.clone(), e.clone());
        }
    }

    // Every directory above a kept entry must be one: restore one that was deleted, and keep
    // beside it whatever non-directory took its path. Parents come first in path order, so a
    // copy lands in a directory already settled.
    let mut needed: Vec<RelPath> = target
        .keys()
        .filter_map(RelPath::parent)
        .flat_map(|p| p.self_and_ancestors().collect::<Vec<_>>())
        .collect();
    needed.sort();
    needed.dedup();
    for d in needed {
        if target.get(&d).is_some_and(|e| e.kind == Kind::Dir) {
            continue;
        }
        let dir_of = |m: &Manifest| m.get(&d).filter(|e| e.kind == Kind::Dir).cloned();
        let (side, dir) = match (dir_of(a), dir_of(b)) {
            (Some(e), _) => (Side::A, e),
            (None, Some(e)) => (Side::B, e),
            // Neither side has it as a directory, yet something below it is kept: only
            // possible for a protected path's parent, which stays as it is.
            (None, None) => continue,
        };
        match target.insert(d.clone(), dir) {
            Some(other) => {
                let lost_side = if a.get(&d) == Some(&other) { Side::A } else { Side::B };
                keep_beside.push((d.clone(), lost_side, other));
                conflicts.retain(|c| c.path != d);
                let kind = ConflictKind::DirectoryKept;
                conflicts.push(Conflict { path: d.clone(), kind, winner: side, copy: None });
            }
            None if !conflicts.iter().any(|c| c.path == d) => {
                let kind = ConflictKind::ChangedDeleted;
                conflicts.push(Conflict { path: d.clone(), kind, winner: side, copy: None });
            }
            None => {}
        }
    }

    let mut copies_of_b = Vec::new();
    for (path, side, lost) in keep_beside {
        // Directories are never kept beside: a directory always wins.
        if lost.kind == Kind::Dir {
            continue;
        }
        let host = &labels.hosts[if side == Side::A { 0 } else { 1 }];
        let copy = copy_name(&path, host, lost.meta.mtime, |c| {
            // A name taken by other content is passed over; one holding this very version (a
            // run stopped after it made the copy on one side) is used again.
            let holds = |e: Option<&Entry>| e.is_some_and(|e| same_content(e, &lost));
            let free = |e: Option<&Entry>| e.is_none() || holds(e);
            free(target.get(c)) && free(a.get(c)) && free(b.get(c))
        });
        let Some(copy) = copy else { continue };
        if side == Side::B {
            copies_of_b.push((copy.clone(), path.clone()));
        }
        if let Some(c) = conflicts.iter_mut().rev().find(|c| c.path == path) {
            c.copy = Some(copy.clone());
        }
        target.insert(copy.clone(), Entry { path: copy, ..lost });
    }
    conflicts.sort_by(|x, y| x.path.cmp(&y.path));
    let target = Manifest { generation: 0, entries: target.into_values().collect() };
    Reconciled { target, conflicts, copies_of_b }
}

/// `dir/NAME.tern-conflict-<host>-<time>.EXT` for `path`, the first of it, `…-2`, `…-3`… that
/// `free` accepts (`None` if a hundred are taken).
fn copy_name(
    path: &RelPath,
    host: &str,
    mtime: Mtime,
    free: impl Fn(&RelPath) -> bool,
) -> Option<RelPath> {
    let name = path.components().last().unwrap_or_default();
    // The extension is what follows the last dot, unless the dot starts the name.
    let (stem, ext) = match name.iter().rposition(|&c| c == b'.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, &b""[..]),
    };
    let host: String =
        host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let time = crate::util::timefmt::compact(mtime.secs);
    (1..=100).find_map(|n| {
        let mut copy = stem.to_vec();
        copy.extend_from_slice(format!(".tern-conflict-{host}-{time}").as_bytes());
        if n > 1 {
            copy.extend_from_slice(format!("-{n}").as_bytes());
        }
        copy.extend_from_slice(ext);
        let copy = match path.parent() {
            Some(parent) => parent.join(&copy).ok()?,
            None => RelPath::new(copy).ok()?,
        };
        free(&copy).then_some(copy)
    })
}

/// The base the next two-way sync starts from, once both replicas hold `target`: the target,
/// except where a replica did not take it (`skipped`: files one side could not write) and at
/// or below `protected` paths, which keep their entries of `old` (or none), so that the next
/// run sees them as it saw them this time.
pub fn next_base(
    target: &Manifest,
    old: &Manifest,
    skipped: &[RelPath],
    protected: &[RelPath],
    generation: u64,
) -> Manifest {
    let held_back = |p: &RelPath| skipped.contains(p) || protected.iter().any(|q| p.is_within(q));
    let mut entries: BTreeMap<RelPath, Entry> = target
        .entries
        .iter()
        .filter(|e| !held_back(&e.path))
        .map(|e| (e.path.clone(), e.clone()))
        .collect();
    for e in old.entries.iter().filter(|e| held_back(&e.path)) {
        // An old entry under a path the target has as no directory would not be a tree.
        let parent_ok =
            e.path.parent().is_none_or(|p| entries.get(&p).is_some_and(|d| d.kind == Kind::Dir));
        if parent_ok {
            entries.insert(e.path.clone(), e.clone());
        }
    }
    Manifest { generation, entries: entries.into_values().collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::manifest::Meta;

    fn file(path: &str, data: &str, secs: i64) -> Entry {
        let digest = crate::tree::chunk::digest_reader(data.as_bytes()).unwrap();
        let meta = Meta { mode: 0o644, mtime: Mtime { secs, nanos: 0 }, ..Meta::default() };
        Entry { path: RelPath::new(path).unwrap(), meta, kind: Kind::File(digest) }
    }

    fn dir(path: &str) -> Entry {
        let meta = Meta { mode: 0o755, ..Meta::default() };
        Entry { path: RelPath::new(path).unwrap(), meta, kind: Kind::Dir }
    }

    fn tree(entries: Vec<Entry>) -> Manifest {
        let mut m = Manifest { generation: 0, entries };
        m.sort();
        m
    }

    fn labels() -> Labels {
        Labels { hosts: ["hosta".into(), "hostb".into()] }
    }

    fn names(m: &Manifest) -> Vec<String> {
        m.entries.iter().map(|e| e.path.display().to_string()).collect()
    }

    fn run(base: Vec<Entry>, a: Vec<Entry>, b: Vec<Entry>, policy: Policy) -> Reconciled {
        reconcile(&tree(base), &tree(a), &tree(b), &[], policy, &labels())
    }

    /// Changes on one side, on both sides alike, and none, each take the changed entry, and
    /// report no conflict.
    #[test]
    fn one_sided_and_identical_changes_merge_without_conflict() {
        let r = run(
            vec![
                file("same", "s", 1),
                file("upd", "u", 1),
                file("del", "d", 1),
                file("both", "x", 1),
            ],
            vec![
                file("same", "s", 1),
                file("upd", "u2", 2),
                file("new", "n", 2),
                file("both", "y", 3),
            ],
            vec![
                file("same", "s", 1),
                file("upd", "u", 1),
                file("del", "d", 1),
                file("both", "y", 3),
            ],
            Policy::KeepBoth,
        );
        assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);
        assert_eq!(names(&r.target), ["both", "new", "same", "upd"]);
        assert_eq!(r.target.get(&RelPath::new("upd").unwrap()), Some(&file("upd", "u2", 2)));
    }

    /// Different writes on both sides: the newer takes the path, the older is kept beside it
    /// under a name with its host and time; the same versions give the same winner whichever
    /// side each is on; `--prefer` picks its side and keeps no copy.
    #[test]
    fn both_changed_keeps_the_loser_beside_the_newer() {
        let base = vec![file("r.txt", "old", 1)];
        let r = run(
            base.clone(),
            vec![file("r.txt", "A", 5)],
            vec![file("r.txt", "B", 9)],
            Policy::KeepBoth,
        );
        let copy = "r.tern-conflict-hosta-19700101-000005.txt";
        assert_eq!(names(&r.target), ["r.tern-conflict-hosta-19700101-000005.txt", "r.txt"]);
        assert_eq!(r.conflicts.len(), 1);
        let c = &r.conflicts[0];
        assert_eq!((c.kind, c.winner), (ConflictKind::BothChanged, Side::B));
        assert_eq!(c.copy.as_ref().map(|p| p.display().to_string()).as_deref(), Some(copy));
        assert!(r.copies_of_b.is_empty());
        assert_eq!(r.target.get(&RelPath::new("r.txt").unwrap()), Some(&file("r.txt", "B", 9)));

        // The same two versions, sides swapped: the same version wins.
        let swapped = run(
            base.clone(),
            vec![file("r.txt", "B", 9)],
            vec![file("r.txt", "A", 5)],
            Policy::KeepBoth,
        );
        assert_eq!(swapped.conflicts[0].winner, Side::A);
        assert_eq!(swapped.copies_of_b.len(), 1);

        let prefer = run(
            base,
            vec![file("r.txt", "A", 5)],
            vec![file("r.txt", "B", 9)],
            Policy::Prefer(Side::A),
        );
        assert_eq!(names(&prefer.target), ["r.txt"]);
        assert_eq!(prefer.conflicts[0].winner, Side::A);
        assert_eq!(prefer.conflicts[0].copy, None);
    }

    /// A change against a deletion keeps the change, and the directories above it.
    #[test]
    fn a_change_wins_over_a_deletion_with_its_directories() {
        let base = vec![dir("d"), file("d/x", "x", 1), file("d/y", "y", 1)];
        let r = run(
            base,
            vec![],
            vec![dir("d"), file("d/x", "x2", 2), file("d/y", "y", 1)],
            Policy::KeepBoth,
        );
        assert_eq!(names(&r.target), ["d", "d/x"]);
        let kinds: Vec<_> =
            r.conflicts.iter().map(|c| (c.path.display().to_string(), c.kind, c.winner)).collect();
        assert_eq!(
            kinds,
            [
                ("d".into(), ConflictKind::ChangedDeleted, Side::B),
                ("d/x".into(), ConflictKind::ChangedDeleted, Side::B)
            ]
        );
    }

    /// A file against a directory: the directory stays with what it holds, the file is kept
    /// beside it, on both replicas.
    #[test]
    fn a_directory_wins_over_a_file_which_is_kept_beside() {
        let r = run(
            vec![],
            vec![file("p", "file", 3)],
            vec![dir("p"), file("p/in", "i", 1)],
            Policy::Prefer(Side::A),
        );
        assert_eq!(names(&r.target), ["p", "p/in", "p.tern-conflict-hosta-19700101-000003"]);
        assert_eq!(r.conflicts[0].kind, ConflictKind::DirectoryKept);
        assert_eq!(r.conflicts[0].winner, Side::B);

        // The directory's side replaced a file by it, the other side edited the file.
        let r = run(
            vec![file("p", "f", 1)],
            vec![file("p", "f2", 2)],
            vec![dir("p"), file("p/in", "i", 1)],
            Policy::KeepBoth,
        );
        assert_eq!(names(&r.target), ["p", "p/in", "p.tern-conflict-hosta-19700101-000002"]);
    }

    /// A file that replaced a directory on one side while the other added to the directory: the
    /// directory is kept with the addition, the file beside it.
    #[test]
    fn a_file_replacing_a_directory_that_gained_entries_is_kept_beside() {
        let r = run(
            vec![dir("d"), file("d/x", "x", 1)],
            vec![file("d", "now a file", 4)],
            vec![dir("d"), file("d/x", "x", 1), file("d/new", "n", 2)],
            Policy::KeepBoth,
        );
        assert_eq!(names(&r.target), ["d", "d/new", "d.tern-conflict-hosta-19700101-000004"]);
        assert!(
            r.conflicts
                .iter()
                .any(|c| c.path.display().to_string() == "d"
                    && c.kind == ConflictKind::DirectoryKept)
        );
    }

    /// First run (no base): the union, identical files matched, different ones in conflict.
    #[test]
    fn a_first_run_is_a_union() {
        let r = run(
            vec![],
            vec![file("only-a", "a", 1), file("same", "s", 1), file("diff", "a", 1)],
            vec![file("only-b", "b", 1), file("same", "s", 1), file("diff", "b", 2)],
            Policy::KeepBoth,
        );
        assert_eq!(
            names(&r.target),
            ["diff", "diff.tern-conflict-hosta-19700101-000001", "only-a", "only-b", "same"]
        );
        assert_eq!(r.conflicts.len(), 1);
    }

    /// Metadata changed differently on both sides: the newer wins, nothing is copied. A mode
    /// change on one side is a change like any other.
    #[test]
    fn metadata_conflicts_take_the_winners_metadata() {
        let mut a = file("m", "same", 1);
        a.meta.mode = 0o600;
        let mut b = file("m", "same", 2);
        b.meta.mode = 0o640;
        let r = run(vec![file("m", "same", 1)], vec![a], vec![b.clone()], Policy::KeepBoth);
        assert_eq!(r.conflicts[0].kind, ConflictKind::Metadata);
        assert_eq!(names(&r.target), ["m"]);
        assert_eq!(r.target.entries[0], b);
        // Only the mtime differs: the newer, and no conflict.
        let r =
            run(vec![], vec![file("t", "same", 5)], vec![file("t", "same", 3)], Policy::KeepBoth);
        assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);
        assert_eq!(r.target.entries, [file("t", "same", 5)]);
    }

    /// A copy left by a stopped run under the name it would take again is used again, not
    /// copied a second time; another file under that name is passed over.
    #[test]
    fn a_conflict_copy_name_is_reused_for_the_same_version_only() {
        let lost = file("r.tern-conflict-hosta-19700101-000005", "A", 5);
        let r = run(
            vec![file("r", "old", 1)],
            vec![file("r", "B", 9), lost.clone()],
            vec![file("r", "B", 9)],
            Policy::KeepBoth,
        );
        // A already took B's version and made the copy; B lacks only the copy.
        assert!(r.conflicts.is_empty());
        assert_eq!(names(&r.target), ["r", "r.tern-conflict-hosta-19700101-000005"]);
        let taken = file("x.tern-conflict-hosta-19700101-000005", "other", 1);
        let r = run(
            vec![file("x", "o", 1)],
            vec![file("x", "A", 5), taken],
            vec![file("x", "B", 9)],
            Policy::KeepBoth,
        );
        assert!(names(&r.target).contains(&"x.tern-conflict-hosta-19700101-000005-2".to_string()));
    }

    /// The next base is the target, except for files a side could not take and protected
    /// paths, which keep their old entries.
    #[test]
    fn the_next_base_holds_back_what_did_not_reach_both_sides() {
        let target =
            tree(vec![file("a", "new", 2), file("b", "b", 1), dir("p"), file("p/q", "q2", 2)]);
        let old =
            tree(vec![file("a", "old", 1), dir("p"), file("p/q", "q", 1), file("gone", "g", 1)]);
        let next = next_base(
            &target,
            &old,
            &[RelPath::new("a").unwrap()],
            &[RelPath::new("p").unwrap()],
            7,
        );
        assert_eq!(next.generation, 7);
        assert_eq!(next.get(&RelPath::new("a").unwrap()), Some(&file("a", "old", 1)));
        assert_eq!(next.get(&RelPath::new("p/q").unwrap()), Some(&file("p/q", "q", 1)));
        assert_eq!(names(&next), ["a", "b", "p", "p/q"]);
        next.validate().unwrap();
    }
}
