//! A tree's entries held compactly: encoded one after another as a manifest file's body holds
//! them, in one buffer, and decoded one at a time as they are read.
//!
//! A decoded [`Entry`] takes 88 bytes plus an allocation for its path (136 bytes for a short
//! one); encoded it takes about 60, all but its 32-byte hash in a few varints. The scan appends
//! every entry it makes here, and the plan reads the source's entries from here, so a sync of a
//! large tree holds its source once, compactly, and each entry decoded only while it is used.
//! Every [`STRIDE`]th entry is marked (its offset and path), so an entry is found by index or by
//! path by decoding at most a stride of them.

use crate::codec::{Reader, Writer};
use crate::manifest::{Entry, Manifest, decode_entry, encode_entry};
use crate::path::RelPath;
use std::borrow::Cow;
use std::sync::Arc;

/// Entries between two marks.
const STRIDE: u64 = 128;

/// Entries in path order, encoded. Cloned by sharing: the plan and a re-plan under the lock read
/// the same entries.
#[derive(Clone, Default)]
pub struct EntryStore {
    data: Arc<Vec<u8>>,
    len: u64,
    /// For every [`STRIDE`]th entry, its offset in `data` and its path.
    marks: Arc<Vec<(usize, RelPath)>>,
}

impl EntryStore {
    pub fn new() -> Self {
        EntryStore::default()
    }

    /// Append `e`, which must come after every entry already here in path order (the caller's
    /// walk or merge guarantees it; [`EntryStore::validate`] checks it).
    pub fn push(&mut self, e: &Entry) {
        let data = Arc::make_mut(&mut self.data);
        if self.len.is_multiple_of(STRIDE) {
            Arc::make_mut(&mut self.marks).push((data.len(), e.path.clone()));
        }
        let mut w = Writer { buf: std::mem::take(data) };
        encode_entry(&mut w, e);
        *data = w.buf;
        self.len += 1;
    }

    /// Give back the room grown for entries that never came.
    pub fn shrink_to_fit(&mut self) {
        Arc::make_mut(&mut self.data).shrink_to_fit();
        Arc::make_mut(&mut self.marks).shrink_to_fit();
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held (for tests and measurements).
    pub fn bytes(&self) -> usize {
        self.data.len() + self.marks.len() * std::mem::size_of::<(usize, RelPath)>()
    }

    /// The entries in order, each decoded as it is reached.
    pub fn iter(&self) -> Iter<'_> {
        Iter { r: Reader::new(&self.data), left: self.len }
    }

    /// The entries from index `i` on.
    pub fn iter_from(&self, i: u64) -> Iter<'_> {
        let mark = (i / STRIDE) as usize;
        let Some((offset, _)) = self.marks.get(mark) else {
            return Iter { r: Reader::new(&[]), left: 0 };
        };
        let start = mark as u64 * STRIDE;
        let mut it = Iter { r: Reader::new(&self.data[*offset..]), left: self.len - start };
        for _ in start..i {
            it.skip_one();
        }
        it
    }

    /// Entry `i`.
    pub fn get_index(&self, i: u64) -> Option<Entry> {
        self.iter_from(i).next()
    }

    /// The entry at `path`, with its index.
    pub fn find(&self, path: &RelPath) -> Option<(u64, Entry)> {
        // The last mark at or before `path`: the entry is in its stride, if anywhere.
        let mark = self.marks.partition_point(|(_, p)| p <= path).checked_sub(1)?;
        let first = mark as u64 * STRIDE;
        let mut it = self.iter_from(first);
        for i in first..(first + STRIDE).min(self.len) {
            let e = it.next()?;
            match e.path.cmp(path) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Some((i, e)),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }

    /// The entry at `path`.
    pub fn get(&self, path: &RelPath) -> Option<Entry> {
        self.find(path).map(|(_, e)| e)
    }

    /// These entries as a manifest of `generation`, decoded whole (for small trees and tests).
    pub fn to_manifest(&self, generation: u64) -> Manifest {
        Manifest { generation, entries: self.iter().collect() }
    }

    /// Check what a manifest's entries must be: strictly sorted, parents directories.
    pub fn validate(&self) -> Result<(), crate::codec::DecodeError> {
        let mut order = crate::manifest::Order::default();
        self.iter().try_for_each(|e| order.check(&e))
    }
}

impl From<&Manifest> for EntryStore {
    fn from(m: &Manifest) -> Self {
        let mut s = EntryStore::new();
        m.entries.iter().for_each(|e| s.push(e));
        s.shrink_to_fit();
        s
    }
}

impl PartialEq for EntryStore {
    fn eq(&self, other: &Self) -> bool {
        // The encoding is canonical: equal entries, equal bytes.
        self.len == other.len && self.data == other.data
    }
}

impl Eq for EntryStore {}

