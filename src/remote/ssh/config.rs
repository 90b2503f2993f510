//! Who and where to connect: a destination's host, resolved through `ssh_config` as OpenSSH reads
//! it, and tern's flags.
//!
//! OpenSSH does not parse its config into blocks and query them later: it reads the files once
//! for the host at hand, line by line, keeping the lines whose `Host` or `Match` applies, and the
//! first value a keyword gets is the one it keeps (`IdentityFile` and `CertificateFile`
//! accumulate). tern reads them the same way, so a host resolves to what `ssh -G HOST` prints (a
//! test compares the two):
//! - `-o Key=Value` lines first, then `-F FILE`, or `~/.ssh/config` and then
//!   `/etc/ssh/ssh_config`;
//! - `Host` patterns with `*`, `?` and `!negation`, matched against the name as given;
//! - `Match` with `all`, `host`, `originalhost`, `user`, `localuser`, `exec`, `tagged`,
//!   `sessiontype`, `canonical` and `final` (a second pass, as OpenSSH makes), each negatable;
//! - `Include` with globs, relative to `~/.ssh` (`/etc/ssh` from the system file), its lines
//!   applying only where the `Include` line does;
//! - `ProxyCommand` and `ProxyJump`: whichever comes first.
//!
//! tern used the ssh2-config crate before; it merges whole blocks (the last value inside a block
//! wins), has no `Match` (a `Match` block's lines fell into the block above it), and never reads
//! the system file, so it answered otherwise than OpenSSH on real configs.

use super::known_hosts::{HostKeyPolicy, host_string, patterns_match};
use super::{SshError, SshOptions, SshTarget};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the connection reaches the server when not by TCP directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// `ProxyCommand`, its tokens expanded: a child process is the connection.
    Command(String),
    /// `ProxyJump`: through these hosts, the first one connected to first.
    Jump(Vec<SshTarget>),
}

/// Where ssh-agent keys come from (`IdentityAgent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityAgent {
    /// `$SSH_AUTH_SOCK`, the default.
    Env,
    /// `IdentityAgent none`: no agent.
    None,
    /// A socket named in the config.
    Socket(PathBuf),
}

/// Everything needed to open the connection.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The name given on the command line (an alias, maybe).
    pub alias: String,
    /// The host to connect to.
    pub host_name: String,
    pub port: u16,
    pub user: String,
    /// Identity files to try after the agent, in order.
    pub identities: Vec<PathBuf>,
    /// `IdentitiesOnly`: only the identity files, and agent keys that are one of them.
    pub identities_only: bool,
    pub identity_agent: IdentityAgent,
    /// known_hosts files: the first is where accepted keys are recorded.
    pub known_hosts: Vec<PathBuf>,
    /// `GlobalKnownHostsFile`: read, never written.
    pub global_known_hosts: Vec<PathBuf>,
    /// `HostKeyAlias`: the name the host key is looked up and recorded under.
    pub host_key_alias: Option<String>,
    pub policy: HostKeyPolicy,
    pub connect_timeout: Duration,
    /// `ServerAliveInterval` and `ServerAliveCountMax`, when the interval is not 0.
    pub server_alive: Option<(Duration, u32)>,
    pub via: Option<Via>,
    /// Keywords of the config that apply to this host and that tern does not support.
    pub ignored: Vec<String>,
}

impl Resolved {
    /// The name the host key is known by in known_hosts.
    pub fn known_name(&self) -> String {
        match &self.host_key_alias {
            Some(alias) => alias.clone(),
            None => host_string(&self.host_name, self.port),
        }
    }
}

