//! SSH destinations against a real sshd: syntax, ssh_config, authentication, host keys, deltas,
//! the SFTP fallback, and interrupted connections.

use crate::harness::*;
use crate::sshd::{Agent, JumpHost, Sshd, can_isolate, keygen};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// The bytes a sync summary says were sent (parsed from its human-readable figure).
fn sent_bytes(summary: &str) -> f64 {
    let before = summary.split(" sent").next().unwrap();
    let figure = before.rsplit([';', ',']).next().unwrap().trim();
    let (num, unit) = figure.split_once(' ').unwrap();
    let n: f64 = num.parse().unwrap();
    n * match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        u => panic!("unit {u}"),
    }
}

/// Same entries, kinds, contents, modes and link targets; mtimes to the second (SFTP's precision).
fn assert_same_content(a: &Path, b: &Path) {
    let strip = |s: Snapshot| -> Vec<(Vec<u8>, String)> {
        s.into_iter()
            .map(|(k, n)| {
                let v = match n {
                    Node::File { content, mode, mtime } => {
                        format!("file {content:?} {mode:o} {}", mtime.0)
                    }
                    Node::Dir { mode, .. } => format!("dir {mode:o}"),
                    Node::Symlink { target, .. } => format!("link {target:?}"),
                    Node::Special { kind, rdev, mode, .. } => format!("{kind:o} {rdev} {mode:o}"),
                };
                (k, v)
            })
            .collect()
    };
    assert_eq!(
        strip(snapshot(a)),
        strip(snapshot(b)),
        "{} and {} differ",
        a.display(),
        b.display()
    );
}

#[test]
fn ssh_url_with_the_default_remote_tern_on_path() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    env.tree("src")
        .file("a.txt", "alpha")
        .file("sub/b.bin", noise(1, 200_000))
        .symlink("l", "a.txt");
    let url = sshd.url(&env.dst());
    let done = sshd.tern(&env, ["sync", "src", &url]).ok();
    assert!(done.stdout().contains("via ssh (remote tern agent)"), "{}", done.describe());
    env.assert_replica();
    let again = sshd.tern(&env, ["sync", "src", &url]).ok();
    assert!(again.stdout().contains("0 created, 0 updated"), "{}", again.describe());
    // `plan` reads the remote manifest and writes nothing there
    env.tree("src").file("a.txt", "changed");
    let manifest = fs::read(env.dst().join(".tern/manifest")).unwrap();
    sshd.tern(&env, ["plan", "--detailed-exitcode", "src", &url])
        .code(2)
        .stdout_has("> file    a.txt");
    assert_eq!(fs::read(env.dst().join(".tern/manifest")).unwrap(), manifest);
    assert_eq!(fs::read(env.dst().join("a.txt")).unwrap(), b"alpha");
    // without compression too
    sshd.tern(&env, ["sync", "--compress-level", "0", "src", &url]).ok();
    env.assert_replica();
}

#[test]
fn scp_syntax_through_an_ssh_config_alias() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let keys = env.path("keys");
    fs::create_dir(&keys).unwrap();
    // the key and known_hosts live where only the config says
    fs::rename(sshd.home().join(".ssh/id_ed25519"), keys.join("id")).unwrap();
    fs::rename(sshd.home().join(".ssh/known_hosts"), keys.join("kh")).unwrap();
    let config = sshd.config_with_alias(&format!(
        "  IdentityFile {}\n  UserKnownHostsFile {}\n",
        keys.join("id").display(),
        keys.join("kh").display()
    ));
    env.tree("src").file("f", "via alias");
    let dst = format!("backup1:{}", env.dst().display());
    sshd.tern(&env, ["sync", "-F", config.to_str().unwrap(), "src", &dst]).ok();
    env.assert_replica();
    let dst2 = format!("{}@backup1:{}", sshd.user, env.path("dst2").display());
    sshd.tern(&env, ["sync", "-F", config.to_str().unwrap(), "src", &dst2]).ok();
    assert_same_tree(&env.src(), &env.path("dst2"));
    // the alias is unknown without the config
    sshd.tern(&env, ["plan", "src", &dst]).code(1).one_line_error().stderr_has("backup1");
}

