//! `RelPath`: the one type a path may have when it crosses from one tree (or machine) to another.
//!
//! Every path stored in a manifest, sent over the wire or applied at a destination is a `RelPath`.
//! It is validated once, on construction: relative, non-empty, no `.`/`..`/empty components, no NUL,
//! bounded in length. Because the check lives in the constructor, a raw string from a manifest file or
//! a network peer can never reach the destination's filesystem without passing it.
//!
//! Paths are byte strings: on Unix a file name is any byte sequence, and tern replicates names that
//! are not UTF-8 exactly. Ordering is component-wise (a `/` sorts before every other byte), so every
//! directory is followed directly by all of its descendants: `a`, `a/b`, `a/z`, `a-b`. The diff's
//! merge-join and the decoder's parent checks rely on that property.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use triomphe::ThinArc;

/// Longest path tern accepts, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_LEN: usize = 4096;
/// Longest single component (Linux `NAME_MAX`).
pub const MAX_NAME_LEN: usize = 255;

/// Why a byte string is not a valid relative path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path {0} is absolute")]
    Absolute(String),
    #[error("path {0} has an empty, '.' or '..' component")]
    BadComponent(String),
    #[error("path {0} contains a NUL byte")]
    Nul(String),
    #[error("path {0} is longer than {MAX_PATH_LEN} bytes or has a component over {MAX_NAME_LEN}")]
    TooLong(String),
}

/// A validated, relative, byte-exact path below some root.
///
/// Shared, not copied, when cloned: a path is held by the scan, the new manifest, the commit's
/// operations and more, and 200,000 paths copied three times cost tens of MiB. Held through one
/// pointer (the length is stored with the bytes), so every entry and record with a path is a
/// word smaller than with a `std` `Arc<[u8]>`.
#[derive(Clone)]
pub struct RelPath(ThinArc<(), u8>);

/// `bytes`, in one shared allocation with their length.
fn shared(bytes: &[u8]) -> ThinArc<(), u8> {
    ThinArc::from_header_and_slice((), bytes)
}

impl PartialEq for RelPath {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for RelPath {}

impl std::hash::Hash for RelPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl Ord for RelPath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        cmp_bytes(self.as_bytes(), other.as_bytes())
    }
}

/// [`RelPath`]'s order on the bytes of two paths: component by component, so a directory comes
/// right before what it holds.
pub fn cmp_bytes(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    // NUL is not allowed in a path, so mapping '/' to 0 makes it sort before every other byte.
    let key = |&b: &u8| if b == b'/' { 0 } else { b };
    a.iter().map(key).cmp(b.iter().map(key))
}

impl PartialOrd for RelPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl RelPath {
    /// Validate `bytes` as a relative path.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, PathError> {
        let bytes = bytes.into();
        validate(&bytes)?;
        Ok(RelPath(shared(&bytes)))
    }

    /// Convert a filesystem path (relative to some root) into a `RelPath`.
    pub fn from_path(path: &Path) -> Result<Self, PathError> {
        Self::new(path.as_os_str().as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0.slice
    }

    /// The path as an OS path, to be joined onto a root.
    pub fn as_path(&self) -> &Path {
        Path::new(OsStr::from_bytes(self.as_bytes()))
    }

    /// `self/name`, validated.
    pub fn join(&self, name: &[u8]) -> Result<Self, PathError> {
        let mut v = Vec::with_capacity(self.as_bytes().len() + 1 + name.len());
        v.extend_from_slice(self.as_bytes());
        v.push(b'/');
        v.extend_from_slice(name);
        Self::new(v)
    }

    /// The parent path, or `None` for a top-level entry.
    pub fn parent(&self) -> Option<RelPath> {
        let bytes = self.as_bytes();
        let i = bytes.iter().rposition(|&b| b == b'/')?;
        Some(RelPath(shared(&bytes[..i])))
    }

    /// The components, first to last.
    pub fn components(&self) -> impl Iterator<Item = &[u8]> {
        self.as_bytes().split(|&b| b == b'/')
    }

    /// Number of components (1 for a top-level entry).
    pub fn depth(&self) -> usize {
        self.as_bytes().iter().filter(|&&b| b == b'/').count() + 1
    }

    /// This path, then its parent, up to the top-level component.
    pub fn self_and_ancestors(&self) -> impl Iterator<Item = RelPath> {
        std::iter::successors(Some(self.clone()), RelPath::parent)
    }

    /// Whether `self` is a strict ancestor of `other`.
    pub fn is_ancestor_of(&self, other: &RelPath) -> bool {
        let (mine, theirs) = (self.as_bytes(), other.as_bytes());
        theirs.len() > mine.len() && theirs.starts_with(mine) && theirs[mine.len()] == b'/'
    }

    /// Whether `self` equals `other` or lies below it.
    pub fn is_within(&self, other: &RelPath) -> bool {
        self == other || other.is_ancestor_of(self)
    }

    /// A printable, unambiguous rendering: see [`escape`].
    pub fn display(&self) -> Escaped<'_> {
        Escaped(self.as_bytes())
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelPath(\"{}\")", self.display())
    }
}

