//! The manifest: what a tree holds, entry by entry, and its versioned on-disk format.
//!
//! A destination keeps the manifest of what tern last wrote there (`DEST/.tern/manifest`), so a
//! sync never has to scan the destination. The format is a contract between tern versions and
//! machines:
//!
//! ```text
//! magic  "TERNMANI"            8 bytes
//! version u16 little-endian    currently 2 (1 hashed files whole, not as a chunk list)
//! body   one zstd frame        decompressed size bounded by MAX_BODY
//!   generation varint, entry count varint, then per entry:
//!   path bytes, kind u8 (0 file, 1 dir, 2 symlink, 3 fifo, 4 character device, 5 block
//!   device, 6 hard link; 3 to 6 from version 3 on), mode varint, mtime secs zigzag, nanos varint,
//!   uid varint, gid varint,
//!   (version 3) mode bit 17: a file with holes (sparse); if mode has bit 16 set: xattr count varint, per xattr (sorted by name, no
//!            duplicates): name bytes, value bytes. Version 2 never sets the bit, so a version 3
//!            reader reads version 2 as it is: a replica needs no re-send to upgrade.
//!   file:    size varint, hash [32], chunk count varint, per chunk: len varint, hash [32]
//!            (a chunk's hash and the file's are those of crate::tree::hash; a file of one chunk lists
//!            none, and the hash of a file of more is the hash of its list)
//!   symlink: target bytes
//!   device:  rdev varint (the device number, as stat gives it)
//!   hard link: the path of the group's first file (earlier in the manifest), whose content
//!            and metadata this entry shares
//! ```
//!
//! The decoder validates everything a hostile or corrupt file could get wrong: lengths, order
//! (strictly increasing, so no duplicates), parents that are directories, chunk lengths that add up
//! and file hashes that are the hashes of their chunk lists.

use crate::tree::chunk::{ChunkRef, FileDigest, MAX_CHUNK};
use crate::tree::codec::{DecodeError, Reader, StreamReader, Writer, reserve_announced};
use crate::tree::hash::{ContentHash, HashReader};
use crate::tree::path::{MAX_PATH_LEN, RelPath};
use std::io::{Read, Write};
use std::ops::RangeInclusive;
use std::path::Path;

const MAGIC: &[u8; 8] = b"TERNMANI";
/// The format version this build writes; it reads every version from [`OLDEST_VERSION`] on.
/// 3 added extended attributes (and with them POSIX ACLs and file capabilities).
pub const FORMAT_VERSION: u16 = 3;
/// The oldest format version this build reads.
pub const OLDEST_VERSION: u16 = 2;
/// The manifest versions this build reads.
const MANIFEST_VERSIONS: RangeInclusive<u16> = OLDEST_VERSION..=FORMAT_VERSION;
/// Set in an encoded mode when the entry's extended attributes follow its owner and group.
const XATTRS_FOLLOW: u64 = 1 << 16;
/// Set in an encoded mode for a file with holes.
const SPARSE: u64 = 1 << 17;
/// Longest xattr name Linux allows (`XATTR_NAME_MAX`).
pub const MAX_XATTR_NAME: usize = 255;
/// Largest xattr value Linux allows (`XATTR_SIZE_MAX`).
pub const MAX_XATTR_VALUE: usize = 64 * 1024;
/// Most xattrs one entry may carry.
const MAX_XATTRS: u64 = 4096;
/// The zstd level manifests are written at: 1 (small tables, where level 3 takes several MiB of
/// context), as manifests are sorted and what repeats is close by.
pub(crate) const LEVEL: i32 = 1;
/// Every container is compressed over a 16 KiB window, whatever its level. What repeats in a
/// manifest or a hash cache (a directory's path, a mode) is a few entries back, and most of an
/// entry is its hash, which nothing compresses; so a larger window finds little more. Against a
/// 64 KiB window the manifests of the issue-6 trees are 0.2% larger (50,000 small files) and 0.6%
/// smaller (200,000 tiny files), their hash caches (local only) 1.6% larger, while the
/// compressor's context, which zstd sizes by its block (at most the window), shrinks from 520 KiB
/// to 200 (1.4 MiB over the default 512 KiB window): memory that the agent's commit and the
/// client's scan hold for as long as they write.
const WINDOW_LOG: u32 = 14;
/// Largest decompressed manifest body accepted (about 10 million small entries).
const MAX_BODY: u64 = 2 << 30;
/// Most chunks one file may list (1 TiB at the minimum chunk size).
const MAX_CHUNKS_PER_FILE: u64 = 1 << 28;

/// Modification time with nanoseconds.
///
/// Packed to 12 bytes (aligned to 4, not 8): every entry of a manifest holds one, and the
/// padding after `nanos` made every [`Meta`] 8 bytes larger (32 instead of 24). The fields are
/// read by value; the compiler refuses a reference to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(C, packed(4))]
pub struct Mtime {
    pub secs: i64,
    pub nanos: u32,
}

