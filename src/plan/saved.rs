//! Saved plans: `tern plan --out FILE` and `tern apply FILE`.
//!
//! A saved plan does not store the list of changes; it stores what the plan was computed from: the
//! source manifest, the options, and a fingerprint (generation and hash) of the destination
//! manifest. Because planning is a pure function, `apply` recomputes exactly the same plan after
//! checking that the destination manifest is still the one planned against and that every source
//! entry the plan would write is still as it was. Anything else is refused before a byte is
//! written.
//!
//! Format: magic `TERNPLAN`, version u16 LE, one zstd frame holding: source path bytes,
//! destination text, created-at text, delete flag u8, xattrs, one-file-system and hard-links flags u8 each (version 3), exclude
//! patterns (count, texts), protected
//! path count and paths, destination
//! generation varint, destination manifest hash (32 bytes), then the source manifest body.

use crate::tree::codec::{DecodeError, Reader, StreamReader, Writer};
use crate::tree::hash::ContentHash;
use crate::tree::manifest::{EntryReader, open_body, seal_into, write_body_of};
use crate::tree::path::{MAX_PATH_LEN, RelPath};
use crate::tree::store::{EntryStore, ReadError, StoredManifest};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"TERNPLAN";
/// 2: file hashes are hashes of chunk lists ([`crate::tree::hash`]). 3: whether the source was
/// scanned with its extended attributes, which entries' metadata may now hold.
const VERSION: u16 = 3;

/// Everything needed to recompute and check a plan later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPlan {
    /// The source directory, absolute.
    pub source: PathBuf,
    /// The destination as the user wrote it.
    pub destination: String,
    pub created_at: String,
    /// Mirror deletions (false for `--no-delete`).
    pub delete: bool,
    /// The source was scanned with its extended attributes (false for `--no-xattrs`).
    pub xattrs: bool,
    /// The scan stayed on the source's file system (`-x`).
    pub one_file_system: bool,
    /// Hard links were kept as links (false for `--no-hard-links`).
    pub hard_links: bool,
    /// Exclude patterns.
    pub excludes: Vec<String>,
    /// Source paths the scan could not read, whose destination copies the plan keeps.
    pub protected: Vec<RelPath>,
    pub dest_generation: u64,
    pub dest_hash: ContentHash,
    /// The source's entries, written and read as they go (a large tree's in a temporary file).
    pub source_entries: EntryStore,
}

/// The fingerprint of a destination manifest: it changes with every commit.
pub fn fingerprint(m: &dyn crate::tree::store::EntrySource) -> (u64, ContentHash) {
    (m.generation(), m.body_hash())
}

impl SavedPlan {
    /// Write the saved plan to `out`, encoded and compressed as it goes.
    pub fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut w = Writer::new();
        w.bytes(self.source.as_os_str().as_bytes());
        w.bytes(self.destination.as_bytes());
        w.bytes(self.created_at.as_bytes());
        w.u8(u8::from(self.delete));
        w.u8(u8::from(self.xattrs));
        w.u8(u8::from(self.one_file_system));
        w.u8(u8::from(self.hard_links));
        w.varint(self.excludes.len() as u64);
        for e in &self.excludes {
            w.bytes(e.as_bytes());
        }
        w.varint(self.protected.len() as u64);
        for p in &self.protected {
            w.bytes(p.as_bytes());
        }
        w.varint(self.dest_generation);
        w.fixed(&self.dest_hash.0);
        seal_into(out, MAGIC, VERSION, 3, |z| {
            z.write_all(&w.buf)?;
            let entries = &self.source_entries;
            write_body_of(z, 0, entries.len(), entries.iter())
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out).expect("writing to memory");
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Self::read_from(data).map_err(|e| match e {
            ReadError::Decode(e) => e,
            e @ ReadError::Spool(_) => DecodeError::invalid("saved plan", e.to_string()),
        })
    }

    /// Read a saved plan from `r` as it is decompressed; the source's entries go to a store.
    pub fn read_from(r: impl Read) -> Result<Self, ReadError> {
        let mut stream = StreamReader::new(open_body(r, MAGIC, VERSION..=VERSION, "saved plan")?);
        let mut plan = stream.decode(Self::decode_header)?;
        let (source, _) = StoredManifest::read(EntryReader::from_body(stream.into_rest())?)?;
        plan.source_entries = source.entries;
        Ok(plan)
    }

    /// Everything before the source's entries, which are left empty.
    fn decode_header(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let text = |r: &mut Reader<'_>, what| -> Result<String, DecodeError> {
            String::from_utf8(r.bytes(what, 64 * 1024)?.to_vec())
                .map_err(|_| DecodeError::invalid(what, "not UTF-8"))
        };
        let source = PathBuf::from(std::ffi::OsStr::from_bytes(r.bytes("source", 64 * 1024)?));
        let destination = text(r, "destination")?;
        let created_at = text(r, "created at")?;
        let delete = r.u8("delete flag")? != 0;
        let xattrs = r.u8("xattrs flag")? != 0;
        let one_file_system = r.u8("one-file-system flag")? != 0;
        let hard_links = r.u8("hard-links flag")? != 0;
        let n = r.varint("exclude count")?;
        let mut excludes = Vec::with_capacity(n.min(r.remaining() as u64) as usize);
        for _ in 0..n {
            excludes.push(text(r, "exclude pattern")?);
        }
        let n = r.varint("protected count")?;
        let mut protected = Vec::with_capacity(n.min(r.remaining() as u64 / 2) as usize);
        for _ in 0..n {
            let p = r.bytes("protected path", MAX_PATH_LEN)?;
            protected
                .push(RelPath::new(p).map_err(|e| DecodeError::invalid("path", e.to_string()))?);
        }
        let dest_generation = r.varint("destination generation")?;
        let dest_hash = ContentHash(r.fixed("destination hash")?);
        Ok(SavedPlan {
            source,
            destination,
            created_at,
            delete,
            xattrs,
            one_file_system,
            hard_links,
            excludes,
            protected,
            dest_generation,
            dest_hash,
            source_entries: EntryStore::default(),
        })
    }

    /// Read a saved plan file, with a message that names it.
    pub fn load(path: &Path) -> Result<Self, String> {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot read plan {}: {e}", path.display()))?;
        Self::read_from(std::io::BufReader::new(file)).map_err(|e| match e {
            ReadError::Decode(e) => format!(
                "{} is not a usable tern plan ({e}); make a new one with `tern plan --out`",
                path.display()
            ),
            e @ ReadError::Spool(_) => format!("cannot read plan {}: {e}", path.display()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::manifest::Manifest;
    use crate::tree::manifest::tests::file;

    #[test]
    fn round_trip_and_corruption() {
        let plan = SavedPlan {
            source: PathBuf::from("/srv/site"),
            destination: "backup1:/srv/site".into(),
            created_at: "2026-11-26T04:00:00Z".into(),
            delete: true,
            xattrs: true,
            one_file_system: true,
            hard_links: false,
            excludes: vec!["*.tmp".into()],
            protected: vec![RelPath::new("locked").unwrap()],
            dest_generation: 7,
            dest_hash: ContentHash::of(b"x"),
            source_entries: EntryStore::from(&Manifest {
                generation: 0,
                entries: vec![file("a", b"1"), file("b", b"2")],
            }),
        };
        let bytes = plan.encode();
        assert_eq!(SavedPlan::decode(&bytes).unwrap(), plan);
        for n in 0..bytes.len() {
            assert!(SavedPlan::decode(&bytes[..n]).is_err());
        }
        assert!(SavedPlan::decode(&Manifest::default().encode()).is_err());
    }
}
