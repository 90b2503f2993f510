//! The `Transport` trait: the one interface between the core and a destination.
//!
//! A destination is anything that can hand out its manifest, take a lock, stage file contents
//! (from bytes sent to it, or from byte ranges it already holds) and commit a batch of operations
//! together with the new manifest. The core ([`crate::sync::transfer`]) drives this trait and never
//! learns whether it is talking to a local directory or to an agent at the far end of an SSH
//! connection ([`crate::remote::host`]).
//!
//! Staging is *pipelined*: `stage_*` calls report nothing per file, so a remote implementation can
//! stream them without a round trip. Outcomes arrive in one report from `finish_staging`.
//!
//! A two-way sync asks more of a destination, which is then a *replica*: scan its tree where
//! it is, keep small state files (its id, the base it shares with each peer), and hand out
//! ranges of its files ([`Transport::read_ranges`], read ahead in batches). [`FileSource`] is
//! where a transfer reads what it sends: a local source directory, or another replica
//! ([`ReplicaSource`]).
//!
//! The folder: [`local`] is a directory on this machine (the crash-safe writer, which the remote
//! agent uses too) and [`admin`] the maintenance requests (verify, trash, undo) and their
//! implementation over a local directory.

pub mod admin;
pub mod local;

use crate::plan::patch::Base;
use crate::transport::admin::{AdminOp, AdminResult};
use crate::tree::hash::ContentHash;
use crate::tree::manifest::{KindTag, ManifestFileError, Meta, Special};
use crate::tree::path::RelPath;
use crate::tree::scan::{Scan, ScanOptions};
use crate::tree::store::StoredManifest;

/// Announces one file to be staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageHeader {
    pub id: u64,
    pub size: u64,
    pub hash: ContentHash,
    pub meta: Meta,
}

/// What became of one staged file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    /// Staged, verified, durable.
    Ok,
    /// A range the destination was asked to reuse from this file did not match its hash (changed
    /// out of band, or gone): send the file's bytes instead, and repair that file too.
    ReuseFailed(RelPath),
    /// The assembled file does not have the announced size or hash: the source changed while it
    /// was read.
    Mismatch,
    /// The destination could not write it.
    Failed(String),
}

/// What became of the files staged since the last report. Almost every file is staged fine, so
/// those are runs of consecutive ids (a single run, for a sync where nothing went wrong), and
/// only the others are listed one by one: a report on 200,000 files is a few bytes, not a list
/// of 200,000 outcomes at each end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageReport {
    /// The ids staged fine, as runs `start..end`.
    pub ok: Vec<std::ops::Range<u64>>,
    /// The other ids, each with its outcome (never [`StageOutcome::Ok`]).
    pub other: Vec<(u64, StageOutcome)>,
}

impl StageReport {
    /// Record what became of staged file `id`.
    pub fn push(&mut self, id: u64, outcome: StageOutcome) {
        if outcome != StageOutcome::Ok {
            self.other.push((id, outcome));
            return;
        }
        match self.ok.last_mut() {
            Some(run) if run.end == id => run.end += 1,
            _ => self.ok.push(id..id.saturating_add(1)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ok.is_empty() && self.other.is_empty()
    }
}

impl FromIterator<(u64, StageOutcome)> for StageReport {
    fn from_iter<I: IntoIterator<Item = (u64, StageOutcome)>>(outcomes: I) -> Self {
        let mut report = StageReport::default();
        outcomes.into_iter().for_each(|(id, outcome)| report.push(id, outcome));
        report
    }
}

/// One operation of a commit, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOp {
    /// Move whatever is at the path (and below it) into this run's trash, if anything.
    Trash(RelPath),
    /// Make sure a directory exists at the path (its mode and mtime are set at the end).
    MkDir(RelPath),
    /// Put a symlink at the path, keeping any old entry there in the trash.
    Symlink { path: RelPath, link: Box<NewLink> },
    /// Move a staged file into place, keeping any old entry there in the trash.
    Place { path: RelPath, id: u64 },
    /// Put a FIFO or device file at the path, keeping any old entry there in the trash.
    Node { path: RelPath, node: Box<NewNode> },
    /// Make the path another name of the file at `first` (placed by an earlier operation or
    /// already there), keeping any old entry at the path in the trash.
    HardLink { path: RelPath, first: RelPath },
    /// Set mode and mtime of an existing entry.
    SetMeta { path: RelPath, meta: Box<Meta>, kind: KindTag },
}

/// The symlink a [`CommitOp::Symlink`] creates. Boxed, like [`CommitOp::SetMeta`]'s metadata,
/// so the common operations (a file placed, a directory made) stay 32 bytes each: a commit of a
/// large tree holds one per entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    pub target: Vec<u8>,
    pub meta: Meta,
}

