//! The client side of the protocol: a [`Transport`] that drives a remote agent over any pair of
//! byte streams (an SSH channel in production, pipes in tests).

use super::protocol::{MAX_DATA, PROTOCOL_VERSION, Request, Response};
use super::wire::{Counted, Wire};
use crate::plan::patch::Base;
use crate::transport::admin::{AdminOp, AdminResult};
use crate::transport::{
    Commit, CommitOp, CommitReport, ManifestId, StageHeader, StageReport, Transport, TransportError,
};
use crate::tree::hash::ContentHash;
use crate::tree::manifest::{Entry, Manifest, write_replacing_with};
use crate::tree::path::RelPath;
use crate::tree::store::{EntrySource, StoredManifest};
use std::cell::Cell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::rc::Rc;

/// Ops per `CommitOps` frame: small enough that a frame stays far below the limit even with
/// maximal paths (8 KiB per op at most).
const OPS_PER_FRAME: usize = 1024;

/// A remote agent, seen as a destination.
pub struct RemoteClient<'a> {
    wire: Wire<'a>,
    name: String,
    /// Where to keep a copy of the remote manifest, so an unchanged one is not fetched again.
    cache_file: Option<PathBuf>,
    /// Bytes written to the peer (after compression).
    sent: Rc<Cell<u64>>,
    /// The body hash of the destination's manifest as last read or committed (of an empty one
    /// if it had none): what a commit's base must be to serve as its delta's.
    base_hash: Option<ContentHash>,
    /// Which manifest `read_manifest` last returned (the hash of its file), when that is sure.
    last_read: Option<ManifestId>,
    /// A scan was asked for and its answer is still to be read.
    scanning: bool,
    /// The compression level is fitted to each run's payload (no `--compress-level`).
    fit_level: bool,
    /// The manifest's identity as the agent told it right after taking the lock, until asked.
    locked_id: Option<ManifestId>,
    /// The `ManifestInfo` sent with the hello is still to be answered: read by the first
    /// `manifest_info`, or read and dropped before any other request.
    early_info: bool,
    /// Old bytes to sign, asked for with the next lock ([`Transport::presign`]).
    presign: Vec<Base>,
    /// Their signatures, until `block_signatures` takes them or the next commit or unlock.
    presigned: HashMap<Base, Option<Vec<u8>>>,
}

impl<'a> RemoteClient<'a> {
    /// Say hello and agree on compression (`compress_level`: a fixed level, or `None` to fit
    /// it to each run). `Ok(None)` when the peer closed without a word (no agent there).
    pub fn handshake(
        r: impl Read + 'a,
        w: impl Write + 'a,
        name: String,
        compress_level: Option<i32>,
        cache_file: Option<PathBuf>,
        bwlimit: Option<u64>,
    ) -> Result<Option<Self>, TransportError> {
        let fit_level = compress_level.is_none();
        let compress_level = compress_level.unwrap_or(super::wire::DEFAULT_LEVEL);
        let sent = Rc::new(Cell::new(0));
        let limit = bwlimit.map(|rate| (rate, std::time::Instant::now()));
        let mut wire = Wire::plain(r, Counted { inner: w, count: sent.clone(), limit });
        let io = |e| TransportError::Connection { host: name.clone(), source: e };
        let hello = Request::Hello {
            version: PROTOCOL_VERSION,
            tern: env!("CARGO_PKG_VERSION").into(),
            compress_level,
        };
        // The first question of every run (which manifest the destination holds) goes with the
        // hello, compressed as the agent will read it once it has answered: a round trip less.
        // A peer that is not a tern agent may close before reading; that is "no agent" too.
        let sent_hello = wire.send(&hello.encode());
        let Ok(mut wire) = sent_hello.and_then(|()| wire.compressing_early(compress_level)) else {
            return Ok(None);
        };
        if wire.send(&Request::ManifestInfo.encode()).and_then(|()| wire.flush()).is_err() {
            return Ok(None);
        }
        let not_tern = || {
            TransportError::Protocol(format!(
                "the remote command on {name} did not answer as a tern agent; check --remote-tern, \
                 and that the remote shell prints nothing at login"
            ))
        };
        let body = match wire.recv() {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Err(not_tern()),
            Err(e) => return Err(io(e)),
        };
        match Response::decode(&body) {
            Ok(Response::Hello { version, .. }) if version == PROTOCOL_VERSION => {}
            Ok(Response::Hello { version, tern }) => {
                return Err(TransportError::Version {
                    ours: PROTOCOL_VERSION,
                    theirs: version,
                    our_version: env!("CARGO_PKG_VERSION").into(),
                    their_version: tern,
                });
            }
            _ => return Err(not_tern()),
        }
        let wire = match compress_level {
            0 => wire,
            _ => wire.decompressing().map_err(io)?,
        };
        Ok(Some(RemoteClient {
            wire,
            name,
            cache_file,
            sent,
            base_hash: None,
            last_read: None,
            scanning: false,
            fit_level,
            locked_id: None,
            early_info: true,
            presign: Vec::new(),
            presigned: HashMap::new(),
        }))
    }

    /// Bytes written to the peer so far, as they went on the wire.
    pub fn bytes_written(&self) -> u64 {
        self.sent.get()
    }

    fn send(&mut self, req: &Request) -> Result<(), TransportError> {
        // Its answer, even an error, is not this request's: read past it.
        if std::mem::take(&mut self.early_info) {
            self.wire.recv().map_err(|e| self.io(e))?;
        }
        self.wire.send(&req.encode()).map_err(|e| self.io(e))
    }

    fn io(&self, e: std::io::Error) -> TransportError {
        TransportError::Connection { host: self.name.clone(), source: e }
    }

    /// Send `req`, flush, and read the answer; an agent error becomes a `TransportError`.
    fn ask(&mut self, req: &Request) -> Result<Response, TransportError> {
        self.send(req)?;
        self.wire.flush().map_err(|e| self.io(e))?;
        self.answer()
    }