/// Metadata tern preserves for every entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    /// Permission bits (`0o7777`), without the file type.
    pub mode: u32,
    pub mtime: Mtime,
    /// Numeric owner and group (applied where the destination runs as root, like rsync -a).
    pub uid: u32,
    pub gid: u32,
    /// Extended attributes, POSIX ACLs (`system.posix_acl_*`) and file capabilities
    /// (`security.capability`) among them.
    pub xattrs: Xattrs,
    /// A file with holes at the source: a destination writes its blocks of zeros as holes
    /// ([`crate::tree::sparse`]).
    pub sparse: bool,
}

/// One extended attribute: a name such as `user.mime_type`, and its value as the kernel holds it
/// (an ACL's value carries numeric ids, so ACLs are kept numerically, like `--numeric-ids`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xattr {
    pub name: Box<[u8]>,
    pub value: Box<[u8]>,
}

/// An entry's extended attributes, sorted by name. Almost every entry has none, which costs one
/// null pointer (a thin one: 8 of a decoded entry's 104 bytes); a list is shared,
/// not copied, between the plan, staging and the commit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Xattrs(Option<std::sync::Arc<Vec<Xattr>>>);

impl Xattrs {
    /// The attributes of `list`, sorted by name; the last of equal names wins.
    pub fn new(mut list: Vec<Xattr>) -> Xattrs {
        if list.is_empty() {
            return Xattrs(None);
        }
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list.dedup_by(|later, earlier| {
            let same = later.name == earlier.name;
            if same {
                std::mem::swap(&mut later.value, &mut earlier.value);
            }
            same
        });
        Xattrs(Some(std::sync::Arc::new(list)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Xattr> {
        self.0.iter().flat_map(|l| l.iter())
    }

    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.iter().find(|x| &*x.name == name).map(|x| &*x.value)
    }

    /// Names whose value differs between `self` and `other`, or that only one of them has.
    pub fn changed_names<'a>(&'a self, other: &'a Xattrs) -> Vec<&'a [u8]> {
        let mut names: Vec<&[u8]> = self.iter().chain(other.iter()).map(|x| &*x.name).collect();
        names.sort();
        names.dedup();
        names.retain(|n| self.get(n) != other.get(n));
        names
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File(FileDigest),
    Dir,
    Symlink(Vec<u8>),
    /// A FIFO or a device file (as `rsync -D` keeps them): no content, only what it is.
    Special(Special),
    /// Another name of the file at this path, which comes earlier in the manifest: the first of
    /// a group of hard links holds the content, the others name it (as `rsync -H` keeps them).
    HardLink(RelPath),
}

/// A special file: which kind, and for a device its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Fifo,
    CharDevice { rdev: u64 },
    BlockDevice { rdev: u64 },
}

impl Kind {
    pub fn tag(&self) -> KindTag {
        match self {
            Kind::File(_) => KindTag::File,
            Kind::Dir => KindTag::Dir,
            Kind::Symlink(_) => KindTag::Symlink,
            Kind::Special(Special::Fifo) => KindTag::Fifo,
            Kind::Special(Special::CharDevice { .. }) => KindTag::CharDevice,
            Kind::Special(Special::BlockDevice { .. }) => KindTag::BlockDevice,
            Kind::HardLink(_) => KindTag::HardLink,
        }
    }
}

/// The kind of an entry without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KindTag {
    File,
    Dir,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
    HardLink,
}

impl KindTag {
    pub fn name(self) -> &'static str {
        match self {
            KindTag::File => "file",
            KindTag::Dir => "dir",
            KindTag::Symlink => "symlink",
            KindTag::Fifo => "fifo",
            KindTag::CharDevice => "char-device",
            KindTag::BlockDevice => "block-device",
            KindTag::HardLink => "hardlink",
        }
    }

    /// The byte that stands for this kind in the manifest and on the wire.
    pub fn code(self) -> u8 {
        match self {
            KindTag::File => 0,
            KindTag::Dir => 1,
            KindTag::Symlink => 2,
            KindTag::Fifo => 3,
            KindTag::CharDevice => 4,
            KindTag::BlockDevice => 5,
            KindTag::HardLink => 6,
        }
    }

    pub fn from_code(b: u8) -> Option<KindTag> {
        Some(match b {
            0 => KindTag::File,
            1 => KindTag::Dir,
            2 => KindTag::Symlink,
            3 => KindTag::Fifo,
            4 => KindTag::CharDevice,
            5 => KindTag::BlockDevice,
            6 => KindTag::HardLink,
            _ => return None,
        })
    }
}

/// One path of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: RelPath,
    pub meta: Meta,
    pub kind: Kind,
}

impl Entry {
    /// Content size: the file size, or 0 for directories and symlinks.
    pub fn size(&self) -> u64 {
        match &self.kind {
            Kind::File(d) => d.size,
            _ => 0,
        }
    }

    pub fn digest(&self) -> Option<&FileDigest> {
        match &self.kind {
            Kind::File(d) => Some(d),
            _ => None,
        }
    }
}

/// A whole tree, entries sorted by path (see [`RelPath`]'s order) with no duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Bumped by every commit at a destination; 0 for a manifest that was never committed.
    pub generation: u64,
    pub entries: Vec<Entry>,
}

impl Manifest {
    /// Find an entry by path.
    pub fn get(&self, path: &RelPath) -> Option<&Entry> {
        self.entries.binary_search_by(|e| e.path.cmp(path)).ok().map(|i| &self.entries[i])
    }

