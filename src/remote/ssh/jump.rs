//! `ProxyJump`: a connection carried by a `direct-tcpip` channel of an SSH session to a jump host,
//! as OpenSSH's `-J` makes it, without an `ssh` client.
//!
//! libssh2 reads and writes its connection through a file descriptor, so the session to the
//! target gets one end of a socket pair, and a thread copies between the other end and the jump
//! session's channel. That session runs non-blocking, so one thread serves both directions and
//! neither can stall the other; it waits in `poll` on the socket pair and the jump host's own
//! connection. Each hop is a whole tern connection: its config resolved, its host key checked
//! against known_hosts, its own authentication. The thread ends when either side closes, or when
//! the tunnel is dropped.

use super::Connection;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use ssh2::{BlockDirections, Channel};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// A running tunnel; dropping it closes the channel and the jump host's connection.
pub struct Tunnel {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Carry `channel` (of `hop`'s session) to the returned socket, for a session to the target.
pub fn start(hop: Connection, channel: Channel) -> std::io::Result<(UnixStream, Tunnel)> {
    let (ours, theirs) = UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    hop.session.set_blocking(false);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name(format!("tern-jump-{}", hop.resolved.alias))
        .spawn(move || pump(&hop, channel, ours, &flag))?;
    Ok((theirs, Tunnel { stop, thread: Some(thread) }))
}

/// Bytes read from one side and not yet written to the other.
struct Pending {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Pending {
    fn new() -> Self {
        Pending { buf: vec![0; 64 * 1024], start: 0, end: 0 }
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Fill an empty buffer from `from`: `Some(0)` at end of stream, `None` when it would block.
    fn fill(&mut self, from: &mut impl Read) -> std::io::Result<Option<usize>> {
        match from.read(&mut self.buf) {
            Ok(n) => {
                (self.start, self.end) = (0, n);
                Ok(Some(n))
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Write what is pending to `to`; whether anything moved.
    fn drain(&mut self, to: &mut impl Write) -> std::io::Result<bool> {
        match to.write(&self.buf[self.start..self.end]) {
            Ok(n) => {
                self.start += n;
                Ok(n > 0)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// Where each direction stands.
#[derive(Default)]
struct Ends {
    /// The target's session closed its side of the socket pair.
    sock_eof: bool,
    /// ... and the channel was told so.
    eof_sent: bool,
    /// The jump host closed the channel's stream to us.
    chan_eof: bool,
    /// ... and the socket pair was told so.
    shut: bool,
}

/// One round of copying in both directions; whether anything moved.
fn step(
    up: &mut Pending,
    down: &mut Pending,
    sock: &mut UnixStream,
    channel: &mut Channel,
    ends: &mut Ends,
) -> std::io::Result<bool> {
    let mut moved = false;
    if up.is_empty() && !ends.sock_eof {
        match up.fill(sock)? {
            Some(0) => ends.sock_eof = true,
            Some(_) => moved = true,
            None => {}
        }
    }
    if !up.is_empty() {
        moved |= up.drain(channel)?;
    }
    if ends.sock_eof && up.is_empty() && !ends.eof_sent {
        match channel.send_eof().map_err(std::io::Error::from) {
            Ok(()) => {
                ends.eof_sent = true;
                moved = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    if down.is_empty() && !ends.chan_eof {
        match down.fill(channel)? {
            Some(0) => ends.chan_eof = channel.eof(),
            Some(_) => moved = true,
            None => {}
        }
    }
    if !down.is_empty() {
        moved |= down.drain(sock)?;
    }
    if ends.chan_eof && down.is_empty() && !ends.shut {
        let _ = sock.shutdown(std::net::Shutdown::Write);
        ends.shut = true;
        moved = true;
    }
    Ok(moved)
}

/// Copy both ways until both sides have ended, either fails, or `stop` is set.
fn pump(hop: &Connection, mut channel: Channel, mut sock: UnixStream, stop: &AtomicBool) {
    let mut up = Pending::new(); // socket -> channel
    let mut down = Pending::new(); // channel -> socket
    let mut ends = Ends::default();
    while !stop.load(Ordering::Relaxed) {
        let moved = match step(&mut up, &mut down, &mut sock, &mut channel, &mut ends) {
            Ok(moved) => moved,
            Err(_) => break,
        };
        if ends.shut && ends.eof_sent {
            break;
        }
        if moved {
            continue;
        }
        // Nothing moved: wait for the socket pair or the jump host's connection.
        let mut sock_events = PollFlags::empty();
        if up.is_empty() && !ends.sock_eof {
            sock_events |= PollFlags::IN;
        }
        if !down.is_empty() {
            sock_events |= PollFlags::OUT;
        }
        // The jump host's connection only when the channel is to be read or written: data for
        // a channel we cannot pass on yet would wake the poll at once, again and again.
        let wants_channel = (down.is_empty() && !ends.chan_eof)
            || !up.is_empty()
            || (ends.sock_eof && !ends.eof_sent);
        let net_events = match hop.session.block_directions() {
            _ if !wants_channel => PollFlags::empty(),
            BlockDirections::Outbound => PollFlags::OUT,
            BlockDirections::Both => PollFlags::IN | PollFlags::OUT,
            _ => PollFlags::IN,
        };
        let mut fds = [PollFd::new(&sock, sock_events), PollFd::new(&hop.io, net_events)];
        // Wake now and then to see `stop`.
        let timeout = Timespec { tv_sec: 0, tv_nsec: 200_000_000 };
        if poll(&mut fds, Some(&timeout)).is_err() {
            break;
        }
    }
    // Best effort: the jump session is dropped with the connection right after.
    let _ = channel.close();
}