    fn answer(&mut self) -> Result<Response, TransportError> {
        let body = match self.wire.recv() {
            Ok(Some(b)) => b,
            Ok(None) => {
                let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "agent hung up");
                return Err(self.io(eof));
            }
            Err(e) => return Err(self.io(e)),
        };
        match Response::decode(&body) {
            Ok(Response::Error { transient, message }) => {
                Err(TransportError::Remote { message, transient })
            }
            Ok(r) => Ok(r),
            Err(e) => Err(TransportError::Protocol(format!("{} sent a bad reply: {e}", self.name))),
        }
    }

    fn unexpected(&self, r: &Response) -> TransportError {
        TransportError::Protocol(format!("{} sent an unexpected reply: {r:?}", self.name))
    }

    /// Say goodbye so the agent exits cleanly.
    pub fn bye(&mut self) {
        let _ = self.send(&Request::Bye);
        let _ = self.wire.flush();
    }

    /// The destination's manifest (`None`: it has none yet), with the hash of its body and
    /// (unless it changed between the two requests this takes) which manifest it is; from the
    /// local copy when the destination's has not changed.
    fn fetch_manifest(&mut self) -> Result<Fetched, TransportError> {
        let hash = match self.manifest_info()? {
            ManifestId(None) => {
                return Ok((None, Manifest::default().body_hash(), Some(ManifestId(None))));
            }
            ManifestId(Some(hash)) => hash,
        };
        if let Some((m, body_hash)) = self.cached_manifest(&hash) {
            return Ok((Some(m), body_hash, Some(ManifestId(Some(hash)))));
        }
        self.send(&Request::ReadManifest)?;
        self.wire.flush().map_err(|e| self.io(e))?;
        // Decoded as the parts arrive, hashed, and copied to a temporary file beside the local
        // copy: the client never holds the file's bytes, only what they decode to.
        let copy = self.cache_file.as_deref().and_then(start_copy);
        let mut parts = crate::tree::hash::HashReader::new(DataParts {
            client: &mut *self,
            part: Vec::new(),
            at: 0,
            ended: false,
            failed: None,
            copy: copy.map(std::io::BufWriter::new),
        });
        let decoded = StoredManifest::read_file(&mut parts);
        // The rest of the file (all of it, after a decoding error), to keep the connection in
        // step and the copy and the hash whole.
        let drained = std::io::copy(&mut parts, &mut std::io::sink());
        let (DataParts { failed, copy, .. }, file_hash) = parts.into_parts();
        if let Some(e) = failed {
            return Err(e);
        }
        drained.map_err(|e| self.io(e))?;
        let (manifest, body_hash) =
            decoded.map_err(|e| TransportError::reading_manifest(&self.name, e))?;
        // Committed to between the two requests: what was read is not the one announced.
        let id = (file_hash == hash).then_some(ManifestId(Some(hash)));
        if let (Some(copy), Some(path), Some(_)) = (copy, &self.cache_file, id) {
            // A local copy is a saving, never a condition: one that cannot be kept is dropped.
            let _ = copy
                .into_inner()
                .map_err(|e| e.into_error())
                .and_then(|tmp| tmp.persist(path).map(drop).map_err(|e| e.error));
        }
        Ok((Some(manifest), body_hash, id))
    }

    /// Which manifest the destination holds: the hash of its file, as the agent announces it.
    fn manifest_info(&mut self) -> Result<ManifestId, TransportError> {
        let answer = match std::mem::take(&mut self.early_info) {
            true => self.answer()?,
            false => self.ask(&Request::ManifestInfo)?,
        };
        match answer {
            Response::ManifestInfo(info) => Ok(ManifestId(info.map(|(_, hash)| hash))),
            r => Err(self.unexpected(&r)),
        }
    }

    /// Keep a copy of the destination's manifest, written as `write` makes it. Not durable: a
    /// torn copy does not match the hash the destination announces, and is fetched again.
    fn keep_cache(&self, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
        if let Some(f) = &self.cache_file {
            if let Some(dir) = f.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = write_replacing_with(f, false, write);
        }
    }

    /// The local copy of the destination's manifest, if it is the one whose file hash is
    /// `hash` (decoded as it is read, then kept only if the whole file had that hash).
    fn cached_manifest(&self, hash: &ContentHash) -> Option<(StoredManifest, ContentHash)> {
        let (m, file_hash) = StoredManifest::load_identified(self.cache_file.as_ref()?).ok()??;
        (file_hash == *hash).then(|| {
            let body_hash = m.body_hash();
            (m, body_hash)
        })
    }
}

/// A temporary file beside the local copy of the destination's manifest at `path`, to write the
/// next copy to (none if it cannot be made: the copy is only a saving).
fn start_copy(path: &std::path::Path) -> Option<tempfile::NamedTempFile> {
    std::fs::create_dir_all(path.parent()?).ok()?;
    crate::tree::manifest::temp_beside(path).ok()
}

/// The `Data` parts of an answer, up to its `DataEnd`, read as one stream; each part is copied
/// to `copy` as it arrives (a copy that fails to write is dropped). A failed or unexpected
/// answer ends the stream with an error and is kept in `failed`, to be returned as it is.
struct DataParts<'c, 'a> {
    client: &'c mut RemoteClient<'a>,
    part: Vec<u8>,
    at: usize,
    ended: bool,
    failed: Option<TransportError>,
    copy: Option<std::io::BufWriter<tempfile::NamedTempFile>>,
}

impl DataParts<'_, '_> {
    /// Keep `e` for the caller; the stream ends with an error that stands for it.
    fn fail(&mut self, e: TransportError) -> std::io::Error {
        self.failed = Some(e);
        std::io::Error::other("the manifest's transfer failed")
    }
}

