//! Content-defined chunking (FastCDC) and hashing of a byte stream.
//!
//! A file's content is cut where the content says so, not at fixed offsets, so an insertion near the
//! start of a file moves only the chunks it touches; every later chunk keeps its hash and can be
//! reused at the destination. This module knows nothing about paths or the network: it turns
//! `impl Read` into a [`FileDigest`] (whole-file SHA-256 plus the chunk list).

use crate::hash::{ContentHash, Hasher};
use fastcdc::v2020::FastCDC;
use std::io::{self, Read};

/// Smallest chunk, except for the last one of a file.
pub const MIN_CHUNK: usize = 4 * 1024;
/// Target average chunk size.
pub const AVG_CHUNK: usize = 16 * 1024;
/// Largest chunk.
pub const MAX_CHUNK: usize = 64 * 1024;

/// Read buffer: large enough that the per-buffer carry-over (at most one chunk) is cheap.
const BUF_SIZE: usize = 1024 * 1024;
/// Buffers at least this full hash the whole file on a second thread.
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
/// file's hash. That keeps manifests of many small files compact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub size: u64,
    pub hash: ContentHash,
    chunks: Vec<ChunkRef>,
}

/// A chunk with its position in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkAt {
    pub offset: u64,
    pub len: u32,
    pub hash: ContentHash,
}

impl FileDigest {
    /// Build a digest from its parts; a one-element chunk list is stored as none. Fails when the
    /// chunk lengths do not add up to `size` or a single chunk's hash is not the file's.
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
        } else if size > MAX_CHUNK as u64 {
            return Err(format!("a file of {size} bytes needs a chunk list"));
        }
        Ok(FileDigest { size, hash, chunks })
    }

    /// The digest of an empty file.
    pub fn empty() -> Self {
        FileDigest { size: 0, hash: ContentHash::empty(), chunks: Vec::new() }
    }

    /// The stored chunk list (empty for files of zero or one chunk).
    pub fn stored_chunks(&self) -> &[ChunkRef] {
        &self.chunks
    }

    /// Every chunk with its offset; a non-empty file always has at least one.
    pub fn chunks(&self) -> Vec<ChunkAt> {
        if self.chunks.is_empty() {
            if self.size == 0 {
                return Vec::new();
            }
            return vec![ChunkAt { offset: 0, len: self.size as u32, hash: self.hash }];
        }
        let mut offset = 0;
        self.chunks
            .iter()
            .map(|c| {
                let at = ChunkAt { offset, len: c.len, hash: c.hash };
                offset += u64::from(c.len);
                at
            })
            .collect()
    }
}