    /// Sort the entries into manifest order (used after building one from a walk).
    pub fn sort(&mut self) {
        self.entries.sort_by(|a, b| a.path.cmp(&b.path));
    }

    /// This manifest without the entries at or below `paths`: planning against it sends them again.
    pub fn without(mut self, paths: &[RelPath]) -> Manifest {
        if !paths.is_empty() {
            self.entries.retain(|e| !paths.iter().any(|p| e.path.is_within(p)));
        }
        self
    }

    pub fn total_bytes(&self) -> u64 {
        self.entries.iter().map(Entry::size).sum()
    }

    /// Check the invariants the decoder guarantees: strictly sorted, parents are directories.
    pub fn validate(&self) -> Result<(), DecodeError> {
        let mut order = Order::default();
        self.entries.iter().try_for_each(|e| order.check(e))
    }

    /// Encode into the versioned, compressed on-disk format. The body is compressed as it is
    /// encoded, never held whole.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out).expect("writing to memory");
        out
    }

    /// Write the encoding of [`Manifest::encode`] to `out` as it is made.
    pub fn write_to(&self, mut out: impl Write) -> std::io::Result<()> {
        seal_into(&mut out, MAGIC, FORMAT_VERSION, LEVEL, |z| self.write_body(z))
    }

    /// The uncompressed body (exposed for the golden-file test).
    pub fn encode_body(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let _ = self.write_body(&mut body);
        body
    }

    /// The SHA-256 of the uncompressed body, which identifies a manifest's content.
    pub fn body_hash(&self) -> ContentHash {
        body_hash_of(self.generation, self.entries.len() as u64, self.entries.iter())
    }

    /// Encode the body into `out`, a few KiB at a time.
    fn write_body(&self, out: &mut dyn Write) -> std::io::Result<()> {
        write_body_of(out, self.generation, self.entries.len() as u64, self.entries.iter())
    }

    /// Decode and validate the on-disk format.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Self::read_from(data).map(|(m, _)| m)
    }

    /// Decode the encoding read from `r` as it is decompressed (neither the file nor its body is
    /// held whole), with the SHA-256 of the body: the result's [`Manifest::body_hash`] for any
    /// manifest tern wrote, without encoding it again.
    pub fn read_from(r: impl Read) -> Result<(Self, ContentHash), DecodeError> {
        Self::read_entries(EntryReader::open(r)?)
    }

    /// Every entry `reader` gives, and the hash of the body they came from.
    fn read_entries(
        mut reader: EntryReader<impl Read>,
    ) -> Result<(Self, ContentHash), DecodeError> {
        let mut entries = Vec::new();
        while let Some(entry) = reader.next_entry()? {
            reserve_announced(&mut entries, reader.count);
            entries.push(entry);
        }
        let generation = reader.generation;
        Ok((Manifest { generation, entries }, reader.finish()?))
    }

    pub fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        Self::read_entries(EntryReader::from_body(body)?).map(|(m, _)| m)
    }

    /// Read a manifest file; `Ok(None)` when it does not exist. (A sync reads the destination's
    /// into a store, with its file's hash:
    /// [`crate::tree::store::StoredManifest::load_identified`].)
    pub fn load(path: &Path) -> Result<Option<Self>, ManifestFileError> {
        let io = |e| ManifestFileError::Io { path: path.to_owned(), source: e };
        let Some(file) = open_if_exists(path).map_err(io)? else {
            return Ok(None);
        };
        let (m, _) = Self::read_from(std::io::BufReader::new(file))
            .map_err(|e| ManifestFileError::Corrupt { path: path.to_owned(), reason: e })?;
        Ok(Some(m))
    }

    /// Write atomically: a temporary file beside `path`, fsync, rename, fsync the directory.
    /// Encoded as it is written, never held whole.
    pub fn store(&self, path: &Path) -> std::io::Result<()> {
        write_replacing_with(path, true, |w| self.write_to(w))
    }
}

/// The hash of a manifest file's bytes, read without decoding them; `Ok(None)` when there is no
/// such file. Two reads of a destination's manifest are the same manifest if their files hash
/// alike (the file holds the generation).
pub fn file_hash(path: &Path) -> std::io::Result<Option<ContentHash>> {
    let Some(file) = open_if_exists(path)? else {
        return Ok(None);
    };
    let mut hashed = HashReader::new(file);
    std::io::copy(&mut hashed, &mut std::io::sink())?;
    Ok(Some(hashed.finish()))
}

/// The generation and the file hash of the manifest file read from `r`, in one pass that holds
/// nothing but buffers: the generation without decoding the entries, the hash as [`file_hash`].
/// A body that cannot be decoded reads as generation 0: the hash still says which file it is.
pub fn identify(r: impl Read) -> std::io::Result<(u64, ContentHash)> {
    let mut hashed = HashReader::new(std::io::BufReader::new(r));
    let generation = open_body(&mut hashed, MAGIC, MANIFEST_VERSIONS, "manifest")
        .and_then(|body| StreamReader::new(body).decode(|r| r.varint("generation")))
        .unwrap_or(0);
    // What the decoder did not read is part of the file, and of its hash.
    std::io::copy(&mut hashed, &mut std::io::sink())?;
    Ok((generation, hashed.finish()))
}

