//! What one sync is asked to do: a validated [`SyncSpec`] (source, destination, options), and the
//! parsers and checks of its values that the command line and the job file share.
//!
//! Everything that can be rejected without touching the destination is rejected while a spec is
//! built, with a one-line message that names the offending value and says what to do. Turning
//! clap's arguments into a spec is `app`'s work ([`crate::app`]); this module never sees them.

use crate::plan::PlanOptions;
use crate::plan::guard::GuardPolicy;
use crate::remote::ssh::{SshOptions, SshTarget};
use crate::tree::scan::ScanOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where to replicate to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A directory on this machine.
    Local(PathBuf),
    /// A directory on an SSH host.
    Ssh(SshTarget),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Local(p) => write!(f, "{}", p.display()),
            Destination::Ssh(t) => write!(f, "{t}"),
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
    pub ssh: SshOptions,
    pub guards: GuardPolicy,
    /// Trash runs older than this are purged after a successful sync; `None` keeps them.
    pub keep_trash: Option<std::time::Duration>,
    /// Stat every destination entry before planning, and send again what changed out of band.
    pub check_dest: bool,
}

/// The default trash retention: 7 days.
pub const DEFAULT_KEEP_TRASH: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// `--keep-trash` / `keep_trash`: a duration, or `forever`.
pub fn parse_keep_trash(s: &str) -> Result<Option<std::time::Duration>, String> {
    if s.eq_ignore_ascii_case("forever") {
        return Ok(None);
    }
    parse_duration(s).map(Some)
}

/// Parse a duration like `30s`, `5m`, `2h`, `1d` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("{s:?} is not a duration; write e.g. \"30s\", \"5m\", \"1h\" or \"200ms\"")
    })?;
    let secs = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => {
            return Err(format!(
                "{s:?} is not a duration; write e.g. \"30s\", \"5m\", \"1h\" or \"200ms\""
            ));
        }
    };
    Ok(Duration::from_secs(secs))
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
        "destination {arg} is not valid: {reason}; use [user@]host:path or ssh://[user@]host[:port]/path"
    )]
    BadDestination { arg: String, reason: &'static str },
    #[error(
        "destination parent {} does not exist; create it first (tern creates only the last path \
         component)",
        .0.display()
    )]
    MissingDestParent(PathBuf),
    #[error("destination parent {} is a file, not a directory; check the path", .0.display())]
    DestParentNotADirectory(PathBuf),
    #[error("{0} does not apply to a two-way sync; leave it out")]
    TwoWay(&'static str),
    #[error("replicas {a} and {b} are one inside the other; give two separate directories")]
    NestedReplicas { a: String, b: String },
    #[error("--keep-trash: {0} (or \"forever\")")]
    KeepTrash(String),
    #[error("{0}; patterns use gitignore syntax, e.g. \"*.tmp\" or \"cache/\"")]
    Exclude(String),
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
    let bad = |reason| ConfigError::BadDestination { arg: arg.to_string(), reason };
    if let Some(rest) = arg.strip_prefix("ssh://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => return Err(bad("an ssh:// destination needs a path after the host")),
        };
        let (user, hostport) = split_user(authority);
        let (host, port) =
            split_port(hostport).ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        return Ok(Destination::Ssh(SshTarget { user, host, port, path: path.to_string() }));
    }
    // scp style: a colon before the first slash (outside [brackets]) means host:path
    let bracket_end = match (arg.find('['), arg.find(']')) {
        (Some(o), Some(c)) if o < c && !arg[..o].contains('/') => c + 1,
        _ => 0,
    };
    let colon = arg[bracket_end..].find(':').map(|c| c + bracket_end);
    let remote = colon.filter(|&c| arg.find('/').is_none_or(|s| c < s));
    let Some(c) = remote else { return Ok(Destination::Local(PathBuf::from(arg))) };
    let (user, host) = split_user(&arg[..c]);
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    if host.is_empty() {
        return Err(bad("the host is empty"));
    }
    let path = if arg[c + 1..].is_empty() { ".".to_string() } else { arg[c + 1..].to_string() };
    Ok(Destination::Ssh(SshTarget { user, host, port: None, path }))
}