/// The special file a [`CommitOp::Node`] creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNode {
    pub special: Special,
    pub meta: Meta,
}

impl CommitOp {
    pub fn path(&self) -> &RelPath {
        match self {
            CommitOp::Trash(p) | CommitOp::MkDir(p) => p,
            CommitOp::Symlink { path, .. }
            | CommitOp::Place { path, .. }
            | CommitOp::Node { path, .. }
            | CommitOp::HardLink { path, .. }
            | CommitOp::SetMeta { path, .. } => path,
        }
    }
}

/// A batch of operations and the manifest that describes the destination after them.
pub struct Commit<'a> {
    pub run_id: String,
    /// The operations, made as they are taken: a first sync of a large tree has one per entry,
    /// and none is held longer than it takes to apply or send it.
    pub ops: Box<dyn Iterator<Item = CommitOp> + 'a>,
    /// About how many `ops` gives: a change each (a replacement gives two, a dropped write
    /// none). It only places the crash tests' stop in the middle of a commit.
    pub op_count: usize,
    /// The manifest, read from the plan as it is stored or sent: a large one is never held
    /// decoded whole.
    pub manifest: &'a dyn crate::tree::store::EntrySource,
    /// The manifest the plan was made against, if the caller has it: a transport that sends
    /// deltas uses it as their base when it is still the destination's, instead of keeping a copy
    /// of its own from `read_manifest`.
    pub base: Option<&'a StoredManifest>,
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitReport {
    pub generation: u64,
    /// Entries moved to the trash (deleted or overwritten), top-level ones only.
    pub trashed: u64,
    /// Where this run's trash is, if anything went there.
    pub trash_dir: Option<String>,
    /// Entries found in the way (out-of-band changes) that were moved aside to repair the tree.
    pub repaired: u64,
    /// Extended attributes the destination could not keep (staged files and this commit's).
    pub unkept: crate::tree::meta::Unkept,
}

/// Why a destination operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(
        "destination {path} is locked by another tern run ({holder}); wait for it to finish, or \
         remove {path}/.tern/lock if no tern is running there"
    )]
    Locked { path: String, holder: String },
    #[error("destination {0} exists but is not a directory; give a directory path")]
    NotADirectory(String),
    #[error("a parent of destination {0} is a file, not a directory; check the path")]
    ParentNotADirectory(String),
    #[error(
        "destination parent {0} does not exist; create it first (tern creates only the last \
         path component)"
    )]
    MissingParent(String),
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] ManifestFileError),
    #[error("{0}")]
    Protocol(String),
    /// An error the remote agent reported.
    #[error("{message}")]
    Remote { message: String, transient: bool },
    #[error(
        "remote tern speaks protocol {theirs} (tern {their_version}), this tern speaks {ours} \
         (tern {our_version}); install the same tern version on both hosts"
    )]
    Version { ours: u32, theirs: u32, our_version: String, their_version: String },
    /// The way to the destination failed (for SSH: resolve, connect, host key, authenticate).
    #[error(transparent)]
    Unreachable(Unreachable),
    #[error("interrupted before the commit; the destination was not changed")]
    Interrupted,
    /// A symlink where tern keeps its own state (`.tern`, its lock, manifest, staging, trash).
    #[error(
        "{path} is a symlink where tern keeps its own state; nothing was written; remove it (tern \
         makes its own directories again) and check who can write into the destination"
    )]
    StateSymlink { path: String },
    /// The connection failed or dropped.
    #[error("connection to {host} failed")]
    Connection {
        host: String,
        #[source]
        source: std::io::Error,
    },
}

impl TransportError {
    /// The manifest at destination `dest` could not be decoded.
    pub(crate) fn corrupt_manifest(dest: &str, e: impl std::fmt::Display) -> Self {
        TransportError::Protocol(format!(
            "the manifest on {dest} is corrupt ({e}); move its .tern/manifest aside to rebuild the \
             destination from scratch"
        ))
    }