/// Open `path` to read; `Ok(None)` when there is no such file (a state or cache file not written
/// yet).
pub(crate) fn open_if_exists(path: &Path) -> std::io::Result<Option<std::fs::File>> {
    match std::fs::File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Checks entries one at a time for what a manifest's entries must be: strictly sorted, and
/// each one's parent a directory entry that came before it.
#[derive(Debug, Default)]
pub(crate) struct Order {
    last: Option<RelPath>,
    dirs: OpenDirs,
}

/// The directory entries above a place in a walk of entries in path order, outermost first. In
/// that order a directory's entries come right after it, so the directories that hold the next
/// entry are among those still open when it comes.
#[derive(Debug, Default)]
pub(crate) struct OpenDirs(Vec<RelPath>);

impl OpenDirs {
    /// Close the directories that do not hold `path`, which comes next in path order; the
    /// innermost one left open, if any.
    pub(crate) fn reach(&mut self, path: &RelPath) -> Option<&RelPath> {
        while self.0.last().is_some_and(|d| !d.is_ancestor_of(path)) {
            self.0.pop();
        }
        self.0.last()
    }

    /// `e`, just reached, holds what follows it if it is a directory.
    pub(crate) fn open(&mut self, e: &Entry) {
        if matches!(e.kind, Kind::Dir) {
            self.0.push(e.path.clone());
        }
    }
}

impl Order {
    /// Check the entry that comes next.
    pub(crate) fn check(&mut self, e: &Entry) -> Result<(), DecodeError> {
        if self.last.as_ref().is_some_and(|last| *last >= e.path) {
            return Err(DecodeError::invalid(
                "manifest",
                format!("entry {} is out of order or duplicated", e.path.display()),
            ));
        }
        // Thanks to the order, the parent is the innermost directory still open.
        let parent = e.path.parent();
        if self.dirs.reach(&e.path) != parent.as_ref() {
            return Err(DecodeError::invalid(
                "manifest",
                format!("entry {} has no parent directory entry", e.path.display()),
            ));
        }
        self.dirs.open(e);
        self.last = Some(e.path.clone());
        Ok(())
    }
}

/// A manifest's entries, decoded and checked one at a time as its body is read: what a commit
/// merges with a delta without holding either whole.
pub struct EntryReader<B> {
    stream: StreamReader<HashReader<B>>,
    /// The generation the manifest carries.
    pub generation: u64,
    /// The number of entries the manifest announces.
    pub count: u64,
    left: u64,
    order: Order,
}

impl<R: Read> EntryReader<Body<R>> {
    /// Read a manifest file from `r`: its header is checked and its generation read at once.
    pub fn open(r: R) -> Result<Self, DecodeError> {
        EntryReader::from_body(open_body(r, MAGIC, MANIFEST_VERSIONS, "manifest")?)
    }
}

impl<B: Read> EntryReader<B> {
    /// Read an uncompressed body.
    pub(crate) fn from_body(body: B) -> Result<Self, DecodeError> {
        let mut stream = StreamReader::new(HashReader::new(body));
        let (generation, count) =
            stream.decode(|r| Ok((r.varint("generation")?, r.varint("entry count")?)))?;
        Ok(EntryReader { stream, generation, count, left: count, order: Order::default() })
    }

    /// The next entry; `None` after the last one the manifest announced.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, DecodeError> {
        if self.left == 0 {
            return Ok(None);
        }
        let entry = self.stream.decode(decode_entry)?;
        self.order.check(&entry)?;
        self.left -= 1;
        Ok(Some(entry))
    }

    /// After the last entry: check that nothing follows and the body was not too large, and
    /// give the body's SHA-256.
    pub fn finish(mut self) -> Result<ContentHash, DecodeError> {
        if self.left > 0 {
            return Err(DecodeError::Truncated { what: "manifest", wanted: self.left });
        }
        if !self.stream.at_end()? {
            return Err(DecodeError::invalid("manifest", "trailing bytes"));
        }
        let body = self.stream.into_inner();
        if body.count > MAX_BODY {
            return Err(DecodeError::TooLarge { what: "manifest", len: body.count, max: MAX_BODY });
        }
        Ok(body.finish())
    }
}

/// Write a manifest file of `count` entries to `out`, encoding and compressing `entries` as they
/// come; the SHA-256 of its body. Fails if `entries` gives another number of entries.
pub fn write_entries<E: std::borrow::Borrow<Entry>>(
    out: &mut dyn Write,
    generation: u64,
    count: u64,
    entries: impl Iterator<Item = E>,
) -> std::io::Result<ContentHash> {
    let mut hash = None;
    seal_into(out, MAGIC, FORMAT_VERSION, LEVEL, |z| {
        let mut body = crate::tree::hash::HashingWriter::new(z);
        write_body_of(&mut body, generation, count, entries)?;
        hash = Some(body.finish());
        Ok(())
    })?;
    hash.ok_or_else(|| std::io::Error::other("manifest body not written"))
}

/// The hash of the body of a manifest of `count` entries (see [`Manifest::body_hash`]).
pub fn body_hash_of<E: std::borrow::Borrow<Entry>>(
    generation: u64,
    count: u64,
    entries: impl Iterator<Item = E>,
) -> ContentHash {
    let mut h = crate::tree::hash::HashWriter::default();
    let _ = write_body_of(&mut h, generation, count, entries);
    h.finish()
}