fn split_user(s: &str) -> (Option<String>, &str) {
    match s.rsplit_once('@') {
        Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
        _ => (None, s),
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`; `None` for a bad port.
fn split_port(s: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|&p| p > 0)?),
        None => None,
    };
    Some((host.to_string(), port))
}

/// A rate as rsync writes it: a number of KiB per second, or with a suffix K, M or G
/// (KiB, MiB, GiB per second). Returns bytes per second.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, unit) =
        t.split_at(t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len()));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a rate; write e.g. 500 (KiB/s), 500K or 10M"))?;
    let mult = match unit.to_ascii_uppercase().as_str() {
        "" | "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{s:?} is not a rate; write e.g. 500 (KiB/s), 500K or 10M")),
    };
    let rate = n * mult;
    if !(1.0..1e15).contains(&rate) {
        return Err(format!("{s:?} is not a usable rate"));
    }
    Ok(rate as u64)
}

pub fn check_local_destination(source: &Path, dest_path: &Path) -> Result<(), ConfigError> {
    check_dest_dir(dest_path)?;
    check_not_nested(source, dest_path)
}

/// Refuse a local destination that is not a directory, or that cannot be made (its parent is
/// missing or not a directory).
pub fn check_dest_dir(dest_path: &Path) -> Result<(), ConfigError> {
    match std::fs::metadata(dest_path) {
        Ok(md) if !md.is_dir() => {
            return Err(ConfigError::DestNotADirectory(dest_path.display().to_string()));
        }
        Ok(_) => {}
        Err(_) => {
            let parent = dest_path.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(parent) = parent.filter(|p| !p.is_dir()) {
                if parent.exists() {
                    return Err(ConfigError::DestParentNotADirectory(parent.to_owned()));
                }
                return Err(ConfigError::MissingDestParent(parent.to_owned()));
            }
        }
    }
    Ok(())
}

/// Refuse two local replicas of a two-way sync one inside the other: each would hold the other.
pub fn check_replicas_apart(a: &Path, b: &Path) -> Result<(), ConfigError> {
    let (x, y) = (canonical_maybe_missing(a)?, canonical_maybe_missing(b)?);
    if x.starts_with(&y) || y.starts_with(&x) {
        let show = |p: &Path| p.display().to_string();
        return Err(ConfigError::NestedReplicas { a: show(a), b: show(b) });
    }
    Ok(())
}

/// Refuse a destination inside the source (it would replicate itself) or the reverse (the sync
/// would trash its own source).
fn check_not_nested(source: &Path, dest: &Path) -> Result<(), ConfigError> {
    let src = std::fs::canonicalize(source)
        .map_err(|e| ConfigError::Resolve { path: source.into(), source: e })?;
    let dst = canonical_maybe_missing(dest)?;
    let show = |p: &Path| p.display().to_string();
    if dst.starts_with(&src) {
        return Err(ConfigError::DestInsideSource { src: show(source), dest: show(dest) });
    }
    if src.starts_with(&dst) {
        return Err(ConfigError::SourceInsideDest { src: show(source), dest: show(dest) });
    }
    Ok(())
}

/// Canonicalize a path whose last component may not exist yet.
fn canonical_maybe_missing(p: &Path) -> Result<PathBuf, ConfigError> {
    match std::fs::canonicalize(p) {
        Ok(c) => Ok(c),
        Err(_) => {
            let parent = p.parent().filter(|q| !q.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let base = std::fs::canonicalize(parent)
                .map_err(|e| ConfigError::Resolve { path: parent.into(), source: e })?;
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
    fn rates_are_read_as_rsync_reads_them() {
        assert_eq!(parse_rate("500").unwrap(), 500 * 1024);
        assert_eq!(parse_rate("500K").unwrap(), 500 * 1024);
        assert_eq!(parse_rate("1.5M").unwrap(), 1_572_864);
        assert_eq!(parse_rate("2g").unwrap(), 2 << 30);
        for bad in ["", "fast", "10X", "0", "-5"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn destination_syntax() {
        let local = |s: &str| Destination::Local(PathBuf::from(s));
        assert_eq!(parse_destination("/srv/x").unwrap(), local("/srv/x"));
        assert_eq!(parse_destination("./a:b").unwrap(), local("./a:b"));
        assert_eq!(parse_destination("/a:b").unwrap(), local("/a:b"));
        assert_eq!(parse_destination("plain").unwrap(), local("plain"));
        let ssh = |user: Option<&str>, host: &str, port: Option<u16>, path: &str| {
            Destination::Ssh(SshTarget {
                user: user.map(String::from),
                host: host.into(),
                port,
                path: path.into(),
            })
        };
        let cases = [
            ("host:/srv", ssh(None, "host", None, "/srv")),
            ("alice@host:dir", ssh(Some("alice"), "host", None, "dir")),
            ("host:", ssh(None, "host", None, ".")),
            ("ssh://alice@host:2222/srv/x", ssh(Some("alice"), "host", Some(2222), "/srv/x")),
            ("ssh://host/srv", ssh(None, "host", None, "/srv")),
            ("ssh://[::1]:22/srv", ssh(None, "::1", Some(22), "/srv")),
            ("user@[::1]:p", ssh(Some("user"), "::1", None, "p")),
            ("backup1:/srv/replica/site", ssh(None, "backup1", None, "/srv/replica/site")),
        ];
        for (arg, want) in cases {
            assert_eq!(parse_destination(arg).unwrap(), want, "{arg}");
        }
        for bad in ["ssh://host", "ssh://host:99999/x", "ssh://:22/x", ":path", "ssh://h:0/x"] {
            let err = parse_destination(bad);
            assert!(matches!(err, Err(ConfigError::BadDestination { .. })), "{bad}");
        }
        assert!(matches!(parse_destination(""), Err(ConfigError::EmptyDest)));
    }
}
