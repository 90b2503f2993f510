//! Property tests: round trips of every format, and decoders that never panic, whatever the bytes.

use proptest::prelude::*;
use std::collections::BTreeSet;
use tern::plan::delta::Delta;
use tern::plan::saved::SavedPlan;
use tern::remote::protocol::{Request, Response};
use tern::tree::chunk::digest_reader;
use tern::tree::codec::{Reader, Writer};
use tern::tree::manifest::{Entry, Kind, Manifest, Meta, Mtime, Xattr, Xattrs};
use tern::tree::path::RelPath;

/// Path-ish byte strings: components from a small alphabet (so paths share prefixes and nest),
/// with the bytes that matter: '/', '.', NUL, newline, 0xff.
fn raw_path() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![b'a', b'b', b'/', b'.', 0u8, b'\n', 0xff, b'-']),
        0..24,
    )
}

/// A valid manifest: unique paths whose parents are directories.
fn manifest() -> impl Strategy<Value = Manifest> {
    let names = prop::collection::vec(
        prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c', b'\xff']), 1..3),
        1..4,
    );
    (
        prop::collection::vec(
            (names, 0u8..3, any::<u32>(), any::<i64>(), 0u32..1_000_000_000, any::<u8>()),
            0..20,
        ),
        any::<u64>(),
    )
        .prop_map(|(items, generation)| {
            let mut seen = BTreeSet::new();
            let mut entries = Vec::new();
            for (comps, kind, mode, secs, nanos, seed) in items {
                // About one entry in four carries extended attributes.
                let xattrs = match seed % 4 {
                    0 => Xattrs::new(vec![
                        Xattr { name: b"user.a".as_slice().into(), value: vec![seed; 3].into() },
                        Xattr { name: b"trusted.b".as_slice().into(), value: [].into() },
                    ]),
                    _ => Xattrs::default(),
                };
                let meta = Meta {
                    mode: mode & 0o7777,
                    mtime: Mtime { secs, nanos },
                    xattrs,
                    ..Default::default()
                };
                // every ancestor as a directory first
                for depth in 1..comps.len() {
                    let p = RelPath::new(comps[..depth].join(&b'/')).unwrap();
                    if seen.insert(p.clone()) {
                        entries.push(Entry { path: p, meta: meta.clone(), kind: Kind::Dir });
                    }
                }
                let p = RelPath::new(comps.join(&b'/')).unwrap();
                if !seen.insert(p.clone()) {
                    continue;
                }
                let kind = match kind {
                    0 => Kind::Dir,
                    1 => Kind::Symlink(vec![b'x', seed.max(1)]),
                    _ => Kind::File(digest_reader(&vec![seed; seed as usize * 7][..]).unwrap()),
                };
                entries.push(Entry { path: p, meta: meta.clone(), kind });
            }
            // a file or symlink cannot have children: drop entries below non-directories
            let mut m = Manifest { generation, entries };
            m.sort();
            let dirs: BTreeSet<RelPath> =
                m.entries.iter().filter(|e| e.kind == Kind::Dir).map(|e| e.path.clone()).collect();
            m.entries.retain(|e| e.path.parent().is_none_or(|p| dirs.contains(&p)));
            loop {
                let present: BTreeSet<RelPath> = m.entries.iter().map(|e| e.path.clone()).collect();
                let before = m.entries.len();
                m.entries.retain(|e| e.path.parent().is_none_or(|p| present.contains(&p)));
                if m.entries.len() == before {
                    break;
                }
            }
            m
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_valid_rel_path_never_leaves_its_root(bytes in raw_path()) {
        if let Ok(p) = RelPath::new(bytes.clone()) {
            let root = std::path::Path::new("/root/of/dest");
            let joined = root.join(p.as_path());
            prop_assert!(joined.starts_with(root));
            prop_assert!(!bytes.is_empty() && bytes[0] != b'/' && !bytes.contains(&0));
            for c in p.components() {
                prop_assert!(!c.is_empty() && c != b"." && c != b"..");
            }
            prop_assert_eq!(RelPath::new(p.as_bytes().to_vec()).unwrap(), p);
        }
    }

    #[test]
    fn codec_round_trips(v in any::<u64>(), z in any::<i64>(), b in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut w = Writer::new();
        w.varint(v);
        w.zigzag(z);
        w.bytes(&b);
        let mut r = Reader::new(&w.buf);
        prop_assert_eq!(r.varint("v").unwrap(), v);
        prop_assert_eq!(r.zigzag("z").unwrap(), z);
        prop_assert_eq!(r.bytes("b", 64).unwrap(), &b[..]);
        prop_assert!(r.finish("t").is_ok());
    }

    #[test]
    fn manifests_round_trip(m in manifest()) {
        prop_assert!(m.validate().is_ok());
        prop_assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn deltas_rebuild_the_next_manifest(a in manifest(), b in manifest()) {
        let mut base = a;
        let mut next = b;
        next.generation = base.generation.wrapping_add(1);
        base.sort();
        next.sort();
        let delta = Delta::between(&base, &next, &Default::default()).unwrap();
        prop_assert_eq!(Delta::decode(&delta.encode()).unwrap(), delta.clone());
        prop_assert_eq!(delta.apply(base, |_| None).unwrap(), next);
    }

    /// A plan's new manifest is the source's entries with some destination entries kept among
    /// them (taken over without a copy); the source comes back out of the plan unchanged.
    #[test]
    fn plans_keep_the_source_and_only_whole_destination_entries(a in manifest(), b in manifest(), delete in any::<bool>()) {
        let opts = tern::plan::PlanOptions { delete, ..Default::default() };
        let p = tern::plan::plan(&a, &b, &[], &opts);
        prop_assert_eq!(&p.source().to_manifest(0), &Manifest { generation: 0, ..a.clone() });
        let new = &p.new_manifest().to_manifest();
        prop_assert!(new.validate().is_ok());
        for e in &new.entries {
            let from_source = a.get(&e.path) == Some(e);
            prop_assert!(from_source || (!delete && b.get(&e.path) == Some(e)), "{:?}", e.path);
            // Found by path too, whether the source's or kept.
            prop_assert_eq!(p.new_manifest().get(&e.path), Some(e.clone()));
        }
        // Every change that writes an entry names the new manifest's entry at its path.
        for c in p.iter() {
            if let Some(n) = &c.new {
                prop_assert_eq!(new.get(&c.path), Some(n));
            }
        }
        prop_assert_eq!(new.entries.len() as u64, a.entries.len() as u64 + p.stats.kept);
        if delete {
            prop_assert_eq!(p.stats.kept, 0);
        }
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Manifest::decode(&bytes);
        let _ = Manifest::decode_body(&bytes);
        let _ = Request::decode(&bytes);
        let _ = Response::decode(&bytes);
        let _ = Delta::decode(&bytes);
        let _ = SavedPlan::decode(&bytes);
        let mut framed: &[u8] = &bytes;
        let _ = tern::remote::protocol::read_frame(&mut framed);
    }

    #[test]
    fn mutated_manifests_decode_to_errors_or_valid_manifests(m in manifest(), at in any::<usize>(), flip in 1u8..) {
        let mut body = m.encode_body();
        if !body.is_empty() {
            let i = at % body.len();
            body[i] ^= flip;
        }
        if let Ok(decoded) = Manifest::decode_body(&body) {
            prop_assert!(decoded.validate().is_ok());
        }
    }
}

/// `TERN_WRITE_FUZZ_SEEDS=1 cargo test --test tern fuzz_seeds` writes the seed corpus under
/// fuzz/corpus from real encodings (the corpus is committed; this keeps it reproducible).
#[test]
fn fuzz_seeds() {
    use tern::plan::patch::Base;
    use tern::transport::{CommitOp, StageHeader};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let golden =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/manifest-v2.bin"))
            .unwrap();
    let body = zstd::decode_all(&golden[10..]).unwrap();
    let m = Manifest::decode_body(&body).unwrap();
    let p = |s: &str| RelPath::new(s).unwrap();
    let meta = Meta { mode: 0o644, mtime: Mtime { secs: 1, nanos: 2 }, ..Default::default() };
    let frames: Vec<Vec<u8>> = vec![
        Request::Hello {
            version: tern::remote::protocol::PROTOCOL_VERSION,
            tern: "0.1.0".into(),
            compress_level: 3,
        }
        .encode(),
        Request::StageBegin(StageHeader {
            id: 1,
            size: 5,
            hash: tern::tree::hash::ContentHash::of_chunk(b"hello"),
            meta: meta.clone(),
        })
        .encode(),
        Request::StageReuse { from: p("a/b"), offset: 0, len: 4096 }.encode(),
        Request::CommitOps(vec![CommitOp::Trash(p("x")), CommitOp::Place { path: p("y"), id: 1 }])
            .encode(),
        Response::Outcomes([(1, tern::transport::StageOutcome::Ok)].into_iter().collect()).encode(),
        Response::Error { transient: true, message: "locked".into() }.encode(),
        Request::Scan(tern::remote::protocol::ScanRequest {
            checksum: false,
            no_xattrs: false,
            one_file_system: false,
            cache: true,
            excludes: vec!["*.tmp".into()],
            since: None,
        })
        .encode(),
        Request::ReadFiles(vec![(p("a/b"), vec![(0, 4096), (8192, 100)]), (p("c"), vec![(0, 1)])])
            .encode(),
        Request::ReadState("base-00ff".into()).encode(),
        Request::Signatures(vec![Base { from: p("a/b"), offset: 16_384, len: 8192 }]).encode(),
        Request::StageDelta {
            base: Base { from: p("a/b"), offset: 0, len: 5 },
            len: 5,
            hash: tern::tree::hash::ContentHash::of_chunk(b"hello"),
            delta: vec![0x72, 0x73, 0x02, 0x36, 0x41, 5, b'h', b'e', b'l', b'l', b'o', 0],
        }
        .encode(),
    ];
    let mut next = m.clone();
    next.generation += 1;
    next.entries.pop();
    let delta = Delta::between(&m, &next, &Default::default()).unwrap().encode();
    // A hash cache body (format 4): the scan's start, then per file its path, mode, mtime,
    // owner, group, ctime, inode, device and digest, then an empty path.
    let mut cache = tern::tree::codec::Writer::new();
    cache.varint(1_700_000_000);
    cache.varint(0);
    for (path, size) in [("a", 1), ("d/b", 3)] {
        cache.bytes(path.as_bytes());
        for v in [0o644, 1_700_000_000 * 2, 5, 1000, 1000, 1_700_000_000 * 2, 0, 42, 2049] {
            cache.varint(v);
        }
        cache.varint(size);
        cache.fixed(&tern::tree::hash::ContentHash::of_chunk(path.as_bytes()).0);
        cache.varint(0);
    }
    cache.bytes(b"");
    let seeds: Vec<(&str, String, Vec<u8>)> =
        std::iter::once(("manifest", "golden-body".to_string(), body.clone()))
            .chain(
                frames.into_iter().enumerate().map(|(i, f)| ("protocol", format!("frame-{i}"), f)),
            )
            .chain(std::iter::once(("delta", "drop-one".to_string(), delta)))
            .chain(std::iter::once(("hashcache", "two-files".to_string(), cache.buf)))
            .chain(
                ["a/b/c", "../x", "/abs", "caf\u{e9}/\n", "a//b"]
                    .iter()
                    .enumerate()
                    .map(|(i, s)| ("relpath", format!("p{i}"), s.as_bytes().to_vec())),
            )
            .chain(std::iter::once((
                "jobfile",
                "example".to_string(),
                std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/tern.example.toml"))
                    .unwrap(),
            )))
            .collect();
    for (target, name, data) in &seeds {
        let file = dir.join(target).join(name);
        if std::env::var_os("TERN_WRITE_FUZZ_SEEDS").is_some() {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, data).unwrap();
        }
        assert_eq!(
            &std::fs::read(&file).unwrap_or_default(),
            data,
            "stale fuzz seed {}; rewrite with TERN_WRITE_FUZZ_SEEDS=1",
            file.display()
        );
    }
}