/// Keywords tern reads.
const HANDLED: &[&str] = &[
    "hostname",
    "port",
    "user",
    "identityfile",
    "identitiesonly",
    "identityagent",
    "userknownhostsfile",
    "globalknownhostsfile",
    "stricthostkeychecking",
    "connecttimeout",
    "proxycommand",
    "proxyjump",
    "serveraliveinterval",
    "serveralivecountmax",
    "hostkeyalias",
    "tag",
];
/// Keywords whose being ignored changes nothing a sync does.
const HARMLESS: &[&str] = &[
    "addkeystoagent",
    "forwardx11",
    "forwardx11trusted",
    "forwardagent",
    "requesttty",
    "sendenv",
    "setenv",
    "loglevel",
    "visualhostkey",
    "hashknownhosts",
    "updatehostkeys",
    "tcpkeepalive",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "usekeychain",
    "batchmode",
    "compression",
    "preferredauthentications",
    "pubkeyauthentication",
    "passwordauthentication",
    "kbdinteractiveauthentication",
    "challengeresponseauthentication",
    "gssapiauthentication",
    "gssapidelegatecredentials",
    "ciphers",
    "macs",
    "kexalgorithms",
    "hostkeyalgorithms",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "localcommand",
    "permitlocalcommand",
    "escapechar",
    "addressfamily",
    "canonicalizehostname",
    "checkhostip",
    "ignoreunknown",
    "connectionattempts",
    "exitonforwardfailure",
    "clearallforwardings",
];

/// The deepest `Include` nesting, as OpenSSH's.
const MAX_INCLUDE_DEPTH: usize = 16;

/// A keyword line that applies to the host, in the order OpenSSH reads it.
#[derive(Debug, Clone)]
struct Line {
    /// Lower-case.
    key: String,
    args: Vec<String>,
    /// The line after the keyword, untouched (`ProxyCommand` takes it whole).
    rest: String,
    file: PathBuf,
    number: usize,
}

/// Reads config files for one host, keeping the lines that apply to it.
struct Reader<'a> {
    /// The host name as given, lower-case.
    original: String,
    target: &'a SshTarget,
    home: PathBuf,
    final_pass: bool,
    wants_final: bool,
    lines: Vec<Line>,
    /// `Match` criteria tern cannot decide (taken as not matching).
    undecided: Vec<String>,
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).or_else(dirs::home_dir).unwrap_or_default()
}

/// `~` and `~/...` expanded with `home`.
fn tilde(p: &str, home: &Path) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if p == "~" => home.to_path_buf(),
        None => PathBuf::from(p),
    }
}

/// The local user name, for when neither the destination nor the config names one.
fn local_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var)
            && !u.is_empty()
        {
            return u;
        }
    }
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| "root".into())
}

fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Split a line into its keyword and the rest, as OpenSSH does: the keyword ends at white space
/// or `=`, and one `=` may stand between it and its arguments.
fn keyword(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
    let (key, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
    Some((key, rest.trim_end()))
}

/// Arguments split at white space, `"double quotes"` grouping; a word starting with `#` ends
/// the line.
fn words(rest: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut in_word, mut quoted) = (false, false);
    for c in rest.chars() {
        if quoted {
            if c == '"' {
                quoted = false;
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                in_word = true;
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// A `Match` criterion's comma-separated pattern list.
fn pattern_list(list: &str, s: &str, fold_case: bool) -> bool {
    patterns_match(list.split(','), s, fold_case)
}

/// A `Host` line's patterns (each word one pattern), against the name as given.
fn host_line(patterns: &[String], host: &str) -> bool {
    patterns_match(patterns.iter().map(String::as_str), host, true)
}

/// An OpenSSH time (`ConnectTimeout`, `ServerAliveInterval`): seconds, or `1m30s` style.
fn time_value(s: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604800,
            _ => return None,
        };
        total = total.checked_add(num.parse::<u64>().ok()?.checked_mul(unit)?)?;
        num.clear();
    }
    if !num.is_empty() {
        total = total.checked_add(num.parse().ok()?)?;
    }
    Some(Duration::from_secs(total))
}

impl Reader<'_> {
    fn first(&self, key: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.key == key)
    }

    /// The host `Match host` sees: the `HostName` so far, its `%h` expanded, else the name.
    fn current_host(&self) -> String {
        match self.first("hostname").and_then(|l| l.args.first()) {
            Some(h) => expand_host_name(h, &self.original),
            None => self.original.clone(),
        }
    }

    fn current_user(&self) -> String {
        self.target
            .user
            .clone()
            .or_else(|| self.first("user").and_then(|l| l.args.first().cloned()))
            .unwrap_or_else(local_user)
    }

    fn current_port(&self) -> u16 {
        self.target
            .port
            .or_else(|| self.first("port").and_then(|l| l.args.first()?.parse().ok()))
            .unwrap_or(22)
    }

    fn tokens(&self) -> Tokens {
        Tokens {
            host: self.current_host(),
            port: self.current_port(),
            user: self.current_user(),
            original: self.original.clone(),
            home: self.home.clone(),
        }
    }

    /// Read one file's lines; `active` is whether the lines before apply (and is what the last
    /// `Host` or `Match` left, for an included file's caller to restore).
    fn read(
        &mut self,
        text: &str,
        file: &Path,
        base: &Path,
        depth: usize,
        active: &mut bool,
    ) -> Result<(), SshError> {
        let err = |number: usize, message: String| SshError::Config {
            path: file.to_path_buf(),
            message: format!("line {number}: {message}"),
        };
        for (i, raw) in text.lines().enumerate() {
            let number = i + 1;
            let Some((key, rest)) = keyword(raw) else { continue };
            let args = words(rest).map_err(|m| err(number, m))?;
            let key = key.to_ascii_lowercase();
            match key.as_str() {
                "host" => {
                    if args.is_empty() {
                        return Err(err(number, "Host needs at least one pattern".into()));
                    }
                    *active = host_line(&args, &self.original);
                }
                "match" => *active = self.match_line(&args).map_err(|m| err(number, m))?,
                "include" if *active => {
                    if depth >= MAX_INCLUDE_DEPTH {
                        return Err(err(number, "Include nested too deeply (a loop?)".into()));
                    }
                    for arg in &args {
                        let pattern = if arg.starts_with('~') {
                            tilde(arg, &self.home)
                        } else {
                            base.join(arg)
                        };
                        let pattern = pattern.to_string_lossy().into_owned();
                        let paths = glob::glob(&pattern)
                            .map_err(|e| err(number, format!("Include {arg}: {e}")))?;
                        for path in paths.flatten() {
                            let text = std::fs::read_to_string(&path).map_err(|e| {
                                err(number, format!("Include {}: {e}", path.display()))
                            })?;
                            let mut inner = *active;
                            self.read(&text, &path, base, depth + 1, &mut inner)?;
                        }
                    }
                }
                "include" => {}
                _ if *active => self.lines.push(Line {
                    key,
                    args,
                    rest: rest.to_string(),
                    file: file.to_path_buf(),
                    number,
                }),
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether a `Match` line's criteria all hold.
    fn match_line(&mut self, args: &[String]) -> Result<bool, String> {
        if args.is_empty() {
            return Err("Match needs criteria (all, host, user, exec, ...)".into());
        }
        let mut result = true;
        let mut i = 0;
        while i < args.len() {
            let word = args[i].to_ascii_lowercase();
            i += 1;
            let (negate, crit) = match word.strip_prefix('!') {
                Some(c) => (true, c.to_string()),
                None => (false, word.clone()),
            };
            let this = match crit.as_str() {
                "all" => true,
                // tern does not canonicalize host names; OpenSSH takes the final pass as the one
                // after canonicalization all the same.
                "canonical" => self.final_pass,
                "final" => {
                    self.wants_final = true;
                    self.final_pass
                }
                _ => {
                    let Some(arg) = args.get(i) else {
                        return Err(format!("Match {crit} needs an argument"));
                    };
                    i += 1;
                    match crit.as_str() {
                        "host" => pattern_list(arg, &self.current_host(), true),
                        "originalhost" => pattern_list(arg, &self.original, true),
                        "user" => pattern_list(arg, &self.current_user(), false),
                        "localuser" => pattern_list(arg, &local_user(), false),
                        "tagged" => {
                            let tag = self.first("tag").and_then(|l| l.args.first().cloned());
                            pattern_list(arg, &tag.unwrap_or_default(), false)
                        }
                        // tern's sessions run a command.
                        "sessiontype" => pattern_list(arg, "exec", false),
                        // A command runs only while the line can still match, as with OpenSSH.
                        "exec" if !result => false,
                        "exec" => {
                            let command = self.tokens().expand(arg);
                            std::process::Command::new("/bin/sh")
                                .args(["-c", &command])
                                .stdin(std::process::Stdio::null())
                                .stdout(std::process::Stdio::null())
                                .status()
                                .is_ok_and(|s| s.success())
                        }
                        "localnetwork" | "version" | "command" => {
                            self.undecided.push(format!("match {crit}"));
                            false
                        }
                        other => return Err(format!("unknown Match criterion {other:?}")),
                    }
                }
            };
            if this == negate {
                result = false;
            }
        }
        Ok(result)
    }
}

/// `%h` in a `HostName`.
fn expand_host_name(value: &str, original: &str) -> String {
    value.replace("%%", "\u{0}").replace("%h", original).replace('\u{0}', "%")
}

/// The values OpenSSH's `%` tokens stand for.
struct Tokens {
    host: String,
    port: u16,
    user: String,
    original: String,
    home: PathBuf,
}

impl Tokens {
    /// `%h` host, `%p` port, `%r` remote user, `%n` the name as given, `%u` local user, `%d`
    /// home, `%l`/`%L` local host name, `%%` a percent sign; others are left as they are.
    fn expand(&self, s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('h') => out.push_str(&self.host),
                Some('p') => out.push_str(&self.port.to_string()),
                Some('r') => out.push_str(&self.user),
                Some('n') => out.push_str(&self.original),
                Some('u') => out.push_str(&local_user()),
                Some('d') => out.push_str(&self.home.to_string_lossy()),
                Some('l') => out.push_str(&local_host_name()),
                Some('L') => out.push_str(local_host_name().split('.').next().unwrap_or_default()),
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        out
    }

    /// A file name: `~` and the tokens.
    fn path(&self, s: &str) -> PathBuf {
        tilde(&self.expand(s), &self.home)
    }
}

/// Parse a `ProxyJump` hop: `[user@]host[:port]` or `ssh://[user@]host[:port]`.
pub fn parse_hop(hop: &str) -> Option<SshTarget> {
    let hop = hop.trim();
    let hop = hop.strip_prefix("ssh://").unwrap_or(hop).trim_end_matches('/');
    let (user, rest) = match hop.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, hop),
    };
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (h, after) = inner.split_once(']')?;
        (h, after.strip_prefix(':').map(str::parse::<u16>).transpose().ok()?)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some(SshTarget { user, host: host.to_string(), port, path: String::new() })
}

/// The config files to read, with the folder their relative `Include`s start from, and whether a
/// missing one is an error.
fn files(opts: &SshOptions) -> Vec<(PathBuf, PathBuf, bool)> {
    let home = home();
    match &opts.config_file {
        Some(f) => vec![(f.clone(), home.join(".ssh"), true)],
        None => vec![
            (home.join(".ssh/config"), home.join(".ssh"), false),
            (PathBuf::from("/etc/ssh/ssh_config"), PathBuf::from("/etc/ssh"), false),
        ],
    }
}

/// Read `-o` lines and the config files for `target`: the lines that apply, in order.
fn read_config<'a>(target: &'a SshTarget, opts: &SshOptions) -> Result<Reader<'a>, SshError> {
    let mut texts = Vec::new();
    for (path, base, required) in files(opts) {
        match std::fs::read_to_string(&path) {
            Ok(text) => texts.push((path, base, text)),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SshError::Config { path, message: e.to_string() }),
        }
    }
    let mut overrides = String::new();
    for o in &opts.overrides {
        let (key, value) = o.split_once('=').map_or((o.as_str(), ""), |(k, v)| (k, v));
        let key = key.trim();
        if ["host", "match", "include"].contains(&key.to_ascii_lowercase().as_str()) {
            return Err(SshError::Option {
                option: o.clone(),
                message: format!("{key} cannot be given with -o; put it in the config file"),
            });
        }
        overrides.push_str(&format!("{key} {}\n", value.trim()));
    }
    let mut reader = Reader {
        original: target.host.to_ascii_lowercase(),
        target,
        home: home(),
        final_pass: false,
        wants_final: false,
        lines: Vec::new(),
        undecided: Vec::new(),
    };
    loop {
        let mut active = true;
        reader.read(&overrides, Path::new("-o"), Path::new("."), 0, &mut active)?;
        for (path, base, text) in &texts {
            let mut active = true;
            reader.read(text, path, base, 0, &mut active)?;
        }
        // `Match final` asks for a second pass, whose lines come after the first's.
        if !reader.wants_final || reader.final_pass {
            break;
        }
        reader.final_pass = true;
    }
    Ok(reader)
}

