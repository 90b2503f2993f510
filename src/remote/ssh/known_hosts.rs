//! Host key verification against OpenSSH `known_hosts` files, with OpenSSH's own matching rules.
//!
//! libssh2's checker lets a bare `host` entry match any port; OpenSSH does not: a server on a port
//! other than 22 is known only as `[host]:port`. So tern parses the files itself: plain and
//! wildcard patterns, `!negations`, hashed names (`|1|salt|HMAC-SHA1`), and `@revoked` keys.
//! `@cert-authority` lines are never trusted (libssh2 cannot check host certificates), but a host
//! they vouch for is refused with that reason rather than taken as new.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What to do with a server whose key is not known yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Refuse unknown and changed keys.
    Strict,
    /// Record unknown keys in the known_hosts file; refuse changed ones.
    AcceptNew,
}

/// The outcome of checking a server's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Known,
    /// No entry of this key type for this host.
    Unknown,
    /// An entry of the same type for this host has another key.
    Changed {
        file: PathBuf,
        line: usize,
    },
    /// The key is listed as `@revoked`.
    Revoked {
        file: PathBuf,
        line: usize,
    },
    /// No key is known, but a `@cert-authority` line vouches for the host: tern cannot check
    /// host certificates (libssh2 has no support), so it must not take the key as new.
    CertAuthority {
        file: PathBuf,
        line: usize,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    file: PathBuf,
    line: usize,
    revoked: bool,
    hosts: String,
    key_type: String,
    key: Vec<u8>,
}

/// The entries of one or more known_hosts files.
#[derive(Debug, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
    /// `@cert-authority` lines: (file, line, host patterns).
    authorities: Vec<(PathBuf, usize, String)>,
}

/// How a host appears in known_hosts: `host` on port 22, `[host]:port` otherwise.
pub fn host_string(host: &str, port: u16) -> String {
    if port == 22 { host.to_string() } else { format!("[{host}]:{port}") }
}

/// OpenSSH's fingerprint of a key blob: `SHA256:` and unpadded base64.
pub fn fingerprint(key: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(key)))
}

