//! A real OpenSSH server for the tests: `/usr/sbin/sshd` on 127.0.0.1, a free port, throwaway host
//! and user keys, stopped when dropped. No mock stands in for it.

use crate::harness::*;
use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    child: Child,
    pub port: u16,
    /// Holds the server's files and the client's home.
    pub dir: PathBuf,
    pub user: String,
}

/// A new ed25519 key pair at `path` (and `path.pub`).
pub fn keygen(path: &Path, passphrase: &str) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", "tern-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
}

fn current_user() -> String {
    let uid = fs::metadata("/proc/self").unwrap().uid();
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[2] == uid.to_string()).then(|| f[0].to_string())
        })
        .unwrap()
}

/// The lines of an sshd_config for a server whose files are in `dir`.
fn server_config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "HostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nUsePAM no\nStrictModes no\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
         PermitRootLogin yes\nSetEnv PATH={d}/bin:/usr/local/bin:/usr/bin:/bin\n\
         Subsystem sftp internal-sftp\nLogLevel VERBOSE\nMaxStartups 50\n"
    )
}

/// Keys and files for a server in `dir` whose client lives in `home` (made if missing).
fn prepare(dir: &Path, home: &Path) {
    assert!(
        Path::new(SSHD).exists(),
        "the SSH tests need {SSHD}: install it with `apt-get install openssh-server` (or run \
         `bash .ci/run`, which does)"
    );
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::create_dir_all(dir.join("bin")).unwrap();
    keygen(&dir.join("host_key"), "");
    if !home.join(".ssh/id_ed25519").exists() {
        keygen(&home.join(".ssh/id_ed25519"), "");
    }
    fs::copy(home.join(".ssh/id_ed25519.pub"), dir.join("authorized_keys")).unwrap();
    // `tern` on the remote PATH is this build's binary
    std::os::unix::fs::symlink(TERN, dir.join("bin/tern")).unwrap();
    if fs::metadata("/proc/self").unwrap().uid() == 0 {
        // privilege separation needs it; it is normally made by the service manager
        fs::create_dir_all("/run/sshd").unwrap();
    }
}

impl Sshd {
    /// Start a server in `env`'s scratch directory. A missing sshd is a failure that says how to
    /// install it, never a silent skip.
    pub fn start(env: &Env) -> Sshd {
        Sshd::launch(env, false)
    }

    /// Start a server in a network namespace of its own: nothing on this machine reaches it but
    /// what runs in that namespace (see [`JumpHost`]). Needs root to make the namespace.
    pub fn start_isolated(env: &Env) -> Sshd {
        Sshd::launch(env, true)
    }

    fn launch(env: &Env, isolated: bool) -> Sshd {
        let dir = env.path("ssh");
        let home = dir.join("home");
        prepare(&dir, &home);
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nPidFile {}/sshd.pid\n{}",
            dir.display(),
            server_config(&dir)
        );
        fs::write(dir.join("sshd_config"), config).unwrap();
        let log = fs::File::create(dir.join("sshd.log")).unwrap();
        let mut cmd = if isolated {
            // `unshare` and `sh` exec: the child is sshd itself, in the new namespace.
            let mut c = Command::new("unshare");
            c.args(["--net", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\"", SSHD]);
            c
        } else {
            Command::new(SSHD)
        };
        let child = cmd
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        let mut sshd = Sshd { child, port, dir, user: current_user() };
        let deadline = Instant::now() + Duration::from_secs(10);
        let ready = |s: &Sshd| {
            if isolated {
                s.log().contains("Server listening on")
            } else {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            }
        };
        while !ready(&sshd) {
            if let Ok(Some(status)) = sshd.child.try_wait() {
                panic!("sshd exited with {status}:\n{}", sshd.log());
            }
            assert!(Instant::now() < deadline, "sshd did not listen:\n{}", sshd.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        sshd.write_known_hosts(&sshd.home().join(".ssh/known_hosts"));
        sshd
    }

    /// The network namespace the server runs in.
    pub fn netns(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.child.id()))
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    /// The server's public host key line (`type base64`).
    pub fn host_key(&self) -> String {
        let pubkey = fs::read_to_string(self.dir.join("host_key.pub")).unwrap();
        pubkey.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    }

