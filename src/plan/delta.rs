//! Manifest deltas: what changed between two manifests, sent to a remote agent instead of the
//! whole new manifest.
//!
//! A sync that edits a few bytes of a large file should not re-upload the file's whole chunk list
//! (36 bytes per 16 KiB chunk: 2.3 MB for 1 GiB). So the client sends only the entries that
//! changed, and for a file the agent has just staged it sends no chunk list at all: the agent knows
//! it from staging (the file's new chunks came one per frame, its reused ranges from its own
//! manifest). The delta carries the SHA-256 of the manifest body it must produce; the agent checks
//! it, so a disagreement can never be committed.
//!
//! Neither end holds a delta whole: the client encodes it straight from the two manifests and
//! sends it in parts as they fill ([`encode_between`]); the agent spools the parts to disk and
//! merges them, an entry at a time, with its committed manifest file into the next one
//! ([`apply_streamed`], reading with [`DeltaReader`]). [`Delta`] is the same thing in memory.

use crate::tree::chunk::FileDigest;
use crate::tree::codec::{DecodeError, Reader, StreamReader, Writer, reserve_announced};
use crate::tree::hash::ContentHash;
use crate::tree::manifest::{
    Entry, EntryReader, Kind, Manifest, Meta, Order, decode_digest, decode_meta, encode_digest,
    encode_meta, write_entries,
};
use crate::tree::path::{MAX_PATH_LEN, RelPath};
use crate::tree::store::EntrySource;
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

/// How a file's chunk list reaches the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunks {
    /// The whole digest, chunk list included.
    Inline(FileDigest),
    /// Size and hash only; the chunk list is that of staged file `id`.
    Staged { id: u64, size: u64, hash: ContentHash },
}

/// An entry to add or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upsert {
    Entry(Entry),
    File { path: RelPath, meta: Meta, chunks: Chunks },
}

/// The difference between a base manifest and the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    pub base_generation: u64,
    pub generation: u64,
    /// Each removes the entry and everything below it.
    pub removes: Vec<RelPath>,
    pub upserts: Vec<Upsert>,
    /// SHA-256 of the resulting manifest's body.
    pub expected: ContentHash,
    /// The number of entries of the resulting manifest.
    pub count: u64,
}

/// Why a delta cannot be applied.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeltaError {
    #[error("the destination manifest is generation {actual}, the delta was made for {expected}")]
    Generation { expected: u64, actual: u64 },
    #[error("staged file {0} is unknown to the destination")]
    UnknownStaged(u64),
    #[error("staged file {0} does not have the announced size and hash")]
    StagedMismatch(u64),
    #[error("the resulting manifest is invalid: {0}")]
    Invalid(DecodeError),
    #[error("the resulting manifest differs from the client's")]
    Differs,
    #[error("the manifest delta is malformed: {0}")]
    Malformed(DecodeError),
    #[error("the destination's manifest cannot be read: {0}")]
    Base(String),
    #[error("cannot write the next manifest: {0}")]
    Write(String),
}

