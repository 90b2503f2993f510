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
    ConfigError, Destination, SyncSpec, check_dest_dir, check_local_destination,
    check_replicas_apart, parse_destination, parse_keep_trash,
};
use crate::sync::twoway::TwoWaySpec;
use crate::tree::filter::Excludes;
use crate::tree::scan::{ScanOptions, default_cache_file};
use std::path::PathBuf;
use std::time::Duration;

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
    let scan = scan_options(args, cache_file)?;
    let excludes = scan.excludes.clone();
    Ok(SyncSpec {
        source,
        dest,
        scan,
        plan: PlanOptions { delete: !args.no_delete, excludes },
        ssh: ssh_options(&args.ssh),
        guards: GuardPolicy::default(),
        keep_trash: resolve_keep_trash(keep_trash)?,
        check_dest: args.check_dest,
    })
}

/// How to scan, from the command line, with the hash cache in `cache_file`.
fn scan_options(args: &TreeArgs, cache_file: Option<PathBuf>) -> Result<ScanOptions, ConfigError> {
    Ok(ScanOptions {
        checksum: args.checksum,
        cache_file,
        excludes: resolve_excludes(args)?,
        no_xattrs: args.no_xattrs,
        one_file_system: args.one_file_system,
        no_hard_links: args.no_hard_links,
    })
}

/// `--keep-trash`, or the default where the command has none (a plan purges nothing).
fn resolve_keep_trash(keep_trash: Option<&str>) -> Result<Option<Duration>, ConfigError> {
    match keep_trash {
        Some(k) => parse_keep_trash(k).map_err(ConfigError::KeepTrash),
        None => Ok(Some(crate::sync::spec::DEFAULT_KEEP_TRASH)),
    }
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
            check_dest_dir(p)?;
        }
    }
    if let (Destination::Local(x), Destination::Local(y)) = (&a, &b) {
        check_replicas_apart(x, y)?;
    }
    // No cache file: each side's hash cache lives where that side is scanned (`cache` below).
    // Hard links are kept as separate files both ways, whatever `--no-hard-links` says
    // (`sync::twoway::prepare`).
    let scan = scan_options(args, None)?;
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
        keep_trash: resolve_keep_trash(keep_trash)?,
    })
}