#[test]
fn ssh_agent_authentication() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let key = env.path("agent_key");
    fs::rename(sshd.home().join(".ssh/id_ed25519"), &key).unwrap();
    env.tree("src").file("f", "x");
    let url = sshd.url(&env.dst());
    // no key anywhere: a clear refusal
    sshd.tern(&env, ["sync", "src", &url])
        .code(1)
        .one_line_error()
        .stderr_has("authentication as")
        .stderr_has("failed");
    let agent = Agent::start(&env.path(""), &key);
    sshd.tern(&env, ["sync", "src", &url]).env("SSH_AUTH_SOCK", &agent.sock).ok();
    env.assert_replica();
}

#[test]
fn identity_file_given_with_dash_i() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let key = env.path("elsewhere");
    fs::rename(sshd.home().join(".ssh/id_ed25519"), &key).unwrap();
    env.tree("src").file("f", "x");
    let url = sshd.url(&env.dst());
    sshd.tern(&env, ["sync", "-i", key.to_str().unwrap(), "src", &url]).ok();
    env.assert_replica();
}

#[test]
fn an_encrypted_key_without_an_agent_is_explained() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    fs::remove_file(sshd.home().join(".ssh/id_ed25519")).unwrap();
    let key = env.path("locked_key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "secret phrase", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    fs::copy(key.with_extension("pub"), sshd.dir.join("authorized_keys")).unwrap();
    env.tree("src").file("f", "x");
    sshd.tern(&env, ["sync", "-i", key.to_str().unwrap(), "src", &sshd.url(&env.dst())])
        .code(1)
        .one_line_error()
        .stderr_has("is encrypted and no ssh-agent offers it")
        .stderr_has("ssh-add");
    assert!(!env.dst().exists());
}

#[test]
fn unknown_and_changed_host_keys_are_refused() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    env.tree("src").file("f", "x");
    let url = sshd.url(&env.dst());
    let kh = sshd.home().join(".ssh/known_hosts");

    fs::write(&kh, "").unwrap();
    sshd.tern(&env, ["sync", "src", &url])
        .code(1)
        .one_line_error()
        .stderr_has(&format!(
            "host key of [127.0.0.1]:{} is unknown (ssh-ed25519 SHA256:",
            sshd.port
        ))
        .stderr_has("--host-key-policy accept-new");
    assert!(!env.dst().exists());

    // a bare-host entry is for port 22 only
    fs::write(&kh, format!("127.0.0.1 {}\n", sshd.host_key())).unwrap();
    sshd.tern(&env, ["sync", "src", &url]).code(1).stderr_has("is unknown");

    // another key for this host and port: refused loudly, even with accept-new
    let other = env.path("other_key");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    let other_pub = fs::read_to_string(other.with_extension("pub")).unwrap();
    let other_line: Vec<&str> = other_pub.split_whitespace().take(2).collect();
    fs::write(&kh, format!("[127.0.0.1]:{} {}\n", sshd.port, other_line.join(" "))).unwrap();
    sshd.tern(&env, ["sync", "--host-key-policy", "accept-new", "src", &url])
        .code(1)
        .one_line_error()
        .stderr_has("HAS CHANGED")
        .stderr_has("ssh-keygen -R");
    assert!(!env.dst().exists());
    assert!(
        !fs::read_to_string(&kh).unwrap().contains(&sshd.host_key()),
        "changed key was recorded"
    );
}

#[test]
fn accept_new_records_the_key_and_hashed_entries_match() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    env.tree("src").file("f", "x");
    let url = sshd.url(&env.dst());
    let kh = env.path("fresh_known_hosts");
    let kh_arg = kh.to_str().unwrap();
    sshd.tern(
        &env,
        ["sync", "--known-hosts", kh_arg, "--host-key-policy", "accept-new", "src", &url],
    )
    .ok()
    .stderr_has("added [127.0.0.1]:");
    assert!(fs::read_to_string(&kh).unwrap().contains(&sshd.host_key()));
    // now known: the strict default accepts it
    sshd.tern(&env, ["sync", "--known-hosts", kh_arg, "src", &url]).ok();
    // hashed entries (ssh-keygen -H) match as well
    let status =
        std::process::Command::new("ssh-keygen").arg("-H").arg("-f").arg(&kh).output().unwrap();
    assert!(status.status.success());
    assert!(fs::read_to_string(&kh).unwrap().starts_with("|1|"));
    env.tree("src").file("g", "y");
    sshd.tern(&env, ["sync", "--known-hosts", kh_arg, "src", &url]).ok();
    env.assert_replica();
}

