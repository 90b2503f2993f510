//! The manifest's on-disk format is a contract: a golden file pins it.

use tern::tree::chunk::{ChunkRef, FileDigest};
use tern::tree::hash::ContentHash;
use tern::tree::manifest::{Entry, Kind, Manifest, Meta, Mtime, Special, Xattr, Xattrs};
use tern::tree::path::RelPath;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/manifest-v3.bin");
/// The format before extended attributes: read as it is, never re-sent.
const GOLDEN_V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/manifest-v2.bin");
/// The format before file hashes became hashes of chunk lists.
const GOLDEN_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/manifest-v1.bin");

fn fixed_manifest() -> Manifest {
    let meta =
        |mode, secs, nanos| Meta { mode, mtime: Mtime { secs, nanos }, ..Default::default() };
    let h = |s: &[u8]| ContentHash::of_chunk(s);
    let chunked = FileDigest::new(
        100_000,
        ContentHash::of_file(&[h(b"one"), h(b"two")]),
        vec![ChunkRef { len: 60_000, hash: h(b"one") }, ChunkRef { len: 40_000, hash: h(b"two") }],
    )
    .unwrap();
    let entries = vec![
        Entry {
            path: RelPath::new("dir").unwrap(),
            meta: meta(0o755, 1_700_000_000, 1),
            kind: Kind::Dir,
        },
        Entry {
            path: RelPath::new("dir/big").unwrap(),
            meta: meta(0o644, -5, 999_999_999),
            kind: Kind::File(chunked),
        },
        Entry {
            path: RelPath::new("dir/small").unwrap(),
            meta: meta(0o4755, 0, 0),
            kind: Kind::File(FileDigest::new(5, h(b"hello"), vec![]).unwrap()),
        },
        Entry {
            path: RelPath::new(&b"name\n\xff"[..]).unwrap(),
            meta: meta(0o777, 1, 2),
            kind: Kind::Symlink(b"../target".to_vec()),
        },
    ];
    Manifest { generation: 42, entries }
}

/// [`fixed_manifest`] with what version 3 added: extended attributes (an ACL on the directory, a
/// capability and a user attribute with an empty value on a file, a trusted one on the
/// symlink), a sparse file, a hard link, a FIFO and a device.
fn fixed_manifest_v3() -> Manifest {
    let x = |name: &str, value: &[u8]| Xattr { name: name.as_bytes().into(), value: value.into() };
    let mut m = fixed_manifest();
    m.entries[0].meta.xattrs = Xattrs::new(vec![x("system.posix_acl_default", &[2, 0, 0, 0, 1])]);
    m.entries[2].meta.xattrs =
        Xattrs::new(vec![x("user.empty", b""), x("security.capability", &[1; 20])]);
    m.entries[3].meta.xattrs = Xattrs::new(vec![x("trusted.link", b"l")]);
    m.entries[2].meta.sparse = true;
    let meta = m.entries[2].meta.clone();
    let at = |p: &[u8]| RelPath::new(p).unwrap();
    // The kinds version 3 added: a hard link, a FIFO and a character device.
    m.entries.insert(
        3,
        Entry {
            path: at(b"dir/small-link"),
            meta: meta.clone(),
            kind: Kind::HardLink(at(b"dir/small")),
        },
    );
    m.entries.insert(
        4,
        Entry {
            path: at(b"fifo"),
            meta: Meta { sparse: false, ..meta.clone() },
            kind: Kind::Special(Special::Fifo),
        },
    );
    m.entries.push(Entry {
        path: at(b"null"),
        meta: Meta { sparse: false, ..meta },
        kind: Kind::Special(Special::CharDevice { rdev: 0x103 }),
    });
    m.validate().unwrap();
    m
}

#[test]
fn golden_manifest_decodes_and_encodes_to_the_same_body() {
    let m = fixed_manifest_v3();
    if std::env::var_os("TERN_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(std::path::Path::new(GOLDEN).parent().unwrap()).unwrap();
        std::fs::write(GOLDEN, m.encode()).unwrap();
    }
    let golden = std::fs::read(GOLDEN).expect("golden file; create it with TERN_UPDATE_GOLDEN=1");
    assert_eq!(Manifest::decode(&golden).unwrap(), m, "the golden manifest decodes differently");
    // compression output may differ across zstd versions; the body is the contract
    let body_of = |bytes: &[u8]| zstd::decode_all(&bytes[10..]).unwrap();
    assert_eq!(body_of(&golden), m.encode_body(), "the encoder changed the format");
    assert_eq!(&golden[..10], b"TERNMANI\x03\x00");
}

/// A replica of the release before extended attributes keeps its manifest: version 2 decodes,
/// and its body is what this tern writes for a tree without attributes, so nothing is re-sent.
#[test]
fn the_version_2_manifest_is_read_as_it_is() {
    let v2 = std::fs::read(GOLDEN_V2).unwrap();
    assert_eq!(&v2[..10], b"TERNMANI\x02\x00");
    let m = Manifest::decode(&v2).unwrap();
    assert_eq!(m, fixed_manifest());
    assert_eq!(zstd::decode_all(&v2[10..]).unwrap(), m.encode_body());
}

#[test]
fn the_previous_format_is_refused_with_what_to_do() {
    let v1 = std::fs::read(GOLDEN_V1).unwrap();
    let err = Manifest::decode(&v1).unwrap_err().to_string();
    assert!(err.contains("version 1 was written by an older tern"), "{err}");
    assert!(err.contains("move the file aside"), "{err}");
}

#[test]
fn every_corruption_of_the_golden_file_is_an_error_or_a_valid_manifest() {
    let golden = std::fs::read(GOLDEN).unwrap();
    let body = zstd::decode_all(&golden[10..]).unwrap();
    // flip every byte of the body in turn: decoding must never panic
    for i in 0..body.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = body.clone();
            b[i] ^= flip;
            if let Ok(m) = Manifest::decode_body(&b) {
                m.validate().unwrap();
            }
        }
    }
    for n in 0..body.len() {
        assert!(Manifest::decode_body(&body[..n]).is_err(), "truncated body at {n} decoded");
    }
}