/// Resolve `target` with the config files and flags.
pub fn resolve(target: &SshTarget, opts: &SshOptions) -> Result<Resolved, SshError> {
    let r = read_config(target, opts)?;
    let bad = |l: &Line, what: &str| SshError::Config {
        path: l.file.clone(),
        message: format!("line {}: {} {:?}: {what}", l.number, l.key, l.rest),
    };
    let arg = |key: &str| r.first(key).and_then(|l| l.args.first().map(|a| (l, a.as_str())));
    let yes_no = |key: &str| -> Result<Option<bool>, SshError> {
        match arg(key) {
            None => Ok(None),
            Some((_, v)) if v.eq_ignore_ascii_case("yes") => Ok(Some(true)),
            Some((_, v)) if v.eq_ignore_ascii_case("no") => Ok(Some(false)),
            Some((l, _)) => Err(bad(l, "expected yes or no")),
        }
    };
    let host_name = r.current_host();
    let port = match (target.port, arg("port")) {
        (Some(p), _) => p,
        (None, Some((l, v))) => v.parse().map_err(|_| bad(l, "not a port number"))?,
        (None, None) => 22,
    };
    // The port is known good here, so the tokens' port is the one resolved.
    let tokens = r.tokens();
    let user = tokens.user.clone();
    let mut identities = opts.identities.clone();
    for l in r.lines.iter().filter(|l| l.key == "identityfile") {
        for a in l.args.iter().filter(|a| !a.eq_ignore_ascii_case("none")) {
            // OpenSSH names a file once, however many lines (or passes) give it.
            let path = tokens.path(a);
            if !identities.contains(&path) {
                identities.push(path);
            }
        }
    }
    let identity_agent = match arg("identityagent") {
        None => IdentityAgent::Env,
        Some((_, v)) if v.eq_ignore_ascii_case("none") => IdentityAgent::None,
        Some((_, "SSH_AUTH_SOCK")) => IdentityAgent::Env,
        Some((l, v)) => match v.strip_prefix('$') {
            Some(var) => match std::env::var_os(var) {
                Some(path) => IdentityAgent::Socket(PathBuf::from(path)),
                None => return Err(bad(l, &format!("${var} is not set"))),
            },
            None => IdentityAgent::Socket(tokens.path(v)),
        },
    };
    let file_list = |key: &str, default: &[PathBuf]| -> Vec<PathBuf> {
        match r.first(key) {
            Some(l) if l.args.iter().any(|a| a.eq_ignore_ascii_case("none")) => Vec::new(),
            Some(l) if !l.args.is_empty() => l.args.iter().map(|a| tokens.path(a)).collect(),
            _ => default.to_vec(),
        }
    };
    let known_hosts = match &opts.known_hosts {
        Some(f) => vec![f.clone()],
        None => file_list(
            "userknownhostsfile",
            &[r.home.join(".ssh/known_hosts"), r.home.join(".ssh/known_hosts2")],
        ),
    };
    let global_known_hosts = file_list(
        "globalknownhostsfile",
        &["/etc/ssh/ssh_known_hosts".into(), "/etc/ssh/ssh_known_hosts2".into()],
    );
    let policy = match (opts.host_key_policy, arg("stricthostkeychecking")) {
        (Some(p), _) => p,
        (None, Some((_, v))) => match v.to_ascii_lowercase().as_str() {
            // tern never connects to a host whose key changed, so "no" means accept-new here
            "accept-new" | "no" | "off" => HostKeyPolicy::AcceptNew,
            _ => HostKeyPolicy::Strict,
        },
        (None, None) => HostKeyPolicy::Strict,
    };
    let connect_timeout = match arg("connecttimeout") {
        Some((l, v)) => time_value(v).ok_or_else(|| bad(l, "not a time (like 10 or 1m)"))?,
        None => Duration::from_secs(15),
    };
    let server_alive = match arg("serveraliveinterval") {
        Some((l, v)) => {
            let every = time_value(v).ok_or_else(|| bad(l, "not a time (like 30)"))?;
            let count = match arg("serveralivecountmax") {
                Some((l, v)) => v.parse().map_err(|_| bad(l, "not a number"))?,
                None => 3,
            };
            (!every.is_zero() && count > 0).then_some((every, count))
        }
        None => None,
    };
    // ProxyCommand and ProxyJump exclude each other: the first one given wins.
    let via = match r.lines.iter().find(|l| l.key == "proxycommand" || l.key == "proxyjump") {
        Some(l) if l.args.first().is_none_or(|a| a.eq_ignore_ascii_case("none")) => None,
        Some(l) if l.key == "proxycommand" => Some(Via::Command(tokens.expand(&l.rest))),
        Some(l) => {
            let hops: Option<Vec<SshTarget>> = l
                .args
                .iter()
                .flat_map(|a| a.split(','))
                .filter(|h| !h.is_empty())
                .map(parse_hop)
                .collect();
            let hops = hops.filter(|h| !h.is_empty());
            Some(Via::Jump(hops.ok_or_else(|| bad(l, "expected [user@]host[:port],..."))?))
        }
        None => None,
    };
    let mut ignored: Vec<String> = r
        .lines
        .iter()
        .map(|l| l.key.clone())
        .filter(|k| !HANDLED.contains(&k.as_str()) && !HARMLESS.contains(&k.as_str()))
        .chain(r.undecided.iter().cloned())
        .collect();
    ignored.sort();
    ignored.dedup();
    Ok(Resolved {
        alias: target.host.clone(),
        host_name,
        port,
        user,
        identities,
        identities_only: yes_no("identitiesonly")?.unwrap_or(false),
        identity_agent,
        known_hosts,
        global_known_hosts,
        host_key_alias: arg("hostkeyalias").map(|(_, v)| v.to_string()),
        policy,
        connect_timeout,
        server_alive,
        via,
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str) -> SshTarget {
        SshTarget { user: None, host: host.into(), port: None, path: ".".into() }
    }

    fn resolve_text(text: &str, host: &str, overrides: &[&str]) -> Resolved {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(&file, text).unwrap();
        let opts = SshOptions {
            config_file: Some(file),
            overrides: overrides.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        resolve(&target(host), &opts).unwrap()
    }

    /// `-o` lines win over the file's; a host's other lines still apply; first value wins, also
    /// inside one block.
    #[test]
    fn overrides_win_and_the_first_value_wins() {
        let file = "Host web\n  HostName 10.0.0.5\n  Port 2222\n  Port 2223\n  \
                    ProxyCommand nc %h %p\n  User alice\nHost *\n  Port 9\n";
        let r = resolve_text(file, "web", &["Port=2200", "ProxyCommand=ssh -W %h:%p jump"]);
        assert_eq!((r.port, r.host_name.as_str(), r.user.as_str()), (2200, "10.0.0.5", "alice"));
        assert_eq!(r.via, Some(Via::Command("ssh -W 10.0.0.5:2200 jump".into())));
        let r = resolve_text(file, "web", &[]);
        assert_eq!(r.port, 2222);
        assert_eq!(r.via, Some(Via::Command("nc 10.0.0.5 2222".into())));
        assert_eq!(resolve_text(file, "other", &[]).port, 9);
    }

    /// A keyword that changes what a connection does and that tern does not support is listed
    /// for the warning; one that changes nothing is not.
    #[test]
    fn unsupported_keywords_that_matter_are_listed() {
        let text = "Host web\n  CertificateFile ~/.ssh/c\n  LocalForward 8080 localhost:80\n  \
                    SendEnv LANG\nMatch host web localnetwork 10.0.0.0/8\n  Port 1\n";
        let r = resolve_text(text, "web", &[]);
        assert_eq!(r.ignored, ["certificatefile", "localforward", "match localnetwork"]);
        assert_eq!(r.port, 22);
    }

    #[test]
    fn negated_patterns_matches_and_jumps() {
        let text = "Host *.lan !secret.lan\n  User lan\nMatch originalhost secret.lan\n  \
                    ProxyJump admin@bastion:2200,ssh://b2\n  ProxyCommand never\n\
                    Match host 10.* user root\n  Port 10\nHost web\n  HostName 10.1.1.1\n\
                    Match host 10.* !user root\n  Port 11\n";
        assert_eq!(resolve_text(text, "a.lan", &[]).user, "lan");
        let r = resolve_text(text, "secret.lan", &[]);
        assert_ne!(r.user, "lan");
        let hop = |u: Option<&str>, h: &str, p| SshTarget {
            user: u.map(String::from),
            host: h.into(),
            port: p,
            path: String::new(),
        };
        assert_eq!(
            r.via,
            Some(Via::Jump(vec![hop(Some("admin"), "bastion", Some(2200)), hop(None, "b2", None)]))
        );
        // `Match host` sees the HostName given before it.
        let web = SshTarget { user: Some("deploy".into()), ..target("web") };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c");
        std::fs::write(&file, text).unwrap();
        let opts = SshOptions { config_file: Some(file), ..Default::default() };
        assert_eq!(resolve(&web, &opts).unwrap().port, 11, "Match host 10.* comes after HostName");
    }

    #[test]
    fn words_and_keywords_split_as_openssh_splits_them() {
        assert_eq!(keyword("  Port=22"), Some(("Port", "22")));
        assert_eq!(keyword("Port = 22 "), Some(("Port", "22")));
        assert_eq!(keyword("# c"), None);
        assert_eq!(words(r#"a "b c" d#e # f"#).unwrap(), ["a", "b c", "d#e"]);
        assert!(words("\"open").is_err());
        assert_eq!(time_value("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(time_value("45"), Some(Duration::from_secs(45)));
        assert_eq!(time_value("4x"), None);
        assert_eq!(parse_hop("[::1]:22").map(|t| (t.host, t.port)), Some(("::1".into(), Some(22))));
        assert_eq!(parse_hop("h:notaport"), None);
    }

    /// The same configs and hosts through OpenSSH's own reading (`ssh -G`): tern connects where
    /// ssh would, as whom, with which keys, through which hosts.
    #[test]
    fn hosts_resolve_as_ssh_g_resolves_them() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(
            dir.path().join("conf.d/a.conf"),
            "Host db\n  HostName db.internal\n  User dbuser\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("conf.d/b.conf"), "Host db\n  Port 2299\n  HostName no\n")
            .unwrap();
        let text = format!(
            "Host *.lan !secret.lan\n  User lanuser\n  Port 2201\n\
             Host web web2\n  HostName %h.example.com\n  Port 2202\n  Port 2203\n  IdentityFile /keys/a\n\
             Match host *.example.com user deploy\n  Port 2204\n  IdentityFile /keys/b\n\
             Match originalhost web2 exec \"test -e /etc/passwd\"\n  ProxyJump admin@bastion:2200,ssh://b2\n\
             Match exec \"test -e {d}/nothing\"\n  User never\n\
             Match final host web.example.com\n  HostKeyAlias webalias\n\
             Match canonical\n  ServerAliveInterval 45\n\
             Host *\n  IdentityFile /keys/default\n  ConnectTimeout 7\n  IdentitiesOnly yes\n\
             Include {d}/conf.d/*.conf\n"
        );
        let file = dir.path().join("config");
        std::fs::write(&file, text).unwrap();
        for dest in ["a.lan", "secret.lan", "web", "deploy@web", "web2", "db", "other"] {
            let out = std::process::Command::new("ssh")
                .arg("-G")
                .arg("-F")
                .arg(&file)
                .arg(dest)
                .output()
                .expect("ssh -G (apt-get install openssh-client)");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let g = String::from_utf8(out.stdout).unwrap();
            let get = |k: &str| -> Vec<String> {
                g.lines()
                    .filter_map(|l| l.strip_prefix(k)?.strip_prefix(' ').map(String::from))
                    .collect()
            };
            let one = |k: &str| get(k).into_iter().next().unwrap_or_default();
            let (user, host) = dest.split_once('@').map_or((None, dest), |(u, h)| (Some(u), h));
            let t = SshTarget { user: user.map(String::from), ..target(host) };
            let opts = SshOptions { config_file: Some(file.clone()), ..Default::default() };
            let r = resolve(&t, &opts).unwrap();
            assert_eq!(r.host_name, one("hostname"), "{dest}: hostname");
            assert_eq!(r.port.to_string(), one("port"), "{dest}: port");
            assert_eq!(r.user, one("user"), "{dest}: user");
            let ids: Vec<String> = r.identities.iter().map(|p| p.display().to_string()).collect();
            assert_eq!(ids, get("identityfile"), "{dest}: identity files");
            let jumps = |hops: &[SshTarget]| -> Vec<(Option<String>, String, Option<u16>)> {
                hops.iter().map(|h| (h.user.clone(), h.host.clone(), h.port)).collect()
            };
            let ours = match &r.via {
                Some(Via::Jump(h)) => jumps(h),
                _ => Vec::new(),
            };
            let theirs: Vec<SshTarget> = get("proxyjump")
                .iter()
                .flat_map(|j| j.split(',').filter_map(parse_hop).collect::<Vec<_>>())
                .collect();
            assert_eq!(ours, jumps(&theirs), "{dest}: proxyjump");
            assert_eq!(r.host_key_alias.unwrap_or_default(), one("hostkeyalias"), "{dest}: alias");
            assert_eq!(r.identities_only, one("identitiesonly") == "yes", "{dest}");
            let alive = r.server_alive.map_or(0, |(d, _)| d.as_secs());
            assert_eq!(alive.to_string(), one("serveraliveinterval"), "{dest}: server alive");
            assert_eq!(r.connect_timeout.as_secs().to_string(), one("connecttimeout"), "{dest}");
        }
    }

    /// Errors name the file and line and say what is wrong.
    #[test]
    fn bad_values_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        for (text, says) in [
            ("Host x\n  Port eighty\n", "line 2: port \"eighty\": not a port number"),
            ("Match\n", "line 1: Match needs criteria"),
            ("Match colour blue\n", "unknown Match criterion \"colour\""),
            ("Host x\n  IdentitiesOnly maybe\n", "expected yes or no"),
            ("Include FILE\n", "Include nested too deeply"),
            ("Host x\n  ProxyJump ,\n", "line 2: proxyjump \",\": expected [user@]host[:port]"),
        ] {
            let text = text.replace("FILE", &file.display().to_string());
            std::fs::write(&file, &text).unwrap();
            let opts = SshOptions { config_file: Some(file.clone()), ..Default::default() };
            let e = resolve(&target("x"), &opts).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