impl Delta {
    /// The delta from `base` to `next`. Files whose path is in `staged` (path to staged id) and
    /// whose chunk list is not trivial are sent by reference to their staged copy.
    pub fn between(
        base: &Manifest,
        next: &Manifest,
        staged: &HashMap<RelPath, u64>,
    ) -> Result<Delta, DecodeError> {
        // Encoding borrows the entries; the decoder checks what a peer would check.
        let mut encoded = Vec::new();
        let staged = |p: &RelPath| staged.get(p).copied();
        encode_between(base, next, staged, usize::MAX, |part| {
            encoded.extend_from_slice(&part);
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap_or_else(|never| match never {});
        Delta::decode(&encoded)
    }

    /// Apply to `base`, taking staged files' digests from `staged`: [`apply_streamed`] on the
    /// encodings of both, for callers that hold them in memory (tests, the fuzz target), so
    /// there is one merge and one set of checks.
    pub fn apply(
        self,
        base: Manifest,
        staged: impl Fn(u64) -> Option<FileDigest>,
    ) -> Result<Manifest, DeltaError> {
        let (delta, base) = (self.encode(), base.encode());
        let malformed = DeltaError::Malformed;
        let base = EntryReader::open(&base[..]).map_err(|e| DeltaError::Base(e.to_string()))?;
        let mut out = Vec::new();
        apply_streamed(
            DeltaReader::open(&delta[..]).map_err(malformed)?,
            Some(base),
            staged,
            &mut out,
        )?;
        Manifest::decode(&out).map_err(DeltaError::Invalid)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.varint(self.base_generation);
        w.varint(self.generation);
        w.fixed(&self.expected.0);
        w.varint(self.count);
        w.varint(self.removes.len() as u64);
        for r in &self.removes {
            w.bytes(r.as_bytes());
        }
        w.varint(self.upserts.len() as u64);
        for u in &self.upserts {
            match u {
                Upsert::Entry(e) => encode_upsert_entry(&mut w, e),
                Upsert::File { path, meta, chunks: Chunks::Inline(d) } => {
                    w.bytes(path.as_bytes());
                    encode_meta(&mut w, meta);
                    w.u8(1);
                    encode_digest(&mut w, d);
                }
                Upsert::File { path, meta, chunks: Chunks::Staged { id, size, hash } } => {
                    encode_upsert_staged(&mut w, path, meta, *id, *size, hash)
                }
            }
        }
        w.buf
    }

    pub fn decode(data: &[u8]) -> Result<Delta, DecodeError> {
        Delta::read_from(data)
    }

    /// Decode a delta read from `r`, upserts and all.
    pub fn read_from(r: impl Read) -> Result<Delta, DecodeError> {
        let mut r = DeltaReader::open(r)?;
        let mut upserts = Vec::new();
        while let Some(u) = r.next_upsert()? {
            reserve_announced(&mut upserts, r.upserts);
            upserts.push(u);
        }
        let removes = std::mem::take(&mut r.removes);
        let DeltaReader { base_generation, generation, expected, count, .. } = r;
        Ok(Delta { base_generation, generation, removes, upserts, expected, count })
    }
}

/// A delta read from a stream: its header and removes at once, its upserts one at a time. The
/// agent spools a delta as it arrives and reads it back with this, so neither the encoding nor
/// the decoded upserts are ever held whole.
pub struct DeltaReader<R> {
    stream: StreamReader<R>,
    pub base_generation: u64,
    pub generation: u64,
    /// SHA-256 of the resulting manifest's body.
    pub expected: ContentHash,
    /// The number of entries of the resulting manifest, announced because a manifest file
    /// starts with it.
    pub count: u64,
    /// Each removes the entry and everything below it.
    pub removes: Vec<RelPath>,
    /// The number of upserts announced.
    pub upserts: u64,
    left: u64,
}

impl<R: Read> DeltaReader<R> {
    /// Read the header and the removes.
    pub fn open(r: R) -> Result<Self, DecodeError> {
        let mut stream = StreamReader::new(r);
        let (base_generation, generation, expected, count, n) = stream.decode(|r| {
            let base_generation = r.varint("base generation")?;
            let generation = r.varint("generation")?;
            let expected = ContentHash(r.fixed("expected hash")?);
            let count = r.varint("entry count")?;
            Ok((base_generation, generation, expected, count, r.varint("removes")?))
        })?;
        let mut removes = Vec::new();
        for _ in 0..n {
            let p = stream.decode(|r| Ok(r.bytes("path", MAX_PATH_LEN)?.to_vec()))?;
            reserve_announced(&mut removes, n);
            removes.push(RelPath::new(p).map_err(|e| DecodeError::invalid("path", e.to_string()))?);
        }
        let upserts = stream.decode(|r| r.varint("upserts"))?;
        Ok(DeltaReader {
            stream,
            base_generation,
            generation,
            expected,
            count,
            removes,
            upserts,
            left: upserts,
        })
    }

    /// The next upsert; `None` after the last one announced, when nothing may follow.
    pub fn next_upsert(&mut self) -> Result<Option<Upsert>, DecodeError> {
        if self.left == 0 {
            if !self.stream.at_end()? {
                return Err(DecodeError::invalid("manifest delta", "trailing bytes"));
            }
            return Ok(None);
        }
        let upsert = self.stream.decode(decode_upsert)?;
        self.left -= 1;
        Ok(Some(upsert))
    }
}

/// The entries of a base manifest with a delta applied, in manifest order, one at a time: a walk
/// of the base and of the upserts side by side, where an upsert replaces the base entry of its
/// path and a remove drops the base entries at and below it. The result is checked as a
/// manifest's entries are ([`Order`]), which also refuses upserts out of order or repeated.
struct Merge<'a, D, B> {
    base: Option<&'a mut EntryReader<B>>,
    delta: &'a mut DeltaReader<D>,
    staged: &'a dyn Fn(u64) -> Option<FileDigest>,
    removed: HashSet<RelPath>,
    next_base: Option<Entry>,
    next_upsert: Option<Entry>,
    order: Order,
}

impl<'a, D: Read, B: Read> Merge<'a, D, B> {
    fn new(
        base: Option<&'a mut EntryReader<B>>,
        delta: &'a mut DeltaReader<D>,
        staged: &'a dyn Fn(u64) -> Option<FileDigest>,
    ) -> Self {
        let removed = std::mem::take(&mut delta.removes).into_iter().collect();
        let (next_base, next_upsert, order) = (None, None, Order::default());
        Merge { base, delta, staged, removed, next_base, next_upsert, order }
    }

