//! One bidirectional byte pipe carrying frames, plain or as a zstd stream each way.

use super::protocol::{read_frame, write_frame};
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::rc::Rc;

/// Each side's buffers: the frames read and the bytes written. A pipe or an SSH channel moves
/// at most 64 KiB at a time, so larger buffers would only add to the agent's memory.
const BUF: usize = 64 * 1024;
/// A bulk sender's window: 1 MiB instead of level 3's 2 MiB, halving the peer's decoder (its
/// largest buffer) and the sender's context, for 0.1% more bytes on the issue-6 data sets
/// (small files and bulk text, each within 0.1% of 2 MiB windows with 1 MiB jobs on two threads).
const BULK_WINDOW_LOG: u32 = 20;
/// A bulk sender compresses this much on its own thread before it moves to worker threads:
/// transfers of less never pay for the workers' buffers (10 MiB at level 3 with two workers),
/// larger ones lose one frame boundary's worth of compression and at most ~0.1 s of parallelism.
/// (A tree of 200,000 small files sends about 50 MiB of frames, data and manifest together.)
const SERIAL_BYTES: u64 = 64 << 20;

/// The level a stream starts at, and bulk data goes at, unless `--compress-level` fixes it.
pub const DEFAULT_LEVEL: i32 = 3;

/// The zstd level for a run that sends about `bytes`: the highest whose compression of them takes
/// about 50 ms of one core or less. Small payloads (deltas, a few changed files) then go at a
/// level that saves a fifth of the bytes for a few milliseconds; bulk stays at 3, where a LAN
/// is faster than any higher level. Speeds on source text, `zstd -b` on the 2-core bench
/// machine: level 19 2.8 MB/s, 16 6, 12 33, 9 66, 6 110, 3 330.
pub fn level_for(bytes: u64) -> i32 {
    /// Level, and the bytes it compresses in 50 ms (its speed in MB/s times 50,000).
    const LEVELS: [(i32, u64); 5] =
        [(19, 140_000), (16, 300_000), (12, 1_650_000), (9, 3_300_000), (6, 5_500_000)];
    LEVELS.iter().find(|(_, most)| bytes <= *most).map_or(DEFAULT_LEVEL, |(level, _)| *level)
}

/// The window of the other side's (the agent's) compressor.
const REPLY_WINDOW_LOG: u32 = 14;

type Encoder<'a> = zstd::stream::write::Encoder<'static, Box<dyn Write + 'a>>;

/// The two directions of a connection.
pub struct Wire<'a> {
    reader: Box<dyn BufRead + 'a>,
    writer: Writer<'a>,
}

enum Writer<'a> {
    Plain(Box<dyn Write + 'a>),
    Zstd(Compressor<'a>),
}

/// The sending half of a compressed stream.
struct Compressor<'a> {
    /// Always `Some` between calls (taken only to change frames).
    encoder: Option<Encoder<'a>>,
    level: i32,
    /// For a bulk sender on a machine with more than one core: the bytes still to compress on
    /// this thread before moving to that many worker threads.
    serial: Option<(u64, u32)>,
    /// The worker threads compressing, once moved to them.
    workers: Option<u32>,
}

impl<'a> Wire<'a> {
    pub fn plain(r: impl Read + 'a, w: impl Write + 'a) -> Self {
        Wire {
            reader: Box::new(BufReader::with_capacity(BUF, r)),
            writer: Writer::Plain(Box::new(BufWriter::with_capacity(BUF, w))),
        }
    }

    /// From now on, compress what is written at `level` and decompress what is read (level 0:
    /// stay plain). Bytes already buffered from the peer are kept. `bulk` is for the side that
    /// sends file contents (the client): it compresses at `level`, on every core once the first
    /// `SERIAL_BYTES` (64 MiB) have gone (a new zstd frame in the same stream). The other side (the
    /// agent) compresses at level 1 whatever `level` is: its replies are small or already
    /// compressed (manifests), and a level-3 context would cost it several MiB for nothing.
    pub fn compressed(self, level: i32, bulk: bool) -> io::Result<Self> {
        self.compressed_switching_at(level, bulk.then_some(SERIAL_BYTES))
    }

