//! The fluent test harness: build trees declaratively, run the real `tern` binary, and compare
//! trees entry by entry (kind, content, mode, mtime to the nanosecond, symlink target).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const TERN: &str = env!("CARGO_BIN_EXE_tern");

/// A scratch directory with a source and a destination, and a private hash cache.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new().prefix("tern-test-").tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("src")).expect("mkdir src");
        Env { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn src(&self) -> PathBuf {
        self.path("src")
    }

    pub fn dst(&self) -> PathBuf {
        self.path("dst")
    }

    /// A builder for the tree below `rel` (e.g. "src").
    pub fn tree(&self, rel: &str) -> Tree {
        Tree { root: self.path(rel) }
    }

    /// `tern ARGS...` with this environment's cache directory.
    pub fn tern<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(TERN);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TERN_CACHE_DIR", self.path("cache"))
            .env("TERN_STATE_DIR", self.path("state"))
            .env_remove("TERN_CONFIG")
            .env_remove("TERN_FAILPOINT")
            .stdin(Stdio::null());
        Run { cmd }
    }

    /// `tern sync src dst` plus extra arguments, expected to succeed.
    pub fn sync(&self, extra: &[&str]) -> Done {
        let mut args: Vec<&str> = vec!["sync"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["src", "dst"]);
        self.tern(args).ok()
    }

    /// Assert that dst replicates src.
    pub fn assert_replica(&self) {
        assert_same_tree(&self.src(), &self.dst());
    }
}

/// Where [`Tree::files`] puts file `i` of files spread over `dirs` directories.
pub fn spread(i: usize, dirs: usize) -> String {
    format!("d{:02}/f{i:05}", i % dirs)
}

/// Declarative tree building.
pub struct Tree {
    pub root: PathBuf,
}

impl Tree {
    fn at(&self, rel: impl AsRef<[u8]>) -> PathBuf {
        self.root.join(OsStr::from_bytes(rel.as_ref()))
    }

