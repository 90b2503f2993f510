//! `tern watch`: changes reach the replica while it runs, locally and over the real sshd on one
//! connection; lost events (a kernel queue made tiny) end in a whole scan, never a stale
//! replica; a source moved away or unmounted ends the watch with an error; an idle watch uses no
//! CPU; a dropped connection is made again.

use crate::harness::*;
use crate::sshd::Sshd;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `tern watch`, its stderr collected as it comes.
struct Watching {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Watching {
    fn start(mut run: Run) -> Watching {
        let mut child = run
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tern watch");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let into = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = into.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let w = Watching { child, stderr };
        w.wait_for("tern: watching");
        w
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait (at most a minute) until stderr says `what`.
    fn wait_for(&self, what: &str) {
        let start = Instant::now();
        while !self.stderr().contains(what) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no {what:?} in:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop it as an admin does (SIGTERM); its exit code and output.
    fn stop(mut self) -> (Option<i32>, String, String) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let status = self.child.wait().unwrap();
        let mut out = String::new();
        use std::io::Read;
        self.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        (status.code(), out, self.stderr())
    }

    /// Wait (at most 30 s, failing with `what`) for it to end by itself; its exit code and
    /// stderr.
    fn wait_exit(mut self, what: &str) -> (Option<i32>, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{what}:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader thread takes the last lines.
        std::thread::sleep(Duration::from_millis(50));
        (status.code(), self.stderr())
    }

    /// CPU time (user + system, in clock ticks) the process has used so far.
    fn cpu_ticks(&self) -> u64 {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // The fields after the command name, which is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

/// Wait (at most a minute) until `dst` is a replica of `src`, entry by entry.
fn until_replica(src: &Path, dst: &Path, w: &Watching) {
    let start = Instant::now();
    // The replica is read while the watch writes it: a read that meets an entry going away is
    // only "not yet".
    while try_snapshot(dst).ok() != Some(snapshot(src)) {
        if start.elapsed() > Duration::from_secs(60) {
            eprintln!("tern watch said:\n{}", w.stderr());
            assert_same_tree(src, dst);
            panic!("not a replica after a minute:\n{}", w.stderr());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Changes a user makes while the watch runs: each step is waited for at the replica.
fn edit_while_watched(env: &Env, dst: &Path, w: &Watching) {
    let src = env.src();
    let t = env.tree("src");
    t.file("new.txt", "fresh");
    until_replica(&src, dst, w);
    fs::write(src.join("a/one"), "one, edited and longer").unwrap();
    until_replica(&src, dst, w);
    // A rename is a rename: the content is reused at the destination, not sent again.
    fs::rename(src.join("a/big"), src.join("a/big-renamed")).unwrap();
    until_replica(&src, dst, w);
    // A directory tree moved in one rename, and one made with files in it at once.
    fs::rename(src.join("a/deep"), src.join("moved")).unwrap();
    fs::create_dir_all(src.join("made/x/y")).unwrap();
    for i in 0..50 {
        fs::write(src.join(format!("made/x/y/f{i}")), format!("{i}")).unwrap();
    }
    until_replica(&src, dst, w);
    fs::remove_file(src.join("new.txt")).unwrap();
    fs::remove_dir_all(src.join("made/x")).unwrap();
    std::os::unix::fs::symlink("a/one", src.join("link")).unwrap();
    until_replica(&src, dst, w);
}

fn watched_tree(env: &Env) {
    env.tree("src")
        .file("a/one", "1")
        .file("a/deep/er/f", "deep")
        .file("a/big", noise(7, 3 << 20))
        .file("top", "t");
}

#[test]
fn changes_reach_a_local_replica_while_it_is_watched_and_an_idle_watch_uses_no_cpu() {
    let env = Env::new();
    watched_tree(&env);
    let w = Watching::start(env.tern(["watch", "--delay", "100ms", "src", "dst"]));
    until_replica(&env.src(), &env.dst(), &w);
    edit_while_watched(&env, &env.dst(), &w);
    // Idle: blocked in the kernel, no timer, no polling.
    std::thread::sleep(Duration::from_millis(300));
    let before = w.cpu_ticks();
    std::thread::sleep(Duration::from_secs(2));
    let idle = w.cpu_ticks() - before;
    assert!(idle <= 2, "an idle watch used {idle} ticks of CPU in 2 s");
    let (code, out, err) = w.stop();
    assert_eq!(code, Some(0), "{err}");
    // The rename sent nothing: its bytes were reused from the old name.
    let renamed = out.lines().find(|l| l.contains("0 B sent, 3.00 MiB reused"));
    assert!(renamed.is_some(), "no batch reused the renamed file's bytes:\n{out}");
    assert!(out.lines().any(|l| l.contains("changed path")), "{out}");
    // What the watch committed is what a sync finds: nothing left to do.
    env.tern(["plan", "--detailed-exitcode", "src", "dst"]).ok();
}

#[test]
fn changes_reach_a_replica_over_ssh_on_one_connection() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    watched_tree(&env);
    let w = Watching::start(sshd.tern(&env, ["watch", "--delay", "100ms", "src", &url]));
    until_replica(&env.src(), &env.dst(), &w);
    edit_while_watched(&env, &env.dst(), &w);
    let logins = sshd.log().matches("Accepted publickey").count();
    assert_eq!(logins, 1, "one SSH session for every batch:\n{}", sshd.log());
    // The connection dropped (the agent killed): the next batch fails, a new connection is made
    // a second later, and a whole pass brings the replica up to date.
    let agents = agents_serving(&env.dst());
    assert!(!agents.is_empty(), "no agent serving {}", env.dst().display());
    for pid in agents {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    fs::write(env.src().join("after-the-drop"), "still replicated").unwrap();
    until_replica(&env.src(), &env.dst(), &w);
    let (code, _, err) = w.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("trying again in 1s"), "{err}");
    assert!(err.contains("reconnecting to"), "{err}");
    assert_eq!(sshd.log().matches("Accepted publickey").count(), 2, "{}", sshd.log());
}

/// The processes running `tern serve --root DST`.
fn agents_serving(dst: &Path) -> Vec<rustix::process::Pid> {
    let want = dst.to_str().unwrap();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(cmd) = fs::read(e.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
        let serving = args.contains(&b"serve".as_slice()) && args.contains(&want.as_bytes());
        if serving && let Some(pid) = rustix::process::Pid::from_raw(pid) {
            out.push(pid);
        }
    }
    out
}

/// Restores a kernel setting when dropped.
#[cfg(feature = "failpoints")]
struct Sysctl {
    file: &'static str,
    old: String,
}

#[cfg(feature = "failpoints")]
impl Drop for Sysctl {
    fn drop(&mut self) {
        let _ = fs::write(self.file, &self.old);
    }
}

/// The kernel's event queue made tiny, and its reader paused before each read (a failpoint) so
/// that a burst surely overflows it: events are lost, and the watch says so and scans the whole
/// tree, so the replica is complete all the same.
#[cfg(feature = "failpoints")]
#[test]
fn events_lost_to_a_full_kernel_queue_end_in_a_whole_scan_and_a_complete_replica() {
    const FILE: &str = "/proc/sys/fs/inotify/max_queued_events";
    let old = fs::read_to_string(FILE).unwrap();
    if fs::write(FILE, "16").is_err() {
        // Only root may change it; the suite runs as root in CI (.ci/run).
        eprintln!("skipped: cannot write {FILE} (not root)");
        return;
    }
    let restore = Sysctl { file: FILE, old };
    let env = Env::new();
    env.tree("src").file("seed", "s");
    let mut run = env.tern(["watch", "--delay", "300ms", "src", "dst"]);
    run.cmd.env("TERN_FAILPOINT_DELAY", "watch-read").env("TERN_FAILPOINT_DELAY_MS", "500");
    let w = Watching::start(run);
    // The queue is the watcher's, made with the small size; others' may be made now.
    drop(restore);
    for i in 0..500 {
        fs::write(env.src().join(format!("burst-{i}")), format!("{i}")).unwrap();
    }
    until_replica(&env.src(), &env.dst(), &w);
    let (code, _, err) = w.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("event queue overflowed"), "{err}");
    // tern's own scans read every file: were reads events, each whole scan would overflow the
    // queue again and ask for another, without end.
    let whole = err.matches("scanning src whole").count();
    assert!(whole < 5, "{whole} whole scans for one burst:\n{err}");
}

#[test]
fn a_source_moved_away_ends_the_watch_with_an_error_that_says_so() {
    let env = Env::new();
    env.tree("src").file("f", "1");
    let w = Watching::start(env.tern(["watch", "src", "dst"]));
    fs::rename(env.src(), env.path("elsewhere")).unwrap();
    let (code, err) = w.wait_exit("still watching a source moved away");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("was moved away or deleted; nothing more is replicated"), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("tern: error")).count(), 1, "{err}");
}

/// A source that is a mount point, unmounted while it is watched: the watch ends with an error
/// that says so, instead of watching the empty directory beneath as if it were the source.
#[test]
fn a_source_unmounted_while_watched_ends_the_watch_with_an_error() {
    let env = Env::new();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tern-test", env.src().to_str().unwrap()])
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        // Only root may mount; the suite runs as root in CI (.ci/run).
        eprintln!("skipped: cannot mount a tmpfs (not root)");
        return;
    }
    env.tree("src").file("f", "on the tmpfs");
    let w = Watching::start(env.tern(["watch", "src", "dst"]));
    let umount =
        std::process::Command::new("umount").args(["-l", env.src().to_str().unwrap()]).status();
    assert!(umount.unwrap().success());
    let (code, err) = w.wait_exit("still watching an unmounted source");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("was unmounted or replaced; nothing more is replicated"), "{err}");
    // What tern replicated is still there: an unmount deletes nothing at the replica.
    assert_eq!(fs::read(env.dst().join("f")).unwrap(), b"on the tmpfs");
}
