//! The wire protocol between tern and its agent (`tern serve`) on the far side of an SSH channel.
//!
//! Frames are `u32` little-endian body length, then the body: a one-byte tag and the fields in the
//! [`crate::tree::codec`] encoding. No frame may exceed [`MAX_FRAME`], and every variable-length
//! field has its own bound, so a peer cannot make the other side allocate without limit.
//!
//! The exchange starts with a `Hello` each way, uncompressed, carrying both protocol versions;
//! after it, both directions are (optionally) one zstd stream each. The client then streams
//! requests; the agent answers only the requests that ask a question (`ManifestInfo`,
//! `ReadManifest`, `Lock`, `FinishStaging`, `Commit`, and for a two-way sync `Scan`,
//! `ReadState`, `StateHash`, `WriteState`, `WriteStateDelta`, `ReadFiles`, and for sub-chunk
//! deltas `Signatures`), never while the client may still be writing: the client reads each
//! answer whole before it writes again. That rule is what keeps a single SSH channel free of
//! deadlocks: at any moment only one side writes. Two groups of questions go together, to save
//! round trips on slow links, and keep the rule in substance: the hello with `ManifestInfo`, and
//! `Lock` with `ManifestInfo` and a first `Signatures`. Every answer but the last of a group is a
//! few bytes, which never waits for the client to read, and the client writes the whole group
//! before it reads. Staging requests get no reply; their outcomes, or the first error, come back
//! with `FinishStaging`.

use crate::plan::patch::Base;
use crate::transport::{
    CommitOp, CommitReport, NewLink, NewNode, StageHeader, StageOutcome, StageReport,
};
use crate::tree::codec::{DecodeError, Reader, Writer};
use crate::tree::hash::ContentHash;
use crate::tree::manifest::{Kind, KindTag, Special, decode_meta, encode_meta};
use crate::tree::meta::Unkept;
use crate::tree::path::{MAX_PATH_LEN, RelPath};
use std::io::{self, Read, Write};

/// The protocol version this build speaks. Both ends must speak the same one. Version 2 hashes
/// files as a tree of chunk hashes (see [`crate::tree::hash`]) and sends file data as chunks only;
/// version 3 reports staging as runs of ids staged fine ([`StageReport`]), and a delta announces
/// its result's entry count and must list its upserts in path order; version 4 carries
/// extended attributes in every entry's metadata and reports those a commit could not keep;
/// version 5 can release the lock and take it again on one connection (`tern watch`); version 6
/// serves a two-way sync: the agent scans its tree, keeps small state files and sends ranges of
/// its files; version 7 sends sub-chunk deltas: block signatures of old bytes, and chunks
/// rebuilt from them.
pub const PROTOCOL_VERSION: u32 = 7;
/// Most ranges one `ReadFiles` asks for, all its files together.
pub const MAX_RANGES: usize = 65_536;
/// Most files one `ReadFiles` asks for.
pub const MAX_READ_FILES: usize = 256;
/// Most old byte ranges one `Signatures` asks for.
pub const MAX_SIGNATURES: usize = 4096;
/// Largest frame body either side accepts.
pub const MAX_FRAME: usize = 16 << 20;
/// Largest piece of bulk data (manifest parts, file data) in one frame.
pub const MAX_DATA: usize = 4 << 20;
/// Most commit operations in one frame.
const MAX_OPS_PER_FRAME: u64 = 65_536;
const MAX_TEXT: usize = 64 * 1024;

/// How the agent is to scan its tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanRequest {
    pub checksum: bool,
    pub no_xattrs: bool,
    pub one_file_system: bool,
    /// Keep a hash cache where the agent runs.
    pub cache: bool,
    pub excludes: Vec<String>,
    /// A state file (name, hash of its bytes) the client holds too: the agent sends the
    /// scan as a delta from it when its own is the same.
    pub since: Option<(String, ContentHash)>,
}

