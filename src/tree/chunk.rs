//! Content-defined chunking (FastCDC) and hashing of a byte stream.
//!
//! A file's content is cut where the content says so, not at fixed offsets, so an insertion near
//! the start of a file moves only the chunks it touches; every later chunk keeps its hash and can
//! be reused at the destination. This module knows nothing about paths or the network: it turns
//! `impl Read` into a [`FileDigest`] (the chunk list, and the file's hash computed from it; see
//! [`crate::tree::hash`]).

use crate::tree::hash::ContentHash;
use fastcdc::v2020::FastCDC;
use rayon::prelude::*;
use std::io::{self, Read};

/// Smallest chunk, except for the last one of a file.
pub const MIN_CHUNK: usize = 4 * 1024;
/// Target average chunk size.
pub const AVG_CHUNK: usize = 16 * 1024;
/// Largest chunk.
pub const MAX_CHUNK: usize = 64 * 1024;

/// Read buffer: large enough that the per-buffer carry-over (at most one chunk) is cheap.
const BUF_SIZE: usize = 1024 * 1024;
/// Buffers at least this full hash their chunks on all cores.
const PARALLEL_FROM: usize = 512 * 1024;

/// One content-defined chunk of a file. Its offset is the sum of the lengths before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    pub len: u32,
    pub hash: ContentHash,
}

/// What tern knows about a file's content.
///
/// A file of zero or one chunk stores no chunk list: its single chunk is the whole file, with the
/// file's hash. That keeps manifests of many small files compact. The hash of a file of more
/// chunks is the hash of its chunk list ([`ContentHash::of_file`]), which `new` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub size: u64,
    pub hash: ContentHash,
    /// The chunk list of a file of two chunks or more, behind one thin pointer: every file of a
    /// tree holds this field, and few have a list (an entry is 8 bytes smaller than with a `Vec`).
    #[allow(clippy::box_collection)]
    chunks: Option<Box<Vec<ChunkRef>>>,
}

/// A chunk with its position in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkAt {
    pub offset: u64,
    pub len: u32,
    pub hash: ContentHash,
}

impl FileDigest {
    /// Build a digest from its parts, as a manifest stores them; a one-element chunk list is
    /// stored as none. Fails when the chunk lengths do not add up to `size`, or the hash is not
    /// the one the chunks give.
    pub fn new(size: u64, hash: ContentHash, mut chunks: Vec<ChunkRef>) -> Result<Self, String> {
        if chunks.len() == 1 {
            if chunks[0].hash != hash || u64::from(chunks[0].len) != size {
                return Err("a single chunk must equal the whole file".into());
            }
            chunks.clear();
        }
        if !chunks.is_empty() {
            let total: u64 = chunks.iter().map(|c| u64::from(c.len)).sum();
            if total != size {
                return Err(format!("chunk lengths add up to {total}, not the file size {size}"));
            }
            if chunks.iter().any(|c| c.len == 0) {
                return Err("a chunk has length zero".into());
            }
            if ContentHash::of_file(chunks.iter().map(|c| &c.hash)) != hash {
                return Err("the file hash is not the hash of its chunk list".into());
            }
        } else if size > MAX_CHUNK as u64 {
            return Err(format!("a file of {size} bytes needs a chunk list"));
        }
        let chunks = (!chunks.is_empty()).then(|| Box::new(chunks));
        Ok(FileDigest { size, hash, chunks })
    }

    /// The digest of a file made of `chunks`, in order: its size and hash follow from them.
    pub fn of_chunks(mut chunks: Vec<ChunkRef>) -> Self {
        let size = chunks.iter().map(|c| u64::from(c.len)).sum();
        let hash = ContentHash::of_file(chunks.iter().map(|c| &c.hash));
        // No list, nor spare capacity, kept per file: a tree of small files has many.
        let chunks = (chunks.len() > 1).then(|| {
            chunks.shrink_to_fit();
            Box::new(chunks)
        });
        FileDigest { size, hash, chunks }
    }

    /// The digest of an empty file.
    pub fn empty() -> Self {
        Self::of_chunks(Vec::new())
    }

    /// The stored chunk list (empty for files of zero or one chunk).
    pub fn stored_chunks(&self) -> &[ChunkRef] {
        self.chunks.as_deref().map_or(&[], Vec::as_slice)
    }

