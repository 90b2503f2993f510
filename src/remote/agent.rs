//! The agent: `tern serve --root PATH`, run on the destination host through SSH.
//!
//! It reads requests from stdin and applies them to its root with [`LocalDir`], the same crash-safe
//! code a local destination uses. Every path it receives is a [`crate::tree::path::RelPath`]
//! (validated when the frame is decoded), so no request can name anything outside the root; and
//! `LocalDir` never writes through a symlink. The agent writes to stdout only in reply to a
//! question, never while the client may be writing, and nothing to stderr until it exits.

use super::protocol::{PROTOCOL_VERSION, Request, Response, decode_op, encode_op};
use super::wire::Wire;
use crate::transport::local::LocalDir;
use crate::transport::{CommitOp, CommitReport, Transport, TransportError};
use crate::tree::codec::{StreamReader, Writer};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The size of the parts a file is sent in: small next to the 4 MiB a frame may carry, as the
/// agent holds the part and its frame while it sends.
pub(crate) const FILE_PART: usize = 256 * 1024;
/// Largest state file (a two-way base) a client may write.
const MAX_STATE: usize = 1 << 31;

/// Why the agent stopped before the client said goodbye.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("connection to the client failed")]
    Io(#[from] io::Error),
    #[error("client sent a bad request: {0}")]
    Protocol(String),
    #[error("client speaks protocol {theirs}, this agent speaks {ours}")]
    Version { ours: u32, theirs: u32 },
}

fn error_reply(e: &TransportError) -> Response {
    Response::Error { transient: e.is_transient(), message: error_chain(e) }
}

/// An error with all its causes: `cannot write x: No space left on device`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// The destination a restricted agent (`tern serve --restrict-to DIR`, a forced command in
/// `authorized_keys`) may serve: the one the client asked for (`root`, else the `--root` of
/// the command the client sent, which sshd passes as `SSH_ORIGINAL_COMMAND`), if it is `dir`
/// or below it once symlinks are resolved. Anything else is refused before anything is read.
pub fn restricted_root(
    dir: &Path,
    root: Option<&Path>,
    original_command: Option<&str>,
) -> Result<PathBuf, String> {
    let asked = match root {
        Some(r) => r.to_path_buf(),
        None => {
            let cmd = original_command.ok_or(
                "no destination: this agent is restricted (--restrict-to) and was started without \
                 --root or SSH_ORIGINAL_COMMAND",
            )?;
            let words = shell_words(cmd);
            let at = words.iter().position(|w| w == "--root");
            let given = at
                .and_then(|i| words.get(i + 1))
                .cloned()
                .or_else(|| words.iter().find_map(|w| w.strip_prefix("--root=").map(String::from)));
            match given {
                Some(r) if words.iter().any(|w| w == "serve") => PathBuf::from(r),
                _ => return Err(format!("refused {cmd:?}: this key may only run tern serve")),
            }
        }
    };
    let allowed = std::fs::canonicalize(dir)
        .map_err(|e| format!("cannot resolve the restricted directory {}: {e}", dir.display()))?;
    // The destination may not exist yet: resolve the part that does, and allow no `..` after it.
    let absolute = std::env::current_dir().map(|d| d.join(&asked)).unwrap_or(asked.clone());
    let mut existing = absolute.clone();
    let mut rest = Vec::new();
    let resolved = loop {
        match std::fs::canonicalize(&existing) {
            Ok(p) => break p,
            Err(_) => match (existing.file_name(), existing.parent()) {
                (Some(name), Some(parent)) => {
                    rest.push(name.to_owned());
                    existing = parent.to_path_buf();
                }
                _ => return Err(format!("cannot resolve {}", asked.display())),
            },
        }
    };
    if rest.iter().any(|c| c == "..") {
        return Err(format!("refused {}: `..` in a path that does not exist", asked.display()));
    }
    let resolved = rest.iter().rev().fold(resolved, |p, c| p.join(c));
    if !resolved.starts_with(&allowed) {
        return Err(format!(
            "refused {}: this agent serves only {} and below it",
            asked.display(),
            allowed.display()
        ));
    }
    Ok(resolved)
}