/// Small edits to files the destination has go as block deltas inside the changed chunks: the
/// bytes sent are about the edits, not the chunks (a file under 8 KiB is one chunk).
#[test]
fn small_edits_inside_chunks_go_as_block_deltas() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    let mut t = env.tree("src");
    for i in 0..40 {
        t = t.file(format!("s/f{i}"), noise(i, 6000 + 300 * i as usize));
    }
    let big = noise(99, 600_000);
    drop(t.file("big", &big));
    sshd.tern(&env, ["sync", "src", &url]).ok();

    let mut t = env.tree("src");
    let mut changed = 0;
    for i in 0..40 {
        let mut f = noise(i, 6000 + 300 * i as usize);
        f[1000 + 97 * i as usize..][..12].copy_from_slice(b"edited here!");
        changed += f.len();
        t = t.file(format!("s/f{i}"), f);
    }
    let mut edited = big.clone();
    for at in [10_000, 250_000, 590_000] {
        edited[at..at + 20].fill(b'#');
    }
    edited.splice(400_000..400_000, b"inserted".iter().copied());
    drop(t.file("big", &edited));
    let done = sshd.tern(&env, ["sync", "src", &url]).ok();
    env.assert_replica();
    // As chunks, this would be every small file (~430 KB) and 4 chunks of the big one.
    assert!(changed > 400_000);
    let sent = sent_bytes(&done.stdout());
    assert!(sent < 40.0 * 1024.0, "{}", done.describe());
    // Signatures of the old bytes come back, and still the wire carries a small part.
    let s = done.stdout();
    let wire = s.split(" on the wire").next().unwrap().rsplit("; ").next().unwrap();
    assert!(
        wire.ends_with("KiB") && wire.split(' ').next().unwrap().parse::<f64>().unwrap() < 80.0,
        "{s}"
    );
    // Nothing to do after.
    sshd.tern(&env, ["sync", "src", &url]).ok();
    env.assert_replica();
}

/// The destination's old bytes change after they were signed: the rebuilt chunk does not have
/// its hash, so the file is sent whole and the replica is still exact.
#[test]
#[cfg(feature = "failpoints")]
fn a_delta_whose_old_bytes_changed_after_signing_is_sent_whole() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    let old = noise(7, 50_000);
    drop(env.tree("src").file("f", &old));
    sshd.tern(&env, ["sync", "src", &url]).ok();
    let mut new = old.clone();
    new[25_000..25_010].fill(b'x');
    drop(env.tree("src").file("f", &new));
    let signal = env.path("signed");
    let run = sshd
        .tern(&env, ["sync", "src", &url])
        .env("TERN_FAILPOINT_DELAY", "signed")
        .env("TERN_FAILPOINT_DELAY_MS", "1500")
        .env("TERN_FAILPOINT_SIGNAL", &signal)
        .cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !signal.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "the run never reached its delta");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Out of band, while the run waits between the signatures and the delta.
    fs::write(env.dst().join("f"), noise(8, 50_000)).unwrap();
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(fs::read(env.dst().join("f")).unwrap(), new);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(sent_bytes(&stdout) >= 50_000.0, "{stdout}");
}