impl Read for DataParts<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.part.len() {
            if self.ended || self.failed.is_some() {
                return Ok(0);
            }
            match self.client.answer() {
                Ok(Response::Data(d)) => {
                    if let Some(copy) = &mut self.copy
                        && copy.write_all(&d).is_err()
                    {
                        self.copy = None;
                    }
                    (self.part, self.at) = (d, 0);
                }
                Ok(Response::DataEnd) => self.ended = true,
                Ok(r) => return Err(self.fail(self.client.unexpected(&r))),
                Err(e) => return Err(self.fail(e)),
            }
        }
        let n = buf.len().min(self.part.len() - self.at);
        buf[..n].copy_from_slice(&self.part[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl<'a> RemoteClient<'a> {
    /// One `Signatures` request: a `Data` answer for each base (empty: none), then `DataEnd`.
    fn ask_signatures(
        &mut self,
        bases: &[Base],
        out: &mut Vec<Option<Vec<u8>>>,
    ) -> Result<(), TransportError> {
        self.send(&Request::Signatures(bases.to_vec()))?;
        self.wire.flush().map_err(|e| self.io(e))?;
        self.read_signatures(bases.len(), out)
    }

    /// The answers to a `Signatures` request for `n` bases, appended to `out`.
    fn read_signatures(
        &mut self,
        n: usize,
        out: &mut Vec<Option<Vec<u8>>>,
    ) -> Result<(), TransportError> {
        let wanted = out.len() + n;
        loop {
            match self.answer()? {
                Response::Data(d) if out.len() < wanted => out.push((!d.is_empty()).then_some(d)),
                Response::DataEnd if out.len() == wanted => return Ok(()),
                r => return Err(self.unexpected(&r)),
            }
        }
    }

    /// The `Data` parts of the answer to the request just sent, as one stream.
    fn data_parts(&mut self) -> DataParts<'_, 'a> {
        DataParts { client: self, part: Vec::new(), at: 0, ended: false, failed: None, copy: None }
    }
}

/// The bytes of a file the agent sends (`ReadFile`), read as they arrive. Dropped before its
/// end, it reads the rest, so the connection stays in step with the agent; an error the agent
/// sends in place of the end is the stream's error, with its message.
struct FileParts<'c, 'a>(DataParts<'c, 'a>);

impl Read for FileParts<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| match &self.0.failed {
            Some(failed) => std::io::Error::other(failed.to_string()),
            None => e,
        })
    }
}

impl Drop for FileParts<'_, '_> {
    fn drop(&mut self) {
        let _ = std::io::copy(&mut self.0, &mut std::io::sink());
    }
}

