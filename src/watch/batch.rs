//! What changed since the last batch, as the kernel named it, and when a batch is due: pure
//! bookkeeping, with the time passed in, so every rule here is tested without sleeping.
//!
//! A path waits until the whole queue has been quiet for the delay (a burst of 1,000 files is
//! one batch, and a file still being written is not read half-done), but never longer than the
//! hold: then the paths quiet for the delay go, and so do those waiting since the hold began (a
//! file written without pause is sent as it stands, as often as the hold allows).

use crate::tree::path::RelPath;
use crate::tree::scan::Within;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Paths held at most: past it, the next batch scans the whole tree instead (a change of that
/// size costs about the same either way, and the list would only grow).
pub const MAX_PATHS: usize = 50_000;

/// When the kernel named a path first and last since it was last synced.
#[derive(Debug, Clone, Copy)]
struct Seen {
    first: Instant,
    last: Instant,
}

/// The paths changed since the last batch, and whether only a whole scan can say what changed.
#[derive(Debug, Default)]
pub struct Pending {
    paths: BTreeMap<RelPath, Seen>,
    /// Why the next batch must scan the whole tree (an overflowed queue, a new mount...), and
    /// since when it was asked for.
    full: Option<String>,
    full_since: Option<Instant>,
    /// The last event of all.
    last: Option<Instant>,
}

/// How long changes wait.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Quiet needed before a batch goes.
    pub delay: Duration,
    /// The longest a change waits, however busy the tree.
    pub hold: Duration,
}

impl Pending {
    /// The kernel named `path` at `now`.
    pub fn touch(&mut self, path: RelPath, now: Instant) {
        self.last = Some(now);
        if self.full.is_some() {
            return;
        }
        if self.paths.len() >= MAX_PATHS && !self.paths.contains_key(&path) {
            self.rescan_all(format!("more than {MAX_PATHS} paths changed at once"), now);
            return;
        }
        self.paths
            .entry(path)
            .and_modify(|s| s.last = now)
            .or_insert(Seen { first: now, last: now });
    }

    /// The next batch scans the whole tree, for `reason`.
    pub fn rescan_all(&mut self, reason: impl Into<String>, now: Instant) {
        self.last = Some(now);
        // The paths are covered by it: they go, and their memory with them.
        self.paths.clear();
        self.full_since.get_or_insert(now);
        self.full.get_or_insert_with(|| reason.into());
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.full.is_none()
    }

    /// When the next batch is due, if anything waits.
    pub fn due(&self, t: Timing) -> Option<Instant> {
        let last = self.last?;
        if self.is_empty() {
            return None;
        }
        let oldest = self.paths.values().map(|s| s.first).min().or(self.full_since).unwrap_or(last);
        Some((last + t.delay).min(oldest + t.hold))
    }

    /// The batch due at `now`, if one is: a whole scan (with its reason), or the paths whose turn
    /// it is (the rest wait). Taken paths are forgotten.
    pub fn take(&mut self, now: Instant, t: Timing) -> Option<Batch> {
        if self.due(t).is_none_or(|due| due > now) {
            return None;
        }
        let since = self.paths.values().map(|s| s.first).min().or(self.last).unwrap_or(now);
        if let Some(reason) = self.full.take() {
            self.full_since = None;
            self.paths.clear();
            return Some(Batch { work: Work::Full(reason), since });
        }
        let quiet = self.last.is_some_and(|l| now.duration_since(l) >= t.delay);
        let ready = |s: &Seen| {
            quiet || now.duration_since(s.last) >= t.delay || now.duration_since(s.first) >= t.hold
        };
        let taken: Vec<(RelPath, Seen)> =
            self.paths.iter().filter(|(_, s)| ready(s)).map(|(p, s)| (p.clone(), *s)).collect();
        for (p, _) in &taken {
            self.paths.remove(p);
        }
        let since = taken.iter().map(|(_, s)| s.first).min()?;
        Some(Batch { work: Work::Paths(taken.into_iter().map(|(p, _)| p).collect()), since })
    }
}

/// One batch: its work, and when the oldest change in it was seen (its lag is counted from
/// there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub work: Work,
    pub since: Instant,
}

/// What a batch scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// The whole tree, for this reason.
    Full(String),
    /// These paths again (in path order).
    Paths(Vec<RelPath>),
}