    /// [`Wire::compressed`], a bulk sender (`Some`) moving to worker threads after that many bytes.
    fn compressed_switching_at(self, level: i32, bulk: Option<u64>) -> io::Result<Self> {
        // A wire compressed already stays as it is (its reader is not wrapped twice).
        if level == 0 || matches!(self.writer, Writer::Zstd(_)) {
            return Ok(self);
        }
        self.compressing(level, bulk)?.decompressing()
    }

    /// The sending half of [`Wire::compressed`] alone: what is written from now on is compressed
    /// (level 0: stays plain). A client sends its first request with its hello this way, before
    /// it reads the hello that says the peer is an agent (which then reads compressed frames).
    pub fn compressing_early(self, level: i32) -> io::Result<Self> {
        if level == 0 {
            return Ok(self);
        }
        self.compressing(level, Some(SERIAL_BYTES))
    }

    /// The receiving half of [`Wire::compressed`]: what is read from now on is decompressed.
    /// Bytes already buffered from the peer are kept.
    pub fn decompressing(self) -> io::Result<Self> {
        let decoder = zstd::stream::read::Decoder::with_buffer(self.reader)?;
        Ok(Wire { reader: Box::new(BufReader::with_capacity(BUF, decoder)), writer: self.writer })
    }

    fn compressing(self, level: i32, bulk: Option<u64>) -> io::Result<Self> {
        let Writer::Plain(writer) = self.writer else { return Ok(self) };
        let compressor = if let Some(serial_bytes) = bulk {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
            Compressor {
                encoder: Some(bulk_encoder(writer, level)?),
                level,
                serial: (threads > 1).then_some((serial_bytes, threads)),
                workers: None,
            }
        } else {
            // Level 1 over a 16 KiB window: the agent's replies are small, or manifests already
            // compressed. zstd sizes a context by its block, at most the window: ~150 KiB here,
            // where a 128 KiB window takes ~1 MiB and level 3's default ~4 MiB.
            let mut encoder = Encoder::new(writer, 1)?;
            encoder.set_parameter(zstd::stream::raw::CParameter::WindowLog(REPLY_WINDOW_LOG))?;
            Compressor { encoder: Some(encoder), level: 1, serial: None, workers: None }
        };
        Ok(Wire { reader: self.reader, writer: Writer::Zstd(compressor) })
    }

    pub fn send(&mut self, body: &[u8]) -> io::Result<()> {
        match &mut self.writer {
            Writer::Plain(w) => write_frame(w, body),
            Writer::Zstd(c) => {
                write_frame(c.encoder()?, body)?;
                c.sent(body.len() as u64)
            }
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Writer::Plain(w) => w.flush(),
            Writer::Zstd(c) => c.encoder()?.flush(),
        }
    }

    pub fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        read_frame(&mut self.reader)
    }
}

/// Most hash and chain table bits of the high levels that [`level_for`] picks for small
/// payloads: their defaults (made for large inputs) are 4 + 64 MiB of tables at level 19, which
/// took a small sync's client to 58 MiB resident; 2^18 entries each cost 2 MiB for about the
/// same bytes on payloads of at most a few MiB.
const HIGH_LEVEL_TABLE_LOG: u32 = 18;

/// A bulk sender's encoder at `level`, its window no larger than [`BULK_WINDOW_LOG`] (levels
/// below 3 have a smaller one already).
fn bulk_encoder<'a>(writer: Box<dyn Write + 'a>, level: i32) -> io::Result<Encoder<'a>> {
    use zstd::stream::raw::CParameter;
    let mut encoder = Encoder::new(writer, level)?;
    if level >= 3 {
        encoder.set_parameter(CParameter::WindowLog(BULK_WINDOW_LOG))?;
    }
    if level > 9 {
        encoder.set_parameter(CParameter::HashLog(HIGH_LEVEL_TABLE_LOG))?;
        encoder.set_parameter(CParameter::ChainLog(HIGH_LEVEL_TABLE_LOG))?;
    }
    Ok(encoder)
}