impl Transport for RemoteClient<'_> {
    fn start_scan(
        &mut self,
        opts: &crate::tree::scan::ScanOptions,
        cache: bool,
        since: Option<&crate::transport::StateCopy<'_>>,
    ) -> Result<(), TransportError> {
        let q = super::protocol::ScanRequest {
            checksum: opts.checksum,
            no_xattrs: opts.no_xattrs,
            one_file_system: opts.one_file_system,
            cache,
            excludes: opts.excludes.patterns().to_vec(),
            since: since.map(|c| (c.name.to_string(), c.hash)),
        };
        self.send(&Request::Scan(q))?;
        self.wire.flush().map_err(|e| self.io(e))?;
        self.scanning = true;
        Ok(())
    }

    fn scan_tree(
        &mut self,
        opts: &crate::tree::scan::ScanOptions,
        cache: bool,
        since: Option<&crate::transport::StateCopy<'_>>,
    ) -> Result<crate::tree::scan::Scan, TransportError> {
        if !self.scanning {
            self.start_scan(opts, cache, since)?;
        }
        self.scanning = false;
        let header = match self.answer()? {
            Response::Json(j) => j,
            r => return Err(self.unexpected(&r)),
        };
        #[derive(serde::Deserialize)]
        struct Header {
            issues: Vec<(Vec<u8>, String)>,
            delta: bool,
        }
        let header: Header = serde_json::from_str(&header).map_err(|e| {
            TransportError::Protocol(format!("{} sent a bad scan header: {e}", self.name))
        })?;
        let mut bytes = Vec::new();
        let mut parts = self.data_parts();
        let read = parts.read_to_end(&mut bytes);
        if let Some(e) = parts.failed.take() {
            return Err(e);
        }
        read.map_err(|e| self.io(e))?;
        let bad = |e: String| {
            TransportError::Protocol(format!("{} sent a scan that cannot be read: {e}", self.name))
        };
        let manifest = match (header.delta, since) {
            (true, Some(copy)) => {
                let delta =
                    crate::plan::delta::Delta::decode(&bytes).map_err(|e| bad(e.to_string()))?;
                let now =
                    delta.apply(copy.manifest.clone(), |_| None).map_err(|e| bad(e.to_string()))?;
                crate::tree::store::EntryStore::from(&now)
            }
            (true, None) => return Err(bad("a delta from nothing".into())),
            (false, _) => {
                StoredManifest::read_file(&bytes[..])
                    .map_err(|e| TransportError::reading_manifest(&self.name, e))?
                    .0
                    .entries
            }
        };
        let issues = header
            .issues
            .into_iter()
            .filter_map(|(path, message)| {
                let path = RelPath::new(path).ok()?;
                Some(crate::tree::scan::ScanIssue { path, message })
            })
            .collect();
        Ok(crate::tree::scan::Scan { manifest, issues, stats: Default::default() })
    }

    fn state_hash(&mut self, name: &str) -> Result<Option<ContentHash>, TransportError> {
        match self.ask(&Request::StateHash(name.to_string()))? {
            Response::ManifestInfo(info) => Ok(info.map(|(_, hash)| hash)),
            r => Err(self.unexpected(&r)),
        }
    }

    fn write_state_delta(
        &mut self,
        name: &str,
        old: &ContentHash,
        delta: &[u8],
    ) -> Result<bool, TransportError> {
        for part in delta.chunks(MAX_DATA) {
            self.send(&Request::StatePart(part.to_vec()))?;
        }
        match self.ask(&Request::WriteStateDelta { name: name.to_string(), old: *old })? {
            Response::Ok => Ok(true),
            Response::DataEnd => Ok(false),
            r => Err(self.unexpected(&r)),
        }
    }

    fn read_state(&mut self, name: &str) -> Result<Option<Vec<u8>>, TransportError> {
        self.send(&Request::ReadState(name.to_string()))?;
        self.wire.flush().map_err(|e| self.io(e))?;
        let mut parts = self.data_parts();
        // `Ok` in place of the parts: there is no such file.
        match parts.client.answer()? {
            Response::Ok => return Ok(None),
            Response::Data(d) => parts.part = d,
            Response::DataEnd => parts.ended = true,
            r => return Err(parts.client.unexpected(&r)),
        }
        let mut bytes = Vec::new();
        let read = parts.read_to_end(&mut bytes);
        if let Some(e) = parts.failed.take() {
            return Err(e);
        }
        read.map_err(|e| self.io(e))?;
        Ok(Some(bytes))
    }

    fn write_state(&mut self, name: &str, data: &[u8]) -> Result<(), TransportError> {
        for part in data.chunks(MAX_DATA) {
            self.send(&Request::StatePart(part.to_vec()))?;
        }
        match self.ask(&Request::WriteState(name.to_string()))? {
            Response::Ok => Ok(()),
            r => Err(self.unexpected(&r)),
        }
    }

    fn read_ranges(
        &mut self,
        path: &RelPath,
        ranges: &[(u64, u64)],
    ) -> Result<Box<dyn Read + '_>, TransportError> {
        self.ask_ranges(&[(path.clone(), ranges.to_vec())])?;
        self.read_asked()
    }

    fn ask_ranges(&mut self, files: &[(RelPath, Vec<(u64, u64)>)]) -> Result<bool, TransportError> {
        // Ranges that follow each other are asked for as one.
        let merged: Vec<(RelPath, Vec<(u64, u64)>)> = files
            .iter()
            .map(|(path, ranges)| {
                let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
                for &(offset, len) in ranges {
                    match merged.last_mut() {
                        Some(last) if last.0 + last.1 == offset => last.1 += len,
                        _ => merged.push((offset, len)),
                    }
                }
                (path.clone(), merged)
            })
            .collect();
        let ranges: usize = merged.iter().map(|(_, r)| r.len()).sum();
        if ranges > super::protocol::MAX_RANGES || merged.len() > super::protocol::MAX_READ_FILES {
            let first = files.first().map(|(p, _)| p.display().to_string()).unwrap_or_default();
            return Err(TransportError::Protocol(format!(
                "{}: too many ranges to read at once ({ranges}, from {first} on)",
                self.name
            )));
        }
        self.send(&Request::ReadFiles(merged))?;
        self.wire.flush().map_err(|e| self.io(e))?;
        Ok(true)
    }

    fn read_asked(&mut self) -> Result<Box<dyn Read + '_>, TransportError> {
        Ok(Box::new(FileParts(self.data_parts())))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn mode(&self) -> &'static str {
        "tern agent"
    }

    fn wire_bytes(&self) -> Option<u64> {
        Some(self.bytes_written())
    }

    fn lock(&mut self) -> Result<(), TransportError> {
        // The manifest's identity under the lock is what a sync asks next (did another run
        // commit since it planned?): asked with the lock, it costs no round trip of its own. Both
        // answers are small, so the agent never waits on this end to read the first.
        // The signatures the transfer will ask for first come in the same round trip; they are
        // answered after the two small answers, and read whole before anything else is sent.
        self.locked_id = None;
        self.presigned.clear();
        let presign = std::mem::take(&mut self.presign);
        self.send(&Request::Lock)?;
        self.send(&Request::ManifestInfo)?;
        if !presign.is_empty() {
            self.send(&Request::Signatures(presign.clone()))?;
        }
        self.wire.flush().map_err(|e| self.io(e))?;
        let (locked, info) = (self.answer(), self.answer());
        if !presign.is_empty() {
            let mut signed = Vec::with_capacity(presign.len());
            self.read_signatures(presign.len(), &mut signed)?;
            self.presigned = presign.into_iter().zip(signed).collect();
        }
        match locked? {
            Response::Ok => {}
            r => return Err(self.unexpected(&r)),
        }
        match info? {
            Response::ManifestInfo(info) => {
                self.locked_id = Some(ManifestId(info.map(|(_, hash)| hash)));
                Ok(())
            }
            r => Err(self.unexpected(&r)),
        }
    }

    fn unlock(&mut self) -> Result<(), TransportError> {
        self.locked_id = None;
        self.presigned.clear();
        match self.ask(&Request::Unlock)? {
            Response::Ok => Ok(()),
            r => Err(self.unexpected(&r)),
        }
    }

    fn read_manifest(&mut self) -> Result<Option<StoredManifest>, TransportError> {
        let (m, body_hash, id) = self.fetch_manifest()?;
        self.base_hash = Some(body_hash);
        self.last_read = id;
        Ok(m)
    }

    fn last_read_id(&self) -> Option<ManifestId> {
        self.last_read
    }

    fn manifest_id(&mut self) -> Result<Option<ManifestId>, TransportError> {
        // Right after the lock the agent has said it; nothing can commit there in between.
        match self.locked_id.take() {
            Some(id) => Ok(Some(id)),
            None => self.manifest_info().map(Some),
        }
    }

    fn stage_begin(&mut self, header: &StageHeader) -> Result<(), TransportError> {
        self.send(&Request::StageBegin(header.clone()))
    }

    fn stage_chunk(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.send(&Request::StageChunk(data.to_vec()))
    }

    fn stage_reuse(&mut self, from: &RelPath, offset: u64, len: u64) -> Result<(), TransportError> {
        self.send(&Request::StageReuse { from: from.clone(), offset, len })
    }

    fn stage_end(&mut self) -> Result<(), TransportError> {
        self.send(&Request::StageEnd)
    }

    fn takes_deltas(&self) -> bool {
        true
    }

    fn expect_to_send(&mut self, bytes: u64) -> Result<(), TransportError> {
        // A run that sends no content (metadata, deletions) keeps the level it has: a new level
        // is a new frame and a new context, for nothing.
        if self.fit_level && bytes > 0 {
            let level = super::wire::level_for(bytes);
            self.wire.set_level(level).map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn presign(&mut self, bases: Vec<Base>) {
        let mut bases = bases;
        bases.truncate(super::protocol::MAX_SIGNATURES);
        self.presign = bases;
    }

    fn block_signatures(&mut self, bases: &[Base]) -> Result<Vec<Option<Vec<u8>>>, TransportError> {
        // Those that came with the lock, then one request per batch for the others.
        let mut all: Vec<Option<Option<Vec<u8>>>> =
            bases.iter().map(|b| self.presigned.remove(b)).collect();
        let missing: Vec<Base> =
            bases.iter().zip(&all).filter(|(_, s)| s.is_none()).map(|(b, _)| b.clone()).collect();
        let mut asked = Vec::with_capacity(missing.len());
        for batch in missing.chunks(super::protocol::MAX_SIGNATURES) {
            self.ask_signatures(batch, &mut asked)?;
        }
        let mut asked = asked.into_iter();
        for slot in all.iter_mut().filter(|s| s.is_none()) {
            *slot = Some(asked.next().flatten());
        }
        Ok(all.into_iter().map(Option::flatten).collect())
    }

    fn stage_delta(
        &mut self,
        base: &Base,
        delta: &[u8],
        len: u32,
        hash: ContentHash,
    ) -> Result<(), TransportError> {
        self.send(&Request::StageDelta { base: base.clone(), len, hash, delta: delta.to_vec() })
    }

    fn finish_staging(&mut self) -> Result<StageReport, TransportError> {
        match self.ask(&Request::FinishStaging)? {
            Response::Outcomes(o) => Ok(o),
            r => Err(self.unexpected(&r)),
        }
    }

    fn admin(&mut self, op: &AdminOp) -> Result<AdminResult, TransportError> {
        let json =
            serde_json::to_string(op).map_err(|e| TransportError::Protocol(e.to_string()))?;
        match self.ask(&Request::Admin(json))? {
            Response::Json(j) => serde_json::from_str(&j).map_err(|e| {
                TransportError::Protocol(format!(
                    "{} sent a bad maintenance answer: {e}",
                    self.name
                ))
            }),
            r => Err(self.unexpected(&r)),
        }
    }

    fn commit(&mut self, commit: Commit<'_>) -> Result<CommitReport, TransportError> {
        self.locked_id = None;
        self.presigned.clear();
        let Commit { run_id, ops, manifest, base, .. } = commit;
        // Only what changed travels; files of several chunks just staged go by reference to
        // their staged copy, without their chunk lists.
        let mut listed = ChunkListed::new(manifest);
        let mut staged: Vec<(RelPath, u64)> = Vec::new();
        let mut batch = Vec::with_capacity(OPS_PER_FRAME);
        for op in ops {
            if let CommitOp::Place { path, id } = &op
                && listed.at(path)
            {
                staged.push((path.clone(), *id));
            }
            batch.push(op);
            if batch.len() == OPS_PER_FRAME {
                self.send(&Request::CommitOps(std::mem::take(&mut batch)))?;
            }
        }
        if !batch.is_empty() {
            self.send(&Request::CommitOps(batch))?;
        }
        // Its reader (and the entry it holds) goes before the delta's two readers start.
        drop(listed);
        crate::util::sorted::sort_keep_last(&mut staged, |a, b| a.0.cmp(&b.0));
        let staged_id =
            |p: &RelPath| staged.binary_search_by(|(s, _)| s.cmp(p)).ok().map(|i| staged[i].1);
        // The delta's base is what the destination holds: the plan's, when it still is (not when
        // entries found wrong were taken out of it), else read again.
        let fetched;
        let base = match base {
            Some(b) if self.base_hash == Some(b.body_hash()) => b,
            _ => {
                fetched = self.fetch_manifest()?.0.unwrap_or_default();
                &fetched
            }
        };
        let next_hash =
            crate::plan::delta::encode_between(base, manifest, staged_id, DELTA_PART, |part| {
                self.send(&Request::CommitDelta(part))
            })?;
        drop(staged);
        let report = match self.ask(&Request::Commit { run_id })? {
            Response::Committed(r) => r,
            r => return Err(self.unexpected(&r)),
        };
        // The manifest just committed is what the next run will find there.
        self.base_hash = Some(next_hash);
        if self.cache_file.is_some() {
            self.keep_cache(|w| manifest.write_to(w));
        }
        Ok(report)
    }
}

/// A manifest as fetched: itself (`None`: there is none), the hash of its body, and which
/// manifest it is, when that is sure.
type Fetched = (Option<StoredManifest>, ContentHash, Option<ManifestId>);

/// Whether files of a manifest list their chunks (have more than one), asked in path order (as
/// a commit places its files; a path out of order reads the manifest again from its start).
struct ChunkListed<'m> {
    manifest: &'m dyn EntrySource,
    entries: std::iter::Peekable<Box<dyn Iterator<Item = std::borrow::Cow<'m, Entry>> + 'm>>,
    last: Option<RelPath>,
}

