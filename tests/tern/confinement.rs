//! A write never leaves the destination through a symlink: where tern keeps its own state, at any
//! level of a synced path, inside trash runs, planted between syncs or (with a failpoint) after a
//! commit resolved its path; for sync, undo and purge, locally and over a real sshd. A restricted
//! agent serves only the directory it was given, through a forced command in authorized_keys.

use crate::harness::*;
use crate::sshd::Sshd;
use std::fs;
use std::path::Path;

/// Every state path an attacker who can write into DEST could replace with a symlink.
const STATE_PATHS: &[&str] =
    &[".tern", ".tern/trash", ".tern/staging", ".tern/lock", ".tern/manifest"];

/// A synced destination, then `what` in it replaced by a symlink to `outside`; the source
/// changed so that the next sync would overwrite (and trash) a file.
fn planted(env: &Env, what: &str, outside: &Path) {
    env.tree("src").file("f", "v1").file("d/g", "g1");
    env.sync(&[]);
    fs::create_dir_all(outside).unwrap();
    fs::write(outside.join("keep"), "untouched").unwrap();
    let at = env.dst().join(what);
    match fs::symlink_metadata(&at) {
        Ok(md) if md.is_dir() => fs::remove_dir_all(&at).unwrap(),
        Ok(_) => fs::remove_file(&at).unwrap(),
        // Not made yet (a first sync trashes nothing): planted before tern makes it.
        Err(_) => {}
    }
    std::os::unix::fs::symlink(outside, &at).unwrap();
    env.tree("src").file("f", "v2").remove("d/g");
}

#[test]
fn a_symlink_where_tern_keeps_its_state_is_refused_and_nothing_is_written_outside() {
    for what in STATE_PATHS {
        let env = Env::new();
        let outside = env.path("outside");
        planted(&env, what, &outside);
        let before = snapshot(&outside);
        let done = env.tern(["sync", "src", "dst"]).code(1).one_line_error();
        done.stderr_has("is a symlink where tern keeps its own state; nothing was written");
        assert_eq!(snapshot(&outside), before, "{what}: the outside directory changed");
        assert_eq!(fs::read(env.dst().join("f")).unwrap(), b"v1", "{what}: the replica changed");
    }
}

#[test]
fn a_symlink_in_the_state_of_a_remote_destination_is_refused() {
    for what in [".tern/trash", ".tern/staging", ".tern"] {
        let env = Env::new();
        let sshd = Sshd::start(&env);
        let outside = env.path("outside");
        planted(&env, what, &outside);
        let before = snapshot(&outside);
        let url = sshd.url(&env.dst());
        sshd.tern(&env, ["sync", "src", &url])
            .code(1)
            .stderr_has("is a symlink where tern keeps its own state");
        assert_eq!(snapshot(&outside), before, "{what}: the outside directory changed");
    }
}

#[test]
fn a_restricted_agent_serves_its_directory_and_refuses_any_other() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    env.tree("src").file("a", "alpha").file("d/b", "beta");
    let allowed = env.path("backups");
    fs::create_dir_all(&allowed).unwrap();
    sshd.force_command(&format!("{TERN} serve --restrict-to {}", allowed.display()));

    let inside = sshd.url(&allowed.join("site"));
    sshd.tern(&env, ["sync", "src", &inside]).ok();
    assert_same_tree(&env.src(), &allowed.join("site"));

    // Outside it, by path, by `..`, or through a symlink that leads out: refused, nothing made.
    let escape = allowed.join("escape");
    std::os::unix::fs::symlink(env.path("elsewhere-parent"), &escape).unwrap();
    fs::create_dir_all(env.path("elsewhere-parent")).unwrap();
    for target in [env.path("elsewhere"), allowed.join("../elsewhere2"), escape.join("site")] {
        let url = sshd.url(&target);
        let done = sshd.tern(&env, ["sync", "src", &url]).code(1);
        done.stderr_has("this agent serves only");
        assert!(!target.exists(), "{} was made", target.display());
    }
    assert!(!env.path("elsewhere2").exists());
    assert!(fs::read_dir(env.path("elsewhere-parent")).unwrap().next().is_none());
}

