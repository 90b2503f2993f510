//! A tree's entries held compactly: encoded one after another as a manifest file's body holds
//! them, and decoded one at a time as they are read.
//!
//! A decoded [`Entry`] takes 88 bytes plus an allocation for its path (136 bytes for a short
//! one); encoded it takes about 66, all but its 32-byte hash in a few varints. The scan appends
//! every entry it makes to a store, and the plan, the transfer and the commit read the source's
//! entries from it, each decoded only while it is used. Past 1 MiB (about 16,000 entries) a
//! store the scan builds moves to an unnamed file in the temporary directory (`TMPDIR`), like
//! sort(1)'s runs, and is read back through the page cache: what a sync of a large tree holds
//! of its source is a path every 128 entries, so an entry is found by index or by path by
//! decoding at most that many.

use crate::tree::codec::{DecodeError, StreamReader, Writer};
use crate::tree::manifest::{Entry, Manifest, decode_entry, encode_entry, entry_path, skip_entry};
use crate::tree::path::RelPath;
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

/// Entries between two marks.
const STRIDE: u64 = 128;
/// A store built by [`StoreWriter`] moves to a temporary file once it holds this many bytes
/// (about 16,000 entries): a larger tree's entries are read back from the page cache, not held.
const SPILL: usize = 1 << 20;
/// Bytes written to that file at a time.
const WRITE_BLOCK: usize = 64 * 1024;

/// Entries in path order, encoded. Cloned by sharing: the plan and a re-plan under the lock read
/// the same entries.
#[derive(Clone, Default)]
pub struct EntryStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    backing: Backing,
    /// Bytes of encoded entries.
    size: u64,
    len: u64,
    /// For every [`STRIDE`]th entry, its offset and its path.
    marks: Vec<(u64, RelPath)>,
    /// The paths other entries name as the first of their hard-link group: a plan re-links
    /// those others when the first is written anew.
    link_firsts: std::collections::HashSet<RelPath>,
    /// Why reading the temporary file failed, if it did: the entries read stop there, and
    /// [`EntryStore::check`] says so.
    failed: Mutex<Option<String>>,
}

/// Where a store's bytes are.
enum Backing {
    Memory(Vec<u8>),
    /// An unnamed file in the temporary directory (`TMPDIR`), gone when closed.
    File(File),
}

impl Default for Backing {
    fn default() -> Self {
        Backing::Memory(Vec::new())
    }
}

/// Builds an [`EntryStore`], an entry at a time.
pub struct StoreWriter {
    inner: Inner,
    /// Encoded entries not yet written to the file.
    pending: Writer,
    /// Whether to move to a temporary file past [`SPILL`] bytes.
    spill: bool,
    /// The first write to that file that failed: [`StoreWriter::finish`] reports it.
    error: Option<io::Error>,
}

impl StoreWriter {
    /// A store that moves to a temporary file once it is large (where one can be made; else
    /// it stays in memory).
    pub fn new() -> Self {
        StoreWriter { inner: Inner::default(), pending: Writer::new(), spill: true, error: None }
    }

    /// A store held in memory, however large.
    pub fn in_memory() -> Self {
        StoreWriter { spill: false, ..StoreWriter::new() }
    }

    /// Append `e`, which must come after every entry already here in path order (the caller's
    /// walk or merge guarantees it; [`EntryStore::validate`] checks it). A failure to write is
    /// reported by [`StoreWriter::finish`].
    pub fn push(&mut self, e: &Entry) {
        if self.error.is_some() {
            return;
        }
        let inner = &mut self.inner;
        let at = inner.size + self.pending.buf.len() as u64;
        if inner.len.is_multiple_of(STRIDE) {
            inner.marks.push((at, e.path.clone()));
        }
        encode_entry(&mut self.pending, e);
        inner.len += 1;
        if let crate::tree::manifest::Kind::HardLink(first) = &e.kind {
            inner.link_firsts.insert(first.clone());
        }
        if self.pending.buf.len() >= WRITE_BLOCK
            && let Err(e) = self.write_pending()
        {
            self.error = Some(e);
        }
    }

