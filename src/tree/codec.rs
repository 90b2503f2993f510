//! Bounded binary encoding shared by the on-disk formats and the wire protocol.
//!
//! Integers are LEB128 varints, byte strings are length-prefixed. The decoder never trusts a length
//! field: every read checks the bytes actually left, and callers pass a maximum for each variable
//! length value, so corrupt or hostile input yields a [`DecodeError`], never a panic or an
//! allocation sized by an attacker. [`StreamReader`] runs the same decoders over a stream, a window
//! at a time, so a large file is decoded without being held whole.

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("input is truncated (wanted {wanted} more bytes for {what})")]
    Truncated { what: &'static str, wanted: u64 },
    #[error("{what} is too large ({len}, limit {max})")]
    TooLarge { what: &'static str, len: u64, max: u64 },
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
}

impl DecodeError {
    pub fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        DecodeError::Invalid { what, detail: detail.into() }
    }
}

/// Appends encoded values to a byte vector.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(byte);
                return;
            }
            self.buf.push(byte | 0x80);
        }
    }

    /// A signed integer, zigzag-encoded so small negatives stay small.
    pub fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub fn fixed(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
}

/// Reads encoded values from a byte slice.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next byte, without consuming it.
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated { what, wanted: (n - self.remaining()) as u64 });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    #[inline]
    pub fn varint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        // Most varints of an entry (a mode, a small size, an owner) are one byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what)?;
            let part = u64::from(b & 0x7f);
            if shift == 63 && part > 1 {
                return Err(DecodeError::invalid(what, "varint overflows 64 bits"));
            }
            v |= part << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::invalid(what, "varint longer than 10 bytes"))
    }

    /// A varint that must not exceed `max`.
    pub fn varint_max(&mut self, what: &'static str, max: u64) -> Result<u64, DecodeError> {
        let v = self.varint(what)?;
        if v > max {
            return Err(DecodeError::TooLarge { what, len: v, max });
        }
        Ok(v)
    }

    pub fn zigzag(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        let v = self.varint(what)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// A length-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.varint_max(what, max as u64)? as usize;
        self.take(len, what)
    }

    pub fn fixed<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// Everything not read yet.
    pub fn fixed_rest(&mut self) -> &'a [u8] {
        let rest = &self.buf[self.pos..];
        self.pos = self.buf.len();
        rest
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::invalid(what, format!("{} trailing bytes", self.remaining())))
        }
    }
}

/// Make room in `v`, when it is full, for more of the `announced` items a file or a peer says are
/// coming: up to 1,048,576 at first, then up to 16 times what has actually arrived. A real list
/// is reserved once, exactly (growing a list in the heap copies it, and the old copy's pages stay
/// resident); a count that no data backs up reserves address space it never touches, bounded.
pub fn reserve_announced<T>(v: &mut Vec<T>, announced: u64) {
    if v.len() < v.capacity() {
        return;
    }
    let len = v.len() as u64;
    let more = announced.saturating_sub(len).clamp(1, (len * 16).max(1 << 20));
    v.reserve_exact(more as usize);
}

/// How many bytes to hold before trying again an item that was cut off after `have` bytes,
/// lacking at least `wanted` more: what it lacks, and twice what it had, so an item that arrives
/// in many pieces is parsed a few times (logarithmically many), not once a piece.
fn retry_at(have: usize, wanted: u64) -> usize {
    let wanted = usize::try_from(wanted).unwrap_or(usize::MAX);
    have.saturating_mul(2).max(have.saturating_add(wanted))
}

/// Decodes items one at a time from a stream with the slice decoders of this module, holding a
/// window of the stream instead of all of it: a large file is never held whole.
pub struct StreamReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Bytes `start..end` of `buf` are read and not decoded yet.
    start: usize,
    end: usize,
    eof: bool,
}