impl<'a> Wire<'a> {
    /// Compress what is sent from now on at `level` (a new zstd frame in the same stream; a plain
    /// wire stays plain).
    pub fn set_level(&mut self, level: i32) -> io::Result<()> {
        let Writer::Zstd(c) = &mut self.writer else { return Ok(()) };
        if c.level == level || level == 0 {
            return Ok(());
        }
        c.level = level;
        c.next_frame()
    }
}

impl<'a> Compressor<'a> {
    fn encoder(&mut self) -> io::Result<&mut Encoder<'a>> {
        self.encoder.as_mut().ok_or_else(|| io::Error::other("compressor lost after an error"))
    }

    /// Count `n` bytes sent; past the serial allowance, end the frame and go on in a new one
    /// compressed by worker threads.
    fn sent(&mut self, n: u64) -> io::Result<()> {
        let Some((left, threads)) = self.serial else { return Ok(()) };
        if n < left {
            self.serial = Some((left - n, threads));
            return Ok(());
        }
        self.serial = None;
        self.workers = Some(threads);
        self.next_frame()
    }

    /// End the current frame and go on in a new one at `self.level`, on the worker threads if
    /// it has moved to them. The peer's decoder reads consecutive frames as one stream.
    fn next_frame(&mut self) -> io::Result<()> {
        let Some(old) = self.encoder.take() else { return Ok(()) };
        let mut encoder = bulk_encoder(old.finish()?, self.level)?;
        if let Some(threads) = self.workers {
            encoder.multithread(threads)?;
            // zstd's default job (4 windows, 8 MiB at level 3) costs ~40 MiB of buffers per
            // connection; 1 MiB jobs keep the workers busy at a fraction of that.
            encoder.set_parameter(zstd::stream::raw::CParameter::JobSize(1 << 20))?;
        }
        self.encoder = Some(encoder);
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_payloads_get_higher_levels() {
        assert_eq!(level_for(0), 19);
        assert_eq!(level_for(200_000), 16);
        assert_eq!(level_for(1 << 20), 12);
        assert_eq!(level_for(5 << 20), 6);
        assert_eq!(level_for(1 << 30), DEFAULT_LEVEL);
        let levels: Vec<i32> = (0..40).map(|i| level_for(1 << i)).collect();
        assert!(levels.windows(2).all(|w| w[0] >= w[1]), "{levels:?}");
    }

    /// A bulk stream keeps every frame intact across its move to worker threads and changes of
    /// level.
    #[test]
    fn a_bulk_stream_decodes_across_its_change_of_frames() {
        let mut sent = Vec::new();
        let frames: Vec<Vec<u8>> = (0..40u32)
            .map(|i| {
                let line = format!("frame {i} with some text that compresses a little; ");
                line.repeat(1 + (i as usize * 7919) % 20_000).into_bytes()
            })
            .collect();
        let total: usize = frames.iter().map(Vec::len).sum();
        let switch = 4 << 20;
        assert!(total as u64 > 2 * switch, "the test must cross the switch: {total}");
        {
            let wire = Wire::plain(io::empty(), &mut sent);
            let mut wire = wire.compressed_switching_at(3, Some(switch)).unwrap();
            for (i, f) in frames.iter().enumerate() {
                // The level changes between runs, before and after the move to threads.
                match i {
                    3 | 30 => wire.set_level(19).unwrap(),
                    6 | 33 => wire.set_level(DEFAULT_LEVEL).unwrap(),
                    _ => {}
                }
                wire.send(f).unwrap();
            }
            wire.flush().unwrap();
        }
        assert!(sent.len() < total / 10, "compressed to {} of {total}", sent.len());
        let mut wire = Wire::plain(&sent[..], io::sink()).compressed(3, false).unwrap();
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(wire.recv().unwrap().as_ref(), Some(f), "frame {i}");
        }
        // (The stream was flushed, not ended: a connection ends with `Bye`, then EOF.)
    }
}