    /// Move the pending bytes to the backing, and the backing to a file once it is large.
    fn write_pending(&mut self) -> io::Result<()> {
        let (inner, pending) = (&mut self.inner, &mut self.pending.buf);
        match &mut inner.backing {
            Backing::Memory(v) => {
                v.extend_from_slice(pending);
                if self.spill && v.len() >= SPILL {
                    // Where no file can be made or filled, the entries stay in memory.
                    match tempfile::tempfile().and_then(|mut f| f.write_all(v).map(|()| f)) {
                        Ok(f) => inner.backing = Backing::File(f),
                        Err(_) => self.spill = false,
                    }
                }
            }
            Backing::File(f) => f.write_all(pending)?,
        }
        inner.size += pending.len() as u64;
        pending.clear();
        Ok(())
    }

    /// The store of everything pushed.
    pub fn finish(mut self) -> io::Result<EntryStore> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.write_pending()?;
        let mut inner = self.inner;
        if let Backing::Memory(v) = &mut inner.backing {
            v.shrink_to_fit();
        }
        inner.marks.shrink_to_fit();
        Ok(EntryStore { inner: Arc::new(inner) })
    }
}

impl Default for StoreWriter {
    fn default() -> Self {
        StoreWriter::new()
    }
}

impl EntryStore {
    pub fn len(&self) -> u64 {
        self.inner.len
    }

    /// Whether the entry at `path` is the first of a hard-link group (another entry names it).
    pub fn is_link_first(&self, path: &RelPath) -> bool {
        self.inner.link_firsts.contains(path)
    }

    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// Bytes held in memory (for tests and measurements).
    pub fn resident_bytes(&self) -> usize {
        let data = match &self.inner.backing {
            Backing::Memory(v) => v.len(),
            Backing::File(_) => 0,
        };
        data + self.inner.marks.len() * std::mem::size_of::<(u64, RelPath)>()
    }

    /// Whether the entries are in a temporary file rather than in memory.
    pub fn spilled(&self) -> bool {
        matches!(self.inner.backing, Backing::File(_))
    }

