//! Manifest deltas: what changed between two manifests, sent to a remote agent instead of the
//! whole new manifest.
//!
//! A sync that edits a few bytes of a large file should not re-upload the file's whole chunk list
//! (36 bytes per 16 KiB chunk: 2.3 MB for 1 GiB). So the client sends only the entries that
//! changed, and for a file the agent has just staged it sends no chunk list at all: the agent knows
//! it from staging (the file's new chunks came one per frame, its reused ranges from its own
//! manifest). The delta carries the SHA-256 of the manifest body it must produce; the agent checks
//! it, so a disagreement can never be committed. The client encodes it straight from the two
//! manifests and sends it in parts as they fill; the agent decodes the parts as they arrive
//! ([`DeltaDecoder`]).

use crate::chunk::FileDigest;
use crate::codec::{DecodeError, Reader, Writer, reserve_announced};
use crate::hash::ContentHash;
use crate::manifest::{
    Entry, Kind, Manifest, Meta, decode_digest, decode_meta, encode_digest, encode_meta,
};
use crate::path::{KnownPaths, MAX_PATH_LEN, RelPath};
use std::collections::{HashMap, HashSet};

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

impl Upsert {
    #[cfg(test)]
    fn path(&self) -> &RelPath {
        match self {
            Upsert::Entry(e) => &e.path,
            Upsert::File { path, .. } => path,
        }
    }
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

    /// Apply to `base`, taking staged files' digests from `staged`. Both are consumed: entries
    /// move into the result instead of being copied (on the agent, a commit of 100k files would
    /// otherwise hold three copies of them).
    pub fn apply(
        self,
        base: Manifest,
        staged: impl Fn(u64) -> Option<FileDigest>,
    ) -> Result<Manifest, DeltaError> {
        if base.generation != self.base_generation {
            return Err(DeltaError::Generation {
                expected: self.base_generation,
                actual: base.generation,
            });
        }
        let (generation, expected) = (self.generation, self.expected);
        let removed: HashSet<RelPath> = self.removes.into_iter().collect();
        let is_removed = |p: &RelPath| p.self_and_ancestors().any(|q| removed.contains(&q));
        // Collected in place where the layouts allow it (no second list of every entry).
        let mut upserts = self
            .upserts
            .into_iter()
            .map(|u| match u {
                Upsert::Entry(e) => Ok(e),
                Upsert::File { path, meta, chunks: Chunks::Inline(d) } => {
                    Ok(Entry { path, meta, kind: Kind::File(d) })
                }
                Upsert::File { path, meta, chunks: Chunks::Staged { id, size, hash } } => {
                    let d = staged(id).ok_or(DeltaError::UnknownStaged(id))?;
                    if d.size != size || d.hash != hash {
                        return Err(DeltaError::StagedMismatch(id));
                    }
                    Ok(Entry { path, meta, kind: Kind::File(d) })
                }
            })
            .collect::<Result<Vec<Entry>, DeltaError>>()?;
        // In path order; of two upserts of one path the later wins.
        crate::sorted::sort_keep_last(&mut upserts, |a, b| a.path.cmp(&b.path));
        // Merge the two sorted lists; an upsert replaces the base entry of its path. Onto an
        // empty base (a first sync) the upserts are the manifest, without a copy.
        if base.entries.is_empty() {
            return checked(generation, &expected, upserts);
        }
        let mut entries = Vec::with_capacity(base.entries.len() + upserts.len());
        let mut upserts = upserts.into_iter().peekable();
        for e in base.entries {
            while let Some(u) = upserts.next_if(|u| u.path < e.path) {
                entries.push(u);
            }
            if is_removed(&e.path) || upserts.peek().is_some_and(|u| u.path == e.path) {
                continue;
            }
            entries.push(e);
        }
        entries.extend(upserts);
        checked(generation, &expected, entries)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.varint(self.base_generation);
        w.varint(self.generation);
        w.fixed(&self.expected.0);
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
        let mut d = DeltaDecoder::default();
        d.feed(data)?;
        d.finish()
    }
}