    pub fn write_known_hosts(&self, file: &Path) {
        fs::write(file, format!("[127.0.0.1]:{} {}\n", self.port, self.host_key())).unwrap();
    }

    /// `ssh://user@127.0.0.1:port/ABS` for a path inside the scratch directory.
    pub fn url(&self, abs: &Path) -> String {
        format!("ssh://{}@127.0.0.1:{}{}", self.user, self.port, abs.display())
    }

    /// An ssh_config with the alias `backup1` for this server.
    pub fn config_with_alias(&self, extra: &str) -> PathBuf {
        let path = self.dir.join("ssh_config");
        let mut f = fs::File::create(&path).unwrap();
        write!(
            f,
            "Host backup1\n  HostName 127.0.0.1\n  Port {}\n  User {}\n{extra}",
            self.port, self.user
        )
        .unwrap();
        path
    }

    /// Let the client's key run only `command` (a forced command in authorized_keys, as an admin
    /// gives a backup key to a host); sshd reads the file at every login.
    pub fn force_command(&self, command: &str) {
        let file = self.dir.join("authorized_keys");
        let key = fs::read_to_string(self.home().join(".ssh/id_ed25519.pub")).unwrap();
        let line =
            format!("command=\"{}\",no-pty,no-port-forwarding {key}", command.replace('"', "\\\""));
        fs::write(file, line).unwrap();
    }

    /// `tern ARGS` as a client of this server: its own HOME, no ssh-agent.
    pub fn tern<I, S>(&self, env: &Env, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut run = env.tern(args);
        run.cmd.env("HOME", self.home()).env_remove("SSH_AUTH_SOCK");
        run
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An ssh-agent holding `key`, stopped when dropped.
pub struct Agent {
    pub sock: PathBuf,
    pid: String,
}

impl Agent {
    pub fn start(dir: &Path, key: &Path) -> Agent {
        let sock = dir.join("agent.sock");
        let out =
            Command::new("ssh-agent").arg("-a").arg(&sock).arg("-s").output().expect("ssh-agent");
        let text = String::from_utf8_lossy(&out.stdout);
        let pid = text
            .split(';')
            .find_map(|s| s.trim().strip_prefix("SSH_AGENT_PID="))
            .expect("agent pid")
            .to_string();
        let status = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &sock)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "ssh-add failed");
        Agent { sock, pid }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

/// A jump host in front of an isolated [`Sshd`]: it listens on this machine's 127.0.0.1 and runs
/// an `sshd -i` for each connection inside the target's network namespace, so its forwarded
/// connections reach the target and nothing else does. It takes the target's client key.
pub struct JumpHost {
    pub port: u16,
    pub dir: PathBuf,
    /// Connections accepted so far.
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl JumpHost {
    pub fn start(env: &Env, target: &Sshd) -> JumpHost {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let dir = env.path("jump");
        prepare(&dir, &target.home());
        let config = dir.join("sshd_config");
        fs::write(&config, server_config(&dir)).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (accepted, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let (count, flag, netns, log) =
            (accepted.clone(), stop.clone(), target.netns(), dir.join("sshd.log"));
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                count.fetch_add(1, Ordering::Relaxed);
                let err = fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
                let mut child = Command::new("nsenter")
                    .arg(format!("--net={}", netns.display()))
                    .args([SSHD, "-i", "-e", "-f"])
                    .arg(&config)
                    .stdin(std::os::fd::OwnedFd::from(stream.try_clone().unwrap()))
                    .stdout(std::os::fd::OwnedFd::from(stream))
                    .stderr(err)
                    .spawn()
                    .expect("nsenter (util-linux) and sshd");
                std::thread::spawn(move || child.wait());
            }
        });
        JumpHost { port, dir, accepted, stop }
    }

    /// The jump host's `[127.0.0.1]:port key` line for known_hosts.
    pub fn known_hosts_line(&self) -> String {
        let pubkey = fs::read_to_string(self.dir.join("host_key.pub")).unwrap();
        let key = pubkey.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        format!("[127.0.0.1]:{} {key}\n", self.port)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for JumpHost {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether this process may make network namespaces (root); a test that needs one says so
/// when it cannot.
pub fn can_isolate() -> bool {
    fs::metadata("/proc/self").unwrap().uid() == 0
}