    /// The entries in order, each decoded as it is reached.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The entries from index `i` on.
    pub fn iter_from(&self, i: u64) -> Iter<'_> {
        let inner = &*self.inner;
        let mark = (i / STRIDE) as usize;
        let Some((offset, _)) = inner.marks.get(mark) else {
            return Iter {
                stream: StreamReader::new(At { inner, pos: inner.size }),
                left: 0,
                inner,
            };
        };
        let start = mark as u64 * STRIDE;
        let at = At { inner, pos: *offset };
        let mut it = Iter { stream: StreamReader::new(at), left: inner.len - start, inner };
        for _ in start..i {
            it.skip_one();
        }
        it
    }

    /// Entry `i`.
    pub fn get_index(&self, i: u64) -> Option<Entry> {
        self.iter_from(i).next()
    }

    /// The path of entry `i`, read alone: the path leads an entry's encoding, so a large file's
    /// chunk list after it is neither decoded nor read into memory.
    pub fn path_at(&self, i: u64) -> Option<RelPath> {
        self.iter_from(i).read(|r| {
            RelPath::new(entry_path(r)?).map_err(|e| DecodeError::invalid("path", e.to_string()))
        })
    }

    /// The entry at `path`, with its index.
    pub fn find(&self, path: &RelPath) -> Option<(u64, Entry)> {
        // The last mark at or before `path`: the entry is in its stride, if anywhere.
        let marks = &self.inner.marks;
        let mark = marks.partition_point(|(_, p)| p <= path).checked_sub(1)?;
        let first = mark as u64 * STRIDE;
        let mut it = self.iter_from(first);
        for i in first..(first + STRIDE).min(self.len()) {
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
    pub fn validate(&self) -> Result<(), DecodeError> {
        let mut order = crate::tree::manifest::Order::default();
        self.iter().try_for_each(|e| order.check(&e))?;
        self.check().map_err(|e| DecodeError::invalid("entry store", e.to_string()))
    }

    /// Whether every read of these entries so far got them all: reading the temporary file
    /// they are in can fail (a disk error), and then a read stops short.
    pub fn check(&self) -> io::Result<()> {
        match &*self.inner.failed.lock().unwrap_or_else(|p| p.into_inner()) {
            None => Ok(()),
            Some(e) => Err(io::Error::other(format!(
                "{e} (in a temporary file in {})",
                std::env::temp_dir().display()
            ))),
        }
    }
}

#[cfg(test)]
impl EntryStore {
    /// Cut the temporary file the entries are in to half its length, behind the store's back.
    pub(crate) fn cut_in_half(&self) {
        let Backing::File(f) = &self.inner.backing else { panic!("not in a file") };
        f.set_len(self.inner.size / 2).unwrap();
    }

    /// `m`'s entries, in a temporary file.
    pub(crate) fn spilled_from(m: &Manifest) -> EntryStore {
        let mut w = StoreWriter::new();
        m.entries.iter().for_each(|e| w.push(e));
        let s = w.finish().unwrap();
        assert!(s.spilled(), "{} bytes", s.inner.size);
        s
    }
}

impl From<&Manifest> for EntryStore {
    /// Held in memory.
    fn from(m: &Manifest) -> Self {
        let mut w = StoreWriter::in_memory();
        m.entries.iter().for_each(|e| w.push(e));
        w.finish().expect("writing to memory")
    }
}

impl PartialEq for EntryStore {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for EntryStore {}

impl std::fmt::Debug for EntryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A store's bytes from `pos` on.
struct At<'a> {
    inner: &'a Inner,
    pos: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.inner.size.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match &self.inner.backing {
            Backing::Memory(v) => {
                let from = &v[self.pos as usize..][..want];
                buf[..want].copy_from_slice(from);
                want
            }
            Backing::File(f) => f.read_at(&mut buf[..want], self.pos)?,
        };
        if n == 0 && want > 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter"));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// The entries of an [`EntryStore`], decoded one at a time.
pub struct Iter<'a> {
    stream: StreamReader<At<'a>>,
    left: u64,
    inner: &'a Inner,
}

impl Iter<'_> {
    /// Go past the next entry without decoding it; `None` where there is none (or reading
    /// failed), like [`Iterator::next`].
    pub fn skip_one(&mut self) -> Option<()> {
        self.read(|r| skip_entry(r).map(drop))
    }

    fn read<T>(
        &mut self,
        decode: impl FnMut(&mut crate::tree::codec::Reader<'_>) -> Result<T, DecodeError>,
    ) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match self.stream.decode(decode) {
            Ok(e) => Some(e),
            // The bytes are the store's own encoding, so only reading them can fail.
            Err(e) => {
                self.left = 0;
                let mut failed = self.inner.failed.lock().unwrap_or_else(|p| p.into_inner());
                failed.get_or_insert_with(|| e.to_string());
                None
            }
        }
    }
}

impl Iterator for Iter<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        self.read(decode_entry)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// A manifest whose entries are in an [`EntryStore`]: how a sync holds the destination's.
#[derive(Clone, Default, Debug)]
pub struct StoredManifest {
    pub generation: u64,
    pub entries: EntryStore,
    /// The hash of its body, where it was read from a file (which gives it for free).
    known_hash: Option<crate::tree::hash::ContentHash>,
}

impl PartialEq for StoredManifest {
    fn eq(&self, other: &Self) -> bool {
        self.generation == other.generation && self.entries == other.entries
    }
}

impl Eq for StoredManifest {}

/// Where a store's temporary files go, with what to do when there is no room: the end of every
/// message about one that could not be written.
pub(crate) fn temp_room() -> String {
    format!(
        "a temporary file in {}; free space there or set TMPDIR to a directory with room",
        std::env::temp_dir().display()
    )
}

/// Why a manifest could not be read into a store.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("cannot write to {}", temp_room())]
    Spool(#[source] io::Error),
}

impl StoredManifest {
    /// Every entry `reader` gives (checked as it decodes them), into a store that moves to a
    /// temporary file once large; and the hash of the body they came from.
    pub fn read<R: Read>(
        mut reader: crate::tree::manifest::EntryReader<R>,
    ) -> Result<(Self, crate::tree::hash::ContentHash), ReadError> {
        let mut w = StoreWriter::new();
        while let Some(e) = reader.next_entry()? {
            w.push(&e);
        }
        let generation = reader.generation;
        let hash = reader.finish()?;
        let entries = w.finish().map_err(ReadError::Spool)?;
        Ok((StoredManifest { generation, entries, known_hash: Some(hash) }, hash))
    }

