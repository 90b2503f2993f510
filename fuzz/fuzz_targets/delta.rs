//! Manifest deltas from a client: decoding and applying never panic, and a delta read from a
//! stream in pieces (as the agent reads back its spool) decodes exactly as it does whole.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Read;
use tern::plan::delta::Delta;
use tern::tree::manifest::Manifest;

/// Gives at most `.1` bytes a read.
struct Trickle<'a>(&'a [u8], usize);
impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(self.1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = Delta::decode(data);
    // The first byte picks the size of the reads.
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let streamed = Delta::read_from(Trickle(data, step));
    assert_eq!(whole.is_ok(), streamed.is_ok());
    if let (Ok(a), Ok(b)) = (&whole, &streamed) {
        assert_eq!(a, b);
    }
    if let Ok(d) = whole {
        // The streamed apply (through its in-memory entry point): never a panic, and what it
        // accepts is a manifest of the announced size.
        let count = d.count;
        if let Ok(m) = d.apply(Manifest::default(), |_| None) {
            assert_eq!(m.entries.len() as u64, count);
        }
    }
});
