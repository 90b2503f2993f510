//! The agent (`tern serve`) confined to its root: hostile frames from a client are refused and
//! nothing is written or read outside the root, symlinks included.

use crate::harness::*;
use std::fs;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use tern::plan::delta::Delta;
use tern::remote::protocol::{PROTOCOL_VERSION, Request, Response, read_frame, write_frame};
use tern::transport::{CommitOp, StageHeader, StageOutcome};
use tern::tree::chunk::FileDigest;
use tern::tree::codec::Writer;
use tern::tree::hash::ContentHash;
use tern::tree::manifest::{Entry, Kind, Manifest, Meta, Mtime};
use tern::tree::path::RelPath;

struct Agent {
    child: Child,
}

impl Agent {
    fn start(root: &std::path::Path) -> Agent {
        let child = Command::new(TERN)
            .args(["serve", "--root"])
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut a = Agent { child };
        let hello =
            Request::Hello { version: PROTOCOL_VERSION, tern: "test".into(), compress_level: 0 };
        a.send_raw(&hello.encode());
        assert!(matches!(a.recv(), Response::Hello { .. }));
        a
    }

    fn send_raw(&mut self, body: &[u8]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        write_frame(stdin, body).unwrap();
        stdin.flush().unwrap();
    }

    fn send(&mut self, r: Request) {
        self.send_raw(&r.encode());
    }

    fn recv(&mut self) -> Response {
        let body = read_frame(self.child.stdout.as_mut().unwrap()).unwrap().expect("a reply");
        Response::decode(&body).unwrap()
    }

