//! `ProxyCommand`: a child process as the connection to the SSH server.
//!
//! libssh2 reads and writes its connection with `recv` and `send`, which pipes do not take, so
//! the session gets one end of a socket pair and two threads copy between the other end and the
//! child's standard input and output. The child's standard error is tern's, so what it says (a
//! jump host's changed key, a refused login) reaches the user. The child is killed and reaped
//! when the connection is dropped.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};

/// Copy `from` to `to` until either ends.
fn pump(from: &mut impl Read, to: &mut impl Write) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).and_then(|()| to.flush()).is_err() {
                    return;
                }
            }
        }
    }
}

/// A running proxy command and the socket the SSH session reads and writes.
pub struct Proxy {
    child: Child,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `command` with `sh -c`; the socket to hand to the SSH session, and the child.
pub fn start(command: &str) -> std::io::Result<(UnixStream, Proxy)> {
    let mut child = Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let (ours, theirs) = UnixStream::pair()?;
    let (Some(mut to_child), Some(mut from_child)) = (child.stdin.take(), child.stdout.take())
    else {
        let _ = child.kill();
        return Err(std::io::Error::other("the proxy command has no standard input or output"));
    };
    let mut up = ours.try_clone()?;
    let mut down = ours;
    // Each copy ends when its side closes; closing the socket's write side tells the session.
    // Plain reads and writes, not `io::copy`: from a socket into a pipe that splices, holding
    // the pipe's lock while it waits for the socket, and a proxy that exits then hangs in
    // closing the pipe (seen with `ssh -W` failing to connect), with tern waiting for it.
    std::thread::spawn(move || {
        pump(&mut up, &mut to_child);
    });
    std::thread::spawn(move || {
        pump(&mut from_child, &mut down);
        let _ = down.shutdown(std::net::Shutdown::Write);
    });
    Ok((theirs, Proxy { child }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes go both ways through the child, and its end of stream reaches the socket.
    #[test]
    fn a_proxy_command_carries_bytes_both_ways() {
        let (mut sock, _proxy) = start("cat").unwrap();
        sock.write_all(b"hello").unwrap();
        sock.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        sock.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"hello");
    }
}