impl<'m> ChunkListed<'m> {
    fn new(manifest: &'m dyn EntrySource) -> Self {
        ChunkListed { manifest, entries: manifest.entries().peekable(), last: None }
    }

    fn at(&mut self, path: &RelPath) -> bool {
        if self.last.as_ref().is_some_and(|last| last > path) {
            self.entries = self.manifest.entries().peekable();
        }
        self.last = Some(path.clone());
        while self.entries.next_if(|e| e.path < *path).is_some() {}
        let listed = |e: &Entry| e.digest().is_some_and(|d| !d.stored_chunks().is_empty());
        self.entries.peek().is_some_and(|e| e.path == *path && listed(e))
    }
}

/// Bytes of manifest delta per frame.
const DELTA_PART: usize = 256 << 10;
const _: () = assert!(DELTA_PART <= MAX_DATA);

// An op carries at most two 4 KiB paths, so a full batch stays far below the frame limit.
const _: () = assert!(OPS_PER_FRAME * 9 * 1024 < super::protocol::MAX_FRAME);

#[cfg(test)]
mod tests {
    use super::*;

    /// Files placed in path order are looked up by reading the manifest along; one out of
    /// order (a repair, placed last) reads it again from the start.
    #[test]
    fn chunk_lists_are_found_in_path_order_and_out_of_it() {
        use crate::tree::manifest::tests::file;
        let big = crate::tree::chunk::tests::noise(4, 300_000);
        let m = Manifest {
            generation: 1,
            entries: vec![file("a", b"1"), file("b", &big), file("c", b"3"), file("d", &big)],
        };
        let p = |s: &str| RelPath::new(s).unwrap();
        let mut listed = ChunkListed::new(&m);
        let asked = ["a", "b", "c", "d", "b", "zz", "a"].map(|s| listed.at(&p(s)));
        assert_eq!(asked, [false, true, false, true, true, false, false]);
    }
    use crate::plan::{PlanOptions, plan};
    use crate::sync::transfer::apply;
    use crate::tree::scan::{ScanOptions, scan};
    use crate::util::progress::Progress;