    /// Close stdin and collect the exit status and stderr.
    fn finish(mut self) -> (bool, String) {
        drop(self.child.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

#[test]
fn paths_that_escape_the_root_end_the_session() {
    let env = Env::new();
    env.tree("outside").file("victim", "untouched");
    for bad in [&b"../outside/victim"[..], b"/etc/passwd", b"a//b", b"a/./b", b"x\0y"] {
        let mut agent = Agent::start(&env.dst());
        agent.send(Request::Lock);
        assert_eq!(agent.recv(), Response::Ok);
        // a Trash op naming the bad path, encoded by hand since RelPath refuses to hold it
        let mut w = Writer::new();
        w.u8(9);
        w.varint(1);
        w.u8(0);
        w.bytes(bad);
        agent.send_raw(&w.buf);
        let (ok, err) = agent.finish();
        assert!(!ok, "agent accepted {bad:?}");
        assert!(err.contains("bad request"), "{err}");
    }
    assert_eq!(fs::read(env.path("outside/victim")).unwrap(), b"untouched");
}

/// A reused range must start and end on chunk boundaries of the destination's file: the agent
/// reads the chunks it covers from the manifest and verifies them; any other range fails its
/// file (the client then sends it whole), a range whose end overflows included.
#[test]
fn a_reused_range_is_used_only_on_chunk_boundaries() {
    let env = Env::new();
    fs::create_dir_all(env.dst().join(".tern")).unwrap();
    fs::write(env.dst().join("f"), b"aaaabbbbcccc").unwrap();
    let chunk = |c: &[u8]| tern::tree::chunk::ChunkRef { len: 4, hash: ContentHash::of_chunk(c) };
    let digest = FileDigest::of_chunks(vec![chunk(b"aaaa"), chunk(b"bbbb"), chunk(b"cccc")]);
    let meta = Meta { mode: 0o644, mtime: Mtime { secs: 1, nanos: 0 }, ..Default::default() };
    let entries = vec![Entry { path: p("f"), meta: meta.clone(), kind: Kind::File(digest) }];
    Manifest { generation: 1, entries }.store(&env.dst().join(".tern/manifest")).unwrap();
    let mut agent = Agent::start(&env.dst());
    agent.send(Request::Lock);
    assert_eq!(agent.recv(), Response::Ok);
    let ranges = [(4, 4, 4), (4, 8, 8), (2, 4, 4), (4, 6, 6), (8, u64::MAX, 4), (12, 4, 4)];
    for (id, (offset, len, size)) in ranges.into_iter().enumerate() {
        let bytes = &b"aaaabbbbcccc"[4..4 + size as usize];
        let hash = FileDigest::of_chunks(bytes.chunks(4).map(chunk).collect()).hash;
        let id = id as u64;
        agent.send(Request::StageBegin(StageHeader { id, size, hash, meta: meta.clone() }));
        agent.send(Request::StageReuse { from: p("f"), offset, len });
        agent.send(Request::StageEnd);
    }
    agent.send(Request::FinishStaging);
    let Response::Outcomes(outcomes) = agent.recv() else { panic!("no outcomes") };
    let failed = |id| (id, StageOutcome::ReuseFailed(p("f")));
    let ok = |id| (id, StageOutcome::Ok);
    let want = [ok(0), ok(1), failed(2), failed(3), failed(4), failed(5)];
    assert_eq!(outcomes, want.into_iter().collect());
}

#[test]
fn reuse_through_a_symlink_is_refused_and_writes_stay_inside() {
    let env = Env::new();
    env.tree("outside").file("secret", "top secret data");
    fs::create_dir(env.dst()).unwrap();
    std::os::unix::fs::symlink(env.path("outside"), env.dst().join("link")).unwrap();
    let secret_hash = ContentHash::of_chunk(b"top secret data");
    // a manifest that claims link/ is a directory holding that very file: only the symlink check
    // can stop the agent from reading outside its root
    fs::create_dir(env.dst().join(".tern")).unwrap();
    let meta0 = Meta { mode: 0o755, mtime: Mtime { secs: 1, nanos: 0 }, ..Default::default() };
    let digest = FileDigest::new(15, secret_hash, vec![]).unwrap();
    let claimed = Manifest {
        generation: 1,
        entries: vec![
            Entry { path: p("link"), meta: meta0.clone(), kind: Kind::Dir },
            Entry { path: p("link/secret"), meta: meta0.clone(), kind: Kind::File(digest) },
        ],
    };
    claimed.store(&env.dst().join(".tern/manifest")).unwrap();
    let mut agent = Agent::start(&env.dst());
    agent.send(Request::Lock);
    assert_eq!(agent.recv(), Response::Ok);
    let meta = Meta { mode: 0o644, mtime: Mtime { secs: 1, nanos: 0 }, ..Default::default() };
    agent.send(Request::StageBegin(StageHeader {
        id: 1,
        size: 15,
        hash: secret_hash,
        meta: meta.clone(),
    }));
    agent.send(Request::StageReuse { from: p("link/secret"), offset: 0, len: 15 });
    agent.send(Request::StageEnd);
    // a file staged from sent data, to be placed *through* the symlinked directory
    let data = b"inside only";
    let hash = ContentHash::of_chunk(data);
    agent.send(Request::StageBegin(StageHeader {
        id: 2,
        size: data.len() as u64,
        hash,
        meta: meta.clone(),
    }));
    agent.send(Request::StageChunk(data.to_vec()));
    agent.send(Request::StageEnd);
    agent.send(Request::FinishStaging);
    let Response::Outcomes(outcomes) = agent.recv() else { panic!("no outcomes") };
    assert_eq!(
        outcomes,
        [(1, StageOutcome::ReuseFailed(p("link/secret"))), (2, StageOutcome::Ok)]
            .into_iter()
            .collect()
    );
    agent.send(Request::CommitOps(vec![CommitOp::Place { path: p("link/x"), id: 2 }]));
    let next = Manifest {
        generation: 2,
        entries: vec![
            Entry { path: p("link"), meta: meta0.clone(), kind: Kind::Dir },
            Entry {
                path: p("link/x"),
                meta: meta.clone(),
                kind: Kind::File(FileDigest::new(11, hash, vec![]).unwrap()),
            },
        ],
    };
    let staged = std::collections::HashMap::from([(p("link/x"), 2)]);
    agent.send(Request::CommitDelta(Delta::between(&claimed, &next, &staged).unwrap().encode()));
    agent.send(Request::Commit { run_id: "r1".into() });
    assert!(matches!(agent.recv(), Response::Committed(_)));
    agent.send(Request::Bye);
    assert!(agent.finish().0);
    // nothing landed outside; the symlink went to the trash and a real directory took its place
    assert!(!env.path("outside/x").exists());
    assert_eq!(fs::read(env.dst().join("link/x")).unwrap(), data);
    assert!(fs::symlink_metadata(env.dst().join("link")).unwrap().is_dir());
    assert!(
        fs::symlink_metadata(env.dst().join(".tern/trash/r1/link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn oversized_and_garbage_frames_are_refused() {
    let env = Env::new();
    let mut agent = Agent::start(&env.dst());
    let stdin = agent.child.stdin.as_mut().unwrap();
    stdin.write_all(&u32::MAX.to_le_bytes()).unwrap();
    stdin.flush().unwrap();
    let (ok, err) = agent.finish();
    assert!(!ok);
    assert!(err.contains("limit"), "{err}");
    let mut agent = Agent::start(&env.dst());
    agent.send_raw(&[200, 1, 2, 3]);
    let (ok, err) = agent.finish();
    assert!(!ok && err.contains("bad request"), "{err}");
    assert!(!env.dst().join(".tern").exists(), "garbage must not create state");
}

#[test]
fn staged_files_are_checked_against_the_announced_hash_of_their_chunks() {
    let env = Env::new();
    fs::create_dir(env.dst()).unwrap();
    let mut agent = Agent::start(&env.dst());
    agent.send(Request::Lock);
    assert_eq!(agent.recv(), Response::Ok);
    let meta = Meta { mode: 0o644, mtime: Mtime { secs: 1, nanos: 0 }, ..Default::default() };
    let one = b"a file that is one chunk".to_vec();
    // 3 MiB, sent as its content-defined chunks, one per frame.
    let big = noise(5, 3 << 20);
    let digest = tern::tree::chunk::digest_reader(&big[..]).unwrap();
    let frames_of = |data: &'_ [u8]| -> Vec<Vec<u8>> {
        let at = |c: &tern::tree::chunk::ChunkAt| {
            c.offset as usize..(c.offset + u64::from(c.len)) as usize
        };
        digest.chunks().iter().map(|c| data[at(c)].to_vec()).collect()
    };
    let mut flipped = big.clone();
    flipped[2 << 20] ^= 1;
    // (id, announced content, hash announced, frames actually sent)
    type Case<'a> = (u64, &'a [u8], ContentHash, Vec<Vec<u8>>);
    let cases: Vec<Case<'_>> = vec![
        (1, &one, ContentHash::of_chunk(&one), vec![one.clone()]),
        (2, &one, ContentHash::of_chunk(b"something else"), vec![one.clone()]),
        // one whole-file chunk first, then bytes beyond the announced size
        (3, &one, ContentHash::of_chunk(&one), vec![one.clone(), b"more".to_vec()]),
        (4, &big, digest.hash, frames_of(&big)),
        (5, &big, digest.hash, frames_of(&flipped)),
        // the right bytes, cut at other places than the announced chunk list's
        (6, &big, digest.hash, big.chunks(65536).map(<[u8]>::to_vec).collect()),
    ];
    for (id, content, hash, frames) in &cases {
        let size = content.len() as u64;
        agent.send(Request::StageBegin(StageHeader {
            id: *id,
            size,
            hash: *hash,
            meta: meta.clone(),
        }));
        for f in frames {
            agent.send(Request::StageChunk(f.clone()));
        }
        agent.send(Request::StageEnd);
    }
    agent.send(Request::FinishStaging);
    let Response::Outcomes(outcomes) = agent.recv() else { panic!("no outcomes") };
    use StageOutcome::{Mismatch, Ok};
    assert_eq!(
        outcomes,
        [(1, Ok), (2, Mismatch), (3, Mismatch), (4, Ok), (5, Mismatch), (6, Mismatch)]
            .into_iter()
            .collect()
    );
    let (ok, err) = agent.finish();
    assert!(ok, "{err}");
}

/// A commit whose manifest delta does not give the manifest it announces (a lying or buggy
/// client), or that is cut short, is refused before any operation is applied: the staged file is
/// not placed, the manifest is untouched, and an honest commit in the same session still works.
#[test]
fn a_commit_whose_delta_does_not_add_up_changes_nothing() {
    let env = Env::new();
    fs::create_dir_all(env.dst().join(".tern")).unwrap();
    let meta = Meta { mode: 0o644, mtime: Mtime { secs: 7, nanos: 0 }, ..Default::default() };
    let old = Manifest {
        generation: 1,
        entries: vec![Entry {
            path: p("keep"),
            meta: meta.clone(),
            kind: Kind::File(FileDigest::new(0, ContentHash::of_chunk(b""), vec![]).unwrap()),
        }],
    };
    fs::write(env.dst().join("keep"), "").unwrap();
    old.store(&env.dst().join(".tern/manifest")).unwrap();
    let stored = fs::read(env.dst().join(".tern/manifest")).unwrap();
    let mut agent = Agent::start(&env.dst());
    agent.send(Request::Lock);
    assert_eq!(agent.recv(), Response::Ok);
    let data = b"new content";
    let hash = ContentHash::of_chunk(data);
    let digest = FileDigest::new(data.len() as u64, hash, vec![]).unwrap();
    let mut next = old.clone();
    next.generation = 2;
    next.entries.push(Entry { path: p("new"), meta: meta.clone(), kind: Kind::File(digest) });
    let no_staged = std::collections::HashMap::new();
    let honest = Delta::between(&old, &next, &no_staged).unwrap();
    let mut lying = honest.clone();
    lying.expected = ContentHash::of(b"some other manifest");
    let cut = honest.encode()[..honest.encode().len() - 1].to_vec();
    for (id, delta, says) in [(1, lying.encode(), "differs"), (2, cut, "malformed")] {
        let size = data.len() as u64;
        agent.send(Request::StageBegin(StageHeader { id, size, hash, meta: meta.clone() }));
        agent.send(Request::StageChunk(data.to_vec()));
        agent.send(Request::StageEnd);
        agent.send(Request::FinishStaging);
        let Response::Outcomes(staged) = agent.recv() else { panic!("no outcomes") };
        assert_eq!(staged, [(id, StageOutcome::Ok)].into_iter().collect());
        agent.send(Request::CommitOps(vec![CommitOp::Place { path: p("new"), id }]));
        agent.send(Request::CommitDelta(delta));
        agent.send(Request::Commit { run_id: "r1".into() });
        let Response::Error { message, transient: false } = agent.recv() else {
            panic!("the commit was not refused")
        };
        assert!(message.contains("cannot apply the manifest delta") && message.contains(says));
        assert!(!env.dst().join("new").exists(), "{says}: the staged file was placed");
        assert_eq!(fs::read(env.dst().join(".tern/manifest")).unwrap(), stored, "{says}");
    }
    agent.send(Request::CommitOps(vec![CommitOp::Place { path: p("new"), id: 2 }]));
    agent.send(Request::CommitDelta(honest.encode()));
    agent.send(Request::Commit { run_id: "r2".into() });
    assert!(matches!(agent.recv(), Response::Committed(_)));
    assert_eq!(fs::read(env.dst().join("new")).unwrap(), data);
    let written = Manifest::load(&env.dst().join(".tern/manifest")).unwrap().unwrap();
    assert_eq!(written, next);
    agent.send(Request::Bye);
    assert!(agent.finish().0);
}
