//! One bidirectional byte pipe carrying frames, plain or as a zstd stream each way.

use super::{read_frame, write_frame};
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::rc::Rc;

const BUF: usize = 256 * 1024;

/// The two directions of a connection.
pub struct Wire<'a> {
    reader: Box<dyn BufRead + 'a>,
    writer: Box<dyn Write + 'a>,
}

impl<'a> Wire<'a> {
    pub fn plain(r: impl Read + 'a, w: impl Write + 'a) -> Self {
        Wire {
            reader: Box::new(BufReader::with_capacity(BUF, r)),
            writer: Box::new(BufWriter::with_capacity(BUF, w)),
        }
    }

    /// From now on, compress what is written at `level` and decompress what is read (level 0:
    /// stay plain). Bytes already buffered from the peer are kept. `bulk` is for the side that
    /// sends file contents (the client): it compresses at `level` on every core. The other side
    /// (the agent) compresses at level 1 whatever `level` is: its replies are small or already
    /// compressed (manifests), and a level-3 context with worker threads would cost it several
    /// MiB of buffers for nothing.
    pub fn compressed(self, level: i32, bulk: bool) -> io::Result<Self> {
        if level == 0 {
            return Ok(self);
        }
        let decoder = zstd::stream::read::Decoder::with_buffer(self.reader)?;
        let encoder = if bulk {
            let mut encoder = zstd::stream::write::Encoder::new(self.writer, level)?;
            // Use the other cores for compression when they are there.
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
            if threads > 1 {
                let _ = encoder.multithread(threads);
                // zstd's default job (4 windows, 8 MiB at level 3) costs ~40 MiB of buffers per
                // connection; 1 MiB jobs keep the workers busy at a fraction of that.
                let _ = encoder.set_parameter(zstd::stream::raw::CParameter::JobSize(1 << 20));
            }
            encoder
        } else {
            // Level 1 over a 128 KiB window: a compression context of well under 1 MiB, where
            // the level-3 one takes ~4 MiB.
            let mut encoder = zstd::stream::write::Encoder::new(self.writer, 1)?;
            encoder.set_parameter(zstd::stream::raw::CParameter::WindowLog(17))?;
            encoder
        };
        Ok(Wire {
            reader: Box::new(BufReader::with_capacity(BUF, decoder)),
            writer: Box::new(encoder),
        })
    }

    pub fn send(&mut self, body: &[u8]) -> io::Result<()> {
        write_frame(&mut self.writer, body)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    pub fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        read_frame(&mut self.reader)
    }
}

/// Counts the bytes that pass through a writer (what goes on the wire), and holds them to a
/// rate when one is set (`--bwlimit`).
pub struct Counted<W> {
    pub inner: W,
    pub count: Rc<Cell<u64>>,
    /// Bytes per second, and when counting started.
    pub limit: Option<(u64, std::time::Instant)>,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count.set(self.count.get() + n as u64);
        if let Some((rate, start)) = self.limit {
            // Sleep until the bytes written so far are within the rate.
            let due =
                std::time::Duration::from_secs_f64(self.count.get() as f64 / rate.max(1) as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