/// Client to agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Hello {
        version: u32,
        tern: String,
        compress_level: i32,
    },
    ManifestInfo,
    ReadManifest,
    Lock,
    StageBegin(StageHeader),
    StageReuse {
        from: RelPath,
        offset: u64,
        len: u64,
    },
    StageEnd,
    FinishStaging,
    CommitOps(Vec<CommitOp>),
    CommitDelta(Vec<u8>),
    Commit {
        run_id: String,
    },
    Bye,
    /// A maintenance request, as JSON ([`crate::transport::admin::AdminOp`]).
    Admin(String),
    /// Bytes that are exactly one chunk of the file being staged.
    StageChunk(Vec<u8>),
    /// Release the lock, keeping the connection for the next run.
    Unlock,
    /// Scan the tree (two-way sync): answered with `Json` (the scan's issues, and whether what
    /// follows is a delta from `since`), then the manifest file of its entries, or that delta,
    /// as `Data` parts and `DataEnd`.
    Scan(ScanRequest),
    /// The hash of a state file's bytes: answered with `ManifestInfo` (generation 0), `None`
    /// when there is none.
    StateHash(String),
    /// Apply the delta sent as `StatePart`s since the last state request to the state file
    /// `name` if its bytes hash to `old`: answered with `Ok` when done, `DataEnd` when its
    /// file is not `old` (the client then sends the whole file).
    WriteStateDelta {
        name: String,
        old: ContentHash,
    },
    /// A state file: answered with `Ok` when there is none, else its bytes as `Data` parts
    /// and `DataEnd`.
    ReadState(String),
    /// Part of the bytes of the next `WriteState` (no answer).
    StatePart(Vec<u8>),
    /// Replace a state file with the parts sent since the last one: answered with `Ok`.
    WriteState(String),
    /// Ranges of files, answered file after file, each with its bytes as `Data` parts and
    /// `DataEnd` (or an `Error` in place of `DataEnd`). The client sends nothing until it has
    /// read every answer: a batch of files instead of a request each keeps one side writing at a
    /// time, as the rest of the protocol does.
    ReadFiles(Vec<(RelPath, Vec<(u64, u64)>)>),
    /// Block signatures ([`crate::tree::blocks::sign`]) of old bytes of the destination's
    /// files, answered with one `Data` each (empty where the bytes cannot be read) and
    /// `DataEnd`.
    Signatures(Vec<Base>),
    /// One chunk of the file being staged, `len` bytes hashing to `hash`, rebuilt from the old
    /// bytes `base` and a block delta (no answer; `ReuseFailed` if it does not rebuild).
    StageDelta {
        base: Base,
        len: u32,
        hash: ContentHash,
        delta: Vec<u8>,
    },
}

/// Agent to client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Hello {
        version: u32,
        tern: String,
    },
    /// The destination's manifest generation and the SHA-256 of its manifest file (none yet:
    /// `None`).
    ManifestInfo(Option<(u64, ContentHash)>),
    Data(Vec<u8>),
    DataEnd,
    Ok,
    Outcomes(StageReport),
    Committed(CommitReport),
    Error {
        transient: bool,
        message: String,
    },
    /// The answer to `Admin`, as JSON ([`crate::transport::admin::AdminResult`]).
    Json(String),
}

fn put_base(w: &mut Writer, b: &Base) {
    w.bytes(b.from.as_bytes());
    w.varint(b.offset);
    w.varint(b.len);
}

fn base(r: &mut Reader<'_>) -> Result<Base, DecodeError> {
    Ok(Base { from: rel_path(r, "path")?, offset: r.varint("offset")?, len: r.varint("length")? })
}

fn text(r: &mut Reader<'_>, what: &'static str) -> Result<String, DecodeError> {
    String::from_utf8(r.bytes(what, MAX_TEXT)?.to_vec())
        .map_err(|_| DecodeError::invalid(what, "not UTF-8"))
}

/// A JSON document (larger than other text fields).
fn json_text(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    String::from_utf8(r.bytes("json", MAX_DATA)?.to_vec())
        .map_err(|_| DecodeError::invalid("json", "not UTF-8"))
}