/// Decodes a delta from parts that may end anywhere, as they arrive: the agent never holds the
/// whole encoding, only what an unfinished item has so far.
#[derive(Debug, Default)]
pub struct DeltaDecoder {
    /// Bytes of the item not complete yet.
    pending: Vec<u8>,
    /// Bytes `pending` must reach before the item is tried again ([`crate::codec::retry_at`]):
    /// an item spanning many parts is parsed a few times, not once a part.
    need: usize,
    /// Set once the header is read: the delta so far, and the removes and upserts still to come
    /// (`None`: the upsert count itself is still to come).
    delta: Option<(Delta, u64, Option<u64>)>,
    /// Paths the receiver already holds, shared rather than allocated again.
    known: KnownPaths,
}

impl DeltaDecoder {
    /// A decoder whose paths, where they are among `known`, are those.
    pub fn sharing(known: KnownPaths) -> Self {
        DeltaDecoder { known, ..Default::default() }
    }

    /// Decode every item `part` completes.
    pub fn feed(&mut self, part: &[u8]) -> Result<(), DecodeError> {
        if self.pending.is_empty() {
            let used = self.decode_items(part)?;
            self.pending = part[used..].to_vec();
        } else {
            self.pending.extend_from_slice(part);
            if self.pending.len() >= self.need {
                self.decode_pending()?;
            }
        }
        Ok(())
    }

    /// The delta, once every item it announced has come and nothing more.
    pub fn finish(mut self) -> Result<Delta, DecodeError> {
        if !self.pending.is_empty() {
            self.decode_pending()?;
        }
        match self.delta {
            Some((delta, 0, Some(0))) if self.pending.is_empty() => Ok(delta),
            _ => Err(DecodeError::Truncated {
                what: "manifest delta",
                wanted: self.need.saturating_sub(self.pending.len()).max(1) as u64,
            }),
        }
    }

    fn decode_pending(&mut self) -> Result<(), DecodeError> {
        let pending = std::mem::take(&mut self.pending);
        let used = self.decode_items(&pending)?;
        // What is left is an unfinished item: it moves to a buffer of its own size, and the
        // large one goes.
        self.pending = pending[used..].to_vec();
        Ok(())
    }

