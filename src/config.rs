//! Turning command-line arguments into a validated [`SyncSpec`] before any work starts.
//!
//! Everything that can be rejected without touching the destination is rejected here, with a
//! one-line message that names the offending value and says what to do.

use crate::cli::TreeArgs;
use crate::plan::PlanOptions;
use crate::scan::{ScanOptions, default_cache_file};
use std::path::{Path, PathBuf};

/// Where to replicate to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A directory on this machine.
    Local(PathBuf),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Local(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A sync (or plan) ready to run.
#[derive(Debug, Clone)]
pub struct SyncSpec {
    pub source: PathBuf,
    pub dest: Destination,
    pub scan: ScanOptions,
    pub plan: PlanOptions,
}

/// Arguments that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("source {} does not exist; check the path", .0.display())]
    MissingSource(PathBuf),
    #[error("source {} is not a directory; tern replicates directory trees", .0.display())]
    SourceNotADirectory(PathBuf),
    #[error("destination {0} exists but is not a directory; give a directory path")]
    DestNotADirectory(String),
    #[error(
        "destination {dest} is inside source {src}; replicate into a directory outside the source"
    )]
    DestInsideSource { src: String, dest: String },
    #[error("source {src} is inside destination {dest}; pick a destination outside the source")]
    SourceInsideDest { src: String, dest: String },
    #[error("destination is empty; give a directory path")]
    EmptyDest,
    #[error(
        "remote destination {0} needs SSH support, which this build of tern does not have yet; \
         use a local directory"
    )]
    RemoteUnsupported(String),
    #[error(
        "destination parent {} does not exist; create it first (tern creates only the last path \
         component)",
        .0.display()
    )]
    MissingDestParent(PathBuf),
    #[error("cannot resolve {}", path.display())]
    Resolve {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Parse a destination argument. A colon before the first slash means `host:path` (as in rsync
/// and scp); `./a:b` and `/a:b` stay local.
pub fn parse_destination(arg: &str) -> Result<Destination, ConfigError> {
    if arg.is_empty() {
        return Err(ConfigError::EmptyDest);
    }
    let remote = arg.starts_with("ssh://")
        || arg
            .find(':')
            .is_some_and(|c| arg.find('/').is_none_or(|s| c < s));
    if remote {
        return Err(ConfigError::RemoteUnsupported(arg.to_string()));
    }
    Ok(Destination::Local(PathBuf::from(arg)))
}

/// Resolve and check the arguments shared by `sync` and `plan`.
pub fn resolve(args: &TreeArgs) -> Result<SyncSpec, ConfigError> {
    let source = args.source.clone();
    match std::fs::metadata(&source) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => return Err(ConfigError::SourceNotADirectory(source)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::MissingSource(source));
        }
        Err(e) => {
            return Err(ConfigError::Resolve {
                path: source,
                source: e,
            });
        }
    }
    let dest = parse_destination(&args.dest)?;
    let Destination::Local(dest_path) = &dest;
    match std::fs::metadata(dest_path) {
        Ok(md) if !md.is_dir() => {
            return Err(ConfigError::DestNotADirectory(
                dest_path.display().to_string(),
            ));
        }
        Ok(_) => {}
        Err(_) => {
            let parent = dest_path.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(parent) = parent.filter(|p| !p.is_dir()) {
                return Err(ConfigError::MissingDestParent(parent.to_owned()));
            }
        }
    }
    check_not_nested(&source, dest_path)?;
    let cache_file = if args.no_cache {
        None
    } else {
        default_cache_file(&source)
    };
    Ok(SyncSpec {
        source,
        dest,
        scan: ScanOptions {
            checksum: args.checksum,
            cache_file,
        },
        plan: PlanOptions {
            delete: !args.no_delete,
        },
    })
}

/// Refuse a destination inside the source (it would replicate itself) or the reverse (the sync
/// would trash its own source).
fn check_not_nested(source: &Path, dest: &Path) -> Result<(), ConfigError> {
    let src = std::fs::canonicalize(source).map_err(|e| ConfigError::Resolve {
        path: source.into(),
        source: e,
    })?;
    let dst = canonical_maybe_missing(dest)?;
    let show = |p: &Path| p.display().to_string();
    if dst.starts_with(&src) {
        return Err(ConfigError::DestInsideSource {
            src: show(source),
            dest: show(dest),
        });
    }
    if src.starts_with(&dst) {
        return Err(ConfigError::SourceInsideDest {
            src: show(source),
            dest: show(dest),
        });
    }
    Ok(())
}

/// Canonicalize a path whose last component may not exist yet.
fn canonical_maybe_missing(p: &Path) -> Result<PathBuf, ConfigError> {
    match std::fs::canonicalize(p) {
        Ok(c) => Ok(c),
        Err(_) => {
            let parent = p
                .parent()
                .filter(|q| !q.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let base = std::fs::canonicalize(parent).map_err(|e| ConfigError::Resolve {
                path: parent.into(),
                source: e,
            })?;
            Ok(match p.file_name() {
                Some(name) => base.join(name),
                None => base,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_syntax() {
        let local = |s: &str| Destination::Local(PathBuf::from(s));
        assert_eq!(parse_destination("/srv/x").unwrap(), local("/srv/x"));
        assert_eq!(parse_destination("./a:b").unwrap(), local("./a:b"));
        assert_eq!(parse_destination("/a:b").unwrap(), local("/a:b"));
        assert_eq!(parse_destination("plain").unwrap(), local("plain"));
        for remote in [
            "host:/srv",
            "alice@host:dir",
            "ssh://alice@host:22/srv",
            "host:",
        ] {
            assert!(matches!(
                parse_destination(remote),
                Err(ConfigError::RemoteUnsupported(_))
            ));
        }
        assert!(matches!(parse_destination(""), Err(ConfigError::EmptyDest)));
    }
}
