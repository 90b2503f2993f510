//! Reaching an SSH host: `ssh_config` ([`config`]), `known_hosts` ([`known_hosts`]), connecting
//! with libssh2 (through the `ssh2` crate) directly, through a `ProxyCommand` ([`proxy`]) or
//! through jump hosts ([`jump`]), checking the host key and authenticating.
//!
//! What runs over the session is not decided here: [`crate::remote::host`] starts the agent on
//! it, or falls back to SFTP ([`crate::remote::sftp`]).

pub mod config;
pub mod jump;
pub mod known_hosts;
pub mod proxy;

use crate::transport::{TransportError, Unreachable};
use config::{IdentityAgent, Resolved, Via};
use known_hosts::{HostKeyPolicy, KnownHosts, Verdict, fingerprint, host_string};
use ssh2::{HostKeyType, MethodType, Session};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

/// The most jump hosts one connection goes through, nested `ProxyJump`s included: more is a loop
/// in the config, most likely.
const MAX_HOPS: usize = 8;

/// Ciphers tern prefers, fastest first; the rest of what libssh2 supports follows.
const PREFERRED_CIPHERS: &[&str] = &[
    "aes128-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
];

/// `[user@]host[:port]` and a path on that host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// As given: relative paths are relative to the remote user's home.
    pub path: String,
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
        let host =
            if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        match self.port {
            Some(p) => write!(f, "ssh://{user}{host}:{p}/{}", self.path.trim_start_matches('/')),
            None => write!(f, "{user}{host}:{}", self.path),
        }
    }
}

/// SSH settings from the command line (or a job).
#[derive(Debug, Clone, Default)]
pub struct SshOptions {
    /// `-F`: an ssh_config file instead of `~/.ssh/config`.
    pub config_file: Option<PathBuf>,
    /// `-i`: identity files tried before the config's and the defaults.
    pub identities: Vec<PathBuf>,
    /// `--known-hosts`: the known_hosts file instead of the config's or `~/.ssh/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    pub host_key_policy: Option<HostKeyPolicy>,
    /// The tern binary on the remote host.
    pub remote_tern: String,
    /// zstd level for the stream, fixed; 0 turns compression off. `None`: fitted to each run's
    /// payload ([`crate::remote::wire::level_for`]).
    pub compress_level: Option<i32>,
    /// Where to keep copies of remote manifests (`None`: always fetch).
    pub cache_dir: Option<PathBuf>,
    /// Most bytes per second to send (`--bwlimit`).
    pub bwlimit: Option<u64>,
    /// `-o Key=Value`: ssh_config lines that come before the config file's, so they win.
    pub overrides: Vec<String>,
}

/// Why an SSH connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("ssh config {}: {message}; fix the file or pass another with -F", path.display())]
    Config { path: PathBuf, message: String },
    #[error("-o {option}: {message}")]
    Option { option: String, message: String },
    #[error("through jump host {hop}")]
    Jump {
        hop: String,
        #[source]
        source: Box<SshError>,
    },
    #[error("cannot resolve host {host}: {message}; check the name or the HostName in ssh_config")]
    Resolve { host: String, message: String },
    #[error(
        "cannot connect to {host} port {port}; check that sshd runs there and the port is right"
    )]
    Connect {
        host: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("ssh handshake with {host} failed: {message}")]
    Handshake { host: String, message: String },
    #[error(
        "host key of {host} is unknown ({key_type} {fingerprint}); if it is right, run again with \
         --host-key-policy accept-new, or add it with `ssh-keyscan {keyscan} >> ~/.ssh/known_hosts`"
    )]
    UnknownHostKey { host: String, key_type: String, fingerprint: String, keyscan: String },
    #[error(
        "HOST KEY OF {host} HAS CHANGED (now {key_type} {fingerprint}; {}:{line} has another): \
         someone may be intercepting the connection; if the change is expected, remove the old \
         key with `ssh-keygen -R '{host}'`",
        file.display()
    )]
    ChangedHostKey {
        host: String,
        key_type: String,
        fingerprint: String,
        file: PathBuf,
        line: usize,
    },
    #[error("host key of {host} ({fingerprint}) is revoked in {}:{line}; refusing to connect", file.display())]
    RevokedHostKey { host: String, fingerprint: String, file: PathBuf, line: usize },
    #[error(
        "host key of {host} ({key}) is vouched for only by the @cert-authority line {at}, and \
         tern cannot check host certificates; add the host's own key with \
         `ssh-keyscan {keyscan} >> ~/.ssh/known_hosts` after checking its fingerprint"
    )]
    CertAuthority {
        host: String,
        /// Type and fingerprint.
        key: String,
        keyscan: String,
        /// `file:line` of the `@cert-authority` line.
        at: String,
    },
    #[error("cannot record the host key of {host} in {}", file.display())]
    RecordHostKey {
        host: String,
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("authentication as {user}@{host} failed (tried {tried}){hint}")]
    Auth { user: String, host: String, tried: String, hint: String },
    #[error("ssh error on {host}: {message}")]
    Session { host: String, message: String },
}