#[test]
fn deltas_send_only_what_the_destination_lacks() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    let big = noise(42, 8 << 20);
    env.tree("src").file("big.bin", &big);
    let first = sshd.tern(&env, ["sync", "src", &url]).ok();
    assert!(sent_bytes(&first.stdout()) >= (8 << 20) as f64);

    // an edit in the middle
    let mut edited = big.clone();
    edited[4_000_000..4_000_100].fill(b'#');
    env.tree("src").file("big.bin", &edited);
    let done = sshd.tern(&env, ["sync", "src", &url]).ok();
    assert!(sent_bytes(&done.stdout()) < 200.0 * 1024.0, "{}", done.describe());
    env.assert_replica();

    // an insertion that shifts everything after it
    edited.splice(1_000_000..1_000_000, b"INSERTED BYTES".iter().copied());
    env.tree("src").file("big.bin", &edited);
    let done = sshd.tern(&env, ["sync", "src", &url]).ok();
    assert!(sent_bytes(&done.stdout()) < 200.0 * 1024.0, "{}", done.describe());
    env.assert_replica();

    // a rename and a copy travel as recipes, not data
    env.tree("src").rename("big.bin", "moved.bin");
    fs::copy(env.src().join("moved.bin"), env.src().join("copy.bin")).unwrap();
    filetime::set_file_mtime(
        env.src().join("copy.bin"),
        filetime::FileTime::from_unix_time(1_600_000_000, 0),
    )
    .unwrap();
    let done = sshd.tern(&env, ["sync", "src", &url]).ok();
    assert!(sent_bytes(&done.stdout()) == 0.0, "{}", done.describe());
    env.assert_replica();

    // the destination copy changed out of band: the agent notices and asks for the bytes
    for copy in ["moved.bin", "copy.bin"] {
        let mut damaged = fs::read(env.dst().join(copy)).unwrap();
        damaged[6_000_000..6_000_010].fill(0);
        fs::write(env.dst().join(copy), &damaged).unwrap();
    }
    edited.extend_from_slice(b"tail");
    env.tree("src").file("moved.bin", &edited);
    let done = sshd.tern(&env, ["sync", "src", &url]).ok();
    assert!(done.stdout().contains("repaired"), "{}", done.describe());
    env.assert_replica();
}

#[test]
fn sftp_fallback_when_the_host_has_no_tern() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    env.tree("src")
        .file("a", "one")
        .file("d/b", noise(3, 100_000))
        .symlink("l", "a")
        .mode("a", 0o600);
    let done = sshd.tern(&env, ["sync", "--remote-tern", "/nonexistent/tern", "src", &url]).ok();
    assert!(done.stdout().contains("via sftp"), "{}", done.describe());
    done.stderr_has("falling back to SFTP");
    assert_same_content(&env.src(), &env.dst());

    env.tree("src").file("a", "two").remove("d").symlink("m", "d-gone");
    sshd.tern(&env, ["sync", "--remote-tern", "/nonexistent/tern", "src", &url]).ok();
    assert_same_content(&env.src(), &env.dst());
    let trash = trash_files(&env.dst());
    assert!(trash.contains(&"a".to_string()) && trash.contains(&"d/b".to_string()), "{trash:?}");
    // the manifest it wrote is the one a tern agent reads: switching modes needs no rescan
    sshd.tern(&env, ["plan", "--detailed-exitcode", "src", &url]).ok();
}

#[test]
fn a_remote_command_that_is_not_tern_is_reported() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    env.tree("src").file("a", "one");
    sshd.tern(&env, ["sync", "--remote-tern", "/bin/false", "src", &sshd.url(&env.dst())])
        .code(1)
        .one_line_error()
        .stderr_has("failed to start");
}

#[test]
fn connection_refused_is_one_clear_line() {
    let env = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    env.tree("src").file("a", "one");
    env.tern(["sync", "src", &format!("ssh://127.0.0.1:{port}/tmp/x")])
        .code(1)
        .one_line_error()
        .stderr_has(&format!("cannot connect to 127.0.0.1 port {port}"));
}

#[test]
fn a_connection_killed_mid_sync_is_completed_by_the_next_run() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    let mut t = env.tree("src");
    for i in 0..60 {
        t = t.file(format!("f{i}"), noise(i, 300_000));
    }
    sshd.tern(&env, ["sync", "src", &url]).ok();
    let old = snapshot(&env.dst());
    let mut t = env.tree("src");
    for i in 0..60 {
        t = t.file(format!("f{i}"), noise(100 + i, 300_000));
    }
    let new = snapshot(&env.src());
    for delay in [50, 150, 400] {
        let mut child =
            sshd.tern(&env, ["sync", "--compress-level", "0", "src", &url]).cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        for (path, node) in snapshot(&env.dst()) {
            if !matches!(node, Node::Dir { .. }) {
                assert!(old.get(&path) == Some(&node) || new.get(&path) == Some(&node));
            }
        }
    }
    sshd.tern(&env, ["sync", "src", &url]).ok();
    env.assert_replica();
}