/// Encode a body of `count` entries into `out`, a few KiB at a time.
pub(crate) fn write_body_of<E: std::borrow::Borrow<Entry>>(
    out: &mut dyn Write,
    generation: u64,
    count: u64,
    entries: impl Iterator<Item = E>,
) -> std::io::Result<()> {
    let mut w = Writer::new();
    w.varint(generation);
    w.varint(count);
    let mut written = 0u64;
    for e in entries {
        encode_entry(&mut w, e.borrow());
        written += 1;
        if w.buf.len() >= 64 * 1024 {
            out.write_all(&w.buf)?;
            w.buf.clear();
        }
    }
    if written != count {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a manifest of {count} entries was given {written}"),
        ));
    }
    out.write_all(&w.buf)
}

/// A manifest file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestFileError {
    #[error("cannot read manifest {}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "manifest {} is corrupt ({reason}); move it aside to rebuild the destination from scratch",
        path.display()
    )]
    Corrupt { path: std::path::PathBuf, reason: DecodeError },
}

/// Check magic and version, then decompress the body with a size bound.
#[cfg(test)]
pub(crate) fn open_container(
    data: &[u8],
    magic: &[u8; 8],
    version: u16,
    what: &'static str,
) -> Result<Vec<u8>, DecodeError> {
    let mut body = Vec::new();
    open_body(data, magic, version..=version, what)?
        .read_to_end(&mut body)
        .map_err(|e| DecodeError::invalid(what, format!("bad compressed data: {e}")))?;
    if body.len() as u64 > MAX_BODY {
        return Err(DecodeError::TooLarge { what, len: body.len() as u64, max: MAX_BODY });
    }
    Ok(body)
}

/// A container's body, decompressed as it is read.
pub(crate) type Body<R> =
    std::io::Take<zstd::stream::read::Decoder<'static, std::io::BufReader<R>>>;

/// The body of the container read from `r`: its magic and version checked, then decompressed as
/// it is read, up to one byte more than `MAX_BODY` (so that the caller can refuse a larger one).
pub(crate) fn open_body<R: Read>(
    mut r: R,
    magic: &[u8; 8],
    versions: RangeInclusive<u16>,
    what: &'static str,
) -> Result<Body<R>, DecodeError> {
    let mut head = [0u8; 10];
    let got = read_up_to(&mut r, &mut head)
        .map_err(|e| DecodeError::invalid(what, format!("cannot read: {e}")))?;
    check_container(&head[..got], magic, versions, what)?;
    let body = zstd::stream::read::Decoder::new(r)
        .map_err(|e| DecodeError::invalid(what, format!("bad compressed data: {e}")))?;
    Ok(body.take(MAX_BODY + 1))
}

/// Read until `buf` is full or the stream ends; how much was read.
pub(crate) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Check a container's magic and version (its first 10 bytes; fewer are an error).
pub(crate) fn check_container(
    data: &[u8],
    magic: &[u8; 8],
    versions: RangeInclusive<u16>,
    what: &'static str,
) -> Result<(), DecodeError> {
    if data.len() < 10 || &data[..8] != magic {
        return Err(DecodeError::invalid(what, "not a tern file (bad magic)"));
    }
    let v = u16::from_le_bytes([data[8], data[9]]);
    let (oldest, newest) = (*versions.start(), *versions.end());
    let reads = if oldest == newest {
        format!("version {newest}")
    } else {
        format!("versions {oldest} to {newest}")
    };
    if v > newest {
        return Err(DecodeError::invalid(
            what,
            format!("format version {v}, this tern reads {reads}; upgrade tern"),
        ));
    }
    if v < oldest {
        return Err(DecodeError::invalid(
            what,
            format!(
                "format version {v} was written by an older tern (this one reads {reads}); \
                 move the file aside and let tern write it again"
            ),
        ));
    }
    Ok(())
}

/// Build a container: magic, version, zstd-compressed body.
#[cfg(test)]
pub(crate) fn seal_container(body: &[u8], magic: &[u8; 8], version: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 3 + 16);
    seal_into(&mut out, magic, version, 3, |z| z.write_all(body)).expect("writing to memory");
    out
}

/// Write a container to `out`, its body written by `body` and compressed at `level` as it comes.
pub(crate) fn seal_into(
    out: &mut dyn Write,
    magic: &[u8; 8],
    version: u16,
    level: i32,
    body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut z = open_container_writer(out, magic, version, level)?;
    body(&mut z)?;
    z.finish()?.flush()
}

/// Start a container on `out`: its header written, its body to be written to the compressor
/// returned ([`seal_into`] for a body written in one go).
pub(crate) fn open_container_writer<W: Write>(
    mut out: W,
    magic: &[u8; 8],
    version: u16,
    level: i32,
) -> std::io::Result<zstd::stream::write::Encoder<'static, W>> {
    out.write_all(magic)?;
    out.write_all(&version.to_le_bytes())?;
    let mut z = zstd::stream::write::Encoder::new(out, level)?;
    z.set_parameter(zstd::stream::raw::CParameter::WindowLog(WINDOW_LOG))?;
    Ok(z)
}