impl From<SshError> for TransportError {
    fn from(e: SshError) -> Self {
        let transient = e.is_transient();
        TransportError::Unreachable(Unreachable { error: Box::new(e), transient })
    }
}

impl SshError {
    /// Connection problems may go away; key and authentication problems will not.
    pub fn is_transient(&self) -> bool {
        match self {
            SshError::Jump { source, .. } => source.is_transient(),
            e => matches!(
                e,
                SshError::Connect { .. } | SshError::Resolve { .. } | SshError::Handshake { .. }
            ),
        }
    }
}

fn key_type_name(t: HostKeyType) -> &'static str {
    match t {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => "unknown",
    }
}

/// The libssh2 host key methods that produce a key of a known_hosts key type.
fn methods_for(key_type: &str) -> &'static [&'static str] {
    match key_type {
        "ssh-ed25519" => &["ssh-ed25519"],
        "ecdsa-sha2-nistp256" => &["ecdsa-sha2-nistp256"],
        "ecdsa-sha2-nistp384" => &["ecdsa-sha2-nistp384"],
        "ecdsa-sha2-nistp521" => &["ecdsa-sha2-nistp521"],
        "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
        _ => &[],
    }
}

/// Put `preferred` (those supported) first, then the rest of what is supported.
fn preference(sess: &Session, method: MethodType, preferred: &[&str]) -> Option<String> {
    let supported = sess.supported_algs(method).ok()?;
    let mut list: Vec<&str> = preferred.iter().copied().filter(|p| supported.contains(p)).collect();
    if list.is_empty() {
        return None;
    }
    let rest: Vec<&str> = supported.iter().copied().filter(|s| !list.contains(s)).collect();
    list.extend(rest);
    Some(list.join(","))
}

/// Quote `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+:,=@%".contains(&b)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// What carries a session that is not on a TCP connection of its own; held for its `Drop`.
#[expect(dead_code, reason = "held only to be dropped with the connection")]
enum Carrier {
    Command(proxy::Proxy),
    Jump(jump::Tunnel),
}

/// An authenticated SSH session.
pub struct Connection {
    pub session: Session,
    pub resolved: Resolved,
    /// The session's own connection (a duplicate descriptor), to wait on it.
    io: OwnedFd,
    /// The `ProxyCommand` or jump host the session runs over, if any: stopped with the
    /// connection, after the session (fields drop in order).
    _carrier: Option<Carrier>,
}

impl Connection {
    pub(crate) fn session_err(&self, e: ssh2::Error) -> SshError {
        SshError::Session { host: self.resolved.alias.clone(), message: e.message().to_string() }
    }
}

/// Connect, verify the host key, and authenticate.
pub fn connect(target: &SshTarget, opts: &SshOptions) -> Result<Connection, SshError> {
    open(config::resolve(target, opts)?, opts, 0)
}

