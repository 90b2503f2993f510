//! `ContentHash`: SHA-256 digests of chunks, of files and of other bytes.
//!
//! A newtype so that a digest can never be confused with other 32-byte values, and so that every
//! place that hashes data goes through one function.
//!
//! Files are hashed as a two-level tree, with the domain separation of RFC 6962: a chunk's hash
//! is SHA-256 over a `0` byte and the chunk's bytes; a file of two chunks or more is identified by
//! SHA-256 over a `1` byte and its chunk hashes in order, and a file of one chunk (or none) by
//! its chunk's hash. Each side of a transfer then reads a file's bytes through SHA-256 once, for
//! the chunk hashes, where a separate whole-file hash would be a second pass; and the prefixes
//! keep a chunk's hash from ever equalling a list's, whatever a file contains.

use sha2::{Digest, Sha256};
use std::fmt;

/// SHA-256 of everything written to it.
#[derive(Default)]
pub struct HashWriter(Sha256);

impl HashWriter {
    pub fn finish(self) -> ContentHash {
        ContentHash(self.0.finalize().into())
    }
}

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes through to `inner`, hashing (SHA-256) what passes.
pub struct HashingWriter<W> {
    pub inner: W,
    hasher: Sha256,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new() }
    }

    pub fn finish(self) -> ContentHash {
        ContentHash(self.hasher.finalize().into())
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Reads through to `inner`, hashing (SHA-256) and counting what passes.
pub struct HashReader<R> {
    pub inner: R,
    hasher: Sha256,
    pub count: u64,
}

impl<R> HashReader<R> {
    pub fn new(inner: R) -> Self {
        HashReader { inner, hasher: Sha256::new(), count: 0 }
    }

    pub fn finish(self) -> ContentHash {
        self.into_parts().1
    }

    /// The reader, and the hash of what was read through it.
    pub fn into_parts(self) -> (R, ContentHash) {
        (self.inner, ContentHash(self.hasher.finalize().into()))
    }
}

impl<R: std::io::Read> std::io::Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Prefix of a chunk's bytes.
const LEAF: u8 = 0;
/// Prefix of a list of chunk hashes.
const NODE: u8 = 1;

/// A SHA-256 digest of some bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The hash of `data`.
    pub fn of(data: &[u8]) -> Self {
        ContentHash(Sha256::digest(data).into())
    }

    /// The hash of one chunk of a file (SHA-256 over a `0` byte and the chunk).
    pub fn of_chunk(data: &[u8]) -> Self {
        ContentHash(Sha256::new().chain_update([LEAF]).chain_update(data).finalize().into())
    }

    /// The hash of a file made of the chunks hashed `chunks`, in order: the chunk's own hash for
    /// a file of one chunk, the empty chunk's for an empty file, else SHA-256 over a `1` byte and
    /// the chunk hashes.
    pub fn of_file<'a, I>(chunks: I) -> Self
    where
        I: IntoIterator<Item = &'a ContentHash>,
        I::IntoIter: ExactSizeIterator,
    {
        let mut chunks = chunks.into_iter();
        match chunks.len() {
            0 => Self::of_chunk(&[]),
            1 => chunks.next().copied().unwrap_or_else(|| Self::of_chunk(&[])),
            _ => {
                let mut h = Sha256::new().chain_update([NODE]);
                for c in chunks {
                    h.update(c.0);
                }
                ContentHash(h.finalize().into())
            }
        }
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", &self.to_hex()[..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert!(ContentHash::of(b"abc").to_hex().starts_with("ba7816bf"));
        // SHA-256 of the single byte 0x00 and of 0x00 "abc".
        assert_eq!(
            ContentHash::of_chunk(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(ContentHash::of_chunk(b"abc"), ContentHash::of(b"\0abc"));
    }

    #[test]
    fn the_hash_writer_hashes_what_it_is_given() {
        use std::io::Write;
        let mut w = HashWriter::default();
        w.write_all(b"ab").unwrap();
        w.write_all(b"c").unwrap();
        assert_eq!(w.finish(), ContentHash::of(b"abc"));
    }

    #[test]
    fn a_file_hash_is_its_chunk_or_a_prefixed_list() {
        let (a, b) = (ContentHash::of_chunk(b"a"), ContentHash::of_chunk(b"b"));
        assert_eq!(ContentHash::of_file(&[]), ContentHash::of_chunk(b""));
        assert_eq!(ContentHash::of_file(&[a]), a);
        let mut list = vec![1u8];
        list.extend_from_slice(&a.0);
        list.extend_from_slice(&b.0);
        assert_eq!(ContentHash::of_file(&[a, b]), ContentHash::of(&list));
        assert_ne!(ContentHash::of_file(&[a, b]), ContentHash::of_file(&[b, a]));
        // A one-chunk file whose bytes spell out a list does not take that list's hash: the
        // leaf prefix differs from the node prefix.
        assert_ne!(ContentHash::of_chunk(&list[1..]), ContentHash::of_file(&[a, b]));
        assert_ne!(ContentHash::of_chunk(&list), ContentHash::of_file(&[a, b]));
    }
}
