//! Exclude patterns (`--exclude`, `exclude = [...]` in a job), with gitignore syntax.
//!
//! `*.tmp` matches at any depth, `cache/` matches directories only, `/build` matches at the top
//! only, `!keep.tmp` re-includes. Excluded source entries are not replicated, and excluded entries
//! at the destination are left alone (not deleted), as rsync does without `--delete-excluded`.

use crate::tree::path::RelPath;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::sync::Arc;

/// A compiled set of exclude patterns; cheap to clone.
#[derive(Clone, Default)]
pub struct Excludes {
    patterns: Vec<String>,
    matcher: Option<Arc<Gitignore>>,
}

impl std::fmt::Debug for Excludes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Excludes").field(&self.patterns).finish()
    }
}

impl Excludes {
    pub fn new(patterns: &[String]) -> Result<Excludes, String> {
        if patterns.is_empty() {
            return Ok(Excludes::default());
        }
        let mut b = GitignoreBuilder::new("/");
        for p in patterns {
            b.add_line(None, p).map_err(|e| format!("bad exclude pattern {p:?}: {e}"))?;
        }
        let matcher = b.build().map_err(|e| format!("bad exclude patterns: {e}"))?;
        Ok(Excludes { patterns: patterns.to_vec(), matcher: Some(Arc::new(matcher)) })
    }

    /// The patterns as given.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Whether `path` (or a directory above it) is excluded.
    pub fn excludes(&self, path: &RelPath, is_dir: bool) -> bool {
        let Some(m) = &self.matcher else { return false };
        let full = std::path::Path::new("/").join(path.as_path());
        m.matched_path_or_any_parents(&full, is_dir).is_ignore()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(patterns: &[&str]) -> Excludes {
        Excludes::new(&patterns.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn gitignore_semantics() {
        let e = ex(&["*.tmp", "cache/", "/build", "!keep.tmp"]);
        let p = |s: &str| RelPath::new(s).unwrap();
        assert!(e.excludes(&p("a/b/x.tmp"), false));
        assert!(!e.excludes(&p("a/keep.tmp"), false));
        assert!(e.excludes(&p("cache"), true));
        assert!(!e.excludes(&p("cache"), false));
        assert!(e.excludes(&p("deep/cache/file"), false));
        assert!(e.excludes(&p("build"), true));
        assert!(!e.excludes(&p("src/build"), true));
        assert!(!e.excludes(&p("src/main.rs"), false));
        assert!(!Excludes::default().excludes(&p("x.tmp"), false));
    }
}