/// Connect to a resolved host; `hops` jump hosts were gone through to get here.
fn open(r: Resolved, opts: &SshOptions, hops: usize) -> Result<Connection, SshError> {
    if !r.ignored.is_empty() {
        eprintln!(
            "tern: warning: ssh_config for {}: not supported, ignored: {}",
            r.alias,
            r.ignored.join(", ")
        );
    }
    let host = host_string(&r.host_name, r.port);
    let handshake = |m: String| SshError::Handshake { host: host.clone(), message: m };
    let mut sess = Session::new().map_err(|e| handshake(e.to_string()))?;
    let (stream, carrier): (OwnedFd, _) = match &r.via {
        Some(Via::Command(command)) => {
            let (socket, proxy) = proxy::start(command).map_err(|e| SshError::Connect {
                host: r.host_name.clone(),
                port: r.port,
                source: std::io::Error::new(e.kind(), format!("ProxyCommand {command:?}: {e}")),
            })?;
            (socket.into(), Some(Carrier::Command(proxy)))
        }
        Some(Via::Jump(through)) => {
            let (socket, tunnel) = jump_to(&r, through, opts, hops)?;
            (socket.into(), Some(Carrier::Jump(tunnel)))
        }
        None => (tcp_to(&r)?.into(), None),
    };
    let io = stream.try_clone().map_err(|e| handshake(e.to_string()))?;
    sess.set_tcp_stream(stream);
    sess.set_timeout(r.connect_timeout.as_millis() as u32);
    for method in [MethodType::CryptCs, MethodType::CryptSc] {
        if let Some(pref) = preference(&sess, method, PREFERRED_CIPHERS) {
            let _ = sess.method_pref(method, &pref);
        }
    }
    let files: Vec<PathBuf> = r.known_hosts.iter().chain(&r.global_known_hosts).cloned().collect();
    let known = KnownHosts::load(&files).map_err(|e| SshError::Config {
        path: r.known_hosts.first().cloned().unwrap_or_default(),
        message: e.to_string(),
    })?;
    // Ask for a key of a type we know for this host, so a known host is not mistaken for new.
    let known_methods: Vec<&str> = known
        .key_types(&r.known_name())
        .iter()
        .flat_map(|t| methods_for(t).iter().copied())
        .collect();
    if let Some(pref) = preference(&sess, MethodType::HostKey, &known_methods) {
        let _ = sess.method_pref(MethodType::HostKey, &pref);
    }
    sess.handshake().map_err(|e| handshake(e.message().to_string()))?;
    verify_host_key(&sess, &r, &known)?;
    authenticate(&sess, &r)?;
    // Data transfers may take long between two reads: no libssh2 timeout, TCP keepalive instead.
    sess.set_timeout(0);
    Ok(Connection { session: sess, resolved: r, io, _carrier: carrier })
}

/// A socket to `r`'s host through the jump hosts `through` (`ProxyJump a,b,c`), as OpenSSH's `-J`
/// goes: the last hop is reached through the ones before it, the first by its own config (its
/// own `ProxyJump` included). Each hop is resolved with the config file and tern's host key
/// options; `-o` and `-i` are the target's, as with OpenSSH.
fn jump_to(
    r: &Resolved,
    through: &[SshTarget],
    opts: &SshOptions,
    hops: usize,
) -> Result<(std::os::unix::net::UnixStream, jump::Tunnel), SshError> {
    // The config refuses an empty `ProxyJump` where it reads it, with its file and line.
    let Some((last, before)) = through.split_last() else {
        return Err(SshError::Config {
            path: opts.config_file.clone().unwrap_or_else(|| "ssh_config".into()),
            message: format!("ProxyJump for {} names no host", r.alias),
        });
    };
    if hops >= MAX_HOPS {
        return Err(SshError::Config {
            path: opts.config_file.clone().unwrap_or_else(|| "ssh_config".into()),
            message: format!(
                "reaching {} goes through more than {MAX_HOPS} jump hosts; look for a ProxyJump \
                 loop",
                r.alias
            ),
        });
    }
    let hop_opts = SshOptions { identities: Vec::new(), overrides: Vec::new(), ..opts.clone() };
    let mut hop = config::resolve(last, &hop_opts)?;
    if !before.is_empty() {
        hop.via = Some(Via::Jump(before.to_vec()));
    }
    let hop_name = hop.alias.clone();
    let conn = open(hop, &hop_opts, hops + 1).map_err(|e| match e {
        // The innermost hop is the one to name; a loop is the config's error, not a hop's.
        e @ (SshError::Jump { .. } | SshError::Config { .. }) => e,
        e => {
            let user = last.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
            let port = last.port.map(|p| format!(":{p}")).unwrap_or_default();
            SshError::Jump { hop: format!("{user}{}{port}", last.host), source: Box::new(e) }
        }
    })?;
    let channel = conn.session.channel_direct_tcpip(&r.host_name, r.port, None).map_err(|e| {
        SshError::Connect {
            host: r.host_name.clone(),
            port: r.port,
            source: std::io::Error::other(format!("through jump host {hop_name}: {}", e.message())),
        }
    })?;
    jump::start(conn, channel).map_err(|e| SshError::Connect {
        host: r.host_name.clone(),
        port: r.port,
        source: e,
    })
}