impl KnownHosts {
    /// Read every file that exists; missing files are simply empty.
    pub fn load(files: &[PathBuf]) -> std::io::Result<Self> {
        let mut kh = KnownHosts::default();
        for f in files {
            match std::fs::read_to_string(f) {
                Ok(text) => kh.parse(f, &text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(kh)
    }

    fn parse(&mut self, file: &Path, text: &str) {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or_default();
            let mut revoked = false;
            if let Some(marker) = first.strip_prefix('@') {
                first = fields.next().unwrap_or_default();
                match marker {
                    "revoked" => revoked = true,
                    // Never trusted; remembered to say why a host is refused.
                    "cert-authority" => {
                        self.authorities.push((file.to_owned(), i + 1, first.to_string()));
                        continue;
                    }
                    _ => continue,
                }
            }
            let (Some(key_type), Some(key64)) = (fields.next(), fields.next()) else { continue };
            let Ok(key) = STANDARD.decode(key64) else { continue };
            self.entries.push(Entry {
                file: file.to_owned(),
                line: i + 1,
                revoked,
                hosts: first.to_string(),
                key_type: key_type.to_string(),
                key,
            });
        }
    }

    /// The key types recorded for the host known as `name` (to prefer them in the key exchange).
    pub fn key_types(&self, name: &str) -> Vec<String> {
        let mut types: Vec<String> = Vec::new();
        for e in self.entries.iter().filter(|e| !e.revoked && hosts_match(&e.hosts, name)) {
            if !types.contains(&e.key_type) {
                types.push(e.key_type.clone());
            }
        }
        types
    }

    /// Check `key` of type `key_type` presented by the host known as `name` (`host`, or
    /// `[host]:port` off port 22, or a `HostKeyAlias`).
    pub fn check(&self, name: &str, key_type: &str, key: &[u8]) -> Verdict {
        if let Some(e) = self.entries.iter().find(|e| e.revoked && e.key == key) {
            return Verdict::Revoked { file: e.file.clone(), line: e.line };
        }
        let mut changed = None;
        for e in self.entries.iter().filter(|e| !e.revoked && hosts_match(&e.hosts, name)) {
            if e.key_type == key_type {
                if e.key == key {
                    return Verdict::Known;
                }
                changed.get_or_insert(Verdict::Changed { file: e.file.clone(), line: e.line });
            }
        }
        if let Some(v) = changed {
            return v;
        }
        match self.authorities.iter().find(|(_, _, hosts)| hosts_match(hosts, name)) {
            Some((file, line, _)) => Verdict::CertAuthority { file: file.clone(), line: *line },
            None => Verdict::Unknown,
        }
    }
}

/// Append `host key` to `file` (creating it and its directory, private to the user).
pub fn append(file: &Path, name: &str, key_type: &str, key: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let mut f = std::fs::OpenOptions::new().append(true).create(true).mode(0o600).open(file)?;
    // Start on a fresh line even if the file lacks a final newline.
    let len = f.metadata()?.len();
    let sep = if len > 0 && !std::fs::read(file)?.ends_with(b"\n") { "\n" } else { "" };
    writeln!(f, "{sep}{name} {key_type} {}", STANDARD.encode(key))
}

/// Whether a comma-separated host field matches `name`: some positive pattern matches and no
/// negated one does.
fn hosts_match(field: &str, name: &str) -> bool {
    match field.strip_prefix("|1|") {
        Some(hashed) => hashed_match(hashed, name),
        None => patterns_match(field.split(','), name, true),
    }
}

/// OpenSSH's pattern list: a match of a `!negated` pattern fails the whole list, else any positive
/// match passes it (known_hosts fields, ssh_config's `Host` and `Match` lines).
pub(crate) fn patterns_match<'a>(
    patterns: impl IntoIterator<Item = &'a str>,
    s: &str,
    fold_case: bool,
) -> bool {
    let mut matched = false;
    for pat in patterns.into_iter().filter(|p| !p.is_empty()) {
        match pat.strip_prefix('!') {
            Some(neg) if wildcard(neg, s, fold_case) => return false,
            Some(_) => {}
            None if wildcard(pat, s, fold_case) => matched = true,
            None => {}
        }
    }
    matched
}

/// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
fn hashed_match(rest: &str, name: &str) -> bool {
    let Some((salt, hash)) = rest.split_once('|') else { return false };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else { return false };
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(&salt) else { return false };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Whether `s` matches `pat` with `*` and `?` wildcards; host names compare without case.
pub(crate) fn wildcard(pat: &str, s: &str, fold_case: bool) -> bool {
    let (pat, s) = (pat.as_bytes(), s.as_bytes());
    let same = |a: u8, b: u8| if fold_case { a.eq_ignore_ascii_case(&b) } else { a == b };
    let (mut p, mut i) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while i < s.len() {
        if p < pat.len() && (pat[p] == b'?' || same(pat[p], s[i])) {
            p += 1;
            i += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some(p);
            mark = i;
            p += 1;
        } else if let Some(sp) = star {
            p = sp + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &[u8] = b"key-a-blob";
    const KEY_B: &[u8] = b"key-b-blob";

    fn kh(text: &str) -> KnownHosts {
        let mut k = KnownHosts::default();
        k.parse(Path::new("known_hosts"), text);
        k
    }

    fn line(hosts: &str, key: &[u8]) -> String {
        format!("{hosts} ssh-ed25519 {}\n", STANDARD.encode(key))
    }

    #[test]
    fn a_bare_host_entry_does_not_match_another_port() {
        let k = kh(&line("example.org", KEY_A));
        assert_eq!(k.check(&host_string("example.org", 22), "ssh-ed25519", KEY_A), Verdict::Known);
        assert_eq!(
            k.check(&host_string("example.org", 2222), "ssh-ed25519", KEY_A),
            Verdict::Unknown
        );
        let k = kh(&line("[example.org]:2222", KEY_A));
        assert_eq!(
            k.check(&host_string("example.org", 2222), "ssh-ed25519", KEY_A),
            Verdict::Known
        );
        assert_eq!(
            k.check(&host_string("example.org", 22), "ssh-ed25519", KEY_A),
            Verdict::Unknown
        );
        assert_eq!(
            k.check(&host_string("example.org", 2223), "ssh-ed25519", KEY_A),
            Verdict::Unknown
        );
    }

    #[test]
    fn changed_keys_and_other_types() {
        let k = kh(&line("h", KEY_A));
        assert_eq!(
            k.check(&host_string("h", 22), "ssh-ed25519", KEY_B),
            Verdict::Changed { file: "known_hosts".into(), line: 1 }
        );
        assert_eq!(k.check(&host_string("h", 22), "ecdsa-sha2-nistp256", KEY_B), Verdict::Unknown);
        assert_eq!(k.key_types("h"), ["ssh-ed25519"]);
    }

    #[test]
    fn hashed_wildcard_negated_and_revoked_entries() {
        // `ssh-keygen -H` form for "[127.0.0.1]:2200", salt "0123456789abcdefghij"
        let salt = b"0123456789abcdefghij";
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(salt).unwrap();
        mac.update(b"[127.0.0.1]:2200");
        let hashed = format!(
            "|1|{}|{}",
            STANDARD.encode(salt),
            STANDARD.encode(mac.finalize().into_bytes())
        );
        let k = kh(&line(&hashed, KEY_A));
        assert_eq!(k.check(&host_string("127.0.0.1", 2200), "ssh-ed25519", KEY_A), Verdict::Known);
        assert_eq!(k.check(&host_string("127.0.0.1", 22), "ssh-ed25519", KEY_A), Verdict::Unknown);

        let k = kh(&line("*.example.org,!bad.example.org", KEY_A));
        assert_eq!(
            k.check(&host_string("WWW.example.org", 22), "ssh-ed25519", KEY_A),
            Verdict::Known
        );
        assert_eq!(
            k.check(&host_string("bad.example.org", 22), "ssh-ed25519", KEY_A),
            Verdict::Unknown
        );

        let k =
            kh(&format!("{}@revoked * ssh-ed25519 {}\n", line("h", KEY_A), STANDARD.encode(KEY_A)));
        assert!(matches!(
            k.check(&host_string("h", 22), "ssh-ed25519", KEY_A),
            Verdict::Revoked { line: 2, .. }
        ));
        // garbage lines are skipped, not fatal
        let k = kh("# comment\n\nnot a valid line\n@cert-authority *.lan ssh-rsa AAAA\n");
        assert_eq!(k.check("h", "ssh-ed25519", KEY_A), Verdict::Unknown);
        // A host only a certificate authority vouches for is not taken as new.
        assert_eq!(
            k.check("db.lan", "ssh-ed25519", KEY_A),
            Verdict::CertAuthority { file: "known_hosts".into(), line: 4 }
        );
    }

    #[test]
    fn appended_entries_are_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(".ssh/known_hosts");
        append(&f, "[127.0.0.1]:2200", "ssh-ed25519", KEY_A).unwrap();
        append(&f, "h", "ssh-ed25519", KEY_B).unwrap();
        let k = KnownHosts::load(std::slice::from_ref(&f)).unwrap();
        assert_eq!(k.check(&host_string("127.0.0.1", 2200), "ssh-ed25519", KEY_A), Verdict::Known);
        assert_eq!(k.check(&host_string("h", 22), "ssh-ed25519", KEY_B), Verdict::Known);
        assert!(std::fs::read_to_string(&f).unwrap().starts_with("[127.0.0.1]:2200 ssh-ed25519 "));
    }

    #[test]
    fn fingerprints_look_like_openssh() {
        assert_eq!(fingerprint(b""), "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
    }
}