pub(crate) fn encode_meta(w: &mut Writer, m: &Meta) {
    let flag = if m.xattrs.is_empty() { 0 } else { XATTRS_FOLLOW };
    let sparse = if m.sparse { SPARSE } else { 0 };
    w.varint(u64::from(m.mode) | flag | sparse);
    w.zigzag(m.mtime.secs);
    w.varint(u64::from(m.mtime.nanos));
    w.varint(u64::from(m.uid));
    w.varint(u64::from(m.gid));
    if let Some(list) = &m.xattrs.0 {
        w.varint(list.len() as u64);
        for x in list.iter() {
            w.bytes(&x.name);
            w.bytes(&x.value);
        }
    }
}

pub(crate) fn decode_meta(r: &mut Reader<'_>) -> Result<Meta, DecodeError> {
    let mode = r.varint_max("mode", 0o7777 | XATTRS_FOLLOW | SPARSE)?;
    let secs = r.zigzag("mtime")?;
    let nanos = r.varint_max("mtime nanoseconds", 999_999_999)? as u32;
    let uid = r.varint_max("owner", u64::from(u32::MAX))? as u32;
    let gid = r.varint_max("group", u64::from(u32::MAX))? as u32;
    let xattrs = if mode & XATTRS_FOLLOW != 0 { decode_xattrs(r)? } else { Xattrs::default() };
    let sparse = mode & SPARSE != 0;
    let mode = (mode & 0o7777) as u32;
    Ok(Meta { mode, mtime: Mtime { secs, nanos }, uid, gid, xattrs, sparse })
}

/// A non-empty list of xattrs with valid names, strictly sorted by name.
fn decode_xattrs(r: &mut Reader<'_>) -> Result<Xattrs, DecodeError> {
    let n = r.varint_max("xattr count", MAX_XATTRS)?;
    if n == 0 {
        return Err(DecodeError::invalid("xattrs", "announced, but none listed"));
    }
    let mut list: Vec<Xattr> = Vec::with_capacity(n.min(r.remaining() as u64 / 2) as usize);
    for _ in 0..n {
        let name = r.bytes("xattr name", MAX_XATTR_NAME)?;
        if name.is_empty() || name.contains(&0) || !name.contains(&b'.') {
            return Err(DecodeError::invalid("xattr name", "empty, without a namespace, or NUL"));
        }
        if list.last().is_some_and(|prev| *prev.name >= *name) {
            return Err(DecodeError::invalid("xattrs", "not sorted by name, or a name twice"));
        }
        let value = r.bytes("xattr value", MAX_XATTR_VALUE)?;
        list.push(Xattr { name: name.into(), value: value.into() });
    }
    Ok(Xattrs(Some(std::sync::Arc::new(list))))
}

/// Read past the xattrs [`encode_meta`] wrote after a mode with [`XATTRS_FOLLOW`].
fn skip_xattrs(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    for _ in 0..r.varint_max("xattr count", MAX_XATTRS)? {
        r.bytes("xattr name", MAX_XATTR_NAME)?;
        r.bytes("xattr value", MAX_XATTR_VALUE)?;
    }
    Ok(())
}

pub(crate) fn encode_digest(w: &mut Writer, d: &FileDigest) {
    w.varint(d.size);
    w.fixed(&d.hash.0);
    w.varint(d.stored_chunks().len() as u64);
    for c in d.stored_chunks() {
        w.varint(u64::from(c.len));
        w.fixed(&c.hash.0);
    }
}

pub(crate) fn decode_digest(r: &mut Reader<'_>) -> Result<FileDigest, DecodeError> {
    let size = r.varint("file size")?;
    let hash = ContentHash(r.fixed("file hash")?);
    let n = r.varint_max("chunk count", MAX_CHUNKS_PER_FILE)?;
    let mut chunks = Vec::with_capacity(n.min(r.remaining() as u64 / 33) as usize);
    for _ in 0..n {
        let len = r.varint_max("chunk length", MAX_CHUNK as u64)? as u32;
        chunks.push(ChunkRef { len, hash: ContentHash(r.fixed("chunk hash")?) });
    }
    FileDigest::new(size, hash, chunks).map_err(|e| DecodeError::invalid("file digest", e))
}

pub(crate) fn encode_entry(w: &mut Writer, e: &Entry) {
    w.bytes(e.path.as_bytes());
    w.u8(e.kind.tag().code());
    encode_meta(w, &e.meta);
    match &e.kind {
        Kind::File(d) => encode_digest(w, d),
        Kind::Dir | Kind::Special(Special::Fifo) => {}
        Kind::Symlink(t) => w.bytes(t),
        Kind::Special(Special::CharDevice { rdev } | Special::BlockDevice { rdev }) => {
            w.varint(*rdev)
        }
        Kind::HardLink(first) => w.bytes(first.as_bytes()),
    }
}