#[test]
fn the_agent_killed_mid_sync_gives_an_error_and_the_next_run_completes() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    let mut t = env.tree("src");
    for i in 0..80 {
        t = t.file(format!("f{i}"), noise(i, 250_000));
    }
    let mut run = sshd.tern(&env, ["sync", "--compress-level", "0", "src", &url]);
    let child = run.cmd.stderr(std::process::Stdio::piped()).spawn().unwrap();
    // kill the remote agent as soon as it is running
    let pattern = format!("serve --root {}", env.dst().display());
    for _ in 0..200 {
        if std::process::Command::new("pkill")
            .args(["-9", "-f", &pattern])
            .status()
            .unwrap()
            .success()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{:?} {err}", out.status);
        assert!(err.starts_with("tern: error: "), "{err}");
    }
    sshd.tern(&env, ["sync", "src", &url]).ok();
    env.assert_replica();
}

/// A fake agent that answers the hello (with protocol `version`), then replies to the first
/// request with `reply` (a raw frame body, hex).
fn lying_agent(env: &Env, version: u32, reply_hex: &str) -> String {
    let script = env.path(&format!("liar-{version}-{}", &reply_hex[..reply_hex.len().min(8)]));
    fs::write(
        &script,
        format!(
            r#"#!/usr/bin/env python3
import struct, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
def frame():
    n = struct.unpack("<I", inp.read(4))[0]
    return inp.read(n)
def send(body):
    out.write(struct.pack("<I", len(body)) + body)
    out.flush()
frame()
send(bytes([0, {version}, 4]) + b"fake")
frame()
send(bytes.fromhex("{reply_hex}"))
frame()
"#
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script.to_str().unwrap().to_string()
}

#[test]
fn an_agent_that_lies_or_answers_out_of_order_is_noticed() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    env.tree("src").file("a", "1");
    let run = |agent: &str| {
        sshd.tern(&env, ["sync", "--compress-level", "0", "--remote-tern", agent, "src", &url])
    };
    // "Ok" where the manifest's generation and hash belong
    let ours = tern::remote::protocol::PROTOCOL_VERSION;
    run(&lying_agent(&env, ours, "04"))
        .code(1)
        .one_line_error()
        .stderr_has("sent an unexpected reply");
    // a manifest with a hash, then bytes that are no manifest at all
    let info = format!("0101{}{}", "07", "ab".repeat(32));
    let liar = lying_agent(&env, ours, &info);
    // after the info, answer the manifest request with garbage data and its end
    let text = fs::read_to_string(&liar).unwrap().trim_end().to_string()
        + "\nsend(bytes([2, 3]) + b\"bad\")\nsend(bytes([3]))\nframe()\n";
    fs::write(&liar, text).unwrap();
    run(&liar).code(1).one_line_error().stderr_has("is corrupt");
    // another protocol version: both are named
    run(&lying_agent(&env, 9, "04"))
        .code(1)
        .one_line_error()
        .stderr_has(&format!("remote tern speaks protocol 9 (tern fake), this tern speaks {ours}"));
    assert!(!env.dst().exists(), "nothing may be written through a lying agent");
}

#[test]
fn bwlimit_holds_the_sender_to_its_rate() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    env.tree("src").file("random", noise(77, 1 << 20));
    let start = std::time::Instant::now();
    // 1 MiB of incompressible data at 256 KiB/s: four seconds at the least
    sshd.tern(
        &env,
        ["sync", "--compress-level", "0", "--bwlimit", "256", "src", &sshd.url(&env.dst())],
    )
    .ok();
    let took = start.elapsed();
    assert!(took >= std::time::Duration::from_millis(3500), "took {took:?}");
    env.assert_replica();
    sshd.tern(&env, ["sync", "--bwlimit", "lots", "src", &sshd.url(&env.dst())]).code(64);
}

