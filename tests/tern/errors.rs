//! Bad input: each gets a one-line error naming the thing, a non-zero exit, and loses no data.

use crate::harness::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

#[test]
fn missing_source() {
    let env = Env::new();
    env.tern(["sync", "nope", "dst"])
        .code(1)
        .one_line_error()
        .stderr_has("source nope does not exist");
}

#[test]
fn source_is_a_file() {
    let env = Env::new();
    env.tree("").file("plain", "x");
    env.tern(["sync", "plain", "dst"]).code(1).one_line_error().stderr_has("is not a directory");
}

#[test]
fn destination_is_a_file() {
    let env = Env::new();
    env.tree("").file("dfile", "precious");
    env.tern(["sync", "src", "dfile"])
        .code(1)
        .one_line_error()
        .stderr_has("destination dfile exists but is not a directory");
    assert_eq!(fs::read(env.path("dfile")).unwrap(), b"precious");
}

#[test]
fn nested_source_and_destination() {
    let env = Env::new();
    env.tern(["sync", "src", "src/inner"]).code(1).one_line_error().stderr_has("is inside source");
    env.tree("").dir("outer/src2");
    env.tern(["sync", "outer/src2", "outer"])
        .code(1)
        .one_line_error()
        .stderr_has("is inside destination");
    assert!(!env.src().join("inner").exists());
}

#[test]
fn destination_below_a_file() {
    let env = Env::new();
    env.tree("").file("plain", "x");
    env.tern(["sync", "src", "plain/sub"])
        .code(1)
        .one_line_error()
        .stderr_has("destination parent plain is a file, not a directory");
}

#[test]
fn destination_parent_missing() {
    let env = Env::new();
    env.tern(["sync", "src", "no/such/dst"])
        .code(1)
        .one_line_error()
        .stderr_has("destination parent no/such does not exist; create it first");
}

#[test]
fn corrupt_manifest_is_refused_and_nothing_changes() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    env.sync(&[]);
    let manifest = env.dst().join(".tern/manifest");
    let mut bytes = fs::read(&manifest).unwrap();
    let n = bytes.len();
    bytes.truncate(n - 3);
    fs::write(&manifest, &bytes).unwrap();
    env.tree("src").file("a", "2").file("b", "new");
    for cmd in ["sync", "plan"] {
        env.tern([cmd, "src", "dst"])
            .code(1)
            .one_line_error()
            .stderr_has("is corrupt")
            .stderr_has("move it aside");
    }
    assert_eq!(fs::read(env.dst().join("a")).unwrap(), b"1");
    assert!(!env.dst().join("b").exists());
    fs::write(&manifest, b"TERNMANI\x09\x00whatever").unwrap();
    env.tern(["plan", "src", "dst"]).code(1).one_line_error().stderr_has("version 9");
}

#[test]
fn usage_errors_exit_64() {
    let env = Env::new();
    env.tern(["sync", "src"]).code(64);
    env.tern(["frobnicate"]).code(64);
    env.tern(["sync", "--detailed-exitcode", "src", "dst"]).code(64);
    env.tern(["--help"]).ok().stdout_has("Exit status:");
}

#[test]
fn malformed_remote_destinations() {
    let env = Env::new();
    env.tern(["sync", "src", "ssh://host"])
        .code(1)
        .one_line_error()
        .stderr_has("destination ssh://host is not valid: an ssh:// destination needs a path");
    env.tern(["sync", "src", "ssh://host:99999/x"]).code(1).one_line_error().stderr_has("port");
    env.tern(["plan", "--compress-level", "99", "src", "h:x"]).code(64);
}

fn euid() -> u32 {
    fs::metadata("/proc/self").unwrap().uid()
}

#[test]
fn unreadable_source_entries_are_skipped_and_their_copies_kept() {
    let env = Env::new();
    env.tree("src").file("ok.txt", "v1").file("secret.txt", "s1").file("locked/inner", "i1");
    env.sync(&[]);
    env.tree("src").file("ok.txt", "v2").mode("secret.txt", 0o000).mode("locked", 0o000);

    let mut args: Vec<String> = Vec::new();
    if euid() == 0 {
        // root reads everything: run tern as nobody, with the destination and cache theirs
        fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        for e in walkdir::WalkDir::new(env.dst())
            .into_iter()
            .chain(walkdir::WalkDir::new(env.path("cache")))
        {
            std::os::unix::fs::lchown(e.unwrap().path(), Some(65534), Some(65534)).unwrap();
        }
        args.extend(["--reuid=65534", "--regid=65534", "--clear-groups", TERN].map(String::from));
    }
    args.extend(["sync", "src", "dst"].map(String::from));
    let mut run = env.tern(Vec::<String>::new());
    if euid() == 0 {
        run.cmd = std::process::Command::new("setpriv");
        run.cmd.args(&args).current_dir(env.dir.path()).env("TERN_CACHE_DIR", env.path("cache"));
    } else {
        run.cmd.args(&args);
    }
    let done = run.code(3);
    done.stderr_has("cannot read secret.txt").stderr_has("cannot read locked");
    assert_eq!(fs::read(env.dst().join("ok.txt")).unwrap(), b"v2");
    assert_eq!(fs::read(env.dst().join("secret.txt")).unwrap(), b"s1");
    assert_eq!(fs::read(env.dst().join("locked/inner")).unwrap(), b"i1");
    // once readable again, the next run completes the work and mirrors
    fs::set_permissions(env.src().join("locked"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(env.src().join("secret.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    env.sync(&[]);
    env.assert_replica();
}

#[test]
fn a_second_sync_is_refused_while_the_destination_is_locked() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    env.sync(&[]);
    // hold the lock the way a running tern does
    let lock = fs::OpenOptions::new().write(true).open(env.dst().join(".tern/lock")).unwrap();
    lock.try_lock().unwrap();
    env.tree("src").file("a", "2");
    env.tern(["sync", "src", "dst"])
        .code(1)
        .one_line_error()
        .stderr_has("is locked by another tern run");
    assert_eq!(fs::read(env.dst().join("a")).unwrap(), b"1");
    // plan takes no lock
    env.tern(["plan", "src", "dst"]).ok();
    drop(lock);
    env.sync(&[]);
    env.assert_replica();
}
