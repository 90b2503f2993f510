//! Bounded binary encoding shared by the on-disk formats and the wire protocol.
//!
//! Integers are LEB128 varints, byte strings are length-prefixed. The decoder never trusts a length
//! field: every read checks the bytes actually left, and callers pass a maximum for each variable
//! length value, so corrupt or hostile input yields a [`DecodeError`], never a panic or an
//! allocation sized by an attacker.

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

    pub fn varint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