/// Split a command line as a POSIX shell does for plain words, '…' and "…" quotes and `\`.
fn shell_words(s: &str) -> Vec<String> {
    let (mut words, mut cur, mut in_word) = (Vec::new(), String::new(), false);
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                cur.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// What a client may ask of this agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Serve manifests, plans and verify only: no lock, no staging, no commit, no purge or undo
    /// (`tern serve --read-only`).
    pub read_only: bool,
}

const READ_ONLY: &str =
    "this agent is read-only (tern serve --read-only): it serves plans and verify, not writes";

/// Serve one client until it says `Bye` or hangs up.
pub fn serve(root: PathBuf, input: impl Read, output: impl Write) -> Result<(), AgentError> {
    serve_limited(root, Limits::default(), input, output)
}

/// [`serve`], within `limits`.
pub fn serve_limited(
    root: PathBuf,
    limits: Limits,
    input: impl Read,
    output: impl Write,
) -> Result<(), AgentError> {
    let mut wire = Wire::plain(input, output);
    let Some(first) = wire.recv()? else {
        return Ok(());
    };
    let level = match Request::decode(&first) {
        Ok(Request::Hello { version, compress_level, .. }) => {
            wire.send(
                &Response::Hello {
                    version: PROTOCOL_VERSION,
                    tern: env!("CARGO_PKG_VERSION").into(),
                }
                .encode(),
            )?;
            wire.flush()?;
            if version != PROTOCOL_VERSION {
                return Err(AgentError::Version { ours: PROTOCOL_VERSION, theirs: version });
            }
            compress_level
        }
        Ok(other) => {
            return Err(AgentError::Protocol(format!("expected hello, got {other:?}")));
        }
        Err(e) => return Err(AgentError::Protocol(e.to_string())),
    };
    let mut wire = wire.compressed(level, false)?;
    let mut dest = LocalDir::new(root);
    // The first error while staging: reported at the next question, later staging is ignored.
    let mut failed: Option<TransportError> = None;
    // The commit's operations and manifest delta, written to disk as they come.
    let mut spool = Spool::default();
    // The bytes of the next state file, as they come.
    let mut state: Vec<u8> = Vec::new();
    while let Some(body) = wire.recv()? {
        let req = Request::decode_frame(body).map_err(|e| AgentError::Protocol(e.to_string()))?;
        if limits.read_only {
            let refused = || Response::Error { transient: false, message: READ_ONLY.into() };
            let reply = match &req {
                Request::Lock
                | Request::Unlock
                | Request::Commit { .. }
                | Request::WriteState(_)
                | Request::WriteStateDelta { .. } => Some(refused()),
                Request::StatePart(_) => continue,
                Request::Admin(json) => {
                    serde_json::from_str::<crate::transport::admin::AdminOp>(json)
                        .ok()
                        .filter(|op| {
                            !matches!(
                                op,
                                crate::transport::admin::AdminOp::Verify { .. }
                                    | crate::transport::admin::AdminOp::TrashList
                            )
                        })
                        .map(|_| refused())
                }
                Request::StageBegin(_)
                | Request::StageReuse { .. }
                | Request::StageChunk(_)
                | Request::StageDelta { .. }
                | Request::StageEnd
                | Request::CommitOps(_)
                | Request::CommitDelta(_) => {
                    failed.get_or_insert(TransportError::Protocol(READ_ONLY.into()));
                    continue;
                }
                _ => None,
            };
            if let Some(reply) = reply {
                wire.send(&reply.encode())?;
                wire.flush()?;
                continue;
            }
        }
        let reply = match req {
            Request::Hello { .. } => return Err(AgentError::Protocol("second hello".into())),
            Request::Bye => return Ok(()),
            Request::Admin(json) => {
                match serde_json::from_str::<crate::transport::admin::AdminOp>(&json) {
                    Err(e) => Response::Error {
                        transient: false,
                        message: format!("bad maintenance request: {e}"),
                    },
                    Ok(op) => match dest.admin(&op) {
                        Ok(result) => {
                            Response::Json(serde_json::to_string(&result).unwrap_or_default())
                        }
                        Err(e) => error_reply(&e),
                    },
                }
            }
            Request::ManifestInfo => match manifest_file(&dest) {
                // Asked before every sync: the file is hashed as it is read, and of its entries
                // only the generation, the first, is decoded.
                Ok(Some((path, file))) => match crate::tree::manifest::identify(file) {
                    Ok(info) => Response::ManifestInfo(Some(info)),
                    Err(e) => error_reply(&TransportError::io("read", path.display(), e)),
                },
                Ok(None) => Response::ManifestInfo(None),
                Err(e) => error_reply(&e),
            },
            Request::ReadManifest => {
                let sent = match manifest_file(&dest) {
                    Ok(file) => send_file(&mut wire, file)?,
                    Err(e) => Err(e),
                };
                if let Err(e) = sent {
                    wire.send(&error_reply(&e).encode())?;
                }
                wire.flush()?;
                continue;
            }
            Request::Lock => match dest.lock() {
                Ok(()) => Response::Ok,
                Err(e) => error_reply(&e),
            },
            Request::Unlock => match dest.unlock() {
                Ok(()) => Response::Ok,
                Err(e) => error_reply(&e),
            },
            Request::StageBegin(h) => {
                stage(&mut failed, || dest.stage_begin(&h));
                continue;
            }
            Request::StageReuse { from, offset, len } => {
                stage(&mut failed, || dest.stage_reuse(&from, offset, len));
                continue;
            }
            Request::StageChunk(d) => {
                stage(&mut failed, || dest.stage_chunk(&d));
                continue;
            }
            Request::StageDelta { base, len, hash, delta } => {
                stage(&mut failed, || dest.stage_delta(&base, &delta, len, hash));
                continue;
            }
            Request::Signatures(bases) => match dest.block_signatures(&bases) {
                Ok(signatures) => {
                    for signature in signatures {
                        wire.send(&Response::Data(signature.unwrap_or_default()).encode())?;
                    }
                    Response::DataEnd
                }
                Err(e) => error_reply(&e),
            },
            Request::StageEnd => {
                stage(&mut failed, || dest.stage_end());
                continue;
            }
            Request::FinishStaging => match failed.take() {
                Some(e) => error_reply(&e),
                None => match dest.finish_staging() {
                    Ok(outcomes) => Response::Outcomes(outcomes),
                    Err(e) => error_reply(&e),
                },
            },
            Request::CommitOps(more) => {
                spool.ops(&dest, &more);
                continue;
            }
            Request::CommitDelta(part) => {
                spool.delta(&dest, &part);
                continue;
            }
            Request::Scan(q) => match scan_answer(&mut dest, &q) {
                Err(e) => error_reply(&e),
                Ok((header, bytes)) => {
                    wire.send(&Response::Json(header).encode())?;
                    let file = (PathBuf::from("the scan"), io::Cursor::new(bytes));
                    if let Err(e) = send_file(&mut wire, Some(file))? {
                        wire.send(&error_reply(&e).encode())?;
                    }
                    wire.flush()?;
                    continue;
                }
            },
            Request::StateHash(name) => match dest.state_hash(&name) {
                Ok(hash) => Response::ManifestInfo(hash.map(|h| (0, h))),
                Err(e) => error_reply(&e),
            },
            Request::WriteStateDelta { name, old } => {
                let delta = std::mem::take(&mut state);
                match failed.take().map_or_else(|| dest.write_state_delta(&name, &old, &delta), Err)
                {
                    Ok(true) => Response::Ok,
                    Ok(false) => Response::DataEnd,
                    Err(e) => error_reply(&e),
                }
            }
            Request::ReadState(name) => match dest.read_state(&name) {
                Ok(None) => Response::Ok,
                Ok(Some(bytes)) => {
                    let file = Some((PathBuf::from(&name), io::Cursor::new(bytes)));
                    if let Err(e) = send_file(&mut wire, file)? {
                        wire.send(&error_reply(&e).encode())?;
                    }
                    wire.flush()?;
                    continue;
                }
                Err(e) => error_reply(&e),
            },
            Request::StatePart(part) => {
                if state.len() + part.len() <= MAX_STATE {
                    state.extend_from_slice(&part);
                } else {
                    failed.get_or_insert(TransportError::Protocol("a state file too large".into()));
                }
                continue;
            }
            Request::WriteState(name) => {
                let data = std::mem::take(&mut state);
                match failed.take().map_or_else(|| dest.write_state(&name, &data), Err) {
                    Ok(()) => Response::Ok,
                    Err(e) => error_reply(&e),
                }
            }
            Request::ReadFiles(files) => {
                for (path, ranges) in files {
                    let sent = match dest.read_ranges(&path, &ranges) {
                        Ok(reader) => {
                            send_file(&mut wire, Some((path.as_path().to_path_buf(), reader)))?
                        }
                        Err(e) => Err(e),
                    };
                    if let Err(e) = sent {
                        wire.send(&error_reply(&e).encode())?;
                    }
                }
                wire.flush()?;
                continue;
            }
            Request::Commit { run_id } => {
                let spool = std::mem::take(&mut spool);
                match failed.take().map_or_else(|| spool.commit(&mut dest, &run_id), Err) {
                    Ok(report) => Response::Committed(report),
                    Err(e) => error_reply(&e),
                }
            }
        };
        wire.send(&reply.encode())?;
        wire.flush()?;
    }
    Ok(())
}