    /// A client talking to an agent thread over pipes, as it would over SSH.
    fn with_agent<T>(root: PathBuf, level: i32, f: impl FnOnce(&mut RemoteClient<'_>) -> T) -> T {
        with_cached_agent(root, level, None, f)
    }

    /// [`with_agent`], the client keeping its copy of the destination's manifest in `cache`.
    fn with_cached_agent<T>(
        root: PathBuf,
        level: i32,
        cache: Option<PathBuf>,
        f: impl FnOnce(&mut RemoteClient<'_>) -> T,
    ) -> T {
        let (agent_in, client_out) = std::io::pipe().unwrap();
        let (client_in, agent_out) = std::io::pipe().unwrap();
        let agent =
            std::thread::spawn(move || super::super::agent::serve(root, agent_in, agent_out));
        let mut client =
            RemoteClient::handshake(client_in, client_out, "test".into(), Some(level), cache, None)
                .unwrap()
                .unwrap();
        let out = f(&mut client);
        client.bye();
        drop(client);
        agent.join().unwrap().unwrap();
        out
    }

    /// The manifest question sent with the hello is answered to the first `manifest_info` only
    /// when nothing came between; another request first reads past its answer, and the
    /// connection stays in step: the lock, then the identity under it, then a fresh question.
    #[test]
    fn the_question_sent_with_the_hello_never_answers_another_request() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        for level in [0, 3] {
            with_agent(dst.clone(), level, |c| {
                assert!(c.early_info);
                c.lock().unwrap();
                assert!(!c.early_info);
                assert_eq!(c.manifest_id().unwrap(), Some(ManifestId(None)));
                assert_eq!(c.manifest_info().unwrap(), ManifestId(None));
                c.unlock().unwrap();
            });
            with_agent(dst.clone(), level, |c| {
                assert_eq!(c.manifest_info().unwrap(), ManifestId(None));
                assert!(!c.early_info);
                assert_eq!(c.manifest_info().unwrap(), ManifestId(None));
            });
        }
    }

    /// Signatures asked for with the lock are served from what came with it: asking for them
    /// then sends nothing; one not asked for with the lock is asked for then; the lock's own
    /// answers are unchanged.
    #[test]
    fn signatures_asked_with_the_lock_cost_no_request_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(dst.join("f"), vec![5u8; 40_000]).unwrap();
        let base = |offset| Base { from: RelPath::new("f").unwrap(), offset, len: 20_000 };
        with_agent(dst, 3, |c| {
            c.presign(vec![base(0), base(20_000)]);
            c.lock().unwrap();
            assert_eq!(c.manifest_id().unwrap(), Some(ManifestId(None)));
            let before = c.bytes_written();
            let signed = c.block_signatures(&[base(20_000), base(0)]).unwrap();
            assert_eq!(c.bytes_written(), before, "no request was sent");
            let expected = Some(crate::tree::blocks::sign(&[5u8; 20_000]));
            assert_eq!(signed, vec![expected.clone(), expected.clone()]);
            // Taken once: asked again, they are asked for.
            let again = c.block_signatures(&[base(0), base(10)]).unwrap();
            assert!(c.bytes_written() > before);
            assert_eq!(again[0], expected);
            assert!(again[1].is_some());
            c.unlock().unwrap();
        });
    }

