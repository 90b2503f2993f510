//! Resolving clap's arguments into the core's validated types before any work starts.
//!
//! This is the one place where `cli`'s types meet the core's: the core never imports clap. What
//! can be checked here without touching a destination is checked, and a bad value is one line
//! that names it and says what to do (see [`ConfigError`]).

use crate::cli::{GuardArgs, HostKeyPolicyArg, SshArgs, TreeArgs};
use crate::plan::PlanOptions;
use crate::plan::guard::GuardPolicy;
use crate::remote::ssh::SshOptions;
use crate::remote::ssh::known_hosts::HostKeyPolicy;
use crate::sync::spec::{
    ConfigError, Destination, SyncSpec, check_local_destination, parse_destination,
    parse_keep_trash,
};
use crate::tree::filter::Excludes;
use crate::tree::scan::{ScanOptions, default_cache_file};

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
    let mut patterns = args.exclude.clone();
    for file in &args.exclude_from {
        let text = std::fs::read_to_string(file).map_err(|e| {
            ConfigError::Exclude(format!("cannot read exclude file {}: {e}", file.display()))
        })?;
        let lines =
            text.lines().map(str::trim_end).filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        patterns.extend(lines.map(String::from));
    }
    let excludes = Excludes::new(&patterns).map_err(ConfigError::Exclude)?;
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

/// Guardrails from the command line.
pub fn guard_policy(args: &GuardArgs) -> GuardPolicy {
    GuardPolicy { max_delete: args.max_delete, force: args.force }
}
