//! A destination on an SSH host: the tern agent started over the session when the host has
//! tern, the SFTP fallback ([`crate::remote::sftp`]) when it has not.
//!
//! [`crate::remote::ssh`] reaches the host (connect, host key, authenticate); this module turns
//! the session into a [`Transport`], so the core never learns which of the two it got.

use crate::plan::patch::Base;
use crate::remote::client::RemoteClient;
use crate::remote::sftp::SftpDest;
use crate::remote::ssh::{Connection, SshOptions, SshTarget, connect, shell_quote};
use crate::transport::{
    Commit, CommitReport, ManifestId, StageHeader, StageReport, Transport, TransportError,
};
use crate::tree::hash::ContentHash;
use crate::tree::path::RelPath;
use ssh2::Session;
use std::io::Read;

/// A remote agent reached over SSH.
pub struct SshAgentDest {
    // Field order matters: the client (and its streams) must go before the channel and session.
    client: RemoteClient<'static>,
    channel: ssh2::Channel,
    conn: Connection,
}

impl SshAgentDest {
    /// Add how the agent ended to a connection error, to explain why it stopped answering.
    fn explain<T>(&mut self, r: Result<T, TransportError>) -> Result<T, TransportError> {
        match r {
            Err(TransportError::Connection { host, source }) => {
                let ending = Ending::of(&self.conn.session, &mut self.channel);
                let source =
                    std::io::Error::new(source.kind(), format!("{source} (agent {ending})"));
                Err(TransportError::Connection { host, source })
            }
            other => other,
        }
    }
}

impl Drop for SshAgentDest {
    fn drop(&mut self) {
        self.client.bye();
        let _ = self.channel.send_eof();
        self.conn.session.set_timeout(5000);
        let _ = self.channel.wait_close();
    }
}

impl Transport for SshAgentDest {
    fn describe(&self) -> String {
        self.client.describe()
    }

    fn mode(&self) -> &'static str {
        "ssh (remote tern agent)"
    }

    fn lock(&mut self) -> Result<(), TransportError> {
        let r = self.client.lock();
        self.explain(r)
    }

    fn unlock(&mut self) -> Result<(), TransportError> {
        let r = self.client.unlock();
        self.explain(r)
    }

    fn read_manifest(
        &mut self,
    ) -> Result<Option<crate::tree::store::StoredManifest>, TransportError> {
        let r = self.client.read_manifest();
        self.explain(r)
    }

    fn last_read_id(&self) -> Option<ManifestId> {
        self.client.last_read_id()
    }

    fn manifest_id(&mut self) -> Result<Option<ManifestId>, TransportError> {
        let r = self.client.manifest_id();
        self.explain(r)
    }

    fn stage_begin(&mut self, header: &StageHeader) -> Result<(), TransportError> {
        let r = self.client.stage_begin(header);
        self.explain(r)
    }

    fn stage_chunk(&mut self, data: &[u8]) -> Result<(), TransportError> {
        let r = self.client.stage_chunk(data);
        self.explain(r)
    }

    fn stage_reuse(&mut self, from: &RelPath, offset: u64, len: u64) -> Result<(), TransportError> {
        let r = self.client.stage_reuse(from, offset, len);
        self.explain(r)
    }

    fn stage_end(&mut self) -> Result<(), TransportError> {
        let r = self.client.stage_end();
        self.explain(r)
    }

    fn takes_deltas(&self) -> bool {
        self.client.takes_deltas()
    }

    fn expect_to_send(&mut self, bytes: u64) -> Result<(), TransportError> {
        let r = self.client.expect_to_send(bytes);
        self.explain(r)
    }

    fn presign(&mut self, bases: Vec<Base>) {
        self.client.presign(bases);
    }

    fn block_signatures(&mut self, bases: &[Base]) -> Result<Vec<Option<Vec<u8>>>, TransportError> {
        let r = self.client.block_signatures(bases);
        self.explain(r)
    }

    fn stage_delta(
        &mut self,
        base: &Base,
        delta: &[u8],
        len: u32,
        hash: ContentHash,
    ) -> Result<(), TransportError> {
        let r = self.client.stage_delta(base, delta, len, hash);
        self.explain(r)
    }

    fn finish_staging(&mut self) -> Result<StageReport, TransportError> {
        let r = self.client.finish_staging();
        self.explain(r)
    }

    fn commit(&mut self, commit: Commit<'_>) -> Result<CommitReport, TransportError> {
        let r = self.client.commit(commit);
        self.explain(r)
    }

    fn wire_bytes(&self) -> Option<u64> {
        Some(self.client.bytes_written())
    }

    fn scan_tree(
        &mut self,
        opts: &crate::tree::scan::ScanOptions,
        cache: bool,
        since: Option<&crate::transport::StateCopy<'_>>,
    ) -> Result<crate::tree::scan::Scan, TransportError> {
        let r = self.client.scan_tree(opts, cache, since);
        self.explain(r)
    }

    fn start_scan(
        &mut self,
        opts: &crate::tree::scan::ScanOptions,
        cache: bool,
        since: Option<&crate::transport::StateCopy<'_>>,
    ) -> Result<(), TransportError> {
        let r = self.client.start_scan(opts, cache, since);
        self.explain(r)
    }

    fn state_hash(&mut self, name: &str) -> Result<Option<ContentHash>, TransportError> {
        let r = self.client.state_hash(name);
        self.explain(r)
    }

    fn write_state_delta(
        &mut self,
        name: &str,
        old: &ContentHash,
        delta: &[u8],
    ) -> Result<bool, TransportError> {
        let r = self.client.write_state_delta(name, old, delta);
        self.explain(r)
    }

    fn read_state(&mut self, name: &str) -> Result<Option<Vec<u8>>, TransportError> {
        let r = self.client.read_state(name);
        self.explain(r)
    }

    fn write_state(&mut self, name: &str, data: &[u8]) -> Result<(), TransportError> {
        let r = self.client.write_state(name, data);
        self.explain(r)
    }

    fn read_ranges(
        &mut self,
        path: &RelPath,
        ranges: &[(u64, u64)],
    ) -> Result<Box<dyn Read + '_>, TransportError> {
        self.client.read_ranges(path, ranges)
    }

    fn ask_ranges(&mut self, files: &[(RelPath, Vec<(u64, u64)>)]) -> Result<bool, TransportError> {
        let r = self.client.ask_ranges(files);
        self.explain(r)
    }

    fn read_asked(&mut self) -> Result<Box<dyn Read + '_>, TransportError> {
        self.client.read_asked()
    }

    fn admin(
        &mut self,
        op: &crate::transport::admin::AdminOp,
    ) -> Result<crate::transport::admin::AdminResult, TransportError> {
        let r = self.client.admin(op);
        self.explain(r)
    }
}