/// Another run commits while a sync waits between its plan and the lock: under the lock the
/// agent's word on which manifest it holds tells the sync, which plans again, so the destination
/// ends up a replica of its source with the other run's extra file removed.
#[test]
#[cfg(feature = "failpoints")]
fn a_sync_overtaken_before_its_lock_plans_again() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    env.tree("src").file("a", "1").file("b", "2");
    sshd.tern(&env, ["sync", "src", &url]).ok();
    env.tree("src").file("a", "ours");
    env.tree("other").file("a", "theirs").file("z", "extra");
    let slow = sshd
        .tern(&env, ["sync", "src", &url])
        .env("TERN_FAILPOINT_DELAY", "before-lock")
        .env("TERN_FAILPOINT_DELAY_MS", "4000")
        .cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The slow run has planned (against a and b) by now, and sleeps before its lock.
    std::thread::sleep(Duration::from_millis(1500));
    sshd.tern(&env, ["sync", "other", &url]).ok();
    assert_eq!(fs::read(env.dst().join("z")).unwrap(), b"extra");
    let out = slow.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    env.assert_replica();
}

/// `ProxyCommand` runs as the connection (here OpenSSH's `ssh -W`, as a bastion setup does);
/// `ProxyJump`, from the config or `-o`, goes through the jump host; a keyword tern does not
/// support is named in one warning.
#[test]
fn proxy_command_and_proxy_jump_reach_the_host_through_another() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    env.tree("src").file("f", "through a proxy");
    let mark = env.path("proxy-ran");
    // OpenSSH finds ~ in the password database, not $HOME: name the test's files.
    let ssh_files = format!(
        "-o BatchMode=yes -o UserKnownHostsFile={kh} -o IdentityFile={id} -o IdentitiesOnly=yes",
        kh = sshd.home().join(".ssh/known_hosts").display(),
        id = sshd.home().join(".ssh/id_ed25519").display()
    );
    let config = sshd.config_with_alias(&format!(
        "  ProxyCommand touch {} && exec ssh {ssh_files} -p %p -W %h:%p {}@127.0.0.1\n  LocalForward 8080 localhost:80\n",
        mark.display(),
        sshd.user
    ));
    let cfg = config.to_str().unwrap();
    let dst = format!("backup1:{}", env.dst().display());
    let done = sshd.tern(&env, ["sync", "-F", cfg, "src", &dst]).ok();
    assert!(mark.exists(), "the ProxyCommand did not run: {}", done.describe());
    done.stderr_has("ssh_config for backup1: not supported, ignored: localforward");
    env.assert_replica();

    // ProxyJump: the server is its own bastion here; tern forwards through it itself.
    let jump = env.path("jump_config");
    fs::write(
        &jump,
        format!(
            "Host bastion\n  HostName 127.0.0.1\n  Port {p}\n  User {u}\n  BatchMode yes\n\
             \x20 UserKnownHostsFile {kh}\n  IdentityFile {id}\n  IdentitiesOnly yes\n\
             Host backup1\n  HostName 127.0.0.1\n  Port {p}\n  User {u}\n  ProxyJump bastion\n",
            p = sshd.port,
            u = sshd.user,
            kh = sshd.home().join(".ssh/known_hosts").display(),
            id = sshd.home().join(".ssh/id_ed25519").display()
        ),
    )
    .unwrap();
    let dst2 = format!("backup1:{}", env.path("dst2").display());
    let jcfg = jump.to_str().unwrap();
    let connections = || sshd.log().matches("Connection from").count();
    let before = connections();
    sshd.tern(&env, ["sync", "-F", jcfg, "src", &dst2]).ok();
    assert_same_tree(&env.src(), &env.path("dst2"));
    // One connection to the bastion, and one it forwards (a direct sync makes one).
    assert_eq!(connections() - before, 2, "{}", sshd.log());

    // `-o` wins over the file: a jump through a host that does not exist fails.
    let dst3 = format!("backup1:{}", env.path("dst3").display());
    sshd.tern(&env, ["sync", "-F", jcfg, "-o", "ProxyJump=nowhere.invalid", "src", &dst3]).code(1);
    assert!(!env.path("dst3").exists());
}

