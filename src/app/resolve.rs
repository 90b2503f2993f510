//! Resolving clap's arguments into the core's validated types before any work starts.
//!
//! This is the one place where `cli`'s types meet the core's: the core never imports clap. What
//! can be checked here without touching a destination is checked, and a bad value is one line
//! that names it and says what to do (see [`ConfigError`]).

use crate::cli::{GuardArgs, HostKeyPolicyArg, PreferArg, SshArgs, TreeArgs, TwoWayArgs};
use crate::plan::PlanOptions;
use crate::plan::guard::GuardPolicy;
use crate::plan::reconcile::{Policy, Side};
use crate::remote::ssh::SshOptions;
use crate::remote::ssh::known_hosts::HostKeyPolicy;
use crate::sync::spec::{
    ConfigError, Destination, SyncSpec, check_local_destination, parse_destination,
    parse_keep_trash,
};
use crate::sync::twoway::TwoWaySpec;
use crate::tree::filter::Excludes;
use crate::tree::scan::{ScanOptions, default_cache_file};
use std::path::Path;

/// SSH settings from the command line.
pub fn ssh_options(args: &SshArgs) -> SshOptions {
    SshOptions {
        config_file: args.config.clone(),
        identities: args.identities.clone(),
        known_hosts: args.known_hosts.clone(),
        host_key_policy: args.host_key_policy.map(|p| match p {
            HostKeyPolicyArg::Strict => HostKeyPolicy::Strict,
            HostKeyPolicyArg::AcceptNew => HostKeyPolicy::AcceptNew,
        }),
        remote_tern: args.remote_tern.clone(),
        compress_level: args.compress_level,
        cache_dir: crate::tree::scan::cache_dir(),
        bwlimit: args.bwlimit,
        overrides: args.options.clone(),
    }
}

/// Resolve and check the arguments shared by `sync` and `plan`.
/// `keep_trash` is `--keep-trash` where the command has it (`sync`, `watch`); a plan purges
/// nothing, and takes the default.
pub fn resolve(args: &TreeArgs, keep_trash: Option<&str>) -> Result<SyncSpec, ConfigError> {
    let source = args.source.clone();
    match std::fs::metadata(&source) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => return Err(ConfigError::SourceNotADirectory(source)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::MissingSource(source));
        }
        Err(e) => {
            return Err(ConfigError::Resolve { path: source, source: e });
        }
    }
    let dest = parse_destination(&args.dest)?;
    if let Destination::Local(dest_path) = &dest {
        check_local_destination(&source, dest_path)?;
    }
    let cache_file = if args.no_cache { None } else { default_cache_file(&source) };
    let excludes = resolve_excludes(args)?;
    Ok(SyncSpec {
        source,
        dest,
        scan: ScanOptions {
            checksum: args.checksum,
            cache_file,
            excludes: excludes.clone(),
            no_xattrs: args.no_xattrs,
            one_file_system: args.one_file_system,
            no_hard_links: args.no_hard_links,
        },
        plan: PlanOptions { delete: !args.no_delete, excludes },
        ssh: ssh_options(&args.ssh),
        guards: GuardPolicy::default(),
        keep_trash: match keep_trash {
            Some(k) => parse_keep_trash(k).map_err(ConfigError::KeepTrash)?,
            None => Some(crate::sync::spec::DEFAULT_KEEP_TRASH),
        },
        check_dest: args.check_dest,
    })
}

/// `--exclude` and `--exclude-from`, compiled.
fn resolve_excludes(args: &TreeArgs) -> Result<Excludes, ConfigError> {
    let mut patterns = args.exclude.clone();
    for file in &args.exclude_from {
        let text = std::fs::read_to_string(file).map_err(|e| {
            ConfigError::Exclude(format!("cannot read exclude file {}: {e}", file.display()))
        })?;
        let lines =
            text.lines().map(str::trim_end).filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        patterns.extend(lines.map(String::from));
    }
    Excludes::new(&patterns).map_err(ConfigError::Exclude)
}

/// Guardrails from the command line.
pub fn guard_policy(args: &GuardArgs) -> GuardPolicy {
    GuardPolicy { max_delete: args.max_delete, force: args.force }
}

/// Resolve `--two-way A B`: both replicas (each a directory or an SSH host), the scan options
/// they share, and the conflict policy. Options that make no sense both ways are refused.
pub fn resolve_two_way(
    args: &TreeArgs,
    two_way: &TwoWayArgs,
    keep_trash: Option<&str>,
) -> Result<TwoWaySpec, ConfigError> {
    if args.no_delete {
        return Err(ConfigError::TwoWay("--no-delete"));
    }
    if args.check_dest {
        return Err(ConfigError::TwoWay("--check-dest"));
    }
    let a_arg = args.source.to_string_lossy().into_owned();
    let a = parse_destination(&a_arg)?;
    let b = parse_destination(&args.dest)?;
    for side in [&a, &b] {
        if let Destination::Local(p) = side {
            // The parent must exist; the replica itself is made by its first sync.
            check_local_destination(Path::new("/"), p).or_else(|e| match e {
                ConfigError::DestInsideSource { .. } => Ok(()),
                e => Err(e),
            })?;
        }
    }
    if let (Destination::Local(x), Destination::Local(y)) = (&a, &b) {
        check_replicas_apart(x, y)?;
    }
    // Patterns only: each side's hash cache lives where that side is scanned.
    let plain = resolve_excludes(args)?;
    let scan = ScanOptions {
        checksum: args.checksum,
        cache_file: None,
        excludes: plain,
        no_xattrs: args.no_xattrs,
        one_file_system: args.one_file_system,
        no_hard_links: true,
    };
    let policy = match two_way.prefer {
        None => Policy::KeepBoth,
        Some(PreferArg::Newer) => Policy::PreferNewer,
        Some(PreferArg::A) => Policy::Prefer(Side::A),
        Some(PreferArg::B) => Policy::Prefer(Side::B),
    };
    Ok(TwoWaySpec {
        a,
        b,
        scan,
        cache: !args.no_cache,
        ssh: ssh_options(&args.ssh),
        policy,
        keep_trash: match keep_trash {
            Some(k) => parse_keep_trash(k).map_err(ConfigError::KeepTrash)?,
            None => Some(crate::sync::spec::DEFAULT_KEEP_TRASH),
        },
    })
}

/// Refuse two local replicas one inside the other: each would hold the other.
fn check_replicas_apart(a: &Path, b: &Path) -> Result<(), ConfigError> {
    let canon = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| {
            let parent = p.parent().and_then(|d| std::fs::canonicalize(d).ok());
            match (parent, p.file_name()) {
                (Some(d), Some(n)) => d.join(n),
                _ => p.to_path_buf(),
            }
        })
    };
    let (x, y) = (canon(a), canon(b));
    if x.starts_with(&y) || y.starts_with(&x) {
        return Err(ConfigError::NestedReplicas {
            a: a.display().to_string(),
            b: b.display().to_string(),
        });
    }
    Ok(())
}