/// How a remote command ended: the last line of its stderr, its exit status or signal.
struct Ending {
    stderr: String,
    status: Option<i32>,
    signal: Option<String>,
}

impl Ending {
    fn of(session: &Session, channel: &mut ssh2::Channel) -> Ending {
        session.set_timeout(5000);
        let mut err = String::new();
        let _ = channel.stderr().take(64 * 1024).read_to_string(&mut err);
        let _ = channel.wait_close();
        let signal = channel.exit_signal().ok().and_then(|s| s.exit_signal);
        let status = if signal.is_some() { None } else { channel.exit_status().ok() };
        let stderr = err.trim().lines().last().unwrap_or("").to_string();
        Ending { stderr, status, signal }
    }
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.signal, self.status) {
            (Some(s), _) => write!(f, "killed by signal {s}")?,
            (None, Some(s)) => write!(f, "exit status {s}")?,
            (None, None) => write!(f, "gone")?,
        }
        if !self.stderr.is_empty() {
            write!(f, ": {}", self.stderr)?;
        }
        Ok(())
    }
}

/// Connect to `target` and start the remote agent; fall back to SFTP if the host has no tern.
pub fn open(target: &SshTarget, opts: &SshOptions) -> Result<Box<dyn Transport>, TransportError> {
    let conn = connect(target, opts)?;
    let name = target.to_string();
    let mut channel = conn.session.channel_session().map_err(|e| conn.session_err(e))?;
    let command =
        format!("{} serve --root {}", shell_quote(&opts.remote_tern), shell_quote(&target.path));
    channel.exec(&command).map_err(|e| conn.session_err(e))?;
    let cache_file = opts.cache_dir.as_ref().map(|d| {
        let key = format!(
            "{}@{}:{}:{}",
            conn.resolved.user, conn.resolved.host_name, conn.resolved.port, target.path
        );
        d.join(format!("remote-{}", &ContentHash::of(key.as_bytes()).to_hex()[..32]))
    });
    let handshake = RemoteClient::handshake(
        channel.stream(0),
        channel.stream(0),
        name.clone(),
        opts.compress_level,
        cache_file,
        opts.bwlimit,
    );
    match handshake {
        Ok(Some(client)) => Ok(Box::new(SshAgentDest { client, channel, conn })),
        Ok(None) => {
            // No agent answered: find out why.
            let ending = Ending::of(&conn.session, &mut channel);
            if ending.status == Some(127) {
                eprintln!(
                    "tern: {} has no `{}` (exit status 127); falling back to SFTP: whole files, \
                     no compression",
                    conn.resolved.alias, opts.remote_tern
                );
                conn.session.set_timeout(0);
                return Ok(Box::new(SftpDest::new(conn, target, name)?));
            }
            Err(TransportError::Protocol(format!(
                "the tern agent on {} failed to start ({ending}); check --remote-tern",
                conn.resolved.alias
            )))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/srv/x"), "/srv/x");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(shell_quote(""), "''");
    }
}
