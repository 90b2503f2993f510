//! Which old bytes at the destination each run of changed chunks is matched against, for
//! sub-chunk deltas ([`crate::tree::blocks`]).
//!
//! Content-defined chunks resynchronise right after an edit, so a run of sent chunks sits between
//! two reused ones, and the old bytes it replaces are those between the same two chunks in the
//! old file. A file with no reused chunk (a small file is one chunk) is matched against the old
//! file at its own path. Pure: the sizes of other files come from the caller.

use super::Piece;
use crate::tree::blocks::{MAX_BASE, MIN_PATCHED, signature_len};
use crate::tree::path::RelPath;
use std::ops::Range;

/// Old bytes of a destination file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Base {
    pub from: RelPath,
    pub offset: u64,
    pub len: u64,
}

/// A run of sent pieces (indexes into the recipe's pieces) and the old bytes to match them with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchRun {
    pub pieces: Range<usize>,
    pub base: Base,
}

/// The runs of sent pieces of the file at `path` worth a delta. `old_size` is the size of the
/// destination's file at `path` (`None` if it has none there); `size_of` gives the size of
/// another destination file that a recipe reuses from.
pub fn patch_runs(
    path: &RelPath,
    pieces: &[Piece],
    old_size: Option<u64>,
    size_of: impl Fn(&RelPath) -> Option<u64>,
) -> Vec<PatchRun> {
    fn reused(p: Option<&Piece>) -> Option<(&RelPath, u64, u64)> {
        match p {
            Some(Piece::Reuse { from, offset, len, .. }) => Some((from, *offset, *len)),
            _ => None,
        }
    }
    let mut runs = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        if !matches!(pieces[i], Piece::Send { .. }) {
            i += 1;
            continue;
        }
        let start = i;
        while matches!(pieces.get(i), Some(Piece::Send { .. })) {
            i += 1;
        }
        let sent: u64 = pieces[start..i].iter().map(Piece::len).sum();
        let before = start.checked_sub(1).and_then(|j| reused(pieces.get(j)));
        let after = reused(pieces.get(i));
        // The old bytes between the reused neighbours, cut to `MAX_BASE` from the side that is
        // anchored to a match.
        let (from, lo, hi, anchored_low) = match (before, after) {
            (Some((f, o, l)), Some((g, next, _))) if f == g && next >= o + l => {
                (f, o + l, next, true)
            }
            (Some((f, o, l)), _) => match size_of(f) {
                Some(size) => (f, o + l, size, true),
                None => continue,
            },
            (None, Some((g, next, _))) => (g, 0, next, false),
            (None, None) => match old_size {
                Some(size) => (path, 0, size, true),
                None => continue,
            },
        };
        let len = hi.saturating_sub(lo).min(MAX_BASE);
        let offset = if anchored_low { lo } else { hi - len };
        // A signature costs old bytes / block * 10; worth it only well below what is sent.
        if sent < MIN_PATCHED || len == 0 || signature_len(len) * 2 > sent {
            continue;
        }
        runs.push(PatchRun { pieces: start..i, base: Base { from: from.clone(), offset, len } });
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::hash::ContentHash;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }
    fn send(offset: u64, len: u64) -> Piece {
        Piece::Send { offset, len, hash: ContentHash([0; 32]) }
    }
    fn reuse(from: &str, offset: u64, len: u64) -> Piece {
        Piece::Reuse { from: p(from), offset, len, hash: ContentHash([0; 32]) }
    }
    fn base(from: &str, offset: u64, len: u64) -> Base {
        Base { from: p(from), offset, len }
    }
    const K: u64 = 1024;

    #[test]
    fn a_changed_run_is_matched_with_the_old_bytes_between_its_reused_neighbours() {
        let pieces = [
            reuse("f", 0, 16 * K),
            send(16 * K, 20 * K),
            send(36 * K, 10 * K),
            reuse("f", 30 * K, 8 * K),
        ];
        let runs = patch_runs(&p("f"), &pieces, Some(38 * K), |_| None);
        assert_eq!(runs, vec![PatchRun { pieces: 1..3, base: base("f", 16 * K, 14 * K) }]);
    }

    #[test]
    fn a_file_of_one_changed_chunk_is_matched_with_its_old_self() {
        let runs = patch_runs(&p("f"), &[send(0, 9 * K)], Some(8 * K), |_| None);
        assert_eq!(runs, vec![PatchRun { pieces: 0..1, base: base("f", 0, 8 * K) }]);
        // A new file has nothing to match.
        assert!(patch_runs(&p("f"), &[send(0, 9 * K)], None, |_| None).is_empty());
    }

    #[test]
    fn the_ends_of_a_file_are_matched_with_the_ends_of_the_old_one() {
        // Appended to: the old bytes after the last reused chunk.
        let pieces = [reuse("old", 0, 16 * K), send(16 * K, 16 * K)];
        let runs = patch_runs(&p("f"), &pieces, None, |f| (f == &p("old")).then_some(20 * K));
        assert_eq!(runs[0].base, base("old", 16 * K, 4 * K));
        // Cut at the start: the old bytes before the first reused chunk.
        let pieces = [send(0, 16 * K), reuse("f", 40 * K, 16 * K)];
        let runs = patch_runs(&p("f"), &pieces, Some(56 * K), |_| None);
        assert_eq!(runs[0].base, base("f", 0, 40 * K));
    }

    #[test]
    fn runs_too_small_or_with_too_much_old_data_are_sent_as_chunks() {
        assert!(patch_runs(&p("f"), &[send(0, 300)], Some(300), |_| None).is_empty());
        // 16 KiB sent against 8 MiB of old bytes: the signature would cost more than it saves.
        assert!(patch_runs(&p("f"), &[send(0, 16 * K)], Some(100 << 20), |_| None).is_empty());
        // A large old file is cut to MAX_BASE from the matched side.
        let pieces = [send(0, 4 << 20), reuse("f", 100 << 20, 16 * K)];
        let runs = patch_runs(&p("f"), &pieces, Some(101 << 20), |_| None);
        assert_eq!(runs[0].base, base("f", (100 << 20) - MAX_BASE, MAX_BASE));
        // The old file is unknown, or a reused neighbour's size is.
        let pieces = [reuse("g", 0, 16 * K), send(16 * K, 16 * K)];
        assert!(patch_runs(&p("f"), &pieces, Some(1 << 20), |_| None).is_empty());
        // Neighbours in different files, or out of order: the file before is matched to its end.
        let pieces = [reuse("g", 0, 16 * K), send(16 * K, 16 * K), reuse("h", 0, 16 * K)];
        let runs = patch_runs(&p("f"), &pieces, None, |_| Some(24 * K));
        assert_eq!(runs[0].base, base("g", 16 * K, 8 * K));
    }
}
