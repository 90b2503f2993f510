//! The job file (`~/.config/tern/tern.toml`): TOML in, validated [`Job`]s out.
//!
//! Every error names `file:line` and says what to do: syntax and type errors come from the TOML
//! parser's spans; semantic ones (a bad cron expression, an unknown time zone, a duplicate job
//! name, a missing source) from the spans kept on each value. All errors of a file are reported
//! at once, so `tern config check` shows everything to fix in one go.

use crate::plan::PlanOptions;
use crate::plan::guard::{GuardPolicy, MaxDelete};
use crate::remote::ssh::SshOptions;
use crate::remote::ssh::known_hosts::HostKeyPolicy;
use crate::schedule::cron::{Schedule, parse_tz};
use crate::sync::spec::{Destination, SyncSpec, parse_destination, parse_duration};
use crate::tree::filter::Excludes;
use crate::tree::scan::{ScanOptions, default_cache_file};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Largest value accepted for `retries`.
const MAX_RETRIES: u32 = 100;
/// Longest `jitter` and `retry_delay`.
const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// Where the daemon writes its Prometheus metrics (a node_exporter textfile).
    metrics_file: Option<String>,
    #[serde(default, rename = "job")]
    jobs: Vec<Spanned<RawJob>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawMaxDelete {
    Count(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: Spanned<String>,
    source: Option<Spanned<String>>,
    destinations: Option<Spanned<Vec<Spanned<String>>>>,
    /// A mesh job's replicas: the first is the hub, on this machine.
    replicas: Option<Spanned<Vec<Spanned<String>>>>,
    /// A two-way or mesh job's conflict policy: `"a"`, `"b"` or `"newer"` (unset: keep both).
    prefer: Option<Spanned<String>>,
    schedule: Option<Spanned<String>>,
    /// `"schedule"` (the default) or `"watch"`.
    mode: Option<Spanned<String>>,
    /// A watch job's quiet time before a batch.
    delay: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    max_delete: Option<Spanned<RawMaxDelete>>,
    delete: Option<bool>,
    force: Option<bool>,
    jitter: Option<Spanned<String>>,
    catch_up: Option<bool>,
    retries: Option<Spanned<u32>>,
    retry_delay: Option<Spanned<String>>,
    on_success: Option<String>,
    on_failure: Option<String>,
    healthcheck_url: Option<Spanned<String>>,
    keep_trash: Option<Spanned<String>>,
    check_dest: Option<bool>,
    xattrs: Option<bool>,
    one_file_system: Option<bool>,
    hard_links: Option<bool>,
    ssh_config: Option<String>,
    #[serde(default)]
    identity: Vec<String>,
    known_hosts: Option<String>,
    host_key_policy: Option<Spanned<String>>,
    remote_tern: Option<String>,
    /// `ssh_options = ["ProxyJump=bastion"]`: as `-o`, winning over the ssh_config file.
    #[serde(default)]
    ssh_options: Vec<String>,
    compress_level: Option<Spanned<i64>>,
    bwlimit: Option<Spanned<String>>,
}

/// A validated job.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub source: PathBuf,
    /// The destinations as written, and parsed.
    pub destinations: Vec<(String, Destination)>,
    /// `None`: run only with `tern run` (or at daemon start, with `at_start`).
    pub schedule: Option<Schedule>,
    /// `schedule = "@reboot"`: run once when the daemon starts, as crontab(5) does.
    pub at_start: bool,
    /// `mode = "watch"`: replicated as it changes (the daemon watches it from its start), with
    /// this quiet time before a batch; its `schedule`, if any, times whole passes.
    pub watch: Option<Duration>,
    pub excludes: Excludes,
    pub delete: bool,
    pub guards: GuardPolicy,
    /// Random delay (up to this) added to each scheduled run.
    pub jitter: Duration,
    /// Run once at daemon start-up if a scheduled run was missed while it was down.
    pub catch_up: bool,
    /// Attempts after the first for transient failures.
    pub retries: u32,
    /// Delay before the first retry; doubled for each further one.
    pub retry_delay: Duration,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    /// Pinged when a run starts, succeeds or fails (`healthcheck_url`, healthchecks.io style).
    pub healthcheck_url: Option<String>,
    pub ssh: SshOptions,
    /// Trash runs older than this are purged after a successful run; `None` keeps them.
    pub keep_trash: Option<Duration>,
    /// Stat the destination before each run and repair what changed there out of band.
    pub check_dest: bool,
    /// Replicate extended attributes, ACLs and file capabilities (`xattrs = false`: not).
    pub xattrs: bool,
    /// Do not cross into other file systems (`one_file_system = true`, as `-x`).
    pub one_file_system: bool,
    /// Keep hard links as links (`hard_links = false`: every name a file of its own).
    pub hard_links: bool,
    /// `mode = "two-way"` or `"mesh"`: the source and each destination both take writes.
    pub two_way: Option<TwoWayJob>,
}