/// A commit's operations and manifest delta, written as they arrive to unnamed files in the
/// staging directory and read back as the commit applies them: the agent's memory does not grow
/// with the size of a commit. The first error is kept and reported at the commit.
#[derive(Default)]
struct Spool {
    ops: Option<io::BufWriter<File>>,
    op_count: usize,
    delta: Option<io::BufWriter<File>>,
    failed: Option<TransportError>,
}

impl Spool {
    fn ops(&mut self, dest: &LocalDir, ops: &[CommitOp]) {
        let mut w = Writer::new();
        ops.iter().for_each(|op| encode_op(&mut w, op));
        self.op_count += ops.len();
        let spooled = append(&mut self.ops, dest, &w.buf, "spool the operations of");
        self.keep_first(spooled);
    }

    fn delta(&mut self, dest: &LocalDir, part: &[u8]) {
        let spooled = append(&mut self.delta, dest, part, "spool the manifest delta of");
        self.keep_first(spooled);
    }

    fn keep_first(&mut self, result: Result<(), TransportError>) {
        if let Err(e) = result {
            self.failed.get_or_insert(e);
        }
    }

    /// Commit what was spooled.
    fn commit(self, dest: &mut LocalDir, run_id: &str) -> Result<CommitReport, TransportError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        // A spool never written reads as empty: no operations, or a delta cut short.
        let reopen = |w: Option<io::BufWriter<File>>| -> Result<Box<dyn Read>, TransportError> {
            let Some(w) = w else { return Ok(Box::new(io::empty())) };
            let reread =
                |e| TransportError::io("read back the spooled commit of", dest.describe(), e);
            let mut file = w.into_inner().map_err(|e| reread(e.into_error()))?;
            file.seek(io::SeekFrom::Start(0)).map_err(reread)?;
            Ok(Box::new(io::BufReader::new(file)))
        };
        let (count, mut ops, delta) =
            (self.op_count, StreamReader::new(reopen(self.ops)?), reopen(self.delta)?);
        let ops = (0..count).map(move |_| {
            ops.decode(decode_op).map_err(|e| {
                TransportError::Protocol(format!("the spooled operations are unreadable: {e}"))
            })
        });
        dest.commit_delta(run_id, ops, count, delta)
    }
}