    /// The manifest of destination `dest` could not be read into a store: it is corrupt, or
    /// the temporary file its entries go to could not be written.
    pub(crate) fn reading_manifest(dest: &str, e: crate::tree::store::ReadError) -> Self {
        match e {
            crate::tree::store::ReadError::Decode(e) => TransportError::corrupt_manifest(dest, e),
            crate::tree::store::ReadError::Spool(e) => TransportError::io(
                "keep the destination's manifest in",
                crate::tree::store::temp_room(),
                e,
            ),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl std::fmt::Display,
        source: std::io::Error,
    ) -> Self {
        TransportError::Io { action, path: path.to_string(), source }
    }

    /// Whether trying again later may succeed (a held lock, a dropped connection).
    pub fn is_transient(&self) -> bool {
        match self {
            TransportError::Locked { .. } | TransportError::Connection { .. } => true,
            TransportError::Remote { transient, .. } => *transient,
            TransportError::Unreachable(u) => u.transient,
            TransportError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::Interrupted
            ),
            _ => false,
        }
    }
}

/// A destination that could not be reached, whichever way it is reached: the error of the way
/// in (an [`crate::remote::ssh::SshError`] today), and whether trying again may help. The core
/// sees only this, so no destination kind leaks into it.
#[derive(Debug)]
pub struct Unreachable {
    pub error: Box<dyn std::error::Error + Send + Sync>,
    pub transient: bool,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Unreachable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// Where the bytes a transfer sends come from: a source directory on this machine
/// ([`local::DirSource`]), or for a two-way sync the other replica ([`ReplicaSource`]).
pub trait FileSource {
    /// Whether files are worth announcing ahead ([`FileSource::announce`]) now: a remote
    /// source's are; a local one's cost nothing to open when they come (a replica finds out
    /// which it is at its first batch).
    fn reads_ahead(&self) -> bool {
        false
    }

    /// Say that `ranges` of `path` will be opened, in the order announced, so that a remote
    /// source can have them on their way. A local one needs nothing.
    fn announce(&mut self, path: &RelPath, ranges: &[(u64, u64)]) -> std::io::Result<()> {
        let _ = (path, ranges);
        Ok(())
    }

    /// `ranges` (offset, length) of the file at `path`, in order, as one stream. `sparse`: the
    /// file has holes, which a local source gives as zeros without reading them.
    fn open_ranges(
        &mut self,
        path: &RelPath,
        ranges: &[(u64, u64)],
        sparse: bool,
    ) -> std::io::Result<Box<dyn std::io::Read + '_>>;
}

/// A replica read as a [`FileSource`], with some paths read from another path of it: a
/// conflict copy of this replica's version is read where that version is now. Files announced
/// ahead are asked for in batches ([`Transport::ask_ranges`]) when the first of them is opened;
/// one opened out of turn first takes (and drops) the answers before it, so the connection
/// stays in step.
pub struct ReplicaSource<'t> {
    replica: &'t mut dyn Transport,
    /// (path to read, where the replica holds its bytes now).
    renamed: std::collections::HashMap<RelPath, RelPath>,
    /// Files announced and not yet asked for, in order, with their ranges.
    announced: std::collections::VecDeque<(RelPath, Vec<(u64, u64)>)>,
    /// Files asked for and not yet opened, oldest first.
    asked: std::collections::VecDeque<RelPath>,
    /// Whether the replica reads ahead at all.
    ahead: bool,
}

/// Most files asked for in one batch.
const BATCH: usize = 64;

impl<'t> ReplicaSource<'t> {
    pub fn new(
        replica: &'t mut dyn Transport,
        renamed: std::collections::HashMap<RelPath, RelPath>,
    ) -> Self {
        let (announced, asked) = Default::default();
        ReplicaSource { replica, renamed, announced, asked, ahead: true }
    }

    fn at<'p>(&'p self, path: &'p RelPath) -> &'p RelPath {
        self.renamed.get(path).unwrap_or(path)
    }

    /// Take and drop the answers to the first `n` files asked for.
    fn skip_asked(&mut self, n: usize) -> std::io::Result<()> {
        for _ in 0..n.min(self.asked.len()) {
            self.asked.pop_front();
            drop(self.replica.read_asked().map_err(std::io::Error::other)?);
        }
        Ok(())
    }