    /// Decode the complete items at the start of `data`; the bytes they took.
    fn decode_items(&mut self, data: &[u8]) -> Result<usize, DecodeError> {
        let mut r = Reader::new(data);
        let mut used = 0;
        self.need = 0;
        loop {
            match self.decode_item(&mut r) {
                Ok(true) => used = data.len() - r.remaining(),
                Ok(false) => return Ok(used),
                // Cut off: the rest comes with the next part.
                Err(DecodeError::Truncated { wanted, .. }) => {
                    let have = data.len() - used;
                    self.need = crate::codec::retry_at(have, wanted);
                    return Ok(used);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Decode one item; `Ok(false)` when the delta is complete.
    fn decode_item(&mut self, r: &mut Reader<'_>) -> Result<bool, DecodeError> {
        let Some((delta, removes_left, upserts_left)) = &mut self.delta else {
            let base_generation = r.varint("base generation")?;
            let generation = r.varint("generation")?;
            let expected = ContentHash(r.fixed("expected hash")?);
            let n = r.varint("removes")?;
            let delta =
                Delta { base_generation, generation, removes: vec![], upserts: vec![], expected };
            self.delta = Some((delta, n, None));
            return Ok(true);
        };
        if *removes_left > 0 {
            let p = r.bytes("path", MAX_PATH_LEN)?;
            let p = self.known.get(p).map_err(|e| DecodeError::invalid("path", e.to_string()))?;
            let announced = delta.removes.len() as u64 + *removes_left;
            reserve_announced(&mut delta.removes, announced);
            delta.removes.push(p);
            *removes_left -= 1;
            return Ok(true);
        }
        match upserts_left {
            None => {
                *upserts_left = Some(r.varint("upserts")?);
                Ok(true)
            }
            Some(0) => {
                if r.is_empty() {
                    Ok(false)
                } else {
                    Err(DecodeError::invalid(
                        "manifest delta",
                        format!("{} trailing bytes", r.remaining()),
                    ))
                }
            }
            Some(left) => {
                let upsert = decode_upsert(r, &self.known)?;
                let announced = delta.upserts.len() as u64 + *left;
                reserve_announced(&mut delta.upserts, announced);
                delta.upserts.push(upsert);
                *left -= 1;
                Ok(true)
            }
        }
    }
}

/// One upsert: a tag 0 then a whole entry, or a path then a file by reference.
fn decode_upsert(r: &mut Reader<'_>, known: &KnownPaths) -> Result<Upsert, DecodeError> {
    if r.peek() == Some(0) {
        r.u8("upsert")?;
        return Ok(Upsert::Entry(crate::manifest::decode_entry_sharing(r, known)?));
    }
    let p = r.bytes("path", MAX_PATH_LEN)?;
    let path = known.get(p).map_err(|e| DecodeError::invalid("path", e.to_string()))?;
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
    crate::manifest::encode_entry(w, e);
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

/// The manifest of `entries`, checked against the hash the client said its body would have.
fn checked(
    generation: u64,
    expected: &ContentHash,
    entries: Vec<Entry>,
) -> Result<Manifest, DeltaError> {
    let m = Manifest { generation, entries };
    m.validate().map_err(DeltaError::Invalid)?;
    if m.body_hash() != *expected {
        return Err(DeltaError::Differs);
    }
    Ok(m)
}

/// The encoded delta from `base` to `next` (see [`Delta::between`]), written straight from the
/// two sorted manifests (no second copy of their entries) and handed to `emit` in parts of `part`
/// bytes as they fill, so the whole encoding is never held either. `staged` gives the staged id
/// of a file sent by reference. Returns the body hash of `next` the delta carries.
pub fn encode_between<E>(
    base: &Manifest,
    next: &Manifest,
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
    let removes = removed_between(base, next);
    let expected = next.body_hash();
    w.varint(base.generation);
    w.varint(next.generation);
    w.fixed(&expected.0);
    w.varint(removes.len() as u64);
    for r in removes {
        w.bytes(r.as_bytes());
        flush(&mut w, false)?;
    }
    w.varint(changed_between(base, next).count() as u64);
    for e in changed_between(base, next) {
        match (&e.kind, staged(&e.path)) {
            (Kind::File(d), Some(id)) if !d.stored_chunks().is_empty() => {
                encode_upsert_staged(&mut w, &e.path, &e.meta, id, d.size, &d.hash)
            }
            _ => encode_upsert_entry(&mut w, e),
        }
        flush(&mut w, false)?;
    }
    flush(&mut w, true)?;
    Ok(expected)
}

/// The topmost paths of `base` that `next` does not have (a removed directory stands for
/// everything below it). Both are sorted, so one walk of each finds them.
fn removed_between<'a>(base: &'a Manifest, next: &Manifest) -> Vec<&'a RelPath> {
    let mut removes: Vec<&RelPath> = Vec::new();
    let mut nexts = next.entries.iter().peekable();
    for e in &base.entries {
        while nexts.next_if(|n| n.path < e.path).is_some() {}
        let kept = nexts.peek().is_some_and(|n| n.path == e.path);
        let covered = removes.last().is_some_and(|r| r.is_ancestor_of(&e.path));
        if !kept && !covered {
            removes.push(&e.path);
        }
    }
    removes
}

/// The entries of `next` that `base` does not have as they are, in order.
fn changed_between<'a>(base: &'a Manifest, next: &'a Manifest) -> impl Iterator<Item = &'a Entry> {
    let mut bases = base.entries.iter().peekable();
    next.entries.iter().filter(move |e| {
        while bases.next_if(|b| b.path < e.path).is_some() {}
        bases.peek().is_none_or(|b| b != e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::{e, file};

    fn m(generation: u64, mut entries: Vec<Entry>) -> Manifest {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Manifest { generation, entries }
    }

    #[test]
    fn a_delta_rebuilds_the_next_manifest() {
        let big = crate::chunk::tests::noise(1, 300_000);
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

    /// Fed in parts cut anywhere (inside paths, hashes, chunk lists, varints), the decoder gives
    /// the delta the whole encoding gives; cut short or with bytes to spare, it refuses.
    #[test]
    fn a_delta_decodes_from_parts_cut_anywhere() {
        let big = crate::chunk::tests::noise(3, 400_000);
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
        for part in [1, 2, 3, 5, 8, 13, 64, 333, bytes.len() - 1, bytes.len()] {
            let mut d = DeltaDecoder::default();
            for p in bytes.chunks(part) {
                d.feed(p).unwrap();
            }
            assert_eq!(d.finish().unwrap(), whole, "parts of {part}");
        }
        for cut in [0, 1, 40, bytes.len() / 2, bytes.len() - 1] {
            let mut d = DeltaDecoder::default();
            d.feed(&bytes[..cut]).unwrap();
            assert!(matches!(d.finish(), Err(DecodeError::Truncated { .. })), "cut at {cut}");
        }
        // Bytes past the end are refused, with the last part or after it.
        let mut d = DeltaDecoder::default();
        assert!(d.feed(&[&bytes[..], b"x"].concat()).is_err());
        let mut d = DeltaDecoder::default();
        d.feed(&bytes).unwrap();
        assert!(d.feed(b"x").is_err());
        let mut d = DeltaDecoder::default();
        d.feed(&bytes[..bytes.len() - 1]).unwrap();
        let fed = d.feed(&[bytes[bytes.len() - 1], b'x']);
        assert!(fed.is_err() || d.finish().is_err());
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
        let big = crate::chunk::tests::noise(2, 200_000);
        let next = m(2, vec![file("a", &big)]);
        let staged = HashMap::from([(RelPath::new("a").unwrap(), 1)]);
        let delta = Delta::between(&base, &next, &staged).unwrap();
        assert!(matches!(
            delta.clone().apply(base.clone(), |_| None),
            Err(DeltaError::UnknownStaged(1))
        ));
        let wrong = crate::chunk::digest_reader(&b"nope"[..]).unwrap();
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

    #[test]
    fn upserts_in_any_order_and_repeated_paths_apply_as_before() {
        let base = m(1, vec![file("a", b"1"), file("c", b"3"), file("e", b"5")]);
        let next = m(2, vec![file("a", b"1"), file("b", b"2"), file("c", b"33"), file("f", b"6")]);
        let mut delta = Delta::between(&base, &next, &HashMap::new()).unwrap();
        // out of order, and "c" twice: the later one counts
        delta.upserts.reverse();
        delta.upserts.insert(0, Upsert::Entry(file("c", b"stale")));
        let order: Vec<&[u8]> = delta.upserts.iter().map(|u| u.path().as_bytes()).collect();
        assert_eq!(order, [&b"c"[..], b"f", b"c", b"b"]);
        assert_eq!(delta.apply(base, |_| None).unwrap(), next);
        // The same onto an empty base (a first sync), where the upserts become the manifest.
        let empty = m(0, vec![]);
        let mut first = Delta::between(&empty, &next, &HashMap::new()).unwrap();
        first.upserts.reverse();
        first.upserts.push(Upsert::Entry(file("c", b"stale")));
        first.upserts.push(Upsert::Entry(file("c", b"33")));
        assert_eq!(first.apply(empty.clone(), |_| None).unwrap(), next);
        // A stale version last is a different manifest from the one announced.
        let mut wrong = Delta::between(&empty, &next, &HashMap::new()).unwrap();
        wrong.upserts.push(Upsert::Entry(file("c", b"stale")));
        assert!(matches!(wrong.apply(empty, |_| None), Err(DeltaError::Differs)));
    }
}
