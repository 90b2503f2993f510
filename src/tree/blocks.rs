//! Sub-chunk deltas: rsync's block signatures and block matching, inside the chunks that changed.
//!
//! Chunks find what a destination already has down to ~16 KiB; a small edit still sends its whole
//! chunk. So for a run of changed chunks, the destination signs the old bytes the run replaces
//! (a weak rolling checksum and a short strong hash per block, as rsync does for a whole file),
//! and the sender turns each new chunk into copies of those blocks and literal bytes. Only
//! changed regions are signed: that is what tern saves over rsync, which signs every file whole.
//!
//! The matching is `fast_rsync`'s (librsync's format). Its hashes are not trusted to rebuild
//! anything: the receiver checks every rebuilt chunk against the SHA-256 its manifest will hold,
//! and a failure only costs a resend. A signature and a delta both cross the network, so both
//! are checked here before the crate sees them (a block size of zero would never end a diff).

use fast_rsync::{Signature, SignatureOptions};

/// Most old bytes one signature covers: a run of changed chunks whose old bytes are larger is
/// sent as chunks (its signature would cost more than it saves, and both ends hold the bytes).
pub const MAX_BASE: u64 = 8 * 1024 * 1024;
/// Fewest new bytes worth a delta: below this, the signature costs what it could save.
pub const MIN_PATCHED: u64 = 512;
/// Bytes of MD4 kept per block, with the 4-byte rolling checksum 64 bits per block. A false
/// match costs a resend of the file, never a wrong file (see above); 6 bytes sent a fifth more
/// signature bytes.
const STRONG: u32 = 4;
const MIN_BLOCK: u32 = 128;
const MAX_BLOCK: u32 = 16 * 1024;
/// librsync's signature magic for MD4, then block size and strong-hash size, big-endian.
const HEADER: usize = 12;
const MD4_MAGIC: [u8; 4] = [0x72, 0x73, 0x01, 0x36];

/// The block size for signing `len` old bytes: each edit costs about a block of literal bytes
/// and each block costs `4 + STRONG` signature bytes, so the sum is least near `sqrt(8 * len)`
/// (measured on real upgrades, benches/vs_rsync.py scenario 7: 1/8 to 12x that factor cost
/// 1-25% more bytes).
pub fn block_size(len: u64) -> u32 {
    let ideal = ((len.max(1) as f64) * f64::from(4 + STRONG)).sqrt() as u32;
    ideal.min(MAX_BLOCK).next_multiple_of(16).clamp(MIN_BLOCK, MAX_BLOCK)
}

/// The bytes of the signature of `len` old bytes.
pub fn signature_len(len: u64) -> u64 {
    HEADER as u64 + len.div_ceil(u64::from(block_size(len))) * u64::from(4 + STRONG)
}

/// The signature of `old`, as it travels.
pub fn sign(old: &[u8]) -> Vec<u8> {
    let options =
        SignatureOptions { block_size: block_size(old.len() as u64), crypto_hash_size: STRONG };
    Signature::calculate(old, options).into_serialized()
}

/// A signature received from a peer, checked, ready to match chunks against.
pub struct Signed(Signature);

/// Why a signature from a peer is refused.
#[derive(Debug, thiserror::Error)]
#[error("malformed block signature: {0}")]
pub struct BadSignature(&'static str);

impl Signed {
    /// Check a signature that came over the network: its header within what [`sign`] makes, and
    /// no more blocks than `MAX_BASE` old bytes would give.
    pub fn parse(bytes: Vec<u8>) -> Result<Signed, BadSignature> {
        let Some((header, blocks)) = bytes.split_first_chunk::<HEADER>() else {
            return Err(BadSignature("shorter than its header"));
        };
        let word =
            |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        if header[..4] != MD4_MAGIC {
            return Err(BadSignature("not an MD4 signature"));
        }
        let (block, strong) = (word(4), word(8));
        if !(MIN_BLOCK..=MAX_BLOCK).contains(&block) {
            return Err(BadSignature("block size out of range"));
        }
        if !(4..=16).contains(&strong) {
            return Err(BadSignature("strong hash size out of range"));
        }
        let each = 4 + strong as usize;
        if blocks.len() % each != 0 {
            return Err(BadSignature("a block cut short"));
        }
        if (blocks.len() / each) as u64 > MAX_BASE.div_ceil(u64::from(block)) {
            return Err(BadSignature("more blocks than a base may have"));
        }
        Signature::deserialize(bytes)
            .map(Signed)
            .map_err(|_| BadSignature("refused by the decoder"))
    }

    /// Index it for matching (once per run of chunks it serves).
    pub fn index(&self) -> Index<'_> {
        Index(self.0.index())
    }
}