/// A TCP connection to the resolved host, with keepalives.
fn tcp_to(r: &Resolved) -> Result<TcpStream, SshError> {
    let addrs: Vec<_> = (r.host_name.as_str(), r.port)
        .to_socket_addrs()
        .map_err(|e| SshError::Resolve { host: r.host_name.clone(), message: e.to_string() })?
        .collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    let mut tcp = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, r.connect_timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let Some(tcp) = tcp else {
        return Err(SshError::Connect { host: r.host_name.clone(), port: r.port, source: last });
    };
    let _ = tcp.set_nodelay(true);
    // A peer that vanishes without a reset (a cut link, a suspended host) must not leave a sync,
    // or a scheduled job, blocked forever: the kernel probes an idle connection and fails the
    // next read after about 90 s of silence. A busy but live agent answers the probes.
    // `ServerAliveInterval` and `ServerAliveCountMax` set the probes: a peer silent for interval
    // times count is given up on, as OpenSSH gives up after count unanswered messages.
    let (first, every, retries) = match r.server_alive {
        Some((every, count)) => {
            let every = every.max(Duration::from_secs(1));
            (every, every, count)
        }
        None => (Duration::from_secs(30), Duration::from_secs(10), 6),
    };
    let keepalive =
        socket2::TcpKeepalive::new().with_time(first).with_interval(every).with_retries(retries);
    let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(&keepalive);
    Ok(tcp)
}

fn verify_host_key(sess: &Session, r: &Resolved, known: &KnownHosts) -> Result<(), SshError> {
    let host = r.known_name();
    let Some((key, ktype)) = sess.host_key() else {
        return Err(SshError::Handshake { host, message: "server sent no host key".into() });
    };
    let key_type = key_type_name(ktype).to_string();
    let keyscan = || {
        if r.port == 22 { r.host_name.clone() } else { format!("-p {} {}", r.port, r.host_name) }
    };
    match known.check(&host, &key_type, key) {
        Verdict::Known => Ok(()),
        Verdict::Changed { file, line } => Err(SshError::ChangedHostKey {
            host,
            key_type,
            fingerprint: fingerprint(key),
            file,
            line,
        }),
        Verdict::Revoked { file, line } => {
            Err(SshError::RevokedHostKey { host, fingerprint: fingerprint(key), file, line })
        }
        Verdict::CertAuthority { file, line } => Err(SshError::CertAuthority {
            host,
            key: format!("{key_type} {}", fingerprint(key)),
            keyscan: keyscan(),
            at: format!("{}:{line}", file.display()),
        }),
        Verdict::Unknown if r.policy == HostKeyPolicy::AcceptNew && !r.known_hosts.is_empty() => {
            let file = r.known_hosts[0].clone();
            known_hosts::append(&file, &host, &key_type, key).map_err(|source| {
                SshError::RecordHostKey { host: host.clone(), file: file.clone(), source }
            })?;
            eprintln!("tern: added {host} ({key_type} {}) to {}", fingerprint(key), file.display());
            Ok(())
        }
        Verdict::Unknown => Err(SshError::UnknownHostKey {
            keyscan: keyscan(),
            host,
            key_type,
            fingerprint: fingerprint(key),
        }),
    }
}

/// Whether a private key file is protected by a passphrase.
fn key_is_encrypted(path: &std::path::Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    if text.contains("ENCRYPTED") {
        return true;
    }
    // OpenSSH format: base64 body starting with "openssh-key-v1\0", then the cipher name.
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine;
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(body.trim()) else {
        return false;
    };
    let Some(rest) = raw.strip_prefix(b"openssh-key-v1\0") else { return false };
    if rest.len() < 4 {
        return false;
    }
    let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    rest.get(4..4 + n).is_some_and(|cipher| cipher != b"none")
}