/// The window a stream is read through once it has grown; it grows further for an item larger
/// than itself.
const STREAM_WINDOW: usize = 64 * 1024;
/// The largest single item a stream may hold (like a manifest's whole body).
const STREAM_ITEM_MAX: usize = 1 << 31;

impl<R: std::io::Read> StreamReader<R> {
    pub fn new(inner: R) -> Self {
        StreamReader { inner, buf: Vec::new(), start: 0, end: 0, eof: false }
    }

    /// Decode the next item with `decode`, reading more of the stream while the item is cut
    /// off at the end of what was read (tried again only once the window holds [`retry_at`]).
    pub fn decode<T>(
        &mut self,
        mut decode: impl FnMut(&mut Reader<'_>) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        loop {
            let mut r = Reader::new(&self.buf[self.start..self.end]);
            match decode(&mut r) {
                Ok(item) => {
                    self.start = self.end - r.remaining();
                    return Ok(item);
                }
                Err(DecodeError::Truncated { wanted, .. }) if !self.eof => {
                    let have = self.end - self.start;
                    if have.saturating_add(usize::try_from(wanted).unwrap_or(usize::MAX))
                        > STREAM_ITEM_MAX
                    {
                        let (len, max) =
                            ((have as u64).saturating_add(wanted), STREAM_ITEM_MAX as u64);
                        return Err(DecodeError::TooLarge { what: "item", len, max });
                    }
                    self.fill(retry_at(have, wanted).min(STREAM_ITEM_MAX))?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The stream, from wherever reading it stopped.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// What is left of the stream after the items decoded: the bytes read ahead, then the rest.
    pub fn into_rest(mut self) -> std::io::Chain<std::io::Cursor<Vec<u8>>, R> {
        self.buf.truncate(self.end);
        let mut ahead = std::io::Cursor::new(self.buf);
        ahead.set_position(self.start as u64);
        std::io::Read::chain(ahead, self.inner)
    }

    /// Whether every byte of the stream has been decoded.
    pub fn at_end(&mut self) -> Result<bool, DecodeError> {
        if self.start == self.end && !self.eof {
            self.fill(1)?;
        }
        Ok(self.start == self.end)
    }

    /// Read until the window holds `need` bytes not decoded yet, or the stream ends. What is
    /// left to decode moves to the front of the window first; the window starts small (a short
    /// input costs little) and doubles with every fill up to `STREAM_WINDOW`, beyond that grows
    /// only to hold `need`, and shrinks back once it no longer needs to.
    fn fill(&mut self, need: usize) -> Result<(), DecodeError> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        // A window grown for a large item goes back to its usual size once that item is read:
        // a long stream with one large item in it does not hold the room for it to the end.
        if self.buf.len() > STREAM_WINDOW && self.end.max(need) <= STREAM_WINDOW {
            self.buf.truncate(STREAM_WINDOW);
            self.buf.shrink_to_fit();
        }
        let mut len = self.buf.len();
        if len < STREAM_WINDOW {
            len = (len * 2).max(4096);
        }
        if len < need {
            len = need;
        }
        if len > self.buf.len() {
            self.buf.resize(len, 0);
        }
        while self.end < need && !self.eof {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(DecodeError::invalid("stream", e.to_string())),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::chunk::tests::Trickle;

    #[test]
    fn round_trips() {
        let mut w = Writer::new();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            w.varint(v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            w.zigzag(v);
        }
        w.bytes(b"hello");
        let mut r = Reader::new(&w.buf);
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(r.varint("v").unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(r.zigzag("z").unwrap(), v);
        }
        assert_eq!(r.bytes("b", 5).unwrap(), b"hello");
        r.finish("test").unwrap();
    }

    /// Items cut anywhere by the reads of a stream, and items larger than the window, decode as
    /// from one slice; a stream that ends inside an item is truncated.
    #[test]
    fn a_stream_decodes_like_a_slice() {
        let mut w = Writer::new();
        let big = vec![7u8; 3 * STREAM_WINDOW];
        for i in 0..1000u64 {
            w.varint(i * 1_000_003);
            w.bytes(if i == 500 { &big } else { b"item" });
        }
        for step in [1, 7, 4096, usize::MAX] {
            let mut s = StreamReader::new(Trickle(&w.buf, step));
            for i in 0..1000u64 {
                let (v, b) =
                    s.decode(|r| Ok((r.varint("v")?, r.bytes("b", usize::MAX)?.len()))).unwrap();
                assert_eq!((v, b), (i * 1_000_003, if i == 500 { big.len() } else { 4 }));
            }
            assert!(s.at_end().unwrap());
            // The window grown for the large item went back once more had to be read.
            if (7..=4096).contains(&step) {
                assert!(s.buf.capacity() <= STREAM_WINDOW, "{}", s.buf.capacity());
            }
        }
        let cut = &w.buf[..w.buf.len() - 2];
        let mut s = StreamReader::new(Trickle(cut, 100));
        let last = (0..1000)
            .map(|_| s.decode(|r| Ok((r.varint("v")?, r.bytes("b", usize::MAX)?.len()))))
            .last();
        assert!(matches!(last, Some(Err(DecodeError::Truncated { .. }))));
    }

    /// An item far larger than each read is tried a logarithmic number of times, not once a
    /// read (that re-parsed a large manifest entry, a file of a million chunks, a thousand times).
    #[test]
    fn a_large_item_is_retried_only_as_it_doubles() {
        let mut w = Writer::new();
        let fields = 1 << 20;
        w.varint(fields);
        for i in 0..fields {
            w.varint(i);
        }
        w.varint(7);
        for step in [4096, 100_000] {
            let mut s = StreamReader::new(Trickle(&w.buf, step));
            let mut tries = 0;
            let sum = s
                .decode(|r| {
                    tries += 1;
                    if tries > 16 {
                        // (Fail fast: parsed once a read, the test would take minutes.)
                        return Err(DecodeError::invalid("item", format!("{tries} tries")));
                    }
                    let n = r.varint("n")?;
                    (0..n).try_fold(0u64, |sum, _| Ok(sum + r.varint("field")?))
                })
                .unwrap_or_else(|e| panic!("read {step} bytes at a time: {e}"));
            assert_eq!(sum, fields * (fields - 1) / 2);
            assert_eq!(s.decode(|r| r.varint("after")).unwrap(), 7);
            assert!(s.at_end().unwrap());
        }
    }

    #[test]
    fn announced_counts_are_trusted_as_far_as_data_backs_them() {
        let mut v: Vec<u8> = Vec::new();
        reserve_announced(&mut v, 200_000);
        assert_eq!(v.capacity(), 200_000, "a plausible count is reserved exactly, once");
        v.resize(200_000, 0);
        reserve_announced(&mut v, 200_000);
        assert!(v.capacity() > 200_000, "more than announced still fits");
        let mut w: Vec<u8> = Vec::new();
        reserve_announced(&mut w, u64::MAX);
        assert_eq!(w.capacity(), 1 << 20, "a bare count reserves a bounded amount");
        w.resize(1 << 20, 0);
        reserve_announced(&mut w, u64::MAX);
        assert_eq!(w.capacity(), 17 << 20, "then 16 times what came");
    }

    #[test]
    fn hostile_lengths_are_refused() {
        let mut w = Writer::new();
        w.varint(u64::MAX);
        assert!(matches!(Reader::new(&w.buf).bytes("b", 100), Err(DecodeError::TooLarge { .. })));
        let mut w = Writer::new();
        w.varint(50);
        w.fixed(b"short");
        assert!(matches!(Reader::new(&w.buf).bytes("b", 100), Err(DecodeError::Truncated { .. })));
        assert!(Reader::new(&[0xff; 11]).varint("v").is_err());
        assert!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
                .varint("v")
                .is_err()
        );
        assert!(Reader::new(&[]).u8("x").is_err());
    }
}