    /// The hash of its body (see [`Manifest::body_hash`]): kept from reading it, or computed.
    pub fn body_hash(&self) -> crate::tree::hash::ContentHash {
        self.known_hash.unwrap_or_else(|| (self as &dyn EntrySource).body_hash())
    }

    /// Read a manifest file ([`StoredManifest::read`]).
    pub fn read_file<R: Read>(r: R) -> Result<(Self, crate::tree::hash::ContentHash), ReadError> {
        StoredManifest::read(crate::tree::manifest::EntryReader::open(r)?)
    }

    /// Read the manifest file at `path`, with the hash of the file's bytes (what
    /// [`crate::tree::manifest::file_hash`] gives for the same file); `Ok(None)` when it does not
    /// exist.
    pub fn load_identified(
        path: &std::path::Path,
    ) -> Result<
        Option<(Self, crate::tree::hash::ContentHash)>,
        crate::tree::manifest::ManifestFileError,
    > {
        use crate::tree::manifest::ManifestFileError;
        let io = |e| ManifestFileError::Io { path: path.to_owned(), source: e };
        let Some(file) = crate::tree::manifest::open_if_exists(path).map_err(io)? else {
            return Ok(None);
        };
        let mut hashed = crate::tree::hash::HashReader::new(io::BufReader::new(file));
        let (m, _) = StoredManifest::read_file(&mut hashed).map_err(|e| match e {
            ReadError::Decode(reason) => {
                ManifestFileError::Corrupt { path: path.to_owned(), reason }
            }
            ReadError::Spool(source) => io(io::Error::new(
                source.kind(),
                format!("its entries could not go to {} ({source})", temp_room()),
            )),
        })?;
        // Whatever follows the body is part of the file, and of its hash.
        io::copy(&mut hashed, &mut io::sink()).map_err(io)?;
        Ok(Some((m, hashed.finish())))
    }

    /// Decoded whole (for small trees and tests).
    pub fn to_manifest(&self) -> Manifest {
        self.entries.to_manifest(self.generation)
    }

    /// Without the entries at or below `paths` (see [`Manifest::without`]).
    pub fn without(self, paths: &[RelPath]) -> Self {
        if paths.is_empty() {
            return self;
        }
        let copy = |mut w: StoreWriter| {
            let kept = self.entries.iter().filter(|e| !paths.iter().any(|p| e.path.is_within(p)));
            kept.for_each(|e| w.push(&e));
            w.finish()
        };
        // Where a temporary file that was made cannot be filled, the copy is held in memory.
        let entries = copy(StoreWriter::new())
            .or_else(|_| copy(StoreWriter::in_memory()))
            .expect("writing to memory");
        StoredManifest { generation: self.generation, entries, known_hash: None }
    }

    pub fn len(&self) -> u64 {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl From<&Manifest> for StoredManifest {
    /// Held in memory.
    fn from(m: &Manifest) -> Self {
        StoredManifest { generation: m.generation, entries: EntryStore::from(m), known_hash: None }
    }
}

impl EntrySource for StoredManifest {
    fn generation(&self) -> u64 {
        self.generation
    }

    fn count(&self) -> u64 {
        self.entries.len()
    }

    fn entries(&self) -> Box<dyn Iterator<Item = Cow<'_, Entry>> + '_> {
        Box::new(self.entries.iter().map(Cow::Owned))
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
        crate::tree::manifest::write_entries(out, self.generation(), self.count(), self.entries())
            .map(|_| ())
    }

    /// The hash of the manifest body of these entries (see [`Manifest::body_hash`]).
    pub fn body_hash(&self) -> crate::tree::hash::ContentHash {
        crate::tree::manifest::body_hash_of(self.generation(), self.count(), self.entries())
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
    use crate::tree::manifest::Kind;
    use crate::tree::manifest::tests::{e, file};

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
                assert_eq!(s.path_at(i as u64).as_ref(), Some(&want.path));
                assert_eq!(s.find(&want.path), Some((i as u64, want.clone())), "n={n}");
                assert_eq!(s.iter_from(i as u64).count(), m.entries.len() - i);
            }
            assert_eq!(s.get_index(m.entries.len() as u64), None);
            for absent in ["a", "d/f", "d/f00000x", "d/zz", "e"] {
                assert_eq!(s.get(&RelPath::new(absent).unwrap()), None, "{absent}");
            }
        }
    }