fn rel_path(r: &mut Reader<'_>, what: &'static str) -> Result<RelPath, DecodeError> {
    RelPath::new(r.bytes(what, MAX_PATH_LEN)?)
        .map_err(|e| DecodeError::invalid(what, e.to_string()))
}

fn put_text(w: &mut Writer, s: &str) {
    let b = s.as_bytes();
    w.bytes(&b[..b.len().min(MAX_TEXT)]);
}

fn decode_kind_tag(b: u8) -> Result<KindTag, DecodeError> {
    KindTag::from_code(b).ok_or_else(|| DecodeError::invalid("kind", format!("unknown kind {b}")))
}

pub(crate) fn encode_op(w: &mut Writer, op: &CommitOp) {
    match op {
        CommitOp::Trash(p) => {
            w.u8(0);
            w.bytes(p.as_bytes());
        }
        CommitOp::MkDir(p) => {
            w.u8(1);
            w.bytes(p.as_bytes());
        }
        CommitOp::Symlink { path, link } => {
            w.u8(2);
            w.bytes(path.as_bytes());
            w.bytes(&link.target);
            encode_meta(w, &link.meta);
        }
        CommitOp::Place { path, id } => {
            w.u8(3);
            w.bytes(path.as_bytes());
            w.varint(*id);
        }
        CommitOp::SetMeta { path, meta, kind } => {
            w.u8(4);
            w.bytes(path.as_bytes());
            encode_meta(w, meta);
            w.u8(kind.code());
        }
        CommitOp::Node { path, node } => {
            w.u8(5);
            w.bytes(path.as_bytes());
            w.u8(Kind::Special(node.special).tag().code());
            if let Special::CharDevice { rdev } | Special::BlockDevice { rdev } = node.special {
                w.varint(rdev);
            }
            encode_meta(w, &node.meta);
        }
        CommitOp::HardLink { path, first } => {
            w.u8(6);
            w.bytes(path.as_bytes());
            w.bytes(first.as_bytes());
        }
    }
}

pub(crate) fn decode_op(r: &mut Reader<'_>) -> Result<CommitOp, DecodeError> {
    Ok(match r.u8("op")? {
        0 => CommitOp::Trash(rel_path(r, "path")?),
        1 => CommitOp::MkDir(rel_path(r, "path")?),
        2 => {
            let path = rel_path(r, "path")?;
            let target = r.bytes("symlink target", MAX_PATH_LEN)?;
            if target.is_empty() || target.contains(&0) {
                return Err(DecodeError::invalid("symlink target", "empty or contains NUL"));
            }
            let target = target.to_vec();
            let meta = decode_meta(r)?;
            CommitOp::Symlink { path, link: Box::new(NewLink { target, meta }) }
        }
        3 => CommitOp::Place { path: rel_path(r, "path")?, id: r.varint("id")? },
        4 => {
            let path = rel_path(r, "path")?;
            let meta = decode_meta(r)?;
            let kind = decode_kind_tag(r.u8("kind")?)?;
            CommitOp::SetMeta { path, meta: Box::new(meta), kind }
        }
        5 => {
            let path = rel_path(r, "path")?;
            let special = match decode_kind_tag(r.u8("kind")?)? {
                KindTag::Fifo => Special::Fifo,
                KindTag::CharDevice => Special::CharDevice { rdev: r.varint("device number")? },
                KindTag::BlockDevice => Special::BlockDevice { rdev: r.varint("device number")? },
                k => {
                    return Err(DecodeError::invalid("node", format!("a {} is not one", k.name())));
                }
            };
            let meta = decode_meta(r)?;
            CommitOp::Node { path, node: Box::new(NewNode { special, meta }) }
        }
        6 => CommitOp::HardLink { path: rel_path(r, "path")?, first: rel_path(r, "hard link")? },
        t => return Err(DecodeError::invalid("op", format!("unknown op {t}"))),
    })
}

fn encode_outcome(w: &mut Writer, o: &StageOutcome) {
    match o {
        StageOutcome::Ok => w.u8(0),
        StageOutcome::ReuseFailed(from) => {
            w.u8(1);
            w.bytes(from.as_bytes());
        }
        StageOutcome::Mismatch => w.u8(2),
        StageOutcome::Failed(m) => {
            w.u8(3);
            put_text(w, m);
        }
    }
}