#[test]
fn a_read_only_agent_serves_plans_and_verify_and_refuses_writes() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    env.tree("src").file("a", "alpha");
    let dest = env.path("backups/site");
    fs::create_dir_all(env.path("backups")).unwrap();
    let url = sshd.url(&dest);
    sshd.tern(&env, ["sync", "src", &url]).ok();
    sshd.force_command(&format!(
        "{TERN} serve --restrict-to {} --read-only",
        env.path("backups").display()
    ));
    env.tree("src").file("a", "changed").file("new", "n");
    let plan = sshd.tern(&env, ["plan", "--detailed-exitcode", "src", &url]).code(2);
    assert!(plan.stdout().contains("> file    a"), "{}", plan.describe());
    sshd.tern(&env, ["verify", &url]).ok();
    sshd.tern(&env, ["sync", "src", &url]).code(1).stderr_has("this agent is read-only");
    sshd.tern(&env, ["undo", &url]).code(1).stderr_has("this agent is read-only");
    assert_eq!(fs::read(dest.join("a")).unwrap(), b"alpha");
    assert!(!dest.join("new").exists());
}

/// A tree description: paths from a small alphabet (so they nest and collide), each a file, a
/// directory or a symlink.
fn tree_spec() -> impl proptest::strategy::Strategy<Value = Vec<(Vec<u8>, u8)>> {
    use proptest::prelude::*;
    let name = prop::sample::select(vec![b'a', b'b', b'c']);
    let path = prop::collection::vec(name, 1..4);
    prop::collection::vec((path, 0u8..3), 0..10).prop_map(|items| {
        let join = |p: Vec<u8>| p.iter().map(|c| (*c as char).to_string()).collect::<Vec<_>>();
        items.into_iter().map(|(p, k)| (join(p).join("/").into_bytes(), k)).collect()
    })
}

/// Make what `spec` describes below `root` (a later entry gives way where an earlier one is).
fn build(root: &Path, spec: &[(Vec<u8>, u8)]) {
    use std::os::unix::ffi::OsStrExt;
    fs::create_dir_all(root).unwrap();
    for (path, kind) in spec {
        let at = root.join(std::ffi::OsStr::from_bytes(path));
        if let Some(parent) = at.parent()
            && fs::create_dir_all(parent).is_err()
        {
            continue;
        }
        let _ = match kind {
            0 => fs::write(&at, path),
            1 => fs::create_dir_all(&at),
            _ => std::os::unix::fs::symlink("a", &at),
        };
    }
}