/// The parts of the tree to scan again for changed `paths` (in path order): each path with all
/// below it (what stands there now may be a directory tree moved in), and each one's parent
/// alone (its mtime changed with what it holds). A path within another is covered by it.
pub fn parts(paths: &[RelPath]) -> Within {
    let mut deep: Vec<RelPath> = Vec::new();
    for p in paths {
        // In path order, a path's covering part, if any, is the last one kept.
        if deep.last().is_some_and(|d| p.is_within(d)) {
            continue;
        }
        deep.push(p.clone());
    }
    let covered: std::collections::HashSet<&RelPath> = deep.iter().collect();
    let mut shallow: Vec<RelPath> = deep
        .iter()
        .filter_map(RelPath::parent)
        .filter(|parent| !parent.self_and_ancestors().any(|a| covered.contains(&a)))
        .collect();
    shallow.sort();
    shallow.dedup();
    Within { deep, shallow }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    const T: Timing = Timing { delay: Duration::from_millis(200), hold: Duration::from_secs(2) };

    #[test]
    fn a_burst_is_one_batch_once_the_tree_is_quiet() {
        let t0 = Instant::now();
        let mut q = Pending::default();
        assert_eq!(q.due(T), None);
        for i in 0..100u64 {
            q.touch(p(&format!("f{i}")), t0 + Duration::from_millis(i));
        }
        let last = t0 + Duration::from_millis(99);
        assert_eq!(q.due(T), Some(last + T.delay));
        assert_eq!(q.take(last + Duration::from_millis(150), T), None);
        match q.take(last + T.delay, T) {
            Some(Batch { work: Work::Paths(paths), since }) => {
                assert_eq!(paths.len(), 100);
                assert_eq!(since, t0, "the lag counts from the first change");
            }
            other => panic!("{other:?}"),
        }
        assert!(q.is_empty());
        assert_eq!(q.due(T), None);
    }

    #[test]
    fn a_file_written_without_pause_waits_at_most_the_hold_and_the_quiet_ones_go_with_it() {
        let t0 = Instant::now();
        let mut q = Pending::default();
        q.touch(p("quiet"), t0);
        q.touch(p("log"), t0);
        let mut now = t0;
        // "log" is written every 50 ms: the queue is never quiet.
        while now < t0 + T.hold - Duration::from_millis(50) {
            now += Duration::from_millis(50);
            q.touch(p("log"), now);
            assert_eq!(q.take(now, T), None, "nothing goes before the hold");
        }
        now = t0 + T.hold;
        assert_eq!(q.due(T), Some(t0 + T.hold));
        let batch = q.take(now, T).map(|b| b.work);
        assert_eq!(batch, Some(Work::Paths(vec![p("log"), p("quiet")])));
    }

    #[test]
    fn too_many_paths_at_once_make_the_next_batch_a_whole_scan() {
        let t0 = Instant::now();
        let mut q = Pending::default();
        for i in 0..=MAX_PATHS {
            q.touch(p(&format!("f{i}")), t0);
        }
        match q.take(t0 + T.delay, T).map(|b| b.work) {
            Some(Work::Full(why)) => assert!(why.contains("paths changed at once"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(q.is_empty());
    }

    #[test]
    fn an_overflow_makes_the_next_batch_a_whole_scan() {
        let t0 = Instant::now();
        let mut q = Pending::default();
        q.touch(p("a"), t0);
        q.rescan_all("the queue overflowed", t0);
        q.rescan_all("a second reason", t0);
        let batch = q.take(t0 + T.delay, T).map(|b| b.work);
        assert_eq!(batch, Some(Work::Full("the queue overflowed".into())));
        assert!(q.is_empty());
        // Asked for while the tree stays busy: it goes at the hold, however busy.
        q.rescan_all("again", t0);
        let mut now = t0;
        while now < t0 + T.hold {
            assert_eq!(q.take(now, T), None);
            now += Duration::from_millis(100);
            q.touch(p("busy"), now);
        }
        assert_eq!(q.take(t0 + T.hold, T).map(|b| b.work), Some(Work::Full("again".into())));
    }

    #[test]
    fn parts_cover_each_path_once_with_its_parent_alone() {
        let paths = [p("a"), p("a/b/c"), p("d/e"), p("d/f"), p("g")];
        let w = parts(&paths);
        assert_eq!(w.deep, [p("a"), p("d/e"), p("d/f"), p("g")]);
        // "a" and "g" are at the top: the root itself is not an entry.
        assert_eq!(w.shallow, [p("d")]);
        let w = parts(&[p("x/y/z")]);
        assert_eq!((w.deep, w.shallow), (vec![p("x/y/z")], vec![p("x/y")]));
    }
}