fn decode_outcome(r: &mut Reader<'_>) -> Result<StageOutcome, DecodeError> {
    Ok(match r.u8("outcome")? {
        0 => StageOutcome::Ok,
        1 => StageOutcome::ReuseFailed(rel_path(r, "path")?),
        2 => StageOutcome::Mismatch,
        3 => StageOutcome::Failed(text(r, "failure")?),
        t => {
            return Err(DecodeError::invalid("outcome", format!("unknown outcome {t}")));
        }
    })
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            Request::Hello { version, tern, compress_level } => {
                w.u8(0);
                w.varint(u64::from(*version));
                put_text(&mut w, tern);
                w.zigzag(i64::from(*compress_level));
            }
            Request::ManifestInfo => w.u8(1),
            Request::ReadManifest => w.u8(2),
            Request::Lock => w.u8(3),
            Request::StageBegin(h) => {
                w.u8(4);
                w.varint(h.id);
                w.varint(h.size);
                w.fixed(&h.hash.0);
                encode_meta(&mut w, &h.meta);
            }
            Request::StageReuse { from, offset, len } => {
                w.u8(6);
                w.bytes(from.as_bytes());
                w.varint(*offset);
                w.varint(*len);
            }
            Request::StageEnd => w.u8(7),
            Request::FinishStaging => w.u8(8),
            Request::CommitOps(ops) => {
                w.u8(9);
                w.varint(ops.len() as u64);
                for op in ops {
                    encode_op(&mut w, op);
                }
            }
            Request::CommitDelta(d) => {
                w.u8(10);
                w.bytes(d);
            }
            Request::Commit { run_id } => {
                w.u8(11);
                put_text(&mut w, run_id);
            }
            Request::Bye => w.u8(12),
            Request::Admin(j) => {
                w.u8(13);
                w.bytes(j.as_bytes());
            }
            Request::StageChunk(d) => {
                w.u8(14);
                w.bytes(d);
            }
            Request::Unlock => w.u8(15),
            Request::Scan(q) => {
                w.u8(16);
                let flags = u8::from(q.checksum)
                    | u8::from(q.no_xattrs) << 1
                    | u8::from(q.one_file_system) << 2
                    | u8::from(q.cache) << 3
                    | u8::from(q.since.is_some()) << 4;
                w.u8(flags);
                w.varint(q.excludes.len() as u64);
                for e in &q.excludes {
                    put_text(&mut w, e);
                }
                if let Some((name, hash)) = &q.since {
                    put_text(&mut w, name);
                    w.fixed(&hash.0);
                }
            }
            Request::ReadState(name) => {
                w.u8(17);
                put_text(&mut w, name);
            }
            Request::StatePart(d) => {
                w.u8(18);
                w.bytes(d);
            }
            Request::WriteState(name) => {
                w.u8(19);
                put_text(&mut w, name);
            }
            Request::StateHash(name) => {
                w.u8(21);
                put_text(&mut w, name);
            }
            Request::WriteStateDelta { name, old } => {
                w.u8(22);
                put_text(&mut w, name);
                w.fixed(&old.0);
            }
            Request::Signatures(bases) => {
                w.u8(23);
                w.varint(bases.len() as u64);
                bases.iter().for_each(|b| put_base(&mut w, b));
            }
            Request::StageDelta { base, len, hash, delta } => {
                w.u8(24);
                put_base(&mut w, base);
                w.varint(u64::from(*len));
                w.fixed(&hash.0);
                w.bytes(delta);
            }
            Request::ReadFiles(files) => {
                w.u8(20);
                w.varint(files.len() as u64);
                for (path, ranges) in files {
                    w.bytes(path.as_bytes());
                    w.varint(ranges.len() as u64);
                    for (offset, len) in ranges {
                        w.varint(*offset);
                        w.varint(*len);
                    }
                }
            }
        }
        w.buf
    }

    /// [`Request::decode`] of a whole frame, which becomes the data of a chunk or a delta part
    /// instead of being copied (the agent receives every byte of a sync this way).
    pub fn decode_frame(mut body: Vec<u8>) -> Result<Self, DecodeError> {
        let (Some(&tag @ (10 | 14)), Some(rest)) = (body.first(), body.get(1..)) else {
            return Self::decode(&body);
        };
        let mut r = Reader::new(rest);
        let len = r.varint_max("data", MAX_DATA as u64)?;
        let start = body.len() - r.remaining();
        if (body.len() - start) as u64 != len {
            // Short or with trailing bytes: the error is the slice decoder's.
            return Self::decode(&body);
        }
        body.drain(..start);
        Ok(if tag == 10 { Request::CommitDelta(body) } else { Request::StageChunk(body) })
    }

    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let req = match r.u8("request")? {
            0 => Request::Hello {
                version: r.varint_max("version", u64::from(u32::MAX))? as u32,
                tern: text(&mut r, "tern version")?,
                compress_level: r.zigzag("compress level")?.clamp(-7, 22) as i32,
            },
            1 => Request::ManifestInfo,
            2 => Request::ReadManifest,
            3 => Request::Lock,
            4 => Request::StageBegin(StageHeader {
                id: r.varint("id")?,
                size: r.varint("size")?,
                hash: ContentHash(r.fixed("hash")?),
                meta: decode_meta(&mut r)?,
            }),
            // 5 was unchunked file data, in version 1.
            6 => Request::StageReuse {
                from: rel_path(&mut r, "path")?,
                offset: r.varint("offset")?,
                len: r.varint("length")?,
            },
            7 => Request::StageEnd,
            8 => Request::FinishStaging,
            9 => {
                let n = r.varint_max("op count", MAX_OPS_PER_FRAME)?;
                let mut ops = Vec::with_capacity(n.min(r.remaining() as u64 / 2) as usize);
                for _ in 0..n {
                    ops.push(decode_op(&mut r)?);
                }
                Request::CommitOps(ops)
            }
            10 => Request::CommitDelta(r.bytes("manifest", MAX_DATA)?.to_vec()),
            11 => Request::Commit { run_id: text(&mut r, "run id")? },
            12 => Request::Bye,
            13 => Request::Admin(json_text(&mut r)?),
            14 => Request::StageChunk(r.bytes("chunk", MAX_DATA)?.to_vec()),
            15 => Request::Unlock,
            16 => {
                let flags = r.u8("scan flags")?;
                let n = r.varint_max("exclude count", 65_536)?;
                let mut excludes = Vec::with_capacity(n.min(r.remaining() as u64) as usize);
                for _ in 0..n {
                    excludes.push(text(&mut r, "exclude pattern")?);
                }
                let since = if flags & 16 != 0 {
                    Some((text(&mut r, "state name")?, ContentHash(r.fixed("hash")?)))
                } else {
                    None
                };
                Request::Scan(ScanRequest {
                    checksum: flags & 1 != 0,
                    no_xattrs: flags & 2 != 0,
                    one_file_system: flags & 4 != 0,
                    cache: flags & 8 != 0,
                    excludes,
                    since,
                })
            }
            17 => Request::ReadState(text(&mut r, "state name")?),
            18 => Request::StatePart(r.bytes("state part", MAX_DATA)?.to_vec()),
            19 => Request::WriteState(text(&mut r, "state name")?),
            20 => {
                let files = r.varint_max("file count", MAX_READ_FILES as u64)?;
                let mut all = Vec::with_capacity(files.min(r.remaining() as u64 / 2) as usize);
                let mut total = 0;
                for _ in 0..files {
                    let path = rel_path(&mut r, "path")?;
                    let n = r.varint_max("range count", (MAX_RANGES - total) as u64)?;
                    total += n as usize;
                    let mut ranges = Vec::with_capacity(n.min(r.remaining() as u64 / 2) as usize);
                    for _ in 0..n {
                        ranges.push((r.varint("offset")?, r.varint("length")?));
                    }
                    all.push((path, ranges));
                }
                Request::ReadFiles(all)
            }
            21 => Request::StateHash(text(&mut r, "state name")?),
            22 => Request::WriteStateDelta {
                name: text(&mut r, "state name")?,
                old: ContentHash(r.fixed("hash")?),
            },
            23 => {
                let n = r.varint_max("signature count", MAX_SIGNATURES as u64)?;
                let mut bases = Vec::with_capacity(n.min(r.remaining() as u64 / 3) as usize);
                for _ in 0..n {
                    bases.push(base(&mut r)?);
                }
                Request::Signatures(bases)
            }
            24 => Request::StageDelta {
                base: base(&mut r)?,
                len: r.varint_max("chunk length", crate::tree::chunk::MAX_CHUNK as u64)? as u32,
                hash: ContentHash(r.fixed("hash")?),
                delta: r.bytes("delta", MAX_DATA)?.to_vec(),
            },
            t => {
                return Err(DecodeError::invalid("request", format!("unknown request {t}")));
            }
        };
        r.finish("request")?;
        Ok(req)
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            Response::Hello { version, tern } => {
                w.u8(0);
                w.varint(u64::from(*version));
                put_text(&mut w, tern);
            }
            Response::ManifestInfo(info) => {
                w.u8(1);
                match info {
                    None => w.u8(0),
                    Some((generation, hash)) => {
                        w.u8(1);
                        w.varint(*generation);
                        w.fixed(&hash.0);
                    }
                }
            }
            Response::Data(d) => {
                w.u8(2);
                w.bytes(d);
            }
            Response::DataEnd => w.u8(3),
            Response::Ok => w.u8(4),
            Response::Outcomes(report) => {
                w.u8(5);
                w.varint(report.ok.len() as u64);
                for run in &report.ok {
                    w.varint(run.start);
                    w.varint(run.end.saturating_sub(run.start));
                }
                w.varint(report.other.len() as u64);
                for (id, o) in &report.other {
                    w.varint(*id);
                    encode_outcome(&mut w, o);
                }
            }
            Response::Committed(c) => {
                w.u8(6);
                w.varint(c.generation);
                w.varint(c.trashed);
                w.varint(c.repaired);
                put_text(&mut w, c.trash_dir.as_deref().unwrap_or(""));
                w.varint(c.unkept.count);
                put_text(&mut w, c.unkept.first.as_deref().unwrap_or(""));
            }
            Response::Error { transient, message } => {
                w.u8(7);
                w.u8(u8::from(*transient));
                put_text(&mut w, message);
            }
            Response::Json(j) => {
                w.u8(8);
                w.bytes(j.as_bytes());
            }
        }
        w.buf
    }

    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let resp = match r.u8("response")? {
            0 => Response::Hello {
                version: r.varint_max("version", u64::from(u32::MAX))? as u32,
                tern: text(&mut r, "tern version")?,
            },
            1 => Response::ManifestInfo(match r.u8("manifest info")? {
                0 => None,
                1 => Some((r.varint("generation")?, ContentHash(r.fixed("hash")?))),
                t => return Err(DecodeError::invalid("manifest info", format!("flag {t}"))),
            }),
            2 => Response::Data(r.bytes("data", MAX_DATA)?.to_vec()),
            3 => Response::DataEnd,
            4 => Response::Ok,
            5 => {
                // Runs and outcomes are at least two bytes each.
                let n = r.varint_max("run count", (MAX_FRAME / 2) as u64)?;
                let mut ok = Vec::with_capacity(n.min(r.remaining() as u64 / 2) as usize);
                for _ in 0..n {
                    let start = r.varint("run start")?;
                    let len = r.varint("run length")?;
                    ok.push(start..start.saturating_add(len));
                }
                let n = r.varint_max("outcome count", (MAX_FRAME / 2) as u64)?;
                let mut other = Vec::with_capacity(n.min(r.remaining() as u64 / 2) as usize);
                for _ in 0..n {
                    let (id, outcome) = (r.varint("id")?, decode_outcome(&mut r)?);
                    if outcome == StageOutcome::Ok {
                        return Err(DecodeError::invalid("outcome", "ok outside a run"));
                    }
                    other.push((id, outcome));
                }
                Response::Outcomes(StageReport { ok, other })
            }
            6 => {
                let generation = r.varint("generation")?;
                let trashed = r.varint("trashed")?;
                let repaired = r.varint("repaired")?;
                let dir = text(&mut r, "trash dir")?;
                let trash_dir = (!dir.is_empty()).then_some(dir);
                let count = r.varint("unkept xattrs")?;
                let first = text(&mut r, "unkept xattr")?;
                let unkept = Unkept { count, first: (!first.is_empty()).then_some(first) };
                Response::Committed(CommitReport {
                    generation,
                    trashed,
                    trash_dir,
                    repaired,
                    unkept,
                })
            }
            7 => Response::Error {
                transient: r.u8("transient")? != 0,
                message: text(&mut r, "message")?,
            },
            8 => Response::Json(json_text(&mut r)?),
            t => {
                return Err(DecodeError::invalid("response", format!("unknown response {t}")));
            }
        };
        r.finish("response")?;
        Ok(resp)
    }
}

