//! The agent: `tern serve --root PATH`, run on the destination host through SSH.
//!
//! It reads requests from stdin and applies them to its root with [`LocalDir`], the same
//! crash-safe code a local destination uses. Every path it receives is a [`crate::path::RelPath`]
//! (validated when the frame is decoded), so no request can name anything outside the root; and
//! `LocalDir` never writes through a symlink. The agent writes to stdout only in reply to a
//! question, never while the client may be writing, and nothing to stderr until it exits.

use super::wire::Wire;
use super::{MAX_DATA, PROTOCOL_VERSION, Request, Response};
use crate::codec::DecodeError;
use crate::delta::{Delta, DeltaDecoder};
use crate::hash::ContentHash;
use crate::manifest::Manifest;
use crate::path::KnownPaths;
use crate::transport::local::LocalDir;
use crate::transport::{Commit, CommitOp, Transport, TransportError};
use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::path::PathBuf;

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

/// Serve one client until it says `Bye` or hangs up.
pub fn serve(root: PathBuf, input: impl Read, output: impl Write) -> Result<(), AgentError> {
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
    let mut ops = Vec::new();
    // The manifest delta, decoded as its parts come (its first error is reported at the commit).
    // It comes after the operations, whose paths its own share.
    let mut delta: Option<Result<DeltaDecoder, DecodeError>> = None;
    while let Some(body) = wire.recv()? {
        let req = Request::decode_frame(body).map_err(|e| AgentError::Protocol(e.to_string()))?;
        let reply = match req {
            Request::Hello { .. } => return Err(AgentError::Protocol("second hello".into())),
            Request::Bye => return Ok(()),
            Request::Admin(json) => match serde_json::from_str::<crate::maintain::AdminOp>(&json) {
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
            },
            Request::ManifestInfo => match manifest_file(&dest) {
                Ok(Some(bytes)) => {
                    // Asked before every sync: only the generation, not every entry, is decoded.
                    let generation = Manifest::peek_generation(&bytes).unwrap_or(0);
                    Response::ManifestInfo(Some((generation, ContentHash::of(&bytes))))
                }
                Ok(None) => Response::ManifestInfo(None),
                Err(e) => error_reply(&e),
            },
            Request::ReadManifest => {
                match manifest_file(&dest) {
                    Ok(bytes) => {
                        for part in bytes.unwrap_or_default().chunks(MAX_DATA) {
                            wire.send(&Response::Data(part.to_vec()).encode())?;
                        }
                        wire.send(&Response::DataEnd.encode())?;
                    }
                    Err(e) => wire.send(&error_reply(&e).encode())?,
                }
                wire.flush()?;
                continue;
            }
            Request::Lock => match dest.lock() {
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
                ops.extend(more);
                continue;
            }
            Request::CommitDelta(part) => {
                if delta.is_none() {
                    // Every operation has come: they keep a list of their own size.
                    ops.shrink_to_fit();
                }
                let decoder = delta.get_or_insert_with(|| {
                    let paths = ops.iter().map(|op: &CommitOp| op.path().clone()).collect();
                    Ok(DeltaDecoder::sharing(KnownPaths::new(paths)))
                });
                if let Ok(d) = decoder
                    && let Err(e) = d.feed(&part)
                {
                    *decoder = Err(e);
                }
                continue;
            }
            Request::Commit { run_id } => {
                let ops = std::mem::take(&mut ops);
                let decoded = delta.take().unwrap_or_else(|| Ok(DeltaDecoder::default()));
                let next = match failed.take() {
                    Some(e) => Err(error_reply(&e)),
                    None => next_manifest(&mut dest, decoded.and_then(DeltaDecoder::finish))
                        .map_err(|message| Response::Error { transient: false, message }),
                };
                match next {
                    Err(reply) => reply,
                    Ok(m) => match dest.commit(Commit {
                        run_id,
                        ops,
                        manifest: Cow::Owned(m),
                        base: None,
                    }) {
                        Ok(report) => Response::Committed(report),
                        Err(e) => error_reply(&e),
                    },
                }
            }
        };
        wire.send(&reply.encode())?;
        wire.flush()?;
    }
    Ok(())
}

/// The manifest a commit will store: the committed one with the client's delta applied.
fn next_manifest(
    dest: &mut LocalDir,
    delta: Result<Delta, DecodeError>,
) -> Result<Manifest, String> {
    let delta = delta.map_err(|e| format!("client sent a bad manifest delta: {e}"))?;
    let base = dest.read_manifest().map_err(|e| error_chain(&e))?.unwrap_or_default();
    delta
        .apply(base, |id| dest.staged_digest(id).cloned())
        .map_err(|e| format!("cannot apply the manifest delta: {e}; run the sync again"))
}

fn stage(failed: &mut Option<TransportError>, f: impl FnOnce() -> Result<(), TransportError>) {
    if failed.is_none()
        && let Err(e) = f()
    {
        *failed = Some(e);
    }
}

fn manifest_file(dest: &LocalDir) -> Result<Option<Vec<u8>>, TransportError> {
    if !dest.check_root()? {
        return Ok(None);
    }
    let path = dest.root().join(crate::scan::STATE_DIR).join("manifest");
    match std::fs::read(&path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TransportError::io("read", path.display(), e)),
    }
}
