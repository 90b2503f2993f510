//! Who and where to connect: a destination's host, resolved through `ssh_config` and tern's flags.
//!
//! Precedence follows OpenSSH: what the destination says (`user@host:port`) and command-line flags
//! win over the config file, whose first matching value wins over defaults.

use super::known_hosts::HostKeyPolicy;
use super::{SshError, SshOptions, SshTarget};
use ssh2_config::{ParseRule, SshConfig};
use std::path::PathBuf;
use std::time::Duration;

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
    /// known_hosts files: the first is where accepted keys are recorded.
    pub known_hosts: Vec<PathBuf>,
    pub policy: HostKeyPolicy,
    pub connect_timeout: Duration,
    /// The command to connect through (`ProxyCommand`, or `ProxyJump` as `ssh -W`), expanded.
    pub proxy_command: Option<String>,
    /// Keywords of the config that apply to this host and that tern does not support.
    pub ignored: Vec<String>,
}

/// Keywords tern reads from `ssh_config` beyond what the parser itself applies.
const HANDLED: &[&str] = &["userknownhostsfile", "stricthostkeychecking", "proxycommand"];
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
    "serveraliveinterval",
    "serveralivecountmax",
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
    "gssapiauthentication",
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
    "userknownhostsfile2",
    "globalknownhostsfile",
];

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).or_else(dirs::home_dir).unwrap_or_default()
}

fn expand(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None if p == "~" => home(),
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

fn load_config(opts: &SshOptions) -> Result<Option<SshConfig>, SshError> {
    let (path, required) = match &opts.config_file {
        Some(p) => (p.clone(), true),
        None => (home().join(".ssh/config"), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        // No ~/.ssh/config: the `-o` lines alone, if any.
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            if opts.overrides.is_empty() {
                return Ok(None);
            }
            String::new()
        }
        Err(e) => return Err(SshError::Config { path, message: e.to_string() }),
    };
    parse_with_overrides(&text, &opts.overrides)
        .map(Some)
        .map_err(|message| SshError::Config { path, message })
}

/// `text` with the `-o` lines before it, as OpenSSH reads them: the first value found wins.
fn parse_with_overrides(text: &str, overrides: &[String]) -> Result<SshConfig, String> {
    let mut all = String::new();
    if !overrides.is_empty() {
        all.push_str("Host *\n");
        for o in overrides {
            let (key, value) = o.split_once('=').map_or((o.as_str(), ""), |(k, v)| (k, v));
            all.push_str(&format!("  {} {}\n", key.trim(), value.trim()));
        }
        // The file's lines belong to its own blocks again.
        all.push_str("Host *\n");
    }
    all.push_str(text);
    let rules = ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS;
    SshConfig::default()
        .home_dir(home())
        .parse(&mut all.as_bytes(), rules)
        .map_err(|e| e.to_string())
}

/// Resolve `target` with the config file and flags.
pub fn resolve(target: &SshTarget, opts: &SshOptions) -> Result<Resolved, SshError> {
    let params = load_config(opts)?.map(|c| c.query(&target.host));
    let field = |name: &str| -> Option<Vec<String>> {
        let p = params.as_ref()?;
        p.unsupported_fields.get(name).or_else(|| p.ignored_fields.get(name)).cloned()
    };
    let host_name =
        params.as_ref().and_then(|p| p.host_name.clone()).unwrap_or_else(|| target.host.clone());
    let port = target.port.or(params.as_ref().and_then(|p| p.port)).unwrap_or(22);
    let user = target
        .user
        .clone()
        .or_else(|| params.as_ref().and_then(|p| p.user.clone()))
        .unwrap_or_else(local_user);
    let mut identities = opts.identities.clone();
    if let Some(files) = params.as_ref().and_then(|p| p.identity_file.clone()) {
        identities.extend(files);
    }
    let known_hosts = match (&opts.known_hosts, field("userknownhostsfile")) {
        (Some(f), _) => vec![f.clone()],
        (None, Some(files)) if !files.is_empty() => files.iter().map(|f| expand(f)).collect(),
        _ => vec![home().join(".ssh/known_hosts")],
    };
    let policy = match (opts.host_key_policy, field("stricthostkeychecking")) {
        (Some(p), _) => p,
        (None, Some(v)) => match v.first().map(|s| s.to_ascii_lowercase()).as_deref() {
            // tern never connects to a host whose key changed, so "no" means accept-new here
            Some("accept-new" | "no" | "off") => HostKeyPolicy::AcceptNew,
            _ => HostKeyPolicy::Strict,
        },
        (None, None) => HostKeyPolicy::Strict,
    };
    let connect_timeout =
        params.as_ref().and_then(|p| p.connect_timeout).unwrap_or(Duration::from_secs(15));
    let proxy = match field("proxycommand") {
        Some(words) if !words.is_empty() && !words[0].eq_ignore_ascii_case("none") => {
            Some(words.join(" "))
        }
        _ => params
            .as_ref()
            .and_then(|p| p.proxy_jump.as_ref())
            .and_then(|hops| super::proxy::jump_command(hops, opts.config_file.as_deref())),
    };
    let proxy_command =
        proxy.map(|c| super::proxy::expand(&c, &host_name, port, &user, &target.host));
    let mut ignored: Vec<String> = params
        .as_ref()
        .map(|p| p.unsupported_fields.keys().chain(p.ignored_fields.keys()).cloned().collect())
        .unwrap_or_default();
    ignored.retain(|k| {
        let k = k.to_ascii_lowercase();
        !HANDLED.contains(&k.as_str()) && !HARMLESS.contains(&k.as_str())
    });
    ignored.sort();
    ignored.dedup();
    Ok(Resolved {
        alias: target.host.clone(),
        host_name,
        port,
        user,
        identities,
        known_hosts,
        policy,
        connect_timeout,
        proxy_command,
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-o` lines win over the file's, as with OpenSSH, for the keywords the parser knows and for
    /// those tern reads itself; a host's other lines still apply.
    #[test]
    fn overrides_win_over_the_config_file() {
        let file =
            "Host web\n  HostName 10.0.0.5\n  Port 2222\n  ProxyCommand nc a b\n  User alice\n";
        let o = |s: &str| s.to_string();
        let cfg =
            parse_with_overrides(file, &[o("Port=2200"), o("ProxyCommand=ssh -W %h:%p jump")])
                .unwrap();
        let p = cfg.query("web");
        assert_eq!(p.port, Some(2200));
        assert_eq!(p.host_name.as_deref(), Some("10.0.0.5"));
        assert_eq!(p.user.as_deref(), Some("alice"));
        let proxy =
            p.unsupported_fields.get("proxycommand").or(p.ignored_fields.get("proxycommand"));
        assert_eq!(proxy.map(|w| w.join(" ")).as_deref(), Some("ssh -W %h:%p jump"));
        let plain = parse_with_overrides(file, &[]).unwrap().query("web");
        assert_eq!(plain.port, Some(2222));
    }

    /// A keyword that changes what a connection does and that tern does not support is listed
    /// for the warning; one that changes nothing is not.
    #[test]
    fn unsupported_keywords_that_matter_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        let text = "Host web\n  IdentitiesOnly yes\n  LocalForward 8080 localhost:80\n  \
                    ServerAliveInterval 30\n";
        std::fs::write(&file, text).unwrap();
        let opts = SshOptions { config_file: Some(file), ..Default::default() };
        let target = SshTarget { user: None, host: "web".into(), port: None, path: ".".into() };
        let r = resolve(&target, &opts).unwrap();
        assert_eq!(r.ignored, ["identitiesonly", "localforward"]);
    }
}