/// Write one frame (not flushed).
pub fn write_frame(w: &mut dyn Write, body: &[u8]) -> io::Result<()> {
    if body.len() > MAX_FRAME {
        return Err(io::Error::other(format!("frame of {} bytes is too large", body.len())));
    }
    w.write_all(&(body.len() as u32).to_le_bytes())?;
    w.write_all(body)
}

/// Read one frame; `Ok(None)` on a clean end of stream before a frame starts.
pub fn read_frame(r: &mut dyn Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("peer sent a frame of {len} bytes (limit {MAX_FRAME})"),
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::manifest::{Meta, Mtime, Xattr, Xattrs};

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    #[test]
    fn every_message_round_trips() {
        let xattrs = Xattrs::new(vec![
            Xattr { name: b"user.a".as_slice().into(), value: b"1".as_slice().into() },
            Xattr { name: b"security.capability".as_slice().into(), value: vec![1; 20].into() },
        ]);
        let meta =
            Meta { mode: 0o644, mtime: Mtime { secs: -3, nanos: 7 }, xattrs, ..Default::default() };
        let h = ContentHash::of(b"x");
        let requests = vec![
            Request::Hello { version: 1, tern: "0.1.0".into(), compress_level: -3 },
            Request::ManifestInfo,
            Request::ReadManifest,
            Request::Lock,
            Request::StageBegin(StageHeader { id: 9, size: 10, hash: h, meta: meta.clone() }),
            Request::StageReuse { from: p("a/b"), offset: 5, len: 6 },
            Request::StageEnd,
            Request::FinishStaging,
            Request::CommitOps(vec![
                CommitOp::Trash(p("t")),
                CommitOp::MkDir(p("d")),
                CommitOp::Symlink {
                    path: p("l"),
                    link: Box::new(NewLink { target: b"../x".to_vec(), meta: meta.clone() }),
                },
                CommitOp::Place { path: p("f"), id: 3 },
                CommitOp::HardLink { path: p("g"), first: p("f") },
                CommitOp::Node {
                    path: p("n"),
                    node: Box::new(NewNode { special: Special::Fifo, meta: meta.clone() }),
                },
                CommitOp::Node {
                    path: p("o"),
                    node: Box::new(NewNode {
                        special: Special::BlockDevice { rdev: 0x0709 },
                        meta: meta.clone(),
                    }),
                },
                CommitOp::SetMeta { path: p("m"), meta: Box::new(meta), kind: KindTag::Dir },
            ]),
            Request::CommitDelta(vec![0; 100]),
            Request::Commit { run_id: "r".into() },
            Request::Bye,
            Request::Admin("{\"op\":\"verify\"}".into()),
            Request::StageChunk(vec![7; 100]),
            Request::Unlock,
            Request::Scan(ScanRequest {
                checksum: true,
                no_xattrs: false,
                one_file_system: true,
                cache: true,
                excludes: vec!["*.tmp".into(), "cache/".into()],
                since: Some(("base-0a".into(), h)),
            }),
            Request::StateHash("base-0a".into()),
            Request::WriteStateDelta { name: "base-0a".into(), old: h },
            Request::ReadState("base-0a1b".into()),
            Request::StatePart(vec![1, 2, 3]),
            Request::WriteState("replica".into()),
            Request::ReadFiles(vec![(p("d/f"), vec![(0, 10), (65_536, 4096)]), (p("e"), vec![])]),
            Request::Signatures(vec![
                Base { from: p("d/f"), offset: 16_384, len: 9000 },
                Base { from: p("e"), offset: 0, len: 0 },
            ]),
            Request::StageDelta {
                base: Base { from: p("d/f"), offset: 1, len: 2 },
                len: 65_536,
                hash: h,
                delta: vec![0x72, 0x73, 0x02, 0x36, 0],
            },
        ];
        for req in requests {
            assert_eq!(Request::decode(&req.encode()).unwrap(), req);
            assert_eq!(Request::decode_frame(req.encode()).unwrap(), req);
        }
        let responses = vec![
            Response::Hello { version: 1, tern: "x".into() },
            Response::ManifestInfo(None),
            Response::ManifestInfo(Some((4, h))),
            Response::Data(vec![9; 10]),
            Response::DataEnd,
            Response::Ok,
            Response::Outcomes(
                [
                    (1, StageOutcome::Ok),
                    (2, StageOutcome::ReuseFailed(p("x/y"))),
                    (3, StageOutcome::Mismatch),
                    (4, StageOutcome::Failed("disk".into())),
                    (5, StageOutcome::Ok),
                    (6, StageOutcome::Ok),
                ]
                .into_iter()
                .collect(),
            ),
            Response::Committed(CommitReport {
                generation: 3,
                trashed: 2,
                trash_dir: Some("/t".into()),
                repaired: 1,
                unkept: Unkept {
                    count: 2,
                    first: Some("security.capability: not permitted".into()),
                },
            }),
            Response::Error { transient: true, message: "locked".into() },
            Response::Json("{}".into()),
        ];
        for resp in responses {
            assert_eq!(Response::decode(&resp.encode()).unwrap(), resp);
        }
    }

    #[test]
    fn hostile_frames_are_refused() {
        // paths that escape the root
        for bad in [&b"../x"[..], b"/etc/passwd", b"a//b", b"a/\0"] {
            let mut w = Writer::new();
            w.u8(6);
            w.bytes(bad);
            w.varint(0);
            w.varint(1);
            assert!(Request::decode(&w.buf).is_err(), "{bad:?}");
        }
        // a frame length beyond the limit is refused before allocating
        let mut huge: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0];
        assert!(read_frame(&mut huge).is_err());
        // truncated frames and bodies
        let mut short: &[u8] = &[5, 0, 0, 0, 1];
        assert!(read_frame(&mut short).is_err());
        let body = Request::StageReuse { from: p("a"), offset: 1, len: 2 }.encode();
        for n in 0..body.len() {
            assert!(Request::decode(&body[..n]).is_err());
        }
        let mut trailing = Request::Bye.encode();
        trailing.push(0);
        assert!(Request::decode(&trailing).is_err());
        // data frames taken whole: short, long or oversized ones are refused the same way
        for req in [Request::StageChunk(b"chunk".to_vec()), Request::CommitDelta(b"d".to_vec())] {
            let body = req.encode();
            for n in 0..body.len() {
                assert!(Request::decode_frame(body[..n].to_vec()).is_err(), "{n}");
            }
            let mut long = body.clone();
            long.push(0);
            assert!(Request::decode_frame(long).is_err());
        }
        let mut w = Writer::new();
        w.u8(14);
        w.varint(MAX_DATA as u64 + 1);
        assert!(Request::decode_frame(w.buf).is_err());
        // an op count that the frame cannot hold
        let mut w = Writer::new();
        w.u8(9);
        w.varint(u64::MAX);
        assert!(Request::decode(&w.buf).is_err());
    }
}