    /// A store the scan builds moves to a temporary file once large; read back, by order,
    /// index and path, it is the same as one held in memory.
    #[test]
    fn a_large_store_moves_to_a_file_and_reads_back_the_same() {
        let m = tree(40_000);
        let spilled = EntryStore::spilled_from(&m);
        assert!(spilled.resident_bytes() < 40_000, "{}", spilled.resident_bytes());
        let held = EntryStore::from(&m);
        assert!(!held.spilled() && held.resident_bytes() > 2_000_000);
        assert_eq!(spilled, held);
        assert_eq!(spilled.to_manifest(3), m);
        for i in [0, 1, 127, 128, 129, 20_000, 39_999, 40_000, 40_001] {
            assert_eq!(spilled.get_index(i).as_ref(), m.entries.get(i as usize), "{i}");
            let e = &m.entries[i as usize];
            assert_eq!(spilled.find(&e.path), Some((i, e.clone())));
        }
        spilled.validate().unwrap();
        spilled.check().unwrap();
    }

    /// A read of the file that fails ends the entries there, and the store says so.
    #[test]
    fn a_failed_read_stops_the_entries_and_is_reported() {
        let m = tree(40_000);
        let s = EntryStore::spilled_from(&m);
        s.cut_in_half();
        let read = s.iter().count();
        assert!(read < m.entries.len() && read > 1000, "{read}");
        let err = s.check().unwrap_err().to_string();
        assert!(err.contains("temporary file"), "{err}");
        assert!(s.validate().is_err());
    }

    /// Finding a chunk's holder reads its path alone: a file of 40,000 chunks whose list was
    /// lost from the store's file still gives its path, where decoding the entry fails.
    #[test]
    fn a_path_is_read_without_the_chunk_list_after_it() {
        use crate::tree::chunk::{ChunkRef, FileDigest};
        use crate::tree::hash::ContentHash;
        let chunks = (0..40_000u32)
            .map(|i| {
                let mut hash = [0u8; 32];
                hash[..4].copy_from_slice(&i.to_le_bytes());
                ChunkRef { len: 4096, hash: ContentHash(hash) }
            })
            .collect();
        let big = e("big", Kind::File(FileDigest::of_chunks(chunks)));
        let s = EntryStore::spilled_from(&Manifest { generation: 1, entries: vec![big] });
        s.cut_in_half();
        assert_eq!(s.path_at(0), Some(RelPath::new("big").unwrap()));
        assert_eq!(s.iter().next(), None);
    }

    #[test]
    fn a_store_is_smaller_than_its_entries_decoded_and_its_manifest_source_writes_the_same_file() {
        let m = tree(2000);
        let s = EntryStore::from(&m);
        let decoded = m.entries.len() * (std::mem::size_of::<Entry>() + 32);
        let held = s.resident_bytes();
        assert!(held * 3 < decoded * 2, "{held} bytes against {decoded}");
        let planned = Manifest { generation: 3, entries: s.iter().collect() };
        let source: &dyn EntrySource = &planned;
        let mut written = Vec::new();
        source.write_to(&mut written).unwrap();
        assert_eq!(written, m.encode());
        assert_eq!(source.body_hash(), m.body_hash());
        assert_eq!(source.to_manifest(), m);
        // A manifest read from its file keeps the hash of its body; one made otherwise computes it.
        let (stored, hash) = StoredManifest::read_file(&m.encode()[..]).unwrap();
        let made = StoredManifest::from(&m);
        assert_eq!([hash, stored.body_hash(), made.body_hash()], [m.body_hash(); 3]);
        assert_eq!(stored, made);
        assert_eq!(stored.clone().without(&[m.entries[5].path.clone()]).body_hash(), {
            let mut less = m.clone();
            less.entries.remove(5);
            less.body_hash()
        });
        // Out of order, it says so.
        let mut bad = StoreWriter::new();
        bad.push(&m.entries[2]);
        bad.push(&m.entries[1]);
        assert!(bad.finish().unwrap().validate().is_err());
    }
}