    /// Ask for the next batch of announced files. A replica that cannot take the batch is read
    /// a file at a time from now on.
    fn ask_batch(&mut self) -> std::io::Result<()> {
        let n = self.announced.len().min(BATCH);
        let batch: Vec<(RelPath, Vec<(u64, u64)>)> = self.announced.drain(..n).collect();
        let request: Vec<(RelPath, Vec<(u64, u64)>)> =
            batch.iter().map(|(p, r)| (self.at(p).clone(), r.clone())).collect();
        self.ahead = self.replica.ask_ranges(&request).unwrap_or(false);
        if self.ahead {
            self.asked.extend(batch.into_iter().map(|(p, _)| p));
        } else {
            self.announced.clear();
        }
        Ok(())
    }
}

impl Drop for ReplicaSource<'_> {
    fn drop(&mut self) {
        let _ = self.skip_asked(self.asked.len());
    }
}

impl FileSource for ReplicaSource<'_> {
    fn reads_ahead(&self) -> bool {
        self.ahead
    }

    fn announce(&mut self, path: &RelPath, ranges: &[(u64, u64)]) -> std::io::Result<()> {
        if self.ahead {
            self.announced.push_back((path.clone(), ranges.to_vec()));
        }
        Ok(())
    }

    fn open_ranges(
        &mut self,
        path: &RelPath,
        ranges: &[(u64, u64)],
        _sparse: bool,
    ) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        if !self.asked.contains(path) {
            // Files asked for before this one will not be opened in turn.
            self.skip_asked(self.asked.len())?;
            if let Some(i) = self.announced.iter().position(|(p, _)| p == path) {
                self.announced.drain(..i);
                self.ask_batch()?;
            }
        }
        match self.asked.iter().position(|p| p == path) {
            Some(i) => {
                self.skip_asked(i)?;
                self.asked.pop_front();
                self.replica.read_asked().map_err(std::io::Error::other)
            }
            None => {
                let at = self.at(path).clone();
                self.replica.read_ranges(&at, ranges).map_err(std::io::Error::other)
            }
        }
    }
}

/// A state file the caller holds a copy of: its name at the replica, the hash of its bytes,
/// and (being a two-way base) the manifest they decode to.
pub struct StateCopy<'a> {
    pub name: &'a str,
    pub hash: ContentHash,
    pub manifest: &'a crate::tree::manifest::Manifest,
}

/// Which manifest a destination holds: the hash of its manifest file, or `None` when it has none.
/// Equal identities are the same manifest (the file holds the generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestId(pub Option<crate::tree::hash::ContentHash>);

/// A destination tern can replicate into.
pub trait Transport {
    /// How to name this destination in messages.
    fn describe(&self) -> String;