/// The public key blob of a private key file, from the `.pub` file beside it.
fn public_blob(key: &std::path::Path) -> Option<Vec<u8>> {
    let mut name = key.as_os_str().to_owned();
    name.push(".pub");
    let text = std::fs::read_to_string(name).ok()?;
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text.split_whitespace().nth(1)?).ok()
}

/// ssh-agent first (the `IdentityAgent` socket), then identity files: `-i` and the config's, or
/// the default `~/.ssh/id_*` when none is named (as OpenSSH). With `IdentitiesOnly`, an agent key
/// is offered only if it is one of those files.
fn authenticate(sess: &Session, r: &Resolved) -> Result<(), SshError> {
    let mut tried = Vec::new();
    let socket = match &r.identity_agent {
        IdentityAgent::None => None,
        IdentityAgent::Env => std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from),
        IdentityAgent::Socket(p) => Some(p.clone()),
    };
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let files: Vec<PathBuf> = if r.identities.is_empty() {
        ["id_ed25519", "id_ecdsa", "id_rsa"].iter().map(|n| home.join(".ssh").join(n)).collect()
    } else {
        r.identities.clone()
    };
    if let Some(socket) = socket
        && let Ok(mut agent) = sess.agent()
        && agent.set_identity_path(&socket).is_ok()
        && agent.connect().is_ok()
        && agent.list_identities().is_ok()
    {
        let mut ids = agent.identities().unwrap_or_default();
        if r.identities_only {
            let allowed: Vec<Vec<u8>> = files.iter().filter_map(|f| public_blob(f)).collect();
            ids.retain(|id| allowed.iter().any(|b| b.as_slice() == id.blob()));
        }
        tried.push(format!("ssh-agent ({} keys)", ids.len()));
        for id in &ids {
            if agent.userauth(&r.user, id).is_ok() && sess.authenticated() {
                return Ok(());
            }
        }
        let _ = agent.disconnect();
    }
    let explicit = !r.identities.is_empty();
    let mut encrypted = Vec::new();
    for key in &files {
        if !key.exists() {
            if explicit {
                tried.push(format!("{} (missing)", key.display()));
            }
            continue;
        }
        if key_is_encrypted(key) {
            encrypted.push(key.display().to_string());
            continue;
        }
        tried.push(key.display().to_string());
        if sess.userauth_pubkey_file(&r.user, None, key, None).is_ok() && sess.authenticated() {
            return Ok(());
        }
    }
    let hint = match encrypted.first() {
        Some(k) => format!(
            "; identity file {k} is encrypted and no ssh-agent offers it: run `ssh-add {k}` first"
        ),
        None => "; add your key to the remote ~/.ssh/authorized_keys or name it with -i".into(),
    };
    let tried = if tried.is_empty() { "no keys: none found".into() } else { tried.join(", ") };
    Err(SshError::Auth { user: r.user.clone(), host: r.alias.clone(), tried, hint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_keys_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("pem");
        std::fs::write(&pem, "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n").unwrap();
        assert!(key_is_encrypted(&pem));
        use base64::Engine;
        let mk = |cipher: &[u8]| {
            let mut raw = b"openssh-key-v1\0".to_vec();
            raw.extend_from_slice(&(cipher.len() as u32).to_be_bytes());
            raw.extend_from_slice(cipher);
            let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
            format!(
                "-----BEGIN OPENSSH PRIVATE KEY-----\n{b64}\n-----END OPENSSH PRIVATE KEY-----\n"
            )
        };
        let enc = dir.path().join("enc");
        std::fs::write(&enc, mk(b"aes256-ctr")).unwrap();
        assert!(key_is_encrypted(&enc));
        let plain = dir.path().join("plain");
        std::fs::write(&plain, mk(b"none")).unwrap();
        assert!(!key_is_encrypted(&plain));
    }

    #[test]
    fn targets_display_as_given() {
        let t =
            SshTarget { user: Some("a".into()), host: "h".into(), port: None, path: "x/y".into() };
        assert_eq!(t.to_string(), "a@h:x/y");
        let t = SshTarget {
            user: Some("a".into()),
            host: "h".into(),
            port: Some(2222),
            path: "/srv".into(),
        };
        assert_eq!(t.to_string(), "ssh://a@h:2222/srv");
    }
}