fn validate(bytes: &[u8]) -> Result<(), PathError> {
    let lossy = || escape(bytes);
    if bytes.is_empty() {
        return Err(PathError::Empty);
    }
    if bytes[0] == b'/' {
        return Err(PathError::Absolute(lossy()));
    }
    if bytes.contains(&0) {
        return Err(PathError::Nul(lossy()));
    }
    if bytes.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong(lossy()));
    }
    for c in bytes.split(|&b| b == b'/') {
        if c.is_empty() || c == b"." || c == b".." {
            return Err(PathError::BadComponent(lossy()));
        }
        if c.len() > MAX_NAME_LEN {
            return Err(PathError::TooLong(lossy()));
        }
    }
    Ok(())
}

/// Displays bytes so that no file name can forge output: printable UTF-8 passes through, a
/// backslash becomes `\\`, and control characters and invalid bytes become `\n`, `\t`, `\xNN`.
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '\n' => f.write_str("\\n")?,
                    '\t' => f.write_str("\\t")?,
                    '\r' => f.write_str("\\r")?,
                    c if c.is_control() => {
                        let mut buf = [0u8; 4];
                        for b in c.encode_utf8(&mut buf).bytes() {
                            write!(f, "\\x{b:02x}")?;
                        }
                    }
                    c => write!(f, "{c}")?,
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// [`Escaped`] as an owned string.
pub fn escape(bytes: &[u8]) -> String {
    Escaped(bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_normal_and_odd_names() {
        for ok in [
            &b"a"[..],
            b"a/b/c",
            b"-leading-dash",
            b"with space/and\nnewline",
            b"caf\xc3\xa9",
            b"\xff\xfe",
            b"...",
            b".hidden",
        ] {
            assert!(RelPath::new(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn rejects_escapes_and_garbage() {
        type Check = fn(&PathError) -> bool;
        let cases: &[(&[u8], Check)] = &[
            (b"", |e| matches!(e, PathError::Empty)),
            (b"/etc/passwd", |e| matches!(e, PathError::Absolute(_))),
            (b"..", |e| matches!(e, PathError::BadComponent(_))),
            (b"a/../../x", |e| matches!(e, PathError::BadComponent(_))),
            (b"a//b", |e| matches!(e, PathError::BadComponent(_))),
            (b"a/./b", |e| matches!(e, PathError::BadComponent(_))),
            (b"a/", |e| matches!(e, PathError::BadComponent(_))),
            (b"a\0b", |e| matches!(e, PathError::Nul(_))),
        ];
        for (bytes, check) in cases {
            let err = RelPath::new(*bytes).expect_err("must be rejected");
            assert!(check(&err), "{bytes:?} gave {err:?}");
        }
        assert!(matches!(RelPath::new(vec![b'x'; 256]), Err(PathError::TooLong(_))));
        let long: Vec<u8> =
            std::iter::repeat_n(&b"abcdefgh/"[..], 500).flatten().copied().collect();
        assert!(matches!(RelPath::new(&long[..long.len() - 1]), Err(PathError::TooLong(_))));
    }

    #[test]
    fn parent_ancestor_and_order() {
        let p = RelPath::new("a/b/c").unwrap();
        assert_eq!(p.parent().unwrap().as_bytes(), b"a/b");
        assert_eq!(RelPath::new("a").unwrap().parent(), None);
        let a = RelPath::new("a").unwrap();
        assert!(a.is_ancestor_of(&p));
        assert!(!RelPath::new("a/b/c").unwrap().is_ancestor_of(&p));
        assert!(RelPath::new("a/b/").is_err());
        assert!(!RelPath::new("ab").unwrap().is_ancestor_of(&RelPath::new("abc/d").unwrap()));
        // descendants of "a" sort directly after it, even with "a-b" around
        let mut v: Vec<RelPath> =
            ["a-b", "a/z", "a", "a/b", "b"].iter().map(|s| RelPath::new(*s).unwrap()).collect();
        v.sort();
        let names: Vec<_> = v.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(names, ["a", "a/b", "a/z", "a-b", "b"]);
        assert_eq!(p.depth(), 3);
        let chain: Vec<String> = p.self_and_ancestors().map(|a| a.display().to_string()).collect();
        assert_eq!(chain, ["a/b/c", "a/b", "a"]);
    }

    #[test]
    fn escaping_cannot_forge_lines() {
        assert_eq!(escape(b"a\nb"), "a\\nb");
        assert_eq!(escape(b"\x1b[31m"), "\\x1b[31m");
        assert_eq!(escape(b"x\xffy"), "x\\xffy");
        assert_eq!(escape("caf\u{e9} \\".as_bytes()), "caf\u{e9} \\\\");
        assert_eq!(escape("\u{85}".as_bytes()), "\\xc2\\x85");
    }
}