/// A signature indexed for [`Index::delta`].
pub struct Index<'a>(fast_rsync::IndexedSignature<'a>);

impl Index<'_> {
    /// The delta that rebuilds `new` from the signed old bytes, if it is smaller than `new`.
    pub fn delta(&self, new: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        fast_rsync::diff(&self.0, new, &mut out).ok()?;
        (out.len() < new.len()).then_some(out)
    }
}

/// Rebuild `len` bytes from `old` (the bytes that were signed) and `delta`. `None` when the
/// delta is malformed, refers outside `old`, or makes another length; the caller still checks
/// the result's hash.
pub fn patch(old: &[u8], delta: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    fast_rsync::apply_limited(old, delta, &mut out, len).ok()?;
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                b"abcdefghij klmnop\n"[(x >> 59) as usize % 18]
            })
            .collect()
    }

    #[test]
    fn a_small_edit_costs_about_a_block_and_rebuilds_exactly() {
        let old = text(40_000, 1);
        let mut new = old.clone();
        new[20_000..20_010].copy_from_slice(b"0123456789");
        new.splice(30_000..30_000, b"inserted".iter().copied());
        let sig = Signed::parse(sign(&old)).unwrap();
        let delta = sig.index().delta(&new).unwrap();
        let block = block_size(old.len() as u64) as usize;
        assert!(delta.len() < 3 * block + 100, "delta {} bytes, block {block}", delta.len());
        assert_eq!(patch(&old, &delta, new.len()).unwrap(), new);
        // Another length, or other old bytes, do not give the new bytes.
        assert!(patch(&old, &delta, new.len() - 1).is_none());
        let mut other = old.clone();
        other[0] ^= 1;
        assert_ne!(patch(&other, &delta, new.len()), Some(new.clone()));
    }

    #[test]
    fn unrelated_bytes_give_no_delta() {
        let sig = Signed::parse(sign(&text(20_000, 1))).unwrap();
        assert!(sig.index().delta(&text(20_000, 2)).is_none());
    }

    #[test]
    fn block_sizes_grow_with_the_base_within_bounds() {
        assert_eq!(block_size(0), MIN_BLOCK);
        assert_eq!(block_size(16 * 1024), 368);
        assert_eq!(block_size(MAX_BASE), 8192);
        assert_eq!(block_size(u64::MAX), MAX_BLOCK);
        assert_eq!(signature_len(16 * 1024) as usize, sign(&[7; 16 * 1024]).len());
        assert_eq!(signature_len(1000) as usize, sign(&[7; 1000]).len());
    }

    #[test]
    fn signatures_a_peer_could_send_are_checked_before_use() {
        let good = sign(&text(5000, 3));
        assert!(Signed::parse(good.clone()).is_ok());
        let with = |at: usize, bytes: &[u8]| {
            let mut s = good.clone();
            s[at..at + bytes.len()].copy_from_slice(bytes);
            Signed::parse(s).err().map(|e| e.to_string())
        };
        assert!(with(4, &0u32.to_be_bytes()).unwrap().contains("block size"));
        assert!(with(8, &17u32.to_be_bytes()).unwrap().contains("strong hash"));
        assert!(with(0, b"xxxx").unwrap().contains("MD4"));
        assert!(Signed::parse(good[..good.len() - 1].to_vec()).is_err());
        assert!(Signed::parse(vec![1, 2]).is_err());
        let huge = [&good[..HEADER], &vec![0; 10 * 1_000_000][..]].concat();
        assert!(Signed::parse(huge).is_err());
    }

    #[test]
    fn malformed_deltas_are_refused_without_panic() {
        let old = text(3000, 4);
        for delta in
            [vec![], vec![0x72, 0x73, 0x02, 0x36], vec![0x72, 0x73, 0x02, 0x36, 0x45, 0xff, 0xff]]
        {
            assert!(patch(&old, &delta, 100).is_none());
        }
        // A copy past the end of the old bytes.
        let mut d = vec![0x72, 0x73, 0x02, 0x36, 0x45];
        d.extend_from_slice(&[0, 0, 0x0f, 0xa0, 0, 0, 0x10, 0]);
        d.push(0);
        assert!(patch(&old, &d, 4096).is_none());
    }
}
