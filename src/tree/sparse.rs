//! Sparse files: their holes found at the source without reading them, and made again at the
//! destination (as `rsync -S` makes them).
//!
//! A file whose allocated blocks cover less than its size has holes. Reading a hole returns
//! zeros, but the kernel still has to produce them: 2 GiB of holes took 16 s to read here. So the
//! scan reads such a file through [`HoleSkipping`], which asks where the data is (`SEEK_DATA`,
//! `SEEK_HOLE`) and fills the holes with zeros in memory; its chunks of zeros hash once per
//! length ([`crate::tree::chunk`]). The manifest marks the file sparse ([`Meta::sparse`]), and a
//! destination writes its blocks of zeros as holes ([`write_holey`]), so the replica takes the
//! room its data takes.
//!
//! [`Meta::sparse`]: crate::tree::manifest::Meta::sparse

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};

/// The block size holes are made in at the destination: a block of zeros this long, at an
/// offset that is a multiple of it, is left unwritten.
pub const HOLE_BLOCK: usize = 4096;

/// Whether `data` is all zeros: compared with a block of zeros a block at a time (`memcmp`, many
/// GB/s), not a byte at a time.
pub fn is_zero(data: &[u8]) -> bool {
    static ZEROS: [u8; 16 * 1024] = [0; 16 * 1024];
    data.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

/// Whether the file `md` describes has holes: fewer bytes allocated than it holds.
pub fn is_sparse(md: &Metadata) -> bool {
    md.is_file() && md.blocks().saturating_mul(512) < md.size()
}

/// Reads a file from its start, giving zeros for its holes without reading them.
pub struct HoleSkipping<'a> {
    file: &'a File,
    pos: u64,
    /// `pos..data_end` is data (read it); `pos..hole_end` is a hole (zeros).
    data_end: u64,
    hole_end: u64,
}

impl<'a> HoleSkipping<'a> {
    pub fn new(file: &'a File) -> Self {
        HoleSkipping { file, pos: 0, data_end: 0, hole_end: 0 }
    }

    /// Where the region that starts at `pos` ends, and whether it is a hole.
    fn locate(&mut self) -> io::Result<()> {
        use rustix::fs::SeekFrom as S;
        match rustix::fs::seek(self.file, S::Data(self.pos)) {
            Ok(data) if data > self.pos => self.hole_end = data,
            Ok(_) => {
                let hole = rustix::fs::seek(self.file, S::Hole(self.pos))?;
                // Past the end, or a file system without holes: read to the end.
                self.data_end = if hole > self.pos { hole } else { u64::MAX };
            }
            // No data after `pos`: a hole to the end of the file.
            Err(rustix::io::Errno::NXIO) => {
                let end = self.file.metadata()?.len();
                if end > self.pos {
                    self.hole_end = end;
                } else {
                    self.data_end = u64::MAX;
                }
            }
            // This file system cannot say: read it all.
            Err(_) => self.data_end = u64::MAX,
        }
        Ok(())
    }
}

impl Read for HoleSkipping<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos >= self.data_end && self.pos >= self.hole_end {
            self.locate()?;
        }
        let n = if self.pos < self.hole_end {
            let n = buf.len().min((self.hole_end - self.pos) as usize);
            buf[..n].fill(0);
            n
        } else {
            let n = buf.len().min((self.data_end - self.pos).min(usize::MAX as u64) as usize);
            self.file.read_at(&mut buf[..n], self.pos)?
        };
        self.pos += n as u64;
        Ok(n)
    }
}

/// Whether `len` bytes at `offset` of `file` are all in one of its holes (and inside the file):
/// they read as zeros without being read.
pub fn in_hole(file: &File, offset: u64, len: u64) -> bool {
    let end = offset.saturating_add(len);
    if file.metadata().map_or(true, |m| m.len() < end) {
        return false;
    }
    match rustix::fs::seek(file, rustix::fs::SeekFrom::Data(offset)) {
        Ok(data) => data >= end,
        // No data from `offset` to the end of the file.
        Err(rustix::io::Errno::NXIO) => true,
        Err(_) => false,
    }
}

/// Write `data` at the end of `file`, a new file now `offset` bytes long, leaving its zeros
/// unwritten a [`HOLE_BLOCK`]-aligned piece at a time (holes once the file is extended past them:
/// see [`finish_holey`]).
pub fn write_holey(file: &mut File, data: &[u8], offset: u64) -> io::Result<()> {
    let mut at = 0;
    // Zeros not written yet: one seek over a run of them, not one a block.
    let mut skip = 0i64;
    while at < data.len() {
        let block_end = HOLE_BLOCK - ((offset as usize + at) % HOLE_BLOCK);
        let end = (at + block_end).min(data.len());
        let block = &data[at..end];
        // The file is new: a byte not written reads as zero. A block that is zeros wherever it is
        // written stays a hole; one that gets data elsewhere is allocated, its skipped part zero.
        if is_zero(block) {
            skip += block.len() as i64;
        } else {
            if skip > 0 {
                file.seek(SeekFrom::Current(skip))?;
                skip = 0;
            }
            file.write_all(block)?;
        }
        at = end;
    }
    if skip > 0 {
        file.seek(SeekFrom::Current(skip))?;
    }
    Ok(())
}

/// Give a file written by [`write_holey`] its full length, `len`, which a hole at its end did
/// not: the holes before were made by the writes after them.
pub fn finish_holey(file: &File, len: u64) -> io::Result<()> {
    if file.metadata()?.len() < len { file.set_len(len) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file with a hole, data, and a hole at its end reads as zeros, data, zeros; written
    /// back with holes, it has the same bytes and no more blocks than its data.
    #[test]
    fn holes_are_read_as_zeros_and_written_as_holes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sparse");
        let f = File::create(&p).unwrap();
        let data = vec![7u8; 3 * HOLE_BLOCK];
        f.write_all_at(&data, 10 * HOLE_BLOCK as u64).unwrap();
        f.set_len(40 * HOLE_BLOCK as u64).unwrap();
        let f = File::open(&p).unwrap();
        let mut read = Vec::new();
        HoleSkipping::new(&f).read_to_end(&mut read).unwrap();
        assert_eq!(read, std::fs::read(&p).unwrap());
        assert!(is_sparse(&f.metadata().unwrap()));

        let q = dir.path().join("copy");
        let mut out = File::create(&q).unwrap();
        let mut offset = 0;
        for part in read.chunks(5000) {
            write_holey(&mut out, part, offset).unwrap();
            offset += part.len() as u64;
        }
        finish_holey(&out, offset).unwrap();
        assert_eq!(std::fs::read(&q).unwrap(), read);
        let md = std::fs::metadata(&q).unwrap();
        assert!(md.blocks() * 512 <= 8 * HOLE_BLOCK as u64, "{} blocks", md.blocks());
        assert!(is_sparse(&md));
    }

    #[test]
    fn a_file_without_holes_reads_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dense");
        std::fs::write(&p, vec![1u8; 100_000]).unwrap();
        let f = File::open(&p).unwrap();
        let mut read = Vec::new();
        HoleSkipping::new(&f).read_to_end(&mut read).unwrap();
        assert_eq!(read.len(), 100_000);
        assert!(!is_sparse(&f.metadata().unwrap()));
    }
}