/// Append `bytes` to the spool file in `file`, made on first use.
fn append(
    file: &mut Option<io::BufWriter<File>>,
    dest: &LocalDir,
    bytes: &[u8],
    action: &'static str,
) -> Result<(), TransportError> {
    let file = match file {
        Some(file) => file,
        None => file.insert(io::BufWriter::new(dest.spool_file()?)),
    };
    file.write_all(bytes).map_err(|e| TransportError::io(action, dest.describe(), e))
}

fn stage(failed: &mut Option<TransportError>, f: impl FnOnce() -> Result<(), TransportError>) {
    if failed.is_none()
        && let Err(e) = f()
    {
        *failed = Some(e);
    }
}

/// The answer to a `Scan`: its header (the scan's issues, and whether a delta follows) and the
/// bytes that follow: the scan as a delta from the client's copy of `since` where this side
/// holds the same, else as a manifest file.
fn scan_answer(
    dest: &mut LocalDir,
    q: &super::protocol::ScanRequest,
) -> Result<(String, Vec<u8>), TransportError> {
    let excludes =
        crate::tree::filter::Excludes::new(&q.excludes).map_err(TransportError::Protocol)?;
    let opts = crate::tree::scan::ScanOptions {
        checksum: q.checksum,
        cache_file: None,
        excludes,
        no_xattrs: q.no_xattrs,
        no_hard_links: true,
        one_file_system: q.one_file_system,
    };
    let scanned = dest.scan_tree(&opts, q.cache, None)?;
    let issues: Vec<(Vec<u8>, String)> =
        scanned.issues.iter().map(|i| (i.path.as_bytes().to_vec(), i.message.clone())).collect();
    let mut now = scanned.manifest.to_manifest(0);
    let base = match &q.since {
        Some((name, hash)) => dest.state_manifest(name, hash)?,
        None => None,
    };
    let bytes = match &base {
        Some(base) => {
            now.generation = base.generation;
            let none = std::collections::HashMap::new();
            crate::plan::delta::Delta::between(base, &now, &none)
                .map_err(|e| TransportError::Protocol(format!("cannot encode the scan: {e}")))?
                .encode()
        }
        None => {
            let mut file = Vec::new();
            now.write_to(&mut file).map_err(|e| TransportError::io("encode", "the scan", e))?;
            file
        }
    };
    let header = serde_json::json!({ "issues": issues, "delta": base.is_some() }).to_string();
    Ok((header, bytes))
}