/// How a two-way or mesh job reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoWayJob {
    /// `mode = "mesh"`: the source is the hub of the replicas.
    pub mesh: bool,
    pub policy: crate::plan::reconcile::Policy,
}

impl Job {
    /// The sync of this job to its `i`-th destination.
    pub fn spec(&self, i: usize) -> SyncSpec {
        SyncSpec {
            source: self.source.clone(),
            dest: self.destinations[i].1.clone(),
            scan: self.scan_options(),
            plan: PlanOptions { delete: self.delete, excludes: self.excludes.clone() },
            ssh: self.ssh.clone(),
            guards: self.guards.clone(),
            keep_trash: self.keep_trash,
            check_dest: self.check_dest,
        }
    }

    pub fn scan_options(&self) -> ScanOptions {
        ScanOptions {
            checksum: false,
            cache_file: default_cache_file(&self.source),
            excludes: self.excludes.clone(),
            no_xattrs: !self.xattrs,
            one_file_system: self.one_file_system,
            no_hard_links: !self.hard_links,
        }
    }
}

/// A loaded job file.
#[derive(Debug, Clone)]
pub struct JobFile {
    pub path: PathBuf,
    pub jobs: Vec<Job>,
    /// `metrics_file = "..."`: where the daemon writes its metrics (relative to the job file).
    pub metrics_file: Option<PathBuf>,
}

impl JobFile {
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

/// One problem in a job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// All problems of a job file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct FileErrors(pub Vec<FileError>);

/// `$TERN_CONFIG`, else `~/.config/tern/tern.toml`.
pub fn default_path() -> PathBuf {
    std::env::var_os("TERN_CONFIG")
        .map(PathBuf::from)
        .or_else(|| dirs::config_dir().map(|d| d.join("tern").join("tern.toml")))
        .unwrap_or_else(|| PathBuf::from("tern.toml"))
}

/// Read and validate a job file.
pub fn load(path: &Path) -> Result<JobFile, FileErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            "; create it (see contrib/tern.example.toml) or pass --config FILE"
        } else {
            ""
        };
        FileErrors(vec![FileError {
            file: path.to_owned(),
            line: 0,
            message: format!("cannot read: {e}{hint}"),
        }])
    })?;
    parse(path, &text)
}