thread_local! {
    /// One read buffer per thread, reused: a fresh 1 MiB buffer per file made zeroing it the
    /// largest cost of scanning many small files.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Read `reader` to the end, cutting it into chunks and hashing the chunks and the whole.
pub fn digest_reader(reader: impl Read) -> io::Result<FileDigest> {
    BUFFER.with(|b| {
        let mut buf = b.borrow_mut();
        if buf.len() < BUF_SIZE {
            buf.resize(BUF_SIZE, 0);
        }
        digest_with(reader, &mut buf)
    })
}

fn digest_with(mut reader: impl Read, buf: &mut [u8]) -> io::Result<FileDigest> {
    let mut whole = Hasher::new();
    let mut chunks = Vec::new();
    let mut size: u64 = 0;
    // bytes [0, filled) hold data not yet cut into chunks
    let mut filled = 0;
    let mut eof = false;
    while !eof || filled > 0 {
        while !eof && filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            break;
        }
        // Cut points first (cheap); the last cut in a full buffer may only be where the buffer
        // ended, so that part is carried over to the next read.
        let mut cuts = Vec::new();
        for c in FastCDC::new(&buf[..filled], MIN_CHUNK, AVG_CHUNK, MAX_CHUNK) {
            if c.offset + c.length == filled && !eof {
                break;
            }
            cuts.push((c.offset, c.length));
        }
        let consumed = cuts.last().map_or(0, |&(o, l)| o + l);
        let data = &buf[..consumed];
        // The whole file is one chunk (every file up to MIN_CHUNK is): the chunk's hash is the
        // file's, computed once.
        if eof && size == 0 && cuts.len() == 1 {
            whole.update(data);
            size = consumed as u64;
            break;
        }
        let hash_chunks = |out: &mut Vec<ChunkRef>| {
            for &(o, l) in &cuts {
                out.push(ChunkRef { len: l as u32, hash: ContentHash::of(&data[o..o + l]) });
            }
        };
        if consumed >= PARALLEL_FROM {
            // A large file: the whole-file hash on a second core, beside the chunk hashes.
            std::thread::scope(|s| {
                let whole = &mut whole;
                let t = s.spawn(move || whole.update(data));
                hash_chunks(&mut chunks);
                let _ = t.join();
            });
        } else {
            whole.update(data);
            hash_chunks(&mut chunks);
        }
        size += consumed as u64;
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
    let hash = whole.finish();
    if chunks.len() <= 1 {
        chunks.clear();
    }
    Ok(FileDigest { size, hash, chunks })
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

    #[test]
    fn small_files_have_one_implicit_chunk() {
        let d = digest_reader(&b"hello"[..]).unwrap();
        assert_eq!(d.size, 5);
        assert_eq!(d.hash, ContentHash::of(b"hello"));
        assert!(d.stored_chunks().is_empty());
        assert_eq!(d.chunks(), vec![ChunkAt { offset: 0, len: 5, hash: d.hash }]);
        assert_eq!(digest_reader(&b""[..]).unwrap(), FileDigest::empty());
        assert!(FileDigest::empty().chunks().is_empty());
    }

    #[test]
    fn files_of_one_or_a_few_chunks_match_fastcdc_and_sha256() {
        // Around the sizes where a file stops being a single chunk.
        let mut counts = Vec::new();
        for len in [MIN_CHUNK + 1, 9_000, 20_000, 40_000, MAX_CHUNK, MAX_CHUNK + 1, 150_000] {
            let data = noise(len as u64, len);
            let d = digest_reader(&data[..]).unwrap();
            let cuts: Vec<_> = FastCDC::new(&data, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
                .map(|c| ChunkAt {
                    offset: c.offset as u64,
                    len: c.length as u32,
                    hash: ContentHash::of(&data[c.offset..c.offset + c.length]),
                })
                .collect();
            assert_eq!(d.hash, ContentHash::of(&data), "{len} bytes");
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
        assert_eq!(d.hash, ContentHash::of(&data));
        let chunks = d.chunks();
        assert!(chunks.len() > 10);
        let mut expect_off = 0;
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.offset, expect_off);
            let bytes = &data[c.offset as usize..c.offset as usize + c.len as usize];
            assert_eq!(c.hash, ContentHash::of(bytes));
            assert!(c.len as usize <= MAX_CHUNK);
            if i + 1 < chunks.len() {
                assert!(c.len as usize >= MIN_CHUNK);
            }
            expect_off += u64::from(c.len);
        }
        assert_eq!(expect_off, data.len() as u64);
    }

    #[test]
    fn chunking_does_not_depend_on_read_sizes() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(777);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let data = noise(3, 2 * BUF_SIZE + 999);
        assert_eq!(digest_reader(&data[..]).unwrap(), digest_reader(Trickle(&data)).unwrap());
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
    fn digest_new_validates() {
        let h = ContentHash::of(b"x");
        assert!(FileDigest::new(1, h, vec![ChunkRef { len: 1, hash: h }]).is_ok());
        assert!(FileDigest::new(2, h, vec![ChunkRef { len: 1, hash: h }]).is_err());
        let two = vec![ChunkRef { len: 1, hash: h }, ChunkRef { len: 1, hash: h }];
        assert!(FileDigest::new(3, h, two).is_err());
        assert!(FileDigest::new(1 << 20, h, vec![]).is_err());
    }
}