/// Remove what stands at `at`, whatever it is.
fn clear(at: &Path) {
    match fs::symlink_metadata(at) {
        Ok(md) if md.is_dir() => fs::remove_dir_all(at).unwrap(),
        Ok(_) => fs::remove_file(at).unwrap(),
        Err(_) => {}
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever the trees and wherever symlinks to an outside directory are planted in the
    /// replica (tern's state included), the next sync never changes the outside directory and
    /// never panics.
    #[test]
    fn symlinks_planted_in_a_replica_never_lead_a_write_outside(
        first in tree_spec(),
        second in tree_spec(),
        planted in proptest::collection::vec(
            proptest::sample::select(vec![
                "a", "b", "a/b", "b/c", "a/a/c", "c/b/a", ".tern", ".tern/trash", ".tern/staging",
            ]),
            1..4,
        ),
    ) {
        let env = Env::new();
        build(&env.src(), &first);
        env.tern(["sync", "-q", "src", "dst"]).ok();
        let outside = env.path("outside");
        fs::create_dir_all(outside.join("sub")).unwrap();
        fs::write(outside.join("keep"), "k").unwrap();
        fs::write(outside.join("sub/keep"), "k").unwrap();
        let before = snapshot(&outside);
        for p in &planted {
            let at = env.dst().join(p);
            if at.parent().is_some_and(|d| d.is_dir() && !fs::symlink_metadata(d).unwrap().file_type().is_symlink()) {
                clear(&at);
                std::os::unix::fs::symlink(&outside, &at).unwrap();
            }
        }
        clear(&env.src());
        build(&env.src(), &second);
        let done = env.tern(["sync", "-q", "src", "dst"]).output();
        let code = done.out.status.code();
        proptest::prop_assert!(matches!(code, Some(0 | 1 | 3)), "{}", done.describe());
        proptest::prop_assert_eq!(&snapshot(&outside), &before, "planted {:?}", planted);
        let verify = env.tern(["verify", "dst"]).output();
        proptest::prop_assert!(matches!(verify.out.status.code(), Some(0 | 1 | 4)), "{}", verify.describe());
        proptest::prop_assert_eq!(&snapshot(&outside), &before);
    }
}

/// A sync paused (by a failpoint) after it resolved the path it is about to write, while the
/// replica is changed under it: a directory on the way replaced by a symlink to `outside`, and
/// the trash too. `remote` runs the agent over the real sshd, with the failpoint armed there.
#[cfg(feature = "failpoints")]
fn swapped_during_the_commit(remote: bool, swap_trash: bool) {
    use std::time::{Duration, Instant};
    let env = Env::new();
    let sshd = remote.then(|| Sshd::start(&env));
    let outside = env.path("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("keep"), "untouched").unwrap();
    env.tree("src").file("a/b/f", "v1").file("g", "g1");
    env.sync(&[]);
    env.tree("src").file("a/b/f", "v2");
    let before = snapshot(&outside);
    let signal = env.path("paused");
    let armed = format!(
        "TERN_FAILPOINT_DELAY=commit-resolved TERN_FAILPOINT_DELAY_MS=2500 TERN_FAILPOINT_SIGNAL={}",
        signal.display()
    );
    let mut run = match &sshd {
        Some(sshd) => {
            let wrapper = env.path("tern-paused");
            fs::write(&wrapper, format!("#!/bin/sh\n{armed} exec {TERN} \"$@\"\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
            let url = sshd.url(&env.dst());
            sshd.tern(&env, ["sync", "--remote-tern", wrapper.to_str().unwrap(), "src", &url])
        }
        None => {
            let mut run = env.tern(["sync", "src", "dst"]);
            for pair in armed.split(' ') {
                let (k, v) = pair.split_once('=').unwrap();
                run.cmd.env(k, v);
            }
            run
        }
    };
    let child = run
        .cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !signal.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "the sync never reached the failpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The sync has resolved dst/a/b and sleeps: the directory goes, a symlink takes its place.
    let dir = env.dst().join("a/b");
    fs::rename(&dir, env.dst().join("a/b.moved")).unwrap();
    std::os::unix::fs::symlink(&outside, &dir).unwrap();
    let trash = env.dst().join(".tern/trash");
    if swap_trash {
        // The first sync trashed nothing: there is no trash yet, and the symlink takes its place.
        assert!(!trash.exists());
        std::os::unix::fs::symlink(&outside, &trash).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(snapshot(&outside), before, "a write went outside: {stderr}");
    if swap_trash {
        // The old version has nowhere safe to go: the run stops and says why.
        assert!(!out.status.success());
        assert!(stderr.contains("is a symlink where tern keeps its own state"), "{stderr}");
        assert_eq!(fs::read(env.dst().join("a/b.moved/f")).unwrap(), b"v1");
        fs::remove_file(&trash).unwrap();
    } else {
        // The write went where the handle pointed: the directory, wherever it was moved.
        assert!(out.status.success(), "{stderr}");
        assert_eq!(fs::read(env.dst().join("a/b.moved/f")).unwrap(), b"v2");
    }
    // The manifest says the replica is current; a run that checks the destination repairs it:
    // the symlink is trashed and the directory made again.
    match &sshd {
        Some(sshd) => sshd.tern(&env, ["sync", "--check-dest", "src", &sshd.url(&env.dst())]).ok(),
        None => env.tern(["sync", "--check-dest", "src", "dst"]).ok(),
    };
    assert_eq!(snapshot(&outside), before);
    assert_eq!(fs::read(env.dst().join("a/b/f")).unwrap(), b"v2");
}

#[cfg(feature = "failpoints")]
#[test]
fn a_directory_swapped_for_a_symlink_mid_commit_takes_no_write_outside() {
    swapped_during_the_commit(false, false);
    swapped_during_the_commit(false, true);
}

#[cfg(feature = "failpoints")]
#[test]
fn a_directory_swapped_for_a_symlink_mid_commit_at_a_remote_takes_no_write_outside() {
    swapped_during_the_commit(true, false);
    swapped_during_the_commit(true, true);
}

/// `tern undo` puts entries back through handles too: a directory on the way that was replaced by
/// a symlink is moved aside (into a new trash run) and made again, and nothing is put outside.
#[test]
fn undo_never_puts_back_through_a_planted_symlink() {
    let env = Env::new();
    let outside = env.path("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("keep"), "untouched").unwrap();
    env.tree("src").file("d/f", "v1");
    env.sync(&[]);
    env.tree("src").file("d/f", "v2");
    env.sync(&[]);
    let before = snapshot(&outside);
    let d = env.dst().join("d");
    fs::rename(&d, env.path("d.elsewhere")).unwrap();
    std::os::unix::fs::symlink(&outside, &d).unwrap();
    env.tern(["undo", "dst"]).ok().stdout_has("put back");
    assert_eq!(snapshot(&outside), before, "undo wrote outside");
    assert!(fs::symlink_metadata(&d).unwrap().is_dir(), "the symlink was not moved aside");
    assert_eq!(fs::read(d.join("f")).unwrap(), b"v1");
}

/// A symlink planted inside a trash run, where a trashed directory was: undo moves the link back
/// as the entry it now is, reads and moves nothing through it, and a purge removes the link,
/// never what it points to.
#[test]
fn a_symlink_planted_inside_a_trash_run_is_neither_followed_by_undo_nor_by_purge() {
    let env = Env::new();
    let outside = env.path("outside");
    fs::create_dir_all(outside.join("f")).unwrap();
    fs::write(outside.join("f/keep"), "untouched").unwrap();
    env.tree("src").file("d/f", "v1").file("other", "o");
    env.sync(&[]);
    env.tree("src").remove("d");
    env.sync(&[]);
    let trash = env.dst().join(".tern/trash");
    let run = fs::read_dir(&trash)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a trash run");
    fs::remove_dir_all(run.join("d")).unwrap();
    std::os::unix::fs::symlink(&outside, run.join("d")).unwrap();
    // One the index does not name: removed with the run after the undo, never followed.
    std::os::unix::fs::symlink(&outside, run.join("x")).unwrap();
    let before = snapshot(&outside);
    env.tern(["undo", "dst"]).output();
    assert_eq!(snapshot(&outside), before, "undo changed the outside directory");
    // What stood in the trash run is what comes back: the link itself, never a copy of what it
    // points to.
    let back = fs::symlink_metadata(env.dst().join("d")).unwrap();
    assert!(back.file_type().is_symlink(), "undo copied what is outside");
    assert!(!run.exists(), "the undone run is left");
    env.tree("src").file("other", "o2");
    env.sync(&[]);
    let run = fs::read_dir(&trash).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir());
    std::os::unix::fs::symlink(&outside, run.expect("a trash run").join("x")).unwrap();
    env.tern(["trash", "purge", "dst"]).ok().stdout_has("purged ");
    env.tern(["trash", "list", "dst"]).ok().stdout_has("the trash is empty");
    assert_eq!(snapshot(&outside), before, "purge changed the outside directory");
}