    /// How many chunks the file has: its list's, or one for a non-empty file without a list.
    pub fn chunk_count(&self) -> usize {
        match self.stored_chunks() {
            [] => usize::from(self.size > 0),
            list => list.len(),
        }
    }

    /// Chunk `n` of the file: from its list, or the whole file for a file of one chunk.
    pub fn nth_chunk(&self, n: usize) -> Option<ChunkRef> {
        match self.stored_chunks() {
            [] => (n == 0 && self.size > 0)
                .then_some(ChunkRef { len: self.size as u32, hash: self.hash }),
            list => list.get(n).copied(),
        }
    }

    /// Every chunk with its offset, in order; a non-empty file always has at least one.
    pub fn chunks_at(&self) -> impl Iterator<Item = ChunkAt> + '_ {
        let mut offset = 0;
        (0..self.chunk_count()).filter_map(|n| self.nth_chunk(n)).map(move |c| {
            let at = ChunkAt { offset, len: c.len, hash: c.hash };
            offset += u64::from(c.len);
            at
        })
    }

    /// [`FileDigest::chunks_at`], collected.
    pub fn chunks(&self) -> Vec<ChunkAt> {
        self.chunks_at().collect()
    }
}

/// Consecutive runs of `chunks` of at most `limit` bytes each (a longer chunk is a run of its
/// own), in order.
pub fn runs_of(chunks: &[ChunkRef], limit: u64) -> impl Iterator<Item = &[ChunkRef]> {
    let mut rest = chunks;
    std::iter::from_fn(move || {
        let mut bytes = 0;
        let n = rest
            .iter()
            .position(|c| {
                bytes += u64::from(c.len);
                bytes > limit
            })
            .unwrap_or(rest.len())
            .max(1)
            .min(rest.len());
        let (run, tail) = rest.split_at(n);
        rest = tail;
        (!run.is_empty()).then_some(run)
    })
}

/// Whether `data` is exactly `chunks`, one after the other, each with its hash; the chunks of a
/// large buffer are hashed on all cores.
pub fn intact(data: &[u8], chunks: &[ChunkRef]) -> bool {
    let mut at = Vec::with_capacity(chunks.len());
    let mut offset = 0usize;
    for c in chunks {
        at.push((offset, c));
        offset += c.len as usize;
    }
    if offset != data.len() {
        return false;
    }
    let ok = |&(o, c): &(usize, &ChunkRef)| {
        ContentHash::of_chunk(&data[o..o + c.len as usize]) == c.hash
    };
    if data.len() >= PARALLEL_FROM { at.par_iter().all(ok) } else { at.iter().all(ok) }
}

thread_local! {
    /// Two read buffers per thread, reused: a fresh 1 MiB buffer per file made zeroing it the
    /// largest cost of scanning many small files. The second is grown only by a file larger than
    /// the first.
    static BUFFERS: std::cell::RefCell<[Vec<u8>; 2]> =
        const { std::cell::RefCell::new([Vec::new(), Vec::new()]) };
}

/// Read `reader` to the end, cutting it into chunks and hashing them.
pub fn digest_reader(reader: impl Read + Send) -> io::Result<FileDigest> {
    digest_sized(reader, u64::MAX)
}

/// [`digest_reader`] for a file expected to hold `size` bytes (it may hold any number): a thread
/// that only meets small files keeps a small read buffer.
pub fn digest_sized(reader: impl Read + Send, size: u64) -> io::Result<FileDigest> {
    // Room for the whole file and one more byte (to see the end in one read), and never less
    // than two chunks, so that a full buffer always holds a cut before its end.
    let want = size.saturating_add(1).clamp(2 * MAX_CHUNK as u64, BUF_SIZE as u64) as usize;
    BUFFERS.with(|b| {
        let [first, second] = &mut *b.borrow_mut();
        if first.len() < want {
            first.resize(want, 0);
        }
        digest_with(reader, first, second)
    })
}

/// Where the chunker cuts a run of zeros that starts at a cut: a hole of 10 GiB is cut without
/// running the chunker over it, in the same places.
fn zero_cut() -> usize {
    static CUT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CUT.get_or_init(|| {
        let zeros = vec![0u8; 2 * MAX_CHUNK];
        FastCDC::new(&zeros, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK).next().map_or(MAX_CHUNK, |c| c.length)
    })
}