/// `ProxyJump` through a jump host to a server that nothing else can reach (its own network
/// namespace): one hop and two, each hop's key checked against known_hosts, `-o ProxyJump`, and
/// a jump loop refused before any connection.
#[test]
fn proxy_jump_reaches_a_host_only_the_jump_host_can_reach() {
    if !can_isolate() {
        eprintln!("skipped: making a network namespace needs root");
        return;
    }
    use std::sync::atomic::Ordering;
    let env = Env::new();
    let target = Sshd::start_isolated(&env);
    let jump = JumpHost::start(&env, &target);
    env.tree("src").file("f", "through the bastion").file("d/g", "two");
    let home = target.home();
    let known = home.join(".ssh/known_hosts");
    let target_line = fs::read_to_string(&known).unwrap();
    fs::write(&known, format!("{target_line}{}", jump.known_hosts_line())).unwrap();
    let config = env.path("ssh_config");
    fs::write(
        &config,
        format!(
            "Host bastion\n  HostName 127.0.0.1\n  Port {jp}\n  User {u}\n\
             Host backup1 inner\n  HostName 127.0.0.1\n  Port {tp}\n  User {u}\n\
             Host backup1\n  ProxyJump bastion\n\
             Host twohops\n  HostName 127.0.0.1\n  Port {tp}\n  User {u}\n  ProxyJump bastion,inner\n\
             Host loop\n  ProxyJump loop\n",
            jp = jump.port,
            tp = target.port,
            u = target.user
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();

    // Nothing on this machine reaches the target directly.
    let direct = target.tern(&env, ["sync", "src", &target.url(&env.dst())]).code(1);
    direct.stderr_has("cannot connect to 127.0.0.1 port");

    let dst = format!("backup1:{}", env.dst().display());
    let done = target.tern(&env, ["sync", "-F", cfg, "src", &dst]).ok();
    env.assert_replica();
    assert_eq!(jump.accepted.load(Ordering::Relaxed), 1, "{}", done.describe());
    assert!(jump.log().contains("Accepted publickey"), "{}", jump.log());

    // Two hops: the bastion, then the target as a jump host to itself.
    let dst2 = env.path("dst2");
    let before = target.log().matches("Accepted publickey").count();
    target.tern(&env, ["sync", "-F", cfg, "src", &format!("twohops:{}", dst2.display())]).ok();
    assert_same_tree(&env.src(), &dst2);
    assert_eq!(jump.accepted.load(Ordering::Relaxed), 2);
    assert_eq!(target.log().matches("Accepted publickey").count() - before, 2, "{}", target.log());

    // -o ProxyJump names the hop for a destination given as a URL.
    let dst3 = env.path("dst3");
    let hop = format!("ProxyJump={}@127.0.0.1:{}", target.user, jump.port);
    target.tern(&env, ["sync", "-F", cfg, "-o", &hop, "src", &target.url(&dst3)]).ok();
    assert_same_tree(&env.src(), &dst3);

    // Each hop's key is checked: the bastion's unknown, then changed.
    env.tree("src").file("f", "changed");
    fs::write(&known, &target_line).unwrap();
    let refused = target.tern(&env, ["sync", "-F", cfg, "src", &dst]).code(1);
    refused
        .stderr_has("through jump host bastion")
        .stderr_has(&format!("host key of [127.0.0.1]:{} is unknown", jump.port));
    let other = env.path("other_key");
    keygen(&other, "");
    let other_key = fs::read_to_string(other.with_extension("pub")).unwrap();
    let other_key: Vec<&str> = other_key.split_whitespace().take(2).collect();
    fs::write(&known, format!("{target_line}[127.0.0.1]:{} {}\n", jump.port, other_key.join(" ")))
        .unwrap();
    let changed = target.tern(&env, ["sync", "-F", cfg, "src", &dst]).code(1);
    changed.stderr_has(&format!("HOST KEY OF [127.0.0.1]:{} HAS CHANGED", jump.port));
    assert_eq!(fs::read(env.dst().join("f")).unwrap(), b"through the bastion");

    // A loop of jumps is refused before any connection is made.
    let accepted = jump.accepted.load(Ordering::Relaxed);
    let looped = target.tern(&env, ["sync", "-F", cfg, "src", "loop:/x"]).code(1);
    looped.stderr_has("more than 8 jump hosts; look for a ProxyJump loop");
    assert_eq!(jump.accepted.load(Ordering::Relaxed), accepted);
}

/// The keywords that decide which keys are offered and how the host key is looked up, against
/// the real sshd: `IdentityAgent` (a socket of its own, and `none`), `IdentitiesOnly` (an agent
/// key that is not one of the identity files is never offered), `HostKeyAlias`, and a host only a
/// `@cert-authority` line vouches for.
#[test]
fn identity_and_host_key_keywords_of_ssh_config() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    env.tree("src").file("f", "keys");
    let keys = env.path("keys");
    fs::create_dir_all(&keys).unwrap();
    // The login key leaves its default place: only what the config names can log in.
    let ssh = sshd.home().join(".ssh");
    let login = keys.join("login");
    fs::rename(ssh.join("id_ed25519"), &login).unwrap();
    fs::rename(ssh.join("id_ed25519.pub"), keys.join("login.pub")).unwrap();
    let other = keys.join("other");
    keygen(&other, "");
    let agent = Agent::start(&keys, &other);
    let fp =
        std::process::Command::new("ssh-keygen").arg("-lf").arg(keys.join("other.pub")).output();
    let other_fp = String::from_utf8(fp.unwrap().stdout).unwrap();
    let other_fp = other_fp.split_whitespace().nth(1).unwrap().to_string();
    let failed_with_other = || sshd.log().matches(&other_fp).count();

    let config = |extra: &str| {
        sshd.config_with_alias(&format!(
            "  IdentityAgent {}\n  IdentityFile {}\n{extra}",
            agent.sock.display(),
            login.display()
        ))
    };
    let sync_to = |cfg: &std::path::Path, dst: &str| {
        let dst = format!("backup1:{}", env.path(dst).display());
        sshd.tern(&env, ["sync", "-F", cfg.to_str().unwrap(), "src", &dst])
    };
    // The agent at its own socket is asked first (SSH_AUTH_SOCK is unset): its key is refused
    // by the server, then the identity file logs in.
    sync_to(&config(""), "d1").ok();
    assert!(failed_with_other() > 0, "the agent's key was not offered:\n{}", sshd.log());
    // IdentitiesOnly: the agent's key is not one of the files, so it is never offered.
    let before = failed_with_other();
    sync_to(&config("  IdentitiesOnly yes\n"), "d2").ok();
    assert_eq!(failed_with_other(), before, "{}", sshd.log());
    // IdentityAgent none, and no file that can log in: nothing is offered but what is named.
    let none = sshd.config_with_alias("  IdentityAgent none\n  IdentityFile /nonexistent/key\n");
    let refused = sync_to(&none, "d3").code(1);
    let refused = refused.stderr_has("tried /nonexistent/key (missing)");
    assert!(!refused.stderr().contains("ssh-agent"), "{}", refused.describe());

    // HostKeyAlias: the key is known under the alias only.
    let known = ssh.join("known_hosts");
    fs::write(&known, format!("tern-alias {}\n", sshd.host_key())).unwrap();
    sync_to(&config("  HostKeyAlias tern-alias\n"), "d4").ok();
    sync_to(&config(""), "d5")
        .code(1)
        .stderr_has(&format!("host key of [127.0.0.1]:{} is unknown", sshd.port));
    // A @cert-authority line is not trusted, and the error says why.
    fs::write(&known, format!("@cert-authority [127.0.0.1]:* {}\n", sshd.host_key())).unwrap();
    sync_to(&config(""), "d6")
        .code(1)
        .stderr_has("is vouched for only by the @cert-authority line")
        .stderr_has("tern cannot check host certificates");
    assert!(!env.path("d5").exists() && !env.path("d6").exists());
    for d in ["d1", "d2", "d4"] {
        assert_same_tree(&env.src(), &env.path(d));
    }
}
