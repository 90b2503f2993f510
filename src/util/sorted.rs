//! Lists sorted by a key where a later element replaces an earlier one of the same key.
//!
//! Deltas (of two upserts of one path, the later wins) and staging outcomes (a file staged again
//! reports again) share this rule; it lives here so both apply it the same way.

use std::cmp::Ordering;

/// Sort `v` by `cmp` and keep, of the elements that compare equal, the one that came last.
/// A list already strictly in order (what an honest peer sends) is left as it is, without the
/// stable sort's scratch copy of the whole list.
pub fn sort_keep_last<T>(v: &mut Vec<T>, cmp: impl Fn(&T, &T) -> Ordering) {
    if v.is_sorted_by(|a, b| cmp(a, b) == Ordering::Less) {
        return;
    }
    // Stable: of two equal elements the later stays second, and is the one swapped into place.
    v.sort_by(&cmp);
    v.dedup_by(|later, kept| {
        let same = cmp(later, kept) == Ordering::Equal;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_key(a: &(u32, char), b: &(u32, char)) -> Ordering {
        a.0.cmp(&b.0)
    }

    #[test]
    fn the_last_of_equal_keys_is_kept_in_key_order() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e'), (3, 'f')];
        sort_keep_last(&mut v, by_key);
        assert_eq!(v, vec![(1, 'e'), (2, 'd'), (3, 'f')]);
    }

    #[test]
    fn sorted_lists_and_adjacent_duplicates() {
        let mut v = vec![(1, 'a'), (2, 'b'), (5, 'c')];
        sort_keep_last(&mut v, by_key);
        assert_eq!(v, vec![(1, 'a'), (2, 'b'), (5, 'c')]);
        // In order but not strictly: the duplicate must still go, the later one staying.
        let mut v = vec![(1, 'a'), (2, 'b'), (2, 'c')];
        sort_keep_last(&mut v, by_key);
        assert_eq!(v, vec![(1, 'a'), (2, 'c')]);
        let mut v: Vec<(u32, char)> = Vec::new();
        sort_keep_last(&mut v, by_key);
        assert!(v.is_empty());
    }
}