/// Read past one entry of [`encode_entry`]'s form without decoding it: no allocation, and no
/// check beyond its lengths; its path's bytes. For readers of entries they encoded themselves
/// that jump ahead, or need only a path.
pub(crate) fn skip_entry<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], DecodeError> {
    let path = entry_path(r)?;
    let tag = r.u8("entry kind")?;
    let mode = r.varint("mode")?;
    for what in ["mtime", "mtime nanoseconds", "owner", "group"] {
        r.varint(what)?;
    }
    if mode & XATTRS_FOLLOW != 0 {
        skip_xattrs(r)?;
    }
    match entry_kind(tag)? {
        KindTag::File => {
            r.varint("file size")?;
            r.fixed::<32>("file hash")?;
            for _ in 0..r.varint_max("chunk count", MAX_CHUNKS_PER_FILE)? {
                r.varint("chunk length")?;
                r.fixed::<32>("chunk hash")?;
            }
        }
        KindTag::Dir | KindTag::Fifo => {}
        KindTag::Symlink => {
            r.bytes("symlink target", MAX_PATH_LEN)?;
        }
        KindTag::CharDevice | KindTag::BlockDevice => {
            r.varint("device number")?;
        }
        KindTag::HardLink => {
            r.bytes("hard link", MAX_PATH_LEN)?;
        }
    }
    Ok(path)
}

/// The kind an entry's tag byte names.
fn entry_kind(tag: u8) -> Result<KindTag, DecodeError> {
    KindTag::from_code(tag)
        .ok_or_else(|| DecodeError::invalid("entry kind", format!("unknown kind {tag}")))
}

/// The path that leads an entry's encoding, the rest of the entry left unread.
pub(crate) fn entry_path<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], DecodeError> {
    r.bytes("path", MAX_PATH_LEN)
}

pub(crate) fn decode_entry(r: &mut Reader<'_>) -> Result<Entry, DecodeError> {
    let path =
        RelPath::new(entry_path(r)?).map_err(|e| DecodeError::invalid("path", e.to_string()))?;
    let tag = r.u8("entry kind")?;
    let meta = decode_meta(r)?;
    let kind = match entry_kind(tag)? {
        KindTag::File => Kind::File(decode_digest(r)?),
        KindTag::Dir => Kind::Dir,
        KindTag::Symlink => {
            let t = r.bytes("symlink target", MAX_PATH_LEN)?;
            if t.is_empty() || t.contains(&0) {
                return Err(DecodeError::invalid("symlink target", "empty or contains NUL"));
            }
            Kind::Symlink(t.to_vec())
        }
        KindTag::Fifo => Kind::Special(Special::Fifo),
        KindTag::CharDevice => {
            Kind::Special(Special::CharDevice { rdev: r.varint("device number")? })
        }
        KindTag::BlockDevice => {
            Kind::Special(Special::BlockDevice { rdev: r.varint("device number")? })
        }
        KindTag::HardLink => {
            let first = RelPath::new(r.bytes("hard link", MAX_PATH_LEN)?)
                .map_err(|e| DecodeError::invalid("hard link", e.to_string()))?;
            if first >= path {
                return Err(DecodeError::invalid("hard link", "names a later path or itself"));
            }
            Kind::HardLink(first)
        }
    };
    Ok(Entry { path, meta, kind })
}

/// Write `data` to `path` atomically and durably.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_replacing(path, data, true)
}

/// Write `data` to `path` atomically (a reader sees the old or the new content), and durably when
/// `durable`. A cache need not be durable: a torn one fails to decode and is ignored.
pub fn write_replacing(path: &Path, data: &[u8], durable: bool) -> std::io::Result<()> {
    write_replacing_with(path, durable, |w| w.write_all(data))
}

/// [`write_replacing`] with the content written by `write` as it is made.
pub fn write_replacing_with(
    path: &Path,
    durable: bool,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut tmp = temp_beside(path)?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut w)?;
        w.flush()?;
    }
    if durable {
        return persist_durably(tmp, path);
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A temporary file in `path`'s directory (`.tmp-*`, removed if dropped), to be written and then
/// renamed over `path`.
pub fn temp_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = path.parent().unwrap_or(Path::new("."));
    tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)
}