    fn next(&mut self) -> Result<Option<Entry>, DeltaError> {
        loop {
            if self.next_base.is_none()
                && let Some(base) = &mut self.base
            {
                self.next_base = base.next_entry().map_err(|e| DeltaError::Base(e.to_string()))?;
            }
            if self.next_upsert.is_none() {
                self.next_upsert = self.upsert()?;
            }
            let entry = match (&self.next_base, &self.next_upsert) {
                (None, None) => return Ok(None),
                (Some(b), Some(u)) if u.path <= b.path => {
                    if u.path == b.path {
                        self.next_base = None;
                    }
                    self.next_upsert.take()
                }
                (None, Some(_)) => self.next_upsert.take(),
                (Some(b), _) if self.is_removed(&b.path) => {
                    self.next_base = None;
                    continue;
                }
                (Some(_), _) => self.next_base.take(),
            };
            if let Some(e) = &entry {
                self.order.check(e).map_err(DeltaError::Invalid)?;
            }
            return Ok(entry);
        }
    }

    fn is_removed(&self, p: &RelPath) -> bool {
        !self.removed.is_empty() && p.self_and_ancestors().any(|q| self.removed.contains(&q))
    }

    /// The next upsert as an entry, a staged file's chunk list taken from staging.
    fn upsert(&mut self) -> Result<Option<Entry>, DeltaError> {
        Ok(match self.delta.next_upsert().map_err(DeltaError::Malformed)? {
            None => None,
            Some(Upsert::Entry(e)) => Some(e),
            Some(Upsert::File { path, meta, chunks: Chunks::Inline(d) }) => {
                Some(Entry { path, meta, kind: Kind::File(d) })
            }
            Some(Upsert::File { path, meta, chunks: Chunks::Staged { id, size, hash } }) => {
                let d = (self.staged)(id).ok_or(DeltaError::UnknownStaged(id))?;
                if d.size != size || d.hash != hash {
                    return Err(DeltaError::StagedMismatch(id));
                }
                Some(Entry { path, meta, kind: Kind::File(d) })
            }
        })
    }
}

/// Apply a delta to the committed manifest (`None`: there is none yet) without holding either,
/// writing the resulting manifest file to `out` as the two are merged; its generation. The body
/// written must have the entry count and the hash the delta announced, or
/// [`DeltaError::Differs`]: `out` is then garbage.
pub fn apply_streamed<D: Read, B: Read>(
    mut delta: DeltaReader<D>,
    mut base: Option<EntryReader<B>>,
    staged: impl Fn(u64) -> Option<FileDigest>,
    out: &mut dyn Write,
) -> Result<u64, DeltaError> {
    let actual = base.as_ref().map_or(0, |b| b.generation);
    if actual != delta.base_generation {
        return Err(DeltaError::Generation { expected: delta.base_generation, actual });
    }
    let (generation, count, expected) = (delta.generation, delta.count, delta.expected);
    let (mut failed, mut given) = (None, 0u64);
    let written = {
        let mut merge = Merge::new(base.as_mut(), &mut delta, &staged);
        let entries = std::iter::from_fn(|| match merge.next() {
            Ok(entry) => {
                given += u64::from(entry.is_some());
                entry
            }
            Err(e) => {
                failed = Some(e);
                None
            }
        });
        write_entries(out, generation, count, entries)
    };
    if let Some(e) = failed {
        return Err(e);
    }
    if given != count {
        return Err(DeltaError::Differs);
    }
    let hash = written.map_err(|e| DeltaError::Write(e.to_string()))?;
    if let Some(b) = base {
        b.finish().map_err(|e| DeltaError::Base(e.to_string()))?;
    }
    if hash != expected {
        return Err(DeltaError::Differs);
    }
    Ok(generation)
}

/// One upsert: a tag 0 then a whole entry, or a path then a file by reference.
fn decode_upsert(r: &mut Reader<'_>) -> Result<Upsert, DecodeError> {
    if r.peek() == Some(0) {
        r.u8("upsert")?;
        return Ok(Upsert::Entry(crate::tree::manifest::decode_entry(r)?));
    }
    let p = r.bytes("path", MAX_PATH_LEN)?;
    let path = RelPath::new(p).map_err(|e| DecodeError::invalid("path", e.to_string()))?;
    let meta = decode_meta(r)?;
    let chunks = match r.u8("chunk source")? {
        1 => Chunks::Inline(decode_digest(r)?),
        2 => Chunks::Staged {
            id: r.varint("id")?,
            size: r.varint("size")?,
            hash: ContentHash(r.fixed("hash")?),
        },
        t => return Err(DecodeError::invalid("chunk source", format!("unknown {t}"))),
    };
    Ok(Upsert::File { path, meta, chunks })
}

fn encode_upsert_entry(w: &mut Writer, e: &Entry) {
    w.u8(0);
    crate::tree::manifest::encode_entry(w, e);
}

fn encode_upsert_staged(
    w: &mut Writer,
    path: &RelPath,
    meta: &Meta,
    id: u64,
    size: u64,
    hash: &ContentHash,
) {
    w.bytes(path.as_bytes());
    encode_meta(w, meta);
    w.u8(2);
    w.varint(id);
    w.varint(size);
    w.fixed(&hash.0);
}

/// The encoded delta from `base` to `next` (see [`Delta::between`]), written straight from the
/// two sorted manifests (no second copy of their entries) and handed to `emit` in parts of `part`
/// bytes as they fill, so the whole encoding is never held either. `staged` gives the staged id
/// of a file sent by reference. Returns the body hash of `next` the delta carries.
pub fn encode_between<E>(
    base: &dyn EntrySource,
    next: &dyn EntrySource,
    staged: impl Fn(&RelPath) -> Option<u64>,
    part: usize,
    mut emit: impl FnMut(Vec<u8>) -> Result<(), E>,
) -> Result<ContentHash, E> {
    let part = part.max(1);
    let mut w = Writer::new();
    let mut flush = |w: &mut Writer, all: bool| -> Result<(), E> {
        while w.buf.len() >= part || (all && !w.buf.is_empty()) {
            let rest = w.buf.split_off(part.min(w.buf.len()));
            emit(std::mem::replace(&mut w.buf, rest))?;
        }
        Ok(())
    };
    // One walk of both finds what the header needs: the hash of `next`'s body, the removals and
    // how many upserts follow; a second one writes the upserts.
    let (mut removes, mut changed) = (Vec::<RelPath>::new(), 0u64);
    let expected = {
        // Consumed to the end by the hash, so the removals after `next`'s last entry are seen.
        let surveyed = walk_between(base, next).filter_map(|step| match step {
            Step::Gone(b) => {
                if !removes.last().is_some_and(|r| r.is_ancestor_of(&b.path)) {
                    removes.push(b.path.clone());
                }
                None
            }
            Step::Next(n, differs) => {
                changed += u64::from(differs);
                Some(n)
            }
        });
        crate::tree::manifest::body_hash_of(next.generation(), next.count(), surveyed)
    };
    w.varint(base.generation());
    w.varint(next.generation());
    w.fixed(&expected.0);
    w.varint(next.count());
    w.varint(removes.len() as u64);
    for r in removes {
        w.bytes(r.as_bytes());
        flush(&mut w, false)?;
    }
    w.varint(changed);
    let upserts = walk_between(base, next).filter_map(|step| match step {
        Step::Next(n, true) => Some(n),
        _ => None,
    });
    for e in upserts {
        match (&e.kind, staged(&e.path)) {
            (Kind::File(d), Some(id)) if !d.stored_chunks().is_empty() => {
                encode_upsert_staged(&mut w, &e.path, &e.meta, id, d.size, &d.hash)
            }
            _ => encode_upsert_entry(&mut w, &e),
        }
        flush(&mut w, false)?;
    }
    flush(&mut w, true)?;
    Ok(expected)
}

/// A step of [`walk_between`].
enum Step<'a> {
    /// An entry of the base that the next manifest does not have.
    Gone(std::borrow::Cow<'a, Entry>),
    /// An entry of the next manifest, and whether it differs from the base's (or is new).
    Next(std::borrow::Cow<'a, Entry>, bool),
}

/// `base` and `next` walked together in path order (both are sorted): every entry of `next`,
/// and every entry of `base` it does not have.
fn walk_between<'a>(
    base: &'a dyn EntrySource,
    next: &'a dyn EntrySource,
) -> impl Iterator<Item = Step<'a>> {
    let (mut bases, mut nexts) = (base.entries().peekable(), next.entries().peekable());
    std::iter::from_fn(move || {
        let order = match (bases.peek(), nexts.peek()) {
            (Some(b), Some(n)) => b.path.cmp(&n.path),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => return None,
        };
        Some(match order {
            std::cmp::Ordering::Less => Step::Gone(bases.next()?),
            std::cmp::Ordering::Equal => {
                let (b, n) = (bases.next()?, nexts.next()?);
                let differs = *b != *n;
                Step::Next(n, differs)
            }
            std::cmp::Ordering::Greater => Step::Next(nexts.next()?, true),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::manifest::tests::{e, file};

    fn m(generation: u64, mut entries: Vec<Entry>) -> Manifest {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Manifest { generation, entries }
    }

    #[test]
    fn a_delta_rebuilds_the_next_manifest() {
        let big = crate::tree::chunk::tests::noise(1, 300_000);
        let mut edited = big.clone();
        edited[150_000] ^= 1;
        let base = m(
            3,
            vec![e("d", Kind::Dir), file("d/a", b"1"), file("d/gone", b"x"), file("big", &big)],
        );
        let next = m(
            4,
            vec![e("d", Kind::Dir), file("d/a", b"2"), file("big", &edited), e("n", Kind::Dir)],
        );
        let big_path = RelPath::new("big").unwrap();
        let staged = HashMap::from([(big_path.clone(), 7)]);
        let delta = Delta::between(&base, &next, &staged).unwrap();
        assert_eq!(delta.removes, vec![RelPath::new("d/gone").unwrap()]);
        assert_eq!(delta.upserts.len(), 3);
        let decoded = Delta::decode(&delta.encode()).unwrap();
        assert_eq!(decoded, delta);
        let digest = next.get(&big_path).unwrap().digest().cloned();
        let rebuilt =
            decoded.apply(base.clone(), |id| (id == 7).then(|| digest.clone()).flatten()).unwrap();
        assert_eq!(rebuilt, next);
        // the chunk list of the big file travelled by reference only
        assert!(delta.encode().len() < 400, "{} bytes", delta.encode().len());
    }

    /// Parts of any size join into the one encoding, and none is larger than asked for; a part
    /// may end inside an entry (the receiver joins them before decoding).
    #[test]
    fn the_delta_is_emitted_in_parts_of_the_size_asked_for() {
        let base = m(1, vec![e("d", Kind::Dir), file("d/gone", b"x"), file("d/a", b"1")]);
        let mut entries = vec![e("d", Kind::Dir), file("d/a", b"2")];
        entries.extend((0..50).map(|i| file(&format!("n{i:02}"), format!("{i}").as_bytes())));
        let next = m(2, entries);
        let whole = Delta::between(&base, &next, &HashMap::new()).unwrap().encode();
        for part in [1, 7, 100, whole.len() - 1, whole.len(), whole.len() + 1] {
            let mut parts = Vec::new();
            let carried = encode_between(
                &base,
                &next,
                |_| None,
                part,
                |p| {
                    parts.push(p);
                    Ok::<(), ()>(())
                },
            )
            .unwrap();
            assert_eq!(carried, next.body_hash(), "the hash the delta carries is returned");
            assert!(parts.iter().all(|p| !p.is_empty() && p.len() <= part), "part {part}");
            assert_eq!(parts.len(), whole.len().div_ceil(part), "part {part}");
            assert_eq!(parts.concat(), whole, "part {part}");
        }
        // An error from the receiver stops the encoding and is returned.
        let mut calls = 0;
        let stopped = encode_between(
            &base,
            &next,
            |_| None,
            10,
            |_| {
                calls += 1;
                if calls == 3 { Err("gone") } else { Ok(()) }
            },
        );
        assert_eq!(stopped, Err("gone"));
        assert_eq!(calls, 3);
    }

    /// Read in pieces cut anywhere (inside paths, hashes, chunk lists, varints), the reader gives
    /// the delta the whole encoding gives; cut short or with bytes to spare, it refuses.
    #[test]
    fn a_delta_reads_from_a_stream_cut_anywhere() {
        let big = crate::tree::chunk::tests::noise(3, 400_000);
        let base = m(1, vec![e("d", Kind::Dir), file("d/gone", b"x"), file("d/a", b"1")]);
        let mut entries = vec![e("d", Kind::Dir), file("d/a", b"2"), file("big", &big)];
        entries.extend((0..30).map(|i| file(&format!("n{i:02}"), format!("{i}").as_bytes())));
        let next = m(2, entries);
        let whole = Delta::between(&base, &next, &HashMap::new()).unwrap();
        let bytes = whole.encode();
        let listed = |u: &Upsert| match u {
            Upsert::Entry(e) => e.digest().is_some_and(|d| d.stored_chunks().len() > 3),
            Upsert::File { .. } => false,
        };
        assert!(whole.upserts.iter().any(listed), "a chunk list travels in the delta");
        let read = |data: &[u8], step: usize| {
            Delta::read_from(crate::tree::chunk::tests::Trickle(data, step))
        };
        for step in [1, 2, 3, 5, 8, 13, 64, 333, bytes.len() - 1, bytes.len()] {
            assert_eq!(read(&bytes, step).unwrap(), whole, "reads of {step}");
        }
        for cut in [0, 1, 40, bytes.len() / 2, bytes.len() - 1] {
            let got = read(&bytes[..cut], 7);
            assert!(matches!(got, Err(DecodeError::Truncated { .. })), "cut at {cut}: {got:?}");
        }
        assert!(read(&[&bytes[..], b"x"].concat(), 5).is_err(), "a trailing byte is refused");
    }

    /// The streamed apply, reading both manifests as files, writes a manifest file that reads
    /// back as the next one, and refuses what does not add up; `Delta::apply`, its entry point
    /// for manifests in memory, agrees.
    #[test]
    fn a_streamed_apply_writes_the_next_manifest_file() {
        let big = crate::tree::chunk::tests::noise(4, 300_000);
        let base = m(3, vec![e("d", Kind::Dir), file("d/a", b"1"), file("d/gone", b"x")]);
        let mut entries = vec![e("d", Kind::Dir), file("d/a", b"2"), file("big", &big)];
        entries.extend((0..40).map(|i| file(&format!("d/n{i:02}"), format!("{i}").as_bytes())));
        let next = m(4, entries);
        let staged = HashMap::from([(RelPath::new("big").unwrap(), 9)]);
        let digest = next.get(&RelPath::new("big").unwrap()).unwrap().digest().cloned();
        let stage = |id: u64| (id == 9).then(|| digest.clone()).flatten();
        let apply = |delta: &[u8], base: Option<&Manifest>| {
            let base = base.map(Manifest::encode);
            let mut out = Vec::new();
            let base = base.as_deref().map(|b| EntryReader::open(b).unwrap());
            let delta = DeltaReader::open(delta).map_err(DeltaError::Malformed)?;
            let generation = apply_streamed(delta, base, stage, &mut out)?;
            let written = Manifest::decode(&out).unwrap();
            assert_eq!(written.generation, generation);
            Ok::<Manifest, DeltaError>(written)
        };
        let delta = Delta::between(&base, &next, &staged).unwrap();
        assert_eq!(apply(&delta.encode(), Some(&base)).unwrap(), next);
        assert_eq!(delta.clone().apply(base.clone(), stage).unwrap(), next);
        // A first sync: no manifest yet.
        let empty = m(0, vec![]);
        let first = Delta::between(&empty, &next, &staged).unwrap();
        assert_eq!(apply(&first.encode(), None).unwrap(), next);
        // Made for another generation, or announcing another result: refused.
        let other = m(7, base.entries.clone());
        let got = apply(&delta.encode(), Some(&other));
        assert!(matches!(got, Err(DeltaError::Generation { expected: 3, actual: 7 })), "{got:?}");
        let mut tampered = delta.clone();
        tampered.expected = ContentHash::of(b"other");
        let got = apply(&tampered.encode(), Some(&base));
        assert!(matches!(got, Err(DeltaError::Differs)), "{got:?}");
        // Upserts out of order, or one repeated: the result is not a manifest.
        let mut swapped = first.clone();
        swapped.upserts.swap(1, 2);
        let got = apply(&swapped.encode(), None);
        assert!(matches!(got, Err(DeltaError::Invalid(_))), "{got:?}");
        assert!(matches!(swapped.apply(empty.clone(), stage), Err(DeltaError::Invalid(_))));
        let mut repeated = first.clone();
        repeated.upserts.insert(1, repeated.upserts[1].clone());
        let got = apply(&repeated.encode(), None);
        assert!(matches!(got, Err(DeltaError::Invalid(_))), "{got:?}");
        // Cut short: malformed, whatever was written.
        let bytes = delta.encode();
        let got = apply(&bytes[..bytes.len() - 1], Some(&base));
        assert!(matches!(got, Err(DeltaError::Malformed(_))), "{got:?}");
        // A staged file the destination does not know.
        let first_bytes = first.encode();
        let reader = DeltaReader::open(&first_bytes[..]).unwrap();
        let got = apply_streamed(reader, None::<EntryReader<&[u8]>>, |_| None, &mut Vec::new());
        assert!(matches!(got, Err(DeltaError::UnknownStaged(9))), "{got:?}");
        // A count that is not the result's.
        let mut miscounted = first.clone();
        miscounted.count += 1;
        let got = apply(&miscounted.encode(), None);
        assert!(matches!(got, Err(DeltaError::Differs)), "{got:?}");
        assert!(matches!(miscounted.apply(empty, stage), Err(DeltaError::Differs)));
    }

    #[test]
    fn wrong_bases_and_staged_files_are_refused() {
        let base = m(1, vec![file("a", b"1")]);
        let next = m(2, vec![file("a", b"2")]);
        let delta = Delta::between(&base, &next, &HashMap::new()).unwrap();
        let other = m(5, vec![file("a", b"1")]);
        assert!(matches!(delta.clone().apply(other, |_| None), Err(DeltaError::Generation { .. })));
        let mut tampered = delta.clone();
        tampered.expected = ContentHash::of(b"other");
        assert!(matches!(tampered.apply(base.clone(), |_| None), Err(DeltaError::Differs)));
        let big = crate::tree::chunk::tests::noise(2, 200_000);
        let next = m(2, vec![file("a", &big)]);
        let staged = HashMap::from([(RelPath::new("a").unwrap(), 1)]);
        let delta = Delta::between(&base, &next, &staged).unwrap();
        assert!(matches!(
            delta.clone().apply(base.clone(), |_| None),
            Err(DeltaError::UnknownStaged(1))
        ));
        let wrong = crate::tree::chunk::digest_reader(&b"nope"[..]).unwrap();
        assert!(matches!(
            delta.apply(base.clone(), |_| Some(wrong.clone())),
            Err(DeltaError::StagedMismatch(1))
        ));
        // removing a directory removes what is below it
        let base = m(1, vec![e("d", Kind::Dir), file("d/x", b"1"), file("d/y", b"2")]);
        let next = m(2, vec![]);
        let delta = Delta::between(&base, &next, &HashMap::new()).unwrap();
        assert_eq!(delta.removes.len(), 1);
        assert_eq!(delta.clone().apply(base, |_| None).unwrap(), next);
        for n in 0..delta.encode().len() {
            assert!(Delta::decode(&delta.encode()[..n]).is_err());
        }
    }
}
