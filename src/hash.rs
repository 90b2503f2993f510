//! `ContentHash`: the SHA-256 of a file's content or of one chunk.
//!
//! A newtype so that a digest can never be confused with other 32-byte values, and so that every
//! place that hashes data goes through one function.

use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::mpsc;

/// A SHA-256 digest of some bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The hash of `data`.
    pub fn of(data: &[u8]) -> Self {
        ContentHash(Sha256::digest(data).into())
    }

    /// The hash of the empty input.
    pub fn empty() -> Self {
        Self::of(&[])
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

/// An incremental hasher producing a [`ContentHash`].
#[derive(Default, Clone)]
pub struct Hasher(Sha256);

impl Hasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finish(self) -> ContentHash {
        ContentHash(self.0.finalize().into())
    }
}

/// Files at least this large are hashed on a second thread as they are staged.
const BACKGROUND_FROM: u64 = 1 << 20;
/// Bytes handed to the background thread at a time.
const BACKGROUND_BLOCK: usize = 1 << 20;

/// A whole-file hash fed as the bytes arrive. For a large file it runs on a second thread, so the
/// thread writing the file is free for the per-chunk hashes and the I/O (on the agent, that
/// halves the hashing time of a large file on a machine with two cores).
pub enum WholeHasher {
    Inline(Hasher),
    Background(BackgroundHasher),
}

impl WholeHasher {
    /// A hasher suited to a file of `size` bytes.
    pub fn for_size(size: u64) -> Self {
        if size >= BACKGROUND_FROM {
            WholeHasher::Background(BackgroundHasher::new())
        } else {
            WholeHasher::Inline(Hasher::new())
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            WholeHasher::Inline(h) => h.update(data),
            WholeHasher::Background(h) => h.update(data),
        }
    }

    pub fn finish(self) -> ContentHash {
        match self {
            WholeHasher::Inline(h) => h.finish(),
            WholeHasher::Background(h) => h.finish(),
        }
    }
}

/// SHA-256 on its own thread, fed blocks through a bounded channel; the blocks come back to be
/// refilled, so a file of any size costs a few blocks of memory. Dropped unfinished (a file
/// abandoned mid-way), it closes the channel, which ends the worker without waiting for it.
pub struct BackgroundHasher {
    pending: Vec<u8>,
    blocks: Option<mpsc::SyncSender<Vec<u8>>>,
    recycled: mpsc::Receiver<Vec<u8>>,
    worker: Option<std::thread::JoinHandle<ContentHash>>,
}

impl BackgroundHasher {
    fn new() -> Self {
        let (blocks, todo) = mpsc::sync_channel::<Vec<u8>>(2);
        let (done, recycled) = mpsc::channel();
        let worker = std::thread::spawn(move || {
            let mut h = Hasher::new();
            for block in todo {
                h.update(&block);
                let _ = done.send(block);
            }
            h.finish()
        });
        BackgroundHasher {
            pending: Vec::with_capacity(BACKGROUND_BLOCK),
            blocks: Some(blocks),
            recycled,
            worker: Some(worker),
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.pending.extend_from_slice(data);
        if self.pending.len() >= BACKGROUND_BLOCK {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        let mut next =
            self.recycled.try_recv().unwrap_or_else(|_| Vec::with_capacity(BACKGROUND_BLOCK));
        next.clear();
        let full = std::mem::replace(&mut self.pending, next);
        if let Some(tx) = &self.blocks
            && tx.send(full).is_err()
        {
            // The worker is gone (it cannot fail on its own): finish() reports a hash no file
            // has, so the file is rejected as a mismatch rather than accepted unchecked.
            self.blocks = None;
        }
    }

    fn finish(mut self) -> ContentHash {
        if !self.pending.is_empty() {
            self.hand_over();
        }
        let complete = self.blocks.take().is_some();
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(hash)) if complete => hash,
            _ => ContentHash([0xff; 32]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            ContentHash::empty().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut h = Hasher::new();
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(h.finish(), ContentHash::of(b"abc"));
        assert!(ContentHash::of(b"abc").to_hex().starts_with("ba7816bf"));
    }

    #[test]
    fn whole_hashers_agree_inline_and_in_the_background() {
        let data: Vec<u8> = (0..3_500_000u32).map(|i| (i * 7 + i / 5000) as u8).collect();
        for size in [0, 10, BACKGROUND_FROM] {
            let mut h = WholeHasher::for_size(size);
            assert_eq!(matches!(h, WholeHasher::Background(_)), size >= BACKGROUND_FROM);
            // Uneven pieces, as frames and reused ranges arrive.
            for piece in data.chunks(65_521) {
                h.update(piece);
            }
            assert_eq!(h.finish(), ContentHash::of(&data), "size class {size}");
        }
        let empty = WholeHasher::for_size(BACKGROUND_FROM);
        assert_eq!(empty.finish(), ContentHash::empty());
        // Dropped unfinished: the worker ends with the channel.
        let mut abandoned = WholeHasher::for_size(BACKGROUND_FROM);
        abandoned.update(&data);
        drop(abandoned);
    }
}