/// The hash of one chunk. A chunk of zeros (a sparse file's hole, a disk image's free space) is
/// hashed once per length and thread: a hole of 10 GiB is 160,000 such chunks, all alike. Other
/// chunks leave the check at their first byte that is not zero.
pub fn chunk_hash(data: &[u8]) -> ContentHash {
    if data.first() != Some(&0) || !crate::tree::sparse::is_zero(data) {
        return ContentHash::of_chunk(data);
    }
    thread_local! {
        static ZEROS: std::cell::RefCell<Vec<(usize, ContentHash)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    ZEROS.with(|z| {
        let mut z = z.borrow_mut();
        if let Some((_, h)) = z.iter().find(|(len, _)| *len == data.len()) {
            return *h;
        }
        let h = ContentHash::of_chunk(data);
        if z.len() >= 16 {
            z.remove(0);
        }
        z.push((data.len(), h));
        h
    })
}

/// A buffer of a file being read: bytes `..filled`, of which `..consumed` are cut into chunks;
/// the rest is carried over to the next buffer, since where it is cut depends on what follows.
struct Cut<'b> {
    buf: &'b mut Vec<u8>,
    filled: usize,
    cuts: Vec<(usize, usize)>,
    consumed: usize,
}

impl<'b> Cut<'b> {
    /// Fill `buf` after its first `carried` bytes from `reader` (until it is full or the reader
    /// ends, which sets `eof`), and find the cut points of what it holds.
    fn read(
        buf: &'b mut Vec<u8>,
        carried: usize,
        reader: &mut impl Read,
        eof: &mut bool,
    ) -> io::Result<Self> {
        let mut filled = carried;
        while !*eof && filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => *eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // The last cut in a full buffer may only be where the buffer ended: that part waits.
        let mut cuts = Vec::new();
        let cdc = FastCDC::new(&buf[..filled], MIN_CHUNK, AVG_CHUNK, MAX_CHUNK);
        let zeros = zero_cut();
        let mut pos = 0;
        while pos < filled {
            let left = filled - pos;
            // A chunk that starts with `zeros` zero bytes ends there, whatever follows: the
            // chunker starts afresh at every cut and decides from the bytes before the cut only.
            let len = if left >= zeros && crate::tree::sparse::is_zero(&buf[pos..pos + zeros]) {
                zeros
            } else {
                cdc.cut(pos, left).1 - pos
            };
            if len == 0 || (pos + len == filled && !*eof) {
                break;
            }
            cuts.push((pos, len));
            pos += len;
        }
        let consumed = cuts.last().map_or(0, |&(o, l)| o + l);
        Ok(Cut { buf, filled, cuts, consumed })
    }

    /// Hash the chunks cut, on every core when there are many (a large file), in order.
    fn hash_into(&self, chunks: &mut Vec<ChunkRef>) {
        let data = &self.buf[..self.consumed];
        let hash = |&(o, l): &(usize, usize)| ChunkRef {
            len: l as u32,
            hash: chunk_hash(&data[o..o + l]),
        };
        if self.consumed >= PARALLEL_FROM {
            chunks.par_extend(self.cuts.par_iter().map(hash));
        } else {
            chunks.extend(self.cuts.iter().map(hash));
        }
    }
}

