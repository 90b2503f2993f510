//! Crash safety: a sync killed at any point leaves every destination file in its old or its new
//! version, and the next run completes the work.

use crate::harness::*;
use std::path::Path;
use std::time::Duration;

/// A synced destination and a changed source (updates, deletions, creations, kind changes).
fn prepared(files: usize, size: usize) -> (Env, Snapshot, Snapshot) {
    let env = Env::new();
    let mut t = env.tree("src").symlink("link", "f0").file("kind/x", "dir first");
    for i in 0..files {
        t = t.file(format!("d{}/f{i}", i % 7), noise(i as u64, size));
    }
    env.sync(&[]);
    let old = snapshot(&env.dst());
    let mut t = env.tree("src").remove("kind").file("kind", "now a file").remove("link");
    t = t.symlink("link", "f1");
    for i in 0..files {
        let p = format!("d{}/f{i}", i % 7);
        t = match i % 4 {
            0 => t.file(&p, noise(1000 + i as u64, size)),
            1 => t.remove(&p),
            _ => t,
        };
        t = t.file(format!("new/f{i}"), noise(2000 + i as u64, size / 2));
    }
    let new = snapshot(&env.src());
    (env, old, new)
}

/// Every file or symlink at the destination is exactly its old or its new version, and no path
/// that exists before and after the sync is missing.
fn assert_old_or_new(dst: &Path, old: &Snapshot, new: &Snapshot) {
    let now = snapshot(dst);
    for (path, node) in &now {
        if matches!(node, Node::Dir { .. }) {
            continue;
        }
        assert!(
            old.get(path) == Some(node) || new.get(path) == Some(node),
            "{} is neither its old nor its new version",
            String::from_utf8_lossy(path)
        );
    }
    for (path, node) in old {
        if !matches!(node, Node::Dir { .. })
            && new.get(path).is_some_and(|n| !matches!(n, Node::Dir { .. }))
        {
            assert!(now.contains_key(path), "{} vanished mid-sync", String::from_utf8_lossy(path));
        }
    }
}

#[cfg(feature = "failpoints")]
#[test]
fn killed_at_each_commit_step_then_completed_by_the_next_run() {
    for point in ["before-commit", "commit-midway", "before-manifest", "after-manifest"] {
        let (env, old, new) = prepared(40, 20_000);
        let done = env.tern(["sync", "src", "dst"]).env("TERN_FAILPOINT", point).output();
        assert!(!done.out.status.success(), "failpoint {point} did not fire\n{}", done.describe());
        assert!(done.stderr().contains(&format!("failpoint {point}")), "{}", done.describe());
        assert_old_or_new(&env.dst(), &old, &new);
        env.sync(&[]);
        env.assert_replica();
        // and the run after that has nothing left to do
        env.sync(&[]).stdout_has("0 created, 0 updated, 0 metadata, 0 replaced, 0 deleted");
    }
}

#[test]
fn killed_by_sigkill_at_random_moments_then_completed() {
    for delay_ms in [5, 30, 80, 200] {
        let (env, old, new) = prepared(150, 60_000);
        let mut child = env.tern(["sync", "src", "dst"]).cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        assert_old_or_new(&env.dst(), &old, &new);
        env.sync(&[]);
        env.assert_replica();
    }
}