    pub fn file(self, rel: impl AsRef<[u8]>, content: impl AsRef<[u8]>) -> Self {
        let p = self.at(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir -p");
        fs::write(&p, content).expect("write file");
        self
    }

    pub fn dir(self, rel: impl AsRef<[u8]>) -> Self {
        fs::create_dir_all(self.at(rel)).expect("mkdir -p");
        self
    }

    /// Files `0..count` spread over `dirs` directories (at [`spread`]), file `i` holding
    /// `content(i)`.
    pub fn files(mut self, count: usize, dirs: usize, content: impl Fn(usize) -> String) -> Self {
        for i in 0..count {
            self = self.file(spread(i, dirs), content(i));
        }
        self
    }

    pub fn symlink(self, rel: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Self {
        let p = self.at(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir -p");
        std::os::unix::fs::symlink(OsStr::from_bytes(target.as_ref()), &p).expect("symlink");
        self
    }

    pub fn mode(self, rel: impl AsRef<[u8]>, mode: u32) -> Self {
        fs::set_permissions(self.at(rel), fs::Permissions::from_mode(mode)).expect("chmod");
        self
    }

    pub fn mtime(self, rel: impl AsRef<[u8]>, secs: i64, nanos: u32) -> Self {
        let t = filetime::FileTime::from_unix_time(secs, nanos);
        filetime::set_symlink_file_times(self.at(rel), t, t).expect("set mtime");
        self
    }

    pub fn remove(self, rel: impl AsRef<[u8]>) -> Self {
        let p = self.at(rel);
        let md = fs::symlink_metadata(&p).expect("exists");
        if md.is_dir() {
            fs::remove_dir_all(&p).expect("rm -r");
        } else {
            fs::remove_file(&p).expect("rm");
        }
        self
    }

    pub fn rename(self, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) -> Self {
        fs::rename(self.at(from), self.at(to)).expect("rename");
        self
    }

    pub fn read(&self, rel: impl AsRef<[u8]>) -> Vec<u8> {
        fs::read(self.at(rel)).expect("read")
    }
}

/// A command about to run.
pub struct Run {
    pub cmd: Command,
}

impl Run {
    pub fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn output(mut self) -> Done {
        let out = self.cmd.output().expect("run tern");
        Done { out }
    }

    /// Run and expect exit status 0.
    pub fn ok(self) -> Done {
        self.code(0)
    }

    /// Run and expect exit status `code`.
    pub fn code(self, code: i32) -> Done {
        let done = self.output();
        assert_eq!(
            done.out.status.code(),
            Some(code),
            "unexpected exit status\n{}",
            done.describe()
        );
        done
    }
}

/// A finished command.
pub struct Done {
    pub out: Output,
}

impl Done {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    pub fn describe(&self) -> String {
        format!(
            "status: {:?}\nstdout:\n{}\nstderr:\n{}",
            self.out.status,
            self.stdout(),
            self.stderr()
        )
    }

    pub fn stdout_has(self, needle: &str) -> Self {
        assert!(self.stdout().contains(needle), "stdout lacks {needle:?}\n{}", self.describe());
        self
    }

    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(self.stderr().contains(needle), "stderr lacks {needle:?}\n{}", self.describe());
        self
    }

    /// The error output is exactly one line.
    pub fn one_line_error(self) -> Self {
        let err = self.stderr();
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "expected a one-line error\n{}",
            self.describe()
        );
        assert!(err.starts_with("tern: error: "), "{}", self.describe());
        self
    }
}

/// What a test compares for one entry.
#[derive(Debug, PartialEq, Eq)]
pub enum Node {
    File {
        content: Vec<u8>,
        mode: u32,
        mtime: (i64, i64),
    },
    Dir {
        mode: u32,
        mtime: (i64, i64),
    },
    Symlink {
        target: Vec<u8>,
        mtime: (i64, i64),
    },
    /// A FIFO, device file or socket: its file type bits, device number, mode and mtime.
    Special {
        kind: u32,
        rdev: u64,
        mode: u32,
        mtime: (i64, i64),
    },
}

/// A tree as tests compare it: relative path bytes to entry.
pub type Snapshot = BTreeMap<Vec<u8>, Node>;

/// Every entry below `root` (skipping a top-level `.tern`), keyed by relative path bytes.
pub fn snapshot(root: &Path) -> Snapshot {
    try_snapshot(root).unwrap_or_else(|e| panic!("snapshot of {}: {e}", root.display()))
}

/// [`snapshot`], or the error that stopped it: for a tree that may be changing while it is read
/// (a replica being written), where an entry can go between its listing and its `lstat`.
pub fn try_snapshot(root: &Path) -> std::io::Result<Snapshot> {
    let mut out = BTreeMap::new();
    let walk = walkdir::WalkDir::new(root).min_depth(1).follow_links(false);
    for e in walk.into_iter().filter_entry(|e| !(e.depth() == 1 && e.file_name() == ".tern")) {
        let e = e.map_err(std::io::Error::other)?;
        let md = fs::symlink_metadata(e.path())?;
        let rel = e.path().strip_prefix(root).expect("prefix").as_os_str().as_bytes().to_vec();
        let mtime = (md.mtime(), md.mtime_nsec());
        let mode = md.mode() & 0o7777;
        let node = if md.file_type().is_symlink() {
            let target = fs::read_link(e.path())?.as_os_str().as_bytes().to_vec();
            Node::Symlink { target, mtime }
        } else if md.is_dir() {
            Node::Dir { mode, mtime }
        } else if !md.is_file() {
            Node::Special { kind: md.mode() & 0o170000, rdev: md.rdev(), mode, mtime }
        } else {
            Node::File { content: fs::read(e.path())?, mode, mtime }
        };
        out.insert(rel, node);
    }
    Ok(out)
}

/// Fail with the first difference between two trees.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let (sa, sb) = (snapshot(a), snapshot(b));
    for (k, va) in &sa {
        match sb.get(k) {
            None => panic!("{} is missing from {}", String::from_utf8_lossy(k), b.display()),
            Some(vb) => assert!(
                va == vb,
                "{} differs:\n  {}: {}\n  {}: {}",
                String::from_utf8_lossy(k),
                a.display(),
                short(va),
                b.display(),
                short(vb)
            ),
        }
    }
    for k in sb.keys() {
        assert!(sa.contains_key(k), "{} is extra in {}", String::from_utf8_lossy(k), b.display());
    }
}

fn short(n: &Node) -> String {
    match n {
        Node::File { content, mode, mtime } => {
            format!("file {} bytes mode {mode:o} mtime {mtime:?}", content.len())
        }
        other => format!("{other:?}"),
    }
}

/// Deterministic pseudo-random bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Entries (relative paths) in the trash of the destination, across runs.
pub fn trash_files(dst: &Path) -> Vec<String> {
    let trash = dst.join(".tern/trash");
    let mut out = Vec::new();
    let Ok(runs) = fs::read_dir(&trash) else {
        return out;
    };
    for run in runs {
        let run = run.expect("read trash").path();
        for e in walkdir::WalkDir::new(&run).min_depth(1) {
            let e = e.expect("walk trash");
            if !e.file_type().is_dir() {
                out.push(e.path().strip_prefix(&run).expect("prefix").display().to_string());
            }
        }
    }
    out.sort();
    out
}