/// Rename a written temporary file (in `path`'s directory) over `path` durably: the file is
/// fsynced before the rename and the directory after it.
pub fn persist_durably(tmp: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    std::fs::File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn e(path: &str, kind: Kind) -> Entry {
        Entry {
            path: RelPath::new(path).unwrap(),
            meta: Meta {
                mode: 0o644,
                mtime: Mtime { secs: 1_700_000_000, nanos: 5 },
                ..Default::default()
            },
            kind,
        }
    }

    pub(crate) fn file(path: &str, content: &[u8]) -> Entry {
        e(path, Kind::File(crate::tree::chunk::digest_reader(content).unwrap()))
    }

    #[test]
    fn round_trip_and_validation() {
        let m = Manifest {
            generation: 7,
            entries: vec![
                e("d", Kind::Dir),
                file("d/f", b"hello"),
                e("d/l", Kind::Symlink(b"../x".to_vec())),
                file("e", &[]),
            ],
        };
        let bytes = m.encode();
        assert_eq!(Manifest::decode(&bytes).unwrap(), m);
        // Identified in one pass: the generation, and the hash of every byte of the file (a
        // damaged or cut file reads as generation 0 with its own hash).
        assert_eq!(identify(&bytes[..]).unwrap(), (7, ContentHash::of(&bytes)));
        let mut trailing = bytes.clone();
        trailing.extend_from_slice(&[0; 300_000]);
        assert_eq!(identify(&trailing[..]).unwrap(), (7, ContentHash::of(&trailing)));
        assert_eq!(identify(&bytes[..9]).unwrap(), (0, ContentHash::of(&bytes[..9])));
        // every truncation is an error, never a panic
        for n in 0..bytes.len() {
            assert!(Manifest::decode(&bytes[..n]).is_err(), "truncated at {n}");
        }
        let mut orphan = m.clone();
        orphan.entries.remove(0);
        assert!(Manifest::decode(&orphan.encode()).is_err());
        let mut dup = m.clone();
        dup.entries.insert(1, file("d/f", b"x"));
        assert!(Manifest::decode(&dup.encode()).is_err());
        let mut file_parent = m.clone();
        file_parent.entries[0].kind = Kind::File(FileDigest::empty());
        assert!(Manifest::decode(&file_parent.encode()).is_err());
    }

    #[test]
    fn the_body_hash_is_the_hash_of_the_body() {
        // Large enough that the body is written in several pieces.
        let entries = (0..5000)
            .map(|i| e(&format!("f{i:05}"), Kind::File(crate::tree::chunk::FileDigest::empty())))
            .collect();
        let m = Manifest { generation: 3, entries };
        let body = m.encode_body();
        assert!(body.len() > 3 * 64 * 1024, "{}", body.len());
        assert_eq!(m.body_hash(), ContentHash::of(&body));
        assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn wrong_version_says_so() {
        let mut bytes = Manifest::default().encode();
        bytes[8] = 9;
        let err = Manifest::decode(&bytes).unwrap_err().to_string();
        assert!(err.contains("version 9") && err.contains("upgrade tern"), "{err}");
        bytes[8] = 1;
        let err = Manifest::decode(&bytes).unwrap_err().to_string();
        assert!(err.contains("version 1 was written by an older tern"), "{err}");
    }

    fn x(name: &str, value: &[u8]) -> Xattr {
        Xattr { name: name.as_bytes().into(), value: value.into() }
    }

    #[test]
    fn xattrs_round_trip_and_sort_and_keep_the_last_of_a_name() {
        let xattrs = Xattrs::new(vec![x("user.b", b"1"), x("user.a", b""), x("user.b", b"2")]);
        let names: Vec<&[u8]> = xattrs.iter().map(|x| &*x.name).collect();
        assert_eq!(names, [b"user.a".as_slice(), b"user.b"]);
        assert_eq!(xattrs.get(b"user.b"), Some(b"2".as_slice()));
        let mut entry = tests::e("f", Kind::Dir);
        entry.meta.xattrs = xattrs;
        let m = Manifest { generation: 1, entries: vec![entry] };
        assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
        // A skip reads past them as far as a decode does.
        let body = m.encode_body();
        let mut r = Reader::new(&body);
        r.varint("generation").unwrap();
        r.varint("count").unwrap();
        skip_entry(&mut r).unwrap();
        assert!(r.is_empty());
    }

    #[test]
    fn changed_names_lists_added_removed_and_changed_values() {
        let old =
            Xattrs::new(vec![x("user.same", b"1"), x("user.gone", b""), x("user.edit", b"a")]);
        let new = Xattrs::new(vec![x("user.same", b"1"), x("user.edit", b"b"), x("user.new", b"")]);
        let names: Vec<&[u8]> = old.changed_names(&new);
        assert_eq!(names, [b"user.edit".as_slice(), b"user.gone", b"user.new"]);
        assert!(old.changed_names(&old).is_empty());
    }

    /// The mode's flag announces xattrs; a list that is empty, unsorted, repeated, or has a name
    /// without a namespace is refused.
    #[test]
    fn malformed_xattrs_are_refused() {
        let meta_with = |list: &[(&[u8], &[u8])], count: u64| {
            let mut w = Writer::new();
            w.varint(0o644 | XATTRS_FOLLOW);
            w.zigzag(0);
            w.varint(0);
            w.varint(0);
            w.varint(0);
            w.varint(count);
            for (n, v) in list {
                w.bytes(n);
                w.bytes(v);
            }
            w.buf
        };
        let decode = |b: Vec<u8>| decode_meta(&mut Reader::new(&b));
        let ok = decode(meta_with(&[(b"user.a", b"1"), (b"user.b", b"")], 2)).unwrap();
        assert_eq!(ok.mode, 0o644);
        assert_eq!(ok.xattrs.get(b"user.b"), Some(b"".as_slice()));
        for (list, count) in [
            (&[][..], 0),
            (&[(b"user.b".as_slice(), b"".as_slice()), (b"user.a", b"")][..], 2),
            (&[(b"user.a".as_slice(), b"".as_slice()), (b"user.a", b"")][..], 2),
            (&[(b"nodot".as_slice(), b"".as_slice())][..], 1),
            (&[(b"".as_slice(), b"".as_slice())][..], 1),
            (&[(b"user.a".as_slice(), b"".as_slice())][..], 2),
        ] {
            assert!(decode(meta_with(list, count)).is_err(), "{list:?} {count}");
        }
        assert!(decode(meta_with(&[(&[b'u'; 300], b"")], 1)).is_err(), "name over 255 bytes");
    }
}