/// Cut and hash `reader` through two buffers: while one buffer's chunks are hashed (on every
/// core), the next is read and cut, which is sequential work. A file that fits in `first` is
/// read, cut and hashed once, on this thread, and never touches `second`.
fn digest_with(
    mut reader: impl Read + Send,
    first: &mut Vec<u8>,
    second: &mut Vec<u8>,
) -> io::Result<FileDigest> {
    let mut chunks = Vec::new();
    let mut eof = false;
    let mut cur = Cut::read(first, 0, &mut reader, &mut eof)?;
    let mut spare = second;
    while !eof {
        let carried = cur.filled - cur.consumed;
        if spare.len() < cur.buf.len() {
            spare.resize(cur.buf.len(), 0);
        }
        spare[..carried].copy_from_slice(&cur.buf[cur.consumed..cur.filled]);
        let (_, next) = rayon::join(
            || cur.hash_into(&mut chunks),
            || Cut::read(spare, carried, &mut reader, &mut eof),
        );
        let next = next?;
        spare = std::mem::replace(&mut cur, next).buf;
    }
    cur.hash_into(&mut chunks);
    Ok(FileDigest::of_chunks(chunks))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Deterministic pseudo-random bytes (xorshift), so tests need no data files.
    pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// The chunks one pass of FastCDC over all of `data` gives, hashed.
    fn one_pass(data: &[u8]) -> Vec<ChunkAt> {
        FastCDC::new(data, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
            .map(|c| ChunkAt {
                offset: c.offset as u64,
                len: c.length as u32,
                hash: ContentHash::of_chunk(&data[c.offset..c.offset + c.length]),
            })
            .collect()
    }

    /// A reader that returns at most `.1` bytes a read.
    pub(crate) struct Trickle<'a>(pub &'a [u8], pub usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Runs of zeros of every length around the zero cut, at every kind of place, are cut
    /// where the chunker run over every byte cuts them.
    #[test]
    fn zero_runs_are_cut_where_the_chunker_cuts_them() {
        let z = zero_cut();
        assert!((MIN_CHUNK..=MAX_CHUNK).contains(&z), "{z}");
        let mut data = Vec::new();
        for (i, run) in
            [z - 1, z, z + 1, 3 * z + 17, 1, MAX_CHUNK * 5, 100, z * 2].iter().enumerate()
        {
            data.extend(noise(i as u64 + 1, 20_000 + i * 3_333));
            data.extend(std::iter::repeat_n(0u8, *run));
        }
        data.extend(std::iter::repeat_n(0u8, 3 * z));
        let want: Vec<(u64, u32)> = one_pass(&data).iter().map(|c| (c.offset, c.len)).collect();
        for step in [1 << 20, 200_000, 7_777] {
            let digest = digest_reader(Trickle(&data, step)).unwrap();
            let got: Vec<(u64, u32)> = digest.chunks_at().map(|c| (c.offset, c.len)).collect();
            assert_eq!(got, want, "read {step} bytes at a time");
        }
    }

    #[test]
    fn small_files_have_one_implicit_chunk() {
        let d = digest_reader(&b"hello"[..]).unwrap();
        assert_eq!(d.size, 5);
        assert_eq!(d.hash, ContentHash::of_chunk(b"hello"));
        assert!(d.stored_chunks().is_empty());
        assert_eq!(d.chunks(), vec![ChunkAt { offset: 0, len: 5, hash: d.hash }]);
        assert_eq!(digest_reader(&b""[..]).unwrap(), FileDigest::empty());
        assert!(FileDigest::empty().chunks().is_empty());
    }

    #[test]
    fn files_of_one_or_a_few_chunks_match_fastcdc_and_the_hash_tree() {
        // Around the sizes where a file stops being a single chunk.
        let mut counts = Vec::new();
        for len in [MIN_CHUNK + 1, 9_000, 20_000, 40_000, MAX_CHUNK, MAX_CHUNK + 1, 150_000] {
            let data = noise(len as u64, len);
            let d = digest_reader(&data[..]).unwrap();
            let cuts = one_pass(&data);
            let file_hash = match cuts.len() {
                1 => ContentHash::of_chunk(&data),
                _ => ContentHash::of_file(cuts.iter().map(|c| &c.hash)),
            };
            assert_eq!(d.hash, file_hash, "{len} bytes");
            assert_eq!(d.chunks(), cuts, "{len} bytes");
            assert_eq!(d.stored_chunks().is_empty(), cuts.len() == 1, "{len} bytes");
            counts.push(cuts.len());
        }
        assert!(counts.contains(&1) && counts.iter().any(|&n| n > 1), "{counts:?}");
    }

    #[test]
    fn chunks_cover_the_file_and_respect_bounds() {
        let data = noise(7, 3 * BUF_SIZE + 12345);
        let d = digest_reader(&data[..]).unwrap();
        assert_eq!(d.size, data.len() as u64);
        let chunks = d.chunks();
        assert_eq!(d.hash, ContentHash::of_file(chunks.iter().map(|c| &c.hash)));
        assert!(chunks.len() > 10);
        let mut expect_off = 0;
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.offset, expect_off);
            let bytes = &data[c.offset as usize..c.offset as usize + c.len as usize];
            assert_eq!(c.hash, ContentHash::of_chunk(bytes));
            assert!(c.len as usize <= MAX_CHUNK);
            if i + 1 < chunks.len() {
                assert!(c.len as usize >= MIN_CHUNK);
            }
            expect_off += u64::from(c.len);
        }
        assert_eq!(expect_off, data.len() as u64);
    }

    #[test]
    fn the_size_hint_changes_no_digest() {
        let data = noise(4, BUF_SIZE + 3 * MAX_CHUNK + 17);
        let expected = digest_reader(&data[..]).unwrap();
        for hint in [0, 10, MAX_CHUNK as u64, 300_000, data.len() as u64, u64::MAX] {
            // Each on a fresh thread, whose buffer is the one the hint asks for.
            let got = std::thread::scope(|s| s.spawn(|| digest_sized(&data[..], hint)).join());
            assert_eq!(got.unwrap().unwrap(), expected, "hint {hint}");
        }
    }

    #[test]
    fn chunking_does_not_depend_on_read_sizes() {
        let data = noise(3, 2 * BUF_SIZE + 999);
        assert_eq!(digest_reader(&data[..]).unwrap(), digest_reader(Trickle(&data, 777)).unwrap());
    }

    /// A file read through many buffers (cut in one while the previous one's chunks are hashed)
    /// is cut exactly where one pass of FastCDC over all of it cuts, whatever the reads return.
    #[test]
    fn a_large_file_is_cut_as_in_one_pass() {
        let data = noise(5, 5 * BUF_SIZE + 4321);
        let one_pass = one_pass(&data);
        let expected = ContentHash::of_file(one_pass.iter().map(|c| &c.hash));
        let whole = digest_reader(&data[..]).unwrap();
        assert_eq!(whole.chunks(), one_pass);
        assert_eq!(whole.hash, expected);
        // Reads of odd sizes, and a size hint that starts the first buffer small.
        let trickle = Trickle(&data, 100_003);
        let got = std::thread::scope(|s| s.spawn(|| digest_sized(trickle, 1000)).join());
        assert_eq!(got.unwrap().unwrap(), whole);
    }

    #[test]
    fn an_insertion_keeps_most_chunks() {
        let data = noise(11, 1 << 20);
        let mut edited = data.clone();
        edited.splice(1000..1000, b"INSERTED".iter().copied());
        let a = digest_reader(&data[..]).unwrap();
        let b = digest_reader(&edited[..]).unwrap();
        let old: std::collections::HashSet<_> = a.chunks().iter().map(|c| c.hash).collect();
        let new_chunks = b.chunks();
        let fresh = new_chunks.iter().filter(|c| !old.contains(&c.hash)).count();
        assert!(fresh <= 2, "{fresh} of {} chunks changed", new_chunks.len());
    }

    #[test]
    fn runs_and_intact_ranges() {
        let data = noise(9, 1_500_000); // past PARALLEL_FROM: hashed on all cores
        let d = digest_reader(&data[..]).unwrap();
        let list: Vec<ChunkRef> = d.stored_chunks().to_vec();
        assert!(list.len() > 4);
        for limit in [0, 1, 40_000, 100_000, 1 << 30] {
            let runs: Vec<&[ChunkRef]> = runs_of(&list, limit).collect();
            assert_eq!(runs.concat(), list, "limit {limit}");
            for r in &runs {
                let bytes: u64 = r.iter().map(|c| u64::from(c.len)).sum();
                assert!(r.len() == 1 || bytes <= limit, "limit {limit}: run of {bytes}");
            }
        }
        assert_eq!(runs_of(&[], 10).count(), 0);
        assert!(intact(&data, &list));
        let mut bad = data.clone();
        bad[250_000] ^= 1;
        assert!(!intact(&bad, &list));
        assert!(!intact(&data[1..], &list), "a shorter buffer");
        assert!(intact(&data[..list[0].len as usize], &list[..1]));
    }

    #[test]
    fn digest_new_validates() {
        let h = ContentHash::of_chunk(b"x");
        assert!(FileDigest::new(1, h, vec![ChunkRef { len: 1, hash: h }]).is_ok());
        assert!(FileDigest::new(2, h, vec![ChunkRef { len: 1, hash: h }]).is_err());
        let two = vec![ChunkRef { len: 1, hash: h }, ChunkRef { len: 1, hash: h }];
        let list_hash = ContentHash::of_file(&[h, h]);
        assert!(FileDigest::new(3, list_hash, two.clone()).is_err());
        assert!(FileDigest::new(2, h, two.clone()).is_err(), "a hash that is not the list's");
        let ok = FileDigest::new(2, list_hash, two.clone()).unwrap();
        assert_eq!(ok, FileDigest::of_chunks(two));
        assert!(FileDigest::new(1 << 20, h, vec![]).is_err());
    }
}