    /// How this destination is reached, for summaries ("local", "ssh (remote tern agent)"...).
    fn mode(&self) -> &'static str {
        "local"
    }

    /// Whether [`CommitOp::HardLink`] works here; if not, a source with hard links cannot be
    /// replicated as one (the SFTP fallback has no request for it).
    fn makes_hard_links(&self) -> bool {
        true
    }

    /// Whether `stage_reuse` works here; if not, every file is sent whole.
    fn reuses_chunks(&self) -> bool {
        true
    }

    /// Bytes written to the network so far, where there is a network.
    fn wire_bytes(&self) -> Option<u64> {
        None
    }

    /// Take the exclusive write lock, creating the destination if needed. Held until drop.
    fn lock(&mut self) -> Result<(), TransportError>;

    /// Release the lock (nothing when it is not held), keeping the destination open for a next
    /// run on it, as `tern watch` makes one batch after another.
    fn unlock(&mut self) -> Result<(), TransportError>;

    /// The manifest of what tern last committed here, `None` for a fresh destination. Its
    /// entries are held compactly, in a temporary file once there are many.
    fn read_manifest(&mut self) -> Result<Option<StoredManifest>, TransportError>;

    /// Which manifest [`Transport::read_manifest`] last returned, where this destination can
    /// also tell which one it holds now without reading it whole ([`Transport::manifest_id`]).
    fn last_read_id(&self) -> Option<ManifestId> {
        None
    }

    /// Which manifest this destination holds now, without reading it whole; `None` where it
    /// cannot tell so (then only reading it again says whether it changed).
    fn manifest_id(&mut self) -> Result<Option<ManifestId>, TransportError> {
        Ok(None)
    }

    /// Start staging one file; followed by `stage_chunk`/`stage_reuse` calls and `stage_end`.
    fn stage_begin(&mut self, header: &StageHeader) -> Result<(), TransportError>;

    /// Append bytes sent from the source that are exactly one content-defined chunk of the new
    /// file: the destination hashes each chunk as it comes, and the file's hash is the hash of
    /// that list ([`crate::tree::hash`]), so the file is never read again to verify it.
    fn stage_chunk(&mut self, data: &[u8]) -> Result<(), TransportError>;

    /// Append `len` bytes at `offset` of the destination's file `from`. The range must start
    /// and end on chunk boundaries of `from`'s manifest entry; the destination verifies every chunk
    /// against that manifest before using it, and reports `ReuseFailed` if one does not match.
    fn stage_reuse(&mut self, from: &RelPath, offset: u64, len: u64) -> Result<(), TransportError>;

    /// Finish the current file: verify it and make it durable.
    fn stage_end(&mut self) -> Result<(), TransportError>;

    /// Told before staging: about this many content bytes follow (at most; deltas send less).
    /// A network destination fits its compression to it.
    fn expect_to_send(&mut self, bytes: u64) -> Result<(), TransportError> {
        let _ = bytes;
        Ok(())
    }

    /// Whether sub-chunk deltas pay here: bytes cross a network, so matching the changed chunks
    /// against block signatures of the old bytes ([`Transport::block_signatures`], then
    /// [`Transport::stage_delta`]) costs less than sending them. A local directory copies.
    fn takes_deltas(&self) -> bool {
        false
    }

    /// Old byte ranges whose signatures [`Transport::block_signatures`] will soon be asked for,
    /// told before the lock: a network destination asks for them with the lock, in its round
    /// trip. Nothing here.
    fn presign(&mut self, bases: Vec<Base>) {
        let _ = bases;
    }

    /// The block signature ([`crate::tree::blocks::sign`]) of each of these old byte ranges, in
    /// order: `None` for one that cannot be read or is larger than
    /// [`crate::tree::blocks::MAX_BASE`].
    fn block_signatures(&mut self, bases: &[Base]) -> Result<Vec<Option<Vec<u8>>>, TransportError> {
        Ok(vec![None; bases.len()])
    }

    /// Append one chunk of the new file: `len` bytes with chunk hash `hash`, rebuilt from the
    /// old bytes `base` (as signed) and `delta`. The destination checks the hash, and reports
    /// `ReuseFailed` (the file is then sent whole) where the chunk does not come out.
    fn stage_delta(
        &mut self,
        base: &Base,
        delta: &[u8],
        len: u32,
        hash: ContentHash,
    ) -> Result<(), TransportError> {
        let _ = (base, delta, len, hash);
        Err(TransportError::Protocol(format!("{} takes no sub-chunk deltas", self.describe())))
    }

    /// The outcome of every file staged since the last call.
    fn finish_staging(&mut self) -> Result<StageReport, TransportError>;

    /// Apply `commit.ops` in order, then store `commit.manifest` as the destination's manifest.
    /// Given by value so that each part can be freed as soon as it has been used.
    fn commit(&mut self, commit: Commit<'_>) -> Result<CommitReport, TransportError>;

    /// The replica's tree as it is now, scanned where it is (a two-way sync compares both
    /// replicas' trees with their last common manifest). `cache`: keep the hash cache of its
    /// files where it is (the default cache file for its path there; `opts.cache_file` is not
    /// used). The caller holds the lock.
    ///
    /// `since`: a state file this replica holds that the caller holds too (a two-way base): a
    /// replica that can compute the difference where it is sends only that, and the caller's
    /// copy completes it. Without, or where its copy differs, the whole tree comes.
    fn scan_tree(
        &mut self,
        opts: &ScanOptions,
        cache: bool,
        since: Option<&StateCopy<'_>>,
    ) -> Result<Scan, TransportError> {
        let _ = (opts, cache, since);
        Err(self.cannot("scan its tree for a two-way sync"))
    }

    /// Start [`Transport::scan_tree`] where the replica is, to be finished by calling it with
    /// the same arguments: two replicas scan at once. Nothing may be asked of this replica in
    /// between. A replica on this machine scans when it is finished.
    fn start_scan(
        &mut self,
        opts: &ScanOptions,
        cache: bool,
        since: Option<&StateCopy<'_>>,
    ) -> Result<(), TransportError> {
        let _ = (opts, cache, since);
        Ok(())
    }

    /// The SHA-256 of a state file's bytes (`None`: no such file): whether the caller's copy is
    /// the same, without reading the file over the network.
    fn state_hash(&mut self, name: &str) -> Result<Option<ContentHash>, TransportError> {
        Ok(self.read_state(name)?.map(|bytes| ContentHash::of(&bytes)))
    }

    /// Replace the state file `name`, whose bytes now hash to `old`, by applying `delta` (a
    /// [`crate::plan::delta::Delta`] between two manifests) to it: a two-way base changes by
    /// what the run changed, and only that need travel. `Ok(false)`: not done (this replica
    /// cannot, or its file is not `old`); the caller writes the whole file.
    fn write_state_delta(
        &mut self,
        name: &str,
        old: &ContentHash,
        delta: &[u8],
    ) -> Result<bool, TransportError> {
        let _ = (name, old, delta);
        Ok(false)
    }

    /// One of tern's small state files (`.tern/NAME`: a replica's id, a two-way base), `None`
    /// when there is none. `name` is lower-case letters, digits and `-`.
    fn read_state(&mut self, name: &str) -> Result<Option<Vec<u8>>, TransportError> {
        let _ = name;
        Err(self.cannot("keep a two-way sync's state"))
    }

    /// Replace a state file durably (written beside it, fsynced, renamed). Under the lock.
    fn write_state(&mut self, name: &str, data: &[u8]) -> Result<(), TransportError> {
        let _ = (name, data);
        Err(self.cannot("keep a two-way sync's state"))
    }

    /// The bytes of `ranges` (offset, length) of the replica's file `path`, one after another, as
    /// one stream: how a two-way sync reads what one replica sends the other. A range past the
    /// end of the file gives fewer bytes (the stager's hash check rejects the file).
    fn read_ranges(
        &mut self,
        path: &RelPath,
        ranges: &[(u64, u64)],
    ) -> Result<Box<dyn std::io::Read + '_>, TransportError> {
        let _ = (path, ranges);
        Err(self.cannot("send its files for a two-way sync"))
    }

    /// Ask for ranges of several files at once, without waiting for them, so that a transfer
    /// has the next files on their way while it sends one; the answers come in the order asked,
    /// each taken with [`Transport::read_asked`], and nothing else may be asked of this replica
    /// until all are taken. `Ok(false)`: this replica does not read ahead (a local directory),
    /// and [`Transport::read_ranges`] serves each file when it comes.
    fn ask_ranges(&mut self, files: &[(RelPath, Vec<(u64, u64)>)]) -> Result<bool, TransportError> {
        let _ = files;
        Ok(false)
    }

    /// The answer to the oldest [`Transport::ask_ranges`] not yet taken.
    fn read_asked(&mut self) -> Result<Box<dyn std::io::Read + '_>, TransportError> {
        Err(TransportError::Protocol(format!("{} has no file asked for", self.describe())))
    }

    /// An error saying this destination cannot `what`.
    fn cannot(&self, what: &str) -> TransportError {
        TransportError::Protocol(format!(
            "{} cannot {what} over {}; install tern on the host",
            self.describe(),
            self.mode()
        ))
    }

    /// Verify, list or purge the trash, undo: maintenance done where the files are.
    fn admin(&mut self, op: &AdminOp) -> Result<AdminResult, TransportError> {
        let _ = op;
        Err(TransportError::Protocol(format!(
            "{} cannot do that over {}; install tern on the destination host",
            self.describe(),
            self.mode()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::store::ReadError;

    /// A manifest that cannot be read into a store says why in one line: corrupt, with what to
    /// do about the file; or no room for its entries, with what to do about `TMPDIR`.
    #[test]
    fn a_manifest_that_cannot_be_read_into_a_store_says_what_to_do() {
        let corrupt =
            ReadError::Decode(crate::tree::codec::DecodeError::invalid("manifest", "bad"));
        let corrupt = TransportError::reading_manifest("host:/d", corrupt).to_string();
        assert!(corrupt.contains("host:/d") && corrupt.contains("move its .tern/manifest aside"));
        let full = ReadError::Spool(std::io::Error::from(std::io::ErrorKind::StorageFull));
        let full = TransportError::reading_manifest("host:/d", full);
        let said = format!("{full}: {}", std::error::Error::source(&full).unwrap());
        assert!(said.contains("temporary file") && said.contains("set TMPDIR"), "{said}");
        assert!(!said.contains('\n'), "{said}");
    }
}