    /// Files asked for ahead are read in order; one opened out of turn drops the answers before
    /// it, one never asked for drops them all, a missing file is an error of its own, and
    /// answers left when the source goes are taken: the connection stays in step throughout.
    #[test]
    fn files_asked_ahead_keep_the_connection_in_step_whatever_is_opened() {
        use crate::transport::{FileSource, ReplicaSource};
        let dir = tempfile::tempdir().unwrap();
        for (name, data) in [("x", "xxxx"), ("y", "yyyy"), ("z", "0123456789"), ("w", "www")] {
            std::fs::write(dir.path().join(name), data).unwrap();
        }
        let p = |s: &str| RelPath::new(s).unwrap();
        let read = |r: std::io::Result<Box<dyn Read + '_>>| {
            let mut out = String::new();
            r.and_then(|mut r| r.read_to_string(&mut out)).map(|_| out)
        };
        with_agent(dir.path().to_owned(), 3, |c| {
            let mut src = ReplicaSource::new(c, [(p("copy"), p("x"))].into_iter().collect());
            for name in ["copy", "y", "missing", "z"] {
                src.announce(&p(name), &[(0, 2), (4, 4)]).unwrap();
            }
            assert_eq!(read(src.open_ranges(&p("copy"), &[(0, 2), (4, 4)], false)).unwrap(), "xx");
            // z out of turn: y's and the missing file's answers are dropped on the way.
            assert_eq!(read(src.open_ranges(&p("z"), &[(0, 2), (4, 4)], false)).unwrap(), "014567");
            // Announced later, opened in turn: a batch of their own.
            src.announce(&p("y"), &[(1, 2)]).unwrap();
            src.announce(&p("missing"), &[(0, 1)]).unwrap();
            src.announce(&p("w"), &[(0, 3)]).unwrap();
            assert_eq!(read(src.open_ranges(&p("y"), &[(1, 2)], false)).unwrap(), "yy");
            let err = read(src.open_ranges(&p("missing"), &[(0, 1)], false)).unwrap_err();
            assert!(err.to_string().contains("missing"), "{err}");
            assert_eq!(read(src.open_ranges(&p("w"), &[(0, 3)], false)).unwrap(), "www");
            // Never announced: read on its own.
            assert_eq!(read(src.open_ranges(&p("x"), &[(2, 2)], false)).unwrap(), "xx");
            src.announce(&p("z"), &[(0, 10)]).unwrap();
            src.announce(&p("y"), &[(0, 1)]).unwrap();
            assert_eq!(read(src.open_ranges(&p("z"), &[(0, 10)], false)).unwrap(), "0123456789");
            drop(src);
            // The next request gets its own answer.
            let mut r = c.read_ranges(&p("w"), &[(1, 1)]).unwrap();
            let mut got = String::new();
            r.read_to_string(&mut got).unwrap();
            assert_eq!(got, "w");
        });
    }

    fn sync_through_agent(src: &std::path::Path, dst: &std::path::Path, level: i32) -> u64 {
        with_agent(dst.to_owned(), level, |c| {
            c.lock().unwrap();
            let before = c.read_manifest().unwrap().unwrap_or_default().to_manifest();
            let s = scan(src, &ScanOptions::default(), &Progress::hidden()).unwrap();
            let p = plan(&s.manifest.to_manifest(0), &before, &[], &PlanOptions::default());
            let never = std::sync::atomic::AtomicBool::new(false);
            let applied = apply(
                &p,
                &mut crate::transport::local::DirSource { root: src },
                &StoredManifest::from(&before),
                c,
                "run",
                &never,
                &Progress::hidden(),
            )
            .unwrap();
            assert!(applied.skipped.is_empty());
            let after = c.read_manifest().unwrap().unwrap().to_manifest();
            assert_eq!(after.entries, s.manifest.to_manifest(0).entries);
            applied.bytes_sent
        })
    }

    #[test]
    fn a_sync_through_the_agent_matches_the_source_and_reuses_chunks() {
        for level in [0, 3] {
            let dir = tempfile::tempdir().unwrap();
            let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
            std::fs::create_dir_all(src.join("d")).unwrap();
            let big = crate::tree::chunk::tests::noise(1, 600_000);
            std::fs::write(src.join("d/big"), &big).unwrap();
            std::fs::write(src.join("small"), b"hello").unwrap();
            assert_eq!(sync_through_agent(&src, &dst, level), 600_005);
            assert_eq!(std::fs::read(dst.join("d/big")).unwrap(), big);
            let mut edited = big.clone();
            edited[300_000] ^= 1;
            std::fs::write(src.join("d/big"), &edited).unwrap();
            let sent = sync_through_agent(&src, &dst, level);
            assert!(sent < 3 * crate::tree::chunk::MAX_CHUNK as u64, "sent {sent}");
            assert_eq!(std::fs::read(dst.join("d/big")).unwrap(), edited);
        }
    }

    /// A scratch directory with a source holding one file, "a", and where a destination and the
    /// client's copy of its manifest go.
    fn one_file_source() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst, cache) =
            (dir.path().join("src"), dir.path().join("dst"), dir.path().join("copy"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("a"), b"a").unwrap();
        (dir, src, dst, cache)
    }

    /// The agent says which manifest it holds (the hash of its file): the one last read, from
    /// the agent or from the client's local copy, until a commit makes another.
    #[test]
    fn the_manifest_read_is_identified_until_a_commit_changes_it() {
        let (_dir, src, dst, cache) = one_file_source();
        with_cached_agent(dst.clone(), 0, Some(cache.clone()), |c| {
            assert_eq!(c.last_read_id(), None);
            assert!(c.read_manifest().unwrap().is_none());
            assert_eq!(c.last_read_id(), Some(ManifestId(None)));
            assert_eq!(c.manifest_id().unwrap(), c.last_read_id());
        });
        sync_through_agent(&src, &dst, 0);
        let file = std::fs::read(dst.join(".tern/manifest")).unwrap();
        let id = Some(ManifestId(Some(ContentHash::of(&file))));
        // Fetched from the agent, then read from the local copy: the same identity.
        for _ in 0..2 {
            with_cached_agent(dst.clone(), 0, Some(cache.clone()), |c| {
                c.read_manifest().unwrap().unwrap().to_manifest();
                assert_eq!((c.last_read_id(), c.manifest_id().unwrap()), (id, id));
            });
        }
        std::fs::write(src.join("a"), b"changed").unwrap();
        sync_through_agent(&src, &dst, 0);
        with_cached_agent(dst.clone(), 0, Some(cache), |c| {
            let now = c.manifest_id().unwrap();
            assert!(now.is_some_and(|n| n.0.is_some()) && now != id, "{now:?}");
        });
    }

    /// A manifest larger than the part the agent reads and sends at a time comes across whole,
    /// announced by the hash of its file and its generation, and the client's local copy of it
    /// (written as the parts arrive) is the same file, with nothing left beside it.
    #[test]
    fn a_manifest_of_many_parts_is_read_whole() {
        use crate::tree::manifest::tests::file;
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        let entries: Vec<_> =
            (0..20_000).map(|i| file(&format!("f{i:05}"), format!("{i}").as_bytes())).collect();
        let m = Manifest { generation: 9, entries };
        let bytes = m.encode();
        assert!(bytes.len() > 2 * super::super::agent::FILE_PART, "{} bytes", bytes.len());
        std::fs::create_dir_all(dst.join(".tern")).unwrap();
        std::fs::write(dst.join(".tern/manifest"), &bytes).unwrap();
        let cache = dir.path().join("cache/manifest");
        with_cached_agent(dst, 3, Some(cache.clone()), |c| {
            assert_eq!(c.read_manifest().unwrap().unwrap().to_manifest(), m);
            assert!(std::fs::read(&cache).unwrap() == bytes, "the local copy differs");
            let beside: Vec<_> = std::fs::read_dir(dir.path().join("cache")).unwrap().collect();
            assert_eq!(beside.len(), 1, "{beside:?}");
            assert_eq!(c.last_read_id(), Some(ManifestId(Some(ContentHash::of(&bytes)))));
            match c.ask(&Request::ManifestInfo).unwrap() {
                Response::ManifestInfo(info) => {
                    assert_eq!(info, Some((9, ContentHash::of(&bytes))));
                }
                r => panic!("{r:?}"),
            }
        });
    }

    /// A plan made against less than the destination holds (as when `--check-dest` takes out
    /// entries it found wrong) does not serve as the delta's base: the client reads the
    /// destination's manifest again, and the commit describes what is really there.
    #[test]
    fn a_commit_whose_base_is_not_the_destinations_reads_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("a"), b"a").unwrap();
        std::fs::write(src.join("b"), b"b").unwrap();
        sync_through_agent(&src, &dst, 0);
        std::fs::remove_file(src.join("b")).unwrap();
        std::fs::write(src.join("a"), b"a, changed").unwrap();
        with_agent(dst.clone(), 0, |c| {
            c.lock().unwrap();
            let held = c.read_manifest().unwrap().unwrap().to_manifest();
            // "b" taken out as if found wrong: the plan neither deletes nor rewrites it.
            let reduced = held.clone().without(&[RelPath::new("b").unwrap()]);
            let s = scan(&src, &ScanOptions::default(), &Progress::hidden()).unwrap();
            let p = plan(&s.manifest.to_manifest(0), &reduced, &[], &PlanOptions::default());
            let never = std::sync::atomic::AtomicBool::new(false);
            apply(
                &p,
                &mut crate::transport::local::DirSource { root: &src },
                &StoredManifest::from(&reduced),
                c,
                "run",
                &never,
                &Progress::hidden(),
            )
            .unwrap();
            let after = c.read_manifest().unwrap().unwrap().to_manifest();
            assert_eq!(after.entries, s.manifest.to_manifest(0).entries);
            assert_eq!(after.generation, held.generation + 1);
        });
        assert_eq!(std::fs::read(dst.join("a")).unwrap(), b"a, changed");
    }

    /// The local copy of the destination's manifest is used only when its file has the hash the
    /// destination announces: a copy of another manifest, or a torn one, is read past.
    #[test]
    fn the_local_copy_of_the_manifest_is_used_only_when_it_is_the_destinations() {
        let (_dir, src, dst, cache) = one_file_source();
        sync_through_agent(&src, &dst, 0);
        let held =
            crate::tree::manifest::Manifest::load(&dst.join(".tern/manifest")).unwrap().unwrap();
        let read = |cache: &PathBuf| {
            with_cached_agent(dst.clone(), 0, Some(cache.clone()), |c| {
                c.read_manifest().unwrap().unwrap().to_manifest()
            })
        };
        // No copy: fetched, and kept.
        assert_eq!(read(&cache), held);
        assert_eq!(
            std::fs::read(&cache).unwrap(),
            std::fs::read(dst.join(".tern/manifest")).unwrap()
        );
        assert_eq!(read(&cache), held);
        // Another valid manifest in its place, then a torn copy: both ignored.
        let other = Manifest { generation: held.generation, entries: Vec::new() };
        std::fs::write(&cache, other.encode()).unwrap();
        assert_eq!(read(&cache), held);
        let bytes = std::fs::read(&cache).unwrap();
        std::fs::write(&cache, &bytes[..bytes.len() / 2]).unwrap();
        assert_eq!(read(&cache), held);
    }

    #[test]
    fn a_protocol_version_mismatch_names_both_versions() {
        let (agent_in, mut client_out) = std::io::pipe().unwrap();
        let (mut client_in, agent_out) = std::io::pipe().unwrap();
        let agent = std::thread::spawn(move || {
            super::super::agent::serve(PathBuf::from("/nonexistent"), agent_in, agent_out)
        });
        let hello = Request::Hello { version: 999, tern: "9.9.9".into(), compress_level: 0 };
        super::super::protocol::write_frame(&mut client_out, &hello.encode()).unwrap();
        let reply = super::super::protocol::read_frame(&mut client_in).unwrap().unwrap();
        assert!(matches!(
            Response::decode(&reply).unwrap(),
            Response::Hello { version: PROTOCOL_VERSION, .. }
        ));
        let err = agent.join().unwrap().unwrap_err().to_string();
        assert!(err.contains("999") && err.contains(&PROTOCOL_VERSION.to_string()), "{err}");
    }
}