impl std::fmt::Debug for EntryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The entries of an [`EntryStore`], decoded one at a time.
pub struct Iter<'a> {
    r: Reader<'a>,
    left: u64,
}

impl Iter<'_> {
    fn skip_one(&mut self) {
        let _ = self.next();
    }
}

impl Iterator for Iter<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The store encoded these bytes itself from valid entries.
        Some(decode_entry(&mut self.r).expect("an entry the store encoded decodes"))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

/// A manifest given as the means to read its entries in order, as often as needed, rather than as
/// a list held whole: what a commit stores or sends. A [`Manifest`] lends its entries; a plan
/// decodes its own as they are read.
pub trait EntrySource {
    fn generation(&self) -> u64;
    /// How many entries [`EntrySource::entries`] gives.
    fn count(&self) -> u64;
    fn entries(&self) -> Box<dyn Iterator<Item = Cow<'_, Entry>> + '_>;
}

impl EntrySource for Manifest {
    fn generation(&self) -> u64 {
        self.generation
    }

    fn count(&self) -> u64 {
        self.entries.len() as u64
    }

    fn entries(&self) -> Box<dyn Iterator<Item = Cow<'_, Entry>> + '_> {
        Box::new(self.entries.iter().map(Cow::Borrowed))
    }
}

impl dyn EntrySource + '_ {
    /// Write the manifest file of these entries to `out` as they are read.
    pub fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        crate::manifest::write_entries(out, self.generation(), self.count(), self.entries())
            .map(|_| ())
    }

    /// The hash of the manifest body of these entries (see [`Manifest::body_hash`]).
    pub fn body_hash(&self) -> crate::hash::ContentHash {
        crate::manifest::body_hash_of(self.generation(), self.count(), self.entries())
    }

    /// The entries at the paths `wanted` holds (one pass).
    pub fn entries_at(
        &self,
        wanted: impl Fn(&RelPath) -> bool,
    ) -> std::collections::HashMap<RelPath, Entry> {
        self.entries()
            .filter(|e| wanted(&e.path))
            .map(|e| (e.path.clone(), e.into_owned()))
            .collect()
    }

    /// These entries as a manifest, decoded whole.
    pub fn to_manifest(&self) -> Manifest {
        Manifest {
            generation: self.generation(),
            entries: self.entries().map(Cow::into_owned).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Kind;
    use crate::manifest::tests::{e, file};

    fn tree(n: usize) -> Manifest {
        let mut entries = vec![e("d", Kind::Dir)];
        for i in 0..n {
            entries.push(file(&format!("d/f{i:05}"), format!("content {i}").as_bytes()));
        }
        entries.push(e("d/link", Kind::Symlink(b"f00000".to_vec())));
        let m = Manifest { generation: 3, entries };
        m.validate().unwrap();
        m
    }

    #[test]
    fn entries_come_back_as_they_went_in_by_order_index_and_path() {
        for n in [0, 1, STRIDE as usize - 1, STRIDE as usize, 3 * STRIDE as usize + 5] {
            let m = tree(n);
            let s = EntryStore::from(&m);
            assert_eq!(s.len(), m.entries.len() as u64);
            assert_eq!(s.iter().collect::<Vec<_>>(), m.entries, "n={n}");
            assert_eq!(s.to_manifest(3), m);
            s.validate().unwrap();
            for (i, want) in m.entries.iter().enumerate() {
                assert_eq!(s.get_index(i as u64).as_ref(), Some(want), "n={n} i={i}");
                assert_eq!(s.find(&want.path), Some((i as u64, want.clone())), "n={n}");
                assert_eq!(s.iter_from(i as u64).count(), m.entries.len() - i);
            }
            assert_eq!(s.get_index(m.entries.len() as u64), None);
            for absent in ["a", "d/f", "d/f00000x", "d/zz", "e"] {
                assert_eq!(s.get(&RelPath::new(absent).unwrap()), None, "{absent}");
            }
        }
    }

    #[test]
    fn a_store_is_smaller_than_its_entries_decoded_and_its_manifest_source_writes_the_same_file() {
        let m = tree(2000);
        let s = EntryStore::from(&m);
        let decoded = m.entries.len() * (std::mem::size_of::<Entry>() + 32);
        assert!(s.bytes() * 3 < decoded * 2, "{} bytes against {decoded}", s.bytes());
        let planned = Manifest { generation: 3, entries: s.iter().collect() };
        let source: &dyn EntrySource = &planned;
        let mut written = Vec::new();
        source.write_to(&mut written).unwrap();
        assert_eq!(written, m.encode());
        assert_eq!(source.body_hash(), m.body_hash());
        assert_eq!(source.to_manifest(), m);
        // Out of order, it says so.
        let mut bad = EntryStore::new();
        bad.push(&m.entries[2]);
        bad.push(&m.entries[1]);
        assert!(bad.validate().is_err());
    }
}