/// The destination's manifest file, open to read; `None` when it has none yet.
fn manifest_file(dest: &LocalDir) -> Result<Option<(PathBuf, File)>, TransportError> {
    if !dest.check_root()? {
        return Ok(None);
    }
    let path = dest.root().join(crate::tree::state::STATE_DIR).join("manifest");
    match crate::tree::manifest::open_if_exists(&path) {
        Ok(file) => Ok(file.map(|f| (path, f))),
        Err(e) => Err(TransportError::io("read", path.display(), e)),
    }
}

/// A file's bytes (none: no file) as `Data` parts of [`FILE_PART`] and a `DataEnd`, read as they
/// are sent: the agent holds one part, not the file. A file that cannot be read (the inner
/// error) is answered with an error in place of `DataEnd`, which the client takes as the answer
/// whatever parts came before it; the outer error is the connection's.
fn send_file(
    wire: &mut Wire<'_>,
    file: Option<(PathBuf, impl Read)>,
) -> io::Result<Result<(), TransportError>> {
    if let Some((path, mut file)) = file {
        let mut part = vec![0u8; FILE_PART];
        loop {
            let n = match crate::tree::manifest::read_up_to(&mut file, &mut part) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => return Ok(Err(TransportError::io("read", path.display(), e))),
            };
            wire.send(&Response::Data(part[..n].to_vec()).encode())?;
        }
    }
    wire.send(&Response::DataEnd.encode())?;
    Ok(Ok(()))
}