/// Validate the text of a job file named `path`.
pub fn parse(path: &Path, text: &str) -> Result<JobFile, FileErrors> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let mut raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(s.start));
        let message = e.message().trim().to_string();
        FileErrors(vec![FileError { file: path.to_owned(), line, message }])
    })?;
    let mut errors = Vec::new();
    let mut jobs = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let base = path.parent().unwrap_or(Path::new("."));
    for raw in std::mem::take(&mut raw.jobs) {
        let raw = raw.into_inner();
        let mut err = |span: std::ops::Range<usize>, message: String| {
            errors.push(FileError { file: path.to_owned(), line: line_of(span.start), message });
        };
        let healthcheck_url = raw.healthcheck_url.as_ref().and_then(|u| {
            match crate::schedule::health::check_url(u.get_ref()) {
                Ok(()) => Some(u.get_ref().clone()),
                Err(message) => {
                    err(u.span(), message);
                    None
                }
            }
        });
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains('/') {
            err(
                raw.name.span(),
                format!("job name {name:?} must be a non-empty word without spaces or '/'"),
            );
        } else if let Some(first) = names.insert(name.clone(), line_of(raw.name.span().start)) {
            err(
                raw.name.span(),
                format!(
                    "job name {name:?} is used twice (first at line {first}); give each job its own name"
                ),
            );
        }
        let mode = raw.mode.as_ref().map(|m| m.get_ref().as_str());
        // A mesh job may list its replicas, the hub first, instead of a source and destinations.
        let (source_raw, dests_raw) = match (&raw.replicas, mode) {
            (Some(r), Some("mesh")) if raw.source.is_none() && raw.destinations.is_none() => {
                let list = r.get_ref();
                if list.len() < 2 {
                    err(r.span(), "a mesh needs at least two replicas; list them all".into());
                }
                match list.split_first() {
                    Some((hub, rest)) => {
                        (Some(hub.clone()), Some(Spanned::new(r.span(), rest.to_vec())))
                    }
                    None => (None, None),
                }
            }
            (Some(r), Some("mesh")) => {
                err(r.span(), "give either replicas or source and destinations, not both".into());
                (None, None)
            }
            (Some(r), _) => {
                err(
                    r.span(),
                    "replicas are for mode = \"mesh\"; use source and destinations".into(),
                );
                (None, None)
            }
            (None, _) => (raw.source.clone(), raw.destinations.clone()),
        };
        let job_span = raw.name.span();
        let (source_raw, dests_raw) = match (source_raw, dests_raw) {
            (Some(s), Some(d)) => (s, d),
            (s, d) => {
                if s.is_none() && raw.replicas.is_none() {
                    err(
                        job_span.clone(),
                        format!("job {name:?} has no source; add source = \"/path\""),
                    );
                }
                if d.is_none() && raw.replicas.is_none() {
                    err(
                        job_span,
                        format!("job {name:?} has no destinations; add destinations = [\"/path\"]"),
                    );
                }
                continue;
            }
        };
        let source = base.join(source_raw.get_ref());
        match std::fs::metadata(&source) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => {
                err(source_raw.span(), format!("source {} is not a directory", source.display()))
            }
            Err(e) => err(
                source_raw.span(),
                format!("source {} cannot be read ({e}); check the path", source.display()),
            ),
        }
        let mut destinations = Vec::new();
        if dests_raw.get_ref().is_empty() {
            err(dests_raw.span(), "job has no destinations; list at least one".into());
        }
        for d in dests_raw.get_ref() {
            match parse_destination(d.get_ref()) {
                Ok(Destination::Local(p)) => {
                    let p = base.join(p);
                    let parent_ok =
                        p.parent().is_none_or(|q| q.as_os_str().is_empty() || q.is_dir());
                    if p.exists() && !p.is_dir() {
                        err(d.span(), format!("destination {} is not a directory", p.display()));
                    } else if !parent_ok {
                        err(
                            d.span(),
                            format!(
                                "destination {} cannot be created: its parent does not exist",
                                p.display()
                            ),
                        );
                    }
                    destinations.push((d.get_ref().clone(), Destination::Local(p)));
                }
                Ok(remote) => destinations.push((d.get_ref().clone(), remote)),
                Err(e) => err(d.span(), e.to_string()),
            }
        }
        let tz = match &raw.timezone {
            Some(t) => parse_tz(Some(t.get_ref())).map_err(|e| err(t.span(), e)).ok(),
            None => Some(parse_tz(None).unwrap_or(chrono_tz::Tz::UTC)),
        };
        let at_start = raw
            .schedule
            .as_ref()
            .is_some_and(|s| s.get_ref().trim().eq_ignore_ascii_case("@reboot"));
        let schedule = match (&raw.schedule, tz) {
            _ if at_start => None,
            (Some(s), Some(tz)) => {
                Schedule::parse(s.get_ref(), tz).map_err(|e| err(s.span(), e)).ok()
            }
            _ => None,
        };
        let watch = match raw.mode.as_ref().map(|m| (m, m.get_ref().as_str())) {
            None | Some((_, "schedule")) => {
                if let Some(d) = &raw.delay {
                    err(
                        d.span(),
                        "delay is for watch jobs; add mode = \"watch\" or remove it".into(),
                    );
                }
                None
            }
            Some((m, "watch")) => {
                if at_start {
                    let at = raw.schedule.as_ref().map_or(m.span(), |s| s.span());
                    err(at, "a watch job runs from the daemon's start: leave out @reboot, or give a cron schedule for whole passes".into());
                }
                let delay = match &raw.delay {
                    None => Some(Duration::from_millis(200)),
                    Some(d) => match parse_duration(d.get_ref()) {
                        Ok(v) if v <= Duration::from_secs(3600) => Some(v),
                        Ok(_) => {
                            err(
                                d.span(),
                                format!("delay {:?} is longer than an hour", d.get_ref()),
                            );
                            None
                        }
                        Err(e) => {
                            err(d.span(), format!("delay: {e}"));
                            None
                        }
                    },
                };
                Some(delay.unwrap_or(Duration::from_millis(200)))
            }
            Some((_, "two-way" | "mesh")) => None,
            Some((m, other)) => {
                err(
                    m.span(),
                    format!(
                        "mode {other:?} is not \"schedule\", \"watch\", \"two-way\" or \"mesh\""
                    ),
                );
                None
            }
        };
        let policy = match raw.prefer.as_ref().map(|p| (p, p.get_ref().as_str())) {
            None => Some(crate::plan::reconcile::Policy::KeepBoth),
            Some((_, "newer")) => Some(crate::plan::reconcile::Policy::PreferNewer),
            Some((_, "a")) => {
                Some(crate::plan::reconcile::Policy::Prefer(crate::plan::reconcile::Side::A))
            }
            Some((_, "b")) => {
                Some(crate::plan::reconcile::Policy::Prefer(crate::plan::reconcile::Side::B))
            }
            Some((p, other)) => {
                err(p.span(), format!("prefer {other:?} is not \"a\", \"b\" or \"newer\""));
                None
            }
        };
        let two_way = match mode {
            Some(m @ ("two-way" | "mesh")) => {
                let mesh = m == "mesh";
                if !mesh && destinations.len() > 1 {
                    err(dests_raw.span(), "a two-way job has one destination, the other replica; use mode = \"mesh\" for more".into());
                }
                if let Some(d) = &raw.delay {
                    err(
                        d.span(),
                        format!("delay is for watch jobs; a {m} job runs on its schedule"),
                    );
                }
                if raw.delete == Some(false) {
                    let at = raw.mode.as_ref().map_or(0..0, |m| m.span());
                    err(at, format!("delete = false does not apply to a {m} job; leave it out"));
                }
                policy.map(|policy| TwoWayJob { mesh, policy })
            }
            _ => {
                if let Some(p) = &raw.prefer {
                    err(p.span(), "prefer is for two-way and mesh jobs".into());
                }
                None
            }
        };
        let excludes = {
            let patterns: Vec<String> = raw.exclude.iter().map(|p| p.get_ref().clone()).collect();
            Excludes::new(&patterns)
                .map_err(|e| err(raw.exclude.first().map_or(0..0, |p| p.span()), e))
                .unwrap_or_default()
        };
        let max_delete = raw.max_delete.as_ref().and_then(|m| {
            let parsed = match m.get_ref() {
                RawMaxDelete::Count(n) => Ok(MaxDelete::Count(*n)),
                RawMaxDelete::Text(t) => t.parse::<MaxDelete>(),
            };
            parsed.map_err(|e| err(m.span(), format!("max_delete: {e}"))).ok()
        });
        let mut duration = |v: &Option<Spanned<String>>, what: &str, default: Duration| match v {
            None => default,
            Some(s) => match parse_duration(s.get_ref()) {
                Ok(d) if d <= MAX_DELAY => d,
                Ok(_) => {
                    err(s.span(), format!("{what} {:?} is longer than a day", s.get_ref()));
                    default
                }
                Err(e) => {
                    err(s.span(), format!("{what}: {e}"));
                    default
                }
            },
        };
        let jitter = duration(&raw.jitter, "jitter", Duration::ZERO);
        let retry_delay = duration(&raw.retry_delay, "retry_delay", Duration::from_secs(5));
        let retries = match &raw.retries {
            Some(r) if *r.get_ref() > MAX_RETRIES => {
                err(
                    r.span(),
                    format!("retries = {} is too many; at most {MAX_RETRIES}", r.get_ref()),
                );
                3
            }
            Some(r) => *r.get_ref(),
            None => 3,
        };
        let host_key_policy =
            raw.host_key_policy.as_ref().and_then(|p| match p.get_ref().as_str() {
                "strict" => Some(HostKeyPolicy::Strict),
                "accept-new" => Some(HostKeyPolicy::AcceptNew),
                other => {
                    err(
                        p.span(),
                        format!("host_key_policy {other:?} is not \"strict\" or \"accept-new\""),
                    );
                    None
                }
            });
        let compress_level = match &raw.compress_level {
            Some(c) if !(0..=22).contains(c.get_ref()) => {
                err(c.span(), format!("compress_level {} is not from 0 to 22", c.get_ref()));
                None
            }
            Some(c) => Some(*c.get_ref() as i32),
            None => None,
        };
        let keep_trash = match &raw.keep_trash {
            None => Some(crate::sync::spec::DEFAULT_KEEP_TRASH),
            Some(k) => crate::sync::spec::parse_keep_trash(k.get_ref())
                .map_err(|e| err(k.span(), format!("keep_trash: {e} (or \"forever\")")))
                .unwrap_or(Some(crate::sync::spec::DEFAULT_KEEP_TRASH)),
        };
        let bwlimit = raw.bwlimit.as_ref().and_then(|b| {
            crate::sync::spec::parse_rate(b.get_ref())
                .map_err(|e| err(b.span(), format!("bwlimit: {e}")))
                .ok()
        });
        let ssh = SshOptions {
            config_file: raw.ssh_config.as_ref().map(|p| base.join(p)),
            identities: raw.identity.iter().map(|p| base.join(p)).collect(),
            known_hosts: raw.known_hosts.as_ref().map(|p| base.join(p)),
            host_key_policy,
            remote_tern: raw.remote_tern.clone().unwrap_or_else(|| "tern".into()),
            compress_level,
            cache_dir: crate::tree::scan::cache_dir(),
            bwlimit,
            overrides: raw.ssh_options.clone(),
        };
        jobs.push(Job {
            name,
            source,
            destinations,
            schedule,
            at_start,
            watch,
            excludes,
            delete: raw.delete.unwrap_or(true),
            guards: GuardPolicy { max_delete, force: raw.force.unwrap_or(false) },
            jitter,
            catch_up: raw.catch_up.unwrap_or(true),
            retries,
            retry_delay,
            on_success: raw.on_success,
            on_failure: raw.on_failure,
            healthcheck_url,
            ssh,
            keep_trash,
            check_dest: raw.check_dest.unwrap_or(false),
            xattrs: raw.xattrs.unwrap_or(true),
            one_file_system: raw.one_file_system.unwrap_or(false),
            hard_links: raw.hard_links.unwrap_or(true),
            two_way,
        });
    }
    if errors.is_empty() {
        let metrics_file = raw.metrics_file.map(|m| base.join(m));
        Ok(JobFile { path: path.to_owned(), jobs, metrics_file })
    } else {
        errors.sort_by_key(|e| e.line);
        Err(FileErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<JobFile, Vec<String>> {
        parse(Path::new("/etc/t.toml"), text)
            .map_err(|e| e.0.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn a_valid_file() {
        let text = r#"
[[job]]
name = "site"
source = "/tmp"
destinations = ["backup1:/srv/site", "ssh://alice@b2:2222/srv"]
schedule = "*/15 * * * *"
timezone = "Europe/Berlin"
exclude = ["*.tmp", "cache/"]
max_delete = "10%"
jitter = "30s"
retries = 2
"#;
        let f = check(text).unwrap();
        let j = &f.jobs[0];
        assert_eq!(j.name, "site");
        assert_eq!(j.destinations.len(), 2);
        assert_eq!(j.guards.max_delete, Some(MaxDelete::Percent(10.0)));
        assert_eq!(j.jitter, Duration::from_secs(30));
        assert_eq!(j.schedule.as_ref().unwrap().tz(), chrono_tz::Europe::Berlin);
    }

    #[test]
    fn every_error_names_its_line() {
        let text = r#"
[[job]]
name = "a"
source = "/nonexistent/source"
destinations = ["/tmp/x"]
schedule = "61 * * * *"
timezone = "Mars/Base"

[[job]]
name = "a"
source = "/tmp"
destinations = ["ssh://host"]
max_delete = "lots"
retries = 1000
jitter = "soon"
"#;
        let errs = check(text).unwrap_err();
        let want = [
            "/etc/t.toml:4: source /nonexistent/source cannot be read",
            "/etc/t.toml:7: unknown time zone \"Mars/Base\"",
            "/etc/t.toml:10: job name \"a\" is used twice (first at line 3)",
            "/etc/t.toml:12: destination ssh://host is not valid",
            "/etc/t.toml:13: max_delete:",
            "/etc/t.toml:14: retries = 1000 is too many",
            "/etc/t.toml:15: jitter:",
        ];
        for w in want {
            assert!(errs.iter().any(|e| e.starts_with(w)), "no error like {w:?} in {errs:#?}");
        }
        // the bad cron expression is reported too, once the zone is valid
        let errs = check("[[job]]\nname = \"b\"\nsource = \"/tmp\"\ndestinations = [\"/tmp/y\"]\nschedule = \"61 * * * *\"\n").unwrap_err();
        assert!(
            errs[0].starts_with(
                "/etc/t.toml:5: cron expression \"61 * * * *\": minute 61 is out of range 0-59"
            ),
            "{errs:?}"
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_their_line() {
        let errs = check("[[job]]\nname = \"a\"\nsource = \"/tmp\"\ndestinations = [\"/tmp/z\"]\nschedul = \"* * * * *\"\n").unwrap_err();
        assert!(errs[0].starts_with("/etc/t.toml:5: unknown field `schedul`"), "{errs:?}");
        let errs = check("[[job]]\nname = \"a\"\nsource = \"/tmp\"\ndestinations = \"/tmp/z\"\n")
            .unwrap_err();
        assert!(errs[0].starts_with("/etc/t.toml:4: invalid type"), "{errs:?}");
        let errs = check("[[job]]\nname = \"a\"\nretries = 99999999999\n").unwrap_err();
        assert!(errs[0].starts_with("/etc/t.toml:3:"), "{errs:?}");
        let errs = check("[[job]\nname = 1\n").unwrap_err();
        assert!(errs[0].starts_with("/etc/t.toml:1:"), "{errs:?}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("").is_err());
    }
}
